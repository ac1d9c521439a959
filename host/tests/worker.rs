//! The worker end to end on the embedded set-up (SQLite file, in-process queue) and on the
//! distributed one (PostgreSQL, Redis Streams): a stored flow version is run from a job, its step
//! results and final result land in storage, a second delivery of the same job runs nothing, and a
//! run whose flow is invalid ends `error` with the reason.

mod common;

use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use testmesh::platform::{PluginCatalog, RunSignals};
use testmesh::queue::{MemoryQueue, Queue, RedisQueue, RedisQueueConfig};
use testmesh::runner::RunStatus;
use testmesh::sandbox::Grants;
use testmesh::storage::{NewFlow, NewRun, Store};
use testmesh::worker::{Outcome, Worker, WorkerConfig};

const FLOW: &str = r#"
name: worker flow
env:
  WHO: nobody
steps:
  - id: greet
    action: log
    config: { message: "hello ${WHO}" }
    assert: [ message == "hello alice" ]
    output: { said: $.message }
  - id: loop
    for_each: [1, 2]
    steps:
      - { id: each, action: log, config: { message: "${item}" } }
teardown:
  - { id: bye, action: log, config: { message: "token ${secret.TOKEN}" } }
"#;

/// A worker over the built-in plugins (and whatever `store` has installed).
fn worker(store: Arc<dyn Store>, queue: Arc<dyn Queue>, signals: Arc<RunSignals>, lease: Duration) -> Worker {
    let catalog = Arc::new(PluginCatalog::new(common::sandbox(), store.clone(), Grants::local_development()));
    let mut config = WorkerConfig::new("worker-1");
    config.lease = lease;
    config.cancel_check = Duration::from_millis(50);
    Worker::new(store, queue, catalog, signals, config)
}

async fn journey(store: Arc<dyn Store>, queue: Arc<dyn Queue>) {
    let flow = store
        .create_flow(NewFlow { name: "worker flow".into(), source: FLOW.into(), ..Default::default() })
        .await
        .expect("create flow");
    let mut secrets = std::collections::BTreeMap::new();
    secrets.insert("TOKEN".to_string(), "s3cr3t-token".to_string());
    store.put_environment("staging", serde_json::Map::new(), secrets).await.expect("environment");
    let run = store
        .create_run(NewRun {
            flow_id: Some(flow.id.clone()),
            flow_version: Some(flow.version),
            flow_name: flow.name.clone(),
            vars: json!({"WHO": "alice"}),
            environment: Some("staging".into()),
            ..Default::default()
        })
        .await
        .expect("create run");
    queue.enqueue(&run.id).await.expect("enqueue");

    let worker = worker(store.clone(), queue.clone(), RunSignals::new(), Duration::from_secs(30));
    let job = queue.receive(1, Duration::from_secs(1)).await.expect("receive").remove(0);
    assert_eq!(worker.handle(&job).await.expect("handle"), Outcome::Ran(RunStatus::Passed));

    let finished = store.get_run(&run.id).await.expect("run");
    assert_eq!(finished.status, "passed");
    assert_eq!(finished.attempt, 1);
    let result = finished.result.expect("result stored");
    assert_eq!(result["outputs"]["said"], "hello alice");
    let rows = store.step_results(&run.id).await.expect("steps");
    let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["steps/greet", "steps/loop[0]/each", "steps/loop[1]/each", "steps/loop", "teardown/bye"]);
    let stored = serde_json::to_string(&rows).expect("json");
    assert!(stored.contains("token ***") && !stored.contains("s3cr3t-token"), "secrets masked in storage");

    // The same job delivered again: the run is finished, nothing runs, the job is acknowledged.
    assert_eq!(worker.handle(&job).await.expect("handle"), Outcome::Skipped);

    // A run of a flow version that does not parse ends `error` with the reason.
    let broken = store
        .update_flow(
            &flow.id,
            None,
            NewFlow { name: "worker flow".into(), source: "name: x\nsteps: 5\n".into(), ..Default::default() },
        )
        .await
        .expect("update flow");
    let bad = store
        .create_run(NewRun {
            flow_id: Some(flow.id.clone()),
            flow_version: Some(broken.version),
            flow_name: flow.name.clone(),
            vars: json!({}),
            ..Default::default()
        })
        .await
        .expect("create run");
    queue.enqueue(&bad.id).await.expect("enqueue");
    let job = queue.receive(1, Duration::from_secs(1)).await.expect("receive").remove(0);
    match worker.handle(&job).await.expect("handle") {
        Outcome::Failed(reason) => assert!(reason.contains("is invalid"), "{reason}"),
        other => panic!("expected a failed start, got {other:?}"),
    }
    assert_eq!(store.get_run(&bad.id).await.expect("run").status, "error");
}

