//! `testmesh run <files|dirs|globs>`: runs flows locally (a laptop, a CI job) with the same runner
//! the server's workers use, and reports them: a line per flow, Hurl-style failure blocks, a
//! summary, and JUnit/JSON/HTML reports on request.
//!
//! Every flow is parsed and checked before any runs: one invalid flow stops the command with exit
//! code 2 and every problem printed. Exit code 1 means a flow did not pass; 0 that all passed.
//! Ctrl-C cancels the running flows (their teardown runs); a second Ctrl-C exits at once.

use super::validate::collect;
use crate::flow::{Flow, check_flow};
use crate::report;
use crate::runner::{
    EventSink, FileLoader, Registry, RunEvent, RunRequest, RunResult, RunStatus, Runner, RunnerOptions, parse_env_file,
};
use crate::sandbox::Grants;
use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Arguments of `testmesh run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Flow files, directories (searched for *.yaml, *.yml, *.json) or glob patterns.
    #[arg(required = true)]
    paths: Vec<String>,
    /// A variable for every flow, over the flows' `env` (`--var BASE=http://…`); values that read
    /// as JSON numbers, booleans, lists or objects keep their type. Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// A file of KEY=VALUE variables (the run's environment: over `env`, under `--var`).
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// A secret for `${secret.NAME}` (`NAME=value`, or `NAME` to read the environment variable);
    /// masked in every output. Repeatable.
    #[arg(long = "secret", value_name = "NAME[=VALUE]")]
    secrets: Vec<String>,
    /// How many flows run at once.
    #[arg(long, short = 'j', default_value_t = 1)]
    jobs: usize,
    /// Stop starting flows after the first one that fails.
    #[arg(long)]
    fail_fast: bool,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write an HTML report into a directory.
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    /// Add a plugin component (`.wasm`) for these runs; it replaces a built-in of the same name.
    /// Repeatable.
    #[arg(long = "plugin", value_name = "FILE")]
    plugins: Vec<PathBuf>,
    /// A capability for the `--plugin` components (`http:api.example.com`, `sql:*`, `redis:*`,
    /// `env:NAME`); without any they get none. Built-ins get local-development access. Repeatable.
    #[arg(long = "grant", value_name = "CAPABILITY")]
    grants: Vec<String>,
    /// Only run flows with this tag. Repeatable (any of them).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Print only failures and the summary.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Never use colours (also when `NO_COLOR` is set).
    #[arg(long)]
    no_color: bool,
}

struct Loaded {
    file: String,
    text: String,
    flow: Flow,
}

