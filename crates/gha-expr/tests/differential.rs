//! The default parser ([`parse_with`], hand-written) against the reference ([`parse_reference`],
//! the pest grammar): identical trees (spans included, compared through `Debug`) or identical
//! errors (message and span), over the benchmark corpus, every conformance expression, and
//! generated and mutated text, under several [`ParseOptions`].

use std::path::PathBuf;

use gha_expr::{ParseOptions, parse_reference, parse_with};
use proptest::prelude::*;

fn shared(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(path)
}

fn corpus() -> Vec<String> {
    std::fs::read_to_string(shared("corpus/bench/expressions.txt"))
        .expect("benchmark corpus")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn options() -> Vec<ParseOptions> {
    vec![
        ParseOptions::new(),
        ParseOptions::new().with_contexts(["github", "env", "matrix", "steps", "inputs"]),
        ParseOptions::new().with_max_depth(3),
        ParseOptions::new().with_max_length(24),
    ]
}

/// `Debug` of both results, or the first difference.
fn compare(src: &str, opts: &ParseOptions) -> Result<(), String> {
    let fast = format!("{:?}", parse_with(src, opts));
    let reference = format!("{:?}", parse_reference(src, opts));
    if fast == reference {
        Ok(())
    } else {
        Err(format!(
            "{src:?} with {opts:?}\n  default:   {fast}\n  reference: {reference}"
        ))
    }
}

fn check_all<'a>(sources: impl IntoIterator<Item = &'a str>) -> usize {
    let opts = options();
    let mut count = 0;
    let mut failures = Vec::new();
    for src in sources {
        for o in &opts {
            count += 1;
            if let Err(e) = compare(src, o) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    count
}

#[test]
fn every_corpus_line_parses_identically() {
    let lines = corpus();
    assert_eq!(lines.len(), 1858);
    let checked = check_all(lines.iter().map(String::as_str));
    assert_eq!(checked, 1858 * 4);
}

#[test]
fn every_conformance_expression_parses_identically() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared("conformance/expressions"))
        .expect("conformance data")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 28);
    let mut exprs = Vec::new();
    let mut with_contexts = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let groups: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).expect("json");
        for cases in groups.values() {
            for case in cases.as_array().expect("cases") {
                let expr = case["expr"].as_str().expect("expr").to_owned();
                let names: Vec<String> = case
                    .get("contexts")
                    .and_then(|c| c.as_object())
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                with_contexts.push((expr.clone(), names));
                exprs.push(expr);
            }
        }
    }
    assert_eq!(exprs.len(), 1020);
    check_all(exprs.iter().map(String::as_str));
    // And exactly as the conformance harness parses them: only the case's contexts allowed.
    for (expr, names) in &with_contexts {
        let o = ParseOptions::new().with_contexts(names);
        compare(expr, &o).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn edge_cases_parse_identically() {
    let deep = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    let nots = |n: usize| format!("{}a", "!".repeat(n));
    let owned = [
        deep(16),
        deep(33),
        deep(60),
        deep(101),
        nots(16),
        nots(17),
        nots(60),
    ];
    let fixed = [
        "",
        "   ",
        "\u{a0}a\u{2003}==\u{3000}'b'\u{85}",
        "a\u{a0}.b",
        "a\u{e9}",
        "'\u{1F600}' == a",
        "(a) == (b)",
        "a . b [ 'x' ] . * [ * ] . c",
        "(null).foo",
        "null.foo",
        "true (1)",
        "vars.true || a.NaN",
        "format ('{0}', 1)",
        "case(a, 1, 2)",
        "case(a, 1)",
        "contains()",
        "0x100000000",
        "-Infinity < +Infinity",
        "1.e5 == .5E-1",
        "'a''''b'",
        "'unterminated",
        "a.b-c-",
        "a.-b",
        "a || b && c || d && (e || f) && g",
        "!!!!a",
        "! = a",
        "a =! b",
        "a[1][2](3)",
        "fromJSON('[1]')[0]",
        "toJSON(a.*.b[*])",
    ];
    check_all(fixed.into_iter().chain(owned.iter().map(String::as_str)));
}

/// Tokens (valid and not) for generated text.
const TOKENS: &[&str] = &[
    "a",
    "github",
    "env",
    "secrets",
    "x-y_z",
    "TRUE",
    "true",
    "false",
    "null",
    "NaN",
    "Infinity",
    "-Infinity",
    "1",
    "-2.5",
    ".5",
    "1.",
    "1e3",
    "0x1F",
    "0o17",
    "0X1",
    "1.2.3",
    "'s'",
    "'it''s'",
    "''",
    "'",
    "(",
    ")",
    "[",
    "]",
    ".",
    "*",
    ",",
    "!",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "=",
    "&",
    "|",
    "format(",
    "contains(",
    "case(",
    "toJSON(",
    "success()",
    "fromJSON(",
    "join(",
    "nosuch(",
    " ",
    "  ",
    "\t",
    "\n",
    "\u{a0}",
    "@",
    "$",
    "{",
    "}",
    "é",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.concat())
}

