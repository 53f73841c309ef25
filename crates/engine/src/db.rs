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
];

pub fn open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
    migrations.to_latest(&mut conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        let ms = rusqlite_migration::Migrations::new(
            super::MIGRATIONS
                .iter()
                .map(|s| rusqlite_migration::M::up(s))
                .collect(),
        );
        ms.validate().unwrap();
    }
}
