//! The real `testmesh serve` binary on a random port, for end-to-end tests of the API: on SQLite (a
//! file in a temporary data directory) or on PostgreSQL (a fresh database), with the embedded
//! workers; plus a small HTTP client that speaks to it with a key.

use super::TestDatabase;
use reqwest::Method;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: a SQLite file and the in-process queue.
    Sqlite,
    /// A fresh PostgreSQL database (and the in-process queue).
    Postgres,
    /// A fresh PostgreSQL database and Redis Streams: the distributed set-up.
    PostgresRedis,
}

/// A running server process, killed when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The admin key it printed on its first start.
    pub admin_key: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The database URL, to start another server on the same data.
    pub database_url: Option<String>,
    /// The Redis URL and the stream of this server's jobs, for workers of the same deployment.
    pub redis: Option<(String, String)>,
    _data: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

/// Where all test servers keep precompiled plugins, so that only the first start compiles them.
fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("server-component-cache")
}

impl TestServer {
    /// A server on `backend` with default options; `None` when the backend's service is down
    /// (and not required).
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, &[]).await
    }

    /// A server on `backend` with extra `serve` arguments.
    pub async fn start_with(backend: Backend, args: &[&str]) -> Option<TestServer> {
        let dir = tempfile::tempdir().expect("data dir");
        let (database, redis) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => (Some(TestDatabase::create().await?), None),
            Backend::PostgresRedis => (Some(TestDatabase::create().await?), Some(super::redis_url().await?)),
        };
        let database_url = database.as_ref().map(|d| d.url.clone());
        let mut server = Self::spawn(dir.path().to_path_buf(), database_url.clone(), redis, args, true);
        server._data = Some(dir);
        server._database = database;
        Some(server)
    }

    /// Starts the binary; when `expect_key`, waits for the first-start admin key too.
    pub fn spawn(
        data_dir: PathBuf,
        database_url: Option<String>,
        redis_url: Option<String>,
        args: &[&str],
        expect_key: bool,
    ) -> TestServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_testmesh"));
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(if args.contains(&"--workers") { &[][..] } else { &["--workers", "4"][..] })
            .args(args)
            .env("TESTMESH_DATA_DIR", &data_dir)
            .env("TESTMESH_CACHE_DIR", shared_cache())
            .env("TESTMESH_LOG", "warn")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &database_url {
            command.env("DATABASE_URL", url);
        }
        // A stream of its own, so that parallel tests do not take each other's jobs.
        let redis = redis_url.map(|url| (url, format!("testmesh:test:{}", uuid::Uuid::new_v4().simple())));
        if let Some((url, stream)) = &redis {
            command.env("REDIS_URL", url);
            command.env("TESTMESH_REDIS_STREAM", stream);
        }
        let mut child = command.spawn().expect("testmesh serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut url = None;
        let mut admin_key = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        while std::time::Instant::now() < deadline {
            let wait = if url.is_some() { Duration::from_millis(300) } else { Duration::from_secs(1) };
            match lines.recv_timeout(wait) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        url = rest.split_whitespace().next().map(str::to_string);
                    }
                    let trimmed = line.trim();
                    if trimmed.starts_with("tm_") {
                        admin_key = trimmed.to_string();
                    }
                    if url.is_some() && (!admin_key.is_empty() || !expect_key) {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) if url.is_some() && !expect_key => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("testmesh serve exited before it listened"),
            }
        }
        let url = url.expect("testmesh serve printed where it listens");
        TestServer { url, admin_key, data_dir, child, lines, database_url, redis, _data: None, _database: None }
    }

    /// Starts a `testmesh worker` process of this server's deployment (PostgreSQL + Redis); killed
    /// when the returned child is dropped by the caller.
    pub fn spawn_worker(&self) -> Child {
        let (redis, stream) = self.redis.clone().expect("a server on Redis");
        Command::new(env!("CARGO_BIN_EXE_testmesh"))
            .args(["worker", "--concurrency", "4"])
            .env("DATABASE_URL", self.database_url.as_deref().expect("a server on PostgreSQL"))
            .env("REDIS_URL", redis)
            .env("TESTMESH_REDIS_STREAM", stream)
            .env("TESTMESH_DATA_DIR", &self.data_dir)
            .env("TESTMESH_CACHE_DIR", shared_cache())
            .env("TESTMESH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("testmesh worker starts")
    }

    /// Lines the server printed on stdout since it started listening.
    pub fn printed(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// A client with the admin key.
    pub fn admin(&self) -> Api {
        self.client(Some(&self.admin_key))
    }

    /// A client with `key` (or none).
    pub fn client(&self, key: Option<&str>) -> Api {
        Api::new(&self.url, key)
    }

    /// A client with an admin key made by another server on the same data.
    pub fn admin_with(&self, key: &str) -> Api {
        Api::new(&self.url, Some(key))
    }

    /// Stops the server (SIGTERM first, so that it shuts down cleanly) and waits for it.
    pub fn stop(&mut self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            for _ in 0..100 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status, headers, body as text and as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// The `Content-Type` without parameters.
    pub fn media_type(&self) -> String {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default()
    }
}

/// A client of the test server's API (paths are under `/api/v1`).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

/// A request body.
pub enum Body {
    /// No body.
    None,
    /// `application/json`.
    Json(Value),
    /// Raw bytes with a content type.
    Raw(&'static str, Vec<u8>),
}

impl Api {
    /// A client of `base` authenticating with `key`.
    pub fn new(base: &str, key: Option<&str>) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
        Api { http, base: base.to_string(), key: key.map(str::to_string) }
    }

    /// The server's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The key it sends.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Sends `method path` (under `/api/v1` unless the path is absolute from the root: `/health`).
    pub async fn call(&self, method: Method, path: &str, body: Body) -> Reply {
        self.send(method, path, body, &[]).await
    }

    /// [`call`](Self::call) with extra headers.
    pub async fn send(&self, method: Method, path: &str, body: Body, headers: &[(&str, &str)]) -> Reply {
        let url = if path.starts_with("/api/")
            || path.starts_with("/health")
            || path.starts_with("/ready")
            || path.starts_with("/metrics")
        {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/v1{path}", self.base)
        };
        let mut request = self.http.request(method, url);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Raw(content_type, bytes) => request.header("content-type", content_type).body(bytes),
        };
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Body::None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Body::Json(body)).await
    }

    pub async fn post_yaml(&self, path: &str, yaml: &str) -> Reply {
        self.call(Method::POST, path, Body::Raw("application/yaml", yaml.as_bytes().to_vec())).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, Body::None).await
    }

    /// Makes a key with `role` and returns it.
    pub async fn make_key(&self, role: &str) -> String {
        let reply = self.post("/keys", serde_json::json!({"role": role, "description": "test"})).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json["key"].as_str().expect("key").to_string()
    }
}