/// Syntactically plausible expressions with random spacing and grouping.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(
        &[
            "github.ref",
            "env.A",
            "matrix.os",
            "steps.s.outputs.x",
            "inputs.n",
            "'str'",
            "1",
            "-1.5e2",
            "0xff",
            "null",
            "true",
            "NaN",
            "github.event.commits.*.message",
            "steps['a-b'].conclusion",
            "success()",
        ][..],
    )
    .prop_map(str::to_owned);
    leaf.prop_recursive(5, 48, 3, |inner| {
        let sp = prop::sample::select(&["", " ", "  ", "\n"][..]);
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(&["&&", "||", "==", "!=", "<", "<=", ">", ">="][..]),
                inner.clone(),
                sp.clone(),
            )
                .prop_map(|(l, op, r, s)| format!("{l}{s}{op}{s}{r}")),
            (inner.clone(), sp.clone()).prop_map(|(e, s)| format!("({s}{e}{s})")),
            inner.clone().prop_map(|e| format!("!{e}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("contains({a}, {b})")),
            (inner.clone(), sp.clone()).prop_map(|(e, s)| format!("({e}){s}.{s}name")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a})[{b}]")),
            prop::collection::vec(inner, 1..4)
                .prop_map(|args| format!("format('{{0}}', {})", args.join(", "))),
        ]
    })
}

/// A corpus line with one edit: a span deleted, a token inserted, or a span duplicated.
fn mutated_corpus_line() -> impl Strategy<Value = String> {
    let lines = corpus();
    (
        prop::sample::select(lines),
        0..3usize,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::sample::select(TOKENS),
    )
        .prop_map(|(line, how, a, b, token)| {
            let chars: Vec<char> = line.chars().collect();
            let n = chars.len() + 1;
            let (i, j) = {
                let (x, y) = (a.index(n), b.index(n));
                (x.min(y), x.max(y).min(chars.len()))
            };
            let mut out: Vec<char> = chars[..i].to_vec();
            match how {
                0 => out.extend(&chars[j..]),
                1 => {
                    out.extend(token.chars());
                    out.extend(&chars[i..]);
                }
                _ => {
                    out.extend(&chars[i..j]);
                    out.extend(&chars[i..]);
                }
            }
            out.into_iter().collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_expressions_parse_identically(src in expression(), o in 0..4usize) {
        let opts = &options()[o];
        prop_assert!(compare(&src, opts).is_ok(), "{}", compare(&src, opts).unwrap_err());
    }

    #[test]
    fn token_soup_parses_identically(src in token_soup(), o in 0..4usize) {
        let opts = &options()[o];
        prop_assert!(compare(&src, opts).is_ok(), "{}", compare(&src, opts).unwrap_err());
    }

    #[test]
    fn mutated_corpus_lines_parse_identically(src in mutated_corpus_line(), o in 0..4usize) {
        let opts = &options()[o];
        prop_assert!(compare(&src, opts).is_ok(), "{}", compare(&src, opts).unwrap_err());
    }
}
