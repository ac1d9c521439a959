//! The storage contract: one suite of cases, each an `async fn case_…(store: &dyn Store)`, run
//! against SQLite (a file in a temporary directory) and PostgreSQL (a fresh database per test), so
//! that both implementations are held to the same behaviour.

mod common;

use chrono::{Duration, Utc};
use serde_json::{Map, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use testmesh::storage::{
    AuditEntry, FlowFilter, LeaseState, NewFlow, NewKey, NewPlugin, NewRun, PluginPatch, Role, RunFilter, StepEvent,
    StepRow, Store, StoreError, open,
};

/// Runs every listed case against both backends: `sqlite::<case>` and `postgres::<case>`.
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let store = super::open(&super::sqlite_url(&dir)).await.expect("open sqlite");
                    super::$case(&*store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(database) = super::common::TestDatabase::create().await else { return };
                    let store = super::open(&database.url).await.expect("open postgres");
                    super::$case(&*store).await;
                }
            )*
        }
    };
}

both_backends!(
    case_flows_create_get_and_list,
    case_flow_name_conflict,
    case_flow_update_versions_and_delete,
    case_run_status_transitions,
    case_step_results_upsert,
    case_list_runs_filters,
    case_environment_secrets_stay_apart,
    case_api_keys,
    case_audit_newest_first,
    case_concurrent_updates_one_wins,
    case_claims_are_fenced_by_attempt,
    case_run_events_tell_the_story_in_order,
    case_cancel_requests,
    case_stale_runs_are_found,
    case_plugins_by_version_and_digest,
    case_inline_runs_keep_their_source,
);

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("testmesh.db").display())
}

fn new_flow(name: &str, tags: &[&str]) -> NewFlow {
    NewFlow {
        name: name.into(),
        description: format!("the {name} flow"),
        tags: tags.iter().map(|tag| tag.to_string()).collect(),
        suite: None,
        source: format!("name: {name}\nsteps: []\n"),
    }
}

/// Waits a little so that records created one after the other have distinct timestamps.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
}

async fn case_flows_create_get_and_list(store: &dyn Store) {
    let mut created = Vec::new();
    for i in 0..5 {
        let tags: &[&str] = if i % 2 == 0 { &["smoke", "api"] } else { &["api"] };
        let mut flow = new_flow(&format!("flow {i}"), tags);
        flow.suite = (i < 2).then(|| "checkout".to_string());
        let record = store.create_flow(flow).await.expect("create");
        assert_eq!(record.version, 1);
        assert!(record.id.starts_with("flw_"));
        created.push(record);
        tick().await;
    }
    assert_eq!(store.get_flow(&created[3].id).await.expect("get"), created[3]);
    assert_eq!(store.get_flow_by_name("flow 3").await.expect("by name"), created[3]);
    assert_eq!(store.get_flow("flw_missing").await, Err(StoreError::NotFound));

    // Pages of two: every flow once, newest first.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.list_flows(FlowFilter { limit: Some(2), cursor, ..Default::default() }).await.expect("list");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|flow| flow.id));
        pages += 1;
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let newest_first: Vec<String> = created.iter().rev().map(|flow| flow.id.clone()).collect();
    assert_eq!(seen, newest_first);
    assert_eq!(pages, 3);

    let smoke = store.list_flows(FlowFilter { tag: Some("smoke".into()), ..Default::default() }).await.expect("tag");
    let names: Vec<&str> = smoke.items.iter().map(|flow| flow.name.as_str()).collect();
    assert_eq!(names, ["flow 4", "flow 2", "flow 0"]);
    assert_eq!(smoke.next_cursor, None);
    let checkout =
        store.list_flows(FlowFilter { suite: Some("checkout".into()), ..Default::default() }).await.expect("suite");
    assert_eq!(checkout.items.len(), 2);
    let search = store.list_flows(FlowFilter { q: Some("FLOW 1".into()), ..Default::default() }).await.expect("q");
    assert_eq!(search.items.len(), 1);
    assert_eq!(search.items[0].name, "flow 1");
    let wildcard = store.list_flows(FlowFilter { q: Some("%".into()), ..Default::default() }).await.expect("q %");
    assert!(wildcard.items.is_empty(), "`%` is matched literally");
    let bad = store.list_flows(FlowFilter { cursor: Some("garbage!".into()), ..Default::default() }).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));
}

