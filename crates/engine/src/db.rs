//! Opening a site's SQLite file: pragmas and append-only migrations.
//! Never edit a migration that has shipped; add a new one at the end.

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};
use std::path::Path;

use crate::error::Result;

const MIGRATIONS: &[&str] = &[
    // 1: the site store.
    r#"
    CREATE TABLE site_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE doctypes (name TEXT PRIMARY KEY, definition TEXT NOT NULL, custom INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE custom_fields (
        doctype TEXT NOT NULL, fieldname TEXT NOT NULL, definition TEXT NOT NULL,
        PRIMARY KEY (doctype, fieldname));
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        doctype TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, modified TEXT NOT NULL,
        UNIQUE (doctype, name));
    CREATE INDEX documents_by_modified ON documents (doctype, modified);
    CREATE TABLE doc_links (
        doctype TEXT NOT NULL, name TEXT NOT NULL, fieldname TEXT NOT NULL,
        link_doctype TEXT NOT NULL, link_name TEXT NOT NULL);
    CREATE INDEX doc_links_from ON doc_links (doctype, name);
    CREATE INDEX doc_links_to ON doc_links (link_doctype, link_name);
    CREATE TABLE naming_counters (key TEXT PRIMARY KEY, current INTEGER NOT NULL);
    CREATE TABLE api_keys (
        user TEXT PRIMARY KEY, api_key TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL);
    "#,
    // 2: event streaming. Producer side: the update log, which doctypes any
    // consumer subscribes to, how far each consumer has pulled. Consumer
    // side: each producer's cursor and health, and the sync log.
    r#"
    CREATE TABLE update_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        update_type TEXT NOT NULL, ref_doctype TEXT NOT NULL, docname TEXT NOT NULL,
        data TEXT, creation TEXT NOT NULL, origin_site TEXT NOT NULL);
    CREATE INDEX update_log_doc ON update_log (ref_doctype, docname, seq);
    CREATE TABLE stream_doctypes (doctype TEXT PRIMARY KEY);
    CREATE TABLE consumer_progress (consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL, last_seen TEXT NOT NULL);
    CREATE TABLE producer_state (
        producer TEXT PRIMARY KEY, cursor INTEGER NOT NULL DEFAULT 0, last_sync TEXT,
        online INTEGER NOT NULL DEFAULT 0, last_error TEXT);
    CREATE TABLE sync_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_producer TEXT NOT NULL, seq INTEGER NOT NULL, update_type TEXT NOT NULL,
        status TEXT NOT NULL, ref_doctype TEXT NOT NULL, docname TEXT, remote_docname TEXT NOT NULL,
        use_same_name INTEGER NOT NULL, data TEXT, error TEXT, origin_site TEXT NOT NULL,
        creation TEXT NOT NULL, modified TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1);
    CREATE INDEX sync_log_doc ON sync_log (event_producer, ref_doctype, remote_docname, status);
    CREATE INDEX sync_log_status ON sync_log (status, id);
    "#,
    // 3: finding a synced document by its producer's name (use_same_name off)
    // must not scan the whole doctype.
    r#"
    CREATE INDEX documents_remote_name ON documents (doctype, json_extract(data, '$.remote_docname'))
        WHERE json_extract(data, '$.remote_docname') IS NOT NULL;
    "#,
    // 4: which documents of a conditional subscription a consumer has
    // received (so a late match brings the earlier entries, and a Delete
    // goes only to consumers that had the document).
    r#"
    CREATE TABLE consumer_docs (
        consumer TEXT NOT NULL, ref_doctype TEXT NOT NULL, docname TEXT NOT NULL,
        PRIMARY KEY (consumer, ref_doctype, docname)) WITHOUT ROWID;
    "#,
    // 5: the Document Type Mapping a sync-log entry went through (SPEC F13).
    r#"
    ALTER TABLE sync_log ADD COLUMN mapping TEXT;
    "#,
    // 6: browser sign-in: password hashes and sessions (token digests).
    r#"
    CREATE TABLE user_passwords (user TEXT PRIMARY KEY, hash TEXT NOT NULL);
    CREATE TABLE sessions (token_sha256 BLOB PRIMARY KEY, user TEXT NOT NULL, expires INTEGER NOT NULL);
    CREATE INDEX sessions_by_user ON sessions (user);
    "#,
    // 7: acknowledged delivery. Producer side: pages answered and not yet
    // acknowledged, the last acknowledged page, documents held back by a
    // condition error, entries of conditional rows delivered (received_by),
    // and per consumer row where the log stood when it was subscribed and
    // the snapshot a late approval owes. Consumer side: the last page
    // committed (sent back as the acknowledgement) and what the producer
    // holds back. Existing approved rows owe nothing.
    r#"
    CREATE TABLE consumer_pages (
        consumer TEXT NOT NULL, page INTEGER NOT NULL, after INTEGER NOT NULL, cursor INTEGER NOT NULL,
        has_more INTEGER NOT NULL, seqs TEXT NOT NULL, snapshot TEXT NOT NULL, effects TEXT NOT NULL,
        PRIMARY KEY (consumer, page)) WITHOUT ROWID;
    ALTER TABLE consumer_progress ADD COLUMN page INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE consumer_held (
        consumer TEXT NOT NULL, ref_doctype TEXT NOT NULL, docname TEXT NOT NULL, seq INTEGER NOT NULL,
        error TEXT NOT NULL, since TEXT NOT NULL,
        PRIMARY KEY (consumer, ref_doctype, docname)) WITHOUT ROWID;
    CREATE TABLE consumer_deliveries (
        consumer TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (consumer, seq)) WITHOUT ROWID;
    CREATE TABLE consumer_rows (
        consumer TEXT NOT NULL, ref_doctype TEXT NOT NULL, subscribed_seq INTEGER NOT NULL,
        approved INTEGER NOT NULL DEFAULT 0, snapshot TEXT,
        PRIMARY KEY (consumer, ref_doctype)) WITHOUT ROWID;
    INSERT OR IGNORE INTO consumer_rows (consumer, ref_doctype, subscribed_seq, approved)
        SELECT d.name, json_extract(r.value, '$.ref_doctype'), (SELECT COALESCE(MAX(seq), 0) FROM update_log),
               json_extract(r.value, '$.status') = 'Approved' AND COALESCE(json_extract(r.value, '$.unsubscribed'), 0) = 0
        FROM documents d, json_each(d.data, '$.consumer_doctypes') r WHERE d.doctype = 'Event Consumer';
    ALTER TABLE producer_state ADD COLUMN acked_page INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE producer_state ADD COLUMN held TEXT;
    "#,
    // 8: conflicts. An update-log entry names the version of the document
    // it was made on and the version it made; a sync-log line of status
    // Conflict keeps both versions of the document.
    r#"
    ALTER TABLE update_log ADD COLUMN base TEXT;
    ALTER TABLE update_log ADD COLUMN version TEXT;
    ALTER TABLE sync_log ADD COLUMN base TEXT;
    ALTER TABLE sync_log ADD COLUMN version TEXT;
    ALTER TABLE sync_log ADD COLUMN conflict TEXT;
    "#,
    // 9: speed of catch-up. Links are kept once per (target, document,
    // field) in a table clustered on the target ("who links to this?"),
    // two b-trees instead of a table and two indexes; a synced document's
    // producer name is a column, not an index over its JSON (which parsed
    // every inserted document).
    r#"
    CREATE TABLE doc_links_by_target (
        link_doctype TEXT NOT NULL, link_name TEXT NOT NULL,
        doctype TEXT NOT NULL, name TEXT NOT NULL, fieldname TEXT NOT NULL,
        PRIMARY KEY (link_doctype, link_name, doctype, name, fieldname)) WITHOUT ROWID;
    INSERT OR IGNORE INTO doc_links_by_target SELECT link_doctype, link_name, doctype, name, fieldname FROM doc_links;
    DROP TABLE doc_links;
    ALTER TABLE doc_links_by_target RENAME TO doc_links;
    CREATE INDEX doc_links_from ON doc_links (doctype, name);
    ALTER TABLE documents ADD COLUMN remote_name TEXT;
    UPDATE documents SET remote_name = json_extract(data, '$.remote_docname')
        WHERE json_extract(data, '$.remote_docname') IS NOT NULL;
    DROP INDEX documents_remote_name;
    CREATE INDEX documents_remote_name ON documents (doctype, remote_name) WHERE remote_name IS NOT NULL;
    "#,
    // 10: the dashboard's pictures: traffic per minute (24 hours) and the
    // last syncs run.
    r#"
    CREATE TABLE sync_activity (
        peer TEXT NOT NULL, direction TEXT NOT NULL, minute TEXT NOT NULL,
        entries INTEGER NOT NULL, backlog INTEGER NOT NULL,
        PRIMARY KEY (peer, direction, minute)) WITHOUT ROWID;
    CREATE INDEX sync_activity_by_minute ON sync_activity (minute);
    CREATE TABLE sync_history (
        id INTEGER PRIMARY KEY, producer TEXT NOT NULL, started TEXT NOT NULL, finished TEXT NOT NULL,
        pulled INTEGER NOT NULL, pushed INTEGER NOT NULL, failed INTEGER NOT NULL,
        conflicts INTEGER NOT NULL, error TEXT);
    "#,
    // 11: invitations (one-paste enrolment of a shop); the token's SHA-256 only.
    r#"
    CREATE TABLE invitations (
        id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, spec TEXT NOT NULL,
        created_by TEXT NOT NULL, creation TEXT NOT NULL, expires TEXT NOT NULL,
        redeemed_at TEXT, redeemed_by TEXT, redeemed_by_name TEXT, redeemed_user TEXT);
    CREATE INDEX invitations_by_user ON invitations (redeemed_user) WHERE redeemed_user IS NOT NULL;
    CREATE TABLE key_renewals (user TEXT PRIMARY KEY, requested TEXT NOT NULL) WITHOUT ROWID;
    -- A site named before the first-run wizard existed is not asked again.
    INSERT INTO site_meta (key, value)
        SELECT 'named', '1' FROM site_meta WHERE key = 'site_name' AND value <> 'Outpost site';
    "#,
    // 12: a document's links are listed in its own row ([fieldname,
    // doctype, name] triples), so that changing or deleting it removes its
    // `doc_links` rows by their key: the second index over `doc_links`
    // (by the linking document) goes, and with it six index writes per
    // synced invoice.
    r#"
    ALTER TABLE documents ADD COLUMN links TEXT;
    UPDATE documents SET links = (
        SELECT json_group_array(json_array(l.fieldname, l.link_doctype, l.link_name))
        FROM (SELECT DISTINCT fieldname, link_doctype, link_name FROM doc_links
              WHERE doctype = documents.doctype AND name = documents.name
              ORDER BY fieldname, link_doctype, link_name) l)
    WHERE EXISTS (SELECT 1 FROM doc_links l WHERE l.doctype = documents.doctype AND l.name = documents.name);
    DROP INDEX doc_links_from;
    "#,
    // 13: a document's sync-log lines are looked up only among the failed
    // ones (an update waiting behind an earlier failure, Resync): the index
    // holds those alone, instead of taking a fat key for every line synced.
    r#"
    DROP INDEX sync_log_doc;
    CREATE INDEX sync_log_failed ON sync_log (event_producer, ref_doctype, remote_docname, id)
        WHERE status = 'Failed';
    "#,
    // 14: links by integers. `doc_links` holds (target, source) pairs: the
    // source is the linking document's row id, the target an id that
    // `link_targets` gives each linked (doctype, name), whether or not that
    // document is here. Rows of five text columns made every synced invoice
    // compare long keys six times; two integers are a few bytes, and a
    // document holds one row per target, whatever fields name it.
    r#"
    CREATE TABLE link_targets (
        id INTEGER PRIMARY KEY, doctype TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (doctype, name));
    INSERT INTO link_targets (doctype, name) SELECT DISTINCT link_doctype, link_name FROM doc_links;
    CREATE TABLE doc_links_by_id (
        target INTEGER NOT NULL, source INTEGER NOT NULL, PRIMARY KEY (target, source)) WITHOUT ROWID;
    INSERT OR IGNORE INTO doc_links_by_id (target, source)
        SELECT t.id, d.id FROM doc_links l
        JOIN link_targets t ON t.doctype = l.link_doctype AND t.name = l.link_name
        JOIN documents d ON d.doctype = l.doctype AND d.name = l.name;
    DROP TABLE doc_links;
    ALTER TABLE doc_links_by_id RENAME TO doc_links;
    "#,
    // 15: documents a pushing site sends ahead of its page, when the page's
    // dependencies alone are more than one request carries; kept here
    // until the page that starts at `after` is applied.
    r#"
    CREATE TABLE push_staged (
        producer TEXT NOT NULL, after INTEGER NOT NULL, doctype TEXT NOT NULL, name TEXT NOT NULL,
        data TEXT NOT NULL, PRIMARY KEY (producer, after, doctype, name)) WITHOUT ROWID;
    "#,
];

