//! `strategy:` and matrix expansion, as GitHub does it.

use serde_json::{Map, Value};

use crate::diagnostic::codes;
use crate::reader::{Reader, is_single_expression};
use crate::span::{Span, Spanned};
use crate::value::{MaybeExpr, TemplateString};
use crate::yaml::{Node, NodeKind};

/// GitHub's limit on the number of jobs one matrix may generate.
pub const MAX_MATRIX_COMBINATIONS: usize = 256;

/// `jobs.<id>.strategy`.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  t:\n    runs-on: x\n    strategy:\n      fail-fast: false\n      max-parallel: 2\n      matrix:\n        os: [linux, mac]\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let s = wf.jobs[0].strategy.as_ref().unwrap();
/// assert_eq!(s.fail_fast.as_ref().unwrap().literal(), Some(&false));
/// assert_eq!(s.max_parallel.as_ref().unwrap().literal(), Some(&2.0));
/// assert_eq!(s.matrix.as_ref().unwrap().expand().unwrap().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Strategy {
    /// `matrix`.
    pub matrix: Option<Matrix>,
    /// `fail-fast` (GitHub's default is true).
    pub fail_fast: Option<MaybeExpr<bool>>,
    /// `max-parallel`.
    pub max_parallel: Option<MaybeExpr<f64>>,
    /// Where `strategy:` was written.
    pub span: Span,
}

/// `strategy.matrix`: either written out, or one expression evaluated at run time.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  t:\n    runs-on: x\n    strategy:\n      matrix: ${{ fromJSON(needs.a.outputs.m) }}\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let m = wf.jobs[0].strategy.as_ref().unwrap().matrix.as_ref().unwrap();
/// assert!(matches!(m, gha_model::Matrix::Expr(_)));
/// assert!(matches!(m.expand(), Err(gha_model::MatrixError::Deferred)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Matrix {
    /// `matrix: ${{ ... }}` — evaluated by the executor, then see [`Matrix::expand_with`].
    Expr(TemplateString),
    /// A written-out matrix.
    Map(MatrixMap),
}

/// A written-out matrix: vectors in key order, plus `include` and `exclude`.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  t:\n    runs-on: x\n    strategy:\n      matrix:\n        os: [a, b]\n        v: [1, 2]\n        exclude: [{os: a, v: 2}]\n        include: [{os: c, v: 9}]\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let gha_model::Matrix::Map(m) = wf.jobs[0].strategy.as_ref().unwrap().matrix.as_ref().unwrap() else { panic!() };
/// assert_eq!(m.vectors[0].key.value, "os");
/// assert!(m.include.is_some() && m.exclude.is_some());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixMap {
    /// The vectors (`key: [values]`), in file order.
    pub vectors: Vec<MatrixVector>,
    /// `include`.
    pub include: Option<MatrixRows>,
    /// `exclude`.
    pub exclude: Option<MatrixRows>,
    /// Where the matrix was written.
    pub span: Span,
}

/// One matrix vector: a key and its values (or an expression producing them).
///
/// ```
/// let v = gha_model::MatrixVector { key: gha_model::Spanned::new("os".into(), Default::default()), values: gha_model::MatrixValues::List(vec![]) };
/// assert_eq!(v.key.value, "os");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixVector {
    /// The key.
    pub key: Spanned<String>,
    /// The values.
    pub values: MatrixValues,
}

/// Values of a matrix vector.
#[derive(Clone, Debug, PartialEq)]
pub enum MatrixValues {
    /// Written out (each value is any JSON-like YAML value).
    List(Vec<Spanned<Value>>),
    /// `key: ${{ ... }}`.
    Expr(TemplateString),
}

/// `include` or `exclude` rows.
#[derive(Clone, Debug, PartialEq)]
pub enum MatrixRows {
    /// Written out; each row is a mapping.
    List(Vec<Spanned<Map<String, Value>>>),
    /// `include: ${{ ... }}`.
    Expr(TemplateString),
}

/// One job instance of a matrix: key/value pairs in GitHub's order.
///
/// ```
/// let combos = gha_model::Matrix::from_json(&serde_json::json!({"os": ["a", "b"], "v": [1]})).unwrap().expand().unwrap();
/// assert_eq!(combos[1].values["os"], "b");
/// assert_eq!(combos[1].values["v"], 1);
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MatrixCombination {
    /// `matrix.<key>` values.
    pub values: Map<String, Value>,
}

