//! A YAML document as a tree of located nodes, so every validation error can name the key and
//! the line/column it came from.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A YAML value whose scalars, sequences and mappings keep their source location.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`, `~` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer scalar.
    Int(i64),
    /// A floating-point scalar (YAML 1.2 rules: `1e-5` and `5.0e-5` are both floats).
    Float(f64),
    /// A string scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Located>),
    /// A mapping with string keys, in document order.
    Map(Vec<(Located, Located)>),
}

/// A [`Node`] with the 1-based line and column where it appears (0 when unknown, e.g. for
/// values given on the command line).
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The value.
    pub node: Node,
    /// 1-based line, 0 if unknown.
    pub line: u64,
    /// 1-based column, 0 if unknown.
    pub column: u64,
}

impl Located {
    /// A node without a source location (command-line values, defaults).
    pub fn unlocated(node: Node) -> Self {
        Self {
            node,
            line: 0,
            column: 0,
        }
    }

    /// A short description of the node's type and value for error messages.
    pub fn describe(&self) -> String {
        match &self.node {
            Node::Null => "null".to_string(),
            Node::Bool(b) => format!("boolean {b}"),
            Node::Int(i) => format!("integer {i}"),
            Node::Float(f) => format!("number {f}"),
            Node::Str(s) => format!("string {s:?}"),
            Node::Seq(_) => "a list".to_string(),
            Node::Map(_) => "a mapping".to_string(),
        }
    }

    /// The mapping entries if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Located, Located)]> {
        match &self.node {
            Node::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The key text if this node is a string (or a scalar usable as a key).
    pub fn as_key(&self) -> Option<String> {
        match &self.node {
            Node::Str(s) => Some(s.clone()),
            Node::Int(i) => Some(i.to_string()),
            Node::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Located {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Node>::deserialize(deserializer)?;
        Ok(Located {
            node: spanned.value,
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        })
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v)
            .map(Node::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Located>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Located>()? {
            let value = map.next_value::<Located>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// Parses a YAML document (duplicate keys are an error) into a located tree.
pub fn parse_document(text: &str) -> Result<Located, serde_saphyr::Error> {
    if text.trim().is_empty() {
        return Ok(Located::unlocated(Node::Null));
    }
    serde_saphyr::from_str::<Located>(text)
}

/// Parses one command-line value with YAML scalar rules (`1e-4`, `true`, `[a, b]`, `none`).
pub fn parse_cli_value(text: &str) -> Located {
    match serde_saphyr::from_str::<Located>(text) {
        Ok(mut located) => {
            located.line = 0;
            located.column = 0;
            located
        }
        Err(_) => Located::unlocated(Node::Str(text.to_string())),
    }
}
