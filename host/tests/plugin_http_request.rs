//! The built-in `http_request` action, run in the real sandbox against a real HTTP server on 127.0.0.1:
//! request building (method, headers, query, bodies, auth), response shaping (parsed JSON, text,
//! lower-case headers, content type, duration), redirects, timeouts, config errors and grants.

mod common;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery};
use axum::http::header::{AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use common::{grants, load, run, sandbox};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use testmesh::sandbox::{CallError, CallOptions, Grants, Plugin, Sandbox, Session};

/// The server's routes, each shaped for one kind of check.
fn app() -> axum::Router {
    axum::Router::new()
        .route("/json", get(json_route))
        .route("/text", get(|| async { "plain text, not JSON: {\"a\": 1}" }))
        .route("/echo", any(echo))
        .route("/echo/{*rest}", any(echo))
        .route("/redirect/{code}", any(redirect))
        .route("/chain/{n}", any(chain))
        .route("/away", any(away))
        .route("/big", get(big))
        .route("/empty", any(|| async { StatusCode::NO_CONTENT }))
        .route("/slow", get(slow))
        .route("/basic", get(basic_protected))
        .route("/bearer", get(bearer_protected))
        .fallback(|uri: Uri| async move { (StatusCode::NOT_FOUND, format!("no route for {}", uri.path())) })
}

async fn json_route() -> Response {
    let mut response =
        Json(json!({"id": 7, "name": "alice", "tags": ["admin", "ops"], "active": true, "manager": null}))
            .into_response();
    let headers = response.headers_mut();
    headers.insert("X-Request-Id", "req-123".parse().expect("header value"));
    headers.append("x-multi", "first".parse().expect("header value"));
    headers.append("x-multi", "second".parse().expect("header value"));
    response
}

/// Everything the server received, as JSON: method, path, raw and decoded query, headers, body.
async fn echo(
    method: Method,
    uri: Uri,
    RawQuery(raw_query): RawQuery,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut header_map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &headers {
        let value = value.to_str().unwrap_or("<not text>").to_string();
        header_map.entry(name.as_str().to_string()).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
    }
    let mut response = Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "raw_query": raw_query,
        "query": pairs,
        "headers": header_map,
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response();
    response.headers_mut().insert("X-Echo-Method", method.as_str().parse().expect("header value"));
    response
}

/// `/redirect/<code>` answers `<code>` with `location: /echo`.
async fn redirect(Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).expect("status code");
    (status, [(LOCATION, "/echo")]).into_response()
}

/// `/chain/<n>` redirects to `/chain/<n-1>` (relative), and `/chain/0` answers with JSON.
async fn chain(Path(n): Path<u32>) -> Response {
    if n == 0 {
        return Json(json!({"arrived": true})).into_response();
    }
    (StatusCode::FOUND, [(LOCATION, format!("{}", n - 1))]).into_response()
}

/// `/away?to=<absolute URL>&code=<status>` redirects anywhere.
async fn away(Query(query): Query<BTreeMap<String, String>>) -> Response {
    let code = query.get("code").and_then(|c| c.parse().ok()).unwrap_or(307);
    (StatusCode::from_u16(code).expect("status code"), [(LOCATION, query["to"].clone())]).into_response()
}

/// `n` bytes of text: the alphabet, repeated.
async fn big(Query(query): Query<BTreeMap<String, usize>>) -> String {
    (b'a'..=b'z').map(char::from).cycle().take(query["n"]).collect()
}

/// Waits `ms` milliseconds (default 10 s) before answering.
async fn slow(Query(query): Query<BTreeMap<String, u64>>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(query.get("ms").copied().unwrap_or(10_000))).await;
    "finally"
}

async fn basic_protected(headers: HeaderMap) -> Response {
    // base64("Aladdin:open sesame"), RFC 7617's example.
    if headers.get(AUTHORIZATION).is_some_and(|v| v == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") {
        Json(json!({"user": "Aladdin"})).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, "Basic realm=\"test\"")], "who are you?").into_response()
    }
}

