//! The fields of `daprgen add entity`: `--field NAME:TYPE`, where TYPE is a scalar, `option<SCALAR>`
//! or `list<SCALAR>`. Each type knows how it is spelt in every layer of the service (Rust in biz,
//! JSON in the HTTP API, protobuf in the gRPC API), how it crosses between them, and a sample
//! value for the generated tests.

use std::fmt;

use serde_json::{Value, json};

use crate::add::names::{self, KEYWORDS};
use crate::bail_input;

/// The scalar types a field may have, as given on the command line.
pub const SCALARS: &[(&str, Scalar)] = &[
    ("string", Scalar::String),
    ("bool", Scalar::Bool),
    ("i32", Scalar::I32),
    ("i64", Scalar::I64),
    ("u32", Scalar::U32),
    ("u64", Scalar::U64),
    ("f64", Scalar::F64),
    ("float", Scalar::F64),
    ("decimal", Scalar::Decimal),
    ("uuid", Scalar::Uuid),
    ("timestamp", Scalar::Timestamp),
];

/// Longest field name: the generated lines that repeat a field's name three times
/// (`price: parse("price", &body.price)?,`) must fit rustfmt's 100 columns.
pub const MAX_FIELD_CHARS: usize = 40;

/// Names every entity already has (`id`, `version`) or whose messages carry (`etag`).
const RESERVED_FIELDS: &[&str] = &["id", "version", "etag"];

/// A scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Bool,
    I32,
    I64,
    U32,
    U64,
    F64,
    Decimal,
    Uuid,
    Timestamp,
}

/// One value, an optional one, or a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    One,
    Optional,
    List,
}

/// A field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldType {
    pub scalar: Scalar,
    pub shape: Shape,
}

/// A field as given: `name:type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
}

impl Scalar {
    /// The type's name on the command line (`f64` for `float` too).
    pub fn spelling(self) -> &'static str {
        SCALARS
            .iter()
            .find(|(_, scalar)| *scalar == self)
            .map(|(name, _)| *name)
            .expect("every scalar is listed")
    }

    /// Whether values cross the API as text (JSON has no decimal, UUID or time type).
    pub fn is_text_value(self) -> bool {
        matches!(self, Self::Decimal | Self::Uuid | Self::Timestamp)
    }

    /// Whether the type implements `Eq` (a float does not).
    pub fn is_eq(self) -> bool {
        self != Self::F64
    }

    /// The Rust type in the business layer.
    pub fn rust(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Bool => "bool",
            Self::I32 => "i32",
            Self::I64 => "i64",
            Self::U32 => "u32",
            Self::U64 => "u64",
            Self::F64 => "f64",
            Self::Decimal => "Decimal",
            Self::Uuid => "Uuid",
            Self::Timestamp => "Timestamp",
        }
    }

    /// The Rust type in the HTTP bodies (`api::http`): text values are strings there.
    pub fn api(self) -> &'static str {
        if self.is_text_value() { "String" } else { self.rust() }
    }

    /// The protobuf type.
    pub fn proto(self) -> &'static str {
        match self {
            Self::String | Self::Decimal | Self::Uuid => "string",
            Self::Bool => "bool",
            Self::I32 => "int32",
            Self::I64 => "int64",
            Self::U32 => "uint32",
            Self::U64 => "uint64",
            Self::F64 => "double",
            Self::Timestamp => "google.protobuf.Timestamp",
        }
    }

    /// How the type is described in doc comments.
    pub fn description(self) -> &'static str {
        match self {
            Self::String => "text",
            Self::Bool => "true or false",
            Self::I32 => "a 32-bit integer",
            Self::I64 => "a 64-bit integer",
            Self::U32 => "a 32-bit unsigned integer",
            Self::U64 => "a 64-bit unsigned integer",
            Self::F64 => "a finite number",
            Self::Decimal => "an exact decimal, as text such as \"12.50\"",
            Self::Uuid => "a UUID",
            Self::Timestamp => "a point in time, RFC 3339 in JSON",
        }
    }

    /// A valid value as a JSON literal (what the HTTP API carries).
    pub fn sample_json(self) -> Value {
        match self {
            Self::String => json!("some text"),
            Self::Bool => json!(true),
            Self::I32 | Self::I64 => json!(-7),
            Self::U32 | Self::U64 => json!(7),
            Self::F64 => json!(2.5),
            Self::Decimal => json!("12.50"),
            Self::Uuid => json!("0b3c6d2e-8f41-4a7b-9c5d-1e2f3a4b5c6d"),
            Self::Timestamp => json!("2024-05-01T12:00:00Z"),
        }
    }

    /// The same value as a Rust expression of the business type (its type inferred).
    pub fn sample_rust(self) -> String {
        match self {
            Self::String => "\"some text\".into()".to_owned(),
            Self::Decimal | Self::Uuid | Self::Timestamp => format!("{}.parse().unwrap()", self.sample_json()),
            _ => self.sample_json().to_string(),
        }
    }

    /// The same value as a Rust expression of the protobuf type (a timestamp comes from the
    /// `sample_time()` the gRPC tests define).
    pub fn sample_proto(self) -> String {
        match self {
            Self::Decimal | Self::Uuid => format!("{}.into()", self.sample_json()),
            Self::Timestamp => "sample_time()".to_owned(),
            _ => self.sample_rust(),
        }
    }

    /// A value of the JSON type that does not parse (text values only).
    pub fn unparsable_json(self) -> Option<&'static str> {
        match self {
            Self::Decimal => Some("\"12,50\""),
            Self::Uuid => Some("\"42\""),
            Self::Timestamp => Some("\"2024-05-01 12:00\""),
            _ => None,
        }
    }

    /// A value the field rules refuse, as a Rust expression (types with rules only).
    pub fn refused_rust(self) -> Option<&'static str> {
        match self {
            Self::String => Some("\"x\".repeat(1_001)"),
            Self::F64 => Some("f64::NAN"),
            _ => None,
        }
    }
}

