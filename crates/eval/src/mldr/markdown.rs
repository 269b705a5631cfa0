//! The process stage's `result.md` (upstream's `write_markdown_report`, Japanese headings
//! included) and the LLM stage's `summary.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use provence_config::python_float_repr;
use provence_infer::pytext::py_strip;

use super::evaluate::EvalSummary;
use super::records::PassageRecord;

/// Queries shown in `result.md`.
const REPORT_QUERIES: usize = 5;

/// `text.replace("\n", " ").strip()`.
fn one_line(text: &str) -> String {
    py_strip(&text.replace('\n', " ")).to_owned()
}

/// `result.md`: the first five queries by id with each passage's score, compression, kept and
/// removed sentences and pruned text. `language` is upstream's label (`auto` for pruned text,
/// the MLDR language for original text).
pub fn result_markdown(records: &[PassageRecord], threshold: f64, limit: i64, language: &str) -> String {
    let mut by_query: BTreeMap<&str, Vec<&PassageRecord>> = BTreeMap::new();
    for r in records {
        by_query.entry(r.query_id.as_str()).or_default().push(r);
    }
    let mut lines = vec![
        format!(
            "# MLDR サマリ (lang={language}, threshold={}, limit={limit}, max_len=None)",
            python_float_repr(threshold)
        ),
        String::new(),
        format!("- 合計クエリ数: {}", by_query.len()),
        format!("- 合計文書数: {}", records.len()),
        String::new(),
    ];
    for (idx, (query_id, rows)) in by_query.iter().take(REPORT_QUERIES).enumerate() {
        lines.push(format!("## {}. {}", idx + 1, one_line(&rows[0].query)));
        lines.push(format!("- Query ID: `{query_id}`"));
        lines.push(String::new());
        let mut ordered = rows.clone();
        let key = |r: &PassageRecord| (1 - r.label, -r.reranking_score.unwrap_or(0.0));
        ordered.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal));
        for (rank, row) in ordered.iter().enumerate() {
            passage_lines(&mut lines, rank + 1, row);
        }
        lines.push("---".to_owned());
        lines.push(String::new());
    }
    lines.join("\n")
}

fn passage_lines(lines: &mut Vec<String>, rank: usize, row: &PassageRecord) {
    let label = if row.label == 1 { "POS" } else { "NEG" };
    lines.push(format!("### {rank}. `{}` ({label})", row.docid));
    lines.push(match row.reranking_score {
        Some(s) => format!("- スコア: {s:.4}"),
        None => "- スコア: N/A".to_owned(),
    });
    lines.push(format!("- 圧縮率: {:.2}%", row.compression_rate));
    if let Some(title) = row.title.as_deref().filter(|t| !t.is_empty()) {
        lines.push(format!("- タイトル: {title}"));
    }
    lines.push(String::new());
    for (heading, sentences, none) in [
        ("**保持された文:**", &row.kept_sentences, "- (保持なし)"),
        ("**削除された文:**", &row.removed_sentences, "- (削除なし)"),
    ] {
        lines.push(heading.to_owned());
        if sentences.is_empty() {
            lines.push(none.to_owned());
        }
        lines.extend(sentences.iter().map(|s| format!("- {}", one_line(s))));
        lines.push(String::new());
    }
    let pruned = one_line(&row.pruned_text);
    lines.push("**削除後テキスト:**".to_owned());
    lines.push(format!(
        "> {}",
        if pruned.is_empty() { "(空)" } else { pruned.as_str() }
    ));
    lines.push(String::new());
}

/// The LLM stage's `summary.md` (upstream's `summary_lines`).
pub fn eval_markdown(summary: &EvalSummary) -> String {
    let mut out = String::new();
    let c = &summary.counts;
    let _ = write!(
        out,
        "# LLM Evaluation Summary\n\n- Dataset: `{}`\n- Language: {}\n- LLM model: {}\n- Reasoning effort: {}\n\
         - Records evaluated: {}\n- Ignored queries: {}\n- Has answer (1): {}\n- Has answer (0): {}\n- Failed: {}\n",
        summary.input_dataset,
        summary.language,
        summary.llm_model,
        summary.reasoning_effort,
        summary.records_evaluated,
        summary.ignored_count,
        c.has_answer_1,
        c.has_answer_0,
        c.failed
    );
    if let Some(t) = summary.process_time_seconds {
        let _ = writeln!(out, "- Process time (s): {t:.2}");
    }
    let _ = writeln!(out, "- LLM eval time (s): {:.2}", summary.evaluation_time_seconds);
    if let Some(s) = &summary.answer_score_stats {
        let _ = write!(
            out,
            "\n## Answer Score Statistics\n- mean: {:.4}\n- median: {:.4}\n- min: {:.4}\n- max: {:.4}\n",
            s.mean, s.median, s.min, s.max
        );
    }
    out
}
