//! Outgoing HTTP through the standard `wasi:http/outgoing-handler` interface.
//!
//! The host checks every request against the hosts the administrator granted to the plugin; a denied
//! request comes back as [`HttpError::Denied`] without touching the network. Redirects are not
//! followed here: a plugin that wants them follows `location` itself (the `http_request` plugin does).

use std::fmt;
use std::time::Duration;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL or a header is malformed.
    InvalidRequest(String),
    /// The host refused the request: the plugin was not granted this destination.
    Denied(String),
    /// The request timed out (connect, first byte or between bytes).
    Timeout(String),
    /// Any other transport error (DNS, connection refused, TLS, protocol).
    Transport(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            HttpError::Denied(m) => write!(f, "request denied: {m}"),
            HttpError::Timeout(m) => write!(f, "request timed out: {m}"),
            HttpError::Transport(m) => write!(f, "request failed: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// An HTTP request to send with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    /// Method, upper case (`GET`, `POST`, or any extension method).
    pub method: String,
    /// Absolute URL: `http://host:port/path?query` or `https://…`.
    pub url: String,
    /// Header names and values, in order; repeated names are sent as separate fields.
    pub headers: Vec<(String, String)>,
    /// The body; empty sends none.
    pub body: Vec<u8>,
    /// Limit for connecting, for the first byte and between bytes of the response.
    pub timeout: Option<Duration>,
}

/// A response whose body has been read completely.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names (lower case, as the host delivers them) and values.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(&self) -> Result<Response, HttpError> {
        let target = Target::parse(&self.url)?;
        let fields: Vec<(String, Vec<u8>)> =
            self.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
        let headers =
            Fields::from_list(&fields).map_err(|e| HttpError::InvalidRequest(format!("header rejected: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let method = match self.method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "CONNECT" => Method::Connect,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_string()),
        };
        let invalid = |what: &str| HttpError::InvalidRequest(format!("{what} rejected in {}", self.url));
        request.set_method(&method).map_err(|_| invalid("method"))?;
        request.set_scheme(Some(&target.scheme)).map_err(|_| invalid("scheme"))?;
        request.set_authority(Some(&target.authority)).map_err(|_| invalid("authority"))?;
        request.set_path_with_query(Some(&target.path_with_query)).map_err(|_| invalid("path"))?;

        let options = RequestOptions::new();
        if let Some(timeout) = self.timeout {
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            // A host may not support every timeout; the ones it rejects are simply not set.
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
        }

        let body = request.body().map_err(|_| invalid("body"))?;
        let pending = outgoing_handler::handle(request, Some(options)).map_err(map_error)?;
        write_body(&body, &self.body)?;
        OutgoingBody::finish(body, None).map_err(map_error)?;

        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(map_error(code)),
            Some(Err(())) | None => return Err(HttpError::Transport("response already taken".into())),
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response.consume().map_err(|_| HttpError::Transport("body already consumed".into()))?;
        let body = read_body(&incoming)?;
        drop(incoming);
        Ok(Response { status, headers, body })
    }
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let stream = body.write().map_err(|_| HttpError::Transport("cannot open request body".into()))?;
    // `blocking-write-and-flush` accepts at most 4096 bytes per call.
    for chunk in bytes.chunks(4096) {
        stream.blocking_write_and_flush(chunk).map_err(|e| HttpError::Transport(format!("writing body: {e:?}")))?;
    }
    Ok(())
}

fn read_body(incoming: &IncomingBody) -> Result<Vec<u8>, HttpError> {
    let stream = incoming.stream().map_err(|_| HttpError::Transport("cannot open response body".into()))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(HttpError::Transport(format!("reading body: {}", e.to_debug_string())));
            }
        }
    }
    Ok(body)
}

fn map_error(code: ErrorCode) -> HttpError {
    let transport = |text: &str| HttpError::Transport(text.to_string());
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied("the plugin is not granted this destination".into()),
        ErrorCode::ConnectionTimeout => HttpError::Timeout("no connection in time".into()),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            HttpError::Timeout("no response in time".into())
        }
        ErrorCode::ConnectionWriteTimeout => HttpError::Timeout("sending the request took too long".into()),
        ErrorCode::ConnectionRefused => transport("connection refused"),
        ErrorCode::ConnectionTerminated => transport("the server closed the connection"),
        ErrorCode::DnsTimeout => transport("DNS lookup timed out"),
        ErrorCode::DnsError(payload) => HttpError::Transport(format!(
            "DNS lookup failed{}",
            payload.rcode.map(|r| format!(": {r}")).unwrap_or_default()
        )),
        ErrorCode::DestinationNotFound => transport("host not found"),
        ErrorCode::DestinationUnavailable | ErrorCode::DestinationIpUnroutable => transport("host unreachable"),
        ErrorCode::TlsProtocolError => transport("TLS handshake failed"),
        ErrorCode::TlsCertificateError => transport("the server's TLS certificate was not accepted"),
        ErrorCode::TlsAlertReceived(alert) => HttpError::Transport(format!(
            "the server ended the TLS handshake{}",
            alert.alert_message.map(|m| format!(": {m}")).unwrap_or_default()
        )),
        ErrorCode::HttpProtocolError => transport("the server's answer is not valid HTTP"),
        ErrorCode::InternalError(Some(message)) => HttpError::Transport(message),
        other => HttpError::Transport(format!("{other:?}")),
    }
}

/// The parts of an absolute URL that `wasi:http` wants separately.
struct Target {
    scheme: Scheme,
    authority: String,
    path_with_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, HttpError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            HttpError::InvalidRequest(format!("`{url}` is not an absolute URL (http://… or https://…)"))
        })?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(HttpError::InvalidRequest(format!("unsupported scheme `{other}` in `{url}`"))),
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..split];
        if authority.is_empty() {
            return Err(HttpError::InvalidRequest(format!("`{url}` has no host")));
        }
        let mut path_with_query = rest[split..].split('#').next().unwrap_or("").to_string();
        if !path_with_query.starts_with('/') {
            path_with_query.insert(0, '/');
        }
        Ok(Target { scheme, authority: authority.to_string(), path_with_query })
    }
}
