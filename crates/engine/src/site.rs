//! A site (SPEC F1): one data directory holding `site.db`. Opening it
//! creates what is missing, runs migrations and refreshes the built-in
//! doctypes. All writes go through [`Site::write`]: one writer at a time,
//! one transaction per operation.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use ts_rs::TS;

use crate::actor::Actor;
use crate::doctype::{builtin_doctypes, DocField, DocType, Registry, BUILTIN_ROLES};
use crate::document;
use crate::error::{Error, Result};
use crate::secrets::{FileSecretStore, KeyringSecretStore, SecretStore, SecretStoreKind};

pub const DB_FILE: &str = "site.db";
/// Read connections kept open for reuse.
const MAX_READERS: usize = 8;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SiteInfo {
    pub site_id: String,
    pub site_name: String,
    #[ts(optional)]
    pub url: Option<String>,
    pub version: String,
    /// Seconds between scheduled pulls, when set in Settings (else the
    /// site's start-up value applies).
    #[ts(optional)]
    pub sync_interval: Option<f64>,
    /// Desktop: closing the window keeps the site syncing (tray icon).
    pub keep_in_background: bool,
    /// Scheduled pulls, retries and live channels run (Settings may pause
    /// them: then only Sync now syncs).
    pub background_sync: bool,
    /// Someone named the site (the desktop window's first-run wizard, the
    /// CLI's `init --name`, Settings): until then the window shows the wizard.
    pub named: bool,
}

pub struct Site {
    dir: PathBuf,
    conn: Mutex<Connection>,
    registry: RwLock<Arc<Registry>>,
    /// api_key → SHA-256 of a secret already verified against the slow hash,
    /// so that each request does not pay for Argon2. Memory only.
    pub(crate) verified: Mutex<HashMap<String, [u8; 32]>>,
    /// Failed sign-in attempts per key and user (memory only).
    pub(crate) attempts: crate::attempts::Attempts,
    secrets: Box<dyn SecretStore>,
    /// Read connections (WAL): reads never wait behind the writer.
    readers: Mutex<Vec<Connection>>,
    /// Syncs in progress, one per producer: a second caller joins it.
    pub(crate) sync_runs: Mutex<HashMap<String, Arc<crate::stream::consumer::SyncRun>>>,
    /// Pushed pages being received, each waiting for the one before it.
    pub(crate) arrivals: crate::stream::consumer::Arrivals,
    /// A read-only connection for Condition Scripts' queries.
    script_conn: Arc<Mutex<Connection>>,
    /// Bumped after every committed write: live channels watch it.
    writes: std::sync::atomic::AtomicU64,
    /// Where notices go (desktop notifications), if anywhere.
    pub(crate) notice_sink: RwLock<Option<crate::notice::NoticeSink>>,
    /// What "Sync now" is doing, for its progress bar.
    pub(crate) progress: Mutex<crate::stream::consumer::SyncProgress>,
    /// Held while the site is open (its checkpointer ends once it is gone);
    /// the checkpointer asks the writer through it to start the log over.
    checkpoints: Arc<crate::db::Checkpoints>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let conn = self.conn.get_mut().unwrap_or_else(|e| e.into_inner());
        self.checkpoints.close(conn);
    }
}

impl Site {
    /// Opens (creating if needed) the site in `dir`, keeping producer
    /// secrets in the file store (see [`Site::open_with`]).
    pub fn open(dir: &Path) -> Result<Site> {
        Site::open_with(dir, SecretStoreKind::File)
    }

    /// Opens the site with secrets kept where `secrets` says: the OS
    /// keyring fails here, clearly, when no keyring service runs.
    pub fn open_with(dir: &Path, secrets: SecretStoreKind) -> Result<Site> {
        let mut site = Site::open_file_store(dir)?;
        if secrets == SecretStoreKind::Keyring {
            site.secrets = Box::new(KeyringSecretStore::open(&site.info()?.site_id)?);
        }
        Ok(site)
    }

