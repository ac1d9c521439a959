//! The Prometheus metrics of a server or worker process (`GET /metrics`): HTTP requests, finished
//! runs and their durations, step latency by action, plugin call latency by plugin — counted where
//! they happen, in this process — and, read from storage at each scrape so that they hold for the
//! whole cluster, runs by status and the queue's depth (runs waiting for a worker).

use crate::runner::{RunResult, StepResult};
use crate::sandbox::{CallObserver, CompileStats};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

type Labels = Vec<(String, String)>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~65 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// The metrics of this process.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<Labels, Counter>,
    http_duration: Family<Labels, Histogram, fn() -> Histogram>,
    runs_finished: Family<Labels, Counter>,
    run_duration: Family<Labels, Histogram, fn() -> Histogram>,
    step_duration: Family<Labels, Histogram, fn() -> Histogram>,
    plugin_calls: Family<Labels, Histogram, fn() -> Histogram>,
    runs: Family<Labels, Gauge>,
    queue_depth: Gauge,
    in_progress: Gauge,
    compiled: Counter,
    compile_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    precompiled: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("testmesh");
        let http_requests = Family::<Labels, Counter>::default();
        let http_duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let runs_finished = Family::<Labels, Counter>::default();
        let run_duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let step_duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let plugin_calls = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let runs = Family::<Labels, Gauge>::default();
        let queue_depth = Gauge::default();
        let in_progress = Gauge::default();
        let compiled = Counter::default();
        let compile_seconds = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        let precompiled = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            http_requests.clone(),
        );
        registry.register("http_request_duration_seconds", "HTTP request latency, by route", http_duration.clone());
        registry.register("runs_finished", "Runs this process finished, by status", runs_finished.clone());
        registry.register("run_duration_seconds", "Duration of runs this process finished", run_duration.clone());
        registry.register("step_duration_seconds", "Step latency, by action and status", step_duration.clone());
        registry.register("plugin_call_duration_seconds", "Plugin call latency, by plugin", plugin_calls.clone());
        registry.register("runs", "Runs in storage, by status", runs.clone());
        registry.register("queue_depth", "Runs queued and not yet started by a worker", queue_depth.clone());
        registry.register("runs_in_progress", "Runs this process is executing", in_progress.clone());
        registry.register(
            "plugin_compilations",
            "Plugin components this process compiled (at install and start-up; a run should never cause one)",
            compiled.clone(),
        );
        registry.register(
            "plugin_compile_seconds",
            "Time this process spent compiling components",
            compile_seconds.clone(),
        );
        registry.register(
            "plugin_precompiled_loads",
            "Plugin components this process loaded precompiled from its disk cache",
            precompiled.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            runs_finished,
            run_duration,
            step_duration,
            plugin_calls,
            runs,
            queue_depth,
            in_progress,
            compiled,
            compile_seconds,
            precompiled,
        }
    }

    /// One HTTP request was answered.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = vec![
            ("method".to_string(), method.to_string()),
            ("route".to_string(), route.to_string()),
            ("status".to_string(), status.to_string()),
        ];
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration
            .get_or_create(&vec![("route".to_string(), route.to_string())])
            .observe(elapsed.as_secs_f64());
    }

    /// A step finished in a run this process executes.
    pub fn step_finished(&self, step: &StepResult) {
        let labels =
            vec![("action".to_string(), step.action.clone()), ("status".to_string(), step.status.as_str().to_string())];
        self.step_duration.get_or_create(&labels).observe(step.duration_ms / 1000.0);
    }

    /// A run this process executed finished.
    pub fn run_finished(&self, result: &RunResult) {
        let labels = vec![("status".to_string(), result.status.as_str().to_string())];
        self.runs_finished.get_or_create(&labels).inc();
        self.run_duration.get_or_create(&Vec::new()).observe(result.duration_ms / 1000.0);
    }

    /// The text exposition, with the storage-wide gauges set from `run_counts` (runs per status),
    /// `in_progress` (runs this process executes now) and the sandbox's `compiles`.
    pub fn render(&self, run_counts: &[(String, i64)], in_progress: usize, compiles: CompileStats) -> String {
        self.compiled.inner().store(compiles.compiled, std::sync::atomic::Ordering::Relaxed);
        self.compile_seconds.inner().store(compiles.compile_seconds.to_bits(), std::sync::atomic::Ordering::Relaxed);
        self.precompiled.inner().store(compiles.precompiled, std::sync::atomic::Ordering::Relaxed);
        self.runs.clear();
        let mut queued = 0;
        for (status, count) in run_counts {
            self.runs.get_or_create(&vec![("status".to_string(), status.clone())]).set(*count);
            if status == "queued" {
                queued = *count;
            }
        }
        self.queue_depth.set(queued);
        self.in_progress.set(i64::try_from(in_progress).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

impl CallObserver for Metrics {
    fn call_finished(&self, plugin: &str, duration: Duration, _ok: bool) {
        self.plugin_calls
            .get_or_create(&vec![("plugin".to_string(), plugin.to_string())])
            .observe(duration.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_storage_gauges_and_the_counters() {
        let metrics = Metrics::new();
        metrics.http_request("GET", "/api/v1/flows", 200, Duration::from_millis(3));
        metrics.call_finished("http_request", Duration::from_millis(2), true);
        let text = metrics.render(
            &[("queued".into(), 3), ("passed".into(), 7)],
            1,
            CompileStats { compiled: 2, compile_seconds: 1.5, precompiled: 9 },
        );
        assert!(text.contains("testmesh_queue_depth 3"), "{text}");
        assert!(text.contains("testmesh_plugin_compilations_total 2"), "{text}");
        assert!(text.contains("testmesh_plugin_compile_seconds_total 1.5"), "{text}");
        assert!(text.contains("testmesh_plugin_precompiled_loads_total 9"), "{text}");
        assert!(text.contains("testmesh_runs{status=\"passed\"} 7"), "{text}");
        assert!(text.contains("testmesh_runs_in_progress 1"), "{text}");
        assert!(
            text.contains("testmesh_http_requests_total{method=\"GET\",route=\"/api/v1/flows\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(text.contains("testmesh_plugin_call_duration_seconds_count{plugin=\"http_request\"} 1"), "{text}");
    }
}