/// The site store's migrations, in order.
fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// Statements that insert several rows at once: `insert` (up to `VALUES`)
/// followed by `rows` groups of `columns` placeholders, made once for each
/// number of rows from 1 to `most` and kept in `cache`.
pub struct MultiRow {
    insert: &'static str,
    columns: usize,
    most: usize,
    cache: std::sync::OnceLock<Vec<String>>,
}

impl MultiRow {
    pub const fn new(insert: &'static str, columns: usize, most: usize) -> MultiRow {
        MultiRow {
            insert,
            columns,
            most,
            cache: std::sync::OnceLock::new(),
        }
    }

    /// The most rows one statement inserts.
    pub fn most(&self) -> usize {
        self.most
    }

    /// The statement for `rows` rows (1..=most).
    pub fn sql(&self, rows: usize) -> &str {
        let all = self.cache.get_or_init(|| {
            let group = format!("({})", vec!["?"; self.columns].join(", "));
            (1..=self.most)
                .map(|n| {
                    format!(
                        "{} VALUES {}",
                        self.insert,
                        vec![group.as_str(); n].join(", ")
                    )
                })
                .collect()
        });
        &all[rows.clamp(1, self.most) - 1]
    }
}

/// How long the writer waits for the database's lock.
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the writer waits for readers to leave the log it restarts.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

