//! The controller's side of the handshake: a listener that accepts agents dialing in, checks
//! their one-time token and hands each connection to whoever expects it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::protocol::{AgentMessage, ControllerMessage, PROTOCOL_VERSION};
use super::transport::{
    FrameReader, FrameWriter, Stream, TlsIdentity, framed, new_token, token_matches,
};

/// How long a fresh connection has to finish TLS and say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An authenticated connection from an agent.
pub struct AgentConnection {
    pub(crate) reader: FrameReader,
    pub(crate) writer: FrameWriter,
    /// The agent's address as seen by the controller.
    pub peer: SocketAddr,
}

impl std::fmt::Debug for AgentConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConnection")
            .field("peer", &self.peer)
            .finish()
    }
}

type Waiters = Arc<Mutex<Vec<(String, oneshot::Sender<AgentConnection>)>>>;

/// Accepts agents on one address (plain TCP or TLS).
///
/// ```
/// use gha_backend_ecs::agent::AgentListener;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
/// let pending = listener.expect().unwrap();
/// assert_eq!(pending.token().len(), 64);
/// assert_ne!(listener.local_addr().port(), 0);
/// # });
/// ```
#[derive(Debug)]
pub struct AgentListener {
    local_addr: SocketAddr,
    waiters: Waiters,
    refused: Arc<Mutex<Vec<String>>>,
    accept_task: tokio::task::JoinHandle<()>,
}

/// A token handed to one task, waiting for its agent.
#[derive(Debug)]
pub struct PendingAgent {
    token: String,
    rx: oneshot::Receiver<AgentConnection>,
    waiters: Waiters,
}

impl PendingAgent {
    /// The one-time token the agent must present.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Waits for the agent with this token (cancel-safe: poll it in a `select!` loop by
    /// `&mut`). `None` when the listener was dropped.
    pub async fn connected(&mut self) -> Option<AgentConnection> {
        (&mut self.rx).await.ok()
    }
}

impl Drop for PendingAgent {
    fn drop(&mut self) {
        // One-time: a token that was used or given up on is never accepted again.
        if let Ok(mut w) = self.waiters.lock() {
            w.retain(|(t, _)| t != &self.token);
        }
    }
}

impl Drop for AgentListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl AgentListener {
    /// Listens on `addr`; with `tls`, every connection must be TLS with that identity.
    pub async fn bind(
        addr: SocketAddr,
        tls: Option<&TlsIdentity>,
    ) -> Result<AgentListener, String> {
        let acceptor = tls.map(super::transport::tls_acceptor).transpose()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen for agents on {addr}: {e}"))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| format!("cannot listen for agents on {addr}: {e}"))?;
        let waiters: Waiters = Arc::default();
        let refused = Arc::new(Mutex::new(Vec::new()));
        let accept_task = {
            let waiters = waiters.clone();
            let refused = refused.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, peer)) = listener.accept().await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let waiters = waiters.clone();
                    let refused = refused.clone();
                    tokio::spawn(async move {
                        let stream: Box<dyn Stream> = match acceptor {
                            None => Box::new(tcp),
                            Some(a) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, a.accept(tcp))
                                .await
                            {
                                Ok(Ok(s)) => Box::new(s),
                                Ok(Err(e)) => {
                                    note(&refused, format!("{peer}: TLS handshake failed: {e}"));
                                    return;
                                }
                                Err(_) => {
                                    note(&refused, format!("{peer}: TLS handshake timed out"));
                                    return;
                                }
                            },
                        };
                        handshake(stream, peer, &waiters, &refused).await;
                    });
                }
            })
        };
        Ok(AgentListener {
            local_addr,
            waiters,
            refused,
            accept_task,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Makes a new one-time token and waits for the agent presenting it.
    pub fn expect(&self) -> Result<PendingAgent, String> {
        let token = new_token()?;
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .map_err(|_| "the agent listener is poisoned".to_string())?
            .push((token.clone(), tx));
        Ok(PendingAgent {
            token,
            rx,
            waiters: self.waiters.clone(),
        })
    }

    /// Connections refused so far (wrong token, wrong version, failed TLS), one line each.
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn note(refused: &Mutex<Vec<String>>, line: String) {
    if let Ok(mut r) = refused.lock()
        && r.len() < 100
    {
        r.push(line);
    }
}

async fn handshake(
    stream: Box<dyn Stream>,
    peer: SocketAddr,
    waiters: &Waiters,
    refused: &Mutex<Vec<String>>,
) {
    let (mut reader, mut writer) = framed(stream);
    let hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.recv::<AgentMessage>()).await;
    let (token, version) = match hello {
        Ok(Ok(Some(AgentMessage::Hello { token, version }))) => (token, version),
        Ok(Err(e)) => {
            note(refused, format!("{peer}: no greeting: {e}"));
            return;
        }
        _ => {
            note(refused, format!("{peer}: no greeting"));
            return;
        }
    };
    let refuse = |reason: String| ControllerMessage::Rejected { reason };
    if version != PROTOCOL_VERSION {
        let reason = format!(
            "protocol version {version} is not supported (this controller speaks {PROTOCOL_VERSION})"
        );
        note(refused, format!("{peer}: {reason}"));
        let _ = writer.send(&refuse(reason)).await;
        writer.close().await;
        return;
    }
    // Compare with every waiting token, without stopping at the first match, so that timing
    // says nothing about which tokens exist.
    let sender = {
        let Ok(mut w) = waiters.lock() else { return };
        let mut found = None;
        for (i, (expected, _)) in w.iter().enumerate() {
            if token_matches(&token, expected) {
                found = Some(i);
            }
        }
        found.map(|i| w.swap_remove(i).1)
    };
    let Some(sender) = sender else {
        let reason = "invalid token".to_string();
        note(refused, format!("{peer}: {reason}"));
        let _ = writer.send(&refuse(reason)).await;
        writer.close().await;
        return;
    };
    if writer.send(&ControllerMessage::Welcome).await.is_err() {
        return;
    }
    let _ = sender.send(AgentConnection {
        reader,
        writer,
        peer,
    });
}
