//! Prometheus metrics, kept in a few mutex-guarded maps and rendered by hand in the text
//! exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Seconds buckets of latency histograms.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of counts (requests per call, blocks per pass).
const COUNTS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// Buckets of tokens per pass.
const TOKENS: &[f64] = &[
    64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0,
];

/// The routes metrics are kept for; anything else counts as `other`.
pub(crate) const ROUTES: [&str; 5] = ["/rerank", "/prune", "/health", "/info", "/metrics"];

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
    counts: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

/// Per-model-call series.
#[derive(Debug)]
struct BatchSeries {
    requests: Histogram,
    pass_blocks: Histogram,
    pass_tokens: Histogram,
    call_seconds: Histogram,
    queue_seconds: Histogram,
}

/// Everything `GET /metrics` reports.
#[derive(Debug)]
pub(crate) struct Metrics {
    requests: Mutex<RequestSeries>,
    batches: Mutex<BatchSeries>,
    /// Requests handed to the batcher and not yet taken into a model call.
    queue_depth: AtomicUsize,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Mutex::default(),
            batches: Mutex::new(BatchSeries {
                requests: Histogram::new(COUNTS),
                pass_blocks: Histogram::new(COUNTS),
                pass_tokens: Histogram::new(TOKENS),
                call_seconds: Histogram::new(SECONDS),
                queue_seconds: Histogram::new(SECONDS),
            }),
            queue_depth: AtomicUsize::new(0),
        }
    }
}

/// What one model call of the batcher did.
pub(crate) struct CallRecord<'a> {
    /// Requests merged.
    pub requests: usize,
    /// `(blocks, padded tokens)` per forward pass.
    pub passes: &'a [(usize, usize)],
    /// Seconds of the call.
    pub seconds: f64,
    /// Seconds each request waited in the queue.
    pub queued_seconds: &'a [f64],
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe_request(&self, path: &str, status: u16, seconds: f64) {
        let route = ROUTES.iter().find(|r| **r == path).copied().unwrap_or("other");
        let mut series = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *series.counts.entry((route, status)).or_insert(0) += 1;
        series
            .latency
            .entry(route)
            .or_insert_with(|| Histogram::new(SECONDS))
            .observe(seconds);
    }

    /// Counts one model call.
    pub fn observe_call(&self, call: &CallRecord<'_>) {
        let mut series = self.batches.lock().unwrap_or_else(PoisonError::into_inner);
        series.requests.observe(call.requests as f64);
        for &(blocks, tokens) in call.passes {
            series.pass_blocks.observe(blocks as f64);
            series.pass_tokens.observe(tokens as f64);
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
        {
            let series = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            header(
                &mut out,
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
            header(&mut out, name, "histogram", "Time from request to response, by route.");
            for (route, histogram) in &series.latency {
                histogram.render(&mut out, name, &format!("route=\"{route}\""));
            }
        }
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
        ];
        for (name, help, histogram) in histograms {
            header(&mut out, name, "histogram", help);
            histogram.render(&mut out, name, "");
        }
        let depth = self.queue_depth.load(Ordering::Relaxed);
        header(
            &mut out,
            "provence_queue_depth",
            "gauge",
            "Requests waiting for a model call.",
        );
        let _ = writeln!(out, "provence_queue_depth {depth}");
        header(
            &mut out,
            "provence_in_flight_requests",
            "gauge",
            "Requests admitted and not yet answered.",
        );
        let _ = writeln!(out, "provence_in_flight_requests {in_flight}");
        out
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
    fn histograms_are_cumulative_and_routes_bounded() {
        let metrics = Metrics::default();
        metrics.observe_request("/prune", 200, 0.003);
        metrics.observe_request("/prune", 200, 0.2);
        metrics.observe_request("/nope/../x", 404, 0.0001);
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
}
