//! Rows of the `documents` and `doc_links` tables. A document is stored
//! whole as JSON (child rows inside it); what it links to is kept in
//! `doc_links` as (target, source) integer pairs clustered on the target,
//! so that "who links to this?" is one indexed query — the source is the
//! linking document's row id, the target an id `link_targets` gives each
//! linked (doctype, name), present or not. The document's own row lists its
//! links (`links`), so that a change or a delete finds the rows to remove
//! without a second index over `doc_links`, and a change that keeps its
//! targets writes none.

use rusqlite::{OptionalExtension, Transaction};

use super::values::text;
use super::Doc;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Link {
    pub fieldname: String,
    pub doctype: String,
    pub name: String,
}

/// A document's links as its row keeps them: each once, in order; None
/// when it has none.
fn links_text(links: &[Link]) -> Result<Option<String>> {
    if links.is_empty() {
        return Ok(None);
    }
    let mut sorted: Vec<&Link> = links.iter().collect();
    sorted.sort();
    sorted.dedup();
    let rows: Vec<(&str, &str, &str)> = sorted
        .iter()
        .map(|l| (l.fieldname.as_str(), l.doctype.as_str(), l.name.as_str()))
        .collect();
    serde_json::to_string(&rows)
        .map(Some)
        .map_err(|e| Error::Corrupt(e.to_string()))
}

/// The documents `links` point to, each once.
fn targets(links: &[Link]) -> Vec<(&str, &str)> {
    let mut all: Vec<(&str, &str)> = links
        .iter()
        .map(|l| (l.doctype.as_str(), l.name.as_str()))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// A stored document's row id and the links its row lists (what
/// `doc_links` holds for it); None when there is no such document.
fn row_links(tx: &Transaction, doctype: &str, name: &str) -> Result<Option<(i64, Vec<Link>)>> {
    let row: Option<(i64, Option<String>)> = tx
        .prepare_cached("SELECT id, links FROM documents WHERE doctype = ?1 AND name = ?2")?
        .query_row((doctype, name), |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, text)) = row else {
        return Ok(None);
    };
    let Some(text) = text else {
        return Ok(Some((id, Vec::new())));
    };
    let rows: Vec<(String, String, String)> = serde_json::from_str(&text)
        .map_err(|e| Error::Corrupt(format!("links of {doctype} {name}: {e}")))?;
    let links = rows
        .into_iter()
        .map(|(fieldname, doctype, name)| Link {
            fieldname,
            doctype,
            name,
        })
        .collect();
    Ok(Some((id, links)))
}

/// The links a stored document's row lists (what `doc_links` holds for it).
pub fn links_of(tx: &Transaction, doctype: &str, name: &str) -> Result<Vec<Link>> {
    Ok(row_links(tx, doctype, name)?
        .map(|(_, links)| links)
        .unwrap_or_default())
}

pub fn load(tx: &Transaction, doctype: &str, name: &str) -> Result<Option<Doc>> {
    let data: Option<String> = tx
        .prepare_cached("SELECT data FROM documents WHERE doctype = ?1 AND name = ?2")?
        .query_row((doctype, name), |r| r.get(0))
        .optional()?;
    data.map(|d| parse(doctype, name, &d)).transpose()
}

thread_local! {
    /// Documents seen present in the transaction under way on this thread
    /// (a page of 500 invoices checks the same Customer and Items again and
    /// again). Only a delete or a rollback makes one absent again.
    static PRESENT: std::cell::RefCell<Names<()>> = Default::default();
}
thread_local! {
    /// The document last found absent in the transaction under way on this
    /// thread (doctype, name; empty for none): a synced Create asks twice,
    /// whether it is here under its name and whether it may be inserted.
    static ABSENT: std::cell::RefCell<(String, String)> = Default::default();
}
thread_local! {
    /// Link targets' ids read or given in the transaction under way on this
    /// thread (a page of invoices links the same Customer and Items again
    /// and again). A rollback may take back an id given, so it clears them.
    static TARGETS: std::cell::RefCell<Names<i64>> = Default::default();
}

fn forget_absent() {
    ABSENT.with_borrow_mut(|(d, n)| {
        d.clear();
        n.clear();
    });
}

/// A transaction that remembers more documents than this starts afresh.
const NAMES_MAX: usize = 50_000;

/// doctype → name → what is remembered of it; asked with borrowed names.
struct Names<V> {
    by_doctype: crate::hashed::HashMap<String, crate::hashed::HashMap<String, V>>,
    count: usize,
}

impl<V> Default for Names<V> {
    fn default() -> Self {
        Names {
            by_doctype: Default::default(),
            count: 0,
        }
    }
}

