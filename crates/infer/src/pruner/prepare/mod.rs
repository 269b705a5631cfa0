//! Pre-model stages of `process()` (upstream's `OpenProvenceModel._prepare_titles`,
//! `_build_preprocess_jobs`, `_run_sequential_fragmentize` and `_assemble_blocks_from_fragments`):
//! titles, sentences, per-sentence tokenisation, fragments and blocks with the query repeated
//! per block. Pure functions over a [`TokenCodec`], so they are testable with a toy tokenizer.

mod layout;

pub use layout::{Layout, PairTypes};

use super::error::PruneError;
use super::inputs::Document;
use crate::split::pytext::{is_blank, py_strip, splitlines_keepends};
use crate::split::{SentenceSplitter, normalize_sentences, split_multiline_sentence};

/// Token encoding/decoding without special tokens, as `process()` uses its tokenizer.
pub trait TokenCodec {
    /// Token ids of `text` (`add_special_tokens=False`).
    fn encode(&self, text: &str) -> Result<Vec<u32>, PruneError>;
    /// Text of `ids` with special tokens skipped.
    fn decode(&self, ids: &[u32]) -> Result<String, PruneError>;
}

/// Upstream's `first_line_as_title` on a text document: the first non-blank line (minus its line
/// end) is the title and the document is the lines after it; without a non-blank line the title
/// is empty and the document unchanged.
pub fn extract_first_line_title(text: &str) -> (String, String) {
    let chars: Vec<char> = text.chars().collect();
    let lines = splitlines_keepends(&chars);
    for (i, &(start, end)) in lines.iter().enumerate() {
        let line: String = chars[start..end].iter().collect();
        if !is_blank(&line) {
            let title = line.trim_end_matches(['\r', '\n']).to_string();
            let rest_start = lines.get(i + 1).map_or(chars.len(), |&(s, _)| s);
            return (title, chars[rest_start..].iter().collect());
        }
    }
    (String::new(), text.to_string())
}

/// `first_line_as_title` on a pre-split document: the first non-blank sentence is the title and
/// the sentences after it remain.
pub fn extract_first_sentence_title(sentences: &[String]) -> (String, Vec<String>) {
    match sentences.iter().position(|s| !is_blank(s)) {
        Some(i) => (sentences[i].clone(), sentences[i + 1..].to_vec()),
        None => (String::new(), sentences.to_vec()),
    }
}

/// Applies `first_line_as_title`: the extracted line replaces the title when no explicit title
/// was given.
pub(super) fn apply_first_line_title(
    document: Document,
    title: Option<String>,
    first_line_as_title: bool,
) -> (Document, Option<String>) {
    if !first_line_as_title {
        return (document, title);
    }
    let (first, rest) = match &document {
        Document::Text(text) => {
            let (t, rest) = extract_first_line_title(text);
            (t, Document::Text(rest))
        }
        Document::Sentences(sentences) => {
            let (t, rest) = extract_first_sentence_title(sentences);
            (t, Document::Sentences(rest))
        }
    };
    if first.is_empty() {
        (document, title)
    } else {
        (rest, Some(first))
    }
}

/// Prefix (title) sentences of a title: stripped, normalised like every sentence, the last one
/// ending in exactly one `"\n"`; none for a blank title.
pub fn title_sentences(title: &str, strip_sentences: bool) -> Vec<String> {
    let stripped = py_strip(title);
    if stripped.is_empty() {
        return Vec::new();
    }
    let mut pieces: Vec<String> = split_multiline_sentence(stripped, strip_sentences)
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(last) = pieces.last_mut() {
        *last = format!("{}\n", last.trim_end_matches('\n'));
    }
    pieces
}

/// A document after title extraction and sentence splitting.
#[derive(Debug, Clone, PartialEq)]
pub struct SentencePlan {
    /// Prefix (title) sentences followed by content sentences.
    pub sentences: Vec<String>,
    /// Number of prefix sentences at the start of `sentences`.
    pub n_prefix: usize,
    /// Compression base: the text after title extraction (joined non-blank sentences for
    /// pre-split input).
    pub base_text: String,
}