/// Runs `testmesh run`.
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let color = !args.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let files = expand(&args.paths)?;
    let mut flows = Vec::new();
    let mut invalid = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let name = file.display().to_string();
        match check_flow(&text, &name) {
            (Some(flow), _) => flows.push(Loaded { file: name, text, flow }),
            (None, diagnostics) => {
                invalid += 1;
                eprintln!("{diagnostics}");
            }
        }
    }
    let vars = parse_vars(&args.vars)?;
    let environment = match &args.env_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let pairs = parse_env_file(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
        }
        None => Map::new(),
    };
    let secrets = parse_secrets(&args.secrets)?;

    let sandbox = super::local_sandbox()?;
    let mut registry = Registry::with_builtins(sandbox.clone(), Grants::local_development());
    let grants = Grants::parse(&args.grants)?;
    for path in &args.plugins {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read plugin {}", path.display()))?;
        let plugin = sandbox.load(&bytes).await.with_context(|| format!("plugin {}", path.display()))?;
        registry.add(plugin, grants.clone());
    }
    for loaded in &flows {
        let mut diagnostics = crate::runner::check_plugins(&loaded.flow, &registry, &loaded.text, &loaded.file);
        diagnostics.extend(crate::runner::check_configs(&loaded.flow, &registry, &loaded.text, &loaded.file).await);
        diagnostics.extend(crate::runner::check_sub_flows(
            &loaded.flow,
            &FileLoader,
            Some(&loaded.file),
            &loaded.text,
            &loaded.file,
        ));
        if !diagnostics.is_empty() {
            diagnostics.sort_by_key(|d| (d.line, d.column));
            invalid += 1;
            eprintln!("{}", crate::flow::Diagnostics(diagnostics));
        }
    }
    if invalid > 0 {
        eprintln!("{invalid} invalid flow file(s); nothing was run");
        return Ok(ExitCode::from(2));
    }
    if !args.tags.is_empty() {
        flows.retain(|l| l.flow.tags.iter().any(|t| args.tags.contains(t)));
    }
    if flows.is_empty() {
        bail!("no flows to run in {}", args.paths.join(", "));
    }

    let runner = Runner::new(Arc::new(registry), Arc::new(FileLoader), RunnerOptions::default());
    let cancel = CancellationToken::new();
    watch_ctrl_c(cancel.clone());
    let progress = progress_bar(flows.len(), args.quiet);
    let started = Instant::now();
    let stop_starting = CancellationToken::new();
    let sources: BTreeMap<String, String> = flows.iter().map(|l| (l.file.clone(), l.text.clone())).collect();

    let results: Vec<RunResult> = futures::stream::iter(flows.iter().enumerate())
        .map(|(index, loaded)| {
            let runner = runner.clone();
            let request = RunRequest {
                run_id: format!("local-{}-{}", std::process::id(), index + 1),
                origin: Some(loaded.file.clone()),
                environment: environment.clone(),
                vars: vars.clone(),
                secrets: secrets.clone(),
                allow_process_env: true,
                cancel: cancel.child_token(),
            };
            let progress = progress.clone();
            let stop_starting = stop_starting.clone();
            let quiet = args.quiet;
            let fail_fast = args.fail_fast;
            let sources = &sources;
            async move {
                if stop_starting.is_cancelled() {
                    return None;
                }
                let sink = ProgressSink { progress: progress.clone() };
                let result = runner.run(&loaded.flow, request, &sink).await;
                let line = report::terminal::run_line(&result, color);
                let read = |file: Option<&str>| -> Option<String> {
                    match file {
                        None => Some(loaded.text.clone()),
                        Some(other) => sources.get(other).cloned().or_else(|| std::fs::read_to_string(other).ok()),
                    }
                };
                let failures = report::terminal::failure(&result, &read, color);
                progress.suspend(|| {
                    if !quiet || result.status != RunStatus::Passed {
                        eprintln!("{line}");
                    }
                    if !failures.is_empty() {
                        eprintln!("{failures}");
                    }
                });
                progress.inc(1);
                if fail_fast && result.status != RunStatus::Passed {
                    stop_starting.cancel();
                }
                Some(result)
            }
        })
        .buffered(args.jobs.max(1))
        .filter_map(|r| async move { r })
        .collect()
        .await;
    progress.finish_and_clear();

    eprintln!("{}", report::terminal::summary(&results, started.elapsed(), color));
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(&results)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        std::fs::write(path, report::json(&results)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(dir) = &args.html {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let index =
            report::html(&results, dir).with_context(|| format!("cannot write the report in {}", dir.display()))?;
        eprintln!("HTML report: {}", index.display());
    }
    let all_passed = results.len() == flows.len() && results.iter().all(|r| r.status == RunStatus::Passed);
    Ok(if all_passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Files named, flow files under directories named, and files matching glob patterns, each once,
/// in the order given (directories and globs sorted).
fn expand(paths: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.contains(['*', '?', '[']) && !std::path::Path::new(path).exists() {
            let mut matched: Vec<PathBuf> = glob::glob(path)
                .with_context(|| format!("bad glob pattern `{path}`"))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            matched.sort();
            if matched.is_empty() {
                bail!("`{path}` matches no file");
            }
            files.extend(matched);
        } else {
            files.extend(collect(&[PathBuf::from(path)])?);
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    if files.is_empty() {
        bail!("no flow files (*.yaml, *.yml, *.json) in {}", paths.join(", "));
    }
    Ok(files)
}

/// `NAME=VALUE` pairs; a value that parses as JSON (a number, `true`, a list…) keeps that type,
/// except strings, which are taken as written (`--var NAME=alice` and `--var 'NAME="alice"'`
/// differ only in the quotes).
pub(crate) fn parse_vars(pairs: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut vars = Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--var `{pair}` is not NAME=VALUE");
        };
        let typed = match serde_json::from_str::<Value>(value) {
            Ok(Value::String(_)) | Err(_) => Value::String(value.to_string()),
            Ok(other) => other,
        };
        vars.insert(name.trim().to_string(), typed);
    }
    Ok(vars)
}

fn parse_secrets(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut secrets = BTreeMap::new();
    for item in items {
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => {
                let value = std::env::var(item)
                    .with_context(|| format!("--secret {item}: the environment variable {item} is not set"))?;
                (item.clone(), value)
            }
        };
        secrets.insert(name, value);
    }
    Ok(secrets)
}

fn progress_bar(flows: usize, quiet: bool) -> ProgressBar {
    if flows < 2 || quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(flows as u64);
    let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} flows {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Shows the step in progress on the progress bar.
struct ProgressSink {
    progress: ProgressBar,
}

impl EventSink for ProgressSink {
    fn event(&self, event: RunEvent<'_>) {
        if let RunEvent::StepStarted { path, .. } = event
            && !self.progress.is_hidden()
        {
            self.progress.set_message(path.to_string());
        }
    }
}

fn watch_ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("cancelling: running teardown (Ctrl-C again to quit at once)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}
