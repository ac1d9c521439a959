//! The scheduler on real storage (SQLite and a fresh PostgreSQL database): due fire times start runs
//! exactly once however many replicas tick, missed ones are recorded, and the overlap policies hold.

mod common;

use chrono::{Duration, DurationRound, Utc};
use serde_json::{Map, json};
use std::sync::Arc;
use testmesh::queue::{MemoryQueue, Queue};
use testmesh::scheduler::Scheduler;
use testmesh::storage::{NewFlow, NewRun, NewSchedule, Store, open};

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let url = format!("sqlite://{}?mode=rwc", dir.path().join("testmesh.db").display());
                    super::$case(super::open(&url).await.expect("open sqlite")).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(database) = super::common::TestDatabase::create().await else { return };
                    super::$case(super::open(&database.url).await.expect("open postgres")).await;
                }
            )*
        }
    };
}

both_backends!(
    due_fires_start_runs_once_and_missed_ones_are_recorded,
    replicas_ticking_together_fire_each_time_once,
    overlap_forbid_skips_and_replace_cancels,
    schedules_are_stored_and_listed,
);

async fn flow(store: &Arc<dyn Store>) -> String {
    let source = "name: nightly\nsteps:\n  - { action: log, config: { message: x } }\n";
    store
        .create_flow(NewFlow { name: "nightly".into(), source: source.into(), ..Default::default() })
        .await
        .expect("flow")
        .id
}

fn every_minute(flow_id: &str, next: chrono::DateTime<Utc>, overlap: &str) -> NewSchedule {
    NewSchedule {
        flow_id: flow_id.into(),
        description: String::new(),
        cron: "* * * * *".into(),
        timezone: "UTC".into(),
        vars: Map::new(),
        environment: None,
        overlap: overlap.into(),
        catch_up: "latest".into(),
        catch_up_window_seconds: 3600,
        enabled: true,
        next_fire_at: Some(next),
    }
}

fn minute(at: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    at.duration_trunc(Duration::minutes(1)).expect("truncate")
}

async fn due_fires_start_runs_once_and_missed_ones_are_recorded(store: Arc<dyn Store>) {
    let flow_id = flow(&store).await;
    let now = minute(Utc::now()) + Duration::seconds(10);
    // The scheduler was away for three fire times: the latest fires, the two before are missed.
    let schedule = store
        .create_schedule(every_minute(&flow_id, minute(now) - Duration::minutes(2), "allow"))
        .await
        .expect("schedule");
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new());
    let scheduler = Scheduler::new(store.clone(), queue.clone());
    let tick = scheduler.tick(now).await.expect("tick");
    assert_eq!((tick.started.len(), tick.missed, tick.skipped), (1, 2, 0), "{tick:?}");
    let run = store.get_run(&tick.started[0]).await.expect("run");
    assert_eq!((run.status.as_str(), run.schedule_id.as_deref()), ("queued", Some(schedule.id.as_str())));
    let job = queue.receive(1, std::time::Duration::from_millis(100)).await.expect("receive");
    assert_eq!(job.len(), 1, "the run was enqueued");
    let fires = store.schedule_fires(&schedule.id, 10).await.expect("fires");
    let outcomes: Vec<&str> = fires.iter().map(|f| f.outcome.as_str()).collect();
    assert_eq!(outcomes, ["started", "missed", "missed"]);
    assert_eq!(fires[0].fire_time, minute(now));
    assert_eq!(
        store.get_schedule(&schedule.id).await.expect("get").next_fire_at,
        Some(minute(now) + Duration::minutes(1))
    );
    // The same instant again, or a little later within the minute: nothing more.
    assert_eq!(scheduler.tick(now + Duration::seconds(20)).await.expect("tick").started.len(), 0);
    // The next minute fires once.
    let next = scheduler.tick(now + Duration::minutes(1)).await.expect("tick");
    assert_eq!(next.started.len(), 1);
}