async fn bearer_protected(headers: HeaderMap) -> Response {
    if headers.get(AUTHORIZATION).is_some_and(|v| v == "Bearer token-123") {
        Json(json!({"scope": "read"})).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, "Bearer")], "bad token").into_response()
    }
}

/// Starts the server on a free port and returns its base URL.
async fn server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app()).await });
    format!("http://{address}")
}

/// A server, the plugin and a session, with HTTP granted to 127.0.0.1.
struct Setup {
    base: String,
    _sandbox: Sandbox,
    plugin: Arc<Plugin>,
    session: Session,
    grants: Arc<Grants>,
}

impl Setup {
    async fn new() -> Setup {
        let base = server().await;
        let sandbox = sandbox();
        let plugin = load(&sandbox, "http_request").await;
        let session = sandbox.session();
        Setup { base, _sandbox: sandbox, plugin, session, grants: grants(&["http:127.0.0.1"]) }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(&self, config: Value) -> Result<Value, CallError> {
        run(&self.session, &self.plugin, &self.grants, config, &CallOptions::default()).await.result
    }

    async fn ok(&self, config: Value) -> Value {
        let description = config.to_string();
        self.call(config).await.unwrap_or_else(|e| panic!("{description}: {e}"))
    }
}

#[tokio::test]
async fn get_json_body_is_parsed_and_output_has_every_documented_key() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/json")})).await;
    assert_eq!(output["status"], 200);
    assert_eq!(
        output["body"],
        json!({"id": 7, "name": "alice", "tags": ["admin", "ops"], "active": true, "manager": null})
    );
    assert_eq!(output["content_type"], "application/json");
    assert_eq!(output["url"], s.url("/json"));
    assert_eq!(output["redirects"], 0);
    assert!(output["duration_ms"].is_u64(), "duration_ms: {}", output["duration_ms"]);
    for key in ["status", "headers", "body", "duration_ms", "url", "content_type", "redirects"] {
        assert!(output.get(key).is_some(), "missing `{key}` in {output}");
    }
}

#[tokio::test]
async fn text_body_stays_text_even_when_it_contains_json() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/text")})).await;
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], "plain text, not JSON: {\"a\": 1}");
    assert_eq!(output["content_type"], "text/plain; charset=utf-8");
}

#[tokio::test]
async fn response_headers_are_lower_cased_and_repeated_ones_joined() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/json")})).await;
    let headers = output["headers"].as_object().expect("headers object");
    assert_eq!(headers["x-request-id"], "req-123");
    assert_eq!(headers["x-multi"], "first, second");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.keys().all(|k| *k == k.to_ascii_lowercase()), "a header name is not lower case: {headers:?}");
    assert!(headers.values().all(Value::is_string), "header values must be strings: {headers:?}");
}

#[tokio::test]
async fn method_is_upper_cased_and_request_headers_are_sent() {
    let s = Setup::new().await;
    let output = s
        .ok(json!({
            "method": "delete",
            "url": s.url("/echo/items/42"),
            "headers": {"X-Trace-Id": "trace-1", "X-Attempt": 3, "X-Dry-Run": true}
        }))
        .await;
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"]["method"], "DELETE");
    assert_eq!(output["body"]["path"], "/echo/items/42");
    let sent = &output["body"]["headers"];
    assert_eq!((sent["x-trace-id"].as_str(), sent["x-attempt"].as_str()), (Some("trace-1"), Some("3")));
    assert_eq!(sent["x-dry-run"], "true");
    assert_eq!(output["headers"]["x-echo-method"], "DELETE");
    assert_eq!(output["body"]["body"], "", "a DELETE without a body sends none");
}

