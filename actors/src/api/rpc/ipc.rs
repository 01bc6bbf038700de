//! JSON-RPC over a Unix socket (geth's IPC endpoint, what `geth attach <datadir>/…ipc`
//! talks to): JSON values back to back in both directions, every namespace served, with
//! subscriptions ([`super::stream`]). The socket file is owner-only (mode 0600), so only
//! the node's user reaches it. Each connection answers one request at a time, takes at
//! most [`MAX_REQUEST_SIZE`] of an unfinished request, and is closed when a write misses
//! the write deadline (a client that stops reading loses its own connection).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::stream::StreamConnection;
use super::{RpcAccess, RpcError, MAX_REQUEST_SIZE};
use crate::feed::hub::{notification_buffer, SUBSCRIBER_BUFFER};
use crate::node::Node;

/// geth's IPC file name is `geth.ipc` in the data directory; ours is this.
pub const DEFAULT_IPC_FILE: &str = "ethpeer.ipc";

/// Longest Unix socket path (`sun_path` is 108 bytes on Linux, with its terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// Open IPC connections at most (ours: the socket is owner-only, so this bounds only the
/// operator's own tools; reth's default for its IPC server is 100 as well).
pub const MAX_IPC_CONNECTIONS: usize = 100;

/// Bytes read from the socket at once.
const READ_CHUNK: usize = 64 * 1024;

/// Why the IPC endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// The path does not fit a Unix socket address.
    #[error("IPC path {path} is {len} bytes; a Unix socket path has at most {MAX_SOCKET_PATH}")]
    PathTooLong {
        /// The path.
        path: String,
        /// Its length.
        len: usize,
    },
    /// Another process serves this socket.
    #[error("IPC path {0} is in use by another running process")]
    InUse(String),
    /// Binding or setting permissions failed.
    #[error("IPC path {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A bound IPC endpoint; the socket file is removed when it is dropped.
#[derive(Debug)]
pub struct IpcEndpoint {
    listener: UnixListener,
    path: PathBuf,
}

impl IpcEndpoint {
    /// Binds `path` (owner-only). A stale socket file left by a process that died is
    /// replaced; one that still answers is refused.
    pub fn bind(path: &Path) -> Result<Self, IpcError> {
        let shown = path.display().to_string();
        let len = path.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(IpcError::PathTooLong { path: shown, len });
        }
        let io = |source| IpcError::Io {
            path: shown.clone(),
            source,
        };
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(IpcError::InUse(shown));
            }
            std::fs::remove_file(path).map_err(io)?;
        }
        let listener = std::os::unix::net::UnixListener::bind(path).map_err(io)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        let listener = UnixListener::from_std(listener).map_err(io)?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Where it listens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections until the task is dropped; run it on an arbiter of its own (see
    /// [`serve_on_arbiter`]). Every namespace is served, within `access.limits`.
    pub async fn serve(self, node: Node, access: RpcAccess) {
        let open = Arc::new(AtomicUsize::new(0));
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                continue;
            };
            if open.load(Ordering::Relaxed) >= MAX_IPC_CONNECTIONS {
                log::warn!("IPC: {MAX_IPC_CONNECTIONS} connections open, refusing one more");
                continue;
            }
            open.fetch_add(1, Ordering::Relaxed);
            let rpc = StreamConnection::new(node.clone(), access.clone());
            let open = open.clone();
            actix::spawn(async move {
                serve_connection(rpc, stream).await;
                open.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
}

impl Drop for IpcEndpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts `endpoint` on a new arbiter (its own thread: IPC callers never run on the
/// coordinating thread); answers the arbiter, whose stop ends the endpoint.
pub fn serve_on_arbiter(endpoint: IpcEndpoint, node: Node, access: RpcAccess) -> actix::Arbiter {
    let arbiter = actix::Arbiter::new();
    arbiter.spawn(endpoint.serve(node, access));
    arbiter
}

/// One connection: requests in, answers and notifications out, until either side closes,
/// a request breaks the size limit or is not JSON, or a write misses its deadline.
async fn serve_connection(rpc: StreamConnection, stream: UnixStream) {
    let (mut reader, mut writer) = stream.into_split();
    let (sink, mut notes) = notification_buffer(SUBSCRIBER_BUFFER);
    let deadline = rpc.access().limits.ws_write_timeout;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let outgoing: Vec<String> = tokio::select! {
            read = reader.read(&mut chunk) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    pending.extend_from_slice(&chunk[..n]);
                    match take_requests(&mut pending) {
                        Ok(requests) => {
                            let mut answers = Vec::new();
                            for request in requests {
                                answers.extend(rpc.answer(request.to_string().as_bytes(), &sink).await);
                            }
                            answers
                        }
                        Err(refusal) => {
                            let _ = write_line(&mut writer, &refusal, deadline).await;
                            break;
                        }
                    }
                }
            },
            Some(note) = notes.recv() => vec![note.to_json()],
        };
        let mut failed = false;
        for text in outgoing {
            if write_line(&mut writer, &text, deadline).await.is_err() {
                failed = true;
                break;
            }
        }
        if failed {
            log::debug!(
                "IPC connection {}: write failed or missed its deadline",
                rpc.id
            );
            break;
        }
    }
    rpc.closed();
}

