//! The API's defences, against the real server binary: every route × no key, bad keys and each role
//! (the matrix is checked against the OpenAPI document, so a new route cannot be left out), and
//! malformed, hostile or oversized requests, which get a 4xx problem document — never a 5xx, never
//! a dead server.

mod common;

use common::server::{Api, Backend, Body, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Public,
    Viewer,
    Runner,
    Editor,
    Admin,
}

/// A route, as called in the matrix.
struct Route {
    method: Method,
    /// The concrete path called (ids need not exist: a 404 is not a 401 or a 403).
    path: &'static str,
    /// The path as the OpenAPI document writes it.
    template: &'static str,
    need: Need,
    body: fn() -> Body,
}

fn none() -> Body {
    Body::None
}
fn flow_yaml() -> Body {
    Body::Raw("application/yaml", b"name: matrix\nsteps:\n  - { action: log, config: { message: x } }\n".to_vec())
}
fn empty_object() -> Body {
    Body::Json(json!({}))
}
fn inline_run() -> Body {
    Body::Json(json!({"flow": "name: m\nsteps:\n  - { action: log, config: { message: x } }\n"}))
}
fn environment() -> Body {
    Body::Json(json!({"name": "matrix-env", "vars": {}}))
}
fn key() -> Body {
    Body::Json(json!({"role": "viewer"}))
}
fn schedule() -> Body {
    Body::Json(json!({"flow_id": "flw_none", "cron": "0 3 * * *"}))
}
fn wasm() -> Body {
    Body::Raw("application/wasm", b"\0asm\x01\0\0\0".to_vec())
}

