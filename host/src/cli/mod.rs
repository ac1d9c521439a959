//! Command-line interface: argument parsing and the subcommands. Each subcommand lives in its own
//! module; this one only dispatches and maps errors to exit codes (0 success, 1 failure, 2 bad input).

mod client;
mod key;
mod plugin;
mod remote;
mod run;
mod scaffold;
mod schedule;
mod serve;
mod validate;
mod worker;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// testmesh: integration tests as flows of sandboxed WebAssembly actions and assertions.
#[derive(Debug, Parser)]
#[command(name = "testmesh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and call plugins (built-in or a `.wasm` component file).
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run flows (files, directories or glob patterns) and report them; exit code 0 when every
    /// flow passed, 1 when one did not, 2 when a flow is invalid (then nothing runs).
    Run(run::RunArgs),
    /// Run flows on a testmesh server (TESTMESH_URL, TESTMESH_API_KEY).
    #[command(subcommand)]
    Remote(remote::RemoteCommand),
    /// Store, list and check flows on a testmesh server.
    #[command(subcommand)]
    Flow(remote::FlowCommand),
    /// Create, list, delete and trigger cron schedules on a testmesh server.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Make, list and revoke API keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Run flows for a server: jobs from Redis Streams, results in its PostgreSQL database.
    Worker(worker::WorkerArgs),
    /// Start the server: REST API, embedded workers and built-in plugins, on a SQLite file and an
    /// in-process queue unless DATABASE_URL / REDIS_URL say otherwise.
    Serve(serve::ServeArgs),
    /// Check flow files (or every *.yaml/*.yml/*.json under directories) without running them.
    Validate {
        /// Flow files or directories.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// A plugin component (`.wasm`) the flows may name besides the built-ins. Repeatable.
        #[arg(long = "plugin", value_name = "FILE")]
        plugins: Vec<std::path::PathBuf>,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs what it does; one-shot commands only warn.
    let (level, json, multi_thread) = match &cli.command {
        Command::Serve(args) => ("info", args.log_json(), true),
        Command::Worker(args) => ("info", args.log_json(), true),
        _ => ("warn", false, false),
    };
    init_tracing(level, json);
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Plugin(command) => plugin::run(command).await,
            Command::Run(args) => run::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Worker(args) => worker::run(args).await,
            Command::Remote(command) => remote::run(command).await,
            Command::Flow(command) => remote::flow(command).await,
            Command::Key(command) => key::run(command).await,
            Command::Schedule(command) => schedule::run(command).await,
            Command::Validate { paths, plugins } => validate::run(&paths, &plugins).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs to stderr, filtered by `TESTMESH_LOG` (e.g. `debug`, `testmesh=debug,sqlx=warn`), as text or
/// JSON lines.
fn init_tracing(default_level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESTMESH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default_level},sqlx=warn,tower_http=warn")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// Where testmesh keeps its data (precompiled plugins, later the embedded database):
/// `$TESTMESH_DATA_DIR`, else `$XDG_DATA_HOME/testmesh`, else `~/.local/share/testmesh`, else
/// `./.testmesh`.
pub(crate) fn data_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("TESTMESH_DATA_DIR") {
        return dir.into();
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return std::path::PathBuf::from(dir).join("testmesh");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return std::path::PathBuf::from(home).join(".local/share/testmesh");
    }
    std::path::PathBuf::from(".testmesh")
}

/// The sandbox of a command-line process: the component cache under [`data_dir`], and no pooling
/// allocator — one process runs a handful of instances, reused step after step, and reserving the
/// pool's slots costs more at start-up (about 5 ms) than it saves.
pub(crate) fn local_sandbox() -> Result<crate::sandbox::Sandbox, crate::sandbox::SetupError> {
    crate::sandbox::Sandbox::new(crate::sandbox::SandboxConfig {
        cache_dir: Some(data_dir().join("cache").join("components")),
        pooling: false,
        ..crate::sandbox::SandboxConfig::default()
    })
}
