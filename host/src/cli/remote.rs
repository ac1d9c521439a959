//! The commands that drive a server (`TESTMESH_URL`, `TESTMESH_API_KEY`): `remote run` for CI
//! (exit code 0 when the run passed, 1 when not), `flow push|list|validate`, `plugin install`, and
//! `key create|list|revoke`.

use super::client::{Body, Client, ServerArgs, problem_text, segment};
use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `testmesh remote …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum RemoteCommand {
    /// Start a run on the server — of a stored flow (name or id), or of a local flow file sent
    /// inline — and with --wait, wait for it and exit 0 if it passed, 1 if not.
    Run(RemoteRunArgs),
}

/// Options of `testmesh remote run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RemoteRunArgs {
    /// A stored flow's name or id, or a flow file (sent inline, not stored).
    flow: String,
    /// A run variable (`NAME=VALUE`; JSON values keep their type). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// The stored environment to run with.
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// The stored flow version to run (default: the current one).
    #[arg(long)]
    version: Option<i64>,
    /// Wait for the run to finish; the exit code says whether it passed.
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this many seconds (exit code 1).
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    /// Write the run's JUnit XML report here (with --wait).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the run's JSON report here (with --wait).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

pub(crate) async fn run(command: RemoteCommand) -> anyhow::Result<ExitCode> {
    match command {
        RemoteCommand::Run(args) => remote_run(args).await,
    }
}

async fn remote_run(args: RemoteRunArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.server)?;
    let vars = super::run::parse_vars(&args.vars)?;
    let first_wait = if args.wait { args.timeout.min(300) } else { 0 };
    let file = PathBuf::from(&args.flow);
    let reply = if file.is_file() {
        let source = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let body = json!({"flow": source, "vars": vars, "environment": args.environment});
        client.send(Method::POST, &format!("/runs?wait={first_wait}"), Body::Json(body)).await?
    } else {
        let body = json!({"vars": vars, "environment": args.environment, "version": args.version});
        let path = format!("/flows/{}/runs?wait={first_wait}", segment(&args.flow));
        client.send(Method::POST, &path, Body::Json(body)).await?
    };
    if !reply.status.is_success() {
        eprintln!("error: {}", problem_text(&reply));
        return Ok(ExitCode::from(2));
    }
    let run_id = reply.body["id"].as_str().or_else(|| reply.body["run_id"].as_str()).unwrap_or_default().to_string();
    if !args.wait {
        println!("{run_id} {}", reply.body["status"].as_str().unwrap_or("queued"));
        return Ok(ExitCode::SUCCESS);
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut run = reply.body;
    while reply.status == StatusCode::ACCEPTED && matches!(run["status"].as_str(), Some("queued" | "running") | None) {
        if Instant::now() >= deadline {
            eprintln!("error: run {run_id} did not finish within {} s", args.timeout);
            return Ok(ExitCode::from(1));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        run = client.expect(Method::GET, &format!("/runs/{run_id}"), Body::None).await?.body;
    }
    for (format, file) in [("junit", &args.junit), ("json", &args.json)] {
        if let Some(file) = file {
            let report =
                client.expect(Method::GET, &format!("/runs/{run_id}/report?format={format}"), Body::None).await?;
            std::fs::write(file, report.text).with_context(|| format!("cannot write {}", file.display()))?;
        }
    }
    print_run(&run);
    Ok(if run["status"] == "passed" { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// One line for the run, and a paragraph per failed step.
fn print_run(run: &Value) {
    let status = run["status"].as_str().unwrap_or("?");
    let mark = if status == "passed" { "✓" } else { "✗" };
    let summary = &run["summary"];
    println!(
        "{mark} {} {status}: {} passed, {} failed, {} skipped in {:.0} ms ({})",
        run["flow_name"].as_str().unwrap_or(""),
        summary["passed"],
        summary["failed"],
        summary["skipped"],
        run["duration_ms"].as_f64().unwrap_or(0.0),
        run["id"].as_str().unwrap_or(""),
    );
    if let Some(error) = run["error"].as_str() {
        println!("  {error}");
    }
    for step in run["steps"].as_array().into_iter().flatten() {
        if !matches!(step["status"].as_str(), Some("failed" | "error" | "timeout")) {
            continue;
        }
        let line = step["span"]["line"].as_u64().unwrap_or(0);
        println!(
            "  step {} ({}, line {line}): {}",
            step["path"].as_str().unwrap_or(""),
            step["status"].as_str().unwrap_or(""),
            step["error"].as_str().unwrap_or("")
        );
        for assertion in step["assertions"].as_array().into_iter().flatten().filter(|a| a["passed"] == false) {
            println!("    {}", assertion["message"].as_str().unwrap_or(""));
        }
    }
}

/// `testmesh flow …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum FlowCommand {
    /// Store flow files on the server: new flows are created, changed ones get a new version,
    /// unchanged ones are left alone. Every file is checked by the server first.
    Push {
        /// Flow files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the server's stored flows.
    List {
        /// Only flows with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Only flows of this suite.
        #[arg(long)]
        suite: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Check flow files against the server (its installed plugins and stored flows) without
    /// storing them; exit code 2 when one is invalid.
    Validate {
        /// Flow files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub(crate) async fn flow(command: FlowCommand) -> anyhow::Result<ExitCode> {
    match command {
        FlowCommand::Push { paths, server } => push(&paths, &Client::new(&server)?).await,
        FlowCommand::List { tag, suite, server } => list(tag, suite, &Client::new(&server)?).await,
        FlowCommand::Validate { paths, server } => validate(&paths, &Client::new(&server)?).await,
    }
}

fn content_type(path: &std::path::Path) -> &'static str {
    if path.extension().is_some_and(|e| e == "json") { "application/json" } else { "application/yaml" }
}

async fn push(paths: &[PathBuf], client: &Client) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    for file in super::validate::collect(paths)? {
        let source = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let name = match crate::flow::parse_flow(&source, &file.display().to_string()) {
            Ok(flow) => flow.name,
            Err(diagnostics) => {
                eprintln!("{diagnostics}");
                println!("error {}", file.display());
                failed += 1;
                continue;
            }
        };
        let body = || Body::Bytes(content_type(&file), source.clone().into_bytes());
        let existing = client.send(Method::GET, &format!("/flows/{}", segment(&name)), Body::None).await?;
        let reply = match existing.status {
            StatusCode::OK if existing.body["source"].as_str() == Some(source.as_str()) => {
                println!("same  {} ({name}, version {})", file.display(), existing.body["version"]);
                continue;
            }
            StatusCode::OK => {
                let id = existing.body["id"].as_str().unwrap_or_default();
                client.send(Method::PUT, &format!("/flows/{id}"), body()).await?
            }
            StatusCode::NOT_FOUND => client.send(Method::POST, "/flows", body()).await?,
            _ => bail!("{}", problem_text(&existing)),
        };
        if reply.status.is_success() {
            let verb = if reply.status == StatusCode::CREATED { "new  " } else { "saved" };
            println!(
                "{verb} {} ({name}, {}, version {})",
                file.display(),
                reply.body["id"].as_str().unwrap_or(""),
                reply.body["version"]
            );
        } else {
            eprintln!("{}: {}", file.display(), problem_text(&reply));
            println!("error {}", file.display());
            failed += 1;
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

async fn list(tag: Option<String>, suite: Option<String>, client: &Client) -> anyhow::Result<ExitCode> {
    let mut query = vec!["limit=500".to_string()];
    query.extend(tag.map(|t| format!("tag={}", segment(&t))));
    query.extend(suite.map(|s| format!("suite={}", segment(&s))));
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/flows?{}", query.join("&"));
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = client.expect(Method::GET, &path, Body::None).await?.body;
        for flow in page["items"].as_array().into_iter().flatten() {
            let tags: Vec<&str> = flow["tags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            println!(
                "{}  v{:<3} {}  [{}]",
                flow["id"].as_str().unwrap_or(""),
                flow["version"],
                flow["name"].as_str().unwrap_or(""),
                tags.join(", ")
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn validate(paths: &[PathBuf], client: &Client) -> anyhow::Result<ExitCode> {
    let mut invalid = 0;
    for file in super::validate::collect(paths)? {
        let source = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let reply = client.expect(Method::POST, "/flows/validate", Body::Bytes(content_type(&file), source)).await?;
        if reply.body["valid"] == true {
            println!("ok    {}", file.display());
        } else {
            invalid += 1;
            println!("error {}", file.display());
            for error in reply.body["errors"].as_array().into_iter().flatten() {
                eprintln!(
                    "  {}:{}:{}: {}",
                    file.display(),
                    error["line"],
                    error["column"],
                    error["message"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(if invalid == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// `testmesh plugin install`: uploads a component with its grants.
pub(crate) async fn install_plugin(file: &PathBuf, grants: &[String], server: &ServerArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(server)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let digest = crate::sandbox::digest(&bytes);
    let grants = grants.iter().map(|g| segment(g)).collect::<Vec<_>>().join(",");
    let path = format!("/plugins?sha256={digest}&grants={grants}");
    let reply = client.send(Method::POST, &path, Body::Bytes("application/wasm", bytes)).await?;
    if !reply.status.is_success() {
        eprintln!("error: {}", problem_text(&reply));
        return Ok(ExitCode::from(1));
    }
    let plugin = &reply.body;
    let verb = if plugin["created"] == true { "installed" } else { "already installed (grants updated)" };
    println!(
        "{verb}: {} {} ({}) {}",
        plugin["name"].as_str().unwrap_or(""),
        plugin["version"].as_str().unwrap_or(""),
        plugin["kind"].as_str().unwrap_or(""),
        plugin["digest"].as_str().unwrap_or("")
    );
    for capability in plugin["capabilities"].as_array().into_iter().flatten() {
        let granted = if capability["granted"] == true { "granted" } else { "NOT granted" };
        println!(
            "  asks for {} ({granted}): {}",
            capability["capability"].as_str().unwrap_or(""),
            capability["reason"].as_str().unwrap_or("")
        );
    }
    let grants: Vec<&str> = plugin["grants"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    println!("  grants: {}", if grants.is_empty() { "none".to_string() } else { grants.join(", ") });
    Ok(ExitCode::SUCCESS)
}