pub fn open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(WRITER_WAIT)?;
    // A new site's file has 16 KB pages: a document (an invoice of five
    // rows is 2.2 KB of JSON) no longer takes a 4 KB page of its own, so
    // the file is about half the size and a page of sync writes half the
    // bytes. An existing file keeps its page size (this is then a no-op).
    conn.pragma_update(None, "page_size", 16_384)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A page of 500 documents with their indexes (about 2.5 MB of database
    // pages) fits in the writer's cache with room to spare (the default
    // 2 MB spills it to the file a page at a time; 24 MB put a consumer
    // catching up near 150 MB); temporary b-trees stay in memory.
    conn.pragma_update(None, "cache_size", -12_000)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Commits do not copy the log into the database file: a checkpointer
    // thread of the site does, beside the writer (see `checkpointer`).
    // A short-lived process (the CLI) checkpoints when it closes.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // A log restarted during a catch-up keeps its file (see
    // `Checkpoints`); the checkpointer cuts it back once writes stop.
    conn.pragma_update(None, "journal_size_limit", -1)?;
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

/// A connection for reads only, beside the writer (WAL lets both run).
pub fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Past this many bytes of frames the writer makes the log start over
/// (see [`Checkpoints`]).
const CHECKPOINT_RESTART_AT: u64 = 64 << 20;
/// A log file left this big once writes have stopped is cut back to
/// nothing (a catch-up leaves no log behind it on disk).
const TRUNCATE_AT: u64 = 4 << 20;
/// How often the checkpointer looks at the log.
const CHECKPOINT_LOOK: std::time::Duration = std::time::Duration::from_millis(250);

/// Between the checkpointer thread and the writer: the log has grown past
/// [`CHECKPOINT_RESTART_AT`] and should start over. Under writes that never
/// pause (a catch-up) a PASSIVE checkpoint never catches the log's end, so
/// the log would only grow; and a RESTART from the checkpointer's thread
/// waits for the writer's lock, which a catch-up hardly ever lets go. The
/// writer does it between two transactions instead ([`Checkpoints::after_commit`]),
/// after the checkpointer has copied all but the last few frames: a RESTART
/// waits for the disk to take what it copies, and the writer waits with it.
#[derive(Default)]
pub struct Checkpoints {
    restart: std::sync::atomic::AtomicBool,
    /// Held by the checkpointer while it looks at the log, and by the site
    /// as it closes: a checkpoint under way made the closing fold find the
    /// log busy and leave it (one close in about fifteen after a burst).
    looking: std::sync::Mutex<()>,
    /// The site is closing: the checkpointer looks no more.
    closed: std::sync::atomic::AtomicBool,
}

impl Checkpoints {
    /// Folds the log into the database file as the site closes, once the
    /// checkpointer is not looking at it, and stops the checkpointer.
    pub fn close(&self, conn: &Connection) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        let _no_look = self.looking.lock().unwrap_or_else(|e| e.into_inner());
        fold_log(conn);
    }

    /// Called by the writer after a commit, holding the writer's connection:
    /// when asked, copies what is left of the log into the database file and
    /// has the next transaction start the log over (the file is reused, not
    /// cut: cutting it made the disk discard its blocks while the writer
    /// waited).
    pub fn after_commit(&self, conn: &Connection) {
        if !self.restart.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        // A reader still on the log is waited for briefly, not for the
        // writer's usual ten seconds: other writes wait behind this one.
        let _ = conn.busy_timeout(RESTART_WAIT);
        // (busy, frames in the log, frames copied): busy is 1 when a
        // reader or another checkpoint was in the way; asked again after
        // the next commit.
        match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
            Ok(0) => self
                .restart
                .store(false, std::sync::atomic::Ordering::Release),
            Ok(_) => tracing::debug!("restarting the log postponed: in use"),
            Err(e) => tracing::debug!(error = %e, "restarting the log postponed"),
        }
        let _ = conn.busy_timeout(WRITER_WAIT);
    }
}