impl MatrixCombination {
    /// The combination as the `matrix` context value for `gha-expr`.
    ///
    /// ```
    /// let c = gha_model::MatrixCombination { values: serde_json::json!({"os": "linux"}).as_object().unwrap().clone() };
    /// assert_eq!(c.to_value().to_json(), serde_json::json!({"os": "linux"}));
    /// ```
    pub fn to_value(&self) -> crate::expression::Value {
        crate::expression::Value::from(Value::Object(self.values.clone()))
    }
}

/// Why a matrix cannot be expanded (yet).
///
/// ```
/// let m = gha_model::Matrix::from_json(&serde_json::json!({"a": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17], "b": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]})).unwrap();
/// assert!(matches!(m.expand(), Err(gha_model::MatrixError::TooManyCombinations(272))));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum MatrixError {
    /// Part of the matrix is an expression; evaluate with [`Matrix::expand_with`].
    Deferred,
    /// More than [`MAX_MATRIX_COMBINATIONS`] combinations.
    TooManyCombinations(usize),
    /// The (evaluated) matrix has the wrong shape.
    Invalid(String),
}

impl std::fmt::Display for MatrixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatrixError::Deferred => {
                f.write_str("the matrix contains expressions that must be evaluated first")
            }
            MatrixError::TooManyCombinations(n) => write!(
                f,
                "Strategy produced more than {MAX_MATRIX_COMBINATIONS} jobs ({n}); a matrix can generate at most {MAX_MATRIX_COMBINATIONS} jobs per workflow run"
            ),
            MatrixError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for MatrixError {}

impl Matrix {
    /// Build a matrix from an evaluated JSON object (as a `${{ fromJSON(...) }}` matrix yields).
    ///
    /// ```
    /// let m = gha_model::Matrix::from_json(&serde_json::json!({"include": [{"a": 1}, {"a": 2}]})).unwrap();
    /// assert_eq!(m.expand().unwrap().len(), 2);
    /// ```
    pub fn from_json(value: &Value) -> Result<Matrix, MatrixError> {
        let Value::Object(obj) = value else {
            return Err(MatrixError::Invalid(format!(
                "a matrix must be an object, but found {value}"
            )));
        };
        let mut m = MatrixMap {
            vectors: Vec::new(),
            include: None,
            exclude: None,
            span: Span::default(),
        };
        for (k, v) in obj {
            match k.as_str() {
                "include" | "exclude" => {
                    let rows = rows_from_json(k, v)?;
                    if k == "include" {
                        m.include = Some(rows);
                    } else {
                        m.exclude = Some(rows);
                    }
                }
                _ => {
                    let Value::Array(items) = v else {
                        return Err(MatrixError::Invalid(format!(
                            "matrix vector \"{k}\" must be an array, but found {v}"
                        )));
                    };
                    m.vectors.push(MatrixVector {
                        key: Spanned::new(k.clone(), Span::default()),
                        values: MatrixValues::List(
                            items
                                .iter()
                                .map(|v| Spanned::new(v.clone(), Span::default()))
                                .collect(),
                        ),
                    });
                }
            }
        }
        Ok(Matrix::Map(m))
    }

    /// Whether expanding needs expressions evaluated first.
    ///
    /// ```
    /// assert!(!gha_model::Matrix::from_json(&serde_json::json!({"a": [1]})).unwrap().is_deferred());
    /// ```
    pub fn is_deferred(&self) -> bool {
        match self {
            Matrix::Expr(_) => true,
            Matrix::Map(m) => {
                m.vectors
                    .iter()
                    .any(|v| matches!(v.values, MatrixValues::Expr(_)))
                    || matches!(m.include, Some(MatrixRows::Expr(_)))
                    || matches!(m.exclude, Some(MatrixRows::Expr(_)))
            }
        }
    }

