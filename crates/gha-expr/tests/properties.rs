//! Property tests: printing an AST and parsing it back gives the same AST; parsing arbitrary
//! text and evaluating generated expressions against generated contexts never panics.

use gha_expr::{
    CompareOp, Condition, EvalEnv, Expr, ExprKind, Function, HashFiles, Object, Span,
    StatusFunctions, Template, Value, evaluate, parse,
};
use proptest::prelude::*;

const KEYWORDS: [&str; 5] = ["null", "true", "false", "NaN", "Infinity"];

fn identifier() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_-]{0,8}"
        .prop_filter("keywords are literals", |s| !KEYWORDS.contains(&s.as_str()))
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |n| n.is_finite()),
        (-1000i32..1000).prop_map(f64::from),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
    ]
}

fn node(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::default())
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(node(ExprKind::Null)),
        any::<bool>().prop_map(|b| node(ExprKind::Bool(b))),
        number().prop_map(|n| node(ExprKind::Number(n))),
        any::<String>().prop_map(|s| node(ExprKind::String(s))),
        "[ -~]{0,6}".prop_map(|s| node(ExprKind::String(s))),
        identifier().prop_map(|s| node(ExprKind::Context(s))),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    prop_oneof![
        Just(CompareOp::Eq),
        Just(CompareOp::Ne),
        Just(CompareOp::Lt),
        Just(CompareOp::Le),
        Just(CompareOp::Gt),
        Just(CompareOp::Ge),
    ]
}

/// A call with an argument count the function accepts.
fn call(args: Vec<Expr>, pick: usize) -> Expr {
    let function = Function::ALL[pick % Function::ALL.len()];
    let mut args: Vec<Expr> = args.into_iter().take(function.max_args()).collect();
    while args.len() < function.min_args() {
        args.push(node(ExprKind::Null));
    }
    if function == Function::Case && args.len().is_multiple_of(2) {
        args.pop();
    }
    node(ExprKind::Call { function, args })
}

/// GitHub's parser flattens nested `&&` (and nested `||`) chains, so generated trees do too.
fn flatten(items: Vec<Expr>, and: bool) -> Vec<Expr> {
    let mut out = Vec::new();
    for item in items {
        match item.into_kind() {
            ExprKind::And(inner) if and => out.extend(inner),
            ExprKind::Or(inner) if !and => out.extend(inner),
            kind => out.push(node(kind)),
        }
    }
    out
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            (inner.clone(), identifier()).prop_map(|(t, name)| node(ExprKind::Property {
                target: Box::new(t),
                name
            })),
            (inner.clone(), inner.clone()).prop_map(|(t, i)| node(ExprKind::Index {
                target: Box::new(t),
                index: Box::new(i)
            })),
            inner.clone().prop_map(|t| node(ExprKind::Star {
                target: Box::new(t)
            })),
            inner.clone().prop_map(|t| node(ExprKind::Not(Box::new(t)))),
            (compare_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| node(
                ExprKind::Compare {
                    op,
                    left: Box::new(l),
                    right: Box::new(r)
                }
            )),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| node(ExprKind::And(flatten(v, true)))),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| node(ExprKind::Or(flatten(v, false)))),
            (prop::collection::vec(inner, 0..5), any::<usize>()).prop_map(|(a, p)| call(a, p)),
        ]
    })
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (-100i64..100).prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-zA-Z0-9 {}'\"]{0,6}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec(("[a-cA-C]{1,2}", inner), 0..4)
                .prop_map(|kv| { serde_json::Value::Object(kv.into_iter().collect()) }),
        ]
    })
}

struct Runtime;

impl StatusFunctions for Runtime {
    fn success(&self) -> bool {
        true
    }
    fn failure(&self) -> bool {
        false
    }
    fn cancelled(&self) -> bool {
        false
    }
}

impl HashFiles for Runtime {
    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        Ok(patterns.join(","))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_round_trips(e in expr()) {
        let printed = e.to_string();
        let reparsed = parse(&printed);
        prop_assert!(reparsed.is_ok(), "{printed}: {:?}", reparsed.err());
        let reparsed = reparsed.unwrap();
        prop_assert_eq!(&reparsed, &e, "{}", printed);
        prop_assert_eq!(reparsed.to_string(), printed);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(src in any::<String>()) {
        let _ = parse(&src);
        let _ = Template::parse(&src);
        let _ = Condition::parse(&src);
    }

    #[test]
    fn parsing_expression_like_text_never_panics(src in "[a-c0-9 .,'()\\[\\]*!=<>&|x{}$-]{0,40}") {
        if let Ok(e) = parse(&src) {
            prop_assert!(e.span().end <= src.len());
            prop_assert!(parse(&e.to_string()).is_ok(), "{} printed as {}", src, e);
        }
    }

    #[test]
    fn evaluation_never_panics(
        e in expr(),
        a in json_value(),
        b in json_value(),
    ) {
        let mut ctx = Object::new();
        ctx.insert("a", Value::from(a));
        ctx.insert("b", Value::from(b));
        let env = EvalEnv::new(&ctx).with_status(&Runtime).with_hash_files(&Runtime);
        let _ = evaluate(&e, &env);
        let _ = evaluate(&e, &EvalEnv::new(&ctx));
    }

    #[test]
    fn evaluating_generated_text_never_panics(
        src in "(a|b|a\\.\\*|b\\[0\\]|a\\.x|'s'|1|0x1f|null|true|fromJSON\\('[\\[\\]{}1,\"a\":]{0,8}'\\)|join\\(a\\)|toJSON\\(b\\)|format\\('\\{0\\}\\{\\{', a\\)|contains\\(a, b\\)|case\\(a == b, a, b\\))( (==|!=|<|<=|>|>=|&&|\\|\\|) !?(a|b\\.\\*\\.x|'S'|2|a\\[b\\]))*",
        a in json_value(),
        b in json_value(),
    ) {
        let mut ctx = Object::new();
        ctx.insert("a", Value::from(a));
        ctx.insert("b", Value::from(b));
        if let Ok(e) = parse(&src) {
            let _ = evaluate(&e, &EvalEnv::new(&ctx));
        }
    }
}
