//! Sending a granted request over a connection we open ourselves: to the addresses that were checked
//! (never to a fresh DNS answer, so rebinding cannot redirect it), trying each in turn (a name that
//! resolves to `::1` first still reaches a server listening on 127.0.0.1 only), with TLS by host name
//! for `https`. Timeouts: connect and first byte per request options, then between body frames.
//! Connections are kept alive and reused by later requests to the same checked addresses.

use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// What wasmtime-wasi-http wants back besides the response: a future that ends with the connection.
pub(super) type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Sends `request` to the first of `addresses` that accepts a connection, on an idle keep-alive
/// connection to the same checked addresses when there is one.
pub(super) async fn send(
    mut request: http::Request<WasiBody>,
    addresses: &[SocketAddr],
    tls_host: Option<&str>,
    options: RequestOptions,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(30));
    let first_byte = options.first_byte_timeout.unwrap_or(Duration::from_secs(600));
    let key = PoolKey { addresses: addresses.to_vec(), tls_host: tls_host.map(str::to_string) };

    // On the wire the request line carries the path only; the Host header carries the name.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    // A pooled connection the server has meanwhile closed gives the request back unsent: try the
    // next one, then a new connection.
    let (sender, response) = loop {
        let (mut sender, fresh) = match take_idle(&key) {
            Some(sender) => (sender, false),
            None => (connect(addresses, tls_host, connect_timeout).await?, true),
        };
        match tokio::time::timeout(first_byte, sender.try_send_request(request)).await {
            Err(_) => return Err(Error::ConnectionReadTimeout),
            Ok(Ok(response)) => break (sender, response),
            Ok(Err(mut failed)) => match failed.take_message() {
                Some(unsent) if !fresh => request = unsent,
                _ => return Err(Error::from(failed.into_error())),
            },
        }
    };
    // Back to the pool at once: it is `ready` again when this response's body has been read.
    put_idle(key, sender);
    let between = options.between_bytes_timeout.unwrap_or(Duration::from_secs(600)).max(Duration::from_millis(1));
    let response = response.map(|incoming| TimedBody { incoming, between, timer: None }.boxed_unsync());
    // The connection is driven by its own task; errors reach the guest through the body.
    let io: IoFuture = Box::new(async { Ok(()) });
    Ok((response, io))
}

/// A new connection (TCP, then TLS for `https`), its driver spawned.
async fn connect(
    addresses: &[SocketAddr],
    tls_host: Option<&str>,
    timeout: Duration,
) -> Result<SendRequest<WasiBody>, Error> {
    let tcp = connect_any(addresses, timeout).await?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = match tls_host {
        Some(host) => Box::new(tls(tcp, host, timeout).await?),
        None => Box::new(tcp),
    };
    let (sender, connection) =
        tokio::time::timeout(timeout, hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("plugin HTTP connection ended: {e}");
        }
    });
    Ok(sender)
}

/// Which connections may serve a request: those opened to the same checked addresses, with the
/// same TLS name. Grants are checked before a request gets here, so sharing is safe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    addresses: Vec<SocketAddr>,
    tls_host: Option<String>,
}

/// Keep-alive connections of the whole process, by destination. Localhost test servers answer in
/// tens of microseconds; a new TCP (and TLS) connection per request would cost more than the
/// request.
type Pool = Mutex<HashMap<PoolKey, Vec<SendRequest<WasiBody>>>>;

/// At most this many connections are kept per destination.
const MAX_POOLED: usize = 32;

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

/// An idle connection to `key`, dropping closed ones on the way.
fn take_idle(key: &PoolKey) -> Option<SendRequest<WasiBody>> {
    let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
    let senders = pool.get_mut(key)?;
    senders.retain(|s| !s.is_closed());
    let at = senders.iter().position(SendRequest::is_ready)?;
    Some(senders.swap_remove(at))
}

fn put_idle(key: PoolKey, sender: SendRequest<WasiBody>) {
    let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
    let senders = pool.entry(key).or_default();
    senders.retain(|s| !s.is_closed());
    if senders.len() < MAX_POOLED {
        senders.push(sender);
    }
}

/// Connects to each address in turn; the error of the last one wins.
async fn connect_any(addresses: &[SocketAddr], timeout: Duration) -> Result<TcpStream, Error> {
    let mut last = Error::DestinationNotFound;
    for address in addresses {
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => last = Error::ConnectionRefused,
            Ok(Err(e)) => last = Error::Connect(e),
            Err(_) => last = Error::ConnectionTimeout,
        }
    }
    Err(last)
}

async fn tls(
    tcp: TcpStream,
    host: &str,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = match CONFIG.get() {
        Some(config) => config.clone(),
        None => {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
            let config =
                rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .map_err(|_| Error::TlsProtocolError)?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
            CONFIG.get_or_init(|| Arc::new(config)).clone()
        }
    };
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| Error::TlsCertificateError)?;
    tokio::time::timeout(timeout, tokio_rustls::TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Tls)
}

/// The response body, failing when no frame arrives within `between` of the previous one.
struct TimedBody {
    incoming: hyper::body::Incoming,
    between: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.timer = None;
                Poll::Ready(frame.map(|f| f.map_err(Error::from)))
            }
            Poll::Pending => {
                let between = self.between;
                let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(between)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connecting_falls_back_to_the_next_checked_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap();
        let closed = {
            let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            probe.local_addr().unwrap()
        };
        let stream = connect_any(&[closed, open], Duration::from_secs(5)).await.expect("second address");
        assert_eq!(stream.peer_addr().unwrap(), open);
        let refused = connect_any(&[closed], Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(refused, Error::ConnectionRefused), "{refused:?}");
    }
}
