//! Prometheus metrics, kept in a few mutex-guarded maps and rendered by hand in the text
//! exposition format (version 0.0.4): our `provence_*` series, and text-embeddings-inference's
//! `te_*` series with TEI's names, labels and buckets (`router/src/prometheus.rs`,
//! `router/src/http/server.rs`, `core/src/queue.rs`), so TEI dashboards work unchanged.

use provence_infer::ForwardPass;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

/// Seconds buckets of our latency histograms.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of counts (requests per call, blocks per pass).
const COUNTS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// Buckets of tokens per pass.
const TOKENS: &[f64] = &[
    64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0,
];

/// TEI's buckets of every `*_duration` histogram: 35 steps of ×1.5 from 1e-5 s (exclusive).
static TEI_SECONDS: LazyLock<Vec<f64>> = LazyLock::new(|| {
    std::iter::successors(Some(0.00001_f64), |v| Some(v * 1.5))
        .skip(1)
        .take(35)
        .collect()
});
/// TEI's buckets of `te_batch_next_size`: 1, 2, 4, ... 4096.
static TEI_BATCH_SIZE: LazyLock<Vec<f64>> = LazyLock::new(|| powers_of_two(13));
/// TEI's buckets of `te_batch_next_tokens`: 1, 2, 4, ... 2^20.
static TEI_BATCH_TOKENS: LazyLock<Vec<f64>> = LazyLock::new(|| powers_of_two(21));

fn powers_of_two(n: i32) -> Vec<f64> {
    (0..n).map(|x| 2.0_f64.powi(x)).collect()
}

/// A cumulative histogram with fixed bucket bounds.
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        for (bound, count) in self.bounds.iter().zip(&mut self.counts) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Per-request series: counts by (route, status) and latency by route.
#[derive(Debug, Default)]
struct RequestSeries {
    counts: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Per-model-call series.
#[derive(Debug)]
struct BatchSeries {
    requests: Histogram,
    pass_blocks: Histogram,
    pass_tokens: Histogram,
    call_seconds: Histogram,
    queue_seconds: Histogram,
    /// `te_batch_next_size`: blocks (TEI: sequences) per forward pass.
    tei_size: Histogram,
    /// `te_batch_next_tokens`: real tokens per forward pass.
    tei_tokens: Histogram,
}

/// TEI's per-request series (`te_request_*`), for the scoring endpoints.
#[derive(Debug)]
struct TeiSeries {
    count: BTreeMap<&'static str, u64>,
    success: BTreeMap<&'static str, u64>,
    failure: BTreeMap<&'static str, u64>,
    duration: Histogram,
    tokenization: Histogram,
    queue: Histogram,
    inference: Histogram,
}

/// Where a scored request's time went, in seconds (our stages named as TEI's: tokenization is
/// sentence splitting and tokenising; inference is the rest of its share of the model call).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stages {
    pub tokenization: f64,
    pub queue: f64,
    pub inference: f64,
}

/// Everything `GET /metrics` reports.
#[derive(Debug)]
pub(crate) struct Metrics {
    requests: Mutex<RequestSeries>,
    batches: Mutex<BatchSeries>,
    tei: Mutex<TeiSeries>,
    /// Requests handed to the batcher and not yet taken into a model call.
    queue_depth: AtomicUsize,
}

impl Default for Metrics {
    fn default() -> Self {
        let tei_seconds = || Histogram::new(TEI_SECONDS.as_slice());
        Self {
            requests: Mutex::default(),
            batches: Mutex::new(BatchSeries {
                requests: Histogram::new(COUNTS),
                pass_blocks: Histogram::new(COUNTS),
                pass_tokens: Histogram::new(TOKENS),
                call_seconds: Histogram::new(SECONDS),
                queue_seconds: Histogram::new(SECONDS),
                tei_size: Histogram::new(TEI_BATCH_SIZE.as_slice()),
                tei_tokens: Histogram::new(TEI_BATCH_TOKENS.as_slice()),
            }),
            tei: Mutex::new(TeiSeries {
                count: BTreeMap::new(),
                success: BTreeMap::new(),
                failure: BTreeMap::new(),
                duration: tei_seconds(),
                tokenization: tei_seconds(),
                queue: tei_seconds(),
                inference: tei_seconds(),
            }),
            queue_depth: AtomicUsize::new(0),
        }
    }
}

