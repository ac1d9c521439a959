//! The built-in assertions `expr` and `json_schema`, run in the real sandbox: batched checks with one
//! verdict each, failure messages with the actual values, and configuration errors. One test judges
//! the output of a real `http_request` call against a real server.

mod common;

use axum::Json;
use axum::routing::get;
use common::{check, grants, load, run, sandbox};
use serde_json::{Value, json};
use testmesh::sandbox::{CallError, CallOptions, CallReport, PluginKind, Verdict};

/// What a step's assertions see after an `http_request` call: the output's keys, plus `response`.
fn http_subject() -> Value {
    let output = json!({
        "status": 201,
        "headers": {"content-type": "application/json; charset=utf-8", "location": "/users/42", "x-request-id": "r-9"},
        "body": {
            "id": 42,
            "name": "alice",
            "email": "alice@example.com",
            "roles": ["admin", "ops"],
            "address": {"city": "Paris", "zip": "75001"},
            "deleted": false,
            "manager": null
        },
        "duration_ms": 87,
        "url": "http://127.0.0.1:3000/users",
        "content_type": "application/json; charset=utf-8",
        "redirects": 0
    });
    let mut subject = output.clone();
    subject["response"] = output;
    subject
}

async fn expr(subject: &Value, checks: &[Value]) -> CallReport<Vec<Verdict>> {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "expr").await;
    assert_eq!(plugin.kind(), PluginKind::Assertion);
    check(&sandbox.session(), &plugin, subject, checks).await
}

async fn json_schema(subject: &Value, checks: &[Value]) -> CallReport<Vec<Verdict>> {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "json_schema").await;
    assert_eq!(plugin.kind(), PluginKind::Assertion);
    check(&sandbox.session(), &plugin, subject, checks).await
}

fn exprs(list: &[&str]) -> Vec<Value> {
    list.iter().map(|e| json!({"expr": e})).collect()
}

#[tokio::test]
async fn expr_gives_one_verdict_per_check_in_order() {
    let checks = exprs(&[
        "status == 201",
        "status == 200",
        r#"body.name == "alice""#,
        "body.roles.size() == 3",
        "duration_ms < 500",
        "body.address.city == 'Lyon'",
    ]);
    let verdicts = expr(&http_subject(), &checks).await.result.expect("check runs");
    let passed: Vec<bool> = verdicts.iter().map(|v| v.passed).collect();
    assert_eq!(passed, [true, false, true, false, true, false]);
    assert_eq!(verdicts[0].message, "`status == 201` is true");
    assert_eq!(verdicts[0].actual, Value::Null);
}

#[tokio::test]
async fn expr_failure_messages_show_the_actual_values() {
    let checks = exprs(&[
        "status == 200",
        "body.roles.size() == 3",
        r#"headers["x-request-id"] == "r-1""#,
        "body.address.city == 'Lyon' && status == 201",
        "status == 201 and body.deleted",
    ]);
    let verdicts = expr(&http_subject(), &checks).await.result.expect("check runs");
    assert!(verdicts.iter().all(|v| !v.passed));
    let messages: Vec<&str> = verdicts.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "expected `status == 200` but status is 201",
            "expected `body.roles.size() == 3` but body.roles.size() is 2",
            r#"expected `headers["x-request-id"] == "r-1"` but headers["x-request-id"] is "r-9""#,
            r#"expected `body.address.city == 'Lyon' && status == 201` but `body.address.city == 'Lyon'` is false: body.address.city is "Paris""#,
            "expected `status == 201 and body.deleted` but `body.deleted` is false: body.deleted is false",
        ]
    );
    assert_eq!(verdicts[0].actual, json!({"status": 201}));
    assert_eq!(verdicts[3].actual, json!({"body.address.city": "Paris"}));
}

#[tokio::test]
async fn expr_accepts_expr_lang_spellings() {
    let passing = exprs(&[
        r#"headers["content-type"] contains "json""#,
        r#"body.email endsWith "@example.com""#,
        r#"body.name startsWith "al" and not body.deleted"#,
        "len(body.roles) == 2",
        r#"body.name matches "^a[a-z]+$""#,
        r#""admin" in body.roles and "guest" not in body.roles"#,
        "body.manager == nil or status == 0",
        "response.status == status && response.body.id == 42",
        r#"headers.location.endsWith(string(body.id))"#,
    ]);
    let verdicts = expr(&http_subject(), &passing).await.result.expect("check runs");
    for (check, verdict) in passing.iter().zip(&verdicts) {
        assert!(verdict.passed, "{}: {}", check["expr"], verdict.message);
    }

    let failing = exprs(&[
        r#"body.name contains "bob""#,
        r#"body.email startsWith "bob""#,
        "len(body.roles) > 2",
        "not (body.id == 42)",
    ]);
    let verdicts = expr(&http_subject(), &failing).await.result.expect("check runs");
    let messages: Vec<&str> = verdicts.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            r#"expected `body.name contains "bob"` but body.name is "alice""#,
            r#"expected `body.email startsWith "bob"` but body.email is "alice@example.com""#,
            "expected `len(body.roles) > 2` but len(body.roles) is 2",
            "expected `not (body.id == 42)` but body.id is 42",
        ]
    );
}