/// Content sentences of `document` (splitter for text, user sentences otherwise; blank user
/// sentences dropped), normalised, after `prefix`.
pub fn plan_sentences(
    document: &Document,
    prefix: Vec<String>,
    splitter: &dyn SentenceSplitter,
    strip_sentences: bool,
) -> SentencePlan {
    let (raw, base_text) = match document {
        Document::Text(text) => (splitter.split(text), text.clone()),
        Document::Sentences(sentences) => {
            let kept: Vec<String> = sentences.iter().filter(|s| !is_blank(s)).cloned().collect();
            let base = kept.concat();
            (kept, base)
        }
    };
    let content = normalize_sentences(&raw, &base_text, strip_sentences);
    let n_prefix = prefix.len();
    let mut sentences = prefix;
    sentences.extend(content);
    SentencePlan {
        sentences,
        n_prefix,
        base_text,
    }
}

/// A run of at most `F` tokens of one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Index of the sentence in [`SentencePlan::sentences`].
    pub sentence_index: usize,
    /// Index of the fragment within its sentence.
    pub fragment_index: usize,
    /// Index running over all fragments of the document.
    pub global_index: usize,
    /// Token ids.
    pub tokens: Vec<u32>,
}

/// Fragment size: `max(16, max_length - 2)` when respecting sentence boundaries, else
/// `max(16, max_length / 2)`.
pub fn fragment_size(max_length: usize, respect_sentence_boundaries: bool) -> usize {
    if respect_sentence_boundaries {
        16.max(max_length.saturating_sub(2))
    } else {
        16.max(max_length / 2)
    }
}

/// Cuts per-sentence token lists into fragments of `size` tokens (whole sentences up to `size`
/// tokens stay whole either way); empty lists give none.
pub fn split_token_lists(token_lists: &[Vec<u32>], size: usize) -> Vec<Fragment> {
    let size = size.max(1);
    let mut fragments = Vec::new();
    for (sentence_index, tokens) in token_lists.iter().enumerate() {
        for (fragment_index, chunk) in tokens.chunks(size).enumerate() {
            fragments.push(Fragment {
                sentence_index,
                fragment_index,
                global_index: fragments.len(),
                tokens: chunk.to_vec(),
            });
        }
    }
    fragments
}

/// Tokenised sentences of one document and their fragments.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragmented {
    /// Token count of every prefix sentence (for the legacy offset, see `docs/parity.md`).
    pub prefix_token_counts: Vec<usize>,
    /// Fragments in document order (empty-decoding ones dropped).
    pub fragments: Vec<Fragment>,
}

/// Tokenises every sentence on its own and cuts fragments; without any fragment the whole base
/// text becomes one fragment (sentence 0). Fragments decoding to an empty (or, with
/// `strip_sentences`, blank) text are dropped, unless that drops them all: then the first one
/// is kept.
pub fn fragmentize(
    codec: &dyn TokenCodec,
    plan: &SentencePlan,
    fragment_size: usize,
    strip_sentences: bool,
) -> Result<Fragmented, PruneError> {
    let token_lists = plan
        .sentences
        .iter()
        .map(|s| codec.encode(s))
        .collect::<Result<Vec<_>, _>>()?;
    let prefix_token_counts = token_lists[..plan.n_prefix].iter().map(Vec::len).collect();
    let mut candidates = split_token_lists(&token_lists, fragment_size);
    if candidates.is_empty() {
        let fallback = crate::split::fallback_sentence(&plan.base_text, strip_sentences);
        candidates.push(Fragment {
            sentence_index: 0,
            fragment_index: 0,
            global_index: 0,
            tokens: codec.encode(&fallback)?,
        });
    }
    let mut fragments = Vec::with_capacity(candidates.len());
    for fragment in &candidates {
        let text = codec.decode(&fragment.tokens)?;
        let empty = if strip_sentences {
            is_blank(&text)
        } else {
            text.is_empty()
        };
        if !empty {
            fragments.push(fragment.clone());
        }
    }
    if fragments.is_empty() {
        fragments.push(candidates.swap_remove(0));
    }
    Ok(Fragmented {
        prefix_token_counts,
        fragments,
    })
}

