//! The queue contract, run against both implementations — in process, and Redis Streams on the
//! machine's Redis (a fresh stream per test): delivery to one consumer, acknowledgement, a dead
//! consumer's jobs reclaimed with their delivery counted, dead letters, renewal, restart, and
//! blocking reads longer than redis-rs's default response timeout.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};
use testmesh::queue::{MemoryQueue, Queue, RedisQueue, RedisQueueConfig};

/// Consumers of one queue, by name.
type Consumers = Vec<Arc<dyn Queue>>;

async fn memory(names: &[&str]) -> Consumers {
    let queue = MemoryQueue::new();
    names.iter().map(|n| Arc::new(queue.consumer(n)) as Arc<dyn Queue>).collect()
}

async fn redis(names: &[&str]) -> Option<(Consumers, RedisQueueConfig)> {
    let url = common::redis_url().await?;
    let stream = format!("testmesh:test:{}", uuid::Uuid::new_v4().simple());
    let mut consumers: Consumers = Vec::new();
    let mut base = None;
    for name in names {
        let config = RedisQueueConfig {
            url: url.clone(),
            stream: stream.clone(),
            group: "workers".into(),
            consumer: (*name).to_string(),
        };
        base.get_or_insert_with(|| config.clone());
        consumers.push(Arc::new(RedisQueue::connect(config).await.expect("connect")));
    }
    Some((consumers, base.expect("at least one consumer")))
}

const SHORT: Duration = Duration::from_millis(50);

async fn delivers_each_job_once_and_ack_removes_it(consumers: Consumers) {
    let (a, b) = (&consumers[0], &consumers[1]);
    for i in 0..10 {
        a.enqueue(&format!("run-{i}")).await.expect("enqueue");
    }
    let mut seen = Vec::new();
    for consumer in [a, b, a, b] {
        for job in consumer.receive(3, SHORT).await.expect("receive") {
            assert_eq!(job.delivery, 1);
            consumer.ack(&job).await.expect("ack");
            seen.push(job.run_id);
        }
    }
    seen.extend(a.receive(10, SHORT).await.expect("receive").into_iter().map(|j| j.run_id));
    seen.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("run-{i}")).collect();
    expected.sort();
    assert_eq!(seen, expected, "every job once, to one consumer");
    assert!(b.receive(10, SHORT).await.expect("receive").is_empty());
}

async fn a_dead_consumers_job_is_reclaimed_then_dead_lettered(consumers: Consumers) {
    let (a, b, c) = (&consumers[0], &consumers[1], &consumers[2]);
    a.enqueue("run-poison").await.expect("enqueue");
    let taken = a.receive(1, SHORT).await.expect("receive");
    assert_eq!(taken.len(), 1);
    tokio::time::sleep(Duration::from_millis(120)).await;
    // `a` stopped answering: `b` takes the job over, counted as a second delivery.
    let reclaimed = b.reclaim(Duration::from_millis(100), 2).await.expect("reclaim");
    assert_eq!(reclaimed.jobs.len(), 1, "{reclaimed:?}");
    assert_eq!(reclaimed.jobs[0].run_id, "run-poison");
    assert_eq!(reclaimed.jobs[0].delivery, 2);
    assert!(!a.renew(&taken[0]).await.expect("renew"), "the job is no longer a's");
    assert!(b.renew(&reclaimed.jobs[0]).await.expect("renew"));
    // Not idle long enough: nothing to take.
    assert!(c.reclaim(Duration::from_secs(60), 2).await.expect("reclaim").jobs.is_empty());
    tokio::time::sleep(Duration::from_millis(120)).await;
    // `b` died too: a third delivery would exceed the maximum of 2, so it is set aside.
    let reclaimed = c.reclaim(Duration::from_millis(100), 2).await.expect("reclaim");
    assert!(reclaimed.jobs.is_empty(), "{reclaimed:?}");
    assert_eq!(reclaimed.dead, ["run-poison"]);
    assert_eq!(c.dead_letters().await.expect("dead letters"), ["run-poison"]);
    assert!(c.reclaim(Duration::ZERO, 2).await.expect("reclaim").jobs.is_empty(), "acknowledged once dead");
}

