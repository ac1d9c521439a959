//! The runner end to end: real flows parsed from YAML, run with the built-in plugins in the real
//! sandbox against a real HTTP server on 127.0.0.1 — templating and captures across steps,
//! retries and polling, timeouts that interrupt calls, `on_error`, `when`, `disabled`, teardown
//! after failure, timeout and cancellation, the control steps, sub-flows, secrets, events.

mod common;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testmesh::flow::parse_flow;
use testmesh::runner::{
    EventSink, FileLoader, NoEvents, Registry, RunEvent, RunRequest, RunResult, RunStatus, Runner, RunnerOptions,
    StepResult, StepStatus,
};
use testmesh::sandbox::Grants;

#[derive(Default)]
struct Server {
    users: Mutex<HashMap<u64, Value>>,
    next_id: AtomicUsize,
    counters: Mutex<HashMap<String, u64>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

type Shared = Arc<Server>;

async fn create_user(State(server): State<Shared>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let id = server.next_id.fetch_add(1, Ordering::SeqCst) as u64 + 1;
    let mut user = body;
    user["id"] = json!(id);
    server.users.lock().unwrap().insert(id, user.clone());
    (StatusCode::CREATED, Json(user))
}

async fn get_user(State(server): State<Shared>, Path(id): Path<u64>) -> (StatusCode, Json<Value>) {
    match server.users.lock().unwrap().get(&id) {
        Some(user) => (StatusCode::OK, Json(user.clone())),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))),
    }
}

/// Counts calls per name: polling flows wait for a count.
async fn counter(State(server): State<Shared>, Path(name): Path<String>) -> Json<Value> {
    let mut counters = server.counters.lock().unwrap();
    let count = counters.entry(name).or_default();
    *count += 1;
    Json(json!({"count": *count, "ready": *count >= 3}))
}

/// Sleeps, tracking how many requests are in flight at once.
async fn slow(State(server): State<Shared>, Query(query): Query<HashMap<String, u64>>) -> Json<Value> {
    let now = server.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    server.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(query.get("ms").copied().unwrap_or(100))).await;
    server.in_flight.fetch_sub(1, Ordering::SeqCst);
    Json(json!({"slept": true}))
}

async fn start() -> (String, Shared) {
    let server = Shared::default();
    let app = axum::Router::new()
        .route("/users", post(create_user))
        .route("/users/{id}", get(get_user))
        .route("/counter/{name}", get(counter))
        .route("/slow", get(slow))
        .route("/items", get(|| async { Json(json!({"items": [{"n": 1}, {"n": 2}, {"n": 3}]})) }))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{address}"), server)
}

fn runner() -> Runner {
    let registry = Registry::with_builtins(common::sandbox(), Grants::local_development());
    Runner::new(Arc::new(registry), Arc::new(FileLoader), RunnerOptions::default())
}

fn request(base: &str) -> RunRequest {
    let mut request = RunRequest { run_id: "test-run".into(), ..RunRequest::default() };
    request.vars.insert("BASE".into(), json!(base));
    request
}

async fn run_text(text: &str, request: RunRequest) -> RunResult {
    let flow = parse_flow(text, "test.yaml").unwrap_or_else(|d| panic!("flow does not parse:\n{d}"));
    runner().run(&flow, request, &NoEvents).await
}

fn step<'r>(result: &'r RunResult, path: &str) -> &'r StepResult {
    result.steps.iter().find(|s| s.path == path).unwrap_or_else(|| {
        let paths: Vec<&str> = result.steps.iter().map(|s| s.path.as_str()).collect();
        panic!("no step `{path}` in {paths:?}")
    })
}

fn statuses(result: &RunResult) -> Vec<(String, StepStatus)> {
    result.steps.iter().map(|s| (s.path.clone(), s.status)).collect()
}