    fn open_file_store(dir: &Path) -> Result<Site> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("Cannot create data directory {}", dir.display()), e))?;
        let conn = crate::db::open(&dir.join(DB_FILE))?;
        let script_conn = Connection::open_with_flags(
            dir.join(DB_FILE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        script_conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let site = Site {
            dir: dir.to_owned(),
            conn: Mutex::new(conn),
            registry: RwLock::new(Arc::new(Registry::default())),
            verified: Mutex::new(HashMap::new()),
            attempts: Default::default(),
            secrets: Box::new(FileSecretStore::new(dir)),
            readers: Mutex::new(Vec::new()),
            sync_runs: Mutex::new(HashMap::new()),
            arrivals: Default::default(),
            script_conn: Arc::new(Mutex::new(script_conn)),
            writes: std::sync::atomic::AtomicU64::new(0),
            notice_sink: RwLock::new(None),
            progress: Mutex::new(Default::default()),
            checkpoints: Arc::default(),
        };
        crate::db::checkpointer(&site.db_path(), Arc::downgrade(&site.checkpoints));
        site.write(|tx| {
            ensure_site_id(tx)?;
            for dt in builtin_doctypes()? {
                tx.execute(
                    "INSERT INTO doctypes (name, definition, custom) VALUES (?1, ?2, 0)
                     ON CONFLICT (name) DO UPDATE SET definition = excluded.definition WHERE custom = 0",
                    (&dt.name, to_json(&dt)?),
                )?;
            }
            Ok(())
        })?;
        site.reload_registry()?;
        let reg = site.doctypes();
        site.write(|tx| {
            for role in BUILTIN_ROLES {
                if document::store::load(tx, "Role", role)?.is_none() {
                    let doc = serde_json::json!({ "role_name": role });
                    document::insert_in(
                        tx,
                        &reg,
                        &Actor::system(),
                        "Role",
                        doc,
                        Default::default(),
                    )?;
                }
            }
            Ok(())
        })?;
        Ok(site)
    }

    /// Where producer secrets are kept (never SQLite).
    pub fn secrets(&self) -> &dyn SecretStore {
        self.secrets.as_ref()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back, so
        // the connection is still sound.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one immediate transaction, committed when `f` succeeds.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // What an earlier transaction fetched may have changed since.
        crate::document::forget_cached();
        let out = f(&tx)?;
        tx.commit()?;
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        self.checkpoints.after_commit(&conn);
        Ok(out)
    }

    /// What Condition Scripts may read: committed documents, current doctypes.
    pub fn script_env(&self) -> crate::condition::ScriptEnv {
        crate::condition::ScriptEnv {
            conn: self.script_conn.clone(),
            registry: self.doctypes(),
        }
    }

    /// How many writes this process has committed (cheap to poll).
    pub fn write_generation(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Runs `f` on a read transaction (a consistent snapshot of what is
    /// committed), on a connection of its own: never behind a write.
    pub fn read<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => crate::db::open_reader(&self.db_path())?,
        };
        let out = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            f(&tx)
        };
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_READERS {
            pool.push(conn);
        }
        out
    }

    pub fn doctypes(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn reload_registry(&self) -> Result<()> {
        let reg = self.read(load_registry)?;
        self.write(|tx| crate::query::ensure_indexes(tx, &reg))?;
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(reg);
        Ok(())
    }

    pub fn info(&self) -> Result<SiteInfo> {
        self.read(|tx| {
            Ok(SiteInfo {
                site_id: meta(tx, "site_id")?.unwrap_or_default(),
                site_name: meta(tx, "site_name")?.unwrap_or_default(),
                url: meta(tx, "url")?,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                sync_interval: meta(tx, "sync_interval")?.and_then(|v| v.parse().ok()),
                keep_in_background: meta(tx, "keep_in_background")?.as_deref() == Some("1"),
                background_sync: meta(tx, "background_sync")?.as_deref() != Some("0"),
                named: meta(tx, "named")?.is_some(),
            })
        })
    }

    /// Sets the display name and/or public URL (F1). The site id never changes.
    pub fn configure(
        &self,
        actor: &Actor,
        name: Option<&str>,
        url: Option<&str>,
    ) -> Result<SiteInfo> {
        actor.require_system_manager("change site settings")?;
        self.write(|tx| {
            if let Some(name) = name {
                let name = name.trim();
                if name.is_empty() || name.len() > 140 {
                    return Err(Error::invalid(
                        "site_name",
                        "Site name must be 1 to 140 characters",
                    ));
                }
                set_meta(tx, "site_name", name)?;
                set_meta(tx, "named", "1")?;
            }
            if let Some(url) = url {
                match normalize_url(url)? {
                    Some(u) => set_meta(tx, "url", &u)?,
                    None => {
                        tx.execute("DELETE FROM site_meta WHERE key = 'url'", [])?;
                    }
                }
            }
            Ok(())
        })?;
        self.info()
    }

    /// Sets the seconds between scheduled pulls (Settings); None clears it.
    pub fn set_sync_interval(&self, actor: &Actor, seconds: Option<f64>) -> Result<SiteInfo> {
        actor.require_system_manager("change site settings")?;
        if let Some(s) = seconds {
            if !(1.0..=86_400.0).contains(&s) {
                return Err(Error::invalid(
                    "sync_interval",
                    "The sync interval must be between 1 second and 1 day (86400 seconds)",
                ));
            }
        }
        self.write(|tx| {
            match seconds {
                Some(s) => set_meta(tx, "sync_interval", &s.to_string())?,
                None => {
                    tx.execute("DELETE FROM site_meta WHERE key = 'sync_interval'", [])?;
                }
            }
            Ok(())
        })?;
        self.info()
    }

    /// Desktop (SPEC F22): whether closing the window keeps syncing in the
    /// background, with a tray icon to reopen or quit.
    pub fn set_keep_in_background(&self, actor: &Actor, keep: bool) -> Result<SiteInfo> {
        actor.require_system_manager("change site settings")?;
        self.write(|tx| set_meta(tx, "keep_in_background", if keep { "1" } else { "0" }))?;
        self.info()
    }

    /// Pauses (false) or resumes background sync: scheduled pulls, retries
    /// and live-channel wake-ups. Sync now works either way.
    pub fn set_background_sync(&self, actor: &Actor, on: bool) -> Result<SiteInfo> {
        actor.require_system_manager("change site settings")?;
        self.write(|tx| set_meta(tx, "background_sync", if on { "1" } else { "0" }))?;
        self.info()
    }

    /// Declares a custom doctype at run time (F3), or replaces a custom one.
    pub fn import_doctype(
        &self,
        actor: &Actor,
        declaration: serde_json::Value,
    ) -> Result<Arc<DocType>> {
        actor.require_system_manager("import a DocType")?;
        let mut dt = DocType::from_json(declaration)?;
        dt.custom = true;
        let reg = self.doctypes();
        if reg.get(&dt.name).is_some_and(|d| !d.custom) {
            return Err(Error::invalid(
                "name",
                format!("{} is a built-in DocType and cannot be replaced", dt.name),
            ));
        }
        dt.validate(&reg)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO doctypes (name, definition, custom) VALUES (?1, ?2, 1)
                 ON CONFLICT (name) DO UPDATE SET definition = excluded.definition",
                (&dt.name, to_json(&dt)?),
            )?;
            Ok(())
        })?;
        self.reload_registry()?;
        self.doctypes().require(&dt.name).cloned()
    }

    /// Adds a custom field to any doctype (F3).
    pub fn add_custom_field(
        &self,
        actor: &Actor,
        doctype: &str,
        field: serde_json::Value,
    ) -> Result<Arc<DocType>> {
        actor.require_system_manager("add a custom field")?;
        let field: DocField = serde_json::from_value(field)
            .map_err(|e| Error::bad_input(format!("Invalid custom field declaration: {e}")))?;
        let reg = self.doctypes();
        let mut dt = DocType::clone(reg.require(doctype)?);
        if dt.field(&field.fieldname).is_some() {
            return Err(Error::invalid(
                "fieldname",
                format!("{doctype} already has a field named {}", field.fieldname),
            ));
        }
        dt.fields.push(field.clone());
        dt.validate(&reg)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO custom_fields (doctype, fieldname, definition) VALUES (?1, ?2, ?3)",
                (doctype, &field.fieldname, to_json(&field)?),
            )?;
            Ok(())
        })?;
        self.reload_registry()?;
        self.doctypes().require(doctype).cloned()
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Corrupt(e.to_string()))
}

