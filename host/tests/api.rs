//! The REST API end to end: the real `testmesh serve` binary on a random port, on SQLite and on a
//! fresh PostgreSQL database (and once on PostgreSQL + Redis Streams), driven over HTTP as CI, an
//! editor and an admin would. Flows run in the server's embedded workers against a real HTTP API
//! started here.

mod common;

use common::server::{Api, Backend, Body, Reply, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Runs each case on SQLite and on PostgreSQL: `sqlite::<case>`, `postgres::<case>`.
macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(server) = super::TestServer::start(super::Backend::Sqlite).await else { return };
                    super::$case(&server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(server) = super::TestServer::start(super::Backend::Postgres).await else { return };
                    super::$case(&server).await;
                }
            )*
        }
    };
}

on_both_databases!(
    ci_journey_push_run_wait_junit,
    invalid_flows_get_their_line_column_and_path,
    flow_versions_and_if_match,
    cancel_stops_a_running_run_and_runs_teardown,
    events_stream_and_resume_after_last_event_id,
    environment_secrets_are_write_only_and_masked,
    inline_runs_need_no_stored_flow,
    lists_page_with_cursors,
    admin_installs_a_plugin_that_a_flow_uses,
    schedules_are_checked_fired_by_hand_and_keep_their_history,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_postgres_and_redis_streams_run_a_flow() {
    let Some(server) = TestServer::start(Backend::PostgresRedis).await else { return };
    ci_journey_push_run_wait_junit(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_only_node_and_worker_processes_share_the_runs() {
    let Some(server) = TestServer::start_with(Backend::PostgresRedis, &["--workers", "0"]).await else { return };
    let api = server.admin();
    let flow = "name: remote work\nsteps:\n  - { id: a, action: log, config: { message: \"hi ${WHO}\" }, assert: [ message == \"hi w\" ] }\n  - { id: b, action: delay, config: { duration: 1s } }\nteardown:\n  - { id: t, action: log, config: { message: bye } }\n";
    assert_eq!(api.post_yaml("/flows", flow).await.status, 201);
    // Nobody runs it yet: the API node has no workers.
    let queued = api.post("/flows/remote%20work/runs?wait=1", json!({"vars": {"WHO": "w"}})).await;
    assert_eq!((queued.status, queued.json["status"].as_str()), (202, Some("queued")), "{}", queued.text);
    let first = queued.json["run_id"].as_str().expect("id").to_string();
    let mut workers = [server.spawn_worker(), server.spawn_worker()];
    assert_eq!(finished(&api, &first).await["status"], "passed");
    // Several at once, spread over both workers; every one runs exactly once.
    let mut ids = Vec::new();
    for _ in 0..6 {
        let reply = api.post("/flows/remote%20work/runs", json!({"vars": {"WHO": "w"}})).await;
        ids.push(reply.json["run_id"].as_str().expect("id").to_string());
    }
    for id in &ids {
        let run = finished(&api, id).await;
        assert_eq!(run["status"], "passed", "{run}");
        let events = sse_events(&api.get(&format!("/runs/{id}/events")).await.text);
        assert_eq!(events.iter().filter(|(_, kind, _)| kind == "run.started").count(), 1, "ran once: {events:?}");
    }
    // A cancel reaches a worker in another process through storage.
    let slow = "name: remote slow\nsteps:\n  - { id: wait, action: delay, config: { duration: 20s } }\nteardown:\n  - { id: t, action: log, config: { message: bye } }\n";
    assert_eq!(api.post_yaml("/flows", slow).await.status, 201);
    let id = api.post("/flows/remote%20slow/runs", json!({})).await.json["run_id"].as_str().expect("id").to_string();
    let started = Instant::now();
    while api.get(&format!("/runs/{id}")).await.json["status"] != "running" {
        assert!(started.elapsed() < Duration::from_secs(20), "never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(api.call(Method::POST, &format!("/runs/{id}/cancel"), Body::None).await.status, 202);
    let run = finished(&api, &id).await;
    assert_eq!(run["status"], "cancelled");
    assert!(started.elapsed() < Duration::from_secs(15), "the 20 s step was interrupted");
    assert!(run["steps"].as_array().expect("steps").iter().any(|s| s["id"] == "t" && s["status"] == "passed"), "{run}");
    for worker in &mut workers {
        let _ = worker.kill();
        let _ = worker.wait();
    }
}

/// The demo API the flows test, on a random port of this process.
async fn demo_api() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { testmesh_demo_api::serve(listener).await.expect("demo api") });
    format!("http://{address}")
}

const HTTP_FLOW: &str = r#"
name: checkout smoke
tags: [smoke, ci]
suite: checkout
steps:
  - id: health
    action: http_request
    config: { url: "${BASE}/health" }
    assert:
      - status == 200
  - id: echo
    action: http_request
    config:
      method: POST
      url: "${BASE}/echo"
      json: { item: "book", qty: 2 }
    assert:
      - status == 200
      - body.body.qty == 2
    output: { item: $.body.body.item }
  - id: products
    action: http_request
    config: { url: "${BASE}/products" }
    assert:
      - status == 200
"#;

/// Polls a run until it has finished.
async fn finished(api: &Api, run_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = api.get(&format!("/runs/{run_id}")).await;
        assert_eq!(run.status, 200, "{}", run.text);
        let status = run.json["status"].as_str().unwrap_or_default().to_string();
        if !matches!(status.as_str(), "queued" | "running") {
            return run.json;
        }
        assert!(Instant::now() < deadline, "run {run_id} did not finish: {}", run.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ci_journey_push_run_wait_junit(server: &TestServer) {
    let base = demo_api().await;
    let editor = server.client(Some(&server.admin().make_key("editor").await));
    let ci = server.client(Some(&server.admin().make_key("runner").await));

    let pushed = editor.post_yaml("/flows", HTTP_FLOW).await;
    assert_eq!(pushed.status, 201, "{}", pushed.text);
    assert_eq!(pushed.json["version"], 1);
    assert_eq!(pushed.json["tags"], json!(["smoke", "ci"]));
    assert_eq!(pushed.headers["etag"], "\"1\"");
    let flow_id = pushed.json["id"].as_str().expect("id").to_string();

    // CI runs it by name and waits for it.
    let run = ci.post("/flows/checkout%20smoke/runs?wait=60", json!({"vars": {"BASE": base}})).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.json["status"], "passed", "{}", run.text);
    assert_eq!(run.json["flow_id"], flow_id.as_str());
    assert_eq!(run.json["flow_version"], 1);
    assert_eq!(run.json["summary"], json!({"passed": 3, "failed": 0, "skipped": 0}));
    assert_eq!(run.json["outputs"]["item"], "book");
    let steps = run.json["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[1]["assertions"][1]["passed"], true, "assertion verdicts are in the run");
    let run_id = run.json["id"].as_str().expect("run id").to_string();

    let junit = ci.get(&format!("/runs/{run_id}/report?format=junit")).await;
    assert_eq!(junit.status, 200);
    assert_eq!(junit.media_type(), "application/xml");
    assert!(junit.text.contains("tests=\"3\"") && junit.text.contains("failures=\"0\""), "{}", junit.text);
    assert!(junit.text.contains("name=\"steps/echo\""), "{}", junit.text);
    let report = ci.get(&format!("/runs/{run_id}/report")).await;
    assert_eq!(report.status, 200);
    assert_eq!(report.json["runs"][0]["status"], "passed", "{}", report.text);

    // A failing flow: the run fails, the report says where.
    let failing = HTTP_FLOW.replace("name: checkout smoke", "name: checkout broken").replacen(
        "status == 200",
        "status == 503",
        1,
    );
    assert_eq!(editor.post_yaml("/flows", &failing).await.status, 201);
    let run = ci.post("/flows/checkout%20broken/runs?wait=60", json!({"vars": {"BASE": base}})).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.json["status"], "failed");
    let failed_id = run.json["id"].as_str().expect("id");
    let junit = ci.get(&format!("/runs/{failed_id}/report?format=junit")).await;
    assert!(junit.text.contains("<failure"), "{}", junit.text);
    assert!(junit.text.contains("status == 503"), "{}", junit.text);

    // Without waiting: 202 with where to look; then it finishes.
    let queued = ci.post(&format!("/flows/{flow_id}/runs"), json!({"vars": {"BASE": base}})).await;
    assert_eq!(queued.status, 202, "{}", queued.text);
    let id = queued.json["run_id"].as_str().expect("run_id");
    assert_eq!(queued.headers["location"], format!("/api/v1/runs/{id}").as_str());
    assert_eq!(finished(&ci, id).await["status"], "passed");

    let listed = ci.get(&format!("/runs?flow_id={flow_id}&status=passed")).await;
    assert_eq!(listed.json["items"].as_array().map(Vec::len), Some(2), "{}", listed.text);
}

async fn invalid_flows_get_their_line_column_and_path(server: &TestServer) {
    let api = server.admin();
    let bad = "name: bad\nsteps:\n  - id: a\n    action: htp\n  - id: b\n    action: log\n    config: { message: 5, colour: red }\n";
    let reply = api.post_yaml("/flows", bad).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.media_type(), "application/problem+json");
    assert_eq!(reply.json["type"], "urn:testmesh:problem:invalid-flow");
    let errors = reply.json["errors"].as_array().expect("errors");
    let first = &errors[0];
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(4), Some(13)), "{}", reply.text);
    assert_eq!(first["path"], "steps[0].action");
    assert!(first["message"].as_str().unwrap_or_default().contains("did you mean"), "{}", reply.text);
    assert!(
        errors.iter().any(|e| e["path"].as_str().unwrap_or_default().starts_with("steps[1].config")),
        "{}",
        reply.text
    );

    let syntax = api.post_yaml("/flows", "name: x\nsteps: [\n").await;
    assert_eq!(syntax.status, 422, "{}", syntax.text);
    assert!(syntax.json["errors"][0]["line"].as_u64().is_some(), "{}", syntax.text);

    let report = api.post_yaml("/flows/validate", bad).await;
    assert_eq!(report.status, 200);
    assert_eq!(report.json["valid"], false);
    assert_eq!(report.json["errors"].as_array().map(Vec::len), Some(errors.len()));
    let good =
        api.post_yaml("/flows/validate", "name: ok\nsteps:\n  - { action: log, config: { message: hi } }\n").await;
    assert_eq!((good.json["valid"].as_bool(), good.json["steps"].as_u64()), (Some(true), Some(1)), "{}", good.text);

    // JSON documents are flows too.
    let as_json = json!({"name": "json flow", "steps": [{"action": "log", "config": {"message": "hi"}}]});
    let reply = api.call(Method::POST, "/flows", Body::Json(as_json)).await;
    assert_eq!(reply.status, 201, "{}", reply.text);

    // A run_flow naming no stored flow is invalid; naming a stored one is fine.
    let caller = "name: caller\nsteps:\n  - id: sub\n    run_flow: json flow\n  - id: missing\n    run_flow: nowhere\n";
    let reply = api.post_yaml("/flows", caller).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.json["errors"].as_array().map(Vec::len), Some(1), "{}", reply.text);
    assert!(reply.text.contains("nowhere"));
}