#[tokio::test]
async fn captures_and_templates_carry_values_across_steps() {
    let (base, _) = start().await;
    let result = run_text(
        r#"
name: crud
env:
  USER_NAME: alice
steps:
  - id: create
    action: http_request
    config:
      method: POST
      url: ${BASE}/users
      json: { name: "${USER_NAME}", age: 30 }
    assert:
      - status == 201
      - body.name == USER_NAME
    output:
      user_id: $.body.id
      age: $.age
  - id: fetch
    action: http
    config: { url: "${BASE}/users/${user_id}" }
    assert:
      - status == 200
      - body.id == create.user_id
      - steps.create.status == 201
      - body.age == age
"#,
        request(&base),
    )
    .await;
    assert_eq!(result.status, RunStatus::Passed, "{result:#?}");
    assert_eq!(step(&result, "create").captures["user_id"], json!(1));
    assert_eq!(step(&result, "create").captures["age"], json!(30), "body-relative capture");
    assert_eq!(step(&result, "fetch").config["url"], json!(format!("{base}/users/1")));
    assert_eq!(result.outputs["user_id"], json!(1));
}

#[tokio::test]
async fn a_wrong_expectation_fails_the_run_with_the_actual_value() {
    let (base, _) = start().await;
    let result = run_text(
        r#"
name: negative control
steps:
  - id: create
    action: http_request
    config: { method: POST, url: "${BASE}/users", json: { name: bob } }
    assert:
      - status == 200
      - body.name == "bob"
  - id: never
    action: log
    config: { message: not reached }
"#,
        request(&base),
    )
    .await;
    assert_eq!(result.status, RunStatus::Failed);
    let create = step(&result, "create");
    assert_eq!(create.status, StepStatus::Failed);
    assert!(!create.assertions[0].passed);
    assert!(create.assertions[0].message.contains("201"), "{}", create.assertions[0].message);
    assert!(create.assertions[1].passed);
    assert_eq!(create.assertions[0].span.line, 8);
    assert_eq!(step(&result, "never").status, StepStatus::Skipped, "fail_fast skips the rest");
    assert_eq!(step(&result, "never").error.as_deref(), Some("not run: step `create` failed"));
}

#[tokio::test]
async fn retry_until_polls_until_the_condition_holds() {
    let (base, server) = start().await;
    let result = run_text(
        r#"
name: polling
steps:
  - id: poll
    action: http_request
    config: { url: "${BASE}/counter/job" }
    retry: { max_attempts: 10, delay: 10ms, until: body.ready == true }
    assert:
      - body.count == 3
"#,
        request(&base),
    )
    .await;
    assert_eq!(result.status, RunStatus::Passed, "{result:#?}");
    assert_eq!(step(&result, "poll").attempts, 3);
    assert_eq!(server.counters.lock().unwrap()["job"], 3);
}

#[tokio::test]
async fn retry_gives_up_after_max_attempts_and_says_so() {
    let (base, _) = start().await;
    let result = run_text(
        r#"
name: polling that never succeeds
steps:
  - id: poll
    action: http_request
    config: { url: "${BASE}/counter/other" }
    retry: { max_attempts: 2, delay: 5ms, backoff: exponential, until: body.count > 100 }
"#,
        request(&base),
    )
    .await;
    assert_eq!(result.status, RunStatus::Failed);
    let poll = step(&result, "poll");
    assert_eq!(poll.attempts, 2);
    let error = poll.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("retry.until `body.count > 100` did not hold") && error.contains("after 2 attempts"),
        "{error}"
    );
}

#[tokio::test]
async fn a_step_timeout_interrupts_the_call_and_teardown_still_runs() {
    let (base, _) = start().await;
    let started = Instant::now();
    let result = run_text(
        r#"
name: timeout
steps:
  - id: slow
    action: http_request
    config: { url: "${BASE}/slow?ms=5000" }
    timeout: 200ms
teardown:
  - id: cleanup
    action: log
    config: { message: cleaning up }
"#,
        request(&base),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(4), "the call was not interrupted");
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(step(&result, "slow").status, StepStatus::Timeout);
    assert!(step(&result, "slow").error.as_deref().unwrap_or_default().contains("200ms"));
    assert_eq!(step(&result, "cleanup").status, StepStatus::Passed);
}