/// Lowers the calling thread's priority (nice 5): a thread that helps the
/// writer (reading the next page, copying the log) yields the core to it
/// when both want one, and takes what the writer leaves. Linux only (there
/// a thread is a task of its own); elsewhere nothing changes.
pub fn yield_to_writer() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority with PRIO_PROCESS and 0 names the calling thread
    // on Linux; it reads and writes no memory of ours.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, 5);
    }
}

/// Copies the whole log into the database file and cuts the log file to
/// nothing, as a site closes: the next process to open it then starts from
/// its file instead of reading (and copying) the log it left. Without this a
/// short-lived process (the CLI seeding 100,000 invoices, say) left a log of
/// 145 MB behind: its checkpointer's connection was still open at exit, so
/// SQLite's own fold on the last close never ran. Best effort: a reader
/// still on the log is waited for two seconds, then the log stays.
/// Called through [`Checkpoints::close`] (not while the checkpointer looks).
fn fold_log(conn: &Connection) {
    let _ = conn.busy_timeout(std::time::Duration::from_secs(2));
    match checkpoint(conn, "TRUNCATE") {
        Ok((0, _, _)) => {}
        Ok(_) => tracing::debug!("log not folded on close: in use"),
        Err(e) => tracing::debug!(error = %e, "log not folded on close"),
    }
}

