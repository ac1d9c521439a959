//! The built-in `delay`, `log` and `transform` actions, run in the real sandbox.

mod common;

use common::{grants, load, run, sandbox};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use testmesh::sandbox::{CallError, CallOptions, CallReport, Limits, LogLevel, LogSource};

/// Calls plugin `dir` once with `config`, no grants.
async fn call(dir: &str, config: Value, options: &CallOptions) -> CallReport<Value> {
    let sandbox = sandbox();
    let plugin = load(&sandbox, dir).await;
    run(&sandbox.session(), &plugin, &grants(&[]), config, options).await
}

fn with_deadline(deadline: Duration) -> CallOptions {
    CallOptions { limits: Limits { deadline, ..Limits::default() }, ..CallOptions::default() }
}

/// The `InvalidConfig` of a failed call, as (path, message).
fn invalid_config(report: CallReport<Value>) -> (String, String) {
    match report.result {
        Err(CallError::InvalidConfig { path, message }) => (path, message),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn delay_waits_at_least_the_duration() {
    let started = Instant::now();
    let report = call("delay", json!({"duration": "150ms"}), &CallOptions::default()).await;
    let elapsed = started.elapsed();
    let output = report.result.expect("delay runs");
    assert!(elapsed >= Duration::from_millis(150), "returned after {elapsed:?}");
    assert!(report.duration >= Duration::from_millis(150), "call took {:?}", report.duration);
    assert_eq!((output["duration"].clone(), output["completed"].clone()), (json!("150ms"), json!(true)));
    let waited = output["duration_ms"].as_u64().expect("duration_ms");
    assert!(waited >= 150, "duration_ms {waited}");
}

#[tokio::test]
async fn delay_reads_a_plain_number_as_milliseconds() {
    let started = Instant::now();
    let output = call("delay", json!({"duration": 120}), &CallOptions::default()).await.result.expect("delay runs");
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(output["duration"], "120ms");
    assert!(output["duration_ms"].as_u64().is_some_and(|ms| ms >= 120), "{output}");
}

#[tokio::test]
async fn delay_longer_than_the_deadline_is_refused_at_once() {
    let report = call("delay", json!({"duration": "5s"}), &with_deadline(Duration::from_secs(1))).await;
    let error = report.result.expect_err("does not fit");
    assert!(matches!(error, CallError::Failed(_)), "refused by the plugin, not interrupted by the host: {error:?}");
    let text = error.to_string();
    assert!(text.starts_with("cannot wait 5s: only "), "{text}");
    assert!(text.ends_with(" are left before the step's timeout; raise the step's `timeout`"), "{text}");
}

#[tokio::test]
async fn delay_with_a_bad_duration_is_an_invalid_config() {
    let (path, message) = invalid_config(call("delay", json!({"duration": "soon"}), &CallOptions::default()).await);
    assert_eq!(path, "/duration");
    assert!(message.contains("`soon` is not a duration"), "{message}");
    let (path, message) = invalid_config(call("delay", json!({"duration": -5}), &CallOptions::default()).await);
    assert_eq!(path, "/duration");
    assert!(!message.is_empty());
    let (_, message) = invalid_config(call("delay", json!({}), &CallOptions::default()).await);
    assert!(message.contains("duration"), "{message}");
}

#[tokio::test]
async fn log_writes_the_message_at_its_level_into_the_call_log() {
    let report = call("log", json!({"message": "user alice created", "level": "warn"}), &CallOptions::default()).await;
    let output = report.result.expect("log runs");
    assert_eq!(output, json!({"message": "user alice created", "level": "warn", "logged": true}));
    let lines: Vec<_> = report.logs.iter().filter(|l| l.source == LogSource::Plugin).collect();
    assert_eq!(lines.len(), 1, "{:?}", report.logs);
    assert_eq!((lines[0].level, lines[0].message.as_str()), (LogLevel::Warn, "user alice created"));
}

#[tokio::test]
async fn log_levels_default_to_info_and_accept_any_case() {
    for (config, level, name) in [
        (json!({"message": "plain"}), LogLevel::Info, "info"),
        (json!({"message": "m", "level": "DEBUG"}), LogLevel::Debug, "debug"),
        (json!({"message": "m", "level": "Warning"}), LogLevel::Warn, "warn"),
        (json!({"message": "m", "level": "error"}), LogLevel::Error, "error"),
    ] {
        let description = config.to_string();
        let report = call("log", config, &CallOptions::default()).await;
        let output = report.result.unwrap_or_else(|e| panic!("{description}: {e}"));
        assert_eq!(output["level"], name, "{description}");
        assert!(
            report.logs.iter().any(|l| l.source == LogSource::Plugin && l.level == level),
            "{description}: {:?}",
            report.logs
        );
    }
}

#[tokio::test]
async fn log_writes_non_string_messages_as_json() {
    let report = call("log", json!({"message": {"user": "alice", "ids": [1, 2]}}), &CallOptions::default()).await;
    let output = report.result.expect("log runs");
    assert_eq!(output["message"], r#"{"ids":[1,2],"user":"alice"}"#);
    assert!(report.logs.iter().any(|l| l.message == r#"{"ids":[1,2],"user":"alice"}"#), "{:?}", report.logs);
}

#[tokio::test]
async fn log_with_an_unknown_level_is_an_invalid_config() {
    let (path, message) =
        invalid_config(call("log", json!({"message": "m", "level": "loud"}), &CallOptions::default()).await);
    assert_eq!(path, "/level");
    assert!(message.contains("unknown level `loud`"), "{message}");
}

fn order() -> Value {
    json!({
        "order": {"id": "o-17", "total": 42.5, "paid": true},
        "customer": {"name": "alice", "email": "alice@example.com"},
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}, {"sku": "C-3", "qty": 5}]
    })
}

#[tokio::test]
async fn transform_maps_jsonpath_queries_shorthand_and_literals() {
    let config = json!({
        "input": order(),
        "transforms": {
            "order_id": "$.order.id",
            "customer": "$customer.name",
            "paid": "$order.paid",
            "first_sku": "$.items[0].sku",
            "big_items": "$.items[?@.qty > 1].sku",
            "source": "fixture",
            "count": 3,
            "nested": {"kept": "$.not.a.path"},
            "price_text": "$$5.00",
            "missing": "$.order.coupon"
        }
    });
    let output = call("transform", config, &CallOptions::default()).await.result.expect("transform runs");
    assert_eq!(
        output,
        json!({
            "order_id": "o-17",
            "customer": "alice",
            "paid": true,
            "first_sku": "A-1",
            "big_items": ["A-1", "C-3"],
            "source": "fixture",
            "count": 3,
            "nested": {"kept": "$.not.a.path"},
            "price_text": "$5.00",
            "missing": null
        })
    );
}

#[tokio::test]
async fn transform_returns_every_match_of_a_wildcard_as_a_list() {
    let config = json!({"input": order(), "mapping": {"skus": "$.items[*].sku", "qtys": "$items[*].qty", "all": "$"}});
    let output = call("transform", config, &CallOptions::default()).await.result.expect("transform runs");
    assert_eq!(output["skus"], json!(["A-1", "B-2", "C-3"]));
    assert_eq!(output["qtys"], json!([2, 1, 5]));
    assert_eq!(output["all"], order());
}

#[tokio::test]
async fn transform_parses_an_input_string_holding_json() {
    let config = json!({"input": order().to_string(), "transforms": {"email": "$.customer.email"}});
    let output = call("transform", config, &CallOptions::default()).await.result.expect("transform runs");
    assert_eq!(output, json!({"email": "alice@example.com"}));
}

#[tokio::test]
async fn transform_with_a_bad_path_is_an_invalid_config_at_its_key() {
    let config = json!({"input": order(), "transforms": {"ok": "$.order.id", "broken/key": "$.items[?"}});
    let (path, message) = invalid_config(call("transform", config, &CallOptions::default()).await);
    assert_eq!(path, "/transforms/broken~1key");
    assert!(message.contains("`$.items[?` is not a valid JSONPath"), "{message}");

    let (path, _) = invalid_config(call("transform", json!({"input": {}}), &CallOptions::default()).await);
    assert_eq!(path, "/transforms");
    let config = json!({"input": {}, "transforms": {}, "mapping": {}});
    let (path, _) = invalid_config(call("transform", config, &CallOptions::default()).await);
    assert_eq!(path, "/mapping");
}
