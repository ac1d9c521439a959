//! Sending a granted request over a connection we open ourselves: to the addresses that were checked
//! (never to a fresh DNS answer, so rebinding cannot redirect it), trying each in turn (a name that
//! resolves to `::1` first still reaches a server listening on 127.0.0.1 only), with TLS by host name
//! for `https`. Timeouts: connect and first byte per request options, then between body frames.

use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
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

/// Sends `request` to the first of `addresses` that accepts a connection.
pub(super) async fn send(
    mut request: http::Request<WasiBody>,
    addresses: &[SocketAddr],
    tls_host: Option<&str>,
    options: RequestOptions,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(30));
    let tcp = connect_any(addresses, connect_timeout).await?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = match tls_host {
        Some(host) => Box::new(tls(tcp, host, connect_timeout).await?),
        None => Box::new(tcp),
    };
    let (mut sender, connection) =
        tokio::time::timeout(connect_timeout, hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
    let driver = tokio::spawn(connection);

    // On the wire the request line carries the path only; the Host header carries the name.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    let first_byte = options.first_byte_timeout.unwrap_or(Duration::from_secs(600));
    let response = tokio::time::timeout(first_byte, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)??;
    let between = options.between_bytes_timeout.unwrap_or(Duration::from_secs(600)).max(Duration::from_millis(1));
    let response = response.map(|incoming| TimedBody { incoming, between, timer: None }.boxed_unsync());
    let io: IoFuture = Box::new(async move {
        match driver.await {
            Ok(Ok(())) | Err(_) => Ok(()),
            Ok(Err(e)) => Err(Error::from(e)),
        }
    });
    Ok((response, io))
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
