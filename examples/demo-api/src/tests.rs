//! The API over real TCP: each test starts [`serve`] on `127.0.0.1:0` and speaks plain HTTP/1.1 to
//! it, so what is tested is what the flows' `http_request` steps see.

use super::*;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response: status, headers (lower-case names) and the body as JSON (`null` when empty).
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(serve(listener));
    address
}

/// Sends one request with `Connection: close` and reads the whole response.
async fn call(address: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\nx-demo: yes\r\n");
    if let Some(token) = token {
        request.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        request.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(&body);

    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let body = if body.is_empty() { Value::Null } else { serde_json::from_str(body).expect("JSON body") };
    Reply { status, headers, body }
}

#[tokio::test]
async fn health_products_echo_and_slow() {
    let api = start().await;
    let health = call(api, "GET", "/health", None, None).await;
    assert_eq!((health.status, health.body), (200, json!({"status": "ok"})));

    let books = call(api, "GET", "/products?category=books", None, None).await;
    assert_eq!((books.status, books.body["count"].clone()), (200, json!(3)));
    assert!(books.body["items"].as_array().expect("items").iter().all(|p| p["category"] == "books"));
    assert_eq!(call(api, "GET", "/products?category=none", None, None).await.body["count"], 0);
    assert_eq!(call(api, "GET", "/products", None, None).await.body["count"], 6);
    assert_eq!(call(api, "GET", "/products/4", None, None).await.body["name"], "Catan");
    assert_eq!(call(api, "GET", "/products/x", None, None).await.status, 404);

    let echo = call(api, "POST", "/echo?a=0&a=1&b=two", None, Some(json!({"k": [1, 2]}))).await;
    assert_eq!(echo.status, 200);
    assert_eq!(echo.body["method"], "POST");
    assert_eq!(echo.body["query"], json!({"a": "1", "b": "two"}));
    assert_eq!(echo.body["headers"]["x-demo"], "yes");
    assert_eq!(echo.body["body"], json!({"k": [1, 2]}));
    assert_eq!(call(api, "GET", "/echo", None, None).await.body["body"], Value::Null);

    let slow = call(api, "GET", "/slow?ms=20", None, None).await;
    assert_eq!((slow.status, slow.body), (200, json!({"slept_ms": 20})));
    let bad = call(api, "GET", "/slow?ms=soon", None, None).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["error"].is_string(), "{}", bad.body);
}

#[tokio::test]
async fn users_need_a_token_and_go_through_their_life() {
    let api = start().await;
    let denied = call(api, "POST", "/login", None, Some(json!({"username": "alice", "password": "nope"}))).await;
    assert_eq!((denied.status, denied.body), (401, json!({"error": "invalid credentials"})));
    let login = call(api, "POST", "/login", None, Some(json!({"username": "alice", "password": "secret"}))).await;
    assert_eq!((login.status, login.body["user"].clone()), (200, json!("alice")));
    let token = login.body["token"].as_str().expect("token").to_string();
    let token = Some(token.as_str());

    let anonymous = call(api, "GET", "/users", None, None).await;
    assert_eq!((anonymous.status, anonymous.header("www-authenticate")), (401, Some("Bearer")));
    assert_eq!(call(api, "GET", "/users", Some("forged"), None).await.status, 401);

    let alice = json!({"name": "Alice", "email": "alice@example.com"});
    let created = call(api, "POST", "/users", token, Some(alice.clone())).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).map(|u| u.get_version_num()), Ok(4));
    assert_eq!(created.header("location"), Some(format!("/users/{id}").as_str()));
    assert!(created.body["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", created.body);
    assert_eq!(call(api, "POST", "/users", token, Some(alice)).await.status, 409);
    let invalid = call(api, "POST", "/users", token, Some(json!({"name": "Bob", "email": "bob"}))).await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.body["error"].as_str().is_some_and(|e| e.contains('@')), "{}", invalid.body);
    let nameless = call(api, "POST", "/users", token, Some(json!({"email": "x@example.com"}))).await;
    assert_eq!(nameless.status, 422);

    let path = format!("/users/{id}");
    assert_eq!(call(api, "GET", &path, token, None).await.body["email"], "alice@example.com");
    let updated = call(api, "PUT", &path, token, Some(json!({"name": "Alice B."}))).await;
    assert_eq!((updated.status, updated.body["name"].clone()), (200, json!("Alice B.")));
    assert_eq!(updated.body["email"], "alice@example.com");
    let listed = call(api, "GET", "/users", token, None).await;
    assert_eq!((listed.body["count"].clone(), listed.body["items"][0]["id"].clone()), (json!(1), json!(id)));

    let deleted = call(api, "DELETE", &path, token, None).await;
    assert_eq!((deleted.status, deleted.body), (204, Value::Null));
    assert_eq!(call(api, "GET", &path, token, None).await.body, json!({"error": "not found"}));
    assert_eq!(call(api, "DELETE", &path, token, None).await.status, 404);
}

#[tokio::test]
async fn a_job_is_done_after_its_number_of_polls() {
    let api = start().await;
    let created = call(api, "POST", "/jobs", None, Some(json!({"steps": 2}))).await;
    assert_eq!((created.status, created.body["status"].clone()), (202, json!("pending")));
    let path = format!("/jobs/{}", created.body["id"].as_str().expect("id"));
    let first = call(api, "GET", &path, None, None).await;
    assert_eq!((first.body["status"].clone(), first.body.get("result")), (json!("running"), None));
    let second = call(api, "GET", &path, None, None).await;
    assert_eq!(second.body["status"], "done");
    assert_eq!(second.body["result"], json!({"answer": 42}));
    assert_eq!(call(api, "GET", &path, None, None).await.body["polls"], 2);

    let default = call(api, "POST", "/jobs", None, None).await;
    assert_eq!(default.body["steps"], jobs::DEFAULT_STEPS);
    assert_eq!(call(api, "POST", "/jobs", None, Some(json!({"steps": 0}))).await.status, 422);
    assert_eq!(call(api, "GET", "/jobs/nope", None, None).await.status, 404);
}

#[test]
fn timestamps_are_rfc3339_utc() {
    use std::time::Duration;
    assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(Duration::from_millis(951_782_400_123)), "2000-02-29T00:00:00.123Z");
    assert_eq!(rfc3339(Duration::from_secs(1_735_689_599)), "2024-12-31T23:59:59.000Z");
}