async fn flow_versions_and_if_match(server: &TestServer) {
    let api = server.admin();
    let v1 = "name: versioned\nsteps:\n  - { id: say, action: log, config: { message: one }, output: { said: $.message } }\n";
    let created = api.post_yaml("/flows", v1).await;
    let id = created.json["id"].as_str().expect("id").to_string();
    let v2 = v1.replace("message: one", "message: two");
    let put = |version: &'static str, text: String| {
        let api = api.clone();
        let path = format!("/flows/{id}");
        async move {
            let body = Body::Raw("application/yaml", text.into_bytes());
            api.send(Method::PUT, &path, body, &[("if-match", version)]).await
        }
    };
    let updated = put("\"1\"", v2.clone()).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.headers["etag"], "\"2\"");
    let stale = put("\"1\"", v2.clone()).await;
    assert_eq!(stale.status, 412);
    assert!(stale.json["detail"].as_str().unwrap_or_default().contains("current version is 2"), "{}", stale.text);
    assert_eq!(put("two", v2.clone()).await.status, 400, "If-Match must name a version");

    let versions = api.get(&format!("/flows/{id}/versions")).await;
    let numbers: Vec<i64> =
        versions.json["items"].as_array().expect("items").iter().filter_map(|v| v["version"].as_i64()).collect();
    assert_eq!(numbers, [2, 1]);
    assert!(
        api.get(&format!("/flows/{id}/versions/1")).await.json["source"].as_str().unwrap_or_default().contains("one")
    );
    assert_eq!(api.get(&format!("/flows/{id}/versions/9")).await.status, 404);

    // A run can pin an older version.
    let run = api.post(&format!("/flows/{id}/runs?wait=30"), json!({"version": 1})).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!((run.json["flow_version"].as_i64(), run.json["outputs"]["said"].as_str()), (Some(1), Some("one")));
    let run = api.post(&format!("/flows/{id}/runs?wait=30"), json!({})).await;
    assert_eq!(run.json["outputs"]["said"], "two");
    assert_eq!(api.post(&format!("/flows/{id}/runs"), json!({"version": 7})).await.status, 422);

    // Deleted: gone from the API, its runs still read.
    let run_id = run.json["id"].as_str().expect("id").to_string();
    assert_eq!(api.delete(&format!("/flows/{id}")).await.status, 204);
    assert_eq!(api.get(&format!("/flows/{id}")).await.status, 404);
    assert_eq!(api.get(&format!("/runs/{run_id}")).await.status, 200);
}