#[tokio::test]
async fn query_map_is_percent_encoded_and_appended_to_the_url() {
    let s = Setup::new().await;
    let output = s
        .ok(json!({
            "url": s.url("/echo?page=2"),
            "query": {"q": "a b&c=d/é", "tag": ["x", "y"], "n": 5, "flag": false}
        }))
        .await;
    assert_eq!(output["body"]["raw_query"], "page=2&flag=false&n=5&q=a%20b%26c%3Dd%2F%C3%A9&tag=x&tag=y");
    assert_eq!(
        output["body"]["query"],
        json!([["page", "2"], ["flag", "false"], ["n", "5"], ["q", "a b&c=d/é"], ["tag", "x"], ["tag", "y"]])
    );
    assert_eq!(output["url"], s.url("/echo?page=2&flag=false&n=5&q=a%20b%26c%3Dd%2F%C3%A9&tag=x&tag=y"));

    // TestMesh spells it `params`.
    let output = s.ok(json!({"url": s.url("/echo"), "params": {"limit": 10}})).await;
    assert_eq!(output["body"]["raw_query"], "limit=10");
}

#[tokio::test]
async fn post_json_echoes_body_and_sets_content_type() {
    let s = Setup::new().await;
    let output = s
        .ok(json!({"method": "POST", "url": s.url("/echo"), "json": {"name": "alice", "roles": ["a"], "age": 30}}))
        .await;
    assert_eq!(output["body"]["method"], "POST");
    assert_eq!(output["body"]["headers"]["content-type"], "application/json");
    let sent: Value = serde_json::from_str(output["body"]["body"].as_str().expect("text")).expect("JSON was sent");
    assert_eq!(sent, json!({"name": "alice", "roles": ["a"], "age": 30}));
}

#[tokio::test]
async fn explicit_content_type_wins_over_the_json_default() {
    let s = Setup::new().await;
    let output = s
        .ok(json!({
            "method": "PUT",
            "url": s.url("/echo"),
            "headers": {"Content-Type": "application/vnd.api+json"},
            "json": [1, 2]
        }))
        .await;
    assert_eq!(output["body"]["method"], "PUT");
    assert_eq!(output["body"]["headers"]["content-type"], "application/vnd.api+json");
    assert_eq!(output["body"]["body"], "[1,2]");
}

#[tokio::test]
async fn form_body_is_urlencoded_with_its_content_type() {
    let s = Setup::new().await;
    let output = s
        .ok(json!({"method": "post", "url": s.url("/echo"), "form": {"user": "a b", "tags": ["x", "y&z"], "n": 1}}))
        .await;
    assert_eq!(output["body"]["headers"]["content-type"], "application/x-www-form-urlencoded");
    assert_eq!(output["body"]["body"], "n=1&tags=x&tags=y%26z&user=a+b");
}

#[tokio::test]
async fn raw_string_body_is_sent_as_it_is() {
    let s = Setup::new().await;
    let output = s.ok(json!({"method": "POST", "url": s.url("/echo"), "body": "hello, raw world"})).await;
    assert_eq!(output["body"]["body"], "hello, raw world");
    assert_eq!(output["body"]["headers"]["content-type"], "text/plain; charset=utf-8");

    // TestMesh's `body` with a JSON object or a string holding JSON is sent as JSON.
    let output = s.ok(json!({"method": "PATCH", "url": s.url("/echo"), "body": {"status": "done"}})).await;
    assert_eq!(
        (output["body"]["method"].as_str(), output["body"]["body"].as_str()),
        (Some("PATCH"), Some("{\"status\":\"done\"}"))
    );
    assert_eq!(output["body"]["headers"]["content-type"], "application/json");
    let output = s.ok(json!({"method": "POST", "url": s.url("/echo"), "body": "{\"a\": 1}"})).await;
    assert_eq!(output["body"]["body"], "{\"a\": 1}");
    assert_eq!(output["body"]["headers"]["content-type"], "application/json");
}

#[tokio::test]
async fn basic_auth_is_accepted_and_wrong_credentials_get_401() {
    let s = Setup::new().await;
    let output = s
        .ok(json!({"url": s.url("/basic"), "auth": {"type": "basic", "username": "Aladdin", "password": "open sesame"}}))
        .await;
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], json!({"user": "Aladdin"}));

    let output =
        s.ok(json!({"url": s.url("/basic"), "auth": {"type": "basic", "username": "Aladdin", "password": "no"}})).await;
    assert_eq!(output["status"], 401, "a 401 is a response, not a failed call");
    assert_eq!(output["headers"]["www-authenticate"], "Basic realm=\"test\"");
    assert_eq!(output["body"], "who are you?");
}

