//! The peer: PouchDB replicating the same N invoices (`peer/pouch.mjs`),
//! its npm packages installed from the lock file by the bench itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bench")
        .join("peer")
}

/// Installs the peer's packages when they are missing or older than the
/// lock file; an error says what failed.
fn install(dir: &Path) -> Result<(), String> {
    let lock = dir.join("package-lock.json");
    let stamp = dir.join("node_modules").join(".package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(installed), Some(locked)) = (modified(&stamp), modified(&lock)) {
        if installed >= locked {
            return Ok(());
        }
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("npm ci in {} failed ({status})", dir.display()))
    }
}

/// The peer's figure line, or a line saying why there is none.
pub fn pouchdb(n: i64) -> Value {
    let dir = folder();
    let failed = |why: String| {
        eprintln!("peer: {why}");
        json!({"benchmark": "catch-up, PouchDB pull replication (peer)", "error": why})
    };
    if let Err(why) = install(&dir) {
        return failed(why);
    }
    let out = match Command::new("node")
        .arg(dir.join("pouch.mjs"))
        .arg(n.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
    {
        Ok(out) => out,
        Err(e) => return failed(format!("cannot run node: {e}")),
    };
    let line = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Value>(line.trim()) {
        Ok(v) if out.status.success() => v,
        _ => failed(format!(
            "pouch.mjs ended with {} and printed {line:?}",
            out.status
        )),
    }
}
