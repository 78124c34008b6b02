//! The spanned YAML node tree.

use crate::span::Span;

/// How a scalar was written. Only plain scalars are resolved to null/bool/number.
///
/// ```
/// let n = gha_model::yaml::parse("a: 'x'").unwrap();
/// let v = n.get("a").unwrap().as_scalar().unwrap();
/// assert_eq!(v.style, gha_model::yaml::ScalarStyle::SingleQuoted);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarStyle {
    /// `foo`
    Plain,
    /// `'foo'`
    SingleQuoted,
    /// `"foo"`
    DoubleQuoted,
    /// `|` block
    Literal,
    /// `>` block
    Folded,
}

/// A scalar node: its decoded text and how it was written.
///
/// ```
/// let n = gha_model::yaml::parse("on: yes").unwrap();
/// assert_eq!(n.get("on").unwrap().as_str(), Some("yes")); // YAML 1.2: a string
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The scalar's text after escape processing and folding.
    pub value: String,
    /// The notation used.
    pub style: ScalarStyle,
    /// An explicit tag such as `!!str`, if one was written (suffix only, e.g. `str`).
    pub tag: Option<String>,
}

/// A scalar's value under the YAML 1.2 core schema.
///
/// ```
/// use gha_model::yaml::{parse, ScalarValue};
/// let n = parse("[1, 0x1F, 1.5e3, true, ~, .inf, '1']").unwrap();
/// let v: Vec<ScalarValue> = n.as_sequence().unwrap().iter().map(|n| n.as_scalar().unwrap().resolve()).collect();
/// assert_eq!(v[0], ScalarValue::Int(1));
/// assert_eq!(v[1], ScalarValue::Int(31));
/// assert_eq!(v[2], ScalarValue::Float(1500.0));
/// assert_eq!(v[3], ScalarValue::Bool(true));
/// assert_eq!(v[4], ScalarValue::Null);
/// assert_eq!(v[5], ScalarValue::Float(f64::INFINITY));
/// assert_eq!(v[6], ScalarValue::String("1".into()));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum ScalarValue {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false` (and their capitalised forms).
    Bool(bool),
    /// A decimal, octal (`0o`) or hexadecimal (`0x`) integer that fits in `i64`.
    Int(i64),
    /// Any other number, including `.inf` and `.nan`.
    Float(f64),
    /// Everything else.
    String(String),
}

impl Scalar {
    /// Resolve with the YAML 1.2 core schema (quoted and block scalars are always strings).
    pub fn resolve(&self) -> ScalarValue {
        if let Some(tag) = &self.tag {
            return match tag.as_str() {
                "str" => ScalarValue::String(self.value.clone()),
                "null" => ScalarValue::Null,
                "bool" => match resolve_plain(&self.value) {
                    v @ ScalarValue::Bool(_) => v,
                    _ => ScalarValue::String(self.value.clone()),
                },
                "int" => match resolve_plain(&self.value) {
                    v @ (ScalarValue::Int(_) | ScalarValue::Float(_)) => v,
                    _ => ScalarValue::String(self.value.clone()),
                },
                "float" => match resolve_plain(&self.value) {
                    ScalarValue::Int(i) => ScalarValue::Float(i as f64),
                    v @ ScalarValue::Float(_) => v,
                    _ => ScalarValue::String(self.value.clone()),
                },
                _ => ScalarValue::String(self.value.clone()),
            };
        }
        if self.style != ScalarStyle::Plain {
            return ScalarValue::String(self.value.clone());
        }
        resolve_plain(&self.value)
    }