impl<V: Copy> Names<V> {
    fn get(&self, doctype: &str, name: &str) -> Option<V> {
        self.by_doctype
            .get(doctype)
            .and_then(|names| names.get(name))
            .copied()
    }

    fn insert(&mut self, doctype: &str, name: &str, value: V) {
        if self.count > NAMES_MAX {
            self.clear();
        }
        let names = self.by_doctype.entry(doctype.to_owned()).or_default();
        if names.insert(name.to_owned(), value).is_none() {
            self.count += 1;
        }
    }

    fn remove(&mut self, doctype: &str, name: &str) {
        if let Some(names) = self.by_doctype.get_mut(doctype) {
            if names.remove(name).is_some() {
                self.count -= 1;
            }
        }
    }

    fn clear(&mut self) {
        self.by_doctype.clear();
        self.count = 0;
    }
}

/// Forgets which documents were seen present and the link targets' ids: a
/// transaction begins, or part of one was rolled back.
pub fn forget_present() {
    PRESENT.with_borrow_mut(Names::clear);
    TARGETS.with_borrow_mut(Names::clear);
    forget_absent();
}

pub fn exists(tx: &Transaction, doctype: &str, name: &str) -> Result<bool> {
    if PRESENT.with_borrow(|p| p.get(doctype, name).is_some()) {
        return Ok(true);
    }
    if ABSENT.with_borrow(|(d, n)| !d.is_empty() && d == doctype && n == name) {
        return Ok(false);
    }
    let found = tx
        .prepare_cached("SELECT 1 FROM documents WHERE doctype = ?1 AND name = ?2")?
        .query_row((doctype, name), |_| Ok(()))
        .optional()?
        .is_some();
    if found {
        PRESENT.with_borrow_mut(|p| p.insert(doctype, name, ()));
    } else {
        ABSENT.with_borrow_mut(|(d, n)| {
            d.clear();
            d.push_str(doctype);
            n.clear();
            n.push_str(name);
        });
    }
    Ok(found)
}

pub fn parse(doctype: &str, name: &str, data: &str) -> Result<Doc> {
    serde_json::from_str(data).map_err(|e| Error::Corrupt(format!("{doctype} {name}: {e}")))
}

pub fn insert(tx: &Transaction, doctype: &str, doc: &Doc, links: &[Link]) -> Result<()> {
    forget_absent();
    write_row(
        tx,
        "INSERT INTO documents (doctype, name, data, modified, remote_name, links) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        doctype,
        doc,
        links,
    )?;
    add_links(tx, tx.last_insert_rowid(), &targets(links))
}

pub fn update(tx: &Transaction, doctype: &str, doc: &Doc, links: &[Link]) -> Result<()> {
    super::compute::forget_fetched_from(doctype);
    let name = text(doc, "name");
    let (id, before) = row_links(tx, doctype, &name)?.ok_or_else(|| Error::NotFound {
        doctype: doctype.to_owned(),
        name: name.clone(),
    })?;
    write_row(
        tx,
        "UPDATE documents SET data = ?3, modified = ?4, remote_name = ?5, links = ?6 WHERE doctype = ?1 AND name = ?2",
        doctype,
        doc,
        links,
    )?;
    let (before, after) = (targets(&before), targets(links));
    let gone: Vec<(&str, &str)> = before
        .iter()
        .filter(|t| !after.contains(t))
        .copied()
        .collect();
    remove_links(tx, id, &gone)?;
    let added: Vec<(&str, &str)> = after
        .iter()
        .filter(|t| !before.contains(t))
        .copied()
        .collect();
    add_links(tx, id, &added)
}

/// The most bytes a stored document takes (as JSON). Every way a document
/// travels — a request of a site's API, a fetch's answer, a pushed or
/// pulled page's first entry — carries 8 MB; a document grown past that by
/// several saves (each under 8 MB) could never be sent to another site and
/// would stop every pull or push that has to carry it.
pub const MAX_DOC_BYTES: usize = crate::MAX_BODY_BYTES - (64 << 10);

/// Writes a document's row with `sql` (?1 doctype, ?2 name, ?3 data,
/// ?4 modified, ?5 the producer's name, ?6 links).
fn write_row(tx: &Transaction, sql: &str, doctype: &str, doc: &Doc, links: &[Link]) -> Result<()> {
    let name = text(doc, "name");
    let data = serde_json::to_string(doc).map_err(|e| Error::Corrupt(e.to_string()))?;
    if data.len() > MAX_DOC_BYTES {
        let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
        return Err(Error::bad_input(format!(
            "{doctype} {name} would take {:.1} MB: a document may take at most {:.1} MB, or it could not be sent to another site",
            mb(data.len()),
            mb(MAX_DOC_BYTES)
        )));
    }
    tx.prepare_cached(sql)?.execute((
        doctype,
        &name,
        &data,
        text(doc, "modified"),
        remote_name(doc),
        links_text(links)?,
    ))?;
    Ok(())
}

