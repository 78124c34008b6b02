//! Runtime values: null, booleans, numbers, strings, arrays and case-insensitive objects.

use std::sync::{Arc, OnceLock};

use crate::compare::{eq_ignore_case, hash_ignore_case};
use crate::number::number_to_string;

/// A runtime value of the expression language.
///
/// ```
/// use gha_expr::Value;
/// let v = Value::from(serde_json::json!({"Name": "gha", "tags": [1, 2.5]}));
/// assert_eq!(v.get("name"), Some(&Value::String("gha".into())));
/// assert_eq!(v.to_json(), serde_json::json!({"Name": "gha", "tags": [1, 2.5]}));
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `null` (also what a missing property gives).
    #[default]
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An IEEE double.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: insertion-ordered, looked up case-insensitively.
    Object(Object),
}

/// An insertion-ordered map whose keys are looked up ignoring case (as GitHub does); the
/// stored casing is kept for output. Cloning is cheap (the entries are shared until changed).
///
/// ```
/// use gha_expr::{Object, Value};
/// let mut o = Object::new();
/// o.insert("Event_Name", Value::from("push"));
/// o.insert("ref", Value::from("refs/heads/main"));
/// assert_eq!(o.get("event_name"), Some(&Value::from("push")));
/// assert_eq!(o.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["Event_Name", "ref"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Object {
    inner: Arc<Entries>,
}

/// Objects with at least this many keys get a hash index on their first lookup.
const INDEX_THRESHOLD: usize = 12;

#[derive(Debug, Default)]
struct Entries {
    list: Vec<(String, Value)>,
    /// `(case-insensitive hash of the key, position)`, sorted; built lazily for big objects
    /// and shared by every clone, so a context object is indexed once for many evaluations.
    index: OnceLock<Vec<(u64, u32)>>,
}

impl Clone for Entries {
    fn clone(&self) -> Entries {
        Entries {
            list: self.list.clone(),
            index: OnceLock::new(),
        }
    }
}

impl Entries {
    fn position(&self, key: &str) -> Option<usize> {
        if self.list.len() >= INDEX_THRESHOLD {
            let index = self.index.get_or_init(|| {
                let mut index: Vec<(u64, u32)> = self
                    .list
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (hash_ignore_case(k), i as u32))
                    .collect();
                index.sort_unstable();
                index
            });
            let h = hash_ignore_case(key);
            let from = index.partition_point(|&(x, _)| x < h);
            return index[from..]
                .iter()
                .take_while(|&&(x, _)| x == h)
                .map(|&(_, i)| i as usize)
                .filter(|&i| eq_ignore_case(&self.list[i].0, key))
                .min();
        }
        self.position_linear(key)
    }

    /// [`Entries::position`] without the index (used while the object is being built).
    fn position_linear(&self, key: &str) -> Option<usize> {
        if key.is_ascii() {
            // No non-ASCII character upper-cases to an ASCII one (the Turkish dotless i and the
            // long s are excluded from folding), so only ASCII keys of the same length match.
            return self.list.iter().position(|(k, _)| {
                k.len() == key.len() && k.as_bytes().eq_ignore_ascii_case(key.as_bytes())
            });
        }
        self.list.iter().position(|(k, _)| eq_ignore_case(k, key))
    }
}

impl Object {
    /// An empty object.
    ///
    /// ```
    /// assert!(gha_expr::Object::new().is_empty());
    /// ```
    pub fn new() -> Object {
        Object::default()
    }

    /// Sets `key` to `value`. A key that already exists (ignoring case) keeps its position and
    /// original casing and gets the new value.
    ///
    /// ```
    /// let mut o = gha_expr::Object::new();
    /// o.insert("a", 1.0.into());
    /// o.insert("A", 2.0.into());
    /// assert_eq!(o.len(), 1);
    /// assert_eq!(o.get("a"), Some(&gha_expr::Value::Number(2.0)));
    /// ```
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        let position = self.inner.position_linear(&key);
        let entries = Arc::make_mut(&mut self.inner);
        match position {
            Some(i) => entries.list[i].1 = value,
            None => {
                entries.list.push((key, value));
                entries.index = OnceLock::new();
            }
        }
    }

    /// The value under `key`, ignoring case.
    ///
    /// ```
    /// let o: gha_expr::Object = [("OS", gha_expr::Value::from("Linux"))].into_iter().collect();
    /// assert!(o.get("os").is_some());
    /// assert!(o.get("arch").is_none());
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.inner.position(key).map(|i| &self.inner.list[i].1)
    }

    /// The entries in insertion order.
    ///
    /// ```
    /// let o: gha_expr::Object = [("a", gha_expr::Value::Null)].into_iter().collect();
    /// assert_eq!(o.iter().count(), 1);
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> + '_ {
        self.inner.list.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The values in insertion order.
    ///
    /// ```
    /// let o: gha_expr::Object = [("a", gha_expr::Value::Null)].into_iter().collect();
    /// assert_eq!(o.values().count(), 1);
    /// ```
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> + '_ {
        self.inner.list.iter().map(|(_, v)| v)
    }

    /// Number of entries.
    ///
    /// ```
    /// assert_eq!(gha_expr::Object::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.list.len()
    }

    /// True when there are no entries.
    ///
    /// ```
    /// assert!(gha_expr::Object::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.list.is_empty()
    }

    /// True when both handles share the same entries (GitHub compares objects by identity).
    ///
    /// ```
    /// let a = gha_expr::Object::new();
    /// let b = a.clone();
    /// assert!(a.same_instance(&b));
    /// assert!(!a.same_instance(&gha_expr::Object::new()));
    /// ```
    pub fn same_instance(&self, other: &Object) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.inner.list == other.inner.list
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Object {
        let list: Vec<(String, Value)> = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        if list.len() >= INDEX_THRESHOLD {
            // Big objects: one sorted hash index finds keys that differ only in case; without
            // such duplicates (the usual case) the list is taken as it is.
            let mut hashes: Vec<(u64, usize)> = list
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (hash_ignore_case(k), i))
                .collect();
            hashes.sort_unstable();
            let duplicate = hashes
                .windows(2)
                .any(|w| w[0].0 == w[1].0 && eq_ignore_case(&list[w[0].1].0, &list[w[1].1].0));
            if !duplicate {
                return Object {
                    inner: Arc::new(Entries {
                        list,
                        index: OnceLock::new(),
                    }),
                };
            }
        }
        let mut o = Object::new();
        for (k, v) in list {
            o.insert(k, v);
        }
        o
    }
}