#[tokio::test]
async fn bearer_auth_sets_the_authorization_header() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/bearer"), "auth": {"type": "bearer", "token": "token-123"}})).await;
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], json!({"scope": "read"}));
    let output = s.ok(json!({"url": s.url("/echo"), "auth": {"type": "bearer", "token": "token-123"}})).await;
    assert_eq!(output["body"]["headers"]["authorization"], "Bearer token-123");
    let output = s.ok(json!({"url": s.url("/bearer"), "auth": {"type": "bearer", "token": "stale"}})).await;
    assert_eq!(output["status"], 401);
}

#[tokio::test]
async fn redirect_chain_is_followed_to_the_final_url() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/chain/3")})).await;
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], json!({"arrived": true}));
    assert_eq!(output["url"], s.url("/chain/0"));
    assert_eq!(output["redirects"], 3);
}

#[tokio::test]
async fn every_redirect_status_is_followed_for_a_get() {
    let s = Setup::new().await;
    for code in [301, 302, 303, 307, 308] {
        let output = s.ok(json!({"url": s.url(&format!("/redirect/{code}"))})).await;
        assert_eq!(output["status"], 200, "{code}");
        assert_eq!(output["url"], s.url("/echo"), "{code}");
        assert_eq!(output["redirects"], 1, "{code}");
        assert_eq!(output["body"]["method"], "GET", "{code}");
    }
}

#[tokio::test]
async fn redirects_are_not_followed_when_follow_redirects_is_false() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/chain/2"), "follow_redirects": false})).await;
    assert_eq!(output["status"], 302);
    assert_eq!(output["headers"]["location"], "1");
    assert_eq!(output["url"], s.url("/chain/2"));
    assert_eq!(output["redirects"], 0);
    assert_eq!(output["body"], "");
}

#[tokio::test]
async fn too_many_redirects_fail_with_the_last_location() {
    let s = Setup::new().await;
    let error = s.call(json!({"url": s.url("/chain/5"), "max_redirects": 2})).await.expect_err("too many");
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("gave up after 2 redirects (max_redirects)"), "{text}");
    assert!(text.contains(&format!("GET {}", s.url("/chain/3"))) && text.contains("pointed to `2`"), "{text}");
}

#[tokio::test]
async fn see_other_turns_post_into_get_without_the_body() {
    let s = Setup::new().await;
    let output = s.ok(json!({"method": "POST", "url": s.url("/redirect/303"), "json": {"order": 1}})).await;
    assert_eq!(output["status"], 200);
    assert_eq!(output["redirects"], 1);
    assert_eq!(output["body"]["method"], "GET");
    assert_eq!(output["body"]["body"], "");
    assert!(output["body"]["headers"].get("content-type").is_none(), "{}", output["body"]["headers"]);
}

#[tokio::test]
async fn moved_and_found_turn_post_into_get_but_keep_put() {
    let s = Setup::new().await;
    for code in [301, 302] {
        let url = s.url(&format!("/redirect/{code}"));
        let output = s.ok(json!({"method": "POST", "url": url, "body": "payload"})).await;
        assert_eq!((output["body"]["method"].as_str(), output["body"]["body"].as_str()), (Some("GET"), Some("")));
        let output = s.ok(json!({"method": "PUT", "url": url, "body": "payload"})).await;
        assert_eq!(
            (output["body"]["method"].as_str(), output["body"]["body"].as_str()),
            (Some("PUT"), Some("payload"))
        );
    }
}

#[tokio::test]
async fn temporary_redirect_repeats_post_with_body_and_credentials() {
    let s = Setup::new().await;
    let output = s
        .ok(json!({
            "method": "POST",
            "url": s.url("/redirect/307"),
            "json": {"order": 1},
            "auth": {"type": "bearer", "token": "token-123"}
        }))
        .await;
    assert_eq!(output["redirects"], 1);
    assert_eq!(output["body"]["method"], "POST");
    assert_eq!(output["body"]["body"], "{\"order\":1}");
    assert_eq!(output["body"]["headers"]["content-type"], "application/json");
    assert_eq!(output["body"]["headers"]["authorization"], "Bearer token-123", "same origin keeps credentials");
}

