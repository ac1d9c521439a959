//! A misbehaving plugin fails only its own call, with a message naming the cause, within its
//! deadline; the next call on the same host (and the same run) works.

mod common;

use common::{grants, load, run, sandbox, sandbox_with};
use serde_json::json;
use std::time::{Duration, Instant};
use testmesh::sandbox::{CallError, CallOptions, Limits, SandboxConfig};

fn options(deadline: Duration) -> CallOptions {
    CallOptions { limits: Limits { deadline, ..Limits::default() }, ..CallOptions::default() }
}

/// After a fault, the same session must serve the next call with a fresh, working instance.
async fn next_call_works(session: &testmesh::sandbox::Session, plugin: &std::sync::Arc<testmesh::sandbox::Plugin>) {
    let report = run(session, plugin, &grants(&[]), json!({"mode": "echo", "n": 1}), &CallOptions::default()).await;
    let output = report.result.expect("the call after a fault works");
    assert_eq!(output["config"]["n"], 1);
    assert!(!report.reused_instance, "the faulted instance must have been discarded");
}

#[tokio::test]
async fn infinite_loop_is_interrupted_at_its_deadline() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let started = Instant::now();
    let report =
        run(&session, &plugin, &grants(&[]), json!({"mode": "loop"}), &options(Duration::from_millis(500))).await;
    let elapsed = started.elapsed();
    let error = report.result.expect_err("a loop cannot succeed");
    assert!(matches!(error, CallError::Timeout { .. }), "{error:?}");
    assert!(error.to_string().contains("deadline of 500ms"), "{error}");
    assert!(elapsed < Duration::from_secs(3), "interrupted late: {elapsed:?}");
    next_call_works(&session, &plugin).await;
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let mut options = options(Duration::from_secs(10));
    options.limits.memory_bytes = 32 << 20;
    let error = run(&session, &plugin, &grants(&[]), json!({"mode": "bomb"}), &options).await.result.unwrap_err();
    assert!(matches!(error, CallError::MemoryLimit { limit, .. } if limit == 32 << 20), "{error:?}");
    assert!(error.to_string().contains("memory limit of 32 MiB"), "{error}");
    next_call_works(&session, &plugin).await;
}

#[tokio::test]
async fn deep_recursion_overflows_the_stack() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let error = run(&session, &plugin, &grants(&[]), json!({"mode": "recurse"}), &options(Duration::from_secs(10)))
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, CallError::StackOverflow { .. }), "{error:?}");
    assert!(error.to_string().contains("stack"), "{error}");
    next_call_works(&session, &plugin).await;

    // Recursion through frames kept in the guest's own (linear-memory) stack ends differently, and
    // the message says what that usually means.
    let error =
        run(&session, &plugin, &grants(&[]), json!({"mode": "recurse_frames"}), &options(Duration::from_secs(10)))
            .await
            .result
            .unwrap_err();
    assert!(matches!(error, CallError::Crashed(_)), "{error:?}");
    assert!(error.to_string().contains("deep recursion"), "{error}");
    next_call_works(&session, &plugin).await;
}

#[tokio::test]
async fn panic_is_reported_with_its_message() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let report =
        run(&session, &plugin, &grants(&[]), json!({"mode": "panic"}), &options(Duration::from_secs(10))).await;
    let error = report.result.unwrap_err();
    assert!(matches!(error, CallError::Crashed(_)), "{error:?}");
    assert!(error.to_string().contains("probe panicked on purpose"), "{error}");
    next_call_works(&session, &plugin).await;
}

#[tokio::test]
async fn hundred_megabyte_output_is_refused() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let config = json!({"mode": "big_output", "bytes": 100 << 20});

    // With the default 64 MiB of memory the guest cannot even build it.
    let error = run(&session, &plugin, &grants(&[]), config.clone(), &options(Duration::from_secs(20)))
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, CallError::MemoryLimit { .. }), "{error:?}");

    // Given the memory, it builds it, and the output limit refuses it.
    let mut roomy = options(Duration::from_secs(20));
    roomy.limits.memory_bytes = 512 << 20;
    let error = run(&session, &plugin, &grants(&[]), config, &roomy).await.result.unwrap_err();
    assert!(matches!(error, CallError::OutputLimit { limit, .. } if limit == 16 << 20), "{error:?}");
    assert!(error.to_string().contains("exceeds the limit of 16 MiB"), "{error}");
    next_call_works(&session, &plugin).await;
}

#[tokio::test]
async fn output_that_is_not_json_is_refused() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let error = run(&session, &plugin, &grants(&[]), json!({"mode": "not_json"}), &CallOptions::default())
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, CallError::InvalidOutput(_)), "{error:?}");
    assert!(error.to_string().contains("not JSON"), "{error}");
    let error = run(&session, &plugin, &grants(&[]), json!({"mode": "array"}), &CallOptions::default())
        .await
        .result
        .unwrap_err();
    assert!(error.to_string().contains("must be a JSON object, got an array"), "{error}");
    let report = run(&session, &plugin, &grants(&[]), json!({"mode": "noop"}), &CallOptions::default()).await;
    assert_eq!(report.result.expect("works after bad output"), json!({}));
}

