//! The `http_request` action (alias `http`): sends one HTTP request, follows redirects, and returns
//! status, headers and body for assertions and captures.

pub mod config;
pub mod redirect;
pub mod request;
pub mod response;
mod schema;
pub mod url;

use config::Config;
use request::Prepared;
use response::Exchange;
use std::time::{Duration, Instant};
use testmesh_plugin_sdk::http::{HttpError, Request};
use testmesh_plugin_sdk::{Action, Context, Descriptor, Error, Value, duration};

/// The timeout when the step gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `http_request` action.
pub struct HttpRequest;

impl Action for HttpRequest {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("http_request", "0.1.0", "Sends an HTTP request and returns its status, headers and body")
            .alias("http")
            .config_schema(schema::config())
            .output_schema(schema::output())
            .capability("http", "Sends the HTTP requests that flows describe, to the URLs in their steps' config.")
    }

    fn run(ctx: &Context, config: Config) -> Result<Value, Error> {
        let mut current = Prepared::from_config(&config)?;
        let (limit, limited_by_step) = match config.timeout {
            Some(timeout) if timeout <= ctx.time_left() => (timeout, false),
            None if DEFAULT_TIMEOUT <= ctx.time_left() => (DEFAULT_TIMEOUT, false),
            _ => (ctx.time_left(), true),
        };
        let started = Instant::now();
        let mut redirects = 0;
        loop {
            let remaining = limit.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                return Err(timed_out(&current, limit, limited_by_step));
            }
            let response = to_sdk(&current, remaining).send().map_err(|e| match e {
                HttpError::Timeout(_) => timed_out(&current, limit, limited_by_step),
                other => Error::failed(format!("{} {}: {other}", current.method, current.url)),
            })?;
            let location = response.header("location").filter(|_| redirect::is_redirect(response.status));
            if let (true, Some(location)) = (config.follow_redirects, location) {
                if redirects >= config.max_redirects {
                    return Err(Error::failed(format!(
                        "{} {}: gave up after {redirects} redirects (max_redirects); the last one pointed to `{location}`",
                        current.method, current.url
                    )));
                }
                current = redirect::next_request(&current, response.status, location).map_err(Error::failed)?;
                redirects += 1;
                continue;
            }
            let exchange = Exchange {
                status: response.status,
                headers: &response.headers,
                body: &response.body,
                url: current.url.to_string(),
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                redirects,
            };
            return Ok(exchange.to_output());
        }
    }
}

/// The SDK request for `prepared`, with `timeout` for this hop.
fn to_sdk(prepared: &Prepared, timeout: Duration) -> Request {
    Request {
        method: prepared.method.clone(),
        url: prepared.url.to_string(),
        headers: prepared.headers.clone(),
        body: prepared.body.clone(),
        timeout: Some(timeout),
    }
}

/// The error for an exchange that ran out of time, saying whose limit it was.
fn timed_out(current: &Prepared, limit: Duration, limited_by_step: bool) -> Error {
    let whose = if limited_by_step { "the time left before the step's timeout" } else { "the request's `timeout`" };
    Error::failed(format!(
        "{} {}: no complete response within {} ({whose})",
        current.method,
        current.url,
        duration::format(limit)
    ))
}

testmesh_plugin_sdk::export_action!(HttpRequest);

#[cfg(test)]
mod tests {
    use super::*;
    use testmesh_plugin_sdk::json;

    #[test]
    fn describes_itself() {
        let d = HttpRequest::describe();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("http_request", "0.1.0"));
        assert_eq!(d.aliases, ["http"]);
        assert_eq!(d.capabilities[0].capability, "http");
        assert_eq!(d.config_schema["required"], json!(["url"]));
    }

    #[test]
    fn config_mistakes_fail_before_any_request() {
        let ctx = Context { deadline_ms: 10_000, ..Context::default() };
        let config: Config = Error::parse_config(r#"{"url": "example.com/x"}"#).expect("parses");
        let err = HttpRequest::run(&ctx, config).expect_err("relative URL");
        assert!(matches!(err, Error::InvalidConfig { path, .. } if path == "/url"));
    }
}
