//! The connection under the protocol: the agent URL, TCP or TLS, length-delimited frames
//! (JSON messages and binary data frames), and the one-time token.

use std::fmt;
use std::sync::Arc;

use bytes::{Buf, BufMut, BytesMut};
use futures_util::{SinkExt, StreamExt};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

use super::protocol::{
    DATA_FRAME, DATA_HEADER_BYTES, DATA_LAST, DataChunk, FILE_CHUNK_BYTES, MAX_FRAME_BYTES,
    WireMessage,
};

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

/// The codec of every connection: a 4-byte big-endian length, then at most
/// [`MAX_FRAME_BYTES`] bytes. A length over the bound is an error before any buffer grows for
/// it; an accepted frame is handed on without copying.
#[derive(Clone, Copy, Debug, Default)]
struct FrameCodec;

/// What [`FrameCodec`] writes: a JSON document, or a data frame's header and data.
enum Outgoing<'a> {
    Json(&'a [u8]),
    Data(&'a DataChunk),
}

impl Outgoing<'_> {
    fn len(&self) -> usize {
        match self {
            Outgoing::Json(j) => j.len(),
            Outgoing::Data(c) => DATA_HEADER_BYTES + c.data.len(),
        }
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, std::io::Error> {
        let Some(head) = src.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the peer sent a frame of {len} bytes, over the {MAX_FRAME_BYTES}-byte limit"
                ),
            ));
        }
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(len)))
    }
}

impl Encoder<Outgoing<'_>> for FrameCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Outgoing<'_>, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        let len = item.len();
        if len > MAX_FRAME_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("a message of {len} bytes is over the {MAX_FRAME_BYTES}-byte frame limit"),
            ));
        }
        dst.reserve(4 + len);
        dst.put_u32(len as u32);
        match item {
            Outgoing::Json(j) => dst.put_slice(j),
            Outgoing::Data(c) => {
                dst.put_u8(DATA_FRAME);
                dst.put_u64(c.id);
                dst.put_u8(if c.last { DATA_LAST } else { 0 });
                dst.put_slice(&c.data);
            }
        }
        Ok(())
    }
}

/// Reads one received frame as a message of type `T`.
fn parse<T: WireMessage>(mut frame: BytesMut) -> Result<T, String> {
    if frame.first() != Some(&DATA_FRAME) {
        return serde_json::from_slice(&frame).map_err(|e| format!("malformed message: {e}"));
    }
    if frame.len() < DATA_HEADER_BYTES {
        return Err(format!(
            "malformed data frame: {} bytes, shorter than its {DATA_HEADER_BYTES}-byte header",
            frame.len()
        ));
    }
    let mut header = frame.split_to(DATA_HEADER_BYTES);
    header.advance(1);
    let id = header.get_u64();
    let flags = header.get_u8();
    if flags & !DATA_LAST != 0 {
        return Err(format!("malformed data frame: unknown flags {flags:#04x}"));
    }
    if frame.len() > FILE_CHUNK_BYTES {
        return Err(format!(
            "malformed data frame: {} bytes of data, over the {FILE_CHUNK_BYTES}-byte piece size",
            frame.len()
        ));
    }
    Ok(T::from_data(DataChunk {
        id,
        last: flags & DATA_LAST != 0,
        data: frame.freeze(),
    }))
}

/// The receiving half of a connection.
pub struct FrameReader {
    inner: FramedRead<ReadHalf<Box<dyn Stream>>, FrameCodec>,
}

/// The sending half of a connection.
pub struct FrameWriter {
    inner: FramedWrite<WriteHalf<Box<dyn Stream>>, FrameCodec>,
}

/// Splits a stream into framed halves.
pub fn framed(stream: Box<dyn Stream>) -> (FrameReader, FrameWriter) {
    let (r, w) = tokio::io::split(stream);
    (
        FrameReader {
            inner: FramedRead::new(r, FrameCodec),
        },
        FrameWriter {
            inner: FramedWrite::new(w, FrameCodec),
        },
    )
}

impl FrameReader {
    /// The next message (JSON, or a data frame as `T`'s `Data`); `Ok(None)` at a clean end of
    /// the connection.
    pub async fn recv<T: WireMessage>(&mut self) -> Result<Option<T>, String> {
        match self.inner.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(format!("reading from the connection: {e}")),
            Some(Ok(frame)) => parse(frame).map(Some),
        }
    }
}

