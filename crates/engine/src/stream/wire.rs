//! Bodies exchanged between a consumer and a producer. Pinned by the
//! cross-site tests; documented in the OpenAPI description of the methods.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::log::{LogEntry, Stored};
use crate::error::Result;

/// One doctype a consumer asks for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[ts(export)]
pub struct Subscription {
    pub ref_doctype: String,
    #[serde(default)]
    pub unsubscribed: bool,
    #[serde(default)]
    #[ts(optional)]
    pub condition: Option<String>,
    /// Once approved, send every existing document first (SPEC F18).
    #[serde(default)]
    pub sync_existing: bool,
}

/// `outpost.event.register`: the consumer introduces itself.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Registration {
    pub site_id: String,
    pub site_name: String,
    #[serde(default)]
    #[ts(optional)]
    pub url: Option<String>,
    pub doctypes: Vec<Subscription>,
}

/// Per doctype: what the producer's admin decided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[ts(export)]
pub struct Approval {
    pub ref_doctype: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RegistrationReply {
    pub producer_site_id: String,
    pub producer_name: String,
    /// The producer's latest update: the consumer's starting cursor.
    #[ts(type = "number")]
    pub last_seq: i64,
    pub approvals: Vec<Approval>,
}

/// `outpost.event.pull`: entries after `after`, at most `limit`. `ack` is
/// the newest page the consumer has committed (its `page` number): only
/// then does the producer record what that page delivered. A pull from an
/// `after` already answered and not acknowledged gets the same page again.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PullRequest {
    pub site_id: String,
    #[ts(type = "number")]
    pub after: i64,
    #[ts(type = "number")]
    pub limit: u32,
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub ack: Option<i64>,
}

impl PullReply<Stored> {
    /// The page with its entries' data parsed (snapshot, then log), and
    /// each entry's data as the JSON text it came as, in the same order:
    /// the apply takes a document out of its entry, the sync log keeps
    /// the text.
    ///
    /// `each` is called on every entry as soon as it is read (its data is
    /// still in the processor's cache then; a page later, looking at it
    /// again costs a trip to memory per field): what it answers comes in
    /// the same order.
    pub fn parsed_with<T>(
        mut self,
        mut each: impl FnMut(&LogEntry) -> T,
    ) -> Result<(PullReply, Vec<Stored>, Vec<T>)> {
        let n = self.snapshot.len() + self.entries.len();
        let (mut texts, mut found) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut read = |list: Vec<LogEntry<Stored>>| -> Result<Vec<LogEntry>> {
            list.into_iter()
                .map(|e| {
                    let parsed = e.parsed()?;
                    found.push(each(&parsed));
                    texts.push(e.data);
                    Ok(parsed)
                })
                .collect()
        };
        let snapshot = read(std::mem::take(&mut self.snapshot))?;
        let entries = read(std::mem::take(&mut self.entries))?;
        Ok((self.with_entries(snapshot, entries), texts, found))
    }
}

impl<D> PullReply<D> {
    /// The same page with these entries (its own are dropped).
    fn with_entries<E>(
        self,
        snapshot: Vec<LogEntry<E>>,
        entries: Vec<LogEntry<E>>,
    ) -> PullReply<E> {
        PullReply {
            snapshot,
            entries,
            cursor: self.cursor,
            has_more: self.has_more,
            approvals: self.approvals,
            last_seq: self.last_seq,
            page: self.page,
            held: self.held,
            renew_keys: self.renew_keys,
        }
    }
}

impl PushRequest {
    /// The request with each entry's data as JSON text, as it comes over
    /// HTTP (a request that came parsed: the desktop's own call).
    pub fn stored(self) -> Result<PushRequest<Stored>> {
        let text = |list: Vec<LogEntry>| -> Result<Vec<LogEntry<Stored>>> {
            list.into_iter()
                .map(|e| {
                    let data = serde_json::value::to_raw_value(&e.data)
                        .map_err(|err| crate::error::Error::Corrupt(err.to_string()))?;
                    Ok(e.with_data(data))
                })
                .collect()
        };
        let page = match self.page {
            None => None,
            Some(mut p) => {
                let snapshot = text(std::mem::take(&mut p.snapshot))?;
                let entries = text(std::mem::take(&mut p.entries))?;
                Some(p.with_entries(snapshot, entries))
            }
        };
        Ok(PushRequest {
            site_id: self.site_id,
            site_name: self.site_name,
            doctypes: self.doctypes,
            page,
            after: self.after,
            last_seq: self.last_seq,
            deps: self.deps,
            ahead: self.ahead,
        })
    }
}

/// `outpost.event.ack`: the consumer has committed every page up to `page`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AckRequest {
    pub site_id: String,
    #[ts(type = "number")]
    pub page: i64,
}

/// A document the producer holds back from a consumer because the row's
/// condition cannot be evaluated for it (the stream goes on without it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[ts(export)]
pub struct HeldDoc {
    pub ref_doctype: String,
    pub docname: String,
    pub error: String,
    pub since: String,
}