async fn case_flow_name_conflict(store: &dyn Store) {
    store.create_flow(new_flow("checkout", &[])).await.expect("create");
    let again = store.create_flow(new_flow("checkout", &[])).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

async fn case_flow_update_versions_and_delete(store: &dyn Store) {
    let flow = store.create_flow(new_flow("login", &["smoke"])).await.expect("create");
    tick().await;
    let mut next = new_flow("login", &["nightly"]);
    next.source = "name: login\nsteps: [v2]\n".into();
    let v2 = store.update_flow(&flow.id, Some(1), next.clone()).await.expect("update v1 → v2");
    assert_eq!(v2.version, 2);
    assert_eq!(v2.created_at, flow.created_at);
    assert!(v2.updated_at > flow.updated_at);
    assert_eq!(store.get_flow(&flow.id).await.expect("get"), v2);

    let stale = store.update_flow(&flow.id, Some(1), next.clone()).await;
    assert_eq!(stale, Err(StoreError::PreconditionFailed { current_version: 2 }));
    next.source = "name: login\nsteps: [v3]\n".into();
    let v3 = store.update_flow(&flow.id, None, next.clone()).await.expect("unconditional update");
    assert_eq!(v3.version, 3);

    let versions = store.flow_versions(&flow.id).await.expect("versions");
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!(versions[2].source, flow.source);
    assert_eq!(store.flow_version(&flow.id, 2).await.expect("v2").source, "name: login\nsteps: [v2]\n");
    assert_eq!(store.flow_version(&flow.id, 9).await, Err(StoreError::NotFound));

    // Tags follow the current version.
    let smoke = store.list_flows(FlowFilter { tag: Some("smoke".into()), ..Default::default() }).await.expect("list");
    assert!(smoke.items.is_empty());
    let nightly =
        store.list_flows(FlowFilter { tag: Some("nightly".into()), ..Default::default() }).await.expect("list");
    assert_eq!(nightly.items.len(), 1);

    // Renaming onto a taken name conflicts.
    store.create_flow(new_flow("other", &[])).await.expect("create other");
    let rename = store.update_flow(&flow.id, None, new_flow("other", &[])).await;
    assert!(matches!(rename, Err(StoreError::Conflict(_))), "{rename:?}");
    assert_eq!(store.update_flow("flw_missing", None, new_flow("x", &[])).await, Err(StoreError::NotFound));

    store.delete_flow(&flow.id).await.expect("delete");
    assert_eq!(store.get_flow(&flow.id).await, Err(StoreError::NotFound));
    assert_eq!(store.get_flow_by_name("login").await, Err(StoreError::NotFound));
    assert_eq!(store.delete_flow(&flow.id).await, Err(StoreError::NotFound));
    assert_eq!(store.update_flow(&flow.id, None, next).await, Err(StoreError::NotFound));
    let all = store.list_flows(FlowFilter::default()).await.expect("list");
    assert_eq!(all.items.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["other"]);
    // A queued run can still load the version it pinned, and the name is free again.
    assert_eq!(store.flow_version(&flow.id, 3).await.expect("pinned").version, 3);
    store.create_flow(new_flow("login", &[])).await.expect("name reused after delete");
}

async fn case_run_status_transitions(store: &dyn Store) {
    let flow = store.create_flow(new_flow("checkout", &[])).await.expect("flow");
    let new_run = NewRun {
        flow_id: Some(flow.id.clone()),
        flow_version: Some(1),
        flow_name: flow.name.clone(),
        vars: json!({"user": "alice"}),
        environment: Some("staging".into()),
        ..Default::default()
    };
    let run = store.create_run(new_run.clone()).await.expect("create run");
    assert!(run.id.starts_with("run_"));
    assert_eq!(run.status, "queued");
    assert_eq!(store.get_run(&run.id).await.expect("get"), run);

    let running = store.set_run_status(&run.id, "running", None).await.expect("running");
    assert_eq!(running.status, "running");
    assert!(running.started_at.is_some());
    assert_eq!(running.finished_at, None);
    let started_at = running.started_at;

    let result = json!({"status": "passed", "steps": [{"id": "login"}]});
    let finished = store.finish_run(&run.id, "passed", result.clone()).await.expect("finish");
    assert_eq!(finished.status, "passed");
    assert_eq!(finished.started_at, started_at);
    assert!(finished.finished_at.is_some_and(|at| Some(at) >= started_at));
    assert_eq!(finished.result, Some(result));
    // A finished run never changes again.
    let late = store.set_run_status(&run.id, "cancelled", None).await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
    let late = store.finish_run(&run.id, "failed", json!({})).await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");

    // Straight from queued to an error: finished, with the reason.
    let other = store.create_run(new_run).await.expect("create run");
    let errored = store.set_run_status(&other.id, "error", Some("plugin `x` is not installed")).await.expect("error");
    assert_eq!(errored.started_at, None);
    assert!(errored.finished_at.is_some());
    assert_eq!(errored.error.as_deref(), Some("plugin `x` is not installed"));

    let not_final = store.finish_run(&other.id, "running", json!({})).await;
    assert!(matches!(not_final, Err(StoreError::Invalid(_))));
    assert_eq!(store.get_run("run_missing").await, Err(StoreError::NotFound));
    assert_eq!(store.set_run_status("run_missing", "running", None).await, Err(StoreError::NotFound));
    let orphan = NewRun { flow_id: Some("flw_missing".into()), flow_name: "x".into(), ..Default::default() };
    assert_eq!(store.create_run(orphan).await, Err(StoreError::NotFound));
    // A run of a flow that is not stored (e.g. submitted inline) has no flow id.
    let inline = NewRun { flow_name: "inline".into(), vars: json!({}), ..Default::default() };
    assert_eq!(store.create_run(inline).await.expect("inline run").flow_id, None);
}

fn step(path: &str, attempt: i64, status: &str) -> StepRow {
    StepRow {
        path: path.into(),
        attempt,
        phase: "steps".into(),
        status: status.into(),
        result: json!({"path": path, "status": status}),
    }
}

async fn case_step_results_upsert(store: &dyn Store) {
    let run = store.create_run(NewRun { flow_name: "f".into(), vars: json!({}), ..Default::default() }).await;
    let run = run.expect("run");
    store.put_step_result(&run.id, step("steps[0]", 1, "running")).await.expect("put");
    store.put_step_result(&run.id, step("steps[1]", 1, "running")).await.expect("put");
    // The same (run, path, attempt) again: updated in place, keeping its position.
    store.put_step_result(&run.id, step("steps[0]", 1, "passed")).await.expect("put again");
    store.put_step_result(&run.id, step("steps[1]", 2, "passed")).await.expect("second attempt");
    let rows = store.step_results(&run.id).await.expect("results");
    assert_eq!(rows, [step("steps[0]", 1, "passed"), step("steps[1]", 1, "running"), step("steps[1]", 2, "passed")]);

    let fresh = store.create_run(NewRun { flow_name: "f".into(), vars: json!({}), ..Default::default() }).await;
    assert_eq!(store.step_results(&fresh.expect("run").id).await, Ok(vec![]));
    assert_eq!(store.step_results("run_missing").await, Err(StoreError::NotFound));
    assert_eq!(store.put_step_result("run_missing", step("steps[0]", 1, "passed")).await, Err(StoreError::NotFound));
}

async fn case_list_runs_filters(store: &dyn Store) {
    let a = store.create_flow(new_flow("a", &[])).await.expect("flow a");
    let b = store.create_flow(new_flow("b", &[])).await.expect("flow b");
    let run_of = |flow: &testmesh::storage::FlowRecord| NewRun {
        flow_id: Some(flow.id.clone()),
        flow_version: Some(flow.version),
        flow_name: flow.name.clone(),
        vars: json!({}),
        ..Default::default()
    };
    let mut runs = Vec::new();
    for flow in [&a, &b, &a, &b, &a] {
        runs.push(store.create_run(run_of(flow)).await.expect("run"));
        tick().await;
    }
    store.finish_run(&runs[0].id, "passed", json!({})).await.expect("finish");
    store.finish_run(&runs[2].id, "failed", json!({})).await.expect("finish");
    store.set_run_status(&runs[4].id, "running", None).await.expect("running");

    let of_a = store.list_runs(RunFilter { flow_id: Some(a.id.clone()), ..Default::default() }).await.expect("list");
    let ids: Vec<&str> = of_a.items.iter().map(|run| run.id.as_str()).collect();
    assert_eq!(ids, [runs[4].id.as_str(), runs[2].id.as_str(), runs[0].id.as_str()]);
    let failed = store.list_runs(RunFilter { status: Some("failed".into()), ..Default::default() }).await;
    assert_eq!(failed.expect("list").items.iter().map(|run| &run.id).collect::<Vec<_>>(), [&runs[2].id]);
    let queued_b = RunFilter { flow_id: Some(b.id.clone()), status: Some("queued".into()), ..Default::default() };
    assert_eq!(store.list_runs(queued_b).await.expect("list").items.len(), 2);
    let since = store.list_runs(RunFilter { since: Some(runs[3].created_at), ..Default::default() }).await;
    assert_eq!(since.expect("list").items.len(), 2);
    let future = RunFilter { since: Some(Utc::now() + Duration::hours(1)), ..Default::default() };
    assert!(store.list_runs(future).await.expect("list").items.is_empty());

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_runs(RunFilter { limit: Some(2), cursor, ..Default::default() }).await.expect("page");
        seen.extend(page.items.into_iter().map(|run| run.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, runs.iter().rev().map(|run| run.id.clone()).collect::<Vec<_>>());
}

async fn case_environment_secrets_stay_apart(store: &dyn Store) {
    let mut vars = Map::new();
    vars.insert("BASE_URL".into(), json!("https://staging.example.com"));
    vars.insert("RETRIES".into(), json!(3));
    let secrets = BTreeMap::from([
        ("TOKEN".to_string(), "s3cr3t-token".to_string()),
        ("DB_PASSWORD".to_string(), "hunter2".to_string()),
    ]);
    let put = store.put_environment("staging", vars.clone(), secrets.clone()).await.expect("put");
    assert_eq!(put.secret_names, ["DB_PASSWORD", "TOKEN"]);

    let record = store.get_environment("staging").await.expect("get");
    assert_eq!(record.vars, vars);
    assert_eq!(record.secret_names, ["DB_PASSWORD", "TOKEN"]);
    let shown = serde_json::to_string(&record).expect("json");
    assert!(!shown.contains("s3cr3t-token") && !shown.contains("hunter2"), "{shown}");
    assert_eq!(store.environment_secrets("staging").await.expect("secrets"), secrets);

    // Putting again replaces the variables and all secrets.
    let fewer = BTreeMap::from([("TOKEN".to_string(), "rotated".to_string())]);
    store.put_environment("staging", Map::new(), fewer.clone()).await.expect("put again");
    let record = store.get_environment("staging").await.expect("get");
    assert!(record.vars.is_empty());
    assert_eq!(record.secret_names, ["TOKEN"]);
    assert_eq!(store.environment_secrets("staging").await.expect("secrets"), fewer);

    store.put_environment("dev", vars, BTreeMap::new()).await.expect("put dev");
    let all = store.list_environments().await.expect("list");
    assert_eq!(all.iter().map(|env| env.name.as_str()).collect::<Vec<_>>(), ["dev", "staging"]);
    assert!(all[0].secret_names.is_empty());
    assert_eq!(all[1].secret_names, ["TOKEN"]);

    store.delete_environment("staging").await.expect("delete");
    assert_eq!(store.get_environment("staging").await, Err(StoreError::NotFound));
    assert_eq!(store.environment_secrets("staging").await, Err(StoreError::NotFound));
    assert_eq!(store.delete_environment("staging").await, Err(StoreError::NotFound));
}

async fn case_api_keys(store: &dyn Store) {
    assert_eq!(store.count_api_keys().await, Ok(0));
    let runner = NewKey { role: Role::Runner, description: "CI".into(), expires_at: None };
    let (record, plaintext) = store.create_api_key(runner).await.expect("create");
    assert!(plaintext.starts_with(&format!("tm_{}_", record.id)), "{plaintext}");
    assert_eq!(store.verify_api_key(&plaintext).await, Ok(Some(record.clone())));

    // The same key id with another secret, garbage, and an unknown id: all refused.
    let (prefix, secret) = plaintext.rsplit_once('_').expect("key shape");
    let flipped: String = secret.chars().map(|c| if c == '0' { '1' } else { '0' }).collect();
    assert_eq!(store.verify_api_key(&format!("{prefix}_{flipped}")).await, Ok(None));
    for malformed in ["", "tm_", "tm__", "Bearer xyz", "tm_zz_zz", &plaintext[..plaintext.len() - 1]] {
        assert_eq!(store.verify_api_key(malformed).await, Ok(None), "{malformed:?}");
    }
    let unknown = format!("tm_{}_{}", "0".repeat(16), "a".repeat(48));
    assert_eq!(store.verify_api_key(&unknown).await, Ok(None));

    let expired = NewKey { role: Role::Admin, description: String::new(), expires_at: Some(Utc::now()) };
    let (_, expired) = store.create_api_key(expired).await.expect("create expired");
    assert_eq!(store.verify_api_key(&expired).await, Ok(None));
    let later =
        NewKey { role: Role::Viewer, description: String::new(), expires_at: Some(Utc::now() + Duration::days(1)) };
    let (_, later) = store.create_api_key(later).await.expect("create expiring");
    assert_eq!(store.verify_api_key(&later).await.expect("verify").map(|key| key.role), Some(Role::Viewer));

    store.revoke_api_key(&record.id).await.expect("revoke");
    store.revoke_api_key(&record.id).await.expect("revoke again");
    assert_eq!(store.verify_api_key(&plaintext).await, Ok(None));
    assert_eq!(store.revoke_api_key("0000000000000000").await, Err(StoreError::NotFound));

    let keys = store.list_api_keys().await.expect("list");
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().any(|key| key.id == record.id && key.revoked_at.is_some()));
    let listed = serde_json::to_string(&keys).expect("json");
    assert!(!listed.contains(secret), "the secret is not stored");
    assert_eq!(store.count_api_keys().await, Ok(3));
}

async fn case_audit_newest_first(store: &dyn Store) {
    for (i, action) in ["flow.create", "flow.update", "key.revoke"].into_iter().enumerate() {
        let entry = AuditEntry {
            actor_key_id: (i > 0).then(|| "0123456789abcdef".to_string()),
            action: action.into(),
            target: format!("target-{i}"),
            detail: json!({"i": i}),
        };
        store.audit(entry).await.expect("audit");
    }
    let all = store.list_audit(None).await.expect("list");
    assert_eq!(all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["key.revoke", "flow.update", "flow.create"]);
    assert_eq!(all[2].actor_key_id, None);
    assert_eq!(all[0].detail, json!({"i": 2}));
    assert!(all[0].at >= all[2].at);
    assert_eq!(store.list_audit(Some(2)).await.expect("list").len(), 2);
}

async fn case_concurrent_updates_one_wins(store: &dyn Store) {
    let flow = store.create_flow(new_flow("contended", &[])).await.expect("create");
    let updates = (0..8).map(|i| {
        let mut next = new_flow("contended", &[]);
        next.source = format!("name: contended\nsteps: [{i}]\n");
        store.update_flow(&flow.id, Some(1), next)
    });
    let results = futures::future::join_all(updates).await;
    let won = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for result in results.iter().filter(|result| result.is_err()) {
        assert_eq!(result, &Err(StoreError::PreconditionFailed { current_version: 2 }));
    }
    assert_eq!(store.flow_versions(&flow.id).await.expect("versions").len(), 2);

    // Workers writing step results of one run at once.
    let run = store.create_run(NewRun { flow_name: "f".into(), vars: json!({}), ..Default::default() }).await;
    let run = run.expect("run");
    let puts = (0..16).map(|i| store.put_step_result(&run.id, step(&format!("steps[{}]", i % 4), 1, "passed")));
    for result in futures::future::join_all(puts).await {
        result.expect("put");
    }
    assert_eq!(store.step_results(&run.id).await.expect("results").len(), 4);
}

/// Opens the same database twice: the second open finds the schema current and the data intact.
async fn reopen(url: &str) {
    let first = open(url).await.expect("first open");
    let flow = first.create_flow(new_flow("kept", &[])).await.expect("create");
    let second = open(url).await.expect("second open (migrations already applied)");
    assert_eq!(second.get_flow(&flow.id).await.expect("get"), flow);
}

#[tokio::test]
async fn sqlite_migrations_run_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    reopen(&sqlite_url(&dir)).await;
}

