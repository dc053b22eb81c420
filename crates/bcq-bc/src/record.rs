//! A BC entity as the sync reads it: a light alternative to
//! `serde_json::Value` for the hot path.
//!
//! A page of 1,000 invoices with their lines holds some 100,000 field
//! names. `serde_json::Value` allocates a `String` for each and a B-tree
//! for each object; a [`Record`] keeps its fields in BC's order in one
//! `Vec`, shares each distinct field name (interned once per process), and
//! leaves out OData's per-entity annotations (`@odata.etag`), which no
//! document uses. Lookups are a linear scan: BC entities have tens of
//! fields, and `$select` keeps only those a document needs.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

/// Distinct field names interned before new ones are kept per record
/// instead: BC's schema has a few hundred; a misbehaving server must not
/// grow the process without bound.
const MAX_INTERNED_NAMES: usize = 4096;

/// One entity: its fields in the order BC sent them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    fields: Vec<(Cow<'static, str>, Field)>,
}

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number, exactly as `serde_json` reads it.
    Number(serde_json::Number),
    /// A string.
    String(Box<str>),
    /// An array (expanded lines are arrays of objects).
    Array(Vec<Field>),
    /// A nested object.
    Object(Record),
}

impl Record {
    /// A record without fields.
    pub const fn new() -> Self {
        Record { fields: Vec::new() }
    }

    /// The field called `name`, if the record has it.
    pub fn get(&self, name: &str) -> Option<&Field> {
        let (len, first) = (name.len(), name.as_bytes().first());
        self.fields
            .iter()
            // Length and first byte before the whole name: most names
            // differ there, and a memcmp call costs more than the check.
            .find(|(k, _)| k.len() == len && k.as_bytes().first() == first && k.as_ref() == name)
            .map(|(_, v)| v)
    }
}

impl Field {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Field::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// The shared copy of a field name. Each thread remembers recent names in
/// a small direct-mapped cache, so that the records of a page, which repeat
/// the same names, rarely reach the shared set and its lock.
fn intern(name: &str) -> Cow<'static, str> {
    thread_local! {
        static RECENT: std::cell::RefCell<[Option<&'static str>; 256]> =
            const { std::cell::RefCell::new([None; 256]) };
    }
    let b = name.as_bytes();
    let slot = match b {
        [] => 0,
        [.., last] => (b.len() * 31 + usize::from(b[0]) * 7 + usize::from(*last)) & 255,
    };
    if let Some(hit) = RECENT.with_borrow(|r| r[slot].filter(|n| *n == name)) {
        return Cow::Borrowed(hit);
    }
    let shared = intern_shared(name);
    if let Cow::Borrowed(n) = shared {
        RECENT.with_borrow_mut(|r| r[slot] = Some(n));
    }
    shared
}

/// The process-wide set behind [`intern`].
fn intern_shared(name: &str) -> Cow<'static, str> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    intern_in(&mut names, name, MAX_INTERNED_NAMES)
}

/// `name` from `names`, added (leaked once) while `names` holds fewer than
/// `max`; a copy of its own beyond that.
fn intern_in(names: &mut HashSet<&'static str>, name: &str, max: usize) -> Cow<'static, str> {
    if let Some(n) = names.get(name) {
        return Cow::Borrowed(n);
    }
    if names.len() >= max {
        return Cow::Owned(name.to_owned());
    }
    let n: &'static str = Box::leak(name.into());
    names.insert(n);
    Cow::Borrowed(n)
}

/// Reads a field name into its interned copy without allocating a `String`.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'static, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Name {
    type Value = Cow<'static, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(intern(v))
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(name) = map.next_key_seed(Name)? {
            if name.starts_with("@odata.") {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            fields.push((name, map.next_value::<Field>()?));
        }
        Ok(Record { fields })
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field, E> {
        Ok(Field::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field, E> {
        Ok(Field::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
        Ok(Field::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field, E> {
        // serde_json reads no NaN or infinity; Null as serde_json::Value would.
        Ok(serde_json::Number::from_f64(v).map_or(Field::Null, Field::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        Ok(Field::String(v.into()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Field, E> {
        Ok(Field::String(v.into_boxed_str()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        Field::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(8));
        while let Some(item) = seq.next_element::<Field>()? {
            items.push(item);
        }
        Ok(Field::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field, A::Error> {
        RecordVisitor.visit_map(map).map(Field::Object)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads_without_annotations() {
        let text = r#"{"@odata.etag":"W/\"1\"","id":"a-1","n":12,"x":1.5,"big":18446744073709551615,
            "neg":-3,"ok":true,"none":null,"esc":"a\"b\u00e9","lines":[{"@odata.etag":"e","q":2},{"q":3}],
            "nested":{"k":"v"}}"#;
        let r: Record = serde_json::from_str(text).unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(r.get("@odata.etag"), None, "annotations are left out");
        assert_eq!(r.fields.len(), 10);
        assert_eq!(r.get("id").and_then(Field::as_str), Some("a-1"));
        assert_eq!(r.get("esc").and_then(Field::as_str), v["esc"].as_str());
        for k in ["n", "x", "big", "neg"] {
            assert_eq!(
                r.get(k),
                Some(&Field::Number(v[k].as_number().unwrap().clone())),
                "{k}"
            );
        }
        assert_eq!(r.get("ok").and_then(Field::as_bool), Some(true));
        assert_eq!(r.get("none"), Some(&Field::Null));
        let Some(Field::Array(lines)) = r.get("lines") else {
            panic!("lines are an array")
        };
        let Field::Object(first) = &lines[0] else {
            panic!("a line is an object")
        };
        assert_eq!(first.fields.len(), 1);
        assert_eq!(first.get("q"), Some(&Field::Number(2.into())));
        assert!(
            matches!(r.get("nested"), Some(Field::Object(o)) if o.get("k").and_then(Field::as_str) == Some("v"))
        );
        let names: Vec<&str> = r.fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names[..3], ["id", "n", "x"], "BC's order is kept");
    }

    #[test]
    fn field_names_are_shared_between_records() {
        let a: Record = serde_json::from_str(r#"{"customerName":"x"}"#).unwrap();
        let b: Record = serde_json::from_str(r#"{"customerName":"y"}"#).unwrap();
        let (Cow::Borrowed(ka), Cow::Borrowed(kb)) = (&a.fields[0].0, &b.fields[0].0) else {
            panic!("names are interned")
        };
        assert!(std::ptr::eq(*ka, *kb));
    }

    #[test]
    fn the_recent_names_cache_never_answers_another_name() {
        // More names than the cache has slots: they collide.
        let names: Vec<String> = (0..600).map(|i| format!("field{i}")).collect();
        for _ in 0..2 {
            for n in &names {
                assert_eq!(intern(n), n.as_str());
            }
        }
    }

    #[test]
    fn interning_stops_at_its_limit() {
        let mut names = HashSet::new();
        assert!(matches!(intern_in(&mut names, "a", 2), Cow::Borrowed("a")));
        assert!(matches!(intern_in(&mut names, "b", 2), Cow::Borrowed("b")));
        assert!(matches!(intern_in(&mut names, "c", 2), Cow::Owned(c) if c == "c"));
        assert!(matches!(intern_in(&mut names, "a", 2), Cow::Borrowed("a")));
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn a_record_must_be_an_object() {
        assert!(serde_json::from_str::<Record>("[1]").is_err());
        assert!(serde_json::from_str::<Record>(r#"{"a":}"#).is_err());
    }
}