impl FieldType {
    /// The Rust type in the business layer.
    pub fn rust(self) -> String {
        self.wrap(self.scalar.rust())
    }

    /// The Rust type in the HTTP bodies.
    pub fn api(self) -> String {
        self.wrap(self.scalar.api())
    }

    fn wrap(self, inner: &str) -> String {
        match self.shape {
            Shape::One => inner.to_owned(),
            Shape::Optional => format!("Option<{inner}>"),
            Shape::List => format!("Vec<{inner}>"),
        }
    }

    /// The protobuf declaration's type, with its label (`optional`, `repeated`). A message
    /// type (a timestamp) is optional on the wire anyway: no label.
    pub fn proto(self) -> String {
        let inner = self.scalar.proto();
        match self.shape {
            Shape::One => inner.to_owned(),
            Shape::Optional if self.scalar == Scalar::Timestamp => inner.to_owned(),
            Shape::Optional => format!("optional {inner}"),
            Shape::List => format!("repeated {inner}"),
        }
    }

    /// How the type is described in doc comments.
    pub fn description(self) -> String {
        let one = self.scalar.description();
        match self.shape {
            Shape::One => one.to_owned(),
            Shape::Optional => format!("optional, {one}"),
            Shape::List => format!("a list, each {one}"),
        }
    }

    /// A value for the generated tests, from one scalar sample `one`.
    fn sample(self, one: String) -> String {
        match self.shape {
            Shape::One => one,
            Shape::Optional => format!("Some({one})"),
            Shape::List => format!("vec![{one}]"),
        }
    }

    /// A valid value as a JSON literal.
    pub fn sample_json(self) -> String {
        let one = self.scalar.sample_json();
        match self.shape {
            Shape::One | Shape::Optional => one.to_string(),
            Shape::List => json!([one]).to_string(),
        }
    }

    /// A valid value as a Rust expression of the business type.
    pub fn sample_rust(self) -> String {
        self.sample(self.scalar.sample_rust())
    }

    /// A valid value as a Rust expression of the protobuf type.
    pub fn sample_proto(self) -> String {
        match (self.scalar, self.shape) {
            // A message field: optional on the wire even when required.
            (Scalar::Timestamp, Shape::One) => "Some(sample_time())".to_owned(),
            _ => self.sample(self.scalar.sample_proto()),
        }
    }