/// A checkpoint's answer: (busy, frames in the log, frames copied).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

/// One look of the checkpointer: copies the log into the database file
/// (nothing to copy costs nothing), asks the writer to restart a log past
/// [`CHECKPOINT_RESTART_AT`], and cuts back a log left idle since the last
/// look (`last`: the frames it had then, and whether all were copied).
fn look(
    conn: &Connection,
    shared: &Checkpoints,
    frame: u64,
    wal: &std::ffi::OsStr,
    last: &mut (i64, bool),
) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let (_, log, copied) = checkpoint(conn, "PASSIVE")?;
    if log.max(0) as u64 * frame > CHECKPOINT_RESTART_AT {
        // What was written while that copy ran is copied too: the writer
        // is left a few frames.
        let _ = checkpoint(conn, "PASSIVE");
        shared
            .restart
            .store(true, std::sync::atomic::Ordering::Release);
    }
    let idle = *last == (log, true) && log == copied;
    *last = (log, log == copied);
    if idle && std::fs::metadata(wal).map_or(0, |m| m.len()) > TRUNCATE_AT {
        // Only if no one is on the log: never waited for.
        conn.busy_timeout(std::time::Duration::ZERO)?;
        checkpoint(conn, "TRUNCATE")?;
    }
    Ok(())
}

