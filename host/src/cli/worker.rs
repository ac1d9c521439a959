//! `testmesh worker`: a process that runs flows for a server — jobs from Redis Streams, runs and
//! results in the shared PostgreSQL database, plugins fetched from it by digest and precompiled at
//! start. Run as many as the load needs, on any machine that reaches both.

use crate::server;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Options of `testmesh worker`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// How many runs this worker executes at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[command(flatten)]
    deployment: super::serve::DeploymentArgs,
}

impl WorkerArgs {
    /// Whether logs are JSON.
    pub(crate) fn log_json(&self) -> bool {
        self.deployment.log_json()
    }
}

pub(crate) async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.deployment.config();
    config.workers = args.concurrency;
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