    /// Expand into job instances: the cross product of the vectors in key order, minus
    /// `exclude`d combinations, then `include` rows merged into every combination whose
    /// original values they do not contradict (or added as new combinations).
    ///
    /// ```
    /// let m = gha_model::Matrix::from_json(&serde_json::json!({
    ///     "fruit": ["apple", "pear"], "animal": ["cat", "dog"],
    ///     "include": [{"color": "green"}, {"color": "pink", "animal": "cat"},
    ///                 {"fruit": "apple", "shape": "circle"}, {"fruit": "banana"},
    ///                 {"fruit": "banana", "animal": "cat"}]
    /// })).unwrap();
    /// let combos: Vec<String> = m.expand().unwrap().iter().map(|c| serde_json::to_string(&c.values).unwrap()).collect();
    /// assert_eq!(combos, [
    ///     r#"{"fruit":"apple","animal":"cat","color":"pink","shape":"circle"}"#,
    ///     r#"{"fruit":"apple","animal":"dog","color":"green","shape":"circle"}"#,
    ///     r#"{"fruit":"pear","animal":"cat","color":"pink"}"#,
    ///     r#"{"fruit":"pear","animal":"dog","color":"green"}"#,
    ///     r#"{"fruit":"banana"}"#,
    ///     r#"{"fruit":"banana","animal":"cat"}"#,
    /// ]);
    /// ```
    pub fn expand(&self) -> Result<Vec<MatrixCombination>, MatrixError> {
        self.expand_with(&mut |_| Err(MatrixError::Deferred))
    }

    /// Expand, calling `evaluate` for every part written as an expression (the whole matrix,
    /// a vector, `include` or `exclude`). The callback returns the evaluated JSON value.
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml(
    ///     "on: push\njobs:\n  t:\n    runs-on: x\n    strategy:\n      matrix:\n        os: ${{ fromJSON(inputs.oses) }}\n    steps: [{run: y}]\n",
    /// ).unwrap();
    /// let m = wf.jobs[0].strategy.as_ref().unwrap().matrix.as_ref().unwrap();
    /// let combos = m.expand_with(&mut |_expr| Ok(serde_json::json!(["linux", "windows"]))).unwrap();
    /// assert_eq!(combos.len(), 2);
    /// ```
    pub fn expand_with(
        &self,
        evaluate: &mut dyn FnMut(&TemplateString) -> Result<Value, MatrixError>,
    ) -> Result<Vec<MatrixCombination>, MatrixError> {
        let map = match self {
            Matrix::Expr(t) => {
                let v = evaluate(t)?;
                return match Matrix::from_json(&v)? {
                    Matrix::Map(m) => expand_map(&m, evaluate),
                    Matrix::Expr(_) => Err(MatrixError::Deferred),
                };
            }
            Matrix::Map(m) => m,
        };
        expand_map(map, evaluate)
    }
}

fn rows_from_json(key: &str, v: &Value) -> Result<MatrixRows, MatrixError> {
    let rows = match v {
        Value::Array(items) => items,
        Value::Object(_) => std::slice::from_ref(v),
        _ => {
            return Err(MatrixError::Invalid(format!(
                "matrix \"{key}\" must be an array of objects, but found {v}"
            )));
        }
    };
    let mut out = Vec::new();
    for row in rows {
        let Value::Object(o) = row else {
            return Err(MatrixError::Invalid(format!(
                "matrix \"{key}\" entries must be objects, but found {row}"
            )));
        };
        out.push(Spanned::new(o.clone(), Span::default()));
    }
    Ok(MatrixRows::List(out))
}

fn expand_map(
    m: &MatrixMap,
    evaluate: &mut dyn FnMut(&TemplateString) -> Result<Value, MatrixError>,
) -> Result<Vec<MatrixCombination>, MatrixError> {
    // 1. Resolve vectors.
    let mut vectors: Vec<(String, Vec<Value>)> = Vec::with_capacity(m.vectors.len());
    for v in &m.vectors {
        let values = match &v.values {
            MatrixValues::List(items) => items.iter().map(|i| i.value.clone()).collect(),
            MatrixValues::Expr(t) => match evaluate(t)? {
                Value::Array(a) => a,
                other => {
                    return Err(MatrixError::Invalid(format!(
                        "matrix vector \"{}\" must evaluate to an array, but found {other}",
                        v.key.value
                    )));
                }
            },
        };
        if values.is_empty() {
            return Err(MatrixError::Invalid(format!(
                "Matrix vector '{}' does not contain any values",
                v.key.value
            )));
        }
        vectors.push((v.key.value.clone(), values));
    }
    let resolve_rows = |rows: &Option<MatrixRows>,
                        key: &str,
                        evaluate: &mut dyn FnMut(&TemplateString) -> Result<Value, MatrixError>|
     -> Result<Vec<Map<String, Value>>, MatrixError> {
        match rows {
            None => Ok(Vec::new()),
            Some(MatrixRows::List(l)) => Ok(l.iter().map(|r| r.value.clone()).collect()),
            Some(MatrixRows::Expr(t)) => match rows_from_json(key, &evaluate(t)?)? {
                MatrixRows::List(l) => Ok(l.into_iter().map(|r| r.value).collect()),
                MatrixRows::Expr(_) => Err(MatrixError::Deferred),
            },
        }
    };
    let exclude = resolve_rows(&m.exclude, "exclude", evaluate)?;
    let include = resolve_rows(&m.include, "include", evaluate)?;

    // 2. Cross product, in key order (the last key varies fastest).
    let total: usize = vectors
        .iter()
        .try_fold(1usize, |acc, (_, v)| acc.checked_mul(v.len()))
        .unwrap_or(usize::MAX);
    let mut combos: Vec<Map<String, Value>> = Vec::new();
    if !vectors.is_empty() {
        // Exclusion can shrink a large product, so count what survives while generating,
        // but refuse absurd sizes outright.
        if total > MAX_MATRIX_COMBINATIONS * 1024 {
            return Err(MatrixError::TooManyCombinations(total));
        }
        let mut idx = vec![0usize; vectors.len()];
        'outer: loop {
            let mut c = Map::new();
            for (i, (k, vals)) in vectors.iter().enumerate() {
                c.insert(k.clone(), vals[idx[i]].clone());
            }
            // 3. exclude: a row removes every combination matching all of its keys.
            if !exclude.iter().any(|row| row_matches(row, &c)) {
                combos.push(c);
            }
            let mut i = vectors.len();
            loop {
                if i == 0 {
                    break 'outer;
                }
                i -= 1;
                idx[i] += 1;
                if idx[i] < vectors[i].1.len() {
                    break;
                }
                idx[i] = 0;
            }
        }
    }

