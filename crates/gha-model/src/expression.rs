//! The one place gha-model talks to `gha-expr`: everything the model stores or exposes from
//! the expression language is re-exported here.
//!
//! ```
//! let t = gha_model::expression::Template::parse("${{ github.sha }}").unwrap();
//! assert!(!t.is_literal());
//! ```

pub use gha_expr::{
    Condition, Context, EvalEnv, Expr, Object, ParseError, Span as ExprSpan, Template,
    TemplatePart, Value, number_to_string,
};
