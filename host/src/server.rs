//! `testmesh serve` assembled: storage, the queue, the plugin catalog, the REST API, the embedded
//! workers, the scheduler and the reconciler, started together and stopped together.
//!
//! With no configuration it is the embedded set-up — a SQLite file under the data directory and
//! the in-process queue — so one command gives a working server. `database_url` (PostgreSQL) and
//! `redis_url` switch to the distributed set-up, where `testmesh worker` processes on other
//! machines share the work (and `workers: 0` makes this an API-only node).

use crate::api::{ApiConfig, ApiState};
use crate::builtins;
use crate::platform::{Metrics, PluginCatalog, RunSignals};
use crate::queue::{MemoryQueue, Queue, RedisQueue, RedisQueueConfig};
use crate::sandbox::{Grants, Sandbox, SandboxConfig};
use crate::storage::{NewKey, Role, Store};
use crate::worker::{Worker, WorkerConfig};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:7070`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Where the SQLite database and the precompiled plugins live.
    pub data_dir: PathBuf,
    /// Where precompiled plugins are kept (default `<data_dir>/cache/components`).
    pub cache_dir: Option<PathBuf>,
    /// `postgres://…` for the distributed set-up; default a SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// `redis://…` for the distributed set-up; default the in-process queue.
    pub redis_url: Option<String>,
    /// The Redis stream of jobs (default `testmesh:jobs`): servers and workers of one deployment
    /// share it.
    pub redis_stream: Option<String>,
    /// How many runs the embedded workers execute at once; 0 for an API-only node.
    pub workers: usize,
    /// The capabilities of the built-in plugins.
    pub builtin_grants: Vec<String>,
    /// The API's limits.
    pub api: ApiConfig,
    /// The embedded workers' settings (their owner name is filled in).
    pub worker: WorkerConfig,
    /// How often the reconciler looks for runs whose job was lost, and how long a run may wait
    /// enqueued before it counts as lost.
    pub reconcile_every: Duration,
    /// How long a stopping server waits for runs in progress before cancelling them.
    pub shutdown_grace: Duration,
}

impl ServerConfig {
    /// The embedded defaults, with data under `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            data_dir,
            cache_dir: None,
            database_url: None,
            redis_url: None,
            redis_stream: None,
            workers: 8,
            builtin_grants: Grants::local_development().to_strings(),
            api: ApiConfig::default(),
            worker: WorkerConfig::new(crate::queue::consumer_name()),
            reconcile_every: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }

    /// The database URL in use.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("testmesh.db").display()),
        }
    }
}

/// A started server.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The admin key made on the first start of an empty database (shown once), if it was made now.
    pub first_admin_key: Option<String>,
    /// `postgres` or `sqlite`.
    pub backend: &'static str,
    /// `redis` or `in-process`.
    pub queue: &'static str,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// The token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting requests and jobs, lets runs in progress finish (or cancels them after the
    /// grace period), and returns when everything stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.wait().await;
    }

    /// Returns when the server stopped (after its shutdown token was cancelled).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// What servers and workers both open: storage, the queue, the sandbox and the plugin catalog.
struct Services {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    queue_kind: &'static str,
    catalog: Arc<PluginCatalog>,
    metrics: Arc<Metrics>,
}

impl Services {
    /// Opens (and migrates) storage, connects the queue, and loads and precompiles the plugins.
    async fn open(config: &ServerConfig) -> anyhow::Result<Services> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
        let store = crate::storage::open(&config.database_url()).await.context("cannot open the database")?;
        let (queue, queue_kind): (Arc<dyn Queue>, &'static str) = match &config.redis_url {
            Some(url) => {
                let mut redis = RedisQueueConfig::new(url);
                redis.consumer = config.worker.owner.clone();
                if let Some(stream) = &config.redis_stream {
                    redis.stream = stream.clone();
                }
                (Arc::new(RedisQueue::connect(redis).await.context("cannot connect to Redis")?), "redis")
            }
            None => (Arc::new(MemoryQueue::new()), "in-process"),
        };
        let metrics = Arc::new(Metrics::new());
        let cache = config.cache_dir.clone().unwrap_or_else(|| config.data_dir.join("cache").join("components"));
        let sandbox = Sandbox::new(SandboxConfig { cache_dir: Some(cache), ..SandboxConfig::default() })?;
        sandbox.observe_calls(metrics.clone());
        let builtin_grants = Grants::parse(&config.builtin_grants).context("invalid built-in grant")?;
        let catalog = Arc::new(PluginCatalog::new(sandbox.clone(), store.clone(), builtin_grants));
        precompile(&sandbox, &catalog).await?;
        catalog.keep_current();
        Ok(Services { store, queue, queue_kind, catalog, metrics })
    }

    /// The embedded (or stand-alone) workers over these services.
    fn worker(&self, config: &ServerConfig, signals: Arc<RunSignals>) -> Arc<Worker> {
        Arc::new(
            Worker::new(self.store.clone(), self.queue.clone(), self.catalog.clone(), signals, config.worker.clone())
                .with_metrics(self.metrics.clone()),
        )
    }
}

