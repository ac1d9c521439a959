//! The built-in `database_query` action, run in the real sandbox against a real PostgreSQL (a fresh
//! database per test) and real SQLite files: statements with positional parameters, rows and their
//! JSON types, counts, errors, `max_rows`, and grants.

mod common;

use common::{TestDatabase, grants, load, run, sandbox};
use serde_json::{Value, json};
use std::sync::Arc;
use testmesh::sandbox::{CallError, CallOptions, Grants, Plugin, Sandbox, Session};

/// The plugin, a session and the grants of one test, bound to one connection URL.
struct Db {
    connection: String,
    _sandbox: Sandbox,
    plugin: Arc<Plugin>,
    session: Session,
    grants: Arc<Grants>,
}

impl Db {
    async fn new(connection: String, grant: &str) -> Db {
        let sandbox = sandbox();
        let plugin = load(&sandbox, "database_query").await;
        let session = sandbox.session();
        Db { connection, _sandbox: sandbox, plugin, session, grants: grants(&[grant]) }
    }

    async fn postgres(database: &TestDatabase) -> Db {
        Db::new(database.url.clone(), "sql:postgres://*").await
    }

    async fn call(&self, query: &str, params: Value) -> Result<Value, CallError> {
        let config = json!({"connection": self.connection, "query": query, "params": params});
        run(&self.session, &self.plugin, &self.grants, config, &CallOptions::default()).await.result
    }

    async fn ok(&self, query: &str, params: Value) -> Value {
        self.call(query, params).await.unwrap_or_else(|e| panic!("{query}: {e}"))
    }
}

#[tokio::test]
async fn create_insert_and_select_round_trip_on_postgres() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    let created = db
        .ok("CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text, active bool)", json!([]))
        .await;
    assert_eq!(created["query_type"], "other");
    assert_eq!((created["row_count"].clone(), created["rows_affected"].clone()), (json!(0), json!(0)));

    let inserted = db
        .ok("INSERT INTO users (name, email, active) VALUES ($1, $2, $3)", json!(["alice", "alice@example.com", true]))
        .await;
    assert_eq!(inserted["rows_affected"], 1);
    assert_eq!(inserted["query_type"], "insert");
    assert_eq!(inserted["rows"], json!([]));
    assert_eq!(inserted["first_row"], Value::Null);

    let returning = db
        .ok(
            "INSERT INTO users (name, email, active) VALUES ($1, $2, $3) RETURNING id, name",
            json!(["bob", null, false]),
        )
        .await;
    assert_eq!(returning["rows"], json!([{"id": 2, "name": "bob"}]));
    assert_eq!(returning["rows_affected"], 1);

    let selected = db.ok("SELECT id, name, email, active FROM users ORDER BY id", json!([])).await;
    assert_eq!(
        selected["rows"],
        json!([
            {"id": 1, "name": "alice", "email": "alice@example.com", "active": true},
            {"id": 2, "name": "bob", "email": null, "active": false}
        ])
    );
    assert_eq!(selected["row_count"], 2);
    assert_eq!(selected["first_row"], json!({"id": 1, "name": "alice", "email": "alice@example.com", "active": true}));
    assert_eq!(selected["query_type"], "select");
    assert_eq!(selected["truncated"], false);

    let filtered = db.ok("SELECT name FROM users WHERE id = $1 AND active = $2", json!([1, true])).await;
    assert_eq!(filtered["rows"], json!([{"name": "alice"}]));
    let none = db.ok("SELECT name FROM users WHERE name = $1", json!(["nobody"])).await;
    assert_eq!((none["row_count"].clone(), none["first_row"].clone()), (json!(0), Value::Null));
}