    // 4. include.
    let original_keys: Vec<&str> = vectors.iter().map(|(k, _)| k.as_str()).collect();
    let base_len = combos.len();
    let mut extra: Vec<Map<String, Value>> = Vec::new();
    for row in &include {
        let mut matched = false;
        for c in combos.iter_mut().take(base_len) {
            let compatible = row.iter().all(|(k, v)| {
                !original_keys.contains(&k.as_str()) || get_ci(c, k).is_none_or(|cv| cv == v)
            });
            if compatible {
                matched = true;
                for (k, v) in row {
                    if !original_keys.contains(&k.as_str()) {
                        c.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        if !matched {
            extra.push(row.clone());
        }
    }
    combos.extend(extra);
    if combos.len() > MAX_MATRIX_COMBINATIONS {
        return Err(MatrixError::TooManyCombinations(combos.len()));
    }
    Ok(combos
        .into_iter()
        .map(|values| MatrixCombination { values })
        .collect())
}

/// Whether every key of `row` is in `c` with an equal value (object values match when the
/// row's object is a subset, as GitHub's exclude does).
fn row_matches(row: &Map<String, Value>, c: &Map<String, Value>) -> bool {
    row.iter()
        .all(|(k, v)| get_ci(c, k).is_some_and(|cv| value_matches(v, cv)))
}

/// Matrix keys are case-insensitive, like every context property.
fn get_ci<'m>(m: &'m Map<String, Value>, k: &str) -> Option<&'m Value> {
    m.get(k).or_else(|| {
        m.iter()
            .find(|(mk, _)| mk.eq_ignore_ascii_case(k))
            .map(|(_, v)| v)
    })
}

fn value_matches(pattern: &Value, v: &Value) -> bool {
    match (pattern, v) {
        (Value::Object(p), Value::Object(o)) => p
            .iter()
            .all(|(k, pv)| o.get(k).is_some_and(|ov| value_matches(pv, ov))),
        _ => pattern == v,
    }
}

pub(crate) fn read_strategy(r: &mut Reader<'_>, node: &Node) -> Option<Strategy> {
    if let Some(s) = node.as_scalar()
        && is_single_expression(&s.value)
    {
        // `strategy: ${{ ... }}` is not supported by GitHub.
        r.error(
            node.span,
            codes::TYPE,
            "\"strategy\" must be a mapping, not an expression",
        );
        return None;
    }
    let entries = r.mapping(node, "strategy")?;
    let mut s = Strategy {
        matrix: None,
        fail_fast: None,
        max_parallel: None,
        span: node.span,
    };
    for (k, e) in r.known_entries(
        entries,
        &["matrix", "fail-fast", "max-parallel"],
        "\"strategy\" section",
    ) {
        match k {
            "matrix" => s.matrix = read_matrix(r, &e.value),
            "fail-fast" => s.fail_fast = r.bool_or_expr(&e.value, k),
            _ => {
                s.max_parallel = r.number_or_expr(&e.value, k);
                if let Some(MaybeExpr::Value(n)) = &s.max_parallel
                    && (n.value < 0.0 || n.value.fract() != 0.0)
                {
                    r.error(
                        n.span,
                        codes::INVALID_VALUE,
                        "\"max-parallel\" must be a non-negative integer",
                    );
                }
            }
        }
    }
    Some(s)
}

fn read_matrix(r: &mut Reader<'_>, node: &Node) -> Option<Matrix> {
    if let Some(s) = node.as_scalar() {
        if is_single_expression(&s.value) {
            return r.template(node, "matrix").map(Matrix::Expr);
        }
        r.error(
            node.span,
            codes::MATRIX,
            format!(
                "\"matrix\" must be a mapping or a ${{{{ }}}} expression, but found {}",
                node.type_name()
            ),
        );
        return None;
    }
    let entries = r.mapping(node, "matrix")?;
    r.check_case_insensitive_duplicates(entries, "matrix");
    let mut m = MatrixMap {
        vectors: Vec::new(),
        include: None,
        exclude: None,
        span: node.span,
    };
    for e in entries {
        let Some(k) = e.key.as_str() else { continue };
        match k {
            "include" | "exclude" => {
                let rows = read_rows(r, &e.value, k);
                if k == "include" {
                    m.include = rows;
                } else {
                    m.exclude = rows;
                }
            }
            _ => {
                let key = Spanned::new(k.to_owned(), e.key.span);
                let values = match &e.value.kind {
                    NodeKind::Sequence(items) => {
                        if items.is_empty() {
                            r.error(
                                e.value.span,
                                codes::MATRIX,
                                format!("Matrix vector '{k}' does not contain any values"),
                            );
                        }
                        MatrixValues::List(
                            items
                                .iter()
                                .map(|i| Spanned::new(i.to_json(), i.span))
                                .collect(),
                        )
                    }
                    NodeKind::Scalar(s) if is_single_expression(&s.value) => {
                        match r.template(&e.value, k) {
                            Some(t) => MatrixValues::Expr(t),
                            None => continue,
                        }
                    }
                    _ => {
                        r.error(
                            e.value.span,
                            codes::MATRIX,
                            format!(
                                "Unexpected value for matrix vector '{k}': expected a sequence or a ${{{{ }}}} expression, but found {}",
                                e.value.type_name()
                            ),
                        );
                        continue;
                    }
                };
                m.vectors.push(MatrixVector { key, values });
            }
        }
    }
    if m.vectors.is_empty() && m.include.is_none() {
        r.error(
            node.span,
            codes::MATRIX,
            "Matrix must define at least one vector",
        );
    }
    validate_exclude(r, &m, node.get("exclude"));
    // Check the size when everything is known.
    let matrix = Matrix::Map(m);
    if !matrix.is_deferred()
        && let Err(MatrixError::TooManyCombinations(n)) = matrix.expand()
    {
        r.error(
            node.span,
            codes::MATRIX,
            MatrixError::TooManyCombinations(n).to_string(),
        );
    }
    Some(matrix)
}

fn read_rows(r: &mut Reader<'_>, node: &Node, key: &str) -> Option<MatrixRows> {
    match &node.kind {
        NodeKind::Scalar(s) if is_single_expression(&s.value) => {
            r.template(node, key).map(MatrixRows::Expr)
        }
        NodeKind::Sequence(items) => {
            let mut rows = Vec::new();
            for item in items {
                if let Some(s) = item.as_scalar()
                    && is_single_expression(&s.value)
                {
                    // An expression row: keep as a string-valued placeholder GitHub evaluates.
                    r.error(
                        item.span,
                        codes::MATRIX,
                        format!("\"{key}\" items must be mappings, not expressions"),
                    );
                    continue;
                }
                let Some(entries) = r.mapping(item, key) else {
                    continue;
                };
                r.check_case_insensitive_duplicates(entries, key);
                let mut row = Map::new();
                for e in entries {
                    if let Some(k) = e.key.as_str() {
                        row.insert(k.to_owned(), e.value.to_json());
                    }
                }
                rows.push(Spanned::new(row, item.span));
            }
            Some(MatrixRows::List(rows))
        }
        _ => {
            r.error(
                node.span,
                codes::MATRIX,
                format!("\"{key}\" must be a sequence of mappings or a ${{{{ }}}} expression, but found {}", node.type_name()),
            );
            None
        }
    }
}

/// `exclude` rows may only name keys of the matrix, with values the matrix has.
fn validate_exclude(r: &mut Reader<'_>, m: &MatrixMap, exclude_node: Option<&Node>) {
    // The span of `exclude[i].<key>`'s value, for precise locations.
    let value_span = |i: usize, k: &str, fallback: Span| {
        exclude_node
            .and_then(|n| n.as_sequence())
            .and_then(|rows| rows.get(i))
            .and_then(|row| row.get(k))
            .map_or(fallback, |v| v.span)
    };
    let Some(MatrixRows::List(rows)) = &m.exclude else {
        return;
    };
    if m.vectors
        .iter()
        .any(|v| matches!(v.values, MatrixValues::Expr(_)))
        || matches!(m.include, Some(MatrixRows::Expr(_)))
    {
        return;
    }
    let has_expr_value = m.vectors.iter().any(|v| match &v.values {
        MatrixValues::List(l) => l.iter().any(|x| x.value.to_string().contains("${{")),
        MatrixValues::Expr(_) => true,
    });
    let mut known: Vec<&str> = m.vectors.iter().map(|v| v.key.value.as_str()).collect();
    if let Some(MatrixRows::List(inc)) = &m.include {
        for row in inc {
            for k in row.value.keys() {
                if !known.contains(&k.as_str()) {
                    known.push(k);
                }
            }
        }
    }
    for (i, row) in rows.iter().enumerate() {
        for (k, v) in &row.value {
            if !known.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                let mut names: Vec<&str> = known.clone();
                names.sort_unstable();
                r.error(
                    exclude_node
                        .and_then(|n| n.as_sequence())
                        .and_then(|rows| rows.get(i))
                        .and_then(|row| row.as_mapping())
                        .and_then(|e| e.iter().find(|e| e.key.as_str() == Some(k.as_str())))
                        .map_or(row.span, |e| e.key.span),
                    codes::MATRIX,
                    format!(
                        "\"{k}\" in \"exclude\" section does not exist in matrix. available matrix configurations are {}",
                        names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
                    ),
                );
                continue;
            }
            if has_expr_value || v.to_string().contains("${{") {
                continue;
            }
            let Some(vector) = m
                .vectors
                .iter()
                .find(|vec| vec.key.value.eq_ignore_ascii_case(k))
            else {
                continue;
            };
            let MatrixValues::List(values) = &vector.values else {
                continue;
            };
            let in_include = matches!(&m.include, Some(MatrixRows::List(inc)) if inc.iter().any(|r| r.value.get(k).is_some_and(|iv| value_matches(v, iv))));
            if !values.iter().any(|x| value_matches(v, &x.value)) && !in_include {
                // GitHub accepts an exclude that matches nothing; it is still a likely mistake.
                r.warning(
                    value_span(i, k, row.span),
                    codes::MATRIX,
                    format!(
                        "value {v} in \"exclude\" does not match in matrix \"{k}\" combinations. possible values are {}",
                        values.iter().map(|x| x.value.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
    }
}