/// What one model call of the batcher did.
pub(crate) struct CallRecord<'a> {
    /// Requests merged.
    pub requests: usize,
    /// The forward passes.
    pub passes: &'a [ForwardPass],
    /// Seconds of the call.
    pub seconds: f64,
    /// Seconds each request waited in the queue.
    pub queued_seconds: &'a [f64],
}

/// How a request on a scoring endpoint ended, for TEI's series.
pub(crate) enum TeiOutcome {
    /// Answered with scores: its stages.
    Success(Option<Stages>),
    /// Answered with an error: TEI's `err` label.
    Failure(&'static str),
}

impl Metrics {
    /// Counts one answered request; `route` is the matched route (`other` for none).
    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        let mut series = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *series.counts.entry((route.to_string(), status)).or_insert(0) += 1;
        series
            .latency
            .entry(route.to_string())
            .or_insert_with(|| Histogram::new(SECONDS))
            .observe(seconds);
    }

    /// Counts one request on a scoring endpoint in TEI's series (`method` is TEI's label).
    pub fn observe_tei(&self, method: &'static str, outcome: &TeiOutcome, seconds: f64) {
        let mut tei = self.tei.lock().unwrap_or_else(PoisonError::into_inner);
        *tei.count.entry(method).or_insert(0) += 1;
        match outcome {
            TeiOutcome::Failure(err) => *tei.failure.entry(err).or_insert(0) += 1,
            TeiOutcome::Success(stages) => {
                *tei.success.entry(method).or_insert(0) += 1;
                tei.duration.observe(seconds);
                if let Some(stages) = stages {
                    tei.tokenization.observe(stages.tokenization);
                    tei.queue.observe(stages.queue);
                    tei.inference.observe(stages.inference);
                }
            }
        }
    }

    /// Counts one model call.
    pub fn observe_call(&self, call: &CallRecord<'_>) {
        let mut series = self.batches.lock().unwrap_or_else(PoisonError::into_inner);
        series.requests.observe(call.requests as f64);
        for pass in call.passes {
            series.pass_blocks.observe(pass.blocks as f64);
            series.pass_tokens.observe(pass.padded_tokens as f64);
            series.tei_size.observe(pass.blocks as f64);
            series.tei_tokens.observe(pass.real_tokens as f64);
        }
        series.call_seconds.observe(call.seconds);
        for &q in call.queued_seconds {
            series.queue_seconds.observe(q);
        }
    }

    /// One more request queued.
    pub fn enqueued(&self) {
        self.queue_depth.fetch_add(1, Ordering::Relaxed);
    }