#[tokio::test]
async fn update_and_delete_report_rows_affected() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    db.ok("CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)", json!([])).await;
    let inserted = db.ok("INSERT INTO items SELECT n, n * 10 FROM generate_series(1, 5) AS n", json!([])).await;
    assert_eq!(inserted["rows_affected"], 5);

    let updated = db.ok("UPDATE items SET qty = qty + $1 WHERE id <= $2", json!([1, 3])).await;
    assert_eq!((updated["rows_affected"].clone(), updated["query_type"].clone()), (json!(3), json!("update")));
    let deleted = db.ok("DELETE FROM items WHERE qty > $1", json!([30])).await;
    assert_eq!((deleted["rows_affected"].clone(), deleted["query_type"].clone()), (json!(3), json!("delete")));
    let nothing = db.ok("DELETE FROM items WHERE id = $1", json!([99])).await;
    assert_eq!(nothing["rows_affected"], 0);

    let left = db.ok("SELECT id, qty FROM items ORDER BY id", json!([])).await;
    assert_eq!(left["rows"], json!([{"id": 1, "qty": 11}, {"id": 2, "qty": 21}]));
}

#[tokio::test]
async fn postgres_column_types_become_natural_json() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    let output = db
        .ok(
            "SELECT 42::int AS int, 9007199254740993::bigint AS big, 7::smallint AS small, 12.50::numeric AS price,
                    100::numeric AS whole, 2.5::float8 AS ratio, 'héllo'::text AS text, 'v'::varchar(4) AS short,
                    true AS yes, false AS no, '{\"a\": [1, 2], \"b\": null}'::jsonb AS doc, '[1]'::json AS list,
                    '2024-05-01 12:30:00+02'::timestamptz AS at, '2024-05-01'::date AS day,
                    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, NULL::text AS nothing, NULL::int AS no_int,
                    ARRAY['x', 'y']::text[] AS tags, ARRAY[1, 2]::int[] AS numbers",
            json!([]),
        )
        .await;
    assert_eq!(
        output["first_row"],
        json!({
            "int": 42, "big": 9_007_199_254_740_993_i64, "small": 7, "price": 12.5, "whole": 100, "ratio": 2.5,
            "text": "héllo", "short": "v", "yes": true, "no": false,
            "doc": {"a": [1, 2], "b": null}, "list": [1],
            "at": "2024-05-01T10:30:00+00:00", "day": "2024-05-01",
            "id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "nothing": null, "no_int": null,
            "tags": ["x", "y"], "numbers": [1, 2]
        })
    );
}

#[tokio::test]
async fn parameters_of_every_json_type_are_stored_in_typed_columns() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    db.ok(
        "CREATE TABLE events (id bigint, amount numeric, label text, ok bool, payload jsonb, at timestamptz, ref uuid,
                              note text, count int)",
        json!([]),
    )
    .await;
    let inserted = db
        .ok(
            "INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7::uuid, $8, $9)",
            json!([
                9_007_199_254_740_993_i64,
                19.99,
                "order \"42\"",
                true,
                {"items": [{"sku": "A-1", "qty": 2}]},
                "2024-05-01T10:30:00Z",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                null,
                null
            ]),
        )
        .await;
    assert_eq!(inserted["rows_affected"], 1);
    let row = db.ok("SELECT * FROM events", json!([])).await["first_row"].clone();
    assert_eq!(
        row,
        json!({
            "id": 9_007_199_254_740_993_i64, "amount": 19.99, "label": "order \"42\"", "ok": true,
            "payload": {"items": [{"sku": "A-1", "qty": 2}]}, "at": "2024-05-01T10:30:00+00:00",
            "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "note": null, "count": null
        })
    );
    let found = db.ok("SELECT label FROM events WHERE payload @> $1", json!([{"items": [{"sku": "A-1"}]}])).await;
    assert_eq!(found["rows"], json!([{"label": "order \"42\""}]));
}