fn load_registry(tx: &Transaction) -> Result<Registry> {
    let mut reg = Registry::default();
    let mut stmt = tx.prepare("SELECT name, definition FROM doctypes")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut custom_fields =
        tx.prepare("SELECT definition FROM custom_fields WHERE doctype = ?1 ORDER BY rowid")?;
    for row in rows {
        let (name, def) = row?;
        let mut dt: DocType = serde_json::from_str(&def)
            .map_err(|e| Error::Corrupt(format!("DocType {name}: {e}")))?;
        let extra = custom_fields.query_map([&name], |r| r.get::<_, String>(0))?;
        for f in extra {
            let f = f?;
            dt.fields.push(
                serde_json::from_str(&f)
                    .map_err(|e| Error::Corrupt(format!("custom field of {name}: {e}")))?,
            );
        }
        reg.insert(dt);
    }
    Ok(reg)
}

fn ensure_site_id(tx: &Transaction) -> Result<()> {
    if meta(tx, "site_id")?.is_none() {
        set_meta(tx, "site_id", &uuid::Uuid::new_v4().to_string())?;
        set_meta(tx, "site_name", "Outpost site")?;
    }
    Ok(())
}

fn meta(tx: &Transaction, key: &str) -> Result<Option<String>> {
    Ok(tx
        .query_row("SELECT value FROM site_meta WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

fn set_meta(tx: &Transaction, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO site_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )?;
    Ok(())
}

/// Checks a site URL: http or https only, trailing `/` removed; empty means none.
pub fn normalize_url(url: &str) -> Result<Option<String>> {
    let u = url.trim().trim_end_matches('/');
    if u.is_empty() {
        return Ok(None);
    }
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(Some(u.to_owned()))
        }
        _ => Err(Error::invalid(
            "url",
            format!("{url:?} is not a valid URL: use http://host[:port] or https://host"),
        )),
    }
}