#[tokio::test]
async fn postgres_migrations_run_twice() {
    let Some(database) = common::TestDatabase::create().await else { return };
    reopen(&database.url).await;
}

#[tokio::test]
async fn sqlite_in_memory_keeps_its_data() {
    let store: Arc<dyn Store> = open("sqlite::memory:").await.expect("open");
    assert_eq!(store.backend(), "sqlite");
    let flow = store.create_flow(new_flow("memory", &[])).await.expect("create");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(store.get_flow(&flow.id).await.expect("get"), flow);
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let refused = open("mysql://root:password@localhost/db").await.map(|_| ());
    let Err(StoreError::Invalid(message)) = refused else { panic!("expected Invalid, got {refused:?}") };
    assert!(!message.contains("password"), "{message}");
}

async fn case_claims_are_fenced_by_attempt(store: &dyn Store) {
    use std::time::Duration as StdDuration;
    let run = store.create_run(NewRun { flow_name: "f".into(), vars: json!({}), ..Default::default() }).await;
    let run = run.expect("create run");
    let long = StdDuration::from_secs(60);
    assert_eq!(store.claim_run(&run.id, "w1", long).await.expect("claim"), Some(1));
    assert_eq!(store.claim_run(&run.id, "w2", long).await.expect("claim"), None, "w1 holds the lease");
    assert_eq!(
        store.renew_run_lease(&run.id, 1, StdDuration::ZERO).await.expect("renew"),
        LeaseState::Held,
        "w1 lets it lapse"
    );
    tokio::time::sleep(StdDuration::from_millis(5)).await;
    // w1 stopped renewing: w2 takes the run over with a new fencing token.
    assert_eq!(store.claim_run(&run.id, "w2", long).await.expect("claim"), Some(2));
    assert_eq!(
        store.renew_run_lease(&run.id, 1, long).await.expect("renew"),
        LeaseState::Lost,
        "a stale worker cannot renew"
    );
    let stale = store.finish_claimed_run(&run.id, 1, "passed", json!({"by": "w1"})).await.expect("finish");
    assert!(!stale, "a stale worker's result is not written");
    assert!(store.finish_claimed_run(&run.id, 2, "failed", json!({"by": "w2"})).await.expect("finish"));
    let finished = store.get_run(&run.id).await.expect("get");
    assert_eq!((finished.status.as_str(), finished.attempt), ("failed", 2));
    assert_eq!(finished.result, Some(json!({"by": "w2"})));
    assert!(finished.started_at.is_some() && finished.finished_at.is_some());
    assert_eq!(store.claim_run(&run.id, "w3", long).await.expect("claim"), None, "finished runs stay finished");
    assert!(matches!(store.claim_run("run_missing", "w3", long).await, Err(StoreError::NotFound)));
}