fn routes() -> Vec<Route> {
    use Need::*;
    let r = |method: Method, path, template, need, body| Route { method, path, template, need, body };
    vec![
        r(Method::GET, "/health", "/health", Public, none),
        r(Method::GET, "/ready", "/ready", Public, none),
        r(Method::GET, "/openapi.json", "/openapi.json", Public, none),
        r(Method::GET, "/metrics", "/metrics", Viewer, none),
        r(Method::POST, "/flows/validate", "/flows/validate", Viewer, flow_yaml),
        r(Method::POST, "/flows", "/flows", Editor, flow_yaml),
        r(Method::GET, "/flows", "/flows", Viewer, none),
        r(Method::GET, "/flows/flw_none", "/flows/{id}", Viewer, none),
        r(Method::PUT, "/flows/flw_none", "/flows/{id}", Editor, flow_yaml),
        r(Method::DELETE, "/flows/flw_none", "/flows/{id}", Editor, none),
        r(Method::GET, "/flows/flw_none/versions", "/flows/{id}/versions", Viewer, none),
        r(Method::GET, "/flows/flw_none/versions/1", "/flows/{id}/versions/{version}", Viewer, none),
        r(Method::POST, "/flows/flw_none/runs", "/flows/{id}/runs", Runner, empty_object),
        r(Method::POST, "/runs", "/runs", Runner, inline_run),
        r(Method::GET, "/runs", "/runs", Viewer, none),
        r(Method::GET, "/runs/run_none", "/runs/{id}", Viewer, none),
        r(Method::POST, "/runs/run_none/cancel", "/runs/{id}/cancel", Runner, none),
        r(Method::GET, "/runs/run_none/report", "/runs/{id}/report", Viewer, none),
        r(Method::GET, "/runs/run_none/events", "/runs/{id}/events", Viewer, none),
        r(Method::GET, "/environments", "/environments", Viewer, none),
        r(Method::POST, "/environments", "/environments", Editor, environment),
        r(Method::GET, "/environments/none", "/environments/{name}", Viewer, none),
        r(Method::PUT, "/environments/matrix-put", "/environments/{name}", Editor, empty_object),
        r(Method::DELETE, "/environments/none", "/environments/{name}", Editor, none),
        r(Method::POST, "/schedules", "/schedules", Editor, schedule),
        r(Method::GET, "/schedules", "/schedules", Viewer, none),
        r(Method::GET, "/schedules/sch_none", "/schedules/{id}", Viewer, none),
        r(Method::PUT, "/schedules/sch_none", "/schedules/{id}", Editor, schedule),
        r(Method::DELETE, "/schedules/sch_none", "/schedules/{id}", Editor, none),
        r(Method::POST, "/schedules/sch_none/trigger", "/schedules/{id}/trigger", Runner, none),
        r(Method::GET, "/schedules/sch_none/runs", "/schedules/{id}/runs", Viewer, none),
        r(Method::POST, "/keys", "/keys", Admin, key),
        r(Method::GET, "/keys", "/keys", Admin, none),
        r(Method::DELETE, "/keys/0000000000000000", "/keys/{id}", Admin, none),
        r(Method::GET, "/audit", "/audit", Admin, none),
        r(Method::POST, "/plugins", "/plugins", Admin, wasm),
        r(Method::GET, "/plugins", "/plugins", Viewer, none),
        r(Method::GET, "/plugins/none", "/plugins/{name}", Viewer, none),
        r(Method::GET, "/plugins/none/1.0.0", "/plugins/{name}/{version}", Viewer, none),
        r(Method::PATCH, "/plugins/none/1.0.0", "/plugins/{name}/{version}", Admin, empty_object),
        r(Method::DELETE, "/plugins/none/1.0.0", "/plugins/{name}/{version}", Admin, none),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_the_key_and_the_role() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let admin = server.admin();
    let matrix = routes();

    // The matrix covers every operation of the OpenAPI document.
    let document = server.client(None).get("/api/v1/openapi.json").await.json;
    let paths = document["paths"].as_object().expect("paths");
    for (template, operations) in paths {
        for method in operations.as_object().expect("operations").keys() {
            let covered =
                matrix.iter().any(|r| r.template == template && r.method.as_str().eq_ignore_ascii_case(method));
            assert!(covered, "{method} {template} is in the OpenAPI document but not in the matrix");
        }
    }
    assert_eq!(matrix.len(), paths.values().map(|ops| ops.as_object().map_or(0, |o| o.len())).sum::<usize>());

    let revoked = admin.post("/keys", json!({"role": "admin"})).await.json;
    let revoked_key = revoked["key"].as_str().expect("key").to_string();
    let revoked_id = revoked["id"].as_str().expect("id").to_string();
    assert_eq!(admin.delete(&format!("/keys/{revoked_id}")).await.status, 204);
    let bad_keys = [
        "tm_0000000000000000_000000000000000000000000000000000000000000000000".to_string(),
        "not-a-key".to_string(),
        revoked_key,
    ];
    let roles = [
        (Need::Viewer, admin.make_key("viewer").await),
        (Need::Runner, admin.make_key("runner").await),
        (Need::Editor, admin.make_key("editor").await),
        (Need::Admin, server.admin_key.clone()),
    ];

    for route in &matrix {
        let call = |api: Api| async move { api.call(route.method.clone(), route.path, (route.body)()).await };
        let anonymous = call(server.client(None)).await;
        if route.need == Need::Public {
            assert!(anonymous.status < 400, "{} {} is public: {}", route.method, route.path, anonymous.status);
            continue;
        }
        assert_eq!(anonymous.status, 401, "{} {} without a key", route.method, route.path);
        assert_eq!(anonymous.media_type(), "application/problem+json");
        assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
        for bad in &bad_keys {
            let reply = call(server.client(Some(bad))).await;
            assert_eq!(reply.status, 401, "{} {} with key {bad}", route.method, route.path);
        }
        let basic = server
            .client(None)
            .send(route.method.clone(), route.path, (route.body)(), &[("authorization", "Basic YWRtaW46YWRtaW4=")])
            .await;
        assert_eq!(basic.status, 401, "{} {} with basic auth", route.method, route.path);
        for (role, key) in &roles {
            let reply = call(server.client(Some(key))).await;
            if *role >= route.need {
                assert!(
                    reply.status != 401 && reply.status != 403 && reply.status < 500,
                    "{} {} as {role:?}: {} {}",
                    route.method,
                    route.path,
                    reply.status,
                    reply.text
                );
            } else {
                assert_eq!(reply.status, 403, "{} {} as {role:?}: {}", route.method, route.path, reply.text);
                assert!(reply.json["detail"].as_str().unwrap_or_default().contains("role"), "{}", reply.text);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_hostile_and_oversized_requests_get_a_4xx_problem() {
    let Some(server) = TestServer::start_with(Backend::Sqlite, &["--max-plugin-mib", "1"]).await else { return };
    let api = server.admin();
    let big = vec![b'a'; 2 << 20];
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_yaml = format!("name: deep\nsteps: {}{}\n", "[".repeat(200_000), "]".repeat(200_000));
    let deep_block = {
        let mut text = String::from("name: deep\nsteps:\n  - id: a\n    action: log\n    config:\n");
        for depth in 0..1000 {
            text.push_str(&" ".repeat(6 + depth));
            text.push_str("k:\n");
        }
        text
    };
    let cases: Vec<(Method, &str, Body, &[u16])> = vec![
        (Method::POST, "/flows", Body::Raw("application/yaml", vec![0xff, 0xfe, 0x00, 0x01]), &[400]),
        (Method::POST, "/flows", Body::Raw("application/yaml", big.clone()), &[413]),
        (Method::POST, "/flows", Body::Raw("text/plain", b"name: x".to_vec()), &[415]),
        (Method::POST, "/flows", Body::Raw("application/json", deep_json.clone().into_bytes()), &[400, 422]),
        (Method::POST, "/flows", Body::Raw("application/yaml", deep_yaml.into_bytes()), &[400, 422]),
        (Method::POST, "/flows", Body::Raw("application/yaml", deep_block.into_bytes()), &[400, 422]),
        (Method::POST, "/flows", Body::Raw("application/yaml", b"".to_vec()), &[422]),
        (Method::POST, "/flows", Body::Raw("application/yaml", b"- a\n- b\n".to_vec()), &[422]),
        (Method::POST, "/flows/validate", Body::Raw("application/yaml", b"{{{{".to_vec()), &[200]),
        (Method::POST, "/runs", Body::Raw("application/json", b"{not json".to_vec()), &[400]),
        (Method::POST, "/runs", Body::Raw("application/json", deep_json.into_bytes()), &[400]),
        (Method::POST, "/runs", Body::Json(json!({"flow": 5})), &[400]),
        (Method::POST, "/runs", Body::Json(json!({"flow": "x", "extra": 1})), &[400]),
        (Method::POST, "/runs", Body::Raw("application/json", big.clone()), &[413]),
        (Method::POST, "/flows/flw_x/runs", Body::Json(json!([1, 2])), &[400, 404]),
        (Method::POST, "/environments", Body::Json(json!({})), &[400, 422]),
        (Method::POST, "/environments", Body::Json(json!({"name": "x", "secrets": {"1bad": "v"}})), &[422]),
        (Method::POST, "/environments", Body::Raw("application/json", b"[]".to_vec()), &[400, 422]),
        (Method::POST, "/environments", Body::Raw("text/plain", b"{}".to_vec()), &[415]),
        (Method::POST, "/keys", Body::Json(json!({"role": "root"})), &[400, 422]),
        (Method::POST, "/keys", Body::Json(json!({"role": "viewer", "expires_at": "2001-01-01T00:00:00Z"})), &[422]),
        (Method::POST, "/keys", Body::Json(json!({"role": "viewer", "expires_at": "yesterday"})), &[400, 422]),
        (Method::GET, "/runs?since=not-a-date", Body::None, &[400]),
        (Method::GET, "/runs?limit=abc", Body::None, &[400]),
        (Method::GET, "/runs?limit=-5", Body::None, &[400]),
        (Method::GET, "/runs?cursor=%00%01", Body::None, &[400]),
        (Method::GET, "/flows/%FF%FE", Body::None, &[400, 404]),
        (Method::GET, "/runs/run_x/report?format=pdf", Body::None, &[400]),
        (Method::GET, "/runs/run_x/events?after=abc", Body::None, &[400]),
        (Method::POST, "/plugins", Body::Raw("application/wasm", big), &[413]),
        (Method::POST, "/plugins", Body::Raw("application/wasm", Vec::new()), &[400]),
        (Method::POST, "/plugins?grants=ftp:everything", Body::Raw("application/wasm", b"\0asm".to_vec()), &[422]),
        (Method::POST, "/plugins", Body::Raw("multipart/form-data; boundary=x", b"--x\r\ngarbage".to_vec()), &[400]),
        (Method::PATCH, "/plugins/none/1", Body::Json(json!({"grants": "http:*"})), &[400, 422]),
        (Method::PUT, "/flows/flw_x", Body::Raw("application/yaml", b"name: x".to_vec()), &[404, 422]),
        (Method::DELETE, "/runs/run_x", Body::None, &[405]),
        (Method::POST, "/schedules", Body::Json(json!({"flow_id": "x", "cron": 5})), &[400, 422]),
        (
            Method::POST,
            "/schedules",
            Body::Json(json!({"flow_id": "x", "cron": "* * *", "overlap": "sometimes"})),
            &[400, 422],
        ),
    ];
    for (method, path, body, expected) in cases {
        let reply = api.call(method.clone(), path, body).await;
        assert!(expected.contains(&reply.status), "{method} {path}: {} {}", reply.status, reply.text);
        if reply.status >= 400 {
            assert_eq!(reply.media_type(), "application/problem+json", "{method} {path}: {}", reply.text);
            assert_eq!(reply.json["status"].as_u64(), Some(u64::from(reply.status)), "{}", reply.text);
        }
    }
    let header =
        api.send(Method::PUT, "/flows/flw_x", Body::Raw("application/yaml", vec![]), &[("if-match", "\"x\"")]).await;
    assert_eq!(header.status, 400, "{}", header.text);
    let last_event = api.send(Method::GET, "/runs/run_x/events", Body::None, &[("last-event-id", "abc")]).await;
    assert!(last_event.status == 400 || last_event.status == 404, "{}", last_event.text);
    // The server survived all of it.
    assert_eq!(server.client(None).get("/health").await.status, 200);
    let value: Value = api.get("/flows").await.json;
    assert!(value["items"].is_array());
}