#[tokio::test]
async fn not_found_is_a_response_with_status_404() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/no/such/thing")})).await;
    assert_eq!(output["status"], 404);
    assert_eq!(output["body"], "no route for /no/such/thing");
}

#[tokio::test]
async fn duration_ms_covers_the_server_time() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/slow?ms=150")})).await;
    assert_eq!(output["body"], "finally");
    let duration_ms = output["duration_ms"].as_u64().expect("duration_ms is a whole number");
    assert!(duration_ms >= 150, "the server waited 150ms, duration_ms is {duration_ms}");
}

#[tokio::test]
async fn timeout_fails_the_call_with_a_clear_message() {
    let s = Setup::new().await;
    let url = s.url("/slow");
    let report =
        run(&s.session, &s.plugin, &s.grants, json!({"url": url, "timeout": "300ms"}), &CallOptions::default()).await;
    let error = report.result.expect_err("the server answers after 10s");
    assert!(matches!(error, CallError::Failed(_)), "the plugin, not the host, reports it: {error:?}");
    assert_eq!(error.to_string(), format!("GET {url}: no complete response within 300ms (the request's `timeout`)"));
    assert!(report.duration < Duration::from_secs(9), "the call waited for the server: {:?}", report.duration);

    // The same session goes on working.
    assert_eq!(s.ok(json!({"url": s.url("/json")})).await["status"], 200);
}

