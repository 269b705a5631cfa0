//! Conversion of located YAML/CLI nodes into typed recipe values, and back to display text.

use crate::yaml::{Located, Node};

/// A type that a recipe field can hold.
pub trait FieldValue: Sized {
    /// What the field expects, for `--help` and error messages ("a number", "true/false", ...).
    const EXPECTED: &'static str;
    /// Converts a node; the error is the message only (the caller adds key and location).
    fn from_node(node: &Located) -> Result<Self, FieldError>;
    /// Renders the value the way the effective-configuration listing shows it.
    fn show(&self) -> String;
    /// Whether a bare `--flag` (no value) means `true`.
    const IS_BOOL: bool = false;
}

/// A value that could not be converted: the message and where (a sub-key for nested values).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Key path below the field (`[2].items`), empty for the field itself.
    pub sub_key: String,
    /// 1-based line, 0 if unknown.
    pub line: u64,
    /// 1-based column, 0 if unknown.
    pub column: u64,
    /// What was wrong.
    pub message: String,
}

impl FieldError {
    /// An error located at `node`.
    pub fn at(node: &Located, message: impl Into<String>) -> Self {
        Self {
            sub_key: String::new(),
            line: node.line,
            column: node.column,
            message: message.into(),
        }
    }

    /// Prefixes the sub-key (used by containers: `[2]` then `.items`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.sub_key = format!("{prefix}{}", self.sub_key);
        self
    }
}

fn expected<T: FieldValue>(node: &Located) -> FieldError {
    FieldError::at(node, format!("expected {}, got {}", T::EXPECTED, node.describe()))
}

impl FieldValue for String {
    const EXPECTED: &'static str = "a string";
    fn from_node(node: &Located) -> Result<Self, FieldError> {
        match &node.node {
            Node::Str(s) => Ok(s.clone()),
            Node::Int(i) => Ok(i.to_string()),
            Node::Float(f) => Ok(f.to_string()),
            Node::Bool(b) => Ok(b.to_string()),
            _ => Err(expected::<Self>(node)),
        }
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

impl FieldValue for bool {
    const EXPECTED: &'static str = "true or false";
    const IS_BOOL: bool = true;
    fn from_node(node: &Located) -> Result<Self, FieldError> {
        match &node.node {
            Node::Bool(b) => Ok(*b),
            // PyYAML (YAML 1.1) and HF's argument parser also accept these spellings.
            Node::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "y" | "1" => Ok(true),
                "false" | "no" | "off" | "n" | "0" => Ok(false),
                _ => Err(expected::<Self>(node)),
            },
            _ => Err(expected::<Self>(node)),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl FieldValue for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_node(node: &Located) -> Result<Self, FieldError> {
        let value = match &node.node {
            Node::Float(f) => *f,
            Node::Int(i) => *i as f64,
            // YAML 1.1 loaders read `1e-5` as a string; accept numeric strings either way.
            Node::Str(s) => s.trim().parse::<f64>().map_err(|_| expected::<Self>(node))?,
            _ => return Err(expected::<Self>(node)),
        };
        if value.is_finite() {
            Ok(value)
        } else {
            Err(FieldError::at(node, format!("expected a finite number, got {value}")))
        }
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

impl FieldValue for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_node(node: &Located) -> Result<Self, FieldError> {
        match &node.node {
            Node::Int(i) => Ok(*i),
            Node::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
            Node::Str(s) => s.trim().parse::<i64>().map_err(|_| expected::<Self>(node)),
            _ => Err(expected::<Self>(node)),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl FieldValue for u64 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_node(node: &Located) -> Result<Self, FieldError> {
        let value = i64::from_node(node).map_err(|_| expected::<Self>(node))?;
        u64::try_from(value).map_err(|_| expected::<Self>(node))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl FieldValue for usize {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_node(node: &Located) -> Result<Self, FieldError> {
        let value = i64::from_node(node).map_err(|_| expected::<Self>(node))?;
        usize::try_from(value).map_err(|_| expected::<Self>(node))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    const IS_BOOL: bool = T::IS_BOOL;
    fn from_node(node: &Located) -> Result<Self, FieldError> {
        match &node.node {
            Node::Null => Ok(None),
            _ => T::from_node(node).map(Some),
        }
    }
    fn show(&self) -> String {
        match self {
            Some(v) => v.show(),
            None => "null".to_string(),
        }
    }
}

/// A list of strings that may also be written as one string (`report_to: wandb`).
impl FieldValue for Vec<String> {
    const EXPECTED: &'static str = "a string or a list of strings";
    fn from_node(node: &Located) -> Result<Self, FieldError> {
        match &node.node {
            Node::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| String::from_node(item).map_err(|e| e.within(&format!("[{i}]"))))
                .collect(),
            Node::Str(s) => Ok(vec![s.clone()]),
            Node::Null => Ok(Vec::new()),
            _ => Err(expected::<Self>(node)),
        }
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

/// Declares a closed set of names as an enum that parses from YAML/CLI strings.
macro_rules! name_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = [$($spelling:literal),+]),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The canonical (first) spelling of this value.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => [$($spelling),+][0]),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            /// Parses any accepted spelling (command-line flags of the binaries).
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($($spelling)|+ => Ok(Self::$variant),)+
                    _ => Err(format!("expected {}, got {:?}", <Self as crate::value::FieldValue>::EXPECTED, text)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl crate::value::FieldValue for $name {
            const EXPECTED: &'static str = concat!("one of:" $($(, " ", $spelling)+)+);
            fn from_node(node: &crate::yaml::Located) -> Result<Self, crate::value::FieldError> {
                let text = String::from_node(node)?;
                text.parse().map_err(|message| crate::value::FieldError::at(node, message))
            }
            fn show(&self) -> String {
                format!("{:?}", self.as_str())
            }
        }
    };
}
pub(crate) use name_enum;
