//! Events from `granit-parser` to the [`Node`] tree, with GitHub's YAML rules.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle as GScalarStyle};

use super::node::{Entry, Node, NodeKind, Scalar, ScalarStyle, ScalarValue};
use crate::diagnostic::{Diagnostic, codes};
use crate::span::{Position, Span};

/// Resource limits applied while reading YAML (a defence against alias bombs and deep nesting).
///
/// ```
/// let limits = gha_model::yaml::LoadLimits { max_nodes: 10, ..Default::default() };
/// let errs = gha_model::yaml::parse_with_limits("a: &a [1, 2, 3]\nb: [*a, *a, *a, *a]\n", &limits).unwrap_err();
/// assert!(errs[0].message.contains("too many"));
/// ```
#[derive(Clone, Debug)]
pub struct LoadLimits {
    /// Maximum number of nodes in the tree, counting every node an alias copies.
    pub max_nodes: usize,
    /// Maximum nesting depth of sequences and mappings (GitHub's is 50).
    pub max_depth: usize,
    /// Maximum file size in characters (`None`: unlimited).
    pub max_file_size: Option<usize>,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_nodes: 1_000_000,
            max_depth: 50,
            max_file_size: None,
        }
    }
}

/// Parse YAML text into a node tree. Errors (syntax, duplicate keys, merge keys, unknown or
/// recursive anchors) come back as located diagnostics; warnings are dropped.
///
/// An empty document parses to a null scalar.
///
/// ```
/// let errs = gha_model::yaml::parse("a: 1\na: 2\n").unwrap_err();
/// assert_eq!(errs[0].code, "duplicate-key");
/// assert_eq!(errs[0].span.start_pos.line, 2);
/// assert_eq!(errs[0].notes[0].span.unwrap().start_pos.line, 1);
/// ```
pub fn parse(src: &str) -> Result<Node, Vec<Diagnostic>> {
    parse_with_limits(src, &LoadLimits::default())
}

/// [`parse`] with explicit resource limits.
pub fn parse_with_limits(src: &str, limits: &LoadLimits) -> Result<Node, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let node = load(src, limits, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags.into_iter().filter(Diagnostic::is_error).collect());
    }
    Ok(node.unwrap_or_else(|| Node {
        kind: NodeKind::Scalar(Scalar {
            value: String::new(),
            style: ScalarStyle::Plain,
            tag: None,
        }),
        span: Span::default(),
        alias: None,
    }))
}

fn convert_span(s: &granit_parser::Span, src: &str) -> Span {
    let range = s.byte_range().unwrap_or(0..0);
    let end = range.end.min(src.len());
    let start = range.start.min(end);
    Span {
        start,
        end,
        start_pos: Position {
            line: s.start.line() as u32,
            column: s.start.col() as u32 + 1,
        },
        end_pos: Position {
            line: s.end.line() as u32,
            column: s.end.col() as u32 + 1,
        },
    }
}

enum Frame {
    Sequence {
        items: Vec<Node>,
        start: Span,
        anchor: usize,
    },
    Mapping {
        entries: Vec<Entry>,
        key: Option<Node>,
        start: Span,
        anchor: usize,
    },
}

struct AnchorInfo {
    name: String,
    span: Span,
    used: bool,
}

struct Loader<'a> {
    src: &'a str,
    limits: &'a LoadLimits,
    diags: &'a mut Vec<Diagnostic>,
    stack: Vec<Frame>,
    /// anchor id -> (node, node count)
    anchored: HashMap<usize, (Node, usize)>,
    anchor_info: HashMap<usize, AnchorInfo>,
    /// Ids of anchors whose collection is still open (for recursion detection).
    last_scalar_anchor: Option<(usize, Node)>,
    root: Option<Node>,
    documents: usize,
    node_count: usize,
    failed: bool,
}