    /// One request taken from the queue.
    pub fn dequeued(&self) {
        let _ = self
            .queue_depth
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| Some(d.saturating_sub(1)));
    }

    /// The text exposition; `in_flight` is the number of admitted requests now.
    pub fn render(&self, in_flight: usize) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        self.render_batches(&mut out);
        let depth = self.queue_depth.load(Ordering::Relaxed);
        let gauges = [
            ("provence_queue_depth", "Requests waiting for a model call.", depth),
            (
                "provence_in_flight_requests",
                "Requests admitted and not yet answered.",
                in_flight,
            ),
            ("te_queue_size", "TEI: requests waiting for a model call.", depth),
        ];
        for (name, help, value) in gauges {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        self.render_tei(&mut out);
        out
    }

    fn render_requests(&self, out: &mut String) {
        let series = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        header(
            out,
            "provence_requests_total",
            "counter",
            "HTTP requests answered, by route and status.",
        );
        for ((route, status), count) in &series.counts {
            let _ = writeln!(
                out,
                "provence_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        let name = "provence_request_duration_seconds";
        header(out, name, "histogram", "Time from request to response, by route.");
        for (route, histogram) in &series.latency {
            histogram.render(out, name, &format!("route=\"{route}\""));
        }
    }

    fn render_batches(&self, out: &mut String) {
        let series = self.batches.lock().unwrap_or_else(PoisonError::into_inner);
        let histograms = [
            (
                "provence_batch_requests",
                "Requests merged into one model call.",
                &series.requests,
            ),
            (
                "provence_forward_blocks",
                "Blocks (sequences) per forward pass.",
                &series.pass_blocks,
            ),
            (
                "provence_forward_tokens",
                "Padded tokens per forward pass.",
                &series.pass_tokens,
            ),
            (
                "provence_batch_duration_seconds",
                "Seconds of one model call.",
                &series.call_seconds,
            ),
            (
                "provence_queue_seconds",
                "Seconds a request waited for its model call.",
                &series.queue_seconds,
            ),
            (
                "te_batch_next_size",
                "TEI: sequences (blocks) per forward pass.",
                &series.tei_size,
            ),
            (
                "te_batch_next_tokens",
                "TEI: tokens per forward pass.",
                &series.tei_tokens,
            ),
        ];
        for (name, help, histogram) in histograms {
            header(out, name, "histogram", help);
            histogram.render(out, name, "");
        }
    }

    fn render_tei(&self, out: &mut String) {
        let tei = self.tei.lock().unwrap_or_else(PoisonError::into_inner);
        let counters = [
            ("te_request_count", "TEI: scoring requests.", "method", &tei.count),
            (
                "te_request_success",
                "TEI: scoring requests answered with scores.",
                "method",
                &tei.success,
            ),
            (
                "te_request_failure",
                "TEI: scoring requests answered with an error, by cause.",
                "err",
                &tei.failure,
            ),
        ];
        for (name, help, label, values) in counters {
            header(out, name, "counter", help);
            for (value, count) in values {
                let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
            }
        }
        let histograms = [
            (
                "te_request_duration",
                "TEI: seconds from request to answer.",
                &tei.duration,
            ),
            (
                "te_request_tokenization_duration",
                "TEI: seconds splitting and tokenising a request.",
                &tei.tokenization,
            ),
            (
                "te_request_queue_duration",
                "TEI: seconds a request waited for its model call.",
                &tei.queue,
            ),
            (
                "te_request_inference_duration",
                "TEI: seconds of a request's share of its model call.",
                &tei.inference,
            ),
        ];
        for (name, help, histogram) in histograms {
            header(out, name, "histogram", help);
            histogram.render(out, name, "");
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let metrics = Metrics::default();
        metrics.observe_request("/prune", 200, 0.003);
        metrics.observe_request("/prune", 200, 0.2);
        metrics.observe_request("other", 404, 0.0001);
        let text = metrics.render(3);
        assert!(
            text.contains("provence_requests_total{route=\"/prune\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("provence_requests_total{route=\"other\",status=\"404\"} 1"));
        assert!(text.contains("provence_request_duration_seconds_bucket{route=\"/prune\",le=\"0.005\"} 1"));
        assert!(text.contains("provence_request_duration_seconds_bucket{route=\"/prune\",le=\"0.25\"} 2"));
        assert!(text.contains("provence_request_duration_seconds_count{route=\"/prune\"} 2"));
        assert!(text.contains("provence_in_flight_requests 3"));
        metrics.enqueued();
        metrics.dequeued();
        metrics.dequeued();
        assert!(metrics.render(0).contains("provence_queue_depth 0"));
    }

    #[test]
    fn tei_buckets_follow_tei() {
        // router/src/prometheus.rs: 35 duration buckets, value *= 1.5 from 0.00001.
        assert_eq!(TEI_SECONDS.len(), 35);
        assert!((TEI_SECONDS[0] - 0.000015).abs() < 1e-12);
        assert!((TEI_SECONDS[34] - 0.00001 * 1.5_f64.powi(35)).abs() < 1e-9);
        assert_eq!((TEI_BATCH_SIZE.len(), TEI_BATCH_SIZE[12]), (13, 4096.0));
        assert_eq!((TEI_BATCH_TOKENS.len(), TEI_BATCH_TOKENS[20]), (21, 1_048_576.0));
        let metrics = Metrics::default();
        let stages = Stages {
            tokenization: 0.001,
            queue: 0.002,
            inference: 0.05,
        };
        metrics.observe_tei("batch", &TeiOutcome::Success(Some(stages)), 0.06);
        metrics.observe_tei("batch", &TeiOutcome::Failure("batch_size"), 0.0);
        metrics.observe_call(&CallRecord {
            requests: 1,
            passes: &[ForwardPass {
                blocks: 3,
                padded_tokens: 90,
                real_tokens: 70,
            }],
            seconds: 0.05,
            queued_seconds: &[0.002],
        });
        let text = metrics.render(0);
        for needle in [
            "te_request_count{method=\"batch\"} 2",
            "te_request_success{method=\"batch\"} 1",
            "te_request_failure{err=\"batch_size\"} 1",
            "te_request_duration_count 1",
            "te_request_queue_duration_sum 0.002",
            "te_batch_next_size_bucket{le=\"2\"} 0",
            "te_batch_next_size_bucket{le=\"4\"} 1",
            "te_batch_next_tokens_bucket{le=\"64\"} 0",
            "te_batch_next_tokens_bucket{le=\"128\"} 1",
            "te_queue_size 0",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
    }
}
