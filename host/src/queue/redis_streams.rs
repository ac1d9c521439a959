//! The distributed queue: a Redis stream with one consumer group of workers.
//!
//! - A job is a stream entry `run_id=<id>`; `XREADGROUP` hands each entry to one consumer and keeps
//!   it in that consumer's pending list until `XACK`.
//! - A consumer first reads its own pending entries (ID `0`, after a restart), then new ones (`>`)
//!   with `BLOCK` — on a connection of its own whose response timeout is off: redis-rs times
//!   commands out after 500 ms by default, which would fail every blocking read.
//! - `XAUTOCLAIM` (without `JUSTID`, so the delivery counter grows) takes over entries idle past the
//!   lease; an entry delivered too often goes to `<stream>:dead` and is acknowledged, in that order,
//!   so a crash leaves a duplicate rather than a loss.
//! - Renewing a lease is `XCLAIM … JUSTID` (which resets idle time without counting a delivery)
//!   guarded by a script that checks ownership first: a bare `XCLAIM` would steal the entry back
//!   from the consumer that reclaimed it.
//! - No `MAXLEN` trimming: it deletes pending entries too.

use super::{Job, Queue, QueueError, Reclaimed};
use futures::future::BoxFuture;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{
    StreamAutoClaimOptions, StreamId, StreamPendingCountReply, StreamRangeReply, StreamReadOptions, StreamReadReply,
};
use std::time::Duration;

/// Where the queue lives and who this consumer is.
#[derive(Debug, Clone)]
pub struct RedisQueueConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// The stream's key (`testmesh:jobs`).
    pub stream: String,
    /// The consumer group of the workers (`workers`).
    pub group: String,
    /// This consumer's name, unique per process start ([`super::consumer_name`]).
    pub consumer: String,
}

impl RedisQueueConfig {
    /// The default stream and group at `url`, with a fresh consumer name.
    pub fn new(url: &str) -> Self {
        RedisQueueConfig {
            url: url.to_string(),
            stream: "testmesh:jobs".into(),
            group: "workers".into(),
            consumer: super::consumer_name(),
        }
    }

    fn dead_stream(&self) -> String {
        format!("{}:dead", self.stream)
    }
}

/// One consumer of the Redis stream queue.
pub struct RedisQueue {
    config: RedisQueueConfig,
    commands: ConnectionManager,
    blocking: tokio::sync::Mutex<MultiplexedConnection>,
    /// Where the reading of this consumer's own pending entries (left from before a restart) has
    /// got to; `None` once they have all been handed out again.
    own_pending_cursor: std::sync::Mutex<Option<String>>,
}

/// Checks that `ARGV[2]` still owns entry `ARGV[3]` before resetting its idle time.
const RENEW_SCRIPT: &str = r#"
local pending = redis.call("XPENDING", KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if pending[1] == nil or pending[1][2] ~= ARGV[2] then return 0 end
redis.call("XCLAIM", KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], "JUSTID")
return 1
"#;

fn unavailable(error: redis::RedisError) -> QueueError {
    QueueError::Unavailable(error.to_string())
}

impl RedisQueue {
    /// Connects (one managed connection for commands, one for blocking reads) and creates the
    /// stream and group if they do not exist.
    pub async fn connect(config: RedisQueueConfig) -> Result<RedisQueue, QueueError> {
        let client = redis::Client::open(config.url.as_str()).map_err(unavailable)?;
        let commands = client.get_connection_manager().await.map_err(unavailable)?;
        let blocking_config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        let blocking =
            client.get_multiplexed_async_connection_with_config(&blocking_config).await.map_err(unavailable)?;
        let queue = RedisQueue {
            config,
            commands,
            blocking: tokio::sync::Mutex::new(blocking),
            own_pending_cursor: std::sync::Mutex::new(Some("0".into())),
        };
        queue.ensure_group().await?;
        Ok(queue)
    }

    /// This consumer's configuration.
    pub fn config(&self) -> &RedisQueueConfig {
        &self.config
    }

