//! `testmesh key create|list|revoke`: API keys, through the server (`TESTMESH_URL` and an admin
//! `TESTMESH_API_KEY`), or — for `create` without a key, e.g. to make the first admin key of a
//! server set up by a script, or to recover a lost one — straight in the server's database.

use super::client::{Body, Client, ServerArgs, segment};
use crate::storage::{NewKey, Role};
use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use std::process::ExitCode;

/// Key subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a key and print it (only the key, on standard output, so that scripts can capture it).
    Create {
        /// viewer, runner (what CI needs), editor or admin.
        #[arg(long)]
        role: Role,
        /// Who or what uses it.
        #[arg(long, default_value = "")]
        description: String,
        /// The key stops working after this many days.
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        /// Make it in this database instead of through the server (default with no API key: the
        /// server's database, `DATABASE_URL` or the SQLite file in the data directory).
        #[arg(long)]
        database_url: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the keys (ids, roles, expiry; never secrets).
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke a key: it stops working at once.
    Revoke {
        /// The key's id (the middle part of `tm_<id>_<secret>`).
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Role::Viewer, Role::Runner, Role::Editor, Role::Admin]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

pub(crate) async fn run(command: KeyCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeyCommand::Create { role, description, expires_in_days, database_url, server } => {
            let expires_at = expires_in_days.map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
            let direct = database_url.is_some() || server.api_key.is_none();
            let key = if direct {
                let url = database_url.or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()));
                let url = url.unwrap_or_else(|| crate::server::ServerConfig::new(super::data_dir()).database_url());
                let store = crate::storage::open(&url).await.context("cannot open the server's database")?;
                let (record, key) = store.create_api_key(NewKey { role, description, expires_at }).await?;
                store
                    .audit(crate::storage::AuditEntry {
                        actor_key_id: None,
                        action: "key.create".into(),
                        target: record.id.clone(),
                        detail: json!({"role": role.as_str(), "through": "database"}),
                    })
                    .await?;
                eprintln!("made a {role} key ({}) in the database; it is shown this once", record.id);
                key
            } else {
                let client = Client::new(&server)?;
                let body = json!({"role": role.as_str(), "description": description, "expires_at": expires_at});
                let reply = client.expect(Method::POST, "/keys", Body::Json(body)).await?;
                eprintln!("made a {role} key ({}); it is shown this once", reply.body["id"].as_str().unwrap_or(""));
                reply.body["key"].as_str().unwrap_or_default().to_string()
            };
            println!("{key}");
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::List { server } => {
            let client = Client::new(&server)?;
            let page = client.expect(Method::GET, "/keys?limit=500", Body::None).await?.body;
            for key in page["items"].as_array().into_iter().flatten() {
                let state = if key["revoked_at"].is_string() { "revoked" } else { "active" };
                println!(
                    "{}  {:<7} {:<8} {}",
                    key["id"].as_str().unwrap_or(""),
                    key["role"].as_str().unwrap_or(""),
                    state,
                    key["description"].as_str().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::Revoke { id, server } => {
            let client = Client::new(&server)?;
            client.expect(Method::DELETE, &format!("/keys/{}", segment(&id)), Body::None).await?;
            println!("revoked {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
