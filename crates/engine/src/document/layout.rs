//! The stored form's key order: a document's standard fields, then its
//! declared fields in the doctype's order; a child row's standard fields,
//! then the child doctype's fields.
//!
//! A document from another site arrives in this form already. Checking
//! that its keys line up (one string comparison a key) lets a write fill
//! it in place instead of moving every value into a new map, and hashing
//! every key again, twice.

use serde_json::Value;

use super::Doc;
use crate::doctype::{DocField, STANDARD_FIELDS};

/// A stored document's standard fields, in order.
pub const DOC: &[&str] = STANDARD_FIELDS;

/// A stored child row's standard fields, in order.
pub const ROW: &[&str] = &[
    "name",
    "owner",
    "creation",
    "modified",
    "modified_by",
    "docstatus",
    "parent",
    "parentfield",
    "parenttype",
    "idx",
    "doctype",
];

/// Whether `doc`'s keys are exactly `standard`, then `fields`, in order.
pub fn holds(doc: &Doc, standard: &[&str], fields: &[DocField]) -> bool {
    doc.len() == standard.len() + fields.len()
        && doc
            .keys()
            .zip(keys(standard, fields))
            .all(|(k, want)| k == want)
}

/// Whether `doc` begins with `standard`, in order.
pub fn begins_with(doc: &Doc, standard: &[&str]) -> bool {
    doc.len() >= standard.len() && doc.keys().zip(standard).all(|(k, want)| k == want)
}

/// `doc` rearranged: `standard` (the values given, else null), then
/// `fields` (likewise); any other key is dropped. Keys keep their strings.
pub fn arrange(mut doc: Doc, standard: &[&str], fields: &[DocField]) -> Doc {
    let mut out = Doc::with_capacity(standard.len() + fields.len());
    for key in keys(standard, fields) {
        let (k, v) = doc
            .swap_remove_entry(key)
            .unwrap_or_else(|| (key.to_owned(), Value::Null));
        out.insert(k, v);
    }
    out
}

/// `doc` with `standard` moved to the front (the values given, else null),
/// the other keys after them in their order.
pub fn lead_with(mut doc: Doc, standard: &[&str]) -> Doc {
    let mut out = Doc::with_capacity(standard.len() + doc.len());
    for &key in standard {
        let (k, v) = doc
            .shift_remove_entry(key)
            .unwrap_or_else(|| (key.to_owned(), Value::Null));
        out.insert(k, v);
    }
    out.extend(doc);
    out
}

/// Overwrites the standard fields `doc` begins with (see [`begins_with`])
/// with `values`, in order.
pub fn fill(doc: &mut Doc, values: impl IntoIterator<Item = Value>) {
    for ((_, slot), v) in doc.iter_mut().zip(values) {
        *slot = v;
    }
}

/// Each declared field with its value, found by its place in a document
/// in the stored form's order (no hashing: [`build`](super) leaves every
/// document so); by name where a key is not in its place.
pub fn declared<'a>(
    doc: &'a Doc,
    standard: &[&str],
    fields: &'a [DocField],
) -> impl Iterator<Item = (&'a DocField, Option<&'a Value>)> {
    let mut slots = doc.iter().skip(standard.len());
    fields.iter().map(move |f| match slots.next() {
        Some((k, v)) if *k == f.fieldname => (f, Some(v)),
        _ => (f, doc.get(&f.fieldname)),
    })
}

/// Places up to which [`value`] and [`set`] step to a field's place:
/// `serde_json`'s map gives no access by index, so going to a place walks
/// the keys before it; further on, hashing the name is quicker.
const NEAR: usize = 32;

/// The value of `fields[i]`, found by its place as in [`declared`] (by
/// name past the first [`NEAR`] places).
pub fn value<'a>(
    doc: &'a Doc,
    standard: &[&str],
    fields: &[DocField],
    i: usize,
) -> Option<&'a Value> {
    let key = &fields.get(i)?.fieldname;
    let place = standard.len() + i;
    match (place < NEAR).then(|| doc.iter().nth(place)).flatten() {
        Some((k, v)) if k == key => Some(v),
        _ => doc.get(key),
    }
}

/// Sets `fields[i]` (in its place as in [`value`], else by name).
pub fn set(doc: &mut Doc, standard: &[&str], fields: &[DocField], i: usize, value: Value) {
    let Some(f) = fields.get(i) else {
        return;
    };
    let place = standard.len() + i;
    let in_place = (place < NEAR).then(|| doc.iter_mut().nth(place)).flatten();
    match in_place {
        Some((k, slot)) if *k == f.fieldname => *slot = value,
        _ => match doc.get_mut(&f.fieldname) {
            Some(slot) => *slot = value,
            None => {
                doc.insert(f.fieldname.clone(), value);
            }
        },
    }
}