#[tokio::test]
async fn the_flow_timeout_stops_the_run_as_timeout_with_teardown() {
    let (base, _) = start().await;
    let result = run_text(
        r#"
name: flow timeout
timeout: 300ms
steps:
  - id: slow
    action: http_request
    config: { url: "${BASE}/slow?ms=5000" }
  - id: after
    action: log
    config: { message: never }
teardown:
  - id: cleanup
    action: log
    config: { message: cleaning up }
"#,
        request(&base),
    )
    .await;
    assert_eq!(result.status, RunStatus::Timeout, "{result:#?}");
    assert_eq!(step(&result, "slow").status, StepStatus::Timeout);
    assert_eq!(step(&result, "after").status, StepStatus::Skipped);
    assert_eq!(step(&result, "cleanup").status, StepStatus::Passed);
}

#[tokio::test]
async fn cancelling_stops_the_running_call_and_runs_teardown() {
    let (base, _) = start().await;
    let flow = parse_flow(
        r#"
name: cancel
steps:
  - id: slow
    action: http_request
    config: { url: "${BASE}/slow?ms=10000" }
teardown:
  - id: cleanup
    action: log
    config: { message: cleaning up }
"#,
        "cancel.yaml",
    )
    .expect("flow");
    let request = request(&base);
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let result = runner().run(&flow, request, &NoEvents).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(result.status, RunStatus::Cancelled);
    assert_eq!(step(&result, "slow").status, StepStatus::Cancelled);
    assert_eq!(step(&result, "cleanup").status, StepStatus::Passed);
}

#[tokio::test]
async fn on_error_continue_records_the_failure_without_failing_the_run() {
    let result = run_text(
        r#"
name: tolerated
fail_fast: true
steps:
  - id: flaky
    action: log
    config: { message: "a" }
    assert: [ message == "b" ]
    on_error: continue
  - id: next
    action: log
    config: { message: "c" }
"#,
        RunRequest::default(),
    )
    .await;
    assert_eq!(result.status, RunStatus::Passed);
    assert_eq!(step(&result, "flaky").status, StepStatus::Failed);
    assert!(step(&result, "flaky").continue_on_error);
    assert_eq!(step(&result, "next").status, StepStatus::Passed);
}

#[tokio::test]
async fn fail_fast_false_runs_every_step_and_a_failing_teardown_fails_the_run() {
    let result = run_text(
        r#"
name: keep going
fail_fast: false
steps:
  - id: one
    action: log
    config: { message: "a" }
    assert: [ message == "b" ]
  - id: two
    action: log
    config: { message: "c" }
teardown:
  - id: broken
    action: log
    config: { message: "${missing_variable}" }
  - id: still
    action: log
    config: { message: "teardown goes on" }
"#,
        RunRequest::default(),
    )
    .await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(
        statuses(&result),
        [
            ("one".to_string(), StepStatus::Failed),
            ("two".to_string(), StepStatus::Passed),
            ("broken".to_string(), StepStatus::Error),
            ("still".to_string(), StepStatus::Passed),
        ]
    );
    let error = step(&result, "broken").error.clone().unwrap_or_default();
    assert!(error.contains("missing_variable") && error.contains("line 15"), "{error}");
}

#[tokio::test]
async fn when_and_disabled_skip_steps() {
    let result = run_text(
        r#"
name: conditions
env:
  MODE: fast
steps:
  - id: only_slow
    action: log
    config: { message: slow }
    when: MODE == "slow"
  - id: only_fast
    action: log
    config: { message: fast }
    when: MODE == "fast"
  - id: off
    action: log
    config: { message: off }
    disabled: true
"#,
        RunRequest::default(),
    )
    .await;
    assert_eq!(result.status, RunStatus::Passed);
    assert_eq!(step(&result, "only_slow").status, StepStatus::Skipped);
    assert_eq!(step(&result, "only_fast").status, StepStatus::Passed);
    assert_eq!(step(&result, "off").status, StepStatus::Skipped);
}

#[tokio::test]
async fn setup_failure_skips_the_main_steps_but_not_teardown() {
    let result = run_text(
        r#"
name: setup fails
setup:
  - id: prepare
    action: log
    config: { message: "x" }
    assert: [ message == "y" ]
steps:
  - id: main
    action: log
    config: { message: main }
teardown:
  - id: cleanup
    action: log
    config: { message: cleanup }
"#,
        RunRequest::default(),
    )
    .await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(step(&result, "main").status, StepStatus::Skipped);
    assert_eq!(step(&result, "main").error.as_deref(), Some("not run: setup step `prepare` failed"));
    assert_eq!(step(&result, "cleanup").status, StepStatus::Passed);
}

