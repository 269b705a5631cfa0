//! The typed error of the sentence splitters.

/// Errors of the sentence-splitting module.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// The language is not one of `auto`, `en`, `ja`.
    #[error("unsupported sentence splitter language `{language}`; expected one of: auto, en, ja")]
    UnknownLanguage {
        /// The rejected value.
        language: String,
    },
    /// `max_chars` of the English splitter must be positive.
    #[error("max_chars must be positive")]
    ZeroMaxChars,
    /// A Punkt parameter table could not be parsed.
    #[error("{table}: line {line}: {message}")]
    PunktData {
        /// Name of the table.
        table: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
}