async fn case_run_events_tell_the_story_in_order(store: &dyn Store) {
    use std::time::Duration as StdDuration;
    let run = store.create_run(NewRun { flow_name: "f".into(), vars: json!({}), ..Default::default() }).await;
    let run = run.expect("create run");
    assert!(store.run_events(&run.id, 0, 100).await.expect("events").is_empty());
    let attempt = store.claim_run(&run.id, "w1", StdDuration::from_secs(60)).await.expect("claim").expect("claimed");
    let started = StepEvent::Started { path: "steps/a".into(), id: "a".into(), phase: "steps".into() };
    store
        .record_step_events(&run.id, vec![started, StepEvent::Finished(step("steps/a", 1, "passed"))])
        .await
        .expect("record");
    assert!(store.finish_claimed_run(&run.id, attempt, "passed", json!({"status": "passed"})).await.expect("finish"));
    let events = store.run_events(&run.id, 0, 100).await.expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["run.started", "step.started", "step.finished", "run.finished"]);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq), "increasing ids");
    assert_eq!(events[2].data["status"], "passed");
    assert_eq!(events[3].data["status"], "passed");
    assert_eq!(store.step_results(&run.id).await.expect("steps").len(), 1, "the finished step is a step result");
    // Resuming after an event gives the ones after it.
    let after = store.run_events(&run.id, events[1].seq, 100).await.expect("events");
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].kind, "step.finished");
}