/// A standard field of a document, found by its place when the document
/// is in the stored form's order (as [`value`]), else by name.
pub fn standard<'a>(doc: &'a Doc, key: &str) -> Option<&'a Value> {
    let place = DOC.iter().position(|k| *k == key);
    match place.and_then(|i| doc.iter().nth(i)) {
        Some((k, v)) if k == key => Some(v),
        _ => doc.get(key),
    }
}

fn keys<'a>(standard: &'a [&'a str], fields: &'a [DocField]) -> impl Iterator<Item = &'a str> {
    standard
        .iter()
        .copied()
        .chain(fields.iter().map(|f| f.fieldname.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str) -> DocField {
        serde_json::from_value(json!({"fieldname": name, "fieldtype": "Data"})).unwrap()
    }

    fn doc(v: Value) -> Doc {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_document_in_stored_order_is_recognised_and_any_other_is_arranged() {
        let fields = [field("a"), field("b")];
        let standard = &["name", "owner"];
        let stored = doc(json!({"name": "X", "owner": "o", "a": 1, "b": 2}));
        assert!(holds(&stored, standard, &fields));
        // Another order, a key missing, a key too many: arranged.
        for given in [
            json!({"owner": "o", "name": "X", "a": 1, "b": 2}),
            json!({"name": "X", "a": 1, "b": 2}),
            json!({"name": "X", "owner": "o", "a": 1, "b": 2, "__islocal": 1}),
        ] {
            let given = doc(given);
            assert!(!holds(&given, standard, &fields));
            let arranged = arrange(given, standard, &fields);
            assert!(holds(&arranged, standard, &fields));
            assert_eq!(arranged["name"], "X");
            assert_eq!(arranged["b"], 2);
        }
        let led = lead_with(doc(json!({"a": 1, "owner": "o", "z": 0})), standard);
        assert_eq!(led.keys().collect::<Vec<_>>(), ["name", "owner", "a", "z"]);
        let mut d = stored;
        assert!(begins_with(&d, standard));
        fill(&mut d, [json!("Y"), json!("me")]);
        assert_eq!(
            Value::Object(d),
            json!({"name": "Y", "owner": "me", "a": 1, "b": 2})
        );
    }

    /// Found by place in stored order, by name out of it; set likewise.
    #[test]
    fn declared_fields_are_found_in_their_place_or_by_name() {
        let fields = [field("a"), field("b")];
        let standard = &["name"];
        let pairs = |d: &Doc| -> Vec<(String, Option<Value>)> {
            declared(d, standard, &fields)
                .map(|(f, v)| (f.fieldname.clone(), v.cloned()))
                .collect()
        };
        let want = vec![
            ("a".to_owned(), Some(json!(1))),
            ("b".to_owned(), Some(json!(2))),
        ];
        let stored = doc(json!({"name": "X", "a": 1, "b": 2}));
        let shuffled = doc(json!({"b": 2, "name": "X", "a": 1}));
        assert_eq!(pairs(&stored), want);
        assert_eq!(pairs(&shuffled), want);
        let missing = doc(json!({"name": "X", "b": 2}));
        assert_eq!(pairs(&missing)[0], ("a".to_owned(), None));
        assert_eq!(value(&shuffled, standard, &fields, 1), Some(&json!(2)));
        for mut d in [stored, shuffled, missing] {
            set(&mut d, standard, &fields, 0, json!(9));
            assert_eq!(d["a"], 9);
            assert_eq!(d["b"], 2);
        }
        // Far places are found by name, in order or not.
        let many: Vec<DocField> = (0..NEAR + 8).map(|i| field(&format!("f{i}"))).collect();
        let last = many.len() - 1;
        let mut wide: Doc = std::iter::once(("name".to_owned(), json!("X")))
            .chain(
                many.iter()
                    .enumerate()
                    .map(|(i, f)| (f.fieldname.clone(), json!(i))),
            )
            .collect();
        assert_eq!(value(&wide, standard, &many, last), Some(&json!(last)));
        set(&mut wide, standard, &many, last, json!("z"));
        assert_eq!(wide[&format!("f{last}")], "z");
        assert_eq!(wide.len(), many.len() + 1);
    }
}