#[tokio::test]
async fn for_each_runs_iterations_concurrently_with_item_and_index() {
    let (base, server) = start().await;
    let result = run_text(
        r#"
name: loop
steps:
  - id: list
    action: http_request
    config: { url: "${BASE}/items" }
  - id: each
    for_each: ${list.body.items}
    as: it
    concurrency: 3
    steps:
      - id: call
        action: http_request
        config: { url: "${BASE}/slow?ms=150&n=${it.n}&i=${index}" }
        assert: [ status == 200 ]
  - id: range
    for_each: { from: 1, to: 2 }
    steps:
      - id: echo
        action: log
        config: { message: "n=${item}" }
        assert: [ 'message == "n=" + string(item)' ]
"#,
        request(&base),
    )
    .await;
    assert_eq!(result.status, RunStatus::Passed, "{result:#?}");
    for i in 0..3 {
        let call = step(&result, &format!("each[{i}]/call"));
        assert!(call.config["url"].as_str().unwrap_or_default().ends_with(&format!("n={}&i={i}", i + 1)));
    }
    assert!(server.max_in_flight.load(Ordering::SeqCst) >= 2, "iterations did not overlap");
    assert_eq!(step(&result, "each").output, Value::Null, "control steps keep no output in results");
    assert_eq!(step(&result, "range[1]/echo").status, StepStatus::Passed);
}

#[tokio::test]
async fn parallel_branches_overlap_and_a_failed_branch_cancels_the_others() {
    let (base, server) = start().await;
    let result = run_text(
        r#"
name: parallel
steps:
  - id: both
    parallel: { fail_fast: false }
    branches:
      - steps:
          - { id: a, action: http_request, config: { url: "${BASE}/slow?ms=200" } }
      - steps:
          - { id: b, action: http_request, config: { url: "${BASE}/slow?ms=200" } }
  - id: race
    parallel: { fail_fast: true }
    branches:
      - steps:
          - { id: pause, action: delay, config: { duration: 100ms } }
          - { id: fails, action: log, config: { message: x }, assert: [ message == "y" ] }
      - steps:
          - { id: long, action: http_request, config: { url: "${BASE}/slow?ms=5000" } }
"#,
        request(&base),
    )
    .await;
    assert!(server.max_in_flight.load(Ordering::SeqCst) >= 2, "branches did not overlap");
    assert_eq!(step(&result, "both").status, StepStatus::Passed);
    assert_eq!(step(&result, "race/1/fails").status, StepStatus::Failed);
    assert_eq!(step(&result, "race/2/long").status, StepStatus::Cancelled);
    assert_eq!(step(&result, "race").status, StepStatus::Failed);
    assert_eq!(result.status, RunStatus::Failed);
}

#[tokio::test]
async fn if_then_else_runs_one_branch() {
    let result = run_text(
        r#"
name: branching
env:
  COUNT: 3
steps:
  - id: choose
    if: COUNT > 2
    then:
      - { id: big, action: log, config: { message: big } }
    else:
      - { id: small, action: log, config: { message: small } }
"#,
        RunRequest::default(),
    )
    .await;
    assert_eq!(result.status, RunStatus::Passed);
    assert_eq!(step(&result, "choose/big").status, StepStatus::Passed);
    assert!(result.steps.iter().all(|s| s.id != "small"));
}