impl Value {
    /// Converts to JSON. Integral numbers become JSON integers; NaN and ±Infinity, which JSON
    /// cannot express, become `null`.
    ///
    /// ```
    /// use gha_expr::Value;
    /// assert_eq!(Value::Number(3.0).to_json(), serde_json::json!(3));
    /// assert_eq!(Value::Number(f64::NAN).to_json(), serde_json::Value::Null);
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(o) => serde_json::Value::Object(
                o.iter().map(|(k, v)| (k.to_owned(), v.to_json())).collect(),
            ),
        }
    }

    /// GitHub's truthiness: `null`, `false`, `0`, `-0`, `NaN` and `''` are false; everything
    /// else (including `'false'`, `[]` and `{}`) is true.
    ///
    /// ```
    /// use gha_expr::Value;
    /// assert!(!Value::String(String::new()).is_truthy());
    /// assert!(Value::String("false".into()).is_truthy());
    /// assert!(Value::Array(vec![]).is_truthy());
    /// assert!(!Value::Number(f64::NAN).is_truthy());
    /// ```
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// The string a value becomes inside `${{ }}` interpolation (and in `format`/`join`):
    /// null is empty, numbers use the runner's `G15` form, arrays are `Array` and objects
    /// `Object`.
    ///
    /// ```
    /// use gha_expr::Value;
    /// assert_eq!(Value::Null.to_display_string(), "");
    /// assert_eq!(Value::Number(1e15).to_display_string(), "1E+15");
    /// assert_eq!(Value::Array(vec![]).to_display_string(), "Array");
    /// ```
    pub fn to_display_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => number_to_string(*n),
            Value::String(s) => s.clone(),
            Value::Array(_) => "Array".to_owned(),
            Value::Object(_) => "Object".to_owned(),
        }
    }

    /// The property `key` of an object (ignoring case); None for other kinds or a missing key.
    ///
    /// ```
    /// let v = gha_expr::Value::from(serde_json::json!({"a": 1}));
    /// assert!(v.get("A").is_some());
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(o) => o.get(key),
            _ => None,
        }
    }

    /// The name of the value's kind as GitHub's test data spells it (`Null`, `Boolean`,
    /// `Number`, `String`, `Array`, `Object`).
    ///
    /// ```
    /// assert_eq!(gha_expr::Value::Bool(true).kind_name(), "Boolean");
    /// ```
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "Null",
            Value::Bool(_) => "Boolean",
            Value::Number(_) => "Number",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
        }
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n == n.trunc() && n.abs() < 9_007_199_254_740_992.0 {
        if n == 0.0 {
            return serde_json::Value::from(0);
        }
        return serde_json::Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Value {
        Value::Object(o)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_objects_use_the_index_and_keep_first_casing() {
        let mut entries: Vec<(String, Value)> = (0..40)
            .map(|i| (format!("Key_{i}"), Value::Number(f64::from(i))))
            .collect();
        entries.push(("ÜBER".to_owned(), Value::from("u")));
        let o: Object = entries.clone().into_iter().collect();
        assert_eq!(o.len(), 41);
        assert_eq!(o.get("key_17"), Some(&Value::Number(17.0)));
        assert_eq!(o.get("KEY_39"), Some(&Value::Number(39.0)));
        assert_eq!(o.get("über"), Some(&Value::from("u")));
        assert_eq!(o.get("key_40"), None);
        entries.push(("KEY_3".to_owned(), Value::Null));
        let o: Object = entries.into_iter().collect();
        assert_eq!(o.len(), 41);
        assert_eq!(o.get("key_3"), Some(&Value::Null));
        assert_eq!(o.iter().nth(3).map(|(k, _)| k), Some("Key_3"));
        let mut grown = o.clone();
        grown.insert("new", Value::Bool(true));
        assert_eq!(grown.get("NEW"), Some(&Value::Bool(true)));
        assert_eq!(o.get("new"), None);
        assert!(!grown.same_instance(&o));
    }
}
