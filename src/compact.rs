//! A JSON value a store keeps for as long as the object it belongs to, held as its compact text.
//!
//! A small object as a `serde_json::Value` (key order kept) costs an allocation per key, per
//! string and for its index, a few hundred bytes in all; as text it is one allocation of its own
//! length. Reading it back parses the text, which the rare reads (rendering a stored record)
//! can afford. It saves and restores as the JSON value itself, not as a string.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, value::RawValue};

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Compact(Box<str>);

impl Compact {
    pub(crate) fn new(value: &Value) -> Self {
        Self(value.to_string().into_boxed_str())
    }

    pub(crate) fn object(map: &Map<String, Value>) -> Self {
        // Invariant: a map with string keys always serialises.
        Self(
            serde_json::to_string(map)
                .expect("a JSON object serialises")
                .into_boxed_str(),
        )
    }

    /// The value, parsed again.
    pub(crate) fn value(&self) -> Value {
        // Invariant: the text was written from a value, so it parses.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The strings at `keys` of an object, read with one parse; `None` for a key missing or not
    /// a string, and for every key when the value is not an object.
    pub(crate) fn strings<const N: usize>(&self, keys: [&str; N]) -> [Option<String>; N] {
        let mut map = match self.value() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        keys.map(|key| match map.remove(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        })
    }
}

impl std::fmt::Debug for Compact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Compact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(s),
            Err(_) => Value::Null.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Compact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::new(&Value::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_comes_back_as_it_went_in_and_saves_as_json() {
        let v = json!({"z": 1, "a": "x", "f": 1.5, "big": u64::MAX, "nested": {"k": [null, true]}});
        let c = Compact::new(&v);
        assert_eq!(c.value(), v);
        let keys: Vec<_> = c.value().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "f", "big", "nested"], "key order is kept");
        assert_eq!(
            c.strings(["a", "z", "nope"]),
            [Some("x".to_string()), None, None],
            "z is not a string"
        );
        assert_eq!(Compact::new(&json!([1])).strings(["a"]), [None]);
        let saved = serde_json::to_value(&c).unwrap();
        assert_eq!(saved, v, "saved as the value, not as a string");
        let restored: Compact = serde_json::from_value(saved).unwrap();
        assert_eq!(restored, c);
        let map = v.as_object().unwrap();
        assert_eq!(Compact::object(map), c);
    }
}