/// The producer's name of a document synced under a name of this site's.
fn remote_name(doc: &Doc) -> Option<&str> {
    doc.get("remote_docname")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
}

pub fn delete(tx: &Transaction, doctype: &str, name: &str) -> Result<()> {
    super::compute::forget_fetched_from(doctype);
    PRESENT.with_borrow_mut(|p| p.remove(doctype, name));
    let Some((id, links)) = row_links(tx, doctype, name)? else {
        return Ok(());
    };
    tx.prepare_cached("DELETE FROM documents WHERE id = ?1")?
        .execute([id])?;
    remove_links(tx, id, &targets(&links))
}

/// The id `link_targets` gives (doctype, name); with `give`, one is given
/// to a target that has none yet, else None.
fn target_id(tx: &Transaction, doctype: &str, name: &str, give: bool) -> Result<Option<i64>> {
    if let Some(id) = TARGETS.with_borrow(|t| t.get(doctype, name)) {
        return Ok(Some(id));
    }
    let mut id: Option<i64> = tx
        .prepare_cached("SELECT id FROM link_targets WHERE doctype = ?1 AND name = ?2")?
        .query_row((doctype, name), |r| r.get(0))
        .optional()?;
    if id.is_none() && give {
        tx.prepare_cached("INSERT INTO link_targets (doctype, name) VALUES (?1, ?2)")?
            .execute((doctype, name))?;
        id = Some(tx.last_insert_rowid());
    }
    if let Some(id) = id {
        TARGETS.with_borrow_mut(|t| t.insert(doctype, name, id));
    }
    Ok(id)
}

/// Removes the `doc_links` rows of document `source` to `targets`, each by
/// its key.
fn remove_links(tx: &Transaction, source: i64, targets: &[(&str, &str)]) -> Result<()> {
    for &(doctype, name) in targets {
        if let Some(target) = target_id(tx, doctype, name, false)? {
            tx.prepare_cached("DELETE FROM doc_links WHERE target = ?1 AND source = ?2")?
                .execute([target, source])?;
        }
    }
    Ok(())
}

/// `INSERT OR IGNORE` of up to eight rows into `doc_links` (a row it has
/// already stays): an invoice's six links are one statement, not six.
static ADD_LINKS: crate::db::MultiRow =
    crate::db::MultiRow::new("INSERT OR IGNORE INTO doc_links (target, source)", 2, 8);

