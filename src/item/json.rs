//! Attribute values as JSON text and back, with every number exactly as written.
//!
//! DynamoDB keeps a number as its decimal text (`12345678901234567890123456789`, `0.10`);
//! `serde_json::Value` holds it as a 64-bit float or integer, which rounds the first and
//! rewrites the second. So what nextdue sends on (the `http` job's JSON body, the `lambda`
//! job's payload) is written from the stored attribute, and what `nextdue put` reads is parsed
//! here, keeping each number's text. serde_json's `arbitrary_precision` feature would keep the
//! text too, but it changes how every `Value` in the build serializes (serde_dynamo would then
//! store a number as a map), so it is not used.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{AttributeValue, Item};

/// `value` as JSON text: numbers as stored, strings and sets as JSON strings and arrays, a
/// binary value as an array of its bytes (as serde writes bytes).
///
/// ```
/// use nextdue::item::AttributeValue;
/// use nextdue::item::json::to_json;
/// let big = AttributeValue::N("12345678901234567890123456789".into());
/// assert_eq!(to_json(&AttributeValue::L(vec![big, AttributeValue::N("0.10".into())])),
///            "[12345678901234567890123456789,0.10]");
/// ```
pub fn to_json(value: &AttributeValue) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The attributes of `item` as a JSON object's text, numbers as stored.
pub fn item_to_json(item: &Item) -> String {
    to_json(&AttributeValue::M(item.inner().clone()))
}

fn quoted(text: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(text).expect("a string serializes"));
}

fn number(text: &str, out: &mut String) {
    // DynamoDB's numbers are JSON numbers; anything else an emulator let through is sent as
    // the string it is rather than as broken JSON.
    if serde_json::from_str::<serde_json::Number>(text).is_ok() {
        out.push_str(text);
    } else {
        quoted(text, out);
    }
}

fn list<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    out: &mut String,
    each: impl Fn(&T, &mut String),
) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(item, out);
    }
    out.push(']');
}

fn write(value: &AttributeValue, out: &mut String) {
    match value {
        AttributeValue::Null(_) => out.push_str("null"),
        AttributeValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AttributeValue::S(text) => quoted(text, out),
        AttributeValue::N(text) => number(text, out),
        AttributeValue::B(bytes) => list(bytes, out, |b, out| out.push_str(&b.to_string())),
        AttributeValue::Ss(set) => list(set, out, |s, out| quoted(s, out)),
        AttributeValue::Ns(set) => list(set, out, |n, out| number(n, out)),
        AttributeValue::Bs(set) => list(set, out, |bytes, out| {
            list(bytes, out, |b, out| out.push_str(&b.to_string()))
        }),
        AttributeValue::L(values) => list(values, out, write),
        AttributeValue::M(map) => {
            out.push('{');
            for (i, (name, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quoted(name, out);
                out.push(':');
                write(value, out);
            }
            out.push('}');
        }
    }
}

/// A JSON document as written: numbers keep their text, objects their keys in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its text.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object (no key twice).
    Object(Vec<(String, Json)>),
}

/// Parses JSON text, refusing a key that appears twice in one object (a JSON parser keeps
/// one of them silently: which one differs between tools). A byte order mark before the
/// document is allowed.
///
/// ```
/// use nextdue::item::json::{Json, parse};
/// assert_eq!(parse("[0.10]").unwrap(), Json::Array(vec![Json::Number("0.10".into())]));
/// assert!(parse(r#"{"a": 1, "a": 2}"#).unwrap_err().contains("\"a\" appears twice"));
/// ```
pub fn parse(text: &str) -> Result<Json, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw: &RawValue = serde_json::from_str(text).map_err(|e| e.to_string())?;
    from_raw(raw)
}

/// An object's members, each value left as text for the next level.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members: Vec<(String, &'de RawValue)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!(
                            "the key {key:?} appears twice in one object"
                        )));
                    }
                    members.push((key, map.next_value()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// An array's elements, each left as text for the next level.
struct Elements<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Elements<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementsVisitor;
        impl<'de> Visitor<'de> for ElementsVisitor {
            type Value = Elements<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut elements = Vec::new();
                while let Some(element) = seq.next_element()? {
                    elements.push(element);
                }
                Ok(Elements(elements))
            }
        }
        deserializer.deserialize_seq(ElementsVisitor)
    }
}

