//! `testmesh plugin …`: list the built-in plugins, inspect a component, call a plugin once.

use crate::builtins;
use crate::sandbox::{
    ActionInput, AssertionInput, CallContext, CallOptions, Grants, Limits, Plugin, PluginKind, Sandbox,
};
use anyhow::{Context, bail};
use clap::Subcommand;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Plugin subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Load every built-in plugin (compiling it once into the cache) and list them.
    List,
    /// Load a component file and print what it is: world, descriptor, imports, digest.
    Inspect {
        /// The `.wasm` component.
        file: std::path::PathBuf,
    },
    /// Install a plugin component on a server (TESTMESH_URL, an admin TESTMESH_API_KEY) with the
    /// capabilities it may use.
    Install {
        /// The `.wasm` component.
        file: std::path::PathBuf,
        /// A capability to grant (`http:api.example.com`, `sql:postgres://db/*`, `redis:*`,
        /// `env:NAME`); repeatable. Without any it gets none.
        #[arg(long = "grant")]
        grants: Vec<String>,
        #[command(flatten)]
        server: super::client::ServerArgs,
    },
    /// Write a new plugin project (Rust, JavaScript or Python) that builds as it is and passes its
    /// own test flow.
    New(super::scaffold::NewArgs),
    /// Call a plugin once and print its output (or its error) and log.
    Call {
        /// A built-in plugin's name or alias, or a `.wasm` file.
        plugin: String,
        /// The step config, as JSON (actions), or one check's config (assertions).
        #[arg(long, default_value = "{}")]
        config: String,
        /// For assertions: the subject to judge, as JSON.
        #[arg(long, default_value = "{}")]
        subject: String,
        /// The operation of the namespaced form `<plugin>.<operation>`.
        #[arg(long)]
        operation: Option<String>,
        /// A capability grant (`http:api.example.com`, `sql:*`, `redis:*`, `env:NAME`); repeatable.
        /// Without any, built-in plugins get the local-development grants and files get none.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Deadline of the call, in milliseconds.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
    },
}

pub(crate) async fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Install { file, grants, server } => super::remote::install_plugin(&file, &grants, &server).await,
        PluginCommand::New(args) => super::scaffold::new_plugin(&args).map(|()| ExitCode::SUCCESS),
        local => run_locally(local).await,
    }
}

/// The commands that work on this machine, without a server.
async fn run_locally(command: PluginCommand) -> anyhow::Result<ExitCode> {
    let sandbox = super::local_sandbox()?;
    match command {
        PluginCommand::Install { .. } => bail!("`plugin install` talks to a server"),
        PluginCommand::New(_) => bail!("`plugin new` writes files, it loads nothing"),
        PluginCommand::List => {
            for builtin in builtins::all() {
                let started = Instant::now();
                let plugin =
                    sandbox.load(builtin.wasm).await.with_context(|| format!("built-in {}", builtin.source))?;
                let d = &plugin.descriptor;
                println!(
                    "{:<16} {:<9} {:<7} {:>6} KiB  {:>6.1} ms ({:?})  {}",
                    d.name,
                    d.kind.world(),
                    d.version,
                    builtin.wasm.len() / 1024,
                    started.elapsed().as_secs_f64() * 1000.0,
                    plugin.compile_source,
                    d.summary
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Inspect { file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let plugin = sandbox.load(&bytes).await?;
            let report = serde_json::json!({
                "digest": format!("sha256:{}", plugin.digest),
                "descriptor": plugin.descriptor,
                "imports": plugin.imports,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Call { plugin, config, subject, operation, grants, timeout_ms } => {
            let (plugin, builtin) = resolve(&sandbox, &plugin).await?;
            let grants =
                if grants.is_empty() && builtin { Grants::local_development() } else { Grants::parse(&grants)? };
            let grants = Arc::new(grants);
            let config: serde_json::Value = serde_json::from_str(&config).context("--config is not JSON")?;
            let options = CallOptions {
                limits: Limits { deadline: Duration::from_millis(timeout_ms), ..Limits::default() },
                ..CallOptions::default()
            };
            let context =
                CallContext { run_id: "cli".into(), flow_name: "cli".into(), step_id: "call".into(), attempt: 1 };
            let session = sandbox.session();
            let (result, logs) = match plugin.kind() {
                PluginKind::Action => {
                    let input = ActionInput { context: &context, operation: operation.as_deref(), config: &config };
                    let report = session.run_action(&plugin, &grants, input, &options).await;
                    (report.result.map(|output| serde_json::to_string_pretty(&output)), report.logs)
                }
                PluginKind::Assertion => {
                    let checks = [config];
                    let input = AssertionInput { context: &context, subject: &subject, checks: &checks };
                    let report = session.check(&plugin, &grants, input, &options).await;
                    let text = report.result.map(|verdicts| {
                        let verdicts: Vec<_> = verdicts
                            .iter()
                            .map(|v| serde_json::json!({"passed": v.passed, "message": v.message, "actual": v.actual}))
                            .collect();
                        serde_json::to_string_pretty(&verdicts)
                    });
                    (text, report.logs)
                }
            };
            for line in logs {
                eprintln!("[{:?}/{:?}] {}", line.level, line.source, line.message);
            }
            match result {
                Ok(text) => {
                    println!("{}", text?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// A built-in by name or alias, or a component file.
async fn resolve(sandbox: &Sandbox, name: &str) -> anyhow::Result<(Arc<Plugin>, bool)> {
    if name.ends_with(".wasm") {
        let bytes = std::fs::read(name).with_context(|| format!("cannot read {name}"))?;
        return Ok((sandbox.load(&bytes).await?, false));
    }
    let mut known = Vec::new();
    for builtin in builtins::all() {
        let plugin = sandbox.load(builtin.wasm).await?;
        if plugin.descriptor.name == name || plugin.descriptor.aliases.iter().any(|a| a == name) {
            return Ok((plugin, true));
        }
        known.push(plugin.descriptor.name.clone());
    }
    bail!("no built-in plugin `{name}` (built-ins: {})", known.join(", "))
}