#[tokio::test]
async fn embedded_sqlite_and_in_process_queue_run_a_stored_flow_from_a_job() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("testmesh.db").display());
    let store = testmesh::storage::open(&url).await.expect("sqlite store");
    journey(store, Arc::new(MemoryQueue::new())).await;
}

#[tokio::test]
async fn postgres_and_redis_streams_run_a_stored_flow_from_a_job() {
    let Some(database) = common::TestDatabase::create().await else { return };
    let Some(redis) = common::redis_url().await else { return };
    let store = testmesh::storage::open(&database.url).await.expect("postgres store");
    let config = RedisQueueConfig {
        url: redis,
        stream: format!("testmesh:test:{}", uuid::Uuid::new_v4().simple()),
        group: "workers".into(),
        consumer: "worker-1".into(),
    };
    let queue = RedisQueue::connect(config).await.expect("redis queue");
    journey(store, Arc::new(queue)).await;
}

/// A flow whose step waits 10 s, with a teardown; stored, with a queued run and its job received.
async fn slow_run(store: &Arc<dyn Store>, queue: &Arc<dyn Queue>) -> (String, testmesh::queue::Job) {
    let source = "name: slow\nsteps:\n  - { id: wait, action: delay, config: { duration: 10s } }\nteardown:\n  - { id: bye, action: log, config: { message: bye } }\n";
    let flow = store
        .create_flow(NewFlow { name: "slow".into(), source: source.into(), ..Default::default() })
        .await
        .expect("flow");
    let run = store
        .create_run(NewRun {
            flow_id: Some(flow.id.clone()),
            flow_version: Some(1),
            flow_name: "slow".into(),
            vars: json!({}),
            ..Default::default()
        })
        .await
        .expect("run");
    queue.enqueue(&run.id).await.expect("enqueue");
    let job = queue.receive(1, Duration::from_secs(1)).await.expect("receive").remove(0);
    (run.id, job)
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("testmesh.db").display());
    testmesh::storage::open(&url).await.expect("sqlite store")
}

#[tokio::test]
async fn a_cancel_requested_in_storage_stops_the_call_runs_teardown_and_ends_cancelled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new());
    let (run_id, job) = slow_run(&store, &queue).await;
    // A worker in another process: it learns of the cancel only through storage.
    let worker = worker(store.clone(), queue, RunSignals::new(), Duration::from_secs(30));
    let cancel_store = store.clone();
    let cancel_id = run_id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel_store.request_cancel(&cancel_id).await.expect("cancel");
    });
    let started = std::time::Instant::now();
    assert_eq!(worker.handle(&job).await.expect("handle"), Outcome::Ran(RunStatus::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(5), "the 10 s step was interrupted");
    let after = store.get_run(&run_id).await.expect("run");
    assert_eq!(after.status, "cancelled");
    let steps = store.step_results(&run_id).await.expect("steps");
    let statuses: Vec<(&str, &str)> = steps.iter().map(|s| (s.path.as_str(), s.status.as_str())).collect();
    assert_eq!(statuses, [("steps/wait", "cancelled"), ("teardown/bye", "passed")], "teardown ran");
}

#[tokio::test]
async fn a_cancel_signalled_in_process_stops_the_run_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new());
    let (run_id, job) = slow_run(&store, &queue).await;
    let signals = RunSignals::new();
    // A long lease and no storage polling to speak of: only the in-process signal can stop it soon.
    let mut worker = worker(store.clone(), queue, signals.clone(), Duration::from_secs(60));
    worker = worker.with_metrics(Arc::new(testmesh::platform::Metrics::new()));
    let cancel_id = run_id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(signals.cancel(&cancel_id), "the run is registered while it runs");
    });
    let started = std::time::Instant::now();
    assert_eq!(worker.handle(&job).await.expect("handle"), Outcome::Ran(RunStatus::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(store.get_run(&run_id).await.expect("run").status, "cancelled");
}

#[tokio::test]
async fn a_run_taken_over_by_another_worker_stores_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new());
    let (run_id, job) = slow_run(&store, &queue).await;
    let worker = worker(store.clone(), queue, RunSignals::new(), Duration::from_millis(300));
    let thief = store.clone();
    let stolen_id = run_id.clone();
    tokio::spawn(async move {
        // The finishing write of someone else's execution: this worker's lease is gone.
        tokio::time::sleep(Duration::from_millis(200)).await;
        thief.set_run_status(&stolen_id, "error", Some("ended by an operator")).await.expect("end");
    });
    assert_eq!(worker.handle(&job).await.expect("handle"), Outcome::Lost);
    let after = store.get_run(&run_id).await.expect("run");
    assert_eq!((after.status.as_str(), after.error.as_deref()), ("error", Some("ended by an operator")));
}
