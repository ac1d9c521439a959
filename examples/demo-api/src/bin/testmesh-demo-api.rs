//! `testmesh-demo-api [--port N]`: serves the demo API on 127.0.0.1 (port 8080 by default; 0 picks a
//! free one), for the example flows under `examples/`.

use std::process::ExitCode;

const USAGE: &str = "usage: testmesh-demo-api [--port N]   (default 8080; binds 127.0.0.1)";

#[tokio::main]
async fn main() -> ExitCode {
    let port = match parse_port(std::env::args().skip(1)) {
        Ok(Some(port)) => port,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("testmesh-demo-api: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("testmesh-demo-api: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(address) => println!("testmesh-demo-api listening on http://{address}"),
        Err(_) => println!("testmesh-demo-api listening on 127.0.0.1:{port}"),
    }
    match testmesh_demo_api::serve(listener).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testmesh-demo-api: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The port from `--port N` or `--port=N` (8080 when absent); `None` for `--help`.
fn parse_port(mut args: impl Iterator<Item = String>) -> Result<Option<u16>, String> {
    let mut port = 8080;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" | "-p" => args.next().ok_or("`--port` needs a number")?,
            other => match other.strip_prefix("--port=") {
                Some(value) => value.to_string(),
                None => return Err(format!("unknown argument `{other}`")),
            },
        };
        port = value.parse().map_err(|_| format!("`{value}` is not a port number (0 to 65535)"))?;
    }
    Ok(Some(port))
}