#[tokio::test]
async fn sql_error_fails_the_call_with_the_database_message() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    let error = db.call("SELECT * FROM no_such_table", json!([])).await.expect_err("missing table");
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("query failed") && text.contains("relation \"no_such_table\" does not exist"), "{text}");
    assert!(text.contains("statement `SELECT * FROM no_such_table`"), "{text}");
    assert!(text.contains(&format!("connection {}", database.url)), "{text}");

    let error = db.call("SELECT $1::int", json!(["not a number"])).await.expect_err("bad parameter");
    assert!(error.to_string().contains("invalid input syntax for type integer"), "{error}");

    // The session goes on working after a failed statement.
    assert_eq!(db.ok("SELECT 1 AS one", json!([])).await["rows"], json!([{"one": 1}]));
}

#[tokio::test]
async fn max_rows_keeps_the_first_rows_and_marks_the_output_truncated() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    let config = json!({
        "connection": db.connection,
        "query": "SELECT n FROM generate_series(1, 10) AS n ORDER BY n",
        "max_rows": 3
    });
    let output = run(&db.session, &db.plugin, &db.grants, config, &CallOptions::default()).await.result.expect("runs");
    assert_eq!(output["rows"], json!([{"n": 1}, {"n": 2}, {"n": 3}]));
    assert_eq!((output["row_count"].clone(), output["truncated"].clone()), (json!(3), json!(true)));
    assert_eq!(output["first_row"], json!({"n": 1}));

    let config = json!({"connection": db.connection, "query": "SELECT 1 AS n", "max_rows": 3});
    let output = run(&db.session, &db.plugin, &db.grants, config, &CallOptions::default()).await.result.expect("runs");
    assert_eq!((output["row_count"].clone(), output["truncated"].clone()), (json!(1), json!(false)));
}

#[tokio::test]
async fn testmesh_connection_string_spelling_works() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    let config = json!({"connection_string": database.url, "query": "SELECT $1::text AS greeting", "params": ["hi"]});
    let output = run(&db.session, &db.plugin, &db.grants, config, &CallOptions::default()).await.result.expect("runs");
    assert_eq!(output["rows"], json!([{"greeting": "hi"}]));
}

#[tokio::test]
async fn sqlite_file_database_round_trip() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("app.db");
    let db = Db::new(format!("sqlite://{}?mode=rwc", path.display()), "sql:sqlite:*").await;

    db.ok(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, score REAL, body BLOB, done INTEGER)",
        json!([]),
    )
    .await;
    assert!(path.is_file(), "mode=rwc creates the file at {}", path.display());
    let inserted = db
        .ok(
            "INSERT INTO notes (title, score, body, done) VALUES (?, ?, ?, ?), (?, ?, NULL, ?)",
            json!(["first", 1.5, "raw", true, "second", 7, false]),
        )
        .await;
    assert_eq!(inserted["rows_affected"], 2);
    assert_eq!(inserted["query_type"], "insert");

    let selected = db.ok("SELECT id, title, score, body, done FROM notes ORDER BY id", json!([])).await;
    assert_eq!(
        selected["rows"],
        json!([
            {"id": 1, "title": "first", "score": 1.5, "body": "raw", "done": 1},
            {"id": 2, "title": "second", "score": 7.0, "body": null, "done": 0}
        ])
    );
    assert_eq!(selected["row_count"], 2);

    let updated = db.ok("UPDATE notes SET done = ?1 WHERE title = ?2", json!([true, "second"])).await;
    assert_eq!(updated["rows_affected"], 1);
    let deleted = db.ok("DELETE FROM notes WHERE done = 1", json!([])).await;
    assert_eq!(deleted["rows_affected"], 2);
    let blob = db.ok("SELECT x'00ff10' AS bytes, NULL AS missing, 2 + 2 AS four", json!([])).await;
    assert_eq!(blob["first_row"], json!({"bytes": "AP8Q", "missing": null, "four": 4}));

    let mut seen = Vec::new();
    for param in [json!("5"), json!(5), json!(2.5), json!(true), json!(null)] {
        seen.push(db.ok("SELECT ? AS v", json!([param])).await["first_row"]["v"].clone());
    }
    assert_eq!(seen, [json!("5"), json!(5), json!(2.5), json!(1), json!(null)]);

    let error = db.call("SELECT * FROM missing", json!([])).await.expect_err("missing table");
    assert!(error.to_string().contains("no such table: missing"), "{error}");
}