/// The complete JSON values at the front of `pending`, removed from it. An unfinished
/// value stays for the next read unless it is already past [`MAX_REQUEST_SIZE`]; bytes
/// that are not JSON end the connection. The error is the answer to send before closing.
fn take_requests(pending: &mut Vec<u8>) -> Result<Vec<Value>, String> {
    let mut requests = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(pending).into_iter::<Value>();
    let mut consumed = 0;
    loop {
        match stream.next() {
            Some(Ok(value)) => {
                consumed = stream.byte_offset();
                requests.push(value);
            }
            Some(Err(error)) if error.is_eof() => break,
            Some(Err(error)) => {
                let refusal = RpcError::new(-32700, format!("parse error: {error}"));
                return Err(error_text(&refusal));
            }
            None => break,
        }
    }
    pending.drain(..consumed);
    if pending.len() > MAX_REQUEST_SIZE {
        let refusal = RpcError::new(
            super::stream::LIMIT_EXCEEDED,
            format!("request exceeds {MAX_REQUEST_SIZE} bytes"),
        );
        return Err(error_text(&refusal));
    }
    Ok(requests)
}

fn error_text(error: &RpcError) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": Value::Null,
        "error": error.to_json(),
    })
    .to_string()
}

/// Writes one message and a newline (geth's encoder ends each value so) within `deadline`.
async fn write_line(
    writer: &mut tokio::net::unix::OwnedWriteHalf,
    text: &str,
    deadline: std::time::Duration,
) -> Result<(), ()> {
    let write = async {
        writer.write_all(text.as_bytes()).await?;
        writer.write_all(b"\n").await
    };
    match tokio::time::timeout(deadline, write).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_split_at_value_boundaries_and_partial_ones_wait() {
        let mut pending = br#"{"id":1} [{"id":2}]{"id":"#.to_vec();
        let requests = take_requests(&mut pending).unwrap();
        let texts: Vec<String> = requests.iter().map(Value::to_string).collect();
        assert_eq!(texts, [r#"{"id":1}"#, r#"[{"id":2}]"#]);
        assert_eq!(pending, br#"{"id":"#);
        pending.extend_from_slice(b"3}\n");
        let requests = take_requests(&mut pending).unwrap();
        assert_eq!(requests.len(), 1);
        assert!(pending.iter().all(u8::is_ascii_whitespace));
    }

    #[test]
    fn garbage_and_oversized_requests_are_refused() {
        let mut garbage = b"{\"id\":1} nonsense".to_vec();
        let refusal = take_requests(&mut garbage).unwrap_err();
        assert!(refusal.contains("-32700"), "{refusal}");
        let mut huge = b"[\"".to_vec();
        huge.resize(MAX_REQUEST_SIZE + 10, b'a');
        let refusal = take_requests(&mut huge).unwrap_err();
        assert!(refusal.contains("-32005"), "{refusal}");
    }

    #[test]
    fn paths_too_long_and_live_sockets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("x".repeat(120));
        assert!(matches!(
            IpcEndpoint::bind(&long),
            Err(IpcError::PathTooLong { .. })
        ));
        let path = dir.path().join("t.ipc");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let first = IpcEndpoint::bind(&path).unwrap();
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert!(matches!(IpcEndpoint::bind(&path), Err(IpcError::InUse(_))));
            drop(first);
            assert!(!path.exists(), "the socket file goes with the endpoint");
            // A stale file (no listener) is replaced.
            std::fs::write(&path, b"").unwrap();
            let again = IpcEndpoint::bind(&path).unwrap();
            assert_eq!(again.path(), path);
        });
    }
}
