//! YAML as GitHub reads it: YAML 1.2 core schema, anchors and aliases allowed, merge keys and
//! duplicate keys rejected, with a span on every node.
//!
//! [`parse`] turns text into a [`Node`] tree; the typed model is converted from that tree.

pub(crate) mod load;
mod node;

pub use load::{LoadLimits, parse, parse_with_limits};
pub use node::{Entry, Node, NodeKind, Scalar, ScalarStyle, ScalarValue};
