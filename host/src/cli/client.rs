//! The CLI's client of a testmesh server: where it is (`--url` / `TESTMESH_URL`), the key
//! (`--api-key` / `TESTMESH_API_KEY`), and requests whose problem documents become readable errors
//! — an invalid flow's problems with their line and column.

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Where the server is and how to authenticate; flattened into every remote command.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// The server's address.
    #[arg(long = "url", env = "TESTMESH_URL", default_value = "http://127.0.0.1:7070")]
    pub url: String,
    /// The API key (`tm_…`).
    #[arg(long = "api-key", env = "TESTMESH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// A server's answer.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

/// A client of one server.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

/// The body of a request.
pub(crate) enum Body {
    None,
    Json(Value),
    Bytes(&'static str, Vec<u8>),
}

impl Client {
    /// A client for `args`; a key is required unless `anonymous`.
    pub(crate) fn new(args: &ServerArgs) -> anyhow::Result<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("testmesh-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        let base = args.url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            bail!("TESTMESH_URL must start with http:// or https://, not `{base}`");
        }
        Ok(Client { http, base, key: args.api_key.clone().filter(|k| !k.is_empty()) })
    }

    /// Sends `method` to `path` under `/api/v1`; answers of any status come back as a [`Reply`].
    pub(crate) async fn send(&self, method: Method, path: &str, body: Body) -> anyhow::Result<Reply> {
        let Some(key) = &self.key else {
            bail!(
                "no API key: set TESTMESH_API_KEY (or pass --api-key); `testmesh serve` prints one on its first start"
            )
        };
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(key);
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Bytes(content_type, bytes) => request.header("content-type", content_type).body(bytes),
        };
        let response =
            request.send().await.with_context(|| format!("cannot reach the testmesh server at {}", self.base))?;
        let status = response.status();
        let text = response.text().await.context("the server's answer was cut short")?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply { status, body, text })
    }

    /// Like [`send`](Self::send), but a non-2xx answer is an error saying what the server said.
    pub(crate) async fn expect(&self, method: Method, path: &str, body: Body) -> anyhow::Result<Reply> {
        let reply = self.send(method, path, body).await?;
        if !reply.status.is_success() {
            bail!("{}", problem_text(&reply));
        }
        Ok(reply)
    }
}

/// A problem document said for people: the detail, then each error with its place.
pub(crate) fn problem_text(reply: &Reply) -> String {
    let detail = reply.body["detail"].as_str().map(str::to_string).unwrap_or_else(|| reply.text.trim().to_string());
    let mut text = format!("{} ({})", detail, reply.status);
    if let Some(errors) = reply.body["errors"].as_array() {
        for error in errors {
            let place = match (error["line"].as_u64(), error["column"].as_u64()) {
                (Some(line), Some(column)) => format!("{line}:{column}"),
                _ => String::new(),
            };
            let path = error["path"].as_str().unwrap_or_default();
            text.push_str(&format!("\n  {place} {path}: {}", error["message"].as_str().unwrap_or_default()));
        }
    }
    text
}

/// A path segment, percent-encoded (flow names may hold spaces and slashes).
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