async fn replicas_ticking_together_fire_each_time_once(store: Arc<dyn Store>) {
    let flow_id = flow(&store).await;
    let now = minute(Utc::now()) + Duration::seconds(5);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let schedule = store.create_schedule(every_minute(&flow_id, minute(now), "allow")).await.expect("schedule");
        ids.push(schedule.id);
    }
    let replicas: Vec<Scheduler> =
        (0..4).map(|_| Scheduler::new(store.clone(), Arc::new(MemoryQueue::new()) as Arc<dyn Queue>)).collect();
    let ticks = futures::future::join_all(replicas.iter().map(|r| r.tick(now))).await;
    let started: usize = ticks.into_iter().map(|t| t.expect("tick").started.len()).sum();
    assert_eq!(started, 5, "one run per schedule, whichever replica won");
    for id in &ids {
        let runs = store.unfinished_schedule_runs(id).await.expect("runs");
        assert_eq!(runs.len(), 1, "schedule {id}");
    }
}

async fn overlap_forbid_skips_and_replace_cancels(store: Arc<dyn Store>) {
    let flow_id = flow(&store).await;
    let now = minute(Utc::now()) + Duration::seconds(5);
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new());
    let scheduler = Scheduler::new(store.clone(), queue);
    let forbid = store.create_schedule(every_minute(&flow_id, minute(now), "forbid")).await.expect("schedule");
    let first = scheduler.tick(now).await.expect("tick");
    assert_eq!(first.started.len(), 1);
    // The first run is still queued a minute later: the next fire is skipped.
    let second = scheduler.tick(now + Duration::minutes(1)).await.expect("tick");
    assert_eq!((second.started.len(), second.skipped), (0, 1));
    assert_eq!(store.schedule_fires(&forbid.id, 1).await.expect("fires")[0].outcome, "skipped");
    store.delete_schedule(&forbid.id).await.expect("delete");

    let replace = store.create_schedule(every_minute(&flow_id, minute(now), "replace")).await.expect("schedule");
    let first = scheduler.tick(now).await.expect("tick");
    let earlier = first.started[0].clone();
    let second = scheduler.tick(now + Duration::minutes(1)).await.expect("tick");
    assert_eq!(second.started.len(), 1);
    assert_eq!(store.get_run(&earlier).await.expect("run").status, "cancelled", "replaced");
    assert_eq!(store.unfinished_schedule_runs(&replace.id).await.expect("runs"), second.started);
}

async fn schedules_are_stored_and_listed(store: Arc<dyn Store>) {
    let flow_id = flow(&store).await;
    let now = minute(Utc::now());
    let mut new = every_minute(&flow_id, now, "allow");
    new.vars = json!({"A": 1}).as_object().cloned().unwrap_or_default();
    let created = store.create_schedule(new.clone()).await.expect("create");
    assert!(created.id.starts_with("sch_"));
    assert_eq!(created.vars["A"], 1);
    let mut bad = new.clone();
    bad.flow_id = "flw_missing".into();
    assert!(store.create_schedule(bad).await.is_err(), "the flow must exist");
    new.enabled = false;
    new.cron = "@daily".into();
    let updated = store.update_schedule(&created.id, new).await.expect("update");
    assert_eq!((updated.cron.as_str(), updated.enabled), ("@daily", false));
    assert!(store.due_schedules(now + Duration::days(2), 10).await.expect("due").is_empty(), "disabled");
    // Advancing never goes back.
    let later = now + Duration::hours(1);
    store.advance_schedule(&created.id, Some(later)).await.expect("advance");
    store.advance_schedule(&created.id, Some(now)).await.expect("advance back");
    assert_eq!(store.get_schedule(&created.id).await.expect("get").next_fire_at, Some(later));
    assert_eq!(store.list_schedules().await.expect("list").len(), 1);
    // A run fired by hand is in the history.
    let run = NewRun {
        flow_id: Some(flow_id.clone()),
        flow_version: Some(1),
        flow_name: "nightly".into(),
        ..Default::default()
    };
    let fired = store.claim_fire(&created.id, now, "triggered", Some(run.clone())).await.expect("claim");
    assert!(matches!(fired, Some(Some(_))));
    assert_eq!(store.claim_fire(&created.id, now, "triggered", Some(run)).await.expect("again"), None, "once");
    store.delete_schedule(&created.id).await.expect("delete");
    assert!(store.get_schedule(&created.id).await.is_err());
}