async fn cancel_stops_a_running_run_and_runs_teardown(server: &TestServer) {
    let api = server.admin();
    let flow = "name: slow\nsteps:\n  - { id: wait, action: delay, config: { duration: 20s } }\n  - { id: never, action: log, config: { message: no } }\nteardown:\n  - { id: cleanup, action: log, config: { message: cleaned } }\n";
    assert_eq!(api.post_yaml("/flows", flow).await.status, 201);
    let started = Instant::now();
    let queued = api.post("/flows/slow/runs", json!({})).await;
    let id = queued.json["run_id"].as_str().expect("id").to_string();
    // Wait until the worker is in the 30 s step.
    loop {
        let run = api.get(&format!("/runs/{id}")).await;
        if run.json["status"] == "running" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never started: {}", run.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancel = api.call(Method::POST, &format!("/runs/{id}/cancel"), Body::None).await;
    assert_eq!(cancel.status, 202, "{}", cancel.text);
    assert_eq!(cancel.json["cancel_requested"], true);
    let run = finished(&api, &id).await;
    assert!(started.elapsed() < Duration::from_secs(15), "the 20 s step was interrupted");
    assert_eq!(run["status"], "cancelled", "{run}");
    let steps: Vec<(String, String)> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["id"].as_str().unwrap_or("").to_string(), s["status"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(steps.contains(&("wait".into(), "cancelled".into())), "{steps:?}");
    assert!(steps.contains(&("cleanup".into(), "passed".into())), "teardown ran: {steps:?}");
    assert!(steps.contains(&("never".into(), "skipped".into())), "later steps do not run: {steps:?}");
    let again = api.call(Method::POST, &format!("/runs/{id}/cancel"), Body::None).await;
    assert_eq!(again.status, 409, "finished runs cannot be cancelled");

    // A queued run that is cancelled never starts.
    let busy =
        TestServer::spawn(server.data_dir.clone(), server.database_url.clone(), None, &["--workers", "0"], false);
    let api_only = busy.admin_with(&server.admin_key);
    let queued = api_only.post("/flows/slow/runs", json!({})).await;
    let id = queued.json["run_id"].as_str().expect("id").to_string();
    let cancel = api_only.call(Method::POST, &format!("/runs/{id}/cancel"), Body::None).await;
    assert_eq!(cancel.json["status"], "cancelled", "{}", cancel.text);
}

/// The events of an SSE body: (id, event, data).
fn sse_events(text: &str) -> Vec<(i64, String, Value)> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let (mut id, mut event, mut data) = (None, String::new(), String::new());
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim());
            }
        }
        if let Some(id) = id {
            events.push((id, event, serde_json::from_str(&data).unwrap_or(Value::Null)));
        }
    }
    events
}

