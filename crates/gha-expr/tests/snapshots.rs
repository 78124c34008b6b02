//! insta snapshots: the AST (every node with its byte span) of a representative set of
//! expressions, and the messages and spans of a representative set of errors.

use std::fmt::Write as _;

use gha_expr::{Condition, EvalEnv, Expr, ExprKind, Object, Template, Value, evaluate, parse};

/// One line per node: kind, detail and `@start..end`, children indented.
fn render(expr: &Expr, indent: usize, out: &mut String) {
    let span = expr.span();
    let pad = "  ".repeat(indent);
    let label = match expr.kind() {
        ExprKind::Null => "Null".to_owned(),
        ExprKind::Bool(b) => format!("Bool {b}"),
        ExprKind::Number(n) => format!("Number {n:?}"),
        ExprKind::String(s) => format!("String {s:?}"),
        ExprKind::Context(name) => format!("Context {name}"),
        ExprKind::Property { name, .. } => format!("Property .{name}"),
        ExprKind::Index { .. } => "Index".to_owned(),
        ExprKind::Star { .. } => "Star".to_owned(),
        ExprKind::Not(_) => "Not".to_owned(),
        ExprKind::Compare { op, .. } => format!("Compare {}", op.symbol()),
        ExprKind::And(_) => "And".to_owned(),
        ExprKind::Or(_) => "Or".to_owned(),
        ExprKind::Call { function, .. } => format!("Call {function}"),
    };
    let _ = writeln!(out, "{pad}{label} @{}..{}", span.start, span.end);
    for child in expr.children() {
        render(child, indent + 1, out);
    }
}

fn ast(src: &str) -> String {
    let expr = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let mut out = format!("source:    {src}\ncanonical: {expr}\n");
    render(&expr, 0, &mut out);
    out
}

#[test]
fn ast_of_a_pull_request_condition() {
    insta::assert_snapshot!(ast(
        "github.event_name == 'pull_request' && !contains(github.event.pull_request.labels.*.name, 'skip-ci')"
    ));
}

#[test]
fn ast_of_precedence_and_flattening() {
    insta::assert_snapshot!(ast("a || b && !c == d < e || (f || g) && h"));
}

#[test]
fn ast_of_literals() {
    insta::assert_snapshot!(ast(
        "format('{0}{1}{2}{3}{4}', null, true, 0x1F == 0o17, 'it''s', -Infinity) || NaN || 2.5E-3"
    ));
}

#[test]
fn ast_of_indexes_and_filters() {
    insta::assert_snapshot!(ast(
        "steps['build-step'].outputs[ matrix.key ].*[0] || fromJSON(inputs.list)[*].name"
    ));
}

#[test]
fn ast_of_case_and_whitespace() {
    insta::assert_snapshot!(ast(
        "  case(\n  inputs.env == 'prod', 'production',\n  startsWith(github.ref, 'refs/tags/'), 'release',\n  'dev'\n)  "
    ));
}

#[test]
fn ast_of_a_template_and_a_condition() {
    let t =
        Template::parse("Deploy ${{ inputs.version }} to ${{ vars.ENV || 'staging' }}").unwrap();
    let mut out = String::new();
    for part in t.parts() {
        match part {
            gha_expr::TemplatePart::Literal { text, span } => {
                let _ = writeln!(out, "Literal {text:?} @{}..{}", span.start, span.end);
            }
            gha_expr::TemplatePart::Expr { expr, span } => {
                let _ = writeln!(out, "Expr @{}..{}", span.start, span.end);
                render(expr, 1, &mut out);
            }
        }
    }
    let c = Condition::parse("${{ github.ref == 'refs/heads/main' }}").unwrap();
    let _ = writeln!(out, "condition: {}", c.expr());
    render(c.expr(), 0, &mut out);
    insta::assert_snapshot!(out);
}

#[test]
fn error_messages() {
    let sources = [
        "",
        "1 <",
        "1 < )",
        "> 1",
        "github.()",
        "(1,",
        "1 2",
        "'unterminated",
        "\"double\"",
        "0xFZ",
        "-0xFF",
        "1.2.3",
        "foo.b@r",
        "foo.1",
        "null.foo",
        "'abc'[0]",
        "true(1)",
        "1 === 1",
        "1 & 1",
        "format('{0}', 1,)",
        "nosuch(1)",
        "false && nosuch()",
        "format()",
        "contains(1)",
        "toJSON(1, 2)",
        "case(true, 1, false, 2)",
        "a[*x]",
        "😊 Emoji!! (unicode)",
        "(a && b",
    ];
    let mut out = String::new();
    for src in sources {
        match parse(src) {
            Ok(expr) => {
                let _ = writeln!(out, "{src:?}\n  ok: {expr}");
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{src:?}\n  @{}..{} {}",
                    e.span.start, e.span.end, e.message
                );
            }
        }
    }
    let ctx = Object::new();
    let env = EvalEnv::new(&ctx);
    for src in [
        "format('{0', 1)",
        "format('{1}', 1)",
        "fromJSON('{\"a\": }')",
        "fromJSON('')",
        "case('yes', 1, 2)",
        "success()",
        "hashFiles('**/*.lock')",
    ] {
        let e = evaluate(&parse(src).unwrap(), &env).unwrap_err();
        let _ = writeln!(
            out,
            "{src:?}\n  eval @{}..{} {}",
            e.span.start, e.span.end, e.message
        );
    }
    let e = Template::parse("x ${{ 1 +").unwrap_err();
    let _ = writeln!(
        out,
        "template \"x ${{{{ 1 +\"\n  @{}..{} {}",
        e.span.start, e.span.end, e.message
    );
    let e = Template::parse("x ${{ 1 2 }}").unwrap_err();
    let _ = writeln!(
        out,
        "template \"x ${{{{ 1 2 }}}}\"\n  @{}..{} {}",
        e.span.start, e.span.end, e.message
    );
    insta::assert_snapshot!(out);
    let _ = Value::Null;
}
