//! Reading a JSON value whose objects are made at their final size.
//!
//! `serde_json` builds an object by inserting into an empty map, which
//! grows and rehashes three or four times for a document's twenty-odd keys
//! (a fifth of a page's reading time). Here each object's entries are
//! gathered first, in a buffer reused across objects, and the map is made
//! once with room for all of them. The value is the same as
//! `serde_json::from_str::<Value>` gives (pinned by a test below).

use std::cell::RefCell;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `text` as [`serde_json::from_str`] would into a [`Value`].
pub fn from_str(text: &str) -> serde_json::Result<Value> {
    serde_json::from_str::<Presized>(text).map(|p| p.0)
}

struct Presized(Value);

thread_local! {
    /// Buffers for the entries of objects being read, one per level of
    /// nesting under way, kept for the next object.
    static BUFFERS: RefCell<Vec<Vec<(String, Value)>>> = const { RefCell::new(Vec::new()) };
}

/// The most entries a kept buffer has room for.
const KEEP_UP_TO: usize = 256;

impl<'de> Deserialize<'de> for Presized {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PresizedVisitor).map(Presized)
    }
}

struct PresizedVisitor;

impl<'de> Visitor<'de> for PresizedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Presized::deserialize(d).map(|p| p.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Presized(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = BUFFERS.with_borrow_mut(Vec::pop).unwrap_or_default();
        let read = (|| {
            while let Some((k, Presized(v))) = map.next_entry::<String, Presized>()? {
                entries.push((k, v));
            }
            Ok(())
        })();
        let mut out = Map::with_capacity(entries.len());
        // A key given twice keeps its last value, as serde_json does.
        out.extend(entries.drain(..));
        // (A buffer grown by an outsized object is not kept.)
        if entries.capacity() <= KEEP_UP_TO {
            BUFFERS.with_borrow_mut(|b| b.push(entries));
        }
        read.map(|()| Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_presized_is_the_value_serde_json_reads() {
        for text in [
            r#"{"name": "SINV-1", "n": 1, "big": 18446744073709551615, "neg": -3, "f": 2.5, "t": true,
                "nil": null, "rows": [{"idx": 1, "x": "a"}, {"idx": 2, "x": {"deep": [1, [2, {}]]}}],
                "twice": 1, "twice": 2, "esc": "a\"b\u00e9"}"#,
            "[]",
            "\"just text\"",
            "0",
        ] {
            let ours = from_str(text).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
            // The same keys in the same order.
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        }
        assert!(from_str(r#"{"a": }"#).is_err());
        assert!(
            from_str(&"[".repeat(200)).is_err(),
            "nesting is limited as serde_json limits it"
        );
    }
}