/// One model input: `[CLS] query [SEP] fragments… [SEP]` plus where each fragment sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Token ids of the whole sequence.
    pub input_ids: Vec<u32>,
    /// Token types of the whole sequence (read by backbones with token types, e.g. BERT), as
    /// the tokenizer's `create_token_type_ids_from_sequences` gives them (see [`PairTypes`]).
    pub token_type_ids: Vec<u32>,
    /// Per fragment in the block: (index into [`Fragmented::fragments`], `[start, end)` in
    /// `input_ids`); empty when the block has no context token.
    pub ranges: Vec<(usize, usize, usize)>,
}

/// The query's tokens, at most half of `max_length` of them (with a warning). Upstream never
/// truncates the query: a long one makes every block exceed the model's limit and the work grow
/// with the square of the query's length (a deliberate difference, docs/parity.md). With
/// `full` (upstream's behaviour, `ProcessOptions::legacy_full_query`) the cut is only where no
/// context token would fit any more: `max_length - 4` (`[CLS]`, `[SEP]`, `[SEP]` and one token).
pub fn bound_query(mut tokens: Vec<u32>, max_length: usize, full: bool) -> Vec<u32> {
    let limit = if full {
        max_length.saturating_sub(4).max(1)
    } else {
        max_length / 2
    };
    if tokens.len() > limit {
        tracing::warn!(
            "the question has {} tokens; only its first {limit} (max_length {max_length}) are used",
            tokens.len()
        );
        tokens.truncate(limit);
    }
    tokens
}

