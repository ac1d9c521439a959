//! The CLI's server commands through the real binary, against a real `testmesh serve`: CI's
//! `remote run --wait --junit` (exit codes 0 and 1), `flow push|list|validate`, `plugin install`,
//! and `key create` both through the server and straight in its database.

mod common;

use common::server::{Backend, TestServer};
use std::path::Path;
use std::process::{Command, Output};

fn testmesh(server: &TestServer, key: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testmesh"))
        .args(args)
        .env("TESTMESH_URL", &server.url)
        .env("TESTMESH_API_KEY", key)
        .env("TESTMESH_DATA_DIR", &server.data_dir)
        .output()
        .expect("testmesh runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_pushes_flows_runs_them_remotely_and_reads_junit() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let dir = tempfile::tempdir().expect("dir");
    let good = write(
        dir.path(),
        "good.yaml",
        "name: remote good\ntags: [ci]\nsteps:\n  - { id: a, action: log, config: { message: \"hi ${WHO}\" }, assert: [ message == \"hi ci\" ] }\n",
    );
    let bad = write(
        dir.path(),
        "bad.yaml",
        "name: remote bad\nsteps:\n  - { id: a, action: log, config: { message: x }, assert: [ message == \"y\" ] }\n",
    );
    let key = server.admin_key.clone();

    let pushed = tokio::task::spawn_blocking({
        let (good, bad, key) = (good.clone(), bad.clone(), key.clone());
        let server_url = server.url.clone();
        let data = server.data_dir.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_testmesh"))
                .args(["flow", "push", &good, &bad])
                .env("TESTMESH_URL", server_url)
                .env("TESTMESH_API_KEY", key)
                .env("TESTMESH_DATA_DIR", data)
                .output()
                .expect("push")
        }
    })
    .await
    .expect("join");
    assert!(pushed.status.success(), "{}{}", text(&pushed.stdout), text(&pushed.stderr));
    assert_eq!(text(&pushed.stdout).matches("new ").count(), 2, "{}", text(&pushed.stdout));
    let again = testmesh(&server, &key, &["flow", "push", &good]);
    assert!(text(&again.stdout).starts_with("same"), "{}", text(&again.stdout));

    let listed = testmesh(&server, &key, &["flow", "list", "--tag", "ci"]);
    let listing = text(&listed.stdout);
    assert!(listing.contains("remote good") && !listing.contains("remote bad"), "{listing}");

    let junit = dir.path().join("junit.xml");
    let passed = testmesh(
        &server,
        &key,
        &["remote", "run", "remote good", "--var", "WHO=ci", "--wait", "--junit", &junit.display().to_string()],
    );
    assert_eq!(passed.status.code(), Some(0), "{}{}", text(&passed.stdout), text(&passed.stderr));
    assert!(text(&passed.stdout).contains("remote good passed"), "{}", text(&passed.stdout));
    let report = std::fs::read_to_string(&junit).expect("junit written");
    assert!(report.contains("<testsuite name=\"remote good\"") && report.contains("failures=\"0\""), "{report}");

    let failed =
        testmesh(&server, &key, &["remote", "run", "remote bad", "--wait", "--junit", &junit.display().to_string()]);
    assert_eq!(failed.status.code(), Some(1), "{}{}", text(&failed.stdout), text(&failed.stderr));
    assert!(
        text(&failed.stdout).contains("message == \\\"y\\\"") || text(&failed.stdout).contains("message == \"y\""),
        "{}",
        text(&failed.stdout)
    );
    assert!(std::fs::read_to_string(&junit).expect("junit").contains("<failure"));

    // A local file runs inline, unstored.
    let inline = testmesh(&server, &key, &["remote", "run", &good, "--var", "WHO=ci", "--wait"]);
    assert_eq!(inline.status.code(), Some(0), "{}{}", text(&inline.stdout), text(&inline.stderr));
    let missing = testmesh(&server, &key, &["remote", "run", "no such flow", "--wait"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
    assert!(text(&missing.stderr).contains("no flow"), "{}", text(&missing.stderr));
    let no_key = testmesh(&server, "tm_bad", &["remote", "run", "remote good", "--wait"]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(text(&no_key.stderr).contains("401"), "{}", text(&no_key.stderr));

    // Schedules: made, listed, fired by hand, deleted.
    let made = testmesh(
        &server,
        &key,
        &["schedule", "create", "--flow", "remote good", "--cron", "0 3 * * *", "--var", "WHO=ci"],
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let schedule_id = text(&made.stdout).split_whitespace().next().unwrap_or_default().to_string();
    assert!(schedule_id.starts_with("sch_"), "{}", text(&made.stdout));
    assert!(text(&testmesh(&server, &key, &["schedule", "list"]).stdout).contains("0 3 * * *"));
    let fired = testmesh(&server, &key, &["schedule", "trigger", &schedule_id]);
    assert!(text(&fired.stdout).trim().starts_with("run_"), "{}", text(&fired.stdout));
    assert!(testmesh(&server, &key, &["schedule", "delete", &schedule_id]).status.success());
    let bad = testmesh(&server, &key, &["schedule", "create", "--flow", "remote good", "--cron", "every day"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("invalid cron"), "{}", text(&bad.stderr));

    // Checked by the server: its plugins, its stored flows.
    let invalid = write(dir.path(), "invalid.yaml", "name: x\nsteps:\n  - { id: a, action: nope }\n");
    let checked = testmesh(&server, &key, &["flow", "validate", &good, &invalid]);
    assert_eq!(checked.status.code(), Some(2));
    assert!(text(&checked.stderr).contains("invalid.yaml:3:"), "{}", text(&checked.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_install_plugins_and_make_keys_from_the_cli() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else { return };
    let dir = tempfile::tempdir().expect("dir");
    let wasm = dir.path().join("probe.wasm");
    std::fs::write(&wasm, common::component("probe")).expect("write");
    let key = server.admin_key.clone();
    let wasm = wasm.display().to_string();

    let runner = testmesh(&server, &key, &["key", "create", "--role", "runner", "--description", "ci"]);
    assert!(runner.status.success(), "{}", text(&runner.stderr));
    let runner_key = text(&runner.stdout).trim().to_string();
    assert!(runner_key.starts_with("tm_"), "only the key on stdout: {runner_key}");
    let refused = testmesh(&server, &runner_key, &["plugin", "install", &wasm]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("admin"), "{}", text(&refused.stderr));

    let installed = testmesh(&server, &key, &["plugin", "install", &wasm, "--grant", "http:api.example.com"]);
    assert!(installed.status.success(), "{}", text(&installed.stderr));
    let said = text(&installed.stdout);
    assert!(said.contains("installed: probe 0.1.0") && said.contains("grants: http:api.example.com"), "{said}");

    let listed = testmesh(&server, &key, &["key", "list"]);
    assert!(text(&listed.stdout).contains("runner"), "{}", text(&listed.stdout));

    // Without a key, `key create` writes into the server's database (here its SQLite file).
    let direct = Command::new(env!("CARGO_BIN_EXE_testmesh"))
        .args(["key", "create", "--role", "admin"])
        .env("TESTMESH_DATA_DIR", &server.data_dir)
        .env_remove("TESTMESH_API_KEY")
        .env_remove("DATABASE_URL")
        .output()
        .expect("key create");
    assert!(direct.status.success(), "{}", text(&direct.stderr));
    let made = text(&direct.stdout).trim().to_string();
    assert_eq!(server.client(Some(&made)).get("/keys").await.status, 200, "the new admin key works");
}
