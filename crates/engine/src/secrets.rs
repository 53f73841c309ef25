//! Where a site keeps the secrets it must know (SPEC F24): producer API
//! secrets pasted into Event Producers. Never SQLite.
//!
//! Two stores, chosen explicitly: the OS keyring ([`KeyringSecretStore`],
//! the desktop's), and for a headless site with no keyring daemon a JSON
//! file `secrets.json` in the data directory, readable by its owner only
//! (mode 0600), outside the database and never logged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::secret::Secret;

pub trait SecretStore: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Secret>>;
    fn set(&self, key: &str, value: &Secret) -> Result<()>;
    fn delete(&self, key: &str) -> Result<()>;
}

pub struct FileSecretStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileSecretStore {
    pub const FILE: &'static str = "secrets.json";

    pub fn new(dir: &std::path::Path) -> Self {
        FileSecretStore {
            path: dir.join(Self::FILE),
            lock: Mutex::new(()),
        }
    }

    fn load(&self) -> Result<BTreeMap<String, String>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Error::Corrupt(format!("{} is not valid JSON: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io(format!("Cannot read {}", self.path.display()), e)),
        }
    }

    fn save(&self, map: &BTreeMap<String, String>) -> Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(map).map_err(|e| Error::Corrupt(e.to_string()))?;
        write_private(&tmp, text.as_bytes())
            .map_err(|e| Error::io(format!("Cannot write {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| Error::io(format!("Cannot replace {}", self.path.display()), e))
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

impl SecretStore for FileSecretStore {
    fn get(&self, key: &str) -> Result<Option<Secret>> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.load()?.get(key).map(Secret::new))
    }

    fn set(&self, key: &str, value: &Secret) -> Result<()> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = self.load()?;
        map.insert(key.to_owned(), value.expose().to_owned());
        self.save(&map)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = self.load()?;
        if map.remove(key).is_some() {
            self.save(&map)?;
        }
        Ok(())
    }
}

/// The operating system's keyring (Secret Service on Linux, Keychain,
/// Credential Manager): the desktop's store, and a headless site's when a
/// keyring daemon runs. Entries are named `outpost:<site id>` / key, so
/// two sites of one user never share a secret.
pub struct KeyringSecretStore {
    service: String,
}

fn keyring_error(e: keyring::Error) -> Error {
    Error::SecretStore(format!("The OS keyring failed: {e}"))
}

impl KeyringSecretStore {
    /// Opens the keyring for `site_id`, failing at once with a clear error
    /// when there is no keyring service to talk to.
    pub fn open(site_id: &str) -> Result<Self> {
        let store = KeyringSecretStore {
            service: format!("outpost:{site_id}"),
        };
        match keyring::Entry::new(&store.service, "outpost:probe").and_then(|e| e.get_password()) {
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(store),
            Err(e) => Err(Error::SecretStore(format!(
                "The OS keyring is not available ({e}). Start a Secret Service (e.g. gnome-keyring) in this session, \
                 or choose the file store explicitly (outpostd serve --secret-store file)"
            ))),
        }
    }

    fn entry(&self, key: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, key).map_err(keyring_error)
    }
}

impl SecretStore for KeyringSecretStore {
    fn get(&self, key: &str) -> Result<Option<Secret>> {
        match self.entry(key)?.get_password() {
            Ok(s) => Ok(Some(Secret::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn set(&self, key: &str, value: &Secret) -> Result<()> {
        self.entry(key)?
            .set_password(value.expose())
            .map_err(keyring_error)
    }

    fn delete(&self, key: &str) -> Result<()> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// Which store a site keeps its secrets in: chosen explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretStoreKind {
    /// The OS keyring.
    Keyring,
    /// `secrets.json` in the data directory, mode 0600 (headless servers).
    File,
}

impl std::str::FromStr for SecretStoreKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "keyring" => Ok(SecretStoreKind::Keyring),
            "file" => Ok(SecretStoreKind::File),
            other => Err(format!(
                "unknown secret store {other:?}: use keyring or file"
            )),
        }
    }
}