/// Load `src` into a node tree, appending diagnostics. Returns `None` for an empty stream or
/// a fatal syntax error.
pub(crate) fn load(src: &str, limits: &LoadLimits, diags: &mut Vec<Diagnostic>) -> Option<Node> {
    let options = granit_parser::options! {
        emit_anchor_events: true,
        emit_unresolved_aliases: true,
        block_nesting_limit: limits.max_depth.saturating_add(8).max(64),
        flow_nesting_limit: limits.max_depth.saturating_add(8).max(64),
        // As libyaml and GitHub: a block scalar ending the file gets no added line feed.
        block_scalar_eof_without_line_feed: true,
    };
    if let Some(max) = limits.max_file_size {
        let chars = src.chars().count();
        if chars > max {
            diags.push(Diagnostic::error(
                Span::default(),
                codes::YAML_SYNTAX,
                format!("The maximum file size of {max} characters has been exceeded"),
            ));
            return None;
        }
    }
    let parser = Parser::new_from_str_with_options(src, options);
    let mut loader = Loader {
        src,
        limits,
        diags,
        stack: Vec::new(),
        anchored: HashMap::new(),
        anchor_info: HashMap::new(),
        last_scalar_anchor: None,
        root: None,
        documents: 0,
        node_count: 0,
        failed: false,
    };
    for item in parser {
        match item {
            Ok((event, span)) => {
                let span = convert_span(&span, src);
                loader.event(event, span);
                if loader.failed {
                    break;
                }
            }
            Err(e) => {
                let m = e.marker();
                let offset = m.byte_offset().unwrap_or(0).min(src.len());
                let pos = Position {
                    line: m.line() as u32,
                    column: m.col() as u32 + 1,
                };
                loader.diags.push(Diagnostic::error(
                    Span {
                        start: offset,
                        end: offset,
                        start_pos: pos,
                        end_pos: pos,
                    },
                    codes::YAML_SYNTAX,
                    format!("could not parse as YAML: {}", e.info()),
                ));
                return None;
            }
        }
    }
    if loader.failed {
        return None;
    }
    loader.report_unused_anchors();
    loader.root
}