#[tokio::test]
async fn run_flow_passes_inputs_returns_outputs_and_refuses_cycles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    write(
        "login.yaml",
        r#"
name: login
env:
  user: ${username:-nobody}
steps:
  - id: token
    action: log
    config: { message: "token-for-${user}" }
    output: { token: $.message }
"#,
    );
    write("loop_a.yaml", "name: a\nsteps:\n  - { id: b, run_flow: loop_b }\n");
    write("loop_b.yaml", "name: b\nsteps:\n  - { id: a, run_flow: loop_a.yaml }\n");
    let main = dir.path().join("main.yaml");
    write(
        "main.yaml",
        r#"
name: main
steps:
  - id: login
    run_flow: login
    with: { username: alice }
  - id: use
    action: log
    config: { message: "${login.token}" }
    assert: [ message == "token-for-alice" ]
"#,
    );
    let origin = main.display().to_string();
    let text = std::fs::read_to_string(&main).expect("read");
    let flow = parse_flow(&text, &origin).expect("flow");
    let request = RunRequest { origin: Some(origin.clone()), ..RunRequest::default() };
    let result = runner().run(&flow, request, &NoEvents).await;
    assert_eq!(result.status, RunStatus::Passed, "{result:#?}");
    let inner = step(&result, "login>token");
    assert!(inner.flow.as_deref().unwrap_or_default().ends_with("login.yaml"));
    assert_eq!(step(&result, "login").output, json!({"token": "token-for-alice"}));

    let cyclic = dir.path().join("loop_a.yaml").display().to_string();
    let flow = parse_flow(&std::fs::read_to_string(&cyclic).expect("read"), &cyclic).expect("flow");
    let request = RunRequest { origin: Some(cyclic), ..RunRequest::default() };
    let result = runner().run(&flow, request, &NoEvents).await;
    assert_eq!(result.status, RunStatus::Failed);
    let error = step(&result, "b>a").error.clone().unwrap_or_default();
    assert!(error.starts_with("run_flow cycle:") && error.contains("loop_b.yaml"), "{error}");
}

#[tokio::test]
async fn secrets_are_masked_in_configs_outputs_and_logs() {
    let mut request = RunRequest::default();
    request.secrets.insert("TOKEN".into(), "s3cr3t-value".into());
    let result = run_text(
        r#"
name: secrets
steps:
  - id: use
    action: log
    config: { message: "Bearer ${secret.TOKEN}" }
    output: { said: $.message }
"#,
        request,
    )
    .await;
    assert_eq!(result.status, RunStatus::Passed);
    let text = serde_json::to_string(&result).expect("json");
    assert!(!text.contains("s3cr3t-value"), "{text}");
    assert_eq!(step(&result, "use").config["message"], json!("Bearer ***"));
    assert_eq!(result.outputs["said"], json!("Bearer ***"));
}

#[tokio::test]
async fn variable_precedence_is_env_file_then_env_then_environment_then_vars() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(".env.test"), "A=file\nB=file\nC=file\nD=file\n").expect("write");
    let path = dir.path().join("flow.yaml");
    let text = r#"
name: precedence
env_file: .env.test
env:
  B: env
  C: env
  D: env
steps:
  - id: show
    action: log
    config: { message: "${A} ${B} ${C} ${D}" }
"#;
    let flow = parse_flow(text, "flow.yaml").expect("flow");
    let mut request = RunRequest { origin: Some(path.display().to_string()), ..RunRequest::default() };
    request.environment.insert("C".into(), json!("environment"));
    request.environment.insert("D".into(), json!("environment"));
    request.vars.insert("D".into(), json!("var"));
    let result = runner().run(&flow, request, &NoEvents).await;
    assert_eq!(result.status, RunStatus::Passed, "{result:#?}");
    assert_eq!(step(&result, "show").config["message"], json!("file env environment var"));
}