/// Copies the write-ahead log into the database file four times a second,
/// on a connection and thread of its own, so that the
/// writer's commits never wait for it (PASSIVE: it neither blocks nor waits
/// for writers or readers); past 64 MB it asks the writer to start the log
/// over; once writes have stopped, it cuts the log file back to nothing.
/// Ends when `alive` can no longer be upgraded (the site was dropped).
pub fn checkpointer(path: &Path, alive: std::sync::Weak<Checkpoints>) {
    let path = path.to_owned();
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let spawned = std::thread::Builder::new()
        .name("outpost-checkpoint".into())
        .spawn(move || {
            yield_to_writer();
            let conn = match Connection::open(&path) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "no checkpointer: the log grows until the site closes");
                    return;
                }
            };
            let frame = conn
                .query_row("PRAGMA page_size", [], |r| r.get::<_, u64>(0))
                .unwrap_or(4096)
                + 24;
            // Frames in the log at the last look, and whether all were copied.
            let mut last = (-1, false);
            while let Some(shared) = alive.upgrade() {
                let looking = shared.looking.lock().unwrap_or_else(|e| e.into_inner());
                if shared.closed.load(std::sync::atomic::Ordering::Acquire) {
                    break;
                }
                // While the writer is asked to restart the log, no
                // checkpoint here stands in its way.
                if !shared.restart.load(std::sync::atomic::Ordering::Acquire) {
                    if let Err(e) = look(&conn, &shared, frame, &wal, &mut last) {
                        tracing::debug!(error = %e, "checkpoint postponed");
                    }
                }
                drop(looking);
                drop(shared);
                std::thread::sleep(CHECKPOINT_LOOK);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no checkpointer thread: the log grows until the site closes");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }

    /// A store made before links were kept by integers (migration 14)
    /// keeps "who links to this?": a Customer an invoice names cannot be
    /// deleted, and once the invoice is gone it can.
    #[test]
    fn links_made_before_migration_14_still_hold() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn =
                rusqlite::Connection::open(dir.path().join(crate::site::DB_FILE)).unwrap();
            super::migrations().to_version(&mut conn, 13).unwrap();
            conn.execute_batch(
                r#"INSERT INTO documents (doctype, name, data, modified) VALUES
                   ('Customer', 'Acme', '{"name":"Acme","customer_name":"Acme","modified":"2026-01-01 00:00:00.000000"}', '2026-01-01 00:00:00.000000'),
                   ('Customer', 'Bolt', '{"name":"Bolt","customer_name":"Bolt","modified":"2026-01-01 00:00:00.000000"}', '2026-01-01 00:00:00.000000');
                   INSERT INTO documents (doctype, name, data, modified, links) VALUES
                   ('Sales Invoice', 'SINV-1', '{"name":"SINV-1","customer":"Acme","modified":"2026-01-01 00:00:00.000000"}',
                    '2026-01-01 00:00:00.000000', '[["customer","Customer","Acme"]]');
                   INSERT INTO doc_links VALUES ('Customer', 'Acme', 'Sales Invoice', 'SINV-1', 'customer');"#,
            )
            .unwrap();
        }
        let site = crate::site::Site::open(dir.path()).unwrap();
        let me = crate::Actor::system();
        let linker = |name: &str| {
            site.read(|tx| crate::document::store::first_linker(tx, "Customer", name))
                .unwrap()
        };
        assert_eq!(
            linker("Acme"),
            Some(("Sales Invoice".to_owned(), "SINV-1".to_owned()))
        );
        assert_eq!(linker("Bolt"), None);
        assert!(site.delete(&me, "Customer", "Acme").is_err());
        site.delete(&me, "Sales Invoice", "SINV-1").unwrap();
        assert_eq!(linker("Acme"), None);
        site.delete(&me, "Customer", "Acme").unwrap();
    }

    /// A burst of writes leaves no log of its size on disk once it is over:
    /// the checkpointer folds the log into the database and cuts it back,
    /// and every document is still there.
    #[test]
    fn the_log_of_a_burst_of_writes_is_cut_back_once_writes_stop() {
        let dir = tempfile::tempdir().unwrap();
        let site = crate::site::Site::open(dir.path()).unwrap();
        let mut wal = site.db_path().into_os_string();
        wal.push("-wal");
        let log = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        crate::seed::seed(&site, "Sales Invoice", 3000, 500).unwrap();
        assert!(
            log() > super::TRUNCATE_AT,
            "the burst wrote {} bytes of log",
            log()
        );
        let start = std::time::Instant::now();
        while log() > super::TRUNCATE_AT && start.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            log() <= super::TRUNCATE_AT,
            "the log stayed at {} bytes",
            log()
        );
        let count: i64 = site
            .read(|tx| {
                Ok(tx.query_row(
                    "SELECT COUNT(*) FROM documents WHERE doctype = 'Sales Invoice'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(count, 3000);
    }

    /// A site that closes right after a burst (the CLI seeding, say) leaves
    /// its documents in the database file and no log: the next process to
    /// open it does not read and copy what this one wrote.
    #[test]
    fn a_site_closed_after_a_burst_leaves_its_documents_in_the_file_and_no_log() {
        let dir = tempfile::tempdir().unwrap();
        let site = crate::site::Site::open(dir.path()).unwrap();
        let path = site.db_path();
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        crate::seed::seed(&site, "Sales Invoice", 3000, 500).unwrap();
        assert!(
            std::fs::metadata(&wal).map_or(0, |m| m.len()) > super::TRUNCATE_AT,
            "the burst wrote a log"
        );
        drop(site);
        assert_eq!(
            std::fs::metadata(&wal).map_or(0, |m| m.len()),
            0,
            "no log left"
        );
        // The file alone holds them: read with the log ignored.
        let file = rusqlite::Connection::open_with_flags(
            format!("file:{}?immutable=1", path.display()),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let count: i64 = file
            .query_row(
                "SELECT COUNT(*) FROM documents WHERE doctype = 'Sales Invoice'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(count, 3000);
    }
}