async fn events_stream_and_resume_after_last_event_id(server: &TestServer) {
    let api = server.admin();
    let flow = "name: two steps\nsteps:\n  - { id: a, action: log, config: { message: a } }\n  - { id: b, action: delay, config: { duration: 300ms } }\n";
    assert_eq!(api.post_yaml("/flows", flow).await.status, 201);
    let queued = api.post("/flows/two%20steps/runs", json!({})).await;
    let id = queued.json["run_id"].as_str().expect("id").to_string();
    // Subscribed while the run goes: the stream ends after run.finished.
    let live = api.get(&format!("/runs/{id}/events")).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.media_type(), "text/event-stream");
    let events = sse_events(&live.text);
    let kinds: Vec<&str> = events.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["run.started", "step.started", "step.finished", "step.started", "step.finished", "run.finished"],
        "{}",
        live.text
    );
    assert_eq!(events[2].2["status"], "passed");
    assert_eq!(events[5].2["status"], "passed");
    // Resuming after the second event gives the rest.
    let second = events[1].0;
    let client = reqwest::Client::new();
    let resumed = client
        .get(format!("{}/api/v1/runs/{id}/events", server.url))
        .bearer_auth(&server.admin_key)
        .header("last-event-id", second.to_string())
        .send()
        .await
        .expect("resume")
        .text()
        .await
        .expect("text");
    let rest = sse_events(&resumed);
    assert_eq!(rest.len(), 4, "{resumed}");
    assert!(rest.iter().all(|(seq, _, _)| *seq > second));
    // After the last event there is nothing more, and the stream ends at once.
    let last = events[5].0;
    let after = api.get(&format!("/runs/{id}/events?after={last}")).await;
    assert!(sse_events(&after.text).is_empty(), "{}", after.text);
    assert_eq!(api.get("/runs/run_nope/events").await.status, 404);
}