impl FrameWriter {
    /// Sends one message (a data chunk as a data frame, anything else as JSON).
    pub async fn send<T: WireMessage>(&mut self, message: &T) -> Result<(), String> {
        let json;
        let item = match message.as_data() {
            Some(chunk) => Outgoing::Data(chunk),
            None => {
                json =
                    serde_json::to_vec(message).map_err(|e| format!("encoding a message: {e}"))?;
                Outgoing::Json(&json)
            }
        };
        self.inner.send(item).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidInput {
                e.to_string()
            } else {
                format!("writing to the connection: {e}")
            }
        })
    }

    /// Flushes and shuts the sending side down.
    pub async fn close(&mut self) {
        let _ = SinkExt::<Outgoing<'_>>::close(&mut self.inner).await;
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
    use super::super::protocol::{AgentMessage, ControllerMessage};
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
        let err = reader.recv::<AgentMessage>().await.unwrap_err();
        assert_eq!(
            err,
            "reading from the connection: the peer sent a frame of 8388609 bytes, over the \
             8388608-byte limit"
        );
    }

    fn pair() -> (FrameReader, FrameWriter) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (reader, _) = framed(Box::new(a));
        let (_, writer) = framed(Box::new(b));
        (reader, writer)
    }

    #[tokio::test]
    async fn data_frames_carry_raw_bytes_next_to_json_messages() {
        let (mut reader, mut writer) = pair();
        let data = bytes::Bytes::from((0..=255u8).cycle().take(3000).collect::<Vec<u8>>());
        let chunk = DataChunk {
            id: 0x0102_0304_0506_0708,
            last: true,
            data: data.clone(),
        };
        let sent = tokio::spawn(async move {
            writer.send(&AgentMessage::Heartbeat).await.unwrap();
            writer.send(&AgentMessage::Data(chunk)).await.unwrap();
            writer
                .send(&AgentMessage::Data(DataChunk {
                    id: 9,
                    last: false,
                    data: bytes::Bytes::new(),
                }))
                .await
                .unwrap();
            writer
        });
        assert_eq!(
            reader.recv::<AgentMessage>().await.unwrap(),
            Some(AgentMessage::Heartbeat)
        );
        match reader.recv::<AgentMessage>().await.unwrap() {
            Some(AgentMessage::Data(c)) => {
                assert_eq!((c.id, c.last), (0x0102_0304_0506_0708, true));
                assert_eq!(c.data, data);
            }
            other => panic!("{other:?}"),
        }
        match reader.recv::<AgentMessage>().await.unwrap() {
            Some(AgentMessage::Data(c)) => assert_eq!((c.id, c.last, c.data.len()), (9, false, 0)),
            other => panic!("{other:?}"),
        }
        drop(sent.await.unwrap());
        assert_eq!(reader.recv::<AgentMessage>().await.unwrap(), None);
    }

    #[test]
    fn the_data_frame_layout_is_fixed() {
        let mut out = BytesMut::new();
        let chunk = DataChunk {
            id: 258,
            last: true,
            data: bytes::Bytes::from_static(b"ab"),
        };
        FrameCodec.encode(Outgoing::Data(&chunk), &mut out).unwrap();
        assert_eq!(
            &out[..],
            &[
                0, 0, 0, 12, DATA_FRAME, 0, 0, 0, 0, 0, 0, 1, 2, DATA_LAST, b'a', b'b'
            ]
        );
        let frame = FrameCodec.decode(&mut out).unwrap().unwrap();
        assert_eq!(
            parse::<ControllerMessage>(frame).unwrap(),
            ControllerMessage::Data(chunk)
        );
    }

    #[test]
    fn malformed_data_frames_are_errors() {
        let short = BytesMut::from(&[DATA_FRAME, 0, 0][..]);
        let err = parse::<AgentMessage>(short).unwrap_err();
        assert!(err.contains("shorter than its 10-byte header"), "{err}");
        let flags = BytesMut::from(&[DATA_FRAME, 0, 0, 0, 0, 0, 0, 0, 1, 0x80][..]);
        let err = parse::<AgentMessage>(flags).unwrap_err();
        assert!(err.contains("unknown flags 0x80"), "{err}");
        let mut big = BytesMut::from(&[DATA_FRAME, 0, 0, 0, 0, 0, 0, 0, 1, 0][..]);
        big.resize(DATA_HEADER_BYTES + FILE_CHUNK_BYTES + 1, 7);
        let err = parse::<AgentMessage>(big).unwrap_err();
        assert!(err.contains("over the 1048576-byte piece size"), "{err}");
        let err = parse::<AgentMessage>(BytesMut::from(&b"{]"[..])).unwrap_err();
        assert!(err.starts_with("malformed message"), "{err}");
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_not_sent() {
        let (_reader, mut writer) = pair();
        let err = writer
            .send(&AgentMessage::Terminating {
                reason: "x".repeat(MAX_FRAME_BYTES),
            })
            .await
            .unwrap_err();
        assert!(err.contains("over the 8388608-byte frame limit"), "{err}");
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest_and_reserves_at_most_its_size() {
        let mut buf = BytesMut::new();
        buf.put_u32(100);
        buf.put_slice(b"{\"type\"");
        assert!(FrameCodec.decode(&mut buf).unwrap().is_none());
        assert!(
            buf.capacity() >= 104 && buf.capacity() < 4096,
            "{}",
            buf.capacity()
        );
    }
}
