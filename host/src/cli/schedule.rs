//! `testmesh schedule create|list|delete|trigger`: cron schedules on a server.

use super::client::{Body, Client, ServerArgs, segment};
use reqwest::Method;
use serde_json::json;
use std::process::ExitCode;

/// Schedule subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Schedule a stored flow: `--cron "0 3 * * *" --timezone Europe/Paris`.
    Create {
        /// The stored flow (name or id).
        #[arg(long)]
        flow: String,
        /// Five-field cron expression, or @hourly/@daily/@weekly/@monthly.
        #[arg(long)]
        cron: String,
        /// IANA time zone the expression is read in.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// A run variable (`NAME=VALUE`). Repeatable.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// The stored environment of the runs.
        #[arg(long)]
        environment: Option<String>,
        /// While an earlier run is unfinished: allow, forbid (skip the fire) or replace.
        #[arg(long, default_value = "forbid")]
        overlap: String,
        /// Missed fire times: latest, all or none.
        #[arg(long, default_value = "latest")]
        catch_up: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the schedules with their next fire time.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a schedule (its runs stay).
    Delete {
        /// The schedule's id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Fire a schedule now; prints the run's id.
    Trigger {
        /// The schedule's id.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub(crate) async fn run(command: ScheduleCommand) -> anyhow::Result<ExitCode> {
    match command {
        ScheduleCommand::Create { flow, cron, timezone, vars, environment, overlap, catch_up, server } => {
            let client = Client::new(&server)?;
            let body = json!({
                "flow_id": flow,
                "cron": cron,
                "timezone": timezone,
                "vars": super::run::parse_vars(&vars)?,
                "environment": environment,
                "overlap": overlap,
                "catch_up": catch_up,
            });
            let reply = client.expect(Method::POST, "/schedules", Body::Json(body)).await?;
            println!(
                "{}  next {}",
                reply.body["id"].as_str().unwrap_or(""),
                reply.body["next_fire_at"].as_str().unwrap_or("never")
            );
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::List { server } => {
            let client = Client::new(&server)?;
            let page = client.expect(Method::GET, "/schedules?limit=500", Body::None).await?.body;
            for schedule in page["items"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<16} {:<14} {}  next {}",
                    schedule["id"].as_str().unwrap_or(""),
                    schedule["cron"].as_str().unwrap_or(""),
                    schedule["timezone"].as_str().unwrap_or(""),
                    schedule["flow_id"].as_str().unwrap_or(""),
                    schedule["next_fire_at"].as_str().unwrap_or("never (disabled)")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Delete { id, server } => {
            Client::new(&server)?.expect(Method::DELETE, &format!("/schedules/{}", segment(&id)), Body::None).await?;
            println!("deleted {id}");
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Trigger { id, server } => {
            let path = format!("/schedules/{}/trigger", segment(&id));
            let reply = Client::new(&server)?.expect(Method::POST, &path, Body::None).await?;
            println!("{}", reply.body["run_id"].as_str().unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
    }
}
