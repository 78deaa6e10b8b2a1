//! Input rules serde's derives do not enforce, checked before any SQL:
//!
//! - [`ObjectOnly`]: a struct takes a JSON object only. serde's derived
//!   visitors also take a sequence (positional fields), so `[1]` would be a
//!   `{"run_id": 1}`; [`object`] / [`opt_object`] apply the rule to nested
//!   struct fields.
//! - [`find_nul`] / [`check_text`]: text with a NUL (U+0000), which
//!   PostgreSQL cannot store (SQLite would): refused on both engines alike,
//!   naming the field.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::error::ApiError;

/// The reason given for text with a NUL character.
pub const NUL_REASON: &str = "text must not contain the NUL character (U+0000)";

/// 422 naming `field` when `text` holds a NUL.
pub fn check_text(field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::invalid(field, format!("{field}: {NUL_REASON}")));
    }
    Ok(())
}

/// The path (`settings.flow.k`, `phones[2]`) of the first string or object
/// key in `v` holding a NUL; a bad key is named by its object's path.
pub fn find_nul(v: &Value) -> Option<String> {
    fn walk(v: &Value, path: &str) -> Option<String> {
        match v {
            Value::String(s) if s.contains('\0') => Some(path.to_string()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &format!("{path}[{i}]"))),
            Value::Object(map) => map.iter().find_map(|(k, item)| {
                if k.contains('\0') {
                    return Some(if path.is_empty() {
                        ".".into()
                    } else {
                        path.into()
                    });
                }
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(item, &sub)
            }),
            _ => None,
        }
    }
    walk(v, "")
}

/// Deserializes a struct from `d` refusing a sequence (for `deserialize_with`).
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(ObjectOnly(d))
}

/// [`object`] for an optional field (`#[serde(default, deserialize_with = ...)]`).
pub fn opt_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    struct Obj<T>(T);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            object(d).map(Obj)
        }
    }
    Ok(Option::<Obj<T>>::deserialize(d)?.map(|o| o.0))
}

/// A deserializer whose structs take objects only (maps, sequences and
/// scalars behave as in `D`).
pub struct ObjectOnly<D>(pub D);

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method($($arg,)* visitor)
        })*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    forward! {
        deserialize_any(); deserialize_bool(); deserialize_i8(); deserialize_i16();
        deserialize_i32(); deserialize_i64(); deserialize_i128(); deserialize_u8();
        deserialize_u16(); deserialize_u32(); deserialize_u64(); deserialize_u128();
        deserialize_f32(); deserialize_f64(); deserialize_char(); deserialize_str();
        deserialize_string(); deserialize_bytes(); deserialize_byte_buf();
        deserialize_option(); deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq(); deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier(); deserialize_ignored_any();
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, NoSeq(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A struct visitor that refuses the positional (sequence) form.
struct NoSeq<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for NoSeq<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<V::Value, A::Error> {
        Err(de::Error::invalid_type(
            de::Unexpected::Seq,
            &"a JSON object",
        ))
    }
}