impl Loader<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) {
        // An anchor event follows its node; for scalars the node is already complete.
        if !matches!(event, Event::Anchor(..)) {
            self.last_scalar_anchor = None;
        }
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    self.diags.push(Diagnostic::error(
                        span,
                        codes::YAML_SYNTAX,
                        "multiple YAML documents in one file are not supported",
                    ));
                    self.failed = true;
                }
                self.anchored.clear();
            }
            Event::Anchor(id, name) => {
                // `span` covers `&name`.
                self.anchor_info.insert(
                    id,
                    AnchorInfo {
                        name: name.into_owned(),
                        span,
                        used: false,
                    },
                );
                if let Some((aid, node)) = self.last_scalar_anchor.take()
                    && aid == id
                {
                    self.anchored.insert(id, (node, 1));
                }
            }
            Event::Alias(id) => self.alias(id, span),
            Event::UnresolvedAlias(name) => {
                self.diags.push(Diagnostic::error(
                    span,
                    codes::ANCHOR,
                    format!("unknown anchor \"{name}\" referenced"),
                ));
                self.push_node(null_node(span));
            }
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    GScalarStyle::Plain => ScalarStyle::Plain,
                    GScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    GScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    GScalarStyle::Literal => ScalarStyle::Literal,
                    GScalarStyle::Folded => ScalarStyle::Folded,
                };
                let tag = tag.map(|t| {
                    t.core_suffix()
                        .map(str::to_owned)
                        .unwrap_or_else(|| t.original())
                });
                let span = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    self.block_scalar_span(span)
                } else {
                    span
                };
                let node = Node {
                    kind: NodeKind::Scalar(Scalar {
                        value: value.into_owned(),
                        style,
                        tag,
                    }),
                    span,
                    alias: None,
                };
                self.check_scalar_tag(&node);
                if anchor > 0 {
                    self.last_scalar_anchor = Some((anchor, node.clone()));
                }
                self.count(1, span);
                self.push_node(node);
            }
            Event::SequenceStart(_, anchor, _) => {
                self.count(1, span);
                self.stack.push(Frame::Sequence {
                    items: Vec::new(),
                    start: span,
                    anchor,
                });
                self.check_depth(span);
            }
            Event::MappingStart(_, anchor, _) => {
                self.count(1, span);
                self.stack.push(Frame::Mapping {
                    entries: Vec::new(),
                    key: None,
                    start: span,
                    anchor,
                });
                self.check_depth(span);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let (kind, start, anchor, last_end) = match frame {
                    Frame::Sequence {
                        items,
                        start,
                        anchor,
                    } => {
                        let last = items.last().map(|n| n.alias.unwrap_or(n.span));
                        (NodeKind::Sequence(items), start, anchor, last)
                    }
                    Frame::Mapping {
                        entries,
                        start,
                        anchor,
                        ..
                    } => {
                        let last = entries
                            .last()
                            .map(|e| e.value.alias.unwrap_or(e.value.span));
                        (NodeKind::Mapping(entries), start, anchor, last)
                    }
                };
                let end = match last_end {
                    Some(l) if l.end >= span.end || span.end > l.end => {
                        // Block collections end at their last child; flow ones at `]`/`}`.
                        if self.src.as_bytes().get(span.start) == Some(&b']')
                            || self.src.as_bytes().get(span.start) == Some(&b'}')
                        {
                            span
                        } else {
                            l
                        }
                    }
                    _ => span,
                };
                let node = Node {
                    kind,
                    span: start.to(end),
                    alias: None,
                };
                if anchor > 0 {
                    let size = count_nodes(&node);
                    self.anchored.insert(anchor, (node.clone(), size));
                }
                self.push_node(node);
            }
            _ => {}
        }
    }

    /// GitHub reads the core schema only: `!!str`, `!!bool`, `!!int`, `!!float` and `!!null` (whose
    /// value must then have that type). Other tags are rejected.
    fn check_scalar_tag(&mut self, node: &Node) {
        let NodeKind::Scalar(s) = &node.kind else {
            return;
        };
        let Some(tag) = &s.tag else { return };
        let plain = Scalar {
            value: s.value.clone(),
            style: ScalarStyle::Plain,
            tag: None,
        };
        let ok = match tag.as_str() {
            "str" | "!" => true,
            "bool" => matches!(plain.resolve(), ScalarValue::Bool(_)),
            "int" => matches!(plain.resolve(), ScalarValue::Int(_)),
            "float" => matches!(plain.resolve(), ScalarValue::Int(_) | ScalarValue::Float(_)),
            "null" => matches!(plain.resolve(), ScalarValue::Null),
            other => {
                let full = if other.starts_with('!') {
                    other.to_owned()
                } else {
                    format!("tag:yaml.org,2002:{other}")
                };
                self.diags.push(Diagnostic::error(
                    node.span,
                    codes::TAG,
                    format!("Unexpected tag '{full}'"),
                ));
                return;
            }
        };
        if tag != "str" && tag != "!" && s.style != ScalarStyle::Plain {
            self.diags.push(Diagnostic::error(
                node.span,
                codes::TAG,
                format!(
                    "The scalar style '{:?}' on line {} and column {} is not valid with the tag 'tag:yaml.org,2002:{tag}'",
                    s.style, node.span.start_pos.line, node.span.start_pos.column
                ),
            ));
            return;
        }
        if !ok {
            self.diags.push(Diagnostic::error(
                node.span,
                codes::TAG,
                format!(
                    "The value '{}' on line {} and column {} is invalid for the type 'tag:yaml.org,2002:{tag}'",
                    s.value, node.span.start_pos.line, node.span.start_pos.column
                ),
            ));
        }
    }

    /// Widen a block scalar's span to start at its `|` / `>` header when the parser's span
    /// starts at the content.
    fn block_scalar_span(&self, span: Span) -> Span {
        let before = &self.src[..span.start.min(self.src.len())];
        if before.ends_with('|') || before.ends_with('>') {
            return span;
        }
        let trimmed = before.trim_end();
        let line_start = trimmed.rfind('\n').map_or(0, |i| i + 1);
        let line = &trimmed[line_start..];
        // The header is the last `|`/`>` token of that line (before any comment).
        let code = line.split(" #").next().unwrap_or(line);
        let Some(rel) = code.rfind(['|', '>']) else {
            return span;
        };
        let header_token = &code[rel..];
        let header_ok = header_token[1..]
            .trim_end()
            .chars()
            .all(|c| matches!(c, '+' | '-' | '0'..='9'));
        let preceded = rel == 0 || code[..rel].ends_with([' ', '\t', ':', '-']);
        if !header_ok || !preceded {
            return span;
        }
        let start = line_start + rel;
        let col = code[..rel].chars().count() as u32 + 1;
        let line_no = span
            .start_pos
            .line
            .saturating_sub(self.src[start..span.start].matches('\n').count() as u32);
        Span {
            start,
            start_pos: Position {
                line: line_no,
                column: col,
            },
            ..span
        }
    }

    fn check_depth(&mut self, span: Span) {
        if self.stack.len() > self.limits.max_depth && !self.failed {
            self.diags.push(Diagnostic::error(
                span,
                codes::YAML_SYNTAX,
                format!(
                    "Maximum object depth exceeded (more than {} nested mappings and sequences)",
                    self.limits.max_depth
                ),
            ));
            self.failed = true;
        }
    }

    fn count(&mut self, n: usize, span: Span) {
        self.node_count += n;
        if self.node_count > self.limits.max_nodes && !self.failed {
            self.diags.push(Diagnostic::error(
                span,
                codes::YAML_SYNTAX,
                format!(
                    "too many YAML nodes (more than {}), e.g. through aliases",
                    self.limits.max_nodes
                ),
            ));
            self.failed = true;
        }
    }

    fn alias(&mut self, id: usize, span: Span) {
        if let Some(info) = self.anchor_info.get_mut(&id) {
            info.used = true;
        }
        let open = self.stack.iter().any(|f| match f {
            Frame::Sequence { anchor, .. } | Frame::Mapping { anchor, .. } => *anchor == id,
        });
        if open {
            let (name, def) = self
                .anchor_info
                .get(&id)
                .map(|i| (i.name.clone(), i.span))
                .unwrap_or_default();
            self.diags.push(
                Diagnostic::error(
                    span,
                    codes::ANCHOR,
                    format!(
                        "recursive alias \"{name}\" is found. anchor was declared at line:{}, column:{}",
                        def.start_pos.line, def.start_pos.column
                    ),
                )
                .with_note(Some(def), "anchor declared here"),
            );
            self.push_node(null_node(span));
            return;
        }
        match self.anchored.get(&id) {
            Some((node, size)) => {
                let mut node = node.clone();
                node.alias = Some(span);
                let size = *size;
                self.count(size, span);
                self.push_node(node);
            }
            None => {
                self.diags.push(Diagnostic::error(
                    span,
                    codes::ANCHOR,
                    "alias refers to an anchor that is not defined yet",
                ));
                self.push_node(null_node(span));
            }
        }
    }

    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                None => {
                    let mut report = None;
                    match &node.kind {
                        NodeKind::Scalar(s) => {
                            if s.value == "<<" && s.style == ScalarStyle::Plain {
                                report = Some(Diagnostic::error(
                                    node.span,
                                    codes::MERGE_KEY,
                                    "GitHub Actions does not support YAML merge key \"<<\"",
                                ));
                            } else if let Some(prev) = entries
                                .iter()
                                .find(|e| e.key.as_str() == Some(s.value.as_str()))
                                .map(|e| &e.key.span)
                            {
                                report = Some(
                                    Diagnostic::error(
                                        node.span,
                                        codes::DUPLICATE_KEY,
                                        format!(
                                            "key \"{}\" is duplicated. previously defined at line:{},col:{}",
                                            s.value, prev.start_pos.line, prev.start_pos.column
                                        ),
                                    )
                                    .with_note(Some(*prev), "previously defined here"),
                                );
                            }
                        }
                        _ => {
                            report = Some(Diagnostic::error(
                                node.span,
                                codes::TYPE,
                                "a mapping key must be a string, not a sequence or mapping",
                            ));
                        }
                    }
                    *key = Some(node);
                    if let Some(d) = report {
                        self.diags.push(d);
                        // Keep the key so the value is consumed, but mark it to be dropped.
                        if let Some(k) = key.as_mut() {
                            k.alias = k.alias.or(Some(Span {
                                start: usize::MAX,
                                ..Span::default()
                            }));
                        }
                    }
                }
                Some(k) => {
                    let dropped = k.alias.is_some_and(|a| a.start == usize::MAX);
                    if !dropped {
                        entries.push(Entry {
                            key: k,
                            value: node,
                        });
                    }
                }
            },
        }
    }

    fn report_unused_anchors(&mut self) {
        let mut unused: Vec<&AnchorInfo> = self.anchor_info.values().filter(|a| !a.used).collect();
        unused.sort_by_key(|a| a.span.start);
        for a in unused {
            self.diags.push(Diagnostic::warning(
                a.span,
                codes::ANCHOR,
                format!("anchor \"{}\" is defined but not used", a.name),
            ));
        }
    }
}