/// Greedy blocks (upstream's `OpenProvenceModel._assemble_blocks_from_fragments`): fragments are
/// appended while `query + [SEP] + fragments` fits in `max_length - 2`; a fragment that does not
/// fit starts a new block, truncated to the capacity (its tail is lost). The query is repeated in
/// every block.
pub fn build_blocks(query: &[u32], fragments: &[Fragment], max_length: usize, layout: &Layout) -> Vec<Block> {
    let available = max_length.saturating_sub(2);
    let base = query.len() + 1;
    let capacity = available.saturating_sub(base).max(1);
    let mut groups: Vec<Vec<(usize, &[u32])>> = Vec::new();
    let mut current: Vec<(usize, &[u32])> = Vec::new();
    let mut used = base;
    for (i, fragment) in fragments.iter().enumerate() {
        let tokens = fragment.tokens.as_slice();
        if used + tokens.len() <= available {
            used += tokens.len();
            current.push((i, tokens));
        } else {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            let kept = &tokens[..tokens.len().min(capacity)];
            used = base + kept.len();
            current.push((i, kept));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    let context_start = layout.context_start(query.len());
    groups
        .into_iter()
        .map(|group| {
            let context: Vec<u32> = group.iter().flat_map(|(_, t)| t.iter().copied()).collect();
            let mut start = context_start;
            // Upstream scores no fragment of a block without context tokens.
            let ranges = if context.is_empty() {
                Vec::new()
            } else {
                group
                    .iter()
                    .map(|&(i, t)| {
                        let range = (i, start, start + t.len());
                        start += t.len();
                        range
                    })
                    .collect()
            };
            Block {
                input_ids: layout.sequence(query, &context),
                token_type_ids: layout.token_types(query.len(), context.len()),
                ranges,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per code point (upstream's DummyTokenizer).
    struct Chars;

    impl TokenCodec for Chars {
        fn encode(&self, text: &str) -> Result<Vec<u32>, PruneError> {
            Ok(text.chars().map(|c| c as u32 + 10).collect())
        }
        fn decode(&self, ids: &[u32]) -> Result<String, PruneError> {
            Ok(ids.iter().filter_map(|&i| char::from_u32(i - 10)).collect())
        }
    }

    fn layout() -> Layout {
        Layout::manual(1, 2)
    }

    #[test]
    fn token_lists_are_chunked_with_running_indices() {
        let f = split_token_lists(&[vec![1, 2, 3, 4, 5]], 2);
        let got: Vec<_> = f
            .iter()
            .map(|f| (f.tokens.clone(), f.sentence_index, f.fragment_index, f.global_index))
            .collect();
        assert_eq!(
            got,
            vec![(vec![1, 2], 0, 0, 0), (vec![3, 4], 0, 1, 1), (vec![5], 0, 2, 2)]
        );
        let f = split_token_lists(&[vec![], vec![7]], 2);
        assert_eq!((f.len(), f[0].sentence_index, f[0].global_index), (1, 1, 0));
    }

    #[test]
    fn fragment_size_follows_max_length() {
        assert_eq!(fragment_size(512, false), 256);
        assert_eq!(fragment_size(512, true), 510);
        assert_eq!(fragment_size(20, false), 16);
    }

    #[test]
    fn blank_fragments_are_dropped_and_fallback_kept() {
        let plan = SentencePlan {
            sentences: vec!["ab".into(), "   ".into(), "cdefg".into()],
            n_prefix: 0,
            base_text: "ab   cdefg".into(),
        };
        let f = fragmentize(&Chars, &plan, 3, true).unwrap();
        let texts: Vec<String> = f.fragments.iter().map(|f| Chars.decode(&f.tokens).unwrap()).collect();
        assert_eq!(texts, vec!["ab", "cde", "fg"]);
        assert_eq!(f.fragments[2].global_index, 3, "global index counts dropped fragments");
        let blank = SentencePlan {
            sentences: vec!["  ".into()],
            n_prefix: 0,
            base_text: "  ".into(),
        };
        let f = fragmentize(&Chars, &blank, 3, true).unwrap();
        assert_eq!(f.fragments.len(), 1, "all decode blank: the first fragment is kept");
        assert_eq!(f.fragments[0].tokens, Chars.encode("  ").unwrap());
        let empty = SentencePlan {
            sentences: vec![String::new()],
            n_prefix: 0,
            base_text: "  x ".into(),
        };
        let f = fragmentize(&Chars, &empty, 3, true).unwrap();
        assert_eq!(
            f.fragments[0].tokens,
            Chars.encode("x").unwrap(),
            "fallback: the stripped base text"
        );
    }

    #[test]
    fn blocks_repeat_the_query_and_truncate_oversize_fragments() {
        let frag = |g: usize, n: usize| Fragment {
            sentence_index: g,
            fragment_index: 0,
            global_index: g,
            tokens: vec![100 + g as u32; n],
        };
        // max_length 12: available 10, query 2 + sep 1 = 3, capacity 7.
        let blocks = build_blocks(&[50, 51], &[frag(0, 4), frag(1, 3), frag(2, 9)], 12, &layout());
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks[0].input_ids,
            vec![1, 50, 51, 2, 100, 100, 100, 100, 101, 101, 101, 2]
        );
        assert_eq!(blocks[0].ranges, vec![(0, 4, 8), (1, 8, 11)]);
        assert_eq!(blocks[1].input_ids[..4], [1, 50, 51, 2]);
        assert_eq!(
            blocks[1].ranges,
            vec![(2, 4, 11)],
            "fragment truncated to the capacity of 7"
        );
        assert_eq!(blocks[1].input_ids.len(), 12);
        let empty = build_blocks(&[50], &[frag(0, 0)], 12, &layout());
        assert_eq!(empty[0].input_ids, vec![1, 50, 2]);
        assert!(empty[0].ranges.is_empty(), "nothing to score without context tokens");
    }

    #[test]
    fn first_line_titles_from_text_and_sentences() {
        let (title, rest) = extract_first_line_title("\n  \nTitle line\r\nBody one\nBody two");
        assert_eq!(title, "Title line");
        assert_eq!(rest, "Body one\nBody two");
        assert_eq!(extract_first_line_title(" \n"), (String::new(), " \n".to_string()));
        let (title, rest) = extract_first_sentence_title(&["".into(), "List Title".into(), "Body".into()]);
        assert_eq!((title.as_str(), rest), ("List Title", vec!["Body".to_string()]));
        assert_eq!(title_sentences("  prefix  ", false), vec!["prefix\n".to_string()]);
        assert!(title_sentences("  ", false).is_empty());
    }
}
