//! The runner's behaviour rule by rule (from GitHub's C# evaluator, as distilled in the
//! project's expression-semantics notes): each vector is an expression, the contexts it may
//! use, and the JSON value it must give, or `ERR` when parsing or evaluation must fail.

use gha_expr::{EvalEnv, Object, ParseOptions, Value, evaluate, parse_with};
use serde_json::{Value as Json, json};

fn run(expr: &str, contexts: &Json) -> Result<Value, String> {
    let contexts = match Value::from(contexts.clone()) {
        Value::Object(o) => o,
        _ => Object::new(),
    };
    let names: Vec<&str> = contexts.iter().map(|(k, _)| k).collect();
    let parsed =
        parse_with(expr, &ParseOptions::new().with_contexts(names)).map_err(|e| e.message)?;
    evaluate(&parsed, &EvalEnv::new(&contexts)).map_err(|e| e.message)
}

fn check(cases: &[(&str, Json)], contexts: &Json) {
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let got = run(expr, contexts);
        let ok = match (&got, want) {
            (Err(_), Json::String(s)) if s == "ERR" => true,
            (Ok(v), want) => {
                let want_v = Value::from(want.clone());
                match (v, &want_v) {
                    (Value::Number(a), Value::Number(b)) => {
                        a == b && a.is_sign_negative() == b.is_sign_negative()
                    }
                    _ => *v == want_v,
                }
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{expr:?}: want {want}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn err() -> Json {
    json!("ERR")
}

#[test]
fn lexical_syntax() {
    let ctx = json!({"x": {"a": 1}, "vars": {"true": 1, "null": 2, "contains": 3}, "steps": {"build-step": {"outputs": {"o": "v"}}}});
    check(
        &[
            ("-9.2", json!(-9.2)),
            (".5", json!(0.5)),
            ("+1", json!(1)),
            ("1.", json!(1)),
            ("007", json!(7)),
            ("1e3", json!(1000)),
            ("2.5E-3", json!(0.0025)),
            ("0xff", json!(255)),
            ("0x1F", json!(31)),
            ("0o17", json!(15)),
            ("0xffffffff", json!(-1)),
            ("-0xFF", err()),
            ("0X1F", err()),
            ("0b101", err()),
            ("0o8", err()),
            ("1e", err()),
            ("1.2.3", err()),
            ("1_000", err()),
            ("--1", err()),
            ("- 1", err()),
            ("-(1)", err()),
            ("-Inf", err()),
            ("1 + 2", err()),
            ("1 - 1", err()),
            ("'a''b''c'", json!("a'b'c")),
            ("'a\\nb'", json!("a\\nb")),
            ("'line\nbreak'", json!("line\nbreak")),
            ("\"double\"", err()),
            ("'unterminated", err()),
            ("TRUE", err()),
            ("Null", err()),
            ("nan", err()),
            ("vars.true", json!(1)),
            ("vars.null", json!(2)),
            ("vars.contains", json!(3)),
            ("steps.build-step.outputs.o", json!("v")),
            ("x.1", err()),
            ("x.-a", err()),
            ("x.héllo", err()),
            ("x.b@r", err()),
            ("X.A", json!(1)),
            ("TOJSON(1)", json!("1")),
            ("fromjson('2')", json!(2)),
            ("false && nosuch()", err()),
            ("'abc'[0]", err()),
            ("'abc'.length", err()),
            ("null.foo", err()),
            ("[0]", err()),
            ("('abc')[0]", Json::Null),
            ("x.*", json!([1])),
            ("*", err()),
            ("x *", err()),
            ("1, 2", err()),
            ("format('{0}', 1,)", err()),
            ("format(,1)", err()),
            ("1 2", err()),
            ("(1)2", err()),
            ("1 = 1", err()),
            ("1 === 1", err()),
            ("1 !== 1", err()),
            ("1 <> 1", err()),
            ("1 & 1", err()),
            ("1 | 1", err()),
            ("1 ! 2", err()),
            ("format('{0}', 1e400)", json!("Infinity")),
            ("1 &&\n\t2", json!(2)),
            ("\u{a0}1\u{2003}", json!(1)),
        ],
        &ctx,
    );
}

#[test]
fn operators_and_precedence() {
    check(
        &[
            ("!2 < 3", json!(true)),
            ("3 < 2 < 1", json!(true)),
            ("2 == 2 == 1", json!(true)),
            ("1 && 'x'", json!("x")),
            ("0 && 'x'", json!(0)),
            ("'' || null", Json::Null),
            ("null || 0 || 'y' || 1", json!("y")),
            ("false && fromJSON('bad')", json!(false)),
            ("true || fromJSON('bad')", json!(true)),
            ("!''", json!(true)),
            ("!'false'", json!(false)),
            ("!!0", json!(false)),
            ("!NaN", json!(true)),
            ("!-0", json!(true)),
        ],
        &json!({}),
    );
}

#[test]
fn equality_and_coercion() {
    check(
        &[
            ("null == ''", json!(true)),
            ("null == '0'", json!(true)),
            ("false == ''", json!(true)),
            ("true == '1'", json!(true)),
            ("0 == ' '", json!(true)),
            ("'1' == 1", json!(true)),
            ("'true' == true", json!(false)),
            ("'false' == false", json!(false)),
            ("NaN == NaN", json!(false)),
            ("NaN != NaN", json!(true)),
            ("'abc' == 'ABC'", json!(true)),
            ("'ß' == 'SS'", json!(false)),
            ("'ü' == 'Ü'", json!(true)),
            ("'i' == 'İ'", json!(false)),
            ("'ı' == 'I'", json!(false)),
            ("'ς' == 'Σ'", json!(true)),
            ("' 0x02 ' == 2", json!(true)),
            ("'0X1F' == 31", json!(false)),
            ("'1,000' == 1000", json!(false)),
            ("'+5' == 5", json!(true)),
            ("'5.' == 5", json!(true)),
            ("' -1.2E+2 ' == -120", json!(true)),
            ("'0o10' == 8", json!(true)),
            ("'0b11' == 3", json!(false)),
            ("'-0x10' == -16", json!(false)),
            ("'Infinity' == Infinity", json!(true)),
            ("'-Infinity' == -Infinity", json!(true)),
            ("'\t\n' == 0", json!(true)),
            ("fromJSON('{}') == fromJSON('{}')", json!(false)),
            ("fromJSON('[]') == fromJSON('[]')", json!(false)),
            ("inputs.a == inputs.a", json!(true)),
            ("(inputs.a || 1) == inputs.a", json!(true)),
            ("inputs.arr == inputs.arr", json!(true)),
            ("inputs.arr.* == inputs.arr.*", json!(false)),
            ("inputs.a == 'Object'", json!(false)),
            ("null == fromJSON('[]')", json!(false)),
            ("'0xffffffff' == -1", json!(true)),
            ("'0x100000000' == 4294967296", json!(false)),
        ],
        &json!({"inputs": {"a": {"k": 1}, "arr": [1, 2]}}),
    );
}

#[test]
fn relational() {
    check(
        &[
            ("'_' > 'z'", json!(true)),
            ("'a' < '['", json!(true)),
            ("false < true", json!(true)),
            ("'10' > '5'", json!(false)),
            ("'10' > 5", json!(true)),
            ("NaN < 1", json!(false)),
            ("NaN >= NaN", json!(false)),
            ("x < x", json!(false)),
            ("x >= x", json!(true)),
            ("x > 1", json!(false)),
            ("'abc' < 1", json!(false)),
            ("null < 1", json!(true)),
            ("null <= 0", json!(true)),
            ("'a' <= 'A'", json!(true)),
        ],
        &json!({"x": {"a": 1}}),
    );
}

#[test]
fn property_index_and_filters() {
    let ctx = json!({
        "arr": ["a", "b", "c"],
        "obj": {"Name": "n", "5": "five", "": "empty", "true": "t", "NaN": "nan", "0.5": "half"},
        "labels": [{"name": "bug", "id": 1}, {"name": "docs"}, {"id": 3, "name": null}, 7, [8, 9]],
        "nested": {"a": {"b": [1, 2]}, "c": {"b": [3]}},
        "github": {"ref": "refs/heads/main"}
    });
    check(
        &[
            ("obj.name", json!("n")),
            ("obj['NAME']", json!("n")),
            ("obj.missing.deeper.still", Json::Null),
            ("github.ref[0]", Json::Null),
            ("github.ref.length", Json::Null),
            ("(1).foo", Json::Null),
            ("arr[1.9]", json!("b")),
            ("arr['1']", json!("b")),
            ("arr[' 0x02 ']", json!("c")),
            ("arr[true]", json!("b")),
            ("arr[null]", json!("a")),
            ("arr['']", json!("a")),
            ("arr[false]", json!("a")),
            ("arr['one']", Json::Null),
            ("arr[-1]", Json::Null),
            ("arr[3]", Json::Null),
            ("arr.length", Json::Null),
            ("arr[fromJSON('[]')]", Json::Null),
            ("obj[5]", json!("five")),
            ("obj[5.0]", json!("five")),
            ("obj[.5]", json!("half")),
            ("obj[null]", json!("empty")),
            ("obj[true]", json!("t")),
            ("obj[NaN]", json!("nan")),
            ("obj[' 5 ']", Json::Null),
            ("obj[obj]", Json::Null),
            ("labels.*.name", json!(["bug", "docs", null])),
            ("labels[*].id", json!([1, 3])),
            ("labels.*.name[0]", json!([])),
            ("labels.*[0]", json!([8])),
            ("(labels.*)[0]", json!([8])),
            ("fromJSON(toJSON(labels.*.name))[0]", json!("bug")),
            ("nested.*.b", json!([[1, 2], [3]])),
            ("nested.*.b.*", json!([1, 2, 3])),
            (
                "nested.*.*",
                json!([{"b": [1, 2]}, {"b": [3]}])
                    .as_array()
                    .map(|_| json!([[1, 2], [3]]))
                    .unwrap(),
            ),
            ("github.ref.*", json!([])),
            ("missing.*", ERR_CTX.clone()),
            ("obj.*.*", json!([])),
            ("toJSON(labels.*.id)", json!("[\n  1,\n  3\n]")),
            ("join(labels.*.name, '|')", json!("bug|docs|")),
            ("contains(labels.*.name, 'DOCS')", json!(true)),
            ("format('{0}', labels.*)", json!("Array")),
            ("!labels.*.nothing", json!(false)),
        ],
        &ctx,
    );
}

static ERR_CTX: std::sync::LazyLock<Json> = std::sync::LazyLock::new(|| json!("ERR"));

#[test]
fn number_to_string() {
    check(
        &[
            ("format('{0}', 1.0)", json!("1")),
            ("format('{0}', 0.0001)", json!("0.0001")),
            ("format('{0}', 0.00001)", json!("1E-05")),
            ("format('{0}', 123456789012345)", json!("123456789012345")),
            ("format('{0}', 1e15)", json!("1E+15")),
            (
                "format('{0}', 1234567890123456)",
                json!("1.23456789012346E+15"),
            ),
            (
                "format('{0}', 3.141592653589793)",
                json!("3.14159265358979"),
            ),
            ("format('{0}', NaN)", json!("NaN")),
            ("format('{0}', -Infinity)", json!("-Infinity")),
            ("format('{0}', -0)", json!("0")),
            ("format('{0}', 1e21)", json!("1E+21")),
            (
                "format('{0}{1}{2}{3}', null, true, fromJSON('[]'), fromJSON('{}'))",
                json!("trueArrayObject"),
            ),
            ("toJSON(1e15)", json!("1E+15")),
            ("toJSON(NaN)", json!("NaN")),
            ("toJSON(0.00001)", json!("1E-05")),
        ],
        &json!({}),
    );
}

#[test]
fn functions() {
    let ctx = json!({"o": {"B": [1, {"x": "y"}], "a": "é"}, "s": {"out": "true"}});
    check(
        &[
            ("contains(null, '')", json!(true)),
            ("contains('abc', fromJSON('[\"a\"]'))", json!(false)),
            ("contains(fromJSON('[1]'), '1')", json!(true)),
            ("contains(fromJSON('[\"\"]'), false)", json!(true)),
            ("contains(fromJSON('[null]'), '')", json!(true)),
            ("contains(fromJSON('[{}]'), fromJSON('{}'))", json!(false)),
            ("contains(o.B, o.B[1])", json!(true)),
            ("contains(o, 'a')", json!(false)),
            ("contains('Hello', 'LL')", json!(true)),
            ("contains(123, 2)", json!(true)),
            ("contains(true, 'ru')", json!(true)),
            ("startsWith('Hello', 'he')", json!(true)),
            ("startsWith('Hello', '')", json!(true)),
            ("startsWith('Hello', null)", json!(true)),
            ("startsWith(fromJSON('[]'), '')", json!(false)),
            ("endsWith('Hello', 'LO')", json!(true)),
            ("endsWith(12.5, '.5')", json!(true)),
            ("format('{0} {1}', 'a', 'b')", json!("a b")),
            ("format('{{{0}}}', 'a')", json!("{a}")),
            ("format('{00}', 'a')", json!("a")),
            ("format('x')", json!("x")),
            ("format('{0}', '{1}')", json!("{1}")),
            ("format('{1}', fromJSON('bad'), 'ok')", json!("ok")),
            ("format('{0:x}', 1)", err()),
            ("format('{0 }', 1)", err()),
            ("format('{}', 1)", err()),
            ("format('{a}', 1)", err()),
            ("format('{-1}', 1)", err()),
            ("format('{256}', 1)", err()),
            ("format('{', 1)", err()),
            ("format('}', 1)", err()),
            ("format('{1}', 1)", err()),
            (
                "join(fromJSON('[1, \"a\", null, true, [], {}]'))",
                json!("1,a,,true,Array,Object"),
            ),
            ("join(fromJSON('[1,2]'), fromJSON('[]'))", json!("1,2")),
            ("join(fromJSON('[1,2]'), null)", json!("12")),
            ("join('abc', '-')", json!("abc")),
            ("join(5)", json!("5")),
            ("join(null)", json!("")),
            ("join(o)", json!("")),
            ("join(fromJSON('[]'))", json!("")),
            ("toJSON('a')", json!("\"a\"")),
            ("toJSON(null)", json!("null")),
            (
                "toJSON(o)",
                json!(
                    "{\n  \"B\": [\n    1,\n    {\n      \"x\": \"y\"\n    }\n  ],\n  \"a\": \"é\"\n}"
                ),
            ),
            (r#"toJSON('q"\x	')"#, json!(r#""q\"\\x\t""#)),
            ("toJSON(fromJSON('{}'))", json!("{}")),
            ("fromJSON('')", err()),
            ("fromJSON('  ')", err()),
            ("fromJSON(null)", err()),
            ("fromJSON('{')", err()),
            ("fromJSON('{\"a\":1,\"A\":2}').a", json!(2)),
            ("fromJSON('1.5')", json!(1.5)),
            (
                "fromJSON('\"2020-01-01T00:00:00Z\"')",
                json!("2020-01-01T00:00:00Z"),
            ),
            ("fromJSON(s.out)", json!(true)),
            ("s.out == true", json!(false)),
            ("case(true, 'a', 'b')", json!("a")),
            ("case(false, 'a', 'b')", json!("b")),
            ("case(false, 'a', true, 2, 'c')", json!(2)),
            ("case(true, 'a', 'x', 'y', 'z')", json!("a")),
            ("case(1, 'a', 'b')", err()),
            ("case(false, fromJSON('bad'), 'b')", json!("b")),
            ("case(true, 'a', fromJSON('bad'))", json!("a")),
            ("case(true, 'a')", err()),
            ("case(true, 'a', false, 'b')", err()),
            ("case(false, 'a', 'b') == 'B'", json!(true)),
            ("contains()", err()),
            ("toJSON(1, 2)", err()),
            ("success()", err()),
            ("hashFiles('x')", err()),
        ],
        &ctx,
    );
}

#[test]
fn limits() {
    let long = format!("'{}'", "a".repeat(21_000));
    assert!(run(&long, &json!({})).is_err());
    let fits = format!("'{}'", "a".repeat(20_998));
    assert!(run(&fits, &json!({})).is_ok());
    let ors = (1..=60)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" || ");
    assert_eq!(run(&ors, &json!({})).unwrap(), Value::Number(1.0));
    let props49: String = (1..=49).map(|i| format!(".p{i}")).collect();
    assert!(run(&format!("x{props49}"), &json!({"x": null})).is_ok());
    assert!(run(&format!("x{props49}.p50"), &json!({"x": null})).is_err());
    // Nested `&&` chains are flattened even through parentheses, so they add no depth.
    let nested_and = format!("{}true{}", "(true && ".repeat(60), ")".repeat(60));
    assert_eq!(run(&nested_and, &json!({})).unwrap(), Value::Bool(true));
    let parens = format!("{}1{}", "(".repeat(60), ")".repeat(60));
    assert_eq!(run(&parens, &json!({})).unwrap(), Value::Number(1.0));
    let calls = |n: usize| format!("{}1{}", "format('{0}', ".repeat(n), ")".repeat(n));
    assert!(run(&calls(49), &json!({})).is_ok());
    assert!(run(&calls(50), &json!({})).is_err());
    let blowup = format!(
        "format('{}', format('{}', '{}'))",
        "{0}".repeat(200),
        "{0}".repeat(200),
        "x".repeat(20)
    );
    assert_eq!(
        run(&blowup, &json!({})).unwrap_err(),
        "The maximum allowed memory size was exceeded"
    );
}

#[test]
fn hand_built_calls_with_wrong_arity_are_errors_not_panics() {
    use gha_expr::{Expr, ExprKind, Function, Span};
    let ctx = Object::new();
    for function in Function::ALL {
        for n in 0..5 {
            let args = vec![Expr::new(ExprKind::Bool(true), Span::default()); n];
            let call = Expr::new(ExprKind::Call { function, args }, Span::default());
            let _ = evaluate(&call, &EvalEnv::new(&ctx));
        }
    }
}