fn null_node(span: Span) -> Node {
    Node {
        kind: NodeKind::Scalar(Scalar {
            value: String::new(),
            style: ScalarStyle::Plain,
            tag: None,
        }),
        span,
        alias: None,
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Scalar(_) => 0,
        NodeKind::Sequence(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Mapping(entries) => entries
            .iter()
            .map(|e| count_nodes(&e.key) + count_nodes(&e.value))
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_2_scalars_are_strings() {
        let n = parse("on: push\nyes: no\n").unwrap();
        assert_eq!(n.get("on").unwrap().as_str(), Some("push"));
        assert_eq!(n.get("yes").unwrap().to_json(), serde_json::json!("no"));
    }

    #[test]
    fn merge_key_rejected() {
        let errs = parse("a: &a {x: 1}\nb:\n  <<: *a\n").unwrap_err();
        assert_eq!(errs[0].code, codes::MERGE_KEY);
        assert_eq!(errs[0].span.start_pos.line, 3);
    }

    #[test]
    fn recursive_alias_rejected() {
        let errs = parse("a: &a [1, *a]\n").unwrap_err();
        assert!(
            errs[0].message.contains("recursive alias \"a\""),
            "{errs:?}"
        );
    }

    #[test]
    fn unknown_alias_rejected() {
        let errs = parse("a: *nope\n").unwrap_err();
        assert!(errs[0].message.contains("unknown anchor \"nope\""));
        assert_eq!(errs[0].span.start_pos.line, 1);
    }

    #[test]
    fn anchors_may_be_redefined() {
        let n = parse("a: &x 1\nb: *x\nc: &x 2\nd: *x\n").unwrap();
        assert_eq!(n.get("d").unwrap().as_str(), Some("2"));
    }

    #[test]
    fn syntax_error_is_located() {
        let errs = parse("a:\n  b: 1\n - c\n").unwrap_err();
        assert_eq!(errs[0].code, codes::YAML_SYNTAX);
        assert_eq!(errs[0].span.start_pos.line, 3);
    }

    #[test]
    fn crlf_and_tabs_in_block_scalars() {
        let n = parse("a: |\r\n  x\r\n  \ty\r\nb: 1\r\n").unwrap();
        assert_eq!(n.get("a").unwrap().as_str(), Some("x\n\ty\n"));
    }

    #[test]
    fn spans_are_bytes_and_chars() {
        let src = "é: ab\n";
        let n = parse(src).unwrap();
        let v = n.get("é").unwrap();
        assert_eq!(&src[v.span.range()], "ab");
        assert_eq!(v.span.start_pos.column, 4);
    }
}
