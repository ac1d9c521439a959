//! `testmesh worker`: a process that runs flows for a server — jobs from Redis Streams, runs and
//! results in the shared PostgreSQL database, plugins fetched from it by digest and precompiled at
//! start. Run as many as the load needs, on any machine that reaches both.

use crate::server::{self, ServerConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Options of `testmesh worker`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// The server's PostgreSQL database.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// The server's Redis.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// The Redis stream of jobs (as the server's).
    #[arg(long, env = "TESTMESH_REDIS_STREAM")]
    redis_stream: Option<String>,
    /// How many runs this worker executes at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// A capability of the built-in plugins (repeatable); default: any HTTP host, SQL and Redis.
    #[arg(long = "builtin-grant", value_name = "GRANT")]
    builtin_grants: Vec<String>,
    /// Where precompiled plugins are kept (default: the data directory's cache).
    #[arg(long, env = "TESTMESH_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Log lines as JSON.
    #[arg(long)]
    log_json: bool,
}

impl WorkerArgs {
    /// Whether logs are JSON.
    pub(crate) fn log_json(&self) -> bool {
        self.log_json
    }
}

pub(crate) async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let mut config = ServerConfig::new(super::data_dir());
    config.database_url = args.database_url.filter(|u| !u.is_empty());
    config.redis_url = args.redis_url.filter(|u| !u.is_empty());
    config.redis_stream = args.redis_stream;
    config.workers = args.concurrency;
    config.cache_dir = args.cache_dir;
    if !args.builtin_grants.is_empty() {
        config.builtin_grants = args.builtin_grants;
    }
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        super::serve::shutdown_signal().await;
        tracing::info!("stopping: finishing the runs in progress");
        stop.cancel();
    });
    server::run_worker(config, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}