async fn case_cancel_requests(store: &dyn Store) {
    use std::time::Duration as StdDuration;
    let queued = store.create_run(NewRun { flow_name: "q".into(), vars: json!({}), ..Default::default() }).await;
    let queued = queued.expect("run");
    let cancelled = store.request_cancel(&queued.id).await.expect("cancel queued");
    assert_eq!(cancelled.status, "cancelled");
    assert!(cancelled.finished_at.is_some() && cancelled.cancel_requested_at.is_some());
    let events = store.run_events(&queued.id, 0, 10).await.expect("events");
    assert_eq!(events.last().map(|e| e.kind.as_str()), Some("run.finished"));
    assert!(matches!(store.request_cancel(&queued.id).await, Err(StoreError::Conflict(_))), "finished already");
    assert!(matches!(store.request_cancel("run_missing").await, Err(StoreError::NotFound)));

    let running = store.create_run(NewRun { flow_name: "r".into(), vars: json!({}), ..Default::default() }).await;
    let running = running.expect("run");
    let attempt =
        store.claim_run(&running.id, "w1", StdDuration::from_secs(60)).await.expect("claim").expect("claimed");
    assert_eq!(
        store.renew_run_lease(&running.id, attempt, StdDuration::from_secs(60)).await.expect("renew"),
        LeaseState::Held
    );
    let marked = store.request_cancel(&running.id).await.expect("cancel running");
    assert_eq!(marked.status, "running", "the worker ends it");
    assert!(marked.cancel_requested_at.is_some());
    assert_eq!(
        store.renew_run_lease(&running.id, attempt, StdDuration::from_secs(60)).await.expect("renew"),
        LeaseState::CancelRequested
    );
    assert!(store.finish_claimed_run(&running.id, attempt, "cancelled", json!({})).await.expect("finish"));
}