#[tokio::test]
async fn flooding_stdout_is_truncated_without_failing_the_call() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let report = run(
        &session,
        &plugin,
        &grants(&[]),
        json!({"mode": "flood_stdout", "lines": 20_000}),
        &options(Duration::from_secs(20)),
    )
    .await;
    assert_eq!(report.result.expect("printing a lot is allowed"), json!({"flooded": true}));
    let bytes: usize = report.logs.iter().map(|l| l.message.len()).sum();
    assert!(bytes <= Limits::default().log_bytes, "log not capped: {bytes} bytes");
    assert!(report.logs.last().is_some_and(|l| l.message.starts_with("log truncated")), "no truncation note");
}

#[tokio::test]
async fn stdout_stderr_and_log_lines_are_captured() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let report =
        run(&sandbox.session(), &plugin, &grants(&[]), json!({"mode": "print"}), &CallOptions::default()).await;
    report.result.expect("print works");
    let messages: Vec<&str> = report.logs.iter().map(|l| l.message.as_str()).collect();
    for expected in ["to stdout", "to stderr", "through the log interface"] {
        assert!(messages.contains(&expected), "{expected:?} missing from {messages:?}");
    }
}

#[tokio::test]
async fn instances_are_reused_within_a_run_and_discarded_after_a_trap() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let count =
        |report: testmesh::sandbox::CallReport<serde_json::Value>| report.result.unwrap()["calls"].as_u64().unwrap();
    let opts = CallOptions::default();
    assert_eq!(count(run(&session, &plugin, &grants(&[]), json!({"mode": "count"}), &opts).await), 1);
    let second = run(&session, &plugin, &grants(&[]), json!({"mode": "count"}), &opts).await;
    assert!(second.reused_instance);
    assert_eq!(count(second), 2);
    run(&session, &plugin, &grants(&[]), json!({"mode": "panic"}), &opts).await.result.unwrap_err();
    assert_eq!(count(run(&session, &plugin, &grants(&[]), json!({"mode": "count"}), &opts).await), 1);

    // Another run never sees this run's instance.
    let other_run = sandbox.session();
    assert_eq!(count(run(&other_run, &plugin, &grants(&[]), json!({"mode": "count"}), &opts).await), 1);

    // Forcing fresh instances isolates every call.
    let fresh = CallOptions { fresh_instance: true, ..CallOptions::default() };
    assert_eq!(count(run(&session, &plugin, &grants(&[]), json!({"mode": "count"}), &fresh).await), 1);
}

#[tokio::test]
async fn cancellation_stops_a_running_call() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let session = sandbox.session();
    let token = tokio_util::sync::CancellationToken::new();
    let options = CallOptions { cancel: Some(token.clone()), ..options(Duration::from_secs(30)) };
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token.cancel();
    });
    let started = Instant::now();
    let error = run(&session, &plugin, &grants(&[]), json!({"mode": "loop"}), &options).await.result.unwrap_err();
    canceller.await.unwrap();
    assert_eq!(error, CallError::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(5));
    next_call_works(&session, &plugin).await;
}

#[tokio::test]
async fn a_guest_blocked_in_a_host_wait_is_ended_by_its_deadline() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "probe").await;
    let started = Instant::now();
    let error = run(
        &sandbox.session(),
        &plugin,
        &grants(&[]),
        json!({"mode": "sleep", "ms": 60_000}),
        &options(Duration::from_millis(300)),
    )
    .await
    .result
    .unwrap_err();
    assert!(matches!(error, CallError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn stack_limit_follows_the_sandbox_configuration() {
    let sandbox = sandbox_with(SandboxConfig { wasm_stack_bytes: 256 << 10, ..SandboxConfig::default() });
    let plugin = load(&sandbox, "probe").await;
    let error = run(&sandbox.session(), &plugin, &grants(&[]), json!({"mode": "recurse"}), &CallOptions::default())
        .await
        .result
        .unwrap_err();
    assert!(error.to_string().contains("wasm stack limit 256 KiB"), "{error}");
}

#[tokio::test]
async fn calls_wait_for_an_instance_slot_and_fail_clearly_when_none_frees_up() {
    let config = SandboxConfig { max_instances: 2, pooling: false, cache_dir: None, ..SandboxConfig::default() };
    let sandbox = testmesh::sandbox::Sandbox::new(config).expect("sandbox");
    let plugin = common::load(&sandbox, "probe").await;
    let grants = common::grants(&[]);
    let quick = CallOptions {
        limits: Limits { deadline: Duration::from_millis(300), ..Default::default() },
        ..CallOptions::default()
    };
    // Two sessions each keep an idle instance: both slots are taken.
    let first = sandbox.session();
    let second = sandbox.session();
    for session in [&first, &second] {
        assert!(common::run(session, &plugin, &grants, json!({"mode": "noop"}), &quick).await.result.is_ok());
    }
    let third = sandbox.session();
    let report = common::run(&third, &plugin, &grants, json!({"mode": "noop"}), &quick).await;
    match report.result {
        Err(CallError::Instantiate(message)) => {
            assert!(message.contains("all 2 plugin instances were busy"), "{message}")
        }
        other => panic!("expected a busy sandbox, got {other:?}"),
    }
    // A finished run gives its instances back; the waiting call gets one.
    let waiting = tokio::spawn({
        let (third, plugin, grants) = (third, plugin.clone(), grants.clone());
        let patient = CallOptions {
            limits: Limits { deadline: Duration::from_secs(10), ..Default::default() },
            ..CallOptions::default()
        };
        async move { common::run(&third, &plugin, &grants, json!({"mode": "noop"}), &patient).await.result }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(first);
    assert!(waiting.await.expect("join").is_ok());
}
