//! `testmesh serve`: the server — REST API, embedded workers, reconciler — on the embedded default
//! (SQLite + in-process queue) unless `DATABASE_URL` / `REDIS_URL` name the distributed set-up.

use crate::server::{self, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where a server or worker keeps its data and finds its deployment's database and queue: the
/// options `serve` and `worker` share.
#[derive(Debug, clap::Args)]
pub(crate) struct DeploymentArgs {
    /// Where the SQLite database and precompiled plugins live (default: the data directory,
    /// `$TESTMESH_DATA_DIR` or `~/.local/share/testmesh`).
    #[arg(long, env = "TESTMESH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where precompiled plugins are kept (default: `cache/components` in the data directory).
    #[arg(long, env = "TESTMESH_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// PostgreSQL (`postgres://…`) instead of the SQLite file.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Redis Streams (`redis://…`) instead of the in-process queue, so that `testmesh worker`
    /// processes share the runs.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// The Redis stream of jobs, shared by the servers and workers of one deployment.
    #[arg(long, env = "TESTMESH_REDIS_STREAM")]
    redis_stream: Option<String>,
    /// A capability of the built-in plugins (repeatable); default: any HTTP host, SQL and Redis.
    #[arg(long = "builtin-grant", value_name = "GRANT")]
    builtin_grants: Vec<String>,
    /// Log lines as JSON (for log collectors) instead of text.
    #[arg(long)]
    log_json: bool,
}

impl DeploymentArgs {
    /// Whether logs are JSON.
    pub(crate) fn log_json(&self) -> bool {
        self.log_json
    }

    /// The server configuration these options describe (the rest at its defaults).
    pub(crate) fn config(self) -> ServerConfig {
        let mut config = ServerConfig::new(self.data_dir.unwrap_or_else(super::data_dir));
        config.cache_dir = self.cache_dir;
        config.database_url = self.database_url.filter(|u| !u.is_empty());
        config.redis_url = self.redis_url.filter(|u| !u.is_empty());
        config.redis_stream = self.redis_stream;
        if !self.builtin_grants.is_empty() {
            config.builtin_grants = self.builtin_grants;
        }
        config
    }
}

/// Options of `testmesh serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; `0.0.0.0:7070` to accept other machines.
    #[arg(long, env = "TESTMESH_LISTEN", default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// Runs the embedded workers execute at once; 0 makes this an API-only node.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Largest plugin upload, in MiB.
    #[arg(long, default_value_t = 64)]
    max_plugin_mib: usize,
    #[command(flatten)]
    deployment: DeploymentArgs,
}

impl ServeArgs {
    /// Whether logs are JSON.
    pub(crate) fn log_json(&self) -> bool {
        self.deployment.log_json()
    }
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.deployment.config();
    config.listen = args.listen;
    config.workers = args.workers;
    config.api.max_plugin_bytes = args.max_plugin_mib.saturating_mul(1 << 20);
    let running = server::start(config.clone()).await?;
    let url = format!("http://{}", running.addr);
    println!(
        "testmesh serve: listening on {url} ({} database, {} queue, {} workers)",
        running.backend, running.queue, config.workers
    );
    if let Some(key) = &running.first_admin_key {
        println!();
        println!("First start: an admin API key was made. It is shown this once; keep it:");
        println!();
        println!("    {key}");
        println!();
        println!("    export TESTMESH_URL={url}");
        println!("    export TESTMESH_API_KEY={key}");
        println!();
    }
    let stop = running.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping: finishing the runs in progress");
        stop.cancel();
    });
    running.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