/// Adds the `doc_links` rows of document `source` to `targets`.
fn add_links(tx: &Transaction, source: i64, targets: &[(&str, &str)]) -> Result<()> {
    for chunk in targets.chunks(ADD_LINKS.most()) {
        let ids = chunk
            .iter()
            .map(|&(doctype, name)| {
                target_id(tx, doctype, name, true)?
                    .ok_or_else(|| Error::Corrupt(format!("no link id given to {doctype} {name}")))
            })
            .collect::<Result<Vec<i64>>>()?;
        let mut stmt = tx.prepare_cached(ADD_LINKS.sql(ids.len()))?;
        for (i, target) in ids.into_iter().enumerate() {
            stmt.raw_bind_parameter(i * 2 + 1, target)?;
            stmt.raw_bind_parameter(i * 2 + 2, source)?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

/// The query for the documents that link to (?1 doctype, ?2 name), each as
/// (doctype, name); a macro so that [`first_linker`]'s query is written
/// out whole at compile time too.
macro_rules! linkers {
    () => {
        "SELECT d.doctype, d.name FROM link_targets t
     JOIN doc_links l ON l.target = t.id JOIN documents d ON d.id = l.source
     WHERE t.doctype = ?1 AND t.name = ?2"
    };
}
pub const LINKERS: &str = linkers!();

/// Another document that links to (doctype, name), if any.
pub fn first_linker(
    tx: &Transaction,
    doctype: &str,
    name: &str,
) -> Result<Option<(String, String)>> {
    Ok(tx
        .prepare_cached(concat!(
            linkers!(),
            " AND NOT (d.doctype = ?1 AND d.name = ?2) LIMIT 1"
        ))?
        .query_row((doctype, name), |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Whether another document of `doctype` has `value` in `field`. Each
/// (doctype, unique field) gets its own partial index on first use, so the
/// check stays a lookup however many documents there are.
pub fn value_taken(
    tx: &Transaction,
    doctype: &str,
    field: &str,
    value: &serde_json::Value,
    except: &str,
) -> Result<bool> {
    let value = match value {
        serde_json::Value::String(s) => rusqlite::types::Value::Text(s.clone()),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => rusqlite::types::Value::Integer(i),
            None => rusqlite::types::Value::Real(n.as_f64().unwrap_or_default()),
        },
        _ => return Ok(false),
    };
    // Doctype and field names are validated identifiers (letters, digits,
    // spaces, '_' and '-'); quotes are doubled all the same.
    let dt = doctype.replace('\'', "''");
    let path = format!("$.\"{}\"", field.replace(['\'', '"'], ""));
    let expr = format!("json_extract(data, '{path}')");
    // A stable name per (doctype, field): the doctype's bytes in hex.
    let hex: String = doctype.bytes().map(|b| format!("{b:02x}")).collect();
    let index = format!(
        "unique_{hex}_{}",
        field.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "")
    );
    // Kept prepared: asked on every save of such a document, it costs a
    // look at the schema, not a parse.
    tx.prepare_cached(&format!(
        "CREATE INDEX IF NOT EXISTS {index} ON documents ({expr}) WHERE doctype = '{dt}'"
    ))?
    .execute([])?;
    Ok(tx
        .prepare_cached(&format!(
            "SELECT 1 FROM documents WHERE doctype = '{dt}' AND {expr} = ?1 AND name <> ?2 LIMIT 1"
        ))?
        .query_row((value, except), |_| Ok(()))
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use crate::document::{delete_in, forget_cached, insert_in, WriteOptions};
    use crate::site::Site;
    use crate::Actor;
    use serde_json::json;

    /// "Who links to this?" follows a document's changes and its delete:
    /// an Item an invoice no longer holds can be deleted, one it holds
    /// cannot, and nothing holds anything once the invoice is gone.
    #[test]
    fn links_follow_changes_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::open(dir.path()).unwrap();
        let me = Actor::system();
        site.insert(&me, "Customer", json!({"customer_name": "Acme"}))
            .unwrap();
        for code in ["PEN", "INK", "NIB"] {
            site.insert(&me, "Item", json!({"item_code": code, "item_name": code}))
                .unwrap();
        }
        let row = |code: &str| json!({"item_code": code, "qty": 1, "rate": 2});
        let invoice = site
            .insert(
                &me,
                "Sales Invoice",
                json!({"customer": "Acme", "items": [row("PEN"), row("NIB"), row("NIB")]}),
            )
            .unwrap();
        let name = invoice["name"].as_str().unwrap().to_owned();
        let linked = |code: &str| {
            site.read(|tx| super::first_linker(tx, "Item", code))
                .unwrap()
                .is_some()
        };
        assert_eq!(
            (linked("PEN"), linked("INK"), linked("NIB")),
            (true, false, true)
        );
        site.update(
            &me,
            "Sales Invoice",
            &name,
            json!({"items": [row("INK"), row("NIB")]}),
        )
        .unwrap();
        assert_eq!(
            (linked("PEN"), linked("INK"), linked("NIB")),
            (false, true, true)
        );
        site.delete(&me, "Item", "PEN").unwrap();
        assert!(site.delete(&me, "Item", "INK").is_err());
        site.delete(&me, "Sales Invoice", &name).unwrap();
        assert_eq!((linked("INK"), linked("NIB")), (false, false));
        site.delete(&me, "Item", "INK").unwrap();
        site.delete(&me, "Customer", "Acme").unwrap();
    }

    /// Within one transaction, a document seen present is absent again
    /// once deleted, or once the part of the transaction that made it is
    /// rolled back: a link to it is then refused.
    #[test]
    fn documents_seen_present_follow_deletes_and_rollbacks() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::open(dir.path()).unwrap();
        let reg = site.doctypes();
        let me = Actor::system();
        let seen = site
            .write(|tx| {
                let opts = WriteOptions::default;
                let acme = || {
                    insert_in(
                        tx,
                        &reg,
                        &me,
                        "Customer",
                        json!({"customer_name": "Acme"}),
                        opts(),
                    )
                };
                tx.execute_batch("SAVEPOINT part")?;
                acme()?;
                let inside = super::exists(tx, "Customer", "Acme")?;
                forget_cached();
                tx.execute_batch("ROLLBACK TO part; RELEASE part")?;
                let after_rollback = super::exists(tx, "Customer", "Acme")?;
                acme()?;
                let again = super::exists(tx, "Customer", "Acme")?;
                delete_in(tx, &reg, &me, "Customer", "Acme", &opts())?;
                let after_delete = super::exists(tx, "Customer", "Acme")?;
                let linked = insert_in(
                    tx,
                    &reg,
                    &me,
                    "Sales Invoice",
                    json!({"customer": "Acme"}),
                    opts(),
                );
                Ok((inside, after_rollback, again, after_delete, linked.is_err()))
            })
            .unwrap();
        assert_eq!(seen, (true, false, true, false, true));
    }
}