    /// Whether this is a plain (unquoted) scalar whose text is `null`/`~`/empty.
    pub fn is_null(&self) -> bool {
        match self.tag.as_deref() {
            Some("null") => true,
            Some(_) => false,
            None => {
                self.style == ScalarStyle::Plain
                    && matches!(self.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
        }
    }
}

fn resolve_plain(s: &str) -> ScalarValue {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarValue::Null,
        "true" | "True" | "TRUE" => return ScalarValue::Bool(true),
        "false" | "False" | "FALSE" => return ScalarValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return ScalarValue::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return ScalarValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarValue::Float(f64::NAN),
        _ => {}
    }
    let bytes = s.as_bytes();
    if let Some(hex) = s.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return match i64::from_str_radix(hex, 16) {
                Ok(i) => ScalarValue::Int(i),
                Err(_) => ScalarValue::Float(hex_or_oct_float(hex, 16)),
            };
        }
        return ScalarValue::String(s.to_owned());
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return match i64::from_str_radix(oct, 8) {
                Ok(i) => ScalarValue::Int(i),
                Err(_) => ScalarValue::Float(hex_or_oct_float(oct, 8)),
            };
        }
        return ScalarValue::String(s.to_owned());
    }
    // [-+]?[0-9]+
    let digits = bytes
        .strip_prefix(b"-")
        .or_else(|| bytes.strip_prefix(b"+"))
        .unwrap_or(bytes);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        return match s.parse::<i64>() {
            Ok(i) => ScalarValue::Int(i),
            Err(_) => ScalarValue::Float(s.parse::<f64>().unwrap_or(f64::NAN)),
        };
    }
    if is_core_float(digits)
        && let Ok(f) = s.parse::<f64>()
    {
        return ScalarValue::Float(f);
    }
    ScalarValue::String(s.to_owned())
}

fn hex_or_oct_float(digits: &str, radix: u32) -> f64 {
    digits.chars().fold(0.0, |acc, c| {
        acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
    })
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` (sign already stripped)
fn is_core_float(b: &[u8]) -> bool {
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

/// One `key: value` pair of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key node (usually a scalar).
    pub key: Node,
    /// The value node.
    pub value: Node,
}

/// What a node holds.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence, in order.
    Sequence(Vec<Node>),
    /// A mapping, in file order (keys are unique).
    Mapping(Vec<Entry>),
}

/// A YAML node with its span. Nodes reached through an alias are copies of the anchored node
/// (spans point at the anchor's definition) and record where the alias was used.
///
/// ```
/// let n = gha_model::yaml::parse("a: &x hello\nb: *x\n").unwrap();
/// let b = n.get("b").unwrap();
/// assert_eq!(b.as_str(), Some("hello"));
/// assert_eq!(b.span.start_pos.line, 1); // the definition
/// assert_eq!(b.alias.unwrap().start_pos.line, 2); // the use
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The content.
    pub kind: NodeKind,
    /// Where the content was written.
    pub span: Span,
    /// When this node was produced by an alias `*name`: where that alias was written.
    pub alias: Option<Span>,
}

impl Node {
    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar text, if this is a scalar (of any type).
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.value.as_str())
    }

    /// The items, if this is a sequence.
    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Sequence(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_mapping(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The value for a scalar key in a mapping (exact, case-sensitive match).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_mapping()?
            .iter()
            .find(|e| e.key.as_str() == Some(key))
            .map(|e| &e.value)
    }

    /// Whether this is a plain null scalar (`~`, `null` or nothing at all).
    pub fn is_null(&self) -> bool {
        self.as_scalar().is_some_and(Scalar::is_null)
    }

    /// A short name of the node's type for messages: `string`, `mapping`, ...
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(s) if s.tag.is_none() && s.style != ScalarStyle::Plain => "string",
            NodeKind::Scalar(s) => match s.resolve() {
                ScalarValue::Null => "null",
                ScalarValue::Bool(_) => "boolean",
                ScalarValue::Int(_) | ScalarValue::Float(_) => "number",
                ScalarValue::String(_) => "string",
            },
            NodeKind::Sequence(_) => "sequence",
            NodeKind::Mapping(_) => "mapping",
        }
    }

    /// Convert to JSON with the YAML 1.2 core schema (keys become strings, `.inf`/`.nan` become
    /// strings since JSON has no such numbers).
    ///
    /// ```
    /// let n = gha_model::yaml::parse("a: [1, true, x, null]").unwrap();
    /// assert_eq!(n.to_json(), serde_json::json!({"a": [1, true, "x", null]}));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Scalar(s) => match s.resolve() {
                ScalarValue::Null => Value::Null,
                ScalarValue::Bool(b) => Value::Bool(b),
                ScalarValue::Int(i) => Value::from(i),
                ScalarValue::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(s.value.clone())),
                ScalarValue::String(s) => Value::String(s),
            },
            NodeKind::Sequence(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| {
                        let k = match e.key.as_str() {
                            Some(k) => k.to_owned(),
                            None => e.key.to_json().to_string(),
                        };
                        (k, e.value.to_json())
                    })
                    .collect(),
            ),
        }
    }
}