    /// A value the field rules refuse, as a Rust expression: too long a text, a non-finite
    /// number, too long a list. `None` when every value is valid.
    pub fn refused_rust(self) -> Option<String> {
        match self.shape {
            Shape::List => Some(format!("vec![{}; 101]", self.scalar.sample_rust())),
            _ => self.scalar.refused_rust().map(|one| self.sample(one.to_owned())),
        }
    }

    /// A JSON value that does not parse as this type (text values only).
    pub fn unparsable_json(self) -> Option<String> {
        let one = self.scalar.unparsable_json()?;
        Some(match self.shape {
            Shape::One | Shape::Optional => one.to_owned(),
            Shape::List => format!("[{one}]"),
        })
    }

    /// A protobuf value that does not parse, as a Rust expression (decimals and UUIDs only: a
    /// timestamp message is typed).
    pub fn unparsable_proto(self) -> Option<String> {
        if !matches!(self.scalar, Scalar::Decimal | Scalar::Uuid) {
            return None;
        }
        let one = format!("{}.into()", self.scalar.unparsable_json()?);
        Some(self.sample(one))
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scalar = self.scalar.spelling();
        match self.shape {
            Shape::One => f.write_str(scalar),
            Shape::Optional => write!(f, "option<{scalar}>"),
            Shape::List => write!(f, "list<{scalar}>"),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.ty)
    }
}

/// The type names, for messages.
fn known_types() -> String {
    let scalars: Vec<&str> = SCALARS.iter().map(|(name, _)| *name).collect();
    format!("{}, and option<T> or list<T> of each", scalars.join(", "))
}

/// Parses a TYPE: `decimal`, `option<string>`, `list<uuid>` (case and spaces around the inner
/// type ignored).
pub fn parse_type(field: &str, text: &str) -> anyhow::Result<FieldType> {
    let spec = text.trim().to_ascii_lowercase();
    let (shape, inner) = if let Some(inner) = spec.strip_prefix("option<").and_then(|rest| rest.strip_suffix('>')) {
        (Shape::Optional, inner.trim())
    } else if let Some(inner) = spec.strip_prefix("list<").and_then(|rest| rest.strip_suffix('>')) {
        (Shape::List, inner.trim())
    } else {
        (Shape::One, spec.as_str())
    };
    if shape != Shape::One && (inner.starts_with("option<") || inner.starts_with("list<")) {
        bail_input!(
            "--field {field}:{text}: types do not nest; use option<T> or list<T> of a scalar T, e.g. {field}:list<string>"
        );
    }
    let Some((_, scalar)) = SCALARS.iter().find(|(name, _)| *name == inner) else {
        bail_input!(
            "--field {field}:{text}: unknown type {inner:?}; the types are {}, e.g. {field}:string",
            known_types()
        );
    };
    Ok(FieldType { scalar: *scalar, shape })
}