async fn environment_secrets_are_write_only_and_masked(server: &TestServer) {
    let api = server.admin();
    let created = api
        .post(
            "/environments",
            json!({"name": "staging", "vars": {"WHO": "alice"}, "secrets": {"TOKEN": "s3cr3t-value"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["secrets"], json!(["TOKEN"]));
    assert!(!created.text.contains("s3cr3t-value"));
    let read = api.get("/environments/staging").await;
    assert!(!read.text.contains("s3cr3t-value") && read.text.contains("TOKEN"), "{}", read.text);
    assert_eq!(api.post("/environments", json!({"name": "staging"})).await.status, 409);
    assert_eq!(api.post("/environments", json!({"name": "bad name!"})).await.status, 422);

    let flow = "name: secretive\nsteps:\n  - id: say\n    action: log\n    config: { message: \"${WHO} uses ${secret.TOKEN}\" }\n    output: { said: $.message }\n";
    assert_eq!(api.post_yaml("/flows", flow).await.status, 201);
    let run = api.post("/flows/secretive/runs?wait=30", json!({"environment": "staging"})).await;
    assert_eq!(run.json["status"], "passed", "{}", run.text);
    assert!(!run.text.contains("s3cr3t-value"), "secrets are masked: {}", run.text);
    assert!(run.text.contains("alice uses ***"), "{}", run.text);
    let id = run.json["id"].as_str().expect("id");
    let events = api.get(&format!("/runs/{id}/events")).await;
    assert!(!events.text.contains("s3cr3t-value"), "{}", events.text);

    // PUT without secrets keeps them; the run still sees the secret.
    let put = api.call(Method::PUT, "/environments/staging", Body::Json(json!({"vars": {"WHO": "bob"}}))).await;
    assert_eq!((put.status, put.json["secrets"].clone()), (200, json!(["TOKEN"])), "{}", put.text);
    let run = api.post("/flows/secretive/runs?wait=30", json!({"environment": "staging"})).await;
    assert!(run.text.contains("bob uses ***"), "{}", run.text);
    assert_eq!(api.post("/flows/secretive/runs", json!({"environment": "nowhere"})).await.status, 422);
    assert_eq!(api.delete("/environments/staging").await.status, 204);
    assert_eq!(api.get("/environments/staging").await.status, 404);
}

async fn inline_runs_need_no_stored_flow(server: &TestServer) {
    let api = server.client(Some(&server.admin().make_key("runner").await));
    let flow = "name: inline\nsteps:\n  - { id: a, action: log, config: { message: \"hi ${WHO}\" }, assert: [ message == \"hi ann\" ] }\n";
    let run = api.post("/runs?wait=30", json!({"flow": flow, "vars": {"WHO": "ann"}})).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.json["status"], "passed");
    assert_eq!(run.json["flow_id"], Value::Null);
    let as_object = json!({"flow": {"name": "object", "steps": [{"action": "log", "config": {"message": "x"}}]}});
    assert_eq!(api.post("/runs?wait=30", as_object).await.json["status"], "passed");
    let yaml = api
        .call(Method::POST, "/runs?wait=30", Body::Raw("application/yaml", flow.replace("${WHO}", "ann").into_bytes()))
        .await;
    assert_eq!(yaml.json["status"], "passed", "{}", yaml.text);
    let invalid = api.post("/runs", json!({"flow": "name: x\nsteps: []\n"})).await;
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert_eq!(api.post("/runs?wait=9999", json!({"flow": flow})).await.status, 400);
}

async fn lists_page_with_cursors(server: &TestServer) {
    let api = server.admin();
    for name in ["p1", "p2", "p3"] {
        let flow = format!("name: {name}\ntags: [paged]\nsteps:\n  - {{ action: log, config: {{ message: x }} }}\n");
        assert_eq!(api.post_yaml("/flows", &flow).await.status, 201);
    }
    let first = api.get("/flows?tag=paged&limit=2").await;
    let names = |reply: &Reply| -> Vec<String> {
        reply.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|f| f["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names(&first), ["p3", "p2"], "newest first");
    let cursor = first.json["next_cursor"].as_str().expect("a next page");
    let second = api.get(&format!("/flows?tag=paged&limit=2&cursor={cursor}")).await;
    assert_eq!(names(&second), ["p1"]);
    assert_eq!(second.json["next_cursor"], Value::Null);
    assert_eq!(api.get("/flows?limit=0").await.status, 400);
    assert_eq!(api.get("/flows?cursor=garbage!").await.status, 400);
    assert_eq!(api.get("/flows?q=P2").await.json["items"].as_array().map(Vec::len), Some(1));
    let keys = api.get("/keys?limit=1").await;
    assert_eq!(keys.json["items"].as_array().map(Vec::len), Some(1));
}

/// The probe test fixture, a component that can call HTTP when granted.
fn probe_component() -> Vec<u8> {
    common::component("probe")
}

async fn admin_installs_a_plugin_that_a_flow_uses(server: &TestServer) {
    let base = demo_api().await;
    let admin = server.admin();
    let runner = server.client(Some(&admin.make_key("runner").await));
    let wasm = probe_component();
    let digest = testmesh::sandbox::digest(&wasm);

    // A non-admin cannot install.
    let refused = runner.call(Method::POST, "/plugins", Body::Raw("application/wasm", wasm.clone())).await;
    assert_eq!(refused.status, 403);
    // A wrong digest is refused before anything is stored.
    let wrong = admin.call(Method::POST, "/plugins?sha256=00ff", Body::Raw("application/wasm", wasm.clone())).await;
    assert_eq!(wrong.status, 422, "{}", wrong.text);

    let host = base.trim_start_matches("http://");
    let path = format!("/plugins?grants=http:{host}&sha256=sha256:{digest}");
    let installed = admin.call(Method::POST, &path, Body::Raw("application/wasm", wasm.clone())).await;
    assert_eq!(installed.status, 201, "{}", installed.text);
    assert_eq!(installed.json["name"], "probe");
    assert_eq!(installed.json["digest"], format!("sha256:{digest}").as_str());
    assert_eq!(installed.json["grants"], json!([format!("http:{host}")]));
    assert!(installed.json["imports"].as_array().is_some_and(|i| !i.is_empty()), "{}", installed.text);
    let again = admin.call(Method::POST, &path, Body::Raw("application/wasm", wasm.clone())).await;
    assert_eq!((again.status, again.json["created"].as_bool()), (200, Some(false)), "{}", again.text);
    let listed = admin.get("/plugins?limit=500").await;
    assert!(listed.text.contains("\"name\":\"probe\"") && listed.text.contains("\"builtin\":true"), "{}", listed.text);
    assert_eq!(admin.get("/plugins/probe").await.json.as_array().map(Vec::len), Some(1));

    // A flow uses it, with the granted destination.
    let flow = format!(
        "name: uses probe\nsteps:\n  - id: call\n    action: probe\n    config: {{ mode: http_get, url: \"{base}/health\" }}\n    assert: [ status == 200 ]\n"
    );
    assert_eq!(admin.post_yaml("/flows", &flow).await.status, 201);
    let run = runner.post("/flows/uses%20probe/runs?wait=30", json!({})).await;
    assert_eq!(run.json["status"], "passed", "{}", run.text);

    // Without the grant the step fails, saying why.
    let patched = admin.call(Method::PATCH, "/plugins/probe/0.1.0", Body::Json(json!({"grants": []}))).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let run = runner.post("/flows/uses%20probe/runs?wait=30", json!({})).await;
    assert_eq!(run.json["status"], "failed", "{}", run.text);
    assert!(run.text.contains("not granted") || run.text.contains("denied"), "{}", run.text);

    // Bad uploads are refused with the reason.
    let not_ours = wat::parse_str("(component)").expect("wat");
    let reply = admin.call(Method::POST, "/plugins", Body::Raw("application/wasm", not_ours)).await;
    assert_eq!(reply.status, 400);
    assert!(reply.json["detail"].as_str().unwrap_or_default().contains("missing export"), "{}", reply.text);
    let mut corrupt = wasm.clone();
    corrupt.truncate(corrupt.len() / 2);
    let reply = admin.call(Method::POST, "/plugins", Body::Raw("application/wasm", corrupt)).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json["detail"].as_str().unwrap_or_default().contains("not a valid WebAssembly component"),
        "{}",
        reply.text
    );
    let core = wat::parse_str("(module)").expect("wat");
    let reply = admin.call(Method::POST, "/plugins", Body::Raw("application/wasm", core)).await;
    assert!(reply.json["detail"].as_str().unwrap_or_default().contains("core WebAssembly module"), "{}", reply.text);
    let reply = admin.call(Method::POST, "/plugins", Body::Raw("text/plain", b"hello".to_vec())).await;
    assert_eq!(reply.status, 415);

    // Removal is refused while a stored flow uses it, unless forced.
    let refused = admin.delete("/plugins/probe/0.1.0").await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.text.contains("uses probe"), "{}", refused.text);
    assert_eq!(admin.delete("/plugins/probe/0.1.0?force=true").await.status, 204);
    assert_eq!(admin.get("/plugins/probe").await.status, 404);
    assert_eq!(admin.delete("/plugins/http_request/0.1.0").await.status, 409, "built-ins stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_upload_as_multipart_form_too() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let form = reqwest::multipart::Form::new()
        .part("component", reqwest::multipart::Part::bytes(probe_component()).file_name("probe.wasm"))
        .text("grants", "http:example.com");
    let reply = reqwest::Client::new()
        .post(format!("{}/api/v1/plugins", server.url))
        .bearer_auth(&server.admin_key)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(reply.status().as_u16(), 201);
    let body: Value = reply.json().await.expect("json");
    assert_eq!(body["grants"], json!(["http:example.com"]));
    assert_eq!(body["capabilities"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_prints_an_admin_key_and_later_starts_do_not() {
    let Some(mut server) = TestServer::start(Backend::Sqlite).await else { return };
    assert!(server.admin_key.starts_with("tm_"));
    assert_eq!(server.admin().get("/keys").await.status, 200);
    server.stop();
    let again = TestServer::spawn(server.data_dir.clone(), None, None, &[], false);
    let printed = again.printed();
    assert!(!printed.iter().any(|line| line.contains("tm_")), "no second key: {printed:?}");
    let keys = again.admin_with(&server.admin_key).get("/keys").await;
    assert_eq!(keys.status, 200, "the first key still works");
    assert_eq!(keys.json["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_the_openapi_document() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let anonymous = server.client(None);
    assert_eq!(anonymous.get("/health").await.json["status"], "ok");
    assert_eq!(anonymous.get("/api/v1/health").await.status, 200);
    assert_eq!(anonymous.get("/ready").await.json["database"], "sqlite");
    assert_eq!(anonymous.get("/metrics").await.status, 401);
    let admin = server.admin();
    assert_eq!(
        admin
            .post("/runs?wait=30", json!({"flow": "name: m\nsteps:\n  - { action: log, config: { message: x } }\n"}))
            .await
            .status,
        200
    );
    let viewer = server.client(Some(&admin.make_key("viewer").await));
    let metrics = viewer.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    for name in [
        "testmesh_runs{status=\"passed\"} 1",
        "testmesh_queue_depth 0",
        "testmesh_step_duration_seconds_bucket",
        "testmesh_plugin_call_duration_seconds_count{plugin=\"log\"}",
        "testmesh_http_requests_total",
    ] {
        assert!(metrics.text.contains(name), "{name} in\n{}", metrics.text);
    }
    let document = anonymous.get("/api/v1/openapi.json").await;
    assert_eq!(document.json["openapi"], "3.1.0");
    assert!(document.json["paths"]["/flows/{id}/runs"]["post"].is_object());
    assert_eq!(anonymous.get("/api/v1/nowhere").await.status, 404);
    assert_eq!(anonymous.get("/api/v1/nowhere").await.media_type(), "application/problem+json");
}

async fn schedules_are_checked_fired_by_hand_and_keep_their_history(server: &TestServer) {
    let admin = server.admin();
    let flow = "name: nightly\nsteps:\n  - { id: a, action: log, config: { message: \"run ${WHO}\" }, assert: [ message == \"run night\" ] }\n";
    assert_eq!(admin.post_yaml("/flows", flow).await.status, 201);
    let body =
        json!({"flow_id": "nightly", "cron": "30 2 * * *", "timezone": "Europe/Paris", "vars": {"WHO": "night"}});
    let created = admin.post("/schedules", body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!((created.json["overlap"].as_str(), created.json["catch_up"].as_str()), (Some("forbid"), Some("latest")));
    let next: chrono::DateTime<chrono::Utc> =
        created.json["next_fire_at"].as_str().expect("next").parse().expect("time");
    let paris = next.with_timezone(&chrono_tz::Europe::Paris);
    assert_eq!(paris.format("%H:%M").to_string(), "02:30", "read in the schedule's zone: {next}");
    let id = created.json["id"].as_str().expect("id").to_string();

    for (bad, says) in [
        (json!({"flow_id": "nightly", "cron": "* * * * * *"}), "seconds"),
        (json!({"flow_id": "nightly", "cron": "99 * * * *"}), "invalid cron"),
        (json!({"flow_id": "nightly", "cron": "@daily", "timezone": "Mars/Olympus"}), "time zone"),
        (json!({"flow_id": "nowhere", "cron": "@daily"}), "nowhere"),
        (json!({"flow_id": "nightly", "cron": "@daily", "environment": "nope"}), "nope"),
    ] {
        let reply = admin.post("/schedules", bad).await;
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert!(reply.text.contains(says), "{says}: {}", reply.text);
    }

    let runner = server.client(Some(&admin.make_key("runner").await));
    let triggered = runner.call(Method::POST, &format!("/schedules/{id}/trigger"), Body::None).await;
    assert_eq!(triggered.status, 202, "{}", triggered.text);
    let run = finished(&runner, triggered.json["run_id"].as_str().expect("run")).await;
    assert_eq!((run["status"].as_str(), run["schedule_id"].as_str()), (Some("passed"), Some(id.as_str())), "{run}");
    let runs = admin.get(&format!("/schedules/{id}/runs")).await;
    assert_eq!(runs.json["items"].as_array().map(Vec::len), Some(1), "{}", runs.text);
    let read = admin.get(&format!("/schedules/{id}")).await;
    assert_eq!(read.json["recent_fires"][0]["outcome"], "triggered", "{}", read.text);

    let disabled = admin
        .call(
            Method::PUT,
            &format!("/schedules/{id}"),
            Body::Json(json!({"flow_id": "nightly", "cron": "@hourly", "enabled": false})),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!((disabled.json["enabled"].as_bool(), disabled.json["next_fire_at"].is_null()), (Some(false), true));
    assert_eq!(admin.get("/schedules").await.json["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(admin.delete(&format!("/schedules/{id}")).await.status, 204);
    assert_eq!(admin.get(&format!("/schedules/{id}")).await.status, 404);
}