#[tokio::test]
async fn missing_url_is_an_invalid_config() {
    let s = Setup::new().await;
    let error = s.call(json!({"method": "GET"})).await.expect_err("no url");
    match &error {
        CallError::InvalidConfig { path, message } => {
            assert_eq!(path, "", "a missing field is reported at the config itself");
            assert!(message.contains("missing field `url`"), "{message}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_config_values_point_at_their_field() {
    let s = Setup::new().await;
    let cases = [
        (json!({"url": s.url("/json"), "method": 5}), "/method", "expected a string"),
        (json!({"url": s.url("/json"), "method": "GE T"}), "/method", "is not an HTTP method"),
        (json!({"url": "/json"}), "/url", "is not an absolute URL"),
        (json!({"url": "ftp://127.0.0.1/x"}), "/url", "only http and https"),
        (json!({"url": s.url("/json"), "timeout": "soon"}), "/timeout", "is not a duration"),
        (json!({"url": s.url("/json"), "headers": {"X-A": {"b": 1}}}), "/headers/X-A", "string, number or boolean"),
        (json!({"url": s.url("/json"), "json": {}, "form": {}}), "/form", "keep only one"),
        (json!({"url": s.url("/json"), "auth": {"type": "digest"}}), "/auth", "digest"),
        (json!({"url": s.url("/json"), "follow_redirect": false}), "", "follow_redirect"),
    ];
    for (config, expected_path, expected_text) in cases {
        let description = config.to_string();
        match s.call(config).await {
            Err(CallError::InvalidConfig { path, message }) => {
                assert!(path.starts_with(expected_path), "{description}: path {path:?}, expected {expected_path:?}");
                assert!(message.contains(expected_text), "{description}: {message}");
            }
            other => panic!("{description}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn ungranted_host_is_denied_without_a_request() {
    let s = Setup::new().await;
    let url = s.url("/json");
    let report =
        run(&s.session, &s.plugin, &grants(&["http:example.invalid"]), json!({"url": url}), &CallOptions::default())
            .await;
    let error = report.result.expect_err("denied");
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.starts_with(&format!("GET {url}: request denied")), "{text}");
    assert!(text.contains("is not granted to plugin http_request@0.1.0 (granted: example.invalid)"), "{text}");
    assert!(
        report.logs.iter().any(|l| l.message.contains("http to 127.0.0.1:")),
        "denial not logged: {:?}",
        report.logs
    );
}

#[tokio::test]
async fn descriptor_names_the_plugin_with_alias_http() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "http_request").await;
    let descriptor = &plugin.descriptor;
    assert_eq!((descriptor.name.as_str(), descriptor.version.as_str()), ("http_request", "0.1.0"));
    assert!(descriptor.aliases.iter().any(|a| a == "http"), "{:?}", descriptor.aliases);
    assert_eq!(plugin.kind(), testmesh::sandbox::PluginKind::Action);
    assert_eq!(descriptor.config_schema["required"], json!(["url"]));
    assert!(descriptor.capabilities.iter().any(|c| c.capability == "http"));
    assert_eq!(plugin.label(), "http_request@0.1.0");
}

#[tokio::test]
async fn step_deadline_bounds_a_request_without_its_own_timeout() {
    let s = Setup::new().await;
    let url = s.url("/slow");
    let options = CallOptions {
        // The plugin keeps a margin of 250ms (its most) before the host would interrupt it.
        limits: testmesh::sandbox::Limits { deadline: Duration::from_secs(5), ..Default::default() },
        ..CallOptions::default()
    };
    let report = run(&s.session, &s.plugin, &s.grants, json!({"url": url}), &options).await;
    let error = report.result.expect_err("the server answers after 10s");
    assert!(matches!(error, CallError::Failed(_)), "the plugin reports it before the host interrupts it: {error:?}");
    let text = error.to_string();
    assert!(text.starts_with(&format!("GET {url}: no complete response within ")), "{text}");
    assert!(text.ends_with("(the time left before the step's timeout)"), "{text}");
}

#[tokio::test]
async fn credentials_are_not_forwarded_to_another_origin() {
    let s = Setup::new().await;
    let other = server().await;
    assert_ne!(other, s.base);
    let target = format!("{other}/echo");
    let output = s
        .ok(json!({
            "url": s.url("/away"),
            "query": {"to": target, "code": 307},
            "headers": {"X-Trace-Id": "t-1"},
            "auth": {"type": "bearer", "token": "token-123"}
        }))
        .await;
    assert_eq!(output["url"], target);
    assert_eq!(output["redirects"], 1);
    let seen = &output["body"]["headers"];
    assert!(seen.get("authorization").is_none(), "the token leaked to another origin: {seen}");
    assert_eq!(seen["x-trace-id"], "t-1", "other headers are kept");
}

#[tokio::test]
async fn redirect_to_an_ungranted_host_is_denied() {
    let s = Setup::new().await;
    let error = s
        .call(json!({"url": s.url("/away"), "query": {"to": "http://example.invalid/steal", "code": 302}}))
        .await
        .expect_err("the redirect leaves the grant");
    let text = error.to_string();
    assert!(text.starts_with("GET http://example.invalid/steal: request denied"), "{text}");
    assert!(text.contains("http to example.invalid:80 is not granted to plugin http_request@0.1.0"), "{text}");
}

#[tokio::test]
async fn head_request_returns_headers_and_an_empty_body() {
    let s = Setup::new().await;
    let output = s.ok(json!({"method": "HEAD", "url": s.url("/json")})).await;
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], "");
    assert_eq!(output["headers"]["x-request-id"], "req-123");
    assert_eq!(output["content_type"], "application/json");
}

#[tokio::test]
async fn no_content_has_an_empty_body_and_no_content_type() {
    let s = Setup::new().await;
    let output = s.ok(json!({"method": "POST", "url": s.url("/empty"), "json": {}})).await;
    assert_eq!(output["status"], 204);
    assert_eq!(output["body"], "");
    assert_eq!(output["content_type"], Value::Null);
}

#[tokio::test]
async fn large_bodies_travel_whole_both_ways() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/big"), "query": {"n": 1_000_000}})).await;
    let body = output["body"].as_str().expect("text body");
    assert_eq!(body.len(), 1_000_000);
    assert!(body.starts_with("abcdefghijklmnopqrstuvwxyzabc") && body.ends_with("mn"), "{}", &body[body.len() - 30..]);

    let payload: String = (b'0'..=b'9').map(char::from).cycle().take(300_000).collect();
    let output = s.ok(json!({"method": "POST", "url": s.url("/echo"), "body": payload})).await;
    assert_eq!(output["body"]["body"].as_str().map(str::len), Some(300_000));
    assert_eq!(output["body"]["body"], payload);
}

