//! End-to-end benchmark of `testmesh run`: the real binary, a real keep-alive HTTP server on
//! 127.0.0.1, the built-in `http_request` and `expr` plugins with a warm component cache.
//!
//! - start-up: a 1-step flow (one HTTP request, two assertions), whole process, wall time;
//! - marginal cost per step: a 1,000-step flow of the same step, minus the 1-step flow, / 999;
//! - baselines measured in the same script: the process alone (`testmesh --version`), and the same
//!   request done natively (hyper on one keep-alive connection, JSON parsed, both checks in Rust).
//!
//! Medians of `TESTMESH_BENCH_ROUNDS` rounds (default 11). Run with
//! `cargo bench -p testmesh --bench flow_run`; results are printed as a table (docs/benchmarks.md).

use axum::Json;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const STEPS: usize = 1000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let address = runtime.block_on(async {
        let app = axum::Router::new().route("/ping", get(|| async { Json(json!({"ok": true, "n": 1})) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        address
    });
    let base = format!("http://{address}");
    let rounds: usize = std::env::var("TESTMESH_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(11);

    let dir = tempfile::tempdir().expect("temp dir");
    let one = dir.path().join("one.yaml");
    let many = dir.path().join("many.yaml");
    std::fs::write(&one, flow(1)).expect("write");
    std::fs::write(&many, flow(STEPS)).expect("write");
    let data_dir = dir.path().join("data");
    let exe = env!("CARGO_BIN_EXE_testmesh");

    // Warm the component cache (first start compiles the plugins).
    run(exe, &data_dir, &["run", path(&one), "--var", &format!("BASE={base}"), "-q"]);

    let mut process = Vec::new();
    let mut single = Vec::new();
    let mut thousand = Vec::new();
    let mut native = Vec::new();
    for _ in 0..rounds {
        process.push(run(exe, &data_dir, &["--version"]));
        single.push(run(exe, &data_dir, &["run", path(&one), "--var", &format!("BASE={base}"), "-q"]));
        thousand.push(run(exe, &data_dir, &["run", path(&many), "--var", &format!("BASE={base}"), "-q"]));
        native.push(runtime.block_on(native_requests(address, STEPS)));
    }
    let process = median(&mut process);
    let single = median(&mut single);
    let thousand = median(&mut thousand);
    let native = median(&mut native);
    let per_step = (thousand - single) / (STEPS as f64 - 1.0);
    let native_per_request = native / STEPS as f64;
    println!("flow_run: medians of {rounds} rounds");
    println!("| measure | testmesh | baseline | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| start-up (1-step flow, whole process) | {single:.1} ms | {process:.1} ms (`--version`) | {:.1}× |",
        single / process
    );
    println!(
        "| marginal cost per HTTP step (2 assertions) | {:.3} ms | {:.3} ms (native hyper + serde) | {:.1}× |",
        per_step,
        native_per_request,
        per_step / native_per_request
    );
    println!("| {STEPS}-step flow, whole process | {thousand:.1} ms | | |");
}

fn flow(steps: usize) -> String {
    let mut text = String::from("name: bench\nsteps:\n");
    for i in 0..steps {
        text.push_str(&format!(
            "  - id: s{i}\n    action: http_request\n    config: {{ url: \"${{BASE}}/ping\" }}\n    assert:\n      - status == 200\n      - body.ok == true\n"
        ));
    }
    text
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs the binary, checks it succeeded, returns its wall time in milliseconds.
fn run(exe: &str, data_dir: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let output = Command::new(exe).args(args).env("TESTMESH_DATA_DIR", data_dir).output().expect("run testmesh");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "testmesh {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ms(elapsed)
}

/// The same work done natively: `count` GETs on one keep-alive connection, each body parsed and
/// both checks made. Milliseconds in all.
async fn native_requests(address: std::net::SocketAddr, count: usize) -> f64 {
    let stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let io = wasmtime_wasi_http::io::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.expect("handshake");
    tokio::spawn(connection);
    let started = Instant::now();
    for _ in 0..count {
        let request = http::Request::get(format!("http://{address}/ping"))
            .header("host", address.to_string())
            .body(Empty::<bytes::Bytes>::new())
            .expect("request");
        sender.ready().await.expect("connection ready");
        let response = sender.send_request(request).await.expect("send");
        let status = response.status();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert!(status == 200 && body["ok"] == json!(true));
    }
    ms(started.elapsed())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