#[tokio::test]
async fn json_schema_assertions_run_beside_expressions() {
    let (base, _) = start().await;
    let result = run_text(
        r#"
name: schema
steps:
  - id: create
    action: http_request
    config: { method: POST, url: "${BASE}/users", json: { name: eve } }
    assert:
      - status == 201
      - use: json_schema
        with: { path: $.body, schema: { type: object, required: [id, name] } }
      - use: json_schema
        with: { path: $.body, schema: { type: object, required: [email] } }
"#,
        request(&base),
    )
    .await;
    let create = step(&result, "create");
    let passed: Vec<bool> = create.assertions.iter().map(|a| a.passed).collect();
    assert_eq!(passed, [true, true, false], "{create:#?}");
    assert!(create.assertions[2].message.contains("email"), "{}", create.assertions[2].message);
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl EventSink for Recorder {
    fn event(&self, event: RunEvent<'_>) {
        let line = match event {
            RunEvent::RunStarted { flow, .. } => format!("run started {flow}"),
            RunEvent::StepStarted { path, .. } => format!("started {path}"),
            RunEvent::StepFinished { result, .. } => format!("finished {} {}", result.path, result.status.as_str()),
            RunEvent::RunFinished { result } => format!("run finished {}", result.status.as_str()),
        };
        self.0.lock().unwrap().push(line);
    }
}

#[tokio::test]
async fn events_report_progress_in_order() {
    let flow = parse_flow(
        r#"
name: events
steps:
  - id: loop
    for_each: [1]
    steps:
      - { id: inner, action: log, config: { message: "${item}" } }
teardown:
  - { id: bye, action: log, config: { message: bye } }
"#,
        "events.yaml",
    )
    .expect("flow");
    let recorder = Recorder::default();
    let result = runner().run(&flow, RunRequest::default(), &recorder).await;
    assert_eq!(result.status, RunStatus::Passed);
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [
            "run started events",
            "started loop",
            "started loop[0]/inner",
            "finished loop[0]/inner passed",
            "finished loop passed",
            "started bye",
            "finished bye passed",
            "run finished passed",
        ]
    );
}

#[tokio::test]
async fn builtins_carry_their_digest_name_and_aliases_as_they_describe_them() {
    let sandbox = common::sandbox();
    for builtin in testmesh::builtins::all() {
        assert_eq!(testmesh::sandbox::digest(builtin.wasm), builtin.digest, "{}", builtin.source);
        let plugin = sandbox.load(builtin.wasm).await.expect("loads");
        assert_eq!(plugin.descriptor.name, builtin.source);
        assert_eq!(plugin.descriptor.aliases, builtin.aliases, "{}: Cargo.toml metadata aliases", builtin.source);
    }
}

#[tokio::test]
async fn testmesh_assert_and_condition_actions_run_unchanged() {
    let result = run_text(
        r#"
flow:
  name: testmesh spellings
  steps:
    - id: check
      action: assert
      config:
        data: { a: 1, name: "alice" }
        assertions: ["a == 1", 'name startsWith "al"']
    - id: branch
      action: condition
      config:
        condition: check.a == 1
        then:
          - { id: yes, action: log, config: { message: "yes" } }
        else:
          - { id: no, action: log, config: { message: "no" } }
    - id: wrong
      action: assert
      config:
        data: 5
        assertions: ["value == 6"]
      on_error: continue
"#,
        RunRequest::default(),
    )
    .await;
    assert_eq!(result.status, RunStatus::Passed, "{result:#?}");
    let check = step(&result, "check");
    assert_eq!(check.assertions.len(), 2);
    assert!(check.assertions.iter().all(|a| a.passed));
    assert_eq!(step(&result, "branch/yes").status, StepStatus::Passed);
    let wrong = step(&result, "wrong");
    assert_eq!(wrong.status, StepStatus::Failed);
    assert!(wrong.assertions[0].message.contains('5'), "{}", wrong.assertions[0].message);
}

#[tokio::test]
async fn a_sub_flows_outputs_can_be_asserted_and_captured_on_its_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("token.yaml"),
        "name: token\nsteps:\n  - { id: t, action: log, config: { message: abc }, output: { token: $.message } }\n",
    )
    .expect("write");
    let main = dir.path().join("main.yaml");
    let text = r#"
name: main
steps:
  - id: login
    run_flow: token
    assert: [ token == "abc", size(token) == 4 ]
    output: { saved: $.token }
"#;
    std::fs::write(&main, text).expect("write");
    let flow = parse_flow(text, "main.yaml").expect("flow");
    let request = RunRequest { origin: Some(main.display().to_string()), ..RunRequest::default() };
    let result = runner().run(&flow, request, &NoEvents).await;
    let login = step(&result, "login");
    assert_eq!(login.status, StepStatus::Failed, "{login:#?}");
    assert!(login.assertions[0].passed && !login.assertions[1].passed);
    assert_eq!(login.captures["saved"], json!("abc"));
}