#[tokio::test]
async fn sql_without_a_grant_is_denied_naming_the_connection_without_its_password() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "database_query").await;
    let config = json!({"connection": "postgres://app:s3cret-pw@127.0.0.1:5432/orders", "query": "SELECT 1"});
    let report =
        run(&sandbox.session(), &plugin, &grants(&["redis:*", "sql:sqlite:*"]), config, &CallOptions::default()).await;
    let error = report.result.expect_err("not granted");
    assert!(matches!(error, CallError::Failed(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("sql on postgres://127.0.0.1:5432/orders is not granted to plugin database_query@0.1.0"),
        "{text}"
    );
    assert!(text.contains("connection postgres://app:***@127.0.0.1:5432/orders"), "{text}");
    assert!(!text.contains("s3cret-pw"), "the password leaked: {text}");
    assert!(report.logs.iter().all(|l| !l.message.contains("s3cret-pw")), "the password leaked into the log");
}

#[tokio::test]
async fn invalid_config_points_at_the_field() {
    let sandbox = sandbox();
    let plugin = load(&sandbox, "database_query").await;
    let session = sandbox.session();
    let cases = [
        (json!({"query": "SELECT 1"}), "", "connection"),
        (json!({"connection": " ", "query": "SELECT 1"}), "/connection", "empty connection"),
        (json!({"connection": "sqlite::memory:", "query": "  "}), "/query", "empty query"),
        (json!({"connection": "sqlite::memory:", "query": "SELECT 1", "params": {"a": 1}}), "/params", "sequence"),
        (json!({"connection": "sqlite::memory:", "query": "SELECT 1", "max_rows": -1}), "/max_rows", "invalid value"),
    ];
    for (config, expected_path, expected_text) in cases {
        let description = config.to_string();
        match run(&session, &plugin, &grants(&["sql:*"]), config, &CallOptions::default()).await.result {
            Err(CallError::InvalidConfig { path, message }) => {
                assert_eq!(path, expected_path, "{description}");
                assert!(message.contains(expected_text), "{description}: {message}");
            }
            other => panic!("{description}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_same_statement_runs_with_parameters_of_different_json_types() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    let mut seen = Vec::new();
    for param in [json!("5"), json!(5), json!(null), json!(2.5), json!(true)] {
        let output = db.ok("SELECT $1::text AS v", json!([param])).await;
        seen.push(output["first_row"]["v"].clone());
    }
    assert_eq!(seen, [json!("5"), json!("5"), json!(null), json!("2.5"), json!("true")]);
}

#[tokio::test]
async fn null_parameters_fit_columns_of_any_type() {
    let Some(database) = TestDatabase::create().await else { return };
    let db = Db::postgres(&database).await;
    db.ok("CREATE TABLE people (name text, manager_id int, salary numeric, hired timestamptz, extra jsonb)", json!([]))
        .await;
    // A data-driven insert, as a for_each over fixtures does it: some values are null, some are not.
    let rows = [
        json!(["ann", null, null, null, null]),
        json!(["bob", 1, 1000.5, null, {"k": 1}]),
        json!(["cy", null, 7, null, null]),
    ];
    for params in rows {
        let output = db.ok("INSERT INTO people VALUES ($1, $2, $3, $4, $5)", params).await;
        assert_eq!(output["rows_affected"], 1);
    }
    let output = db.ok("SELECT name, manager_id, salary, extra FROM people ORDER BY name", json!([])).await;
    assert_eq!(
        output["rows"],
        json!([
            {"name": "ann", "manager_id": null, "salary": null, "extra": null},
            {"name": "bob", "manager_id": 1, "salary": 1000.5, "extra": {"k": 1}},
            {"name": "cy", "manager_id": null, "salary": 7, "extra": null}
        ])
    );
}
