//! Document versions, for conflicts between sites (SPEC §2, "Conflicts").
//!
//! Every write gives a document a new version, `"<UTC time> <site>"`: the
//! time with microseconds (never earlier than the version it replaces, so
//! versions grow along a document's history even across clocks that
//! disagree) and the first characters of the id of the site where the
//! change was made. A document keeps its last [`KEPT`] versions in
//! `_versions` (oldest first); sync carries them with the document, and an
//! entry of the update log names the version it was made on (`base`) and
//! the one it made (`version`).
//!
//! The rule, the same on every site: a change made on a version the
//! receiver has moved on from is a conflict, and **the later version wins**
//! — the greater `"<time> <site>"`, so equal times are settled by site id.
//! The losing version is kept in the sync log as a Conflict, with both.

use serde_json::Value;

use super::Doc;

/// The field that holds a document's recent versions, oldest first.
pub const FIELD: &str = "_versions";
/// How many versions a document keeps: enough to recognise a change it has
/// already moved past (an entry older than a document fetched whole).
pub const KEPT: usize = 8;
/// How much of the site id a version carries: enough to tell sites apart.
const SITE_CHARS: usize = 8;
const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// A document's recent versions, oldest first (empty for a document
/// written before versions existed); what is not a version is left out,
/// and no more than the last [`KEPT`] are taken from another site.
pub fn history(doc: &Doc) -> Vec<String> {
    let all: Vec<String> = super::layout::standard(doc, FIELD)
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .filter(|s| valid(s))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let skip = all.len().saturating_sub(KEPT);
    all.into_iter().skip(skip).collect()
}

/// The version a document is at, if it has one.
pub fn current(doc: &Doc) -> Option<String> {
    history(doc).pop()
}

/// Whether `s` is a version: a timestamp in [`FORMAT`], a space, a site.
/// Checked by shape (it runs for every version of every document received).
pub fn valid(s: &str) -> bool {
    const SHAPE: &[u8] = b"0000-00-00T00:00:00.000000Z";
    match s.split_once(' ') {
        Some((time, site)) => {
            time.len() == SHAPE.len()
                && time.bytes().zip(SHAPE).all(|(c, &want)| match want {
                    b'0' => c.is_ascii_digit(),
                    other => c == other,
                })
                && !site.is_empty()
                && site.len() <= SITE_CHARS
                && site.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        }
        None => false,
    }
}

/// A new version made on `site`, later than `after` (the version replaced).
pub fn next(site: &str, after: Option<&str>) -> String {
    let mut at = chrono::Utc::now().naive_utc();
    if let Some(prev) = after
        .and_then(|a| a.split_once(' '))
        .and_then(|(t, _)| chrono::NaiveDateTime::parse_from_str(t, FORMAT).ok())
    {
        if at <= prev {
            at = prev + chrono::Duration::microseconds(1);
        }
    }
    let site: String = site.chars().take(SITE_CHARS).collect();
    format!("{} {site}", at.format(FORMAT))
}

/// `history` followed by `version`, keeping the last [`KEPT`].
pub fn extended(mut history: Vec<String>, version: String) -> Vec<String> {
    if history.last() != Some(&version) {
        history.push(version);
    }
    let drop = history.len().saturating_sub(KEPT);
    history.drain(..drop);
    history
}

/// What a site does with a version of a document that arrives from
/// another site, given the versions of its own copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its own copy is this version or has moved on from it: nothing to do.
    Have,
    /// The incoming version was made on its own copy's version (or either
    /// has no versions yet): take it.
    Take,
    /// Both changed while apart; the incoming version is the later one.
    ConflictTake,
    /// Both changed while apart; its own copy is the later one.
    ConflictKeep,
}

/// Judges an incoming whole document (versions `incoming`, oldest first)
/// against the local copy's versions `local`.
pub fn judge_whole(local: &[String], incoming: &[String]) -> Verdict {
    let (Some(mine), Some(theirs)) = (local.last(), incoming.last()) else {
        return Verdict::Take;
    };
    if local.contains(theirs) {
        Verdict::Have
    } else if incoming.contains(mine) {
        Verdict::Take
    } else {
        by_rule(mine, theirs)
    }
}

/// Judges an incoming change (made on `base`, making `version`) against
/// the local copy's versions `local`.
pub fn judge_change(local: &[String], base: Option<&str>, version: Option<&str>) -> Verdict {
    let (Some(mine), Some(base), Some(theirs)) = (local.last(), base, version) else {
        return Verdict::Take;
    };
    if local.iter().any(|v| v == theirs) {
        Verdict::Have
    } else if mine == base {
        Verdict::Take
    } else {
        by_rule(mine, theirs)
    }
}

/// The rule: the later version wins, ties by site id.
fn by_rule(mine: &str, theirs: &str) -> Verdict {
    if theirs > mine {
        Verdict::ConflictTake
    } else {
        Verdict::ConflictKeep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> String {
        format!("2026-11-23T10:00:{s}Z ab12cd34")
    }

    #[test]
    fn a_new_version_is_later_than_the_one_it_replaces_whatever_the_clock_says() {
        let future = "2999-01-01T00:00:00.000000Z zz";
        let n = next("0123456789abcdef", Some(future));
        assert_eq!(n, "2999-01-01T00:00:00.000001Z 01234567");
        assert!(valid(&n));
        assert!(n.as_str() > future);
        for bad in [
            "",
            "x y",
            "2026-11-23T10:00:00.000000Z",
            "2026-11-23 10:00:00.000000Z ab",
            "2026-11-23T10:00:00.000000Z a b",
        ] {
            assert!(!valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn versions_tell_a_change_already_had_a_fast_forward_and_a_conflict_apart() {
        let local = vec![v("01.000000"), v("02.000000")];
        assert_eq!(
            judge_change(&local, Some(&v("00.000000")), Some(&v("01.000000"))),
            Verdict::Have
        );
        assert_eq!(
            judge_change(&local, Some(&v("02.000000")), Some(&v("03.000000"))),
            Verdict::Take
        );
        // Made on an older version: both changed while apart.
        assert_eq!(
            judge_change(&local, Some(&v("01.000000")), Some(&v("03.000000"))),
            Verdict::ConflictTake
        );
        assert_eq!(
            judge_change(&local, Some(&v("01.000000")), Some(&v("01.500000"))),
            Verdict::ConflictKeep
        );
        // Equal times: the greater site id wins.
        let a = "2026-11-23T10:00:05.000000Z aaaa".to_owned();
        let b = "2026-11-23T10:00:05.000000Z bbbb".to_owned();
        assert_eq!(
            judge_whole(std::slice::from_ref(&a), std::slice::from_ref(&b)),
            Verdict::ConflictTake
        );
        assert_eq!(judge_whole(&[b], &[a]), Verdict::ConflictKeep);
        // A copy without versions (written before them) takes what comes.
        assert_eq!(judge_change(&[], Some("x"), Some("y")), Verdict::Take);
        assert_eq!(judge_whole(&local, &[]), Verdict::Take);
        assert_eq!(judge_whole(&local[..1], &local), Verdict::Take);
    }

    #[test]
    fn a_document_keeps_its_last_versions_only() {
        let mut h = Vec::new();
        for i in 0..20 {
            h = extended(h, v(&format!("{i:02}.000000")));
        }
        assert_eq!(h.len(), KEPT);
        assert_eq!(h.last(), Some(&v("19.000000")));
    }
}