/// Parses every `--field NAME:TYPE`, refusing bad names, unknown types and duplicates.
pub fn parse_fields(specs: &[String]) -> anyhow::Result<Vec<Field>> {
    if specs.is_empty() {
        bail_input!("an entity needs at least one field: add --field NAME:TYPE, e.g. --field name:string");
    }
    let mut fields: Vec<Field> = Vec::with_capacity(specs.len());
    for spec in specs {
        let Some((name, ty)) = spec.split_once(':') else {
            bail_input!(
                "--field {spec:?} is not NAME:TYPE, e.g. --field {spec}:string (types: {})",
                known_types()
            );
        };
        let name = name.trim();
        names::check_identifier(&format!("the field name in --field {spec}"), name, "unit_price")?;
        if name.chars().count() > MAX_FIELD_CHARS {
            bail_input!(
                "the field name {name:?} is longer than {MAX_FIELD_CHARS} characters, which the generated code \
                 spells three times on one line; choose a shorter name"
            );
        }
        if RESERVED_FIELDS.contains(&name) {
            bail_input!(
                "the field name {name:?} is taken: every entity has `id` and `version`, and its messages an `etag`; \
                 choose another name, e.g. {name}_code"
            );
        }
        let ty = parse_type(name, ty)?;
        if let Some(earlier) = fields.iter().find(|field| field.name == name) {
            bail_input!("--field {name} is given twice ({earlier} and {name}:{ty}): give each field once");
        }
        fields.push(Field {
            name: name.to_owned(),
            ty,
        });
    }
    debug_assert!(fields.iter().all(|field| !KEYWORDS.contains(&field.name.as_str())));
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::is_bad_input;

    #[test]
    fn every_type_and_shape_parses() {
        for (name, scalar) in SCALARS {
            assert_eq!(
                parse_type("f", name).unwrap(),
                FieldType {
                    scalar: *scalar,
                    shape: Shape::One
                }
            );
            let optional = parse_type("f", &format!("option<{name}>")).unwrap();
            assert_eq!(
                optional,
                FieldType {
                    scalar: *scalar,
                    shape: Shape::Optional
                }
            );
            let list = parse_type("f", &format!("List< {} >", name.to_uppercase())).unwrap();
            assert_eq!(
                list,
                FieldType {
                    scalar: *scalar,
                    shape: Shape::List
                }
            );
        }
        assert_eq!(parse_type("f", "float").unwrap().to_string(), "f64");
    }

    #[test]
    fn bad_fields_are_refused_naming_the_value_and_the_fix() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "at least one field"),
            (&["price"], "is not NAME:TYPE"),
            (&["price:money"], "unknown type \"money\""),
            (&["price:option<money>"], "unknown type \"money\""),
            (&["tags:list<list<string>>"], "do not nest"),
            (&["tags:option<list<string>>"], "do not nest"),
            (&["type:string"], "keyword"),
            (&["Price:decimal"], "e.g. price"),
            (&["9lives:i32"], "does not start with a letter"),
            (&["prix_€:decimal"], "contains '€'"),
            (&["a/b:string"], "is a path"),
            (&[":string"], "is empty"),
            (&["id:uuid"], "is taken"),
            (&["version:u64"], "is taken"),
            (&["etag:string"], "is taken"),
            (&["price:decimal", "price:f64"], "given twice"),
            (
                &["a_field_name_that_is_far_far_too_long_to_fit:string"],
                "longer than 40",
            ),
        ];
        for (specs, expected) in cases {
            let specs: Vec<String> = specs.iter().map(|spec| spec.to_string()).collect();
            let error = parse_fields(&specs).unwrap_err();
            assert!(is_bad_input(&error), "{specs:?}");
            let message = error.to_string();
            assert!(message.contains(expected), "{specs:?}: {message}");
            assert!(
                message.contains("e.g.") || message.contains("give each") || message.contains("choose"),
                "{specs:?} gives no fix: {message}"
            );
        }
    }

    #[test]
    fn samples_are_valid_and_refusals_invalid_in_the_same_type() {
        let decimal = FieldType {
            scalar: Scalar::Decimal,
            shape: Shape::List,
        };
        assert_eq!(decimal.sample_json(), "[\"12.50\"]");
        assert_eq!(decimal.sample_rust(), "vec![\"12.50\".parse().unwrap()]");
        assert_eq!(decimal.unparsable_json().as_deref(), Some("[\"12,50\"]"));
        assert_eq!(
            decimal.refused_rust().as_deref(),
            Some("vec![\"12.50\".parse().unwrap(); 101]")
        );
        let note = FieldType {
            scalar: Scalar::String,
            shape: Shape::Optional,
        };
        assert_eq!(note.refused_rust().as_deref(), Some("Some(\"x\".repeat(1_001))"));
        assert_eq!(note.proto(), "optional string");
        let at = FieldType {
            scalar: Scalar::Timestamp,
            shape: Shape::Optional,
        };
        assert_eq!(at.proto(), "google.protobuf.Timestamp");
        assert_eq!(at.refused_rust(), None);
        assert_eq!(at.sample_proto(), "Some(sample_time())");
    }
}