/// A page of the log. The producer builds it with the entries' data as
/// stored (`D` = [`Stored`]), the consumer reads it parsed: one wire form.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, concrete(D = serde_json::Value))]
pub struct PullReply<D = serde_json::Value> {
    /// Documents as they are now (`seq` 0, `update_type` Create), sent
    /// before the log when a row is approved late (SPEC F18): applied as
    /// "create, or bring up to date".
    #[serde(default = "Vec::new")]
    pub snapshot: Vec<LogEntry<D>>,
    pub entries: Vec<LogEntry<D>>,
    /// Where the next pull starts (past filtered-out entries too).
    #[ts(type = "number")]
    pub cursor: i64,
    pub has_more: bool,
    pub approvals: Vec<Approval>,
    /// The producer's newest update when it answered (for progress bars).
    #[serde(default)]
    #[ts(type = "number")]
    pub last_seq: i64,
    /// This page's number: the consumer acknowledges it after its commit.
    #[serde(default)]
    #[ts(type = "number")]
    pub page: i64,
    /// Documents held back from this consumer, with the reason.
    #[serde(default)]
    pub held: Vec<HeldDoc>,
    /// The producer asks this consumer to renew its keys (`outpost.keys.renew`).
    #[serde(default)]
    pub renew_keys: bool,
}

/// `outpost.event.fetch`: a document the consumer depends on.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FetchRequest {
    pub site_id: String,
    pub doctype: String,
    pub name: String,
}

/// `outpost.event.find`: the document a mapping's "Document" row depends
/// on, found by its remote value filters (SPEC F16).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FindRequest {
    pub site_id: String,
    pub doctype: String,
    #[ts(type = "Record<string, unknown>")]
    pub filters: serde_json::Map<String, serde_json::Value>,
}

/// `outpost.event.push` (SPEC F20): a producer that the consumer cannot
/// reach (a shop behind NAT) sends its pages itself. The first push of a
/// round carries no page: it offers `doctypes` and learns the consumer's
/// decisions and position.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export, concrete(D = serde_json::Value))]
pub struct PushRequest<D = serde_json::Value> {
    /// The pushing (producing) site.
    pub site_id: String,
    pub site_name: String,
    /// What the producer offers to send.
    pub doctypes: Vec<Subscription>,
    /// A page of its update log, decided for this consumer as a pull would
    /// be, from `after` (the consumer's cursor it was last told).
    #[serde(default = "Option::default")]
    #[ts(optional)]
    pub page: Option<PullReply<D>>,
    #[serde(default)]
    #[ts(type = "number")]
    pub after: i64,
    /// The producer's newest entry: a consumer new to it starts there (what
    /// exists already comes as a snapshot).
    #[serde(default)]
    #[ts(type = "number")]
    pub last_seq: i64,
    /// The documents the page's entries link to (and the entries' own
    /// current state), scoped to what the approved rows reach: the consumer
    /// cannot fetch them from a producer it cannot reach.
    #[serde(default)]
    #[ts(type = "Array<Record<string, unknown>>")]
    pub deps: Vec<crate::document::Doc>,
    /// `deps` go ahead of the page that starts at `after` (sent without
    /// it): its dependencies are more than one request carries.
    #[serde(default)]
    pub ahead: bool,
}

/// The consumer's answer to a push: where it stands and what it decided.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PushReply {
    pub consumer_site_id: String,
    pub consumer_name: String,
    /// The consumer's cursor in the producer's log after this push.
    #[ts(type = "number")]
    pub cursor: i64,
    /// The newest page the consumer has committed.
    #[ts(type = "number")]
    pub page: i64,
    /// Its rows: what it receives, with the conditions it set.
    pub subscriptions: Vec<Subscription>,
    pub approvals: Vec<Approval>,
    /// Entries of the pushed page the consumer applied, failed or skipped.
    #[serde(default)]
    pub synced: u32,
    #[serde(default)]
    pub failed: u32,
    /// The consumer asks this producer to renew its keys (`outpost.keys.renew`).
    #[serde(default)]
    pub renew_keys: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A page read into its typed form keeps its order (snapshot, then
    /// log) and each entry's text beside it (the sync log keeps the text of
    /// the entry it is about), and what was found in each entry as it was
    /// read comes in the same order.
    #[test]
    fn a_page_read_keeps_each_entry_beside_its_text() {
        let entry = |seq: i64| {
            json!({"seq": seq, "update_type": "Create", "ref_doctype": "Note", "docname": format!("N{seq}"),
                   "data": {"title": format!("note {seq}"), "n": seq}, "creation": "2026-01-01 00:00:00",
                   "origin_site": "s"})
        };
        for n in [0, 1, 7] {
            let text =
                json!({"snapshot": [entry(0)], "entries": (1..=n).map(entry).collect::<Vec<_>>(),
                              "cursor": n, "has_more": false, "approvals": []})
                .to_string();
            let (page, texts, found) = serde_json::from_str::<PullReply<Stored>>(&text)
                .unwrap()
                .parsed_with(|e| e.data["title"].clone())
                .unwrap();
            let entries: Vec<_> = page.snapshot.iter().chain(&page.entries).collect();
            assert_eq!(
                entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
                (0..=n).collect::<Vec<_>>()
            );
            assert_eq!(texts.len(), entries.len());
            assert_eq!(
                found,
                (0..=n)
                    .map(|seq| json!(format!("note {seq}")))
                    .collect::<Vec<_>>()
            );
            for (e, t) in entries.iter().zip(&texts) {
                assert_eq!(
                    serde_json::from_str::<serde_json::Value>(t.get()).unwrap(),
                    e.data
                );
                assert_eq!(e.data["n"], e.seq);
            }
        }
    }
}
