//! How a (query, context) pair becomes one sequence: the special tokens around the query and
//! the context and their token types, as upstream's tokenizer classes lay them out.

use provence_hub::PretrainedTokenizer;

use crate::pruner::error::PruneError;

/// How a (query, context) pair becomes one sequence: `prefix query middle context suffix`.
///
/// Upstream uses the tokenizer class's `build_inputs_with_special_tokens` (e.g. BERT:
/// `[CLS] q [SEP] c [SEP]`; RoBERTa/XLM-R: `<s> q </s></s> c </s>`) and, when that builder adds
/// no CLS/BOS or no SEP/EOS (transformers' base `PreTrainedTokenizerFast`, ModernBERT's class),
/// builds `[CLS] q [SEP] c [SEP]` by hand, without the trailing `[SEP]` for an empty context.
/// The tokenizer's pair post-processor stands in for the class's builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Ids before the query.
    pub prefix: Vec<u32>,
    /// Ids between the query and the context.
    pub middle: Vec<u32>,
    /// Ids after the context.
    pub suffix: Vec<u32>,
    /// Whether `suffix` is also appended when the context is empty (builder layouts).
    pub suffix_without_context: bool,
    /// The token types of the pair.
    pub types: PairTypes,
}

/// Token types of a block, as upstream's `process()` takes them from the tokenizer's
/// `create_token_type_ids_from_sequences(query, context)`, padded with its last value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairTypes {
    /// The pair post-processor's types: one per special token of `prefix`, `middle` and
    /// `suffix`, and one for every query and every context token (BERT: 0 up to the first
    /// `[SEP]`, 1 after; RoBERTa/XLM-R: all 0).
    Template {
        /// Types of `prefix`.
        prefix: Vec<u32>,
        /// Type of every query token.
        query: u32,
        /// Types of `middle`.
        middle: Vec<u32>,
        /// Type of every context token.
        context: u32,
        /// Types of `suffix`.
        suffix: Vec<u32>,
    },
    /// transformers' base class: `[0] · len(query) + [1] · len(context)`, padded with its last
    /// value, so the specials shift the boundary (the first `len(query)` positions are 0).
    Shifted,
}

impl Layout {
    /// The hand-built `[CLS] q [SEP] c [SEP]` layout.
    pub fn manual(cls: u32, sep: u32) -> Self {
        Self {
            prefix: vec![cls],
            middle: vec![sep],
            suffix: vec![sep],
            suffix_without_context: false,
            types: PairTypes::Shifted,
        }
    }

    /// Upstream's layout for this tokenizer (see [`Layout`]).
    pub fn for_tokenizer(tokenizer: &PretrainedTokenizer) -> Result<Self, PruneError> {
        let special = tokenizer.special_tokens();
        let id = |t: &Option<provence_hub::SpecialToken>| t.as_ref().map(|t| t.id);
        let (cls, bos, sep, eos) = (id(&special.cls), id(&special.bos), id(&special.sep), id(&special.eos));
        let manual = || -> Result<Self, PruneError> {
            Ok(Self::manual(
                cls.or(bos).ok_or(PruneError::MissingSpecialToken("cls/bos"))?,
                sep.or(eos).ok_or(PruneError::MissingSpecialToken("sep/eos"))?,
            ))
        };
        // transformers' base class builds pairs without special tokens.
        if tokenizer.tokenizer_class() == Some("PreTrainedTokenizerFast") {
            return manual();
        }
        let built = pair_template(tokenizer.tokenizer())?;
        let all: Vec<u32> = [&built.prefix, &built.middle, &built.suffix]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let lacks = |candidates: [Option<u32>; 2]| {
            let candidates: Vec<u32> = candidates.into_iter().flatten().collect();
            !candidates.is_empty() && !all.iter().any(|t| candidates.contains(t))
        };
        if lacks([cls, bos]) || lacks([sep, eos]) {
            return manual();
        }
        Ok(built)
    }

    /// The sequence of one block.
    /// The token types of [`Self::sequence`]`(query, context)`.
    pub(super) fn token_types(&self, query_len: usize, context_len: usize) -> Vec<u32> {
        let with_suffix = context_len > 0 || self.suffix_without_context;
        match &self.types {
            PairTypes::Template {
                prefix,
                query,
                middle,
                context,
                suffix,
            } => {
                let mut types = prefix.clone();
                types.extend(std::iter::repeat_n(*query, query_len));
                types.extend_from_slice(middle);
                types.extend(std::iter::repeat_n(*context, context_len));
                if with_suffix {
                    types.extend_from_slice(suffix);
                }
                types
            }
            PairTypes::Shifted => {
                let len = self.prefix.len()
                    + query_len
                    + self.middle.len()
                    + context_len
                    + if with_suffix { self.suffix.len() } else { 0 };
                let last = if context_len > 0 { 1 } else { 0 };
                (0..len).map(|i| if i < query_len { 0 } else { last }).collect()
            }
        }
    }

    pub(super) fn sequence(&self, query: &[u32], context: &[u32]) -> Vec<u32> {
        let mut ids = self.prefix.clone();
        ids.extend_from_slice(query);
        ids.extend_from_slice(&self.middle);
        ids.extend_from_slice(context);
        if !context.is_empty() || self.suffix_without_context {
            ids.extend_from_slice(&self.suffix);
        }
        ids
    }

    /// Where the context starts in a block whose query has `query_len` tokens.
    pub(super) fn context_start(&self, query_len: usize) -> usize {
        self.prefix.len() + query_len + self.middle.len()
    }
}

/// The pair layout the tokenizer's post-processor produces, found by post-processing two
/// sentinel sequences.
fn pair_template(tokenizer: &tokenizers::Tokenizer) -> Result<Layout, PruneError> {
    const QUERY: [u32; 2] = [u32::MAX - 2, u32::MAX - 1];
    const CONTEXT: u32 = u32::MAX;
    let encoding = |ids: &[u32], type_id| {
        let tokens = ids
            .iter()
            .map(|&id| tokenizers::Token::new(id, String::new(), (0, 0)))
            .collect();
        tokenizers::Encoding::from_tokens(tokens, type_id)
    };
    let failed = |message: String| PruneError::Tokenize {
        text: "(pair layout probe)".to_owned(),
        message,
    };
    let built = tokenizer
        .post_process(encoding(&QUERY, 0), Some(encoding(&[CONTEXT], 1)), true)
        .map_err(|e| failed(e.to_string()))?;
    let (ids, types) = (built.get_ids(), built.get_type_ids());
    let find = |id: u32| ids.iter().position(|&t| t == id);
    let (Some(q), Some(c)) = (find(QUERY[0]), find(CONTEXT)) else {
        return Err(failed("the post-processor dropped the query or the context".to_owned()));
    };
    if c < q + QUERY.len() || ids.get(q + 1) != Some(&QUERY[1]) {
        return Err(failed("the post-processor reorders the pair".to_owned()));
    }
    let type_at = |i: usize| types.get(i).copied().unwrap_or(0);
    Ok(Layout {
        prefix: ids[..q].to_vec(),
        middle: ids[q + QUERY.len()..c].to_vec(),
        suffix: ids[c + 1..].to_vec(),
        suffix_without_context: true,
        types: PairTypes::Template {
            prefix: (0..q).map(type_at).collect(),
            query: type_at(q),
            middle: (q + QUERY.len()..c).map(type_at).collect(),
            context: type_at(c),
            suffix: (c + 1..ids.len()).map(type_at).collect(),
        },
    })
}
