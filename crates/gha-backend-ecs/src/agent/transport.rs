//! The connection under the protocol: the agent URL, TCP or TLS, length-delimited frames of
//! JSON, and the one-time token.

use std::fmt;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use super::protocol::MAX_FRAME_BYTES;

/// Where an agent dials: `tcp://HOST:PORT` or `tls://HOST:PORT`.
///
/// ```
/// use gha_backend_ecs::agent::AgentUrl;
/// let url: AgentUrl = "tls://controller.internal:7400".parse().unwrap();
/// assert!(url.tls);
/// assert_eq!(url.host, "controller.internal");
/// assert_eq!(url.port, 7400);
/// assert_eq!(url.to_string(), "tls://controller.internal:7400");
/// assert!("http://x:1".parse::<AgentUrl>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentUrl {
    /// Whether the connection uses TLS.
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::str::FromStr for AgentUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<AgentUrl, String> {
        let bad = |why: &str| {
            format!("invalid agent URL '{s}': {why} (expected tcp://HOST:PORT or tls://HOST:PORT)")
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let tls = match scheme {
            "tcp" => false,
            "tls" => true,
            _ => return Err(bad(&format!("unknown scheme '{scheme}'"))),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() || host.contains('/') {
            return Err(bad("no host"));
        }
        let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
        if port == 0 {
            return Err(bad("port 0"));
        }
        Ok(AgentUrl {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for AgentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "tls" } else { "tcp" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// A new one-time token: 32 random bytes, hex-encoded (64 characters).
///
/// ```
/// let a = gha_backend_ecs::agent::new_token().unwrap();
/// let b = gha_backend_ecs::agent::new_token().unwrap();
/// assert_eq!(a.len(), 64);
/// assert_ne!(a, b);
/// ```
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the agent token: {e}"))?;
    Ok(hex::encode(bytes))
}

/// Compares a presented token with an expected one in time that does not depend on where they
/// differ.
///
/// ```
/// use gha_backend_ecs::agent::token_matches;
/// assert!(token_matches("abc", "abc"));
/// assert!(!token_matches("abd", "abc"));
/// assert!(!token_matches("ab", "abc"));
/// ```
pub fn token_matches(presented: &str, expected: &str) -> bool {
    presented.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// The byte stream under a connection (plain TCP or TLS).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// The codec of every connection: 4-byte length, at most [`MAX_FRAME_BYTES`].
fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec()
}

/// The receiving half of a connection.
pub struct FrameReader {
    inner: FramedRead<ReadHalf<Box<dyn Stream>>, LengthDelimitedCodec>,
}

/// The sending half of a connection.
pub struct FrameWriter {
    inner: FramedWrite<WriteHalf<Box<dyn Stream>>, LengthDelimitedCodec>,
}

/// Splits a stream into framed halves.
pub fn framed(stream: Box<dyn Stream>) -> (FrameReader, FrameWriter) {
    let (r, w) = tokio::io::split(stream);
    (
        FrameReader {
            inner: FramedRead::new(r, codec()),
        },
        FrameWriter {
            inner: FramedWrite::new(w, codec()),
        },
    )
}

impl FrameReader {
    /// The next message; `Ok(None)` at a clean end of the connection.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, String> {
        match self.inner.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(format!("reading from the connection: {e}")),
            Some(Ok(bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("malformed message: {e}")),
        }
    }
}

impl FrameWriter {
    /// Sends one message.
    pub async fn send<T: Serialize>(&mut self, message: &T) -> Result<(), String> {
        let bytes = serde_json::to_vec(message).map_err(|e| format!("encoding a message: {e}"))?;
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(format!(
                "a message of {} bytes is over the {MAX_FRAME_BYTES}-byte frame limit",
                bytes.len()
            ));
        }
        self.inner
            .send(bytes::Bytes::from(bytes))
            .await
            .map_err(|e| format!("writing to the connection: {e}"))
    }

    /// Flushes and shuts the sending side down.
    pub async fn close(&mut self) {
        let _ = SinkExt::<bytes::Bytes>::close(&mut self.inner).await;
    }
}

/// The TLS identity of a controller: a certificate chain and its private key, PEM-encoded.
#[derive(Clone)]
pub struct TlsIdentity {
    /// PEM certificate chain (the first certificate is the controller's).
    pub cert_pem: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn parse_certs(pem: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the PEM text".into());
    }
    Ok(certs)
}

/// A TLS acceptor for the controller.
pub fn tls_acceptor(identity: &TlsIdentity) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = parse_certs(&identity.cert_pem)?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
        .map_err(|e| format!("invalid PEM private key: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key do not fit: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A TLS connector for the agent that trusts exactly the certificates in `ca_pem`.
pub fn tls_connector(ca_pem: &str) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in parse_certs(ca_pem)? {
        roots
            .add(cert)
            .map_err(|e| format!("unusable CA certificate: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Dials `url` (TLS when the URL says so, trusting `ca_pem`).
pub async fn dial(url: &AgentUrl, ca_pem: Option<&str>) -> Result<Box<dyn Stream>, String> {
    let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("cannot connect to the controller at {url}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if !url.tls {
        return Ok(Box::new(tcp));
    }
    let ca = ca_pem.ok_or_else(|| {
        format!("{url} needs TLS, but no CA certificate was given (GHA_AGENT_CA)")
    })?;
    let connector = tls_connector(ca)?;
    let name = rustls::pki_types::ServerName::try_from(url.host.clone())
        .map_err(|e| format!("invalid TLS server name '{}': {e}", url.host))?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {url} failed: {e}"))?;
    Ok(Box::new(tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: AgentUrl = "tcp://[::1]:80".parse().unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.to_string(), "tcp://[::1]:80");
        for bad in [
            "tcp://:80",
            "tcp://h",
            "tcp://h:x",
            "h:1",
            "tcp://h:0",
            "tcp://h:70000",
        ] {
            assert!(bad.parse::<AgentUrl>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn oversized_frames_end_the_connection() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (mut reader, _w) = framed(Box::new(a));
        let (_r, mut raw) = tokio::io::split(b);
        use tokio::io::AsyncWriteExt;
        let len = (MAX_FRAME_BYTES as u32 + 1).to_be_bytes();
        raw.write_all(&len).await.unwrap();
        raw.write_all(&[b'x'; 64]).await.unwrap();
        let err = reader.recv::<serde_json::Value>().await.unwrap_err();
        assert!(err.contains("frame"), "{err}");
    }
}