#[tokio::test]
async fn expr_custom_message_is_shown_with_the_values_appended() {
    let checks = [
        json!({"expr": "duration_ms < 50", "message": "the API is too slow"}),
        json!({"expr": "status == 201", "message": "not shown when the check passes"}),
    ];
    let verdicts = expr(&http_subject(), &checks).await.result.expect("check runs");
    assert_eq!(
        verdicts[0],
        Verdict {
            passed: false,
            message: "the API is too slow (duration_ms is 87)".into(),
            actual: json!({"duration_ms": 87})
        }
    );
    assert!(verdicts[1].passed);
    assert!(!verdicts[1].message.contains("not shown"), "{}", verdicts[1].message);
}

#[tokio::test]
async fn expr_evaluation_error_is_a_failed_verdict_not_a_failed_call() {
    let checks = exprs(&["body.phone == '555'", "status == 201", "body.name + 1 == 2", "body.id"]);
    let verdicts = expr(&http_subject(), &checks).await.result.expect("the call itself works");
    assert_eq!(verdicts.iter().map(|v| v.passed).collect::<Vec<_>>(), [false, true, false, false]);
    assert!(
        verdicts[0].message.starts_with("`body.phone == '555'` could not be evaluated: No such key: phone"),
        "{}",
        verdicts[0].message
    );
    assert!(verdicts[0].message.contains(r#"body is {"#), "the readable prefix is shown: {}", verdicts[0].message);
    assert!(
        verdicts[2].message.starts_with("`body.name + 1 == 2` could not be evaluated: "),
        "{}",
        verdicts[2].message
    );
    assert_eq!(verdicts[3].message, "`body.id` returned int 42, not a boolean");
}

#[tokio::test]
async fn expr_parse_error_is_an_invalid_config_pointing_at_the_check() {
    let report = expr(&http_subject(), &exprs(&["status == 201", "status == == 1"])).await;
    match report.result {
        Err(CallError::InvalidConfig { path, message }) => {
            assert_eq!(path, "/1/expr");
            assert!(message.starts_with("the expression does not parse"), "{message}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    let report = expr(&http_subject(), &[json!({"expr": "true"}), json!({"expression": "true"})]).await;
    match report.result {
        Err(CallError::InvalidConfig { path, message }) => {
            assert!(path.starts_with("/1"), "{path}");
            assert!(message.contains("expression"), "{message}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn expr_judges_the_output_of_a_real_http_request() {
    let app = axum::Router::new()
        .route("/users/42", get(|| async { Json(json!({"id": 42, "name": "alice", "roles": ["admin"]})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sandbox = sandbox();
    let http = load(&sandbox, "http_request").await;
    let session = sandbox.session();
    let url = format!("http://{address}/users/42");
    let config = json!({"url": url});
    let output = run(&session, &http, &grants(&["http:127.0.0.1"]), config, &CallOptions::default())
        .await
        .result
        .expect("request works");
    let mut subject = output.clone();
    subject["response"] = output;

    let assertion = load(&sandbox, "expr").await;
    let checks = exprs(&[
        "status == 200",
        r#"content_type == "application/json""#,
        "body.id == 42 && body.roles.size() == 1",
        r#"url endsWith "/users/42""#,
        "duration_ms >= 0",
        "redirects == 0",
        "status == 404",
    ]);
    let verdicts = check(&session, &assertion, &subject, &checks).await.result.expect("check runs");
    assert_eq!(verdicts.iter().map(|v| v.passed).collect::<Vec<_>>(), [true, true, true, true, true, true, false]);
    assert_eq!(verdicts[6].message, "expected `status == 404` but status is 200");
}

fn user_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "name", "email"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "roles": {"type": "array", "items": {"enum": ["admin", "ops", "dev"]}},
            "address": {"type": "object", "required": ["city"]}
        }
    })
}

#[tokio::test]
async fn json_schema_passes_a_valid_body() {
    let verdicts = json_schema(&http_subject(), &[json!({"schema": user_schema()})]).await.result.expect("check runs");
    assert_eq!(verdicts.len(), 1);
    assert!(verdicts[0].passed, "{}", verdicts[0].message);
    assert_eq!(verdicts[0].message, "body matches the schema");
    assert_eq!(verdicts[0].actual, http_subject()["body"]);
}

#[tokio::test]
async fn json_schema_failure_lists_each_violation_with_its_instance_path() {
    let mut subject = http_subject();
    subject["body"]["id"] = json!("42");
    subject["body"]["email"] = json!("not-an-email");
    subject["body"]["roles"] = json!(["admin", "root"]);
    subject["body"]["address"] = json!({"zip": "75001"});
    let verdicts = json_schema(&subject, &[json!({"schema": user_schema()})]).await.result.expect("check runs");
    let verdict = &verdicts[0];
    assert!(!verdict.passed);
    let message = &verdict.message;
    assert!(message.starts_with("body does not match the schema (4 errors):\n  "), "{message}");
    assert!(message.contains(r#"/id: "42" is not of type "integer""#), "{message}");
    assert!(message.contains(r#"/email: "not-an-email" is not a "email""#), "{message}");
    assert!(message.contains(r#"/roles/1: "root" is not one of"#), "{message}");
    assert!(message.contains(r#"/address: "city" is a required property"#), "{message}");
    assert_eq!(verdict.actual, subject["body"]);
}

#[tokio::test]
async fn json_schema_path_chooses_what_is_validated() {
    let checks = [
        json!({"schema": {"type": "string", "pattern": "^/users/[0-9]+$"}, "path": "$.headers.location"}),
        json!({"schema": {"type": "array", "items": {"type": "string"}, "minItems": 3}, "path": "$.body.roles"}),
        json!({"schema": {"const": "Paris"}, "path": "$.address.city"}),
        json!({"schema": {"type": "array", "items": {"type": "string"}}, "path": "$.body.roles[*]"}),
        json!({"schema": true, "path": "$.body.phone"}),
        json!({"schema": {"type": "integer", "maximum": 299}, "path": "$.status"}),
    ];
    let verdicts = json_schema(&http_subject(), &checks).await.result.expect("check runs");
    assert_eq!(verdicts.iter().map(|v| v.passed).collect::<Vec<_>>(), [true, false, true, true, false, true]);
    assert_eq!(
        verdicts[1].message,
        "`$.body.roles` does not match the schema (1 error):\n  (root): [\"admin\",\"ops\"] has less than 3 items"
    );
    assert_eq!(verdicts[2].actual, json!("Paris"), "a body-relative path falls back to the body");
    assert_eq!(verdicts[3].message, "`$.body.roles[*]` (2 matches) matches the schema");
    assert_eq!(
        verdicts[4],
        Verdict {
            passed: false,
            message: "`$.body.phone` matched nothing in the step's output".into(),
            actual: Value::Null
        }
    );
}

#[tokio::test]
async fn json_schema_invalid_schema_is_an_invalid_config() {
    let checks = [json!({"schema": user_schema()}), json!({"schema": {"properties": {"id": {"type": "integr"}}}})];
    match json_schema(&http_subject(), &checks).await.result {
        Err(CallError::InvalidConfig { path, message }) => {
            assert_eq!(path, "/1/schema/properties/id/type");
            assert!(message.starts_with("not a valid JSON Schema: "), "{message}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    match json_schema(&http_subject(), &[json!({"schema": "object"})]).await.result {
        Err(CallError::InvalidConfig { path, message }) => {
            assert_eq!(path, "/0/schema");
            assert!(message.contains("must be an object or a boolean"), "{message}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    match json_schema(&http_subject(), &[json!({"schema": true, "path": "$[?"})]).await.result {
        Err(CallError::InvalidConfig { path, message }) => {
            assert_eq!(path, "/0/path");
            assert!(message.starts_with("not a valid JSONPath"), "{message}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn json_schema_validates_the_whole_subject_when_there_is_no_body() {
    let subject = json!({"rows": [{"id": 1}], "row_count": 1, "first_row": {"id": 1}, "rows_affected": 0});
    let schema = json!({"required": ["rows", "row_count"], "properties": {"row_count": {"minimum": 2}}});
    let verdicts = json_schema(&subject, &[json!({"schema": schema})]).await.result.expect("check runs");
    assert_eq!(
        verdicts[0].message,
        "the subject does not match the schema (1 error):\n  /row_count: 1 is less than the minimum of 2"
    );
}

#[tokio::test]
async fn expr_reused_instance_judges_each_call_afresh() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "expr").await;
    let session = sandbox.session();
    let first = check(&session, &plugin, &http_subject(), &exprs(&["status == 201", "body.id == 42"])).await;
    assert_eq!(first.result.expect("runs").iter().map(|v| v.passed).collect::<Vec<_>>(), [true, true]);

    // Other expressions at the same positions, then the same expressions against another subject.
    let second = check(&session, &plugin, &http_subject(), &exprs(&["status == 200", "body.id == 7"])).await;
    assert!(second.reused_instance);
    assert_eq!(second.result.expect("runs").iter().map(|v| v.passed).collect::<Vec<_>>(), [false, false]);
    let mut other = http_subject();
    other["status"] = json!(200);
    other["body"]["id"] = json!(7);
    let third = check(&session, &plugin, &other, &exprs(&["status == 200", "body.id == 7"])).await;
    assert!(third.reused_instance);
    assert_eq!(third.result.expect("runs").iter().map(|v| v.passed).collect::<Vec<_>>(), [true, true]);
}
