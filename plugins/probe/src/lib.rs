//! `probe`: a test fixture that does what its config's `mode` says, including every way a plugin can
//! misbehave. It implements the generated `Guest` trait directly (not the SDK's `Action` trait) so that
//! it can also return output that is not JSON.

use std::cell::Cell;
use testmesh_plugin_sdk::action::bindings::testmesh::plugin::action_types::ActionCall;
use testmesh_plugin_sdk::action::bindings::testmesh::plugin::types::{Descriptor, PluginError, PluginKind};
use testmesh_plugin_sdk::serde_json::{self, Value, json};

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

struct Probe;

impl testmesh_plugin_sdk::action::bindings::Guest for Probe {
    fn describe() -> Descriptor {
        Descriptor {
            name: "probe".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Action,
            summary: "Test fixture: misbehaves on request".into(),
            config_schema: "{}".into(),
            output_schema: "{}".into(),
            aliases: vec![],
            operations: vec![],
            capabilities: vec![],
        }
    }

    fn run(call: ActionCall) -> Result<String, PluginError> {
        let calls = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        let config: Value = serde_json::from_str(&call.config).map_err(|e| PluginError::Failed(e.to_string()))?;
        let arg = |key: &str| config.get(key).cloned().unwrap_or(Value::Null);
        let mode = config.get("mode").and_then(Value::as_str).unwrap_or("noop");
        let output = match mode {
            "noop" => json!({}),
            "echo" => json!({ "config": config, "step_id": call.context.step_id, "operation": call.operation }),
            "count" => json!({ "calls": calls }),
            "loop" => loop {
                std::hint::black_box(calls);
            },
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recurse" => json!({ "depth": recurse(u64::MAX) }),
            "recurse_frames" => json!({ "depth": recurse_with_frames(u64::MAX) }),
            "panic" => panic!("probe panicked on purpose"),
            "big_output" => {
                let bytes = arg("bytes").as_u64().unwrap_or(1 << 20) as usize;
                return Ok(format!("{{\"data\":\"{}\"}}", "x".repeat(bytes)));
            }
            "not_json" => return Ok("this is not JSON".into()),
            "array" => return Ok("[1,2,3]".into()),
            "print" => {
                println!("to stdout");
                eprintln!("to stderr");
                testmesh_plugin_sdk::log::info("through the log interface");
                json!({})
            }
            "flood_stdout" => {
                let line = "y".repeat(1023);
                for _ in 0..(arg("lines").as_u64().unwrap_or(100_000)) {
                    println!("{line}");
                }
                json!({ "flooded": true })
            }
            "env" => json!({ "vars": std::env::vars().collect::<std::collections::BTreeMap<_, _>>() }),
            "read_file" => match std::fs::read_to_string(arg("path").as_str().unwrap_or("/etc/passwd")) {
                Ok(text) => json!({ "read": text.len() }),
                Err(e) => return Err(PluginError::Failed(format!("cannot read file: {e}"))),
            },
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(arg("ms").as_u64().unwrap_or(1000)));
                json!({ "slept": true })
            }
            "http_get" => {
                let url = arg("url");
                let response = testmesh_plugin_sdk::http::Request::new("GET", url.as_str().unwrap_or(""))
                    .send()
                    .map_err(|e| PluginError::Failed(e.to_string()))?;
                json!({ "status": response.status, "body": String::from_utf8_lossy(&response.body) })
            }
            "sql" => {
                let result = testmesh_plugin_sdk::sql::query(
                    arg("connection").as_str().unwrap_or(""),
                    arg("query").as_str().unwrap_or(""),
                    arg("params").as_array().map(Vec::as_slice).unwrap_or(&[]),
                )
                .map_err(|e| PluginError::Failed(e.to_string()))?;
                json!({ "rows": result.rows, "rows_affected": result.rows_affected })
            }
            "fail" => return Err(PluginError::Failed("probe failed on purpose".into())),
            other => return Err(PluginError::Failed(format!("unknown mode `{other}`"))),
        };
        Ok(output.to_string())
    }
}

/// Recursion the optimiser cannot turn into a loop, with only scalar locals: it grows the wasm stack.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let r = recurse(n - 1);
    if r % 7 == 3 { r / 2 } else { r.wrapping_add(n) }
}

/// Recursion with an array in every frame: it grows the guest's own stack in linear memory.
#[inline(never)]
fn recurse_with_frames(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 16]);
    if n == 0 { 0 } else { recurse_with_frames(n - 1).wrapping_add(frame[3]) }
}

testmesh_plugin_sdk::action::bindings::export_action_world!(Probe with_types_in testmesh_plugin_sdk::action::bindings);
