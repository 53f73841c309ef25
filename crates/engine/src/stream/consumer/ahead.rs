//! Dependencies sent ahead of a pushed page (SPEC F20). A page of one
//! entry whose dependencies alone are more than one request carries (an
//! invoice of four 2.5 MB items) cannot be halved further: the pushing site
//! sends the dependencies that do not fit in requests of their own, each
//! naming the page they are for (the `after` it starts at), then the page.
//! The receiving site keeps them in its store (a restart between the two
//! loses nothing), takes them into the page's bundle, and lets them go once
//! the page is applied.

use rusqlite::Transaction;
use serde_json::Value;

use crate::document::values::text;
use crate::document::Doc;
use crate::error::{Error, Result};
use crate::stream::log::Stored;
use crate::stream::wire::PullReply;

/// The most bytes of documents one pushing site may have waiting here for
/// their page.
pub const AHEAD_BYTES: usize = 32 << 20;

/// The bytes `value` takes as JSON on the wire.
pub(super) fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> Result<usize> {
    /// Counts what is written, keeping none of it.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok(count.0)
}

/// The bytes of a page's own documents (its entries' data).
pub(super) fn entries_len(page: &PullReply<Stored>) -> usize {
    page.snapshot
        .iter()
        .chain(&page.entries)
        .map(|e| e.data.get().len())
        .sum()
}

/// On the pushing site: which of a page's dependencies go with it (what
/// fits in `budget` bytes beside its entries) and which go ahead, in
/// groups of at most `budget` bytes each (a document larger than that goes
/// alone).
pub(super) fn split(
    page: &PullReply<Stored>,
    deps: Vec<Doc>,
    budget: usize,
) -> Result<(Vec<Doc>, Vec<Vec<Doc>>)> {
    let mut room = budget.saturating_sub(entries_len(page));
    let mut with = Vec::new();
    let mut ahead: Vec<(usize, Vec<Doc>)> = Vec::new();
    for doc in deps {
        let size = json_len(&doc)?;
        if size <= room {
            room -= size;
            with.push(doc);
            continue;
        }
        match ahead.last_mut() {
            Some((used, group)) if *used + size <= budget => {
                *used += size;
                group.push(doc);
            }
            _ => ahead.push((size, vec![doc])),
        }
    }
    Ok((with, ahead.into_iter().map(|(_, g)| g).collect()))
}

/// On the receiving site: keeps `deps` for `producer`'s page that starts at
/// `after`. `cursor` is where this site stands in that producer's log: what
/// was kept for pages before it is let go (those pages are applied), and
/// what comes ahead of such a page is not kept (the page is sent again
/// because its answer was lost; it is answered as applied).
pub(super) fn keep(
    tx: &Transaction,
    producer: &str,
    after: i64,
    cursor: i64,
    deps: &[Doc],
) -> Result<()> {
    tx.prepare_cached("DELETE FROM push_staged WHERE producer = ?1 AND after < ?2")?
        .execute((producer, cursor))?;
    if after < cursor {
        return Ok(());
    }
    let waiting: i64 = tx
        .prepare_cached(
            "SELECT COALESCE(SUM(LENGTH(CAST(data AS BLOB))), 0) FROM push_staged WHERE producer = ?1",
        )?
        .query_row([producer], |r| r.get(0))?;
    let mut total = usize::try_from(waiting).unwrap_or(usize::MAX);
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO push_staged (producer, after, doctype, name, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, doc) in deps.iter().enumerate() {
        let (doctype, name) = (text(doc, "doctype"), text(doc, "name"));
        if doctype.is_empty() || name.is_empty() {
            return Err(Error::invalid(
                "deps",
                format!("Document {i} sent ahead has no doctype or no name"),
            ));
        }
        let data = serde_json::to_string(doc).map_err(|e| Error::Corrupt(e.to_string()))?;
        total = total.saturating_add(data.len());
        if total > AHEAD_BYTES {
            return Err(Error::invalid(
                "deps",
                format!(
                    "A pushing site may have at most {} MB of documents waiting here for their page",
                    AHEAD_BYTES >> 20
                ),
            ));
        }
        insert.execute((producer, after, &doctype, &name, &data))?;
    }
    Ok(())
}

/// On the receiving site: what was sent ahead of `producer`'s page that
/// starts at `after`.
pub(super) fn taken(tx: &Transaction, producer: &str, after: i64) -> Result<Vec<Doc>> {
    let mut stmt = tx.prepare_cached(
        "SELECT doctype, name, data FROM push_staged WHERE producer = ?1 AND after = ?2",
    )?;
    let rows = stmt.query_map((producer, after), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (doctype, name, data) = row?;
        match serde_json::from_str::<Value>(&data) {
            Ok(Value::Object(doc)) => out.push(doc),
            _ => {
                return Err(Error::Corrupt(format!(
                    "{doctype} {name}, sent ahead of a pushed page, cannot be read"
                )))
            }
        }
    }
    Ok(out)
}

/// On the receiving site: lets go of what was sent ahead of `producer`'s
/// pages up to the one that starts at `after` (applied).
pub(super) fn settle(tx: &Transaction, producer: &str, after: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM push_staged WHERE producer = ?1 AND after <= ?2")?
        .execute((producer, after))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(name: &str, bytes: usize) -> Doc {
        json!({"doctype": "Item", "name": name, "description": "x".repeat(bytes)})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    fn names(docs: &[Doc]) -> Vec<String> {
        docs.iter().map(|d| text(d, "name")).collect()
    }

    #[test]
    fn what_fits_goes_with_the_page_and_the_rest_ahead_in_groups_within_the_budget() {
        let page: PullReply<Stored> = serde_json::from_value(json!({
            "entries": [{"seq": 1, "update_type": "Create", "ref_doctype": "Sales Invoice",
                         "docname": "SINV-1", "data": {"x": "y".repeat(300)},
                         "creation": "2026-01-01 00:00:00", "origin_site": "s"}],
            "cursor": 1, "has_more": false, "approvals": []}))
        .unwrap();
        let deps = vec![
            doc("A", 400),
            doc("B", 600),
            doc("C", 100),
            doc("D", 2_000),
            doc("E", 500),
        ];
        let (with, ahead) = split(&page, deps, 1_000).unwrap();
        // 1,000 bytes less the entry's ~300: A goes along, then C.
        assert_eq!(names(&with), ["A", "C"]);
        assert_eq!(
            ahead.iter().map(|g| names(g)).collect::<Vec<_>>(),
            [vec!["B"], vec!["D"], vec!["E"]],
            "B and E do not share a group of 1,000 bytes; D is larger than one and goes alone"
        );
        for g in &ahead {
            assert!(g.len() == 1 || json_len(g).unwrap() <= 1_000);
        }
    }
}
