//! End-to-end benchmark of the server: the release `testmesh serve` binary on the embedded default
//! (SQLite file, in-process queue, 8 embedded workers, warm component cache), driven over HTTP from
//! this process like CI drives it (`POST /flows/{id}/runs?wait=30`).
//!
//! - run latency: one client, runs one after the other; median and p95 of the request's wall time;
//! - throughput: 16 clients at once, each starting runs with `?wait=` back to back; finished runs
//!   per second;
//!
//! for a no-op flow (one `log` step) and a 3-step HTTP flow (three GETs to a keep-alive axum server
//! on 127.0.0.1, one assertion each). Baselines in the same process: `GET /health` of the same
//! server (the HTTP round trip and authentication-free routing, per request and per second at the
//! same concurrency), and the three GETs made natively for the HTTP flow.
//!
//! `cargo bench -p testmesh --bench server_runs` (`TESTMESH_BENCH_RUNS`, default 300 per measure;
//! `TESTMESH_BENCH_DATABASE_URL=postgres://…` runs the server on PostgreSQL instead).

use axum::Json;
use axum::routing::get;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runs: usize = std::env::var("TESTMESH_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(300);
    let target = target_api().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_testmesh"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "8"])
        .env("TESTMESH_DATA_DIR", dir.path())
        .env("TESTMESH_CACHE_DIR", std::env::temp_dir().join("testmesh-bench-cache"))
        .env("TESTMESH_LOG", "warn")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped());
    match std::env::var("TESTMESH_BENCH_DATABASE_URL") {
        Ok(url) => command.env("DATABASE_URL", url),
        Err(_) => command.env_remove("DATABASE_URL"),
    };
    let mut child = command.spawn().expect("serve");
    let (url, key) = read_banner(child.stdout.take().expect("stdout"));
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");
    let client = Arc::new(Api { client, url, key });

    client.push("name: noop\nsteps:\n  - { id: a, action: log, config: { message: hi } }\n").await;
    let http_flow = format!(
        "name: http3\nsteps:\n{}",
        (0..3)
            .map(|i| format!(
                "  - id: get{i}\n    action: http_request\n    config: {{ url: \"{target}/ping\" }}\n    assert: [ status == 200 ]\n"
            ))
            .collect::<String>()
    );
    client.push(&http_flow).await;
    // Warm-up: plugin instances, connections, SQLite pages.
    for _ in 0..20 {
        client.run("noop").await;
        client.run("http3").await;
    }

    let health = latency(runs, || client.health()).await;
    let native = latency(runs, || native_three(&client.client, &target)).await;
    let noop = latency(runs, || client.run("noop")).await;
    let http3 = latency(runs, || client.run("http3")).await;
    let health_rate = throughput(&client, runs * 4, Which::Health).await;
    let noop_rate = throughput(&client, runs * 2, Which::Run("noop")).await;
    let http3_rate = throughput(&client, runs * 2, Which::Run("http3")).await;
    let _ = child.kill();
    let _ = child.wait();

    let backend = if std::env::var("TESTMESH_BENCH_DATABASE_URL").is_ok() { "PostgreSQL" } else { "SQLite" };
    println!("server_runs: {backend}, in-process queue, 8 workers; {runs} runs per latency measure");
    println!("| measure | testmesh | baseline | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| run latency, no-op 1-step flow (median / p95) | {:.2} / {:.2} ms | {:.2} ms (`GET /health`) | {:.1}× |",
        noop.0,
        noop.1,
        health.0,
        noop.0 / health.0
    );
    println!(
        "| run latency, 3-step HTTP flow (median / p95) | {:.2} / {:.2} ms | {:.2} ms (3 native GETs) | {:.1}× |",
        http3.0,
        http3.1,
        native.0,
        http3.0 / native.0
    );
    println!(
        "| throughput, no-op flow, {CLIENTS} clients | {noop_rate:.0} runs/s | {health_rate:.0} req/s (`GET /health`) | {:.2}× |",
        noop_rate / health_rate
    );
    println!("| throughput, 3-step HTTP flow, {CLIENTS} clients | {http3_rate:.0} runs/s | | |");
}

struct Api {
    client: reqwest::Client,
    url: String,
    key: String,
}

impl Api {
    async fn push(&self, flow: &str) {
        let reply = self
            .client
            .post(format!("{}/api/v1/flows", self.url))
            .bearer_auth(&self.key)
            .header("content-type", "application/yaml")
            .body(flow.to_string())
            .send()
            .await
            .expect("push");
        assert_eq!(reply.status().as_u16(), 201, "{}", reply.text().await.unwrap_or_default());
    }

    async fn run(&self, flow: &str) {
        let reply = self
            .client
            .post(format!("{}/api/v1/flows/{flow}/runs?wait=30", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("run");
        let body: Value = reply.json().await.expect("json");
        assert_eq!(body["status"], "passed", "{body}");
    }

    async fn health(&self) {
        let reply = self.client.get(format!("{}/health", self.url)).send().await.expect("health");
        assert!(reply.status().is_success());
        let _ = reply.bytes().await;
    }
}

#[derive(Clone, Copy)]
enum Which {
    Health,
    Run(&'static str),
}

/// Median and p95 of `count` calls made one after the other, in milliseconds.
async fn latency<F, Fut>(count: usize, call: F) -> (f64, f64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        call().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 95 / 100])
}

/// Calls per second with `CLIENTS` clients making `total` calls in all.
async fn throughput(api: &Arc<Api>, total: usize, which: Which) -> f64 {
    let started = Instant::now();
    let per_client = total / CLIENTS;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move {
                for _ in 0..per_client {
                    match which {
                        Which::Health => api.health().await,
                        Which::Run(flow) => api.run(flow).await,
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client");
    }
    (per_client * CLIENTS) as f64 / started.elapsed().as_secs_f64()
}

/// The three GETs of the HTTP flow, made natively with the bench's client.
async fn native_three(client: &reqwest::Client, target: &str) {
    for _ in 0..3 {
        let reply = client.get(format!("{target}/ping")).send().await.expect("get");
        assert_eq!(reply.status().as_u16(), 200);
        let _ = reply.bytes().await;
    }
}

/// A keep-alive axum server for the HTTP flow.
async fn target_api() -> String {
    let app = axum::Router::new().route("/ping", get(|| async { Json(json!({"ok": true})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{address}")
}

/// The address and first admin key `serve` prints.
fn read_banner(stdout: std::process::ChildStdout) -> (String, String) {
    let mut url = None;
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.split("listening on ").nth(1) {
            url = rest.split_whitespace().next().map(str::to_string);
        }
        if let Some(key) = line.trim().strip_prefix("export TESTMESH_API_KEY=") {
            let key = key.to_string();
            std::thread::spawn(move || for _ in lines {});
            return (url.expect("address"), key);
        }
    }
    panic!("testmesh serve did not print its address and key");
}