async fn case_stale_runs_are_found(store: &dyn Store) {
    use std::time::Duration as StdDuration;
    let fresh = store.create_run(NewRun { flow_name: "f".into(), vars: json!({}), ..Default::default() }).await;
    let fresh = fresh.expect("run");
    let lapsed = store.create_run(NewRun { flow_name: "l".into(), vars: json!({}), ..Default::default() }).await;
    let lapsed = lapsed.expect("run");
    let held = store.create_run(NewRun { flow_name: "h".into(), vars: json!({}), ..Default::default() }).await;
    let held = held.expect("run");
    store.claim_run(&lapsed.id, "dead", StdDuration::ZERO).await.expect("claim");
    store.claim_run(&held.id, "alive", StdDuration::from_secs(60)).await.expect("claim");
    tokio::time::sleep(StdDuration::from_millis(5)).await;
    let long_ago = Utc::now() - Duration::hours(1);
    assert_eq!(store.stale_runs(long_ago, 10).await.expect("stale"), vec![lapsed.id.clone()], "only the lapsed lease");
    let now = Utc::now() + Duration::seconds(1);
    let mut all = store.stale_runs(now, 10).await.expect("stale");
    all.sort();
    let mut expected = vec![fresh.id.clone(), lapsed.id.clone()];
    expected.sort();
    assert_eq!(all, expected, "queued before now, and the lapsed lease");
    store.mark_enqueued(std::slice::from_ref(&fresh.id)).await.expect("mark");
    assert_eq!(store.stale_runs(Utc::now() - Duration::seconds(30), 10).await.expect("stale"), vec![lapsed.id.clone()]);
    let counts = store.run_counts().await.expect("counts");
    assert_eq!(counts, vec![("queued".to_string(), 1), ("running".to_string(), 2)]);
    store.ping().await.expect("ping");
}