#[tokio::test]
async fn non_ascii_path_is_percent_encoded() {
    let s = Setup::new().await;
    let output = s.ok(json!({"url": s.url("/echo/café au lait")})).await;
    assert_eq!(output["body"]["path"], "/echo/caf%C3%A9%20au%20lait");
    assert_eq!(output["url"], s.url("/echo/caf%C3%A9%20au%20lait"));
}

#[tokio::test]
async fn connection_refused_is_a_failed_call_naming_the_url() {
    let s = Setup::new().await;
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let url = format!("http://127.0.0.1:{port}/x");
    let error = s.call(json!({"url": url})).await.expect_err("nothing listens");
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.starts_with(&format!("GET {url}: request failed")), "{text}");
}

#[tokio::test]
async fn each_call_gets_its_own_grants_even_on_a_reused_instance() {
    let s = Setup::new().await;
    let call = |grants: Arc<Grants>| {
        let config = json!({"url": s.url("/json")});
        let (session, plugin) = (&s.session, &s.plugin);
        async move { run(session, plugin, &grants, config, &CallOptions::default()).await }
    };
    let granted = call(grants(&["http:127.0.0.1"])).await;
    assert_eq!(granted.result.expect("granted")["status"], 200);

    // Same session and plugin, an idle instance is waiting: a call with fewer grants must not inherit them.
    let denied = call(grants(&["http:example.invalid"])).await;
    let error = denied.result.expect_err("127.0.0.1 is not granted to this call");
    assert!(error.to_string().contains("(granted: example.invalid)"), "{error}");

    // And a call with the first grants again still works, on an instance of its own grants.
    let again = call(grants(&["http:127.0.0.1"])).await;
    assert_eq!(again.result.expect("granted")["status"], 200);
    assert!(again.reused_instance, "the instance of the first call is reused for the same grants");
}

#[tokio::test]
async fn host_header_names_the_url_host_not_the_address_connected_to() {
    // The gate connects to the address it checked; the server must still see the name the flow used.
    let address = tokio::net::lookup_host(("localhost", 0)).await.expect("localhost resolves").next().expect("one");
    let listener = tokio::net::TcpListener::bind((address.ip(), 0)).await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, app()).await });
    let sandbox = sandbox();
    let plugin = load(&sandbox, "http_request").await;
    let url = format!("http://localhost:{port}/echo");
    let output =
        run(&sandbox.session(), &plugin, &grants(&["http:localhost"]), json!({"url": url}), &CallOptions::default())
            .await
            .result
            .expect("granted by name");
    assert_eq!(output["body"]["headers"]["host"], format!("localhost:{port}"));
    assert_eq!(output["url"], url);
}

/// A raw HTTP/1.1 server counting the connections it accepts; with `close_after_response` it
/// hangs up after each response without saying so (as servers closing idle connections do).
async fn counting_server(close_after_response: bool) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        buffer.drain(..end + 4);
                        let body = r#"{"ok":true}"#;
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(response.as_bytes()).await.is_err() || close_after_response {
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{address}"), accepted)
}

#[tokio::test]
async fn consecutive_requests_reuse_one_keep_alive_connection() {
    let (base, accepted) = counting_server(false).await;
    let setup = Setup::new().await;
    for _ in 0..5 {
        let output = setup.ok(json!({"url": format!("{base}/ping")})).await;
        assert_eq!(output["body"], json!({"ok": true}));
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_pooled_connection_the_server_closed_is_replaced_without_failing_the_request() {
    let (base, accepted) = counting_server(true).await;
    let setup = Setup::new().await;
    for _ in 0..5 {
        let output = setup.ok(json!({"url": format!("{base}/ping")})).await;
        assert_eq!(output["status"], 200);
        // Give the hang-up time to arrive, as an idle timeout would.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 5);
}
