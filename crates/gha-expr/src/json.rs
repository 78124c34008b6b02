//! `toJSON`: the runner's pretty form (two-space indent, `": "`, `G15` numbers, `[]`/`{}`
//! inline when empty, keys in insertion order with their original casing).

use std::fmt::Write as _;

use crate::eval::Val;
use crate::number::number_to_string;

pub(crate) fn write_json(v: &Val<'_>, indent: usize, out: &mut String) {
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Number(n) => out.push_str(&number_to_string(*n)),
        Val::Str(s) => write_json_string(s, out),
        Val::Array(_) | Val::Filtered(_) => {
            let items: Vec<Val<'_>> = match v {
                Val::Array(items) => items.iter().map(Val::of).collect(),
                Val::Filtered(items) => items.clone(),
                _ => Vec::new(),
            };
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent + 1);
                write_json(item, indent + 1, out);
            }
            newline(out, indent);
            out.push(']');
        }
        Val::Object(o) => {
            if o.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent + 1);
                write_json_string(k, out);
                out.push_str(": ");
                write_json(&Val::of(item), indent + 1, out);
            }
            newline(out, indent);
            out.push('}');
        }
    }
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    for _ in 0..indent {
        out.push_str("  ");
    }
}

/// A JSON string literal: `"` and `\` escaped, control characters as `\n`, `\t`, ... or
/// `\u00XX`, non-ASCII text kept as is.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