async fn case_plugins_by_version_and_digest(store: &dyn Store) {
    let plugin = |version: &str, digest: &str| NewPlugin {
        name: "acme/kafka".into(),
        version: version.into(),
        kind: "action".into(),
        digest: digest.into(),
        component: format!("component {digest}").into_bytes(),
        descriptor: json!({"name": "acme/kafka", "summary": "produce"}),
        grants: vec!["http:kafka.local".into()],
    };
    let (first, created) = store.install_plugin(plugin("1.0.0", "aaa")).await.expect("install");
    assert!(created);
    assert_eq!((first.size, first.enabled), (13, true));
    let (again, created) = store.install_plugin(plugin("1.0.0", "aaa")).await.expect("same again");
    assert!(!created, "installing the same component again is not new");
    assert_eq!(again.digest, "aaa");
    assert!(matches!(store.install_plugin(plugin("1.0.0", "bbb")).await, Err(StoreError::Conflict(_))));
    store.install_plugin(plugin("1.1.0", "bbb")).await.expect("a second version");
    let all = store.list_plugins().await.expect("list");
    let versions: Vec<&str> = all.iter().map(|p| p.version.as_str()).collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"], "newest first");
    assert_eq!(store.plugin_component("bbb").await.expect("blob"), b"component bbb");
    assert!(matches!(store.plugin_component("zzz").await, Err(StoreError::NotFound)));
    let patched = store
        .update_plugin("acme/kafka", "1.1.0", PluginPatch { grants: Some(vec![]), enabled: Some(false) })
        .await
        .expect("patch");
    assert!(!patched.enabled && patched.grants.is_empty());
    let kept = store.update_plugin("acme/kafka", "1.1.0", PluginPatch::default()).await.expect("empty patch");
    assert!(!kept.enabled, "an empty patch changes nothing");
    store.delete_plugin("acme/kafka", "1.0.0").await.expect("delete");
    assert!(matches!(store.get_plugin("acme/kafka", "1.0.0").await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_plugin("acme/kafka", "1.0.0").await, Err(StoreError::NotFound)));
}

async fn case_inline_runs_keep_their_source(store: &dyn Store) {
    let source = "name: inline\nsteps:\n  - { action: log, config: { message: hi } }\n";
    let run = store
        .create_run(NewRun {
            flow_name: "inline".into(),
            vars: json!({}),
            source: Some(source.into()),
            ..Default::default()
        })
        .await
        .expect("run");
    assert_eq!(store.get_run(&run.id).await.expect("get").source.as_deref(), Some(source));
}