    async fn ensure_group(&self) -> Result<(), QueueError> {
        let mut connection = self.commands.clone();
        let created: Result<(), redis::RedisError> =
            connection.xgroup_create_mkstream(&self.config.stream, &self.config.group, "$").await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(unavailable(e)),
            _ => Ok(()),
        }
    }

    /// How many times each of `ids` has been delivered (from the pending list).
    async fn deliveries(&self, ids: &[&str]) -> Result<Vec<u64>, QueueError> {
        let mut connection = self.commands.clone();
        let mut counts = Vec::with_capacity(ids.len());
        for id in ids {
            let reply: StreamPendingCountReply = connection
                .xpending_count(&self.config.stream, &self.config.group, *id, *id, 1)
                .await
                .map_err(unavailable)?;
            counts.push(reply.ids.first().map_or(1, |p| p.times_delivered as u64));
        }
        Ok(counts)
    }

    /// Jobs from entries; entries deleted while pending (no fields) are acknowledged and dropped.
    async fn jobs(&self, entries: Vec<StreamId>, deliveries: Option<Vec<u64>>) -> Result<Vec<Job>, QueueError> {
        let mut jobs = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let run_id: Option<String> = entry.get("run_id");
            let delivery = deliveries.as_ref().and_then(|d| d.get(i).copied()).unwrap_or(1);
            match run_id {
                Some(run_id) => jobs.push(Job { run_id, delivery, receipt: entry.id }),
                None => {
                    let mut connection = self.commands.clone();
                    let _: Result<i64, _> =
                        connection.xack(&self.config.stream, &self.config.group, &[&entry.id]).await;
                }
            }
        }
        Ok(jobs)
    }

    async fn read(&self, id: &str, max: usize, block: Option<Duration>) -> Result<Vec<StreamId>, QueueError> {
        let mut options = StreamReadOptions::default().group(&self.config.group, &self.config.consumer).count(max);
        if let Some(block) = block {
            options = options.block(block.as_millis().max(1) as usize);
        }
        let mut connection = self.blocking.lock().await;
        let reply: Result<Option<StreamReadReply>, _> =
            connection.xread_options(&[&self.config.stream], &[id], &options).await;
        match reply {
            Ok(reply) => Ok(reply.map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect()).unwrap_or_default()),
            // Redis restarted empty: the group is gone. Recreate it; the database's reconciler
            // re-enqueues the runs that were waiting.
            Err(e) if e.code() == Some("NOGROUP") => {
                drop(connection);
                self.ensure_group().await?;
                Ok(Vec::new())
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

impl Queue for RedisQueue {
    fn ping(&self) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            let mut connection = self.commands.clone();
            let _: String = redis::cmd("PING").query_async(&mut connection).await.map_err(unavailable)?;
            Ok(())
        })
    }

    fn enqueue<'a>(&'a self, run_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut connection = self.commands.clone();
            let _: String =
                connection.xadd(&self.config.stream, "*", &[("run_id", run_id)]).await.map_err(unavailable)?;
            Ok(())
        })
    }

    fn receive(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Job>, QueueError>> {
        Box::pin(async move {
            let max = max.max(1);
            let cursor = self.own_pending_cursor.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(cursor) = cursor {
                // Each pending entry once, paging by id: the ones still being worked on by this
                // process must not come back.
                let entries = self.read(&cursor, max, None).await?;
                let next = entries.last().map(|e| e.id.clone());
                *self.own_pending_cursor.lock().unwrap_or_else(|p| p.into_inner()) = next;
                if !entries.is_empty() {
                    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
                    let deliveries = self.deliveries(&ids).await?;
                    return self.jobs(entries, Some(deliveries)).await;
                }
            }
            let entries = self.read(">", max, Some(wait)).await?;
            self.jobs(entries, None).await
        })
    }

    fn ack<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut connection = self.commands.clone();
            let _: i64 =
                connection.xack(&self.config.stream, &self.config.group, &[&job.receipt]).await.map_err(unavailable)?;
            Ok(())
        })
    }

    fn reclaim(&self, min_idle: Duration, max_deliveries: u64) -> BoxFuture<'_, Result<Reclaimed, QueueError>> {
        Box::pin(async move {
            let mut connection = self.commands.clone();
            let mut reclaimed = Reclaimed::default();
            let mut cursor = "0-0".to_string();
            loop {
                let reply: redis::streams::StreamAutoClaimReply = connection
                    .xautoclaim_options(
                        &self.config.stream,
                        &self.config.group,
                        &self.config.consumer,
                        min_idle.as_millis() as u64,
                        &cursor,
                        StreamAutoClaimOptions::default().count(100),
                    )
                    .await
                    .map_err(unavailable)?;
                let ids: Vec<&str> = reply.claimed.iter().map(|e| e.id.as_str()).collect();
                let deliveries = self.deliveries(&ids).await?;
                for job in self.jobs(reply.claimed, Some(deliveries)).await? {
                    if job.delivery > max_deliveries {
                        let delivery = job.delivery.to_string();
                        let _: String = connection
                            .xadd(
                                self.config.dead_stream(),
                                "*",
                                &[("run_id", job.run_id.as_str()), ("deliveries", delivery.as_str())],
                            )
                            .await
                            .map_err(unavailable)?;
                        let _: i64 = connection
                            .xack(&self.config.stream, &self.config.group, &[&job.receipt])
                            .await
                            .map_err(unavailable)?;
                        reclaimed.dead.push(job.run_id);
                    } else {
                        reclaimed.jobs.push(job);
                    }
                }
                if reply.next_stream_id == "0-0" || reply.next_stream_id.is_empty() {
                    break;
                }
                cursor = reply.next_stream_id;
            }
            Ok(reclaimed)
        })
    }

    fn renew<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(async move {
            let mut connection = self.commands.clone();
            let renewed: i64 = redis::Script::new(RENEW_SCRIPT)
                .key(&self.config.stream)
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg(&job.receipt)
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(renewed == 1)
        })
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<String>, QueueError>> {
        Box::pin(async move {
            let mut connection = self.commands.clone();
            let reply: StreamRangeReply =
                connection.xrange_all(self.config.dead_stream()).await.map_err(unavailable)?;
            Ok(reply.ids.into_iter().filter_map(|entry| entry.get::<String>("run_id")).collect())
        })
    }
}