fn from_raw(raw: &RawValue) -> Result<Json, String> {
    let text = raw.get();
    let parsed = match text.as_bytes().first() {
        Some(b'{') => {
            let Members(members) = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let members = members
                .into_iter()
                .map(|(key, value)| from_raw(value).map(|value| (key, value)))
                .collect::<Result<_, _>>()?;
            Json::Object(members)
        }
        Some(b'[') => {
            let Elements(elements) = serde_json::from_str(text).map_err(|e| e.to_string())?;
            Json::Array(
                elements
                    .into_iter()
                    .map(from_raw)
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(b'"') => Json::String(serde_json::from_str(text).map_err(|e| e.to_string())?),
        Some(b't') => Json::Bool(true),
        Some(b'f') => Json::Bool(false),
        Some(b'n') => Json::Null,
        // serde_json has checked that the text is a JSON number.
        _ => Json::Number(text.to_owned()),
    };
    Ok(parsed)
}

impl Json {
    /// The attribute value plain JSON stands for, as DynamoDB's console writes it: numbers
    /// `N` (as written), strings `S`, arrays `L`, objects `M`.
    pub fn to_attribute(&self) -> AttributeValue {
        match self {
            Json::Null => AttributeValue::Null(true),
            Json::Bool(b) => AttributeValue::Bool(*b),
            Json::Number(text) => AttributeValue::N(text.clone()),
            Json::String(text) => AttributeValue::S(text.clone()),
            Json::Array(values) => {
                AttributeValue::L(values.iter().map(Json::to_attribute).collect())
            }
            Json::Object(members) => AttributeValue::M(
                members
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_attribute()))
                    .collect(),
            ),
        }
    }

    /// The document as a `serde_json::Value` (numbers as close as a float or integer gets).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
            Json::String(text) => serde_json::Value::String(text.clone()),
            Json::Array(values) => values.iter().map(Json::to_value).collect(),
            Json::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_value()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text_both_ways() {
        let text = r#"{"big":12345678901234567890123456789,"tenth":0.10,"exp":1E+3,"neg":-0}"#;
        let parsed = parse(text).unwrap();
        let attribute = parsed.to_attribute();
        let AttributeValue::M(map) = &attribute else {
            panic!("an object is a map")
        };
        assert_eq!(
            map.get("big"),
            Some(&AttributeValue::N("12345678901234567890123456789".into()))
        );
        assert_eq!(map.get("tenth"), Some(&AttributeValue::N("0.10".into())));
        let written = to_json(&attribute);
        for number in ["12345678901234567890123456789", "0.10", "1E+3", "-0"] {
            assert!(written.contains(number), "{written}");
        }
        assert_eq!(parse(&written).unwrap().to_attribute(), attribute);
    }

    #[test]
    fn every_kind_of_value_is_written_as_json() {
        let value = AttributeValue::M(
            [
                ("s".to_owned(), AttributeValue::S("a \"quote\"\n".into())),
                ("t".to_owned(), AttributeValue::Bool(true)),
                ("z".to_owned(), AttributeValue::Null(true)),
                ("ss".to_owned(), AttributeValue::Ss(vec!["x".into()])),
                ("ns".to_owned(), AttributeValue::Ns(vec!["1.50".into()])),
                ("b".to_owned(), AttributeValue::B(vec![0, 255])),
                (
                    "l".to_owned(),
                    AttributeValue::L(vec![AttributeValue::N("7".into())]),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let written: serde_json::Value = serde_json::from_str(&to_json(&value)).unwrap();
        assert_eq!(
            written,
            serde_json::json!({"s": "a \"quote\"\n", "t": true, "z": null, "ss": ["x"],
                "ns": [1.5], "b": [0, 255], "l": [7]})
        );
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth_and_a_bom_is_allowed() {
        assert!(parse(r#"{"a": {"b": 1, "b": 1}}"#).is_err());
        assert!(
            parse(r#"[{"k": 1}, {"k": 2}]"#).is_ok(),
            "one key per object"
        );
        assert_eq!(parse("\u{feff}{}").unwrap(), Json::Object(Vec::new()));
        assert!(parse("{} x").is_err());
    }
}