async fn renewing_keeps_a_long_job(consumers: Consumers) {
    let (a, b) = (&consumers[0], &consumers[1]);
    a.enqueue("run-long").await.expect("enqueue");
    let job = a.receive(1, SHORT).await.expect("receive").remove(0);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(a.renew(&job).await.expect("renew"));
        assert!(b.reclaim(Duration::from_millis(100), 5).await.expect("reclaim").jobs.is_empty());
    }
    a.ack(&job).await.expect("ack");
}

#[tokio::test]
async fn memory_delivers_each_job_once_and_ack_removes_it() {
    delivers_each_job_once_and_ack_removes_it(memory(&["a", "b"]).await).await;
}

#[tokio::test]
async fn memory_a_dead_consumers_job_is_reclaimed_then_dead_lettered() {
    a_dead_consumers_job_is_reclaimed_then_dead_lettered(memory(&["a", "b", "c"]).await).await;
}

#[tokio::test]
async fn memory_renewing_keeps_a_long_job() {
    renewing_keeps_a_long_job(memory(&["a", "b"]).await).await;
}

#[tokio::test]
async fn memory_receive_wakes_when_a_job_arrives() {
    let consumers = memory(&["a", "b"]).await;
    let producer = consumers[1].clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        producer.enqueue("run-late").await.expect("enqueue");
    });
    let started = Instant::now();
    let jobs = consumers[0].receive(1, Duration::from_secs(5)).await.expect("receive");
    assert_eq!(jobs.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn redis_delivers_each_job_once_and_ack_removes_it() {
    let Some((consumers, _)) = redis(&["a", "b"]).await else { return };
    delivers_each_job_once_and_ack_removes_it(consumers).await;
}

#[tokio::test]
async fn redis_a_dead_consumers_job_is_reclaimed_then_dead_lettered() {
    let Some((consumers, _)) = redis(&["a", "b", "c"]).await else { return };
    a_dead_consumers_job_is_reclaimed_then_dead_lettered(consumers).await;
}

#[tokio::test]
async fn redis_renewing_keeps_a_long_job() {
    let Some((consumers, _)) = redis(&["a", "b"]).await else { return };
    renewing_keeps_a_long_job(consumers).await;
}

#[tokio::test]
async fn redis_a_restarted_consumer_gets_its_unacknowledged_jobs_first() {
    let Some((consumers, config)) = redis(&["w1"]).await else { return };
    consumers[0].enqueue("run-1").await.expect("enqueue");
    consumers[0].enqueue("run-2").await.expect("enqueue");
    let first = consumers[0].receive(1, SHORT).await.expect("receive");
    assert_eq!(first[0].run_id, "run-1");
    drop(consumers);
    // The same consumer after a restart (the test reuses the name to see the pending list).
    let restarted = RedisQueue::connect(config).await.expect("connect");
    let again = restarted.receive(5, SHORT).await.expect("receive");
    assert_eq!(again.iter().map(|j| j.run_id.as_str()).collect::<Vec<_>>(), ["run-1"], "own pending first");
    assert_eq!(again[0].delivery, 2);
    let next = restarted.receive(5, SHORT).await.expect("receive");
    assert_eq!(next.iter().map(|j| j.run_id.as_str()).collect::<Vec<_>>(), ["run-2"]);
}

#[tokio::test]
async fn redis_blocking_reads_outlast_the_default_response_timeout_and_wake_on_a_job() {
    let Some((consumers, _)) = redis(&["a", "b"]).await else { return };
    let started = Instant::now();
    let jobs = consumers[0].receive(1, Duration::from_millis(1200)).await.expect("a long block is not an error");
    assert!(jobs.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(1100), "{:?}", started.elapsed());
    let producer = consumers[1].clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        producer.enqueue("run-late").await.expect("enqueue");
    });
    let started = Instant::now();
    let jobs = consumers[0].receive(1, Duration::from_secs(5)).await.expect("receive");
    assert_eq!(jobs.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}