/// Starts a server: opens (and migrates) storage, connects the queue, loads and precompiles the
/// plugins, makes the first admin key on an empty database, then serves the API and runs the
/// workers and the reconciler until stopped.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let services = Services::open(&config).await?;
    let first_admin_key = first_admin_key(&*services.store).await?;
    let signals = RunSignals::new();
    let state = Arc::new(ApiState {
        store: services.store.clone(),
        queue: services.queue.clone(),
        catalog: services.catalog.clone(),
        signals: signals.clone(),
        metrics: services.metrics.clone(),
        config: config.api.clone(),
        started_at: chrono::Utc::now(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();

    let app = crate::api::router(state);
    let stop_http = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        let serving = axum::serve(listener, app).with_graceful_shutdown(async move { stop_http.cancelled().await });
        if let Err(e) = serving.await {
            tracing::error!("the HTTP server stopped: {e}");
        }
    }));
    if config.workers > 0 {
        let worker = services.worker(&config, signals.clone());
        let (stop, grace, concurrency) = (shutdown.clone(), config.shutdown_grace, config.workers);
        tasks.push(tokio::spawn(async move { worker.run(concurrency, stop, grace).await }));
    }
    let scheduler = crate::scheduler::Scheduler::new(services.store.clone(), services.queue.clone());
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move { scheduler.run(stop).await }));
    let reconciler =
        Reconciler { store: services.store.clone(), queue: services.queue.clone(), every: config.reconcile_every };
    let stop = shutdown.clone();
    let embedded = config.redis_url.is_none();
    tasks.push(tokio::spawn(async move { reconciler.run(stop, embedded).await }));
    Ok(RunningServer {
        addr,
        first_admin_key,
        backend: services.store.backend(),
        queue: services.queue_kind,
        shutdown,
        tasks,
    })
}

/// Runs a stand-alone worker (`testmesh worker`): jobs from Redis Streams, runs in the shared
/// database, until `shutdown`. It needs both `database_url` and `redis_url`: a worker on its own
/// SQLite file and in-process queue would never see a job.
pub async fn run_worker(config: ServerConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    if config.redis_url.is_none() || config.database_url.is_none() {
        anyhow::bail!(
            "a worker needs the server's database and queue: set DATABASE_URL (postgres://…) and REDIS_URL \
             (redis://…); `testmesh serve` alone runs flows with its embedded workers"
        );
    }
    let services = Services::open(&config).await?;
    tracing::info!(
        database = services.store.backend(),
        concurrency = config.workers,
        owner = %config.worker.owner,
        "worker started"
    );
    let worker = services.worker(&config, RunSignals::new());
    worker.run(config.workers.max(1), shutdown, config.shutdown_grace).await;
    Ok(())
}

/// Loads every built-in and installed plugin now, compiling what the disk cache does not hold, so
/// that no run's first step pays for a compile.
async fn precompile(sandbox: &Sandbox, catalog: &PluginCatalog) -> anyhow::Result<()> {
    for builtin in builtins::all() {
        sandbox
            .load_with_digest(builtin.wasm, builtin.digest.to_string())
            .await
            .with_context(|| format!("built-in plugin {}", builtin.source))?;
    }
    if let Err(e) = catalog.registry().await {
        tracing::error!("installed plugins: {e}");
    }
    Ok(())
}

/// Makes an admin key when no key was ever made (the first start of an empty database).
async fn first_admin_key(store: &dyn Store) -> anyhow::Result<Option<String>> {
    if store.count_api_keys().await? > 0 {
        return Ok(None);
    }
    let key =
        NewKey { role: Role::Admin, description: "first admin key, made by testmesh serve".into(), expires_at: None };
    let (record, plaintext) = store.create_api_key(key).await?;
    tracing::info!(key_id = %record.id, "made the first admin key");
    Ok(Some(plaintext))
}

/// Finds runs whose job was lost — queued in storage but not in the queue (a restart of the
/// in-process queue, Redis restarted without persistence), or running under an expired lease (their
/// worker died) — and enqueues them again. A job enqueued twice runs once: workers claim runs.
struct Reconciler {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    every: Duration,
}

impl Reconciler {
    async fn run(self, shutdown: CancellationToken, embedded: bool) {
        // The in-process queue starts empty: every queued run in storage is from an earlier start.
        if embedded {
            self.pass(chrono::Utc::now()).await;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = shutdown.cancelled() => return,
            }
            let threshold =
                chrono::Duration::from_std(self.every * 2).unwrap_or_else(|_| chrono::Duration::seconds(60));
            self.pass(chrono::Utc::now() - threshold).await;
        }
    }

    async fn pass(&self, enqueued_before: chrono::DateTime<chrono::Utc>) {
        let stale = match self.store.stale_runs(enqueued_before, 1000).await {
            Ok(stale) => stale,
            Err(e) => return tracing::warn!("reconciler: {e}"),
        };
        let mut enqueued = Vec::new();
        for run_id in stale {
            match self.queue.enqueue(&run_id).await {
                Ok(()) => enqueued.push(run_id),
                Err(e) => return tracing::warn!("reconciler: cannot enqueue: {e}"),
            }
        }
        if !enqueued.is_empty() {
            tracing::info!(count = enqueued.len(), "re-enqueued runs whose job was lost");
            if let Err(e) = self.store.mark_enqueued(&enqueued).await {
                tracing::warn!("reconciler: {e}");
            }
        }
    }
}
