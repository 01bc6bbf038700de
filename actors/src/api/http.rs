//! The node's HTTP servers (JSON-RPC over HTTP and WebSocket, Prometheus metrics) on
//! actix-web, and the per-connection place under `--rpc.max-connections`.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::HttpResponse;

use super::rpc::limits::{ConnectionGate, ConnectionPermit};

/// Sockets a server accepts beyond the RPC connection limit before it stops accepting:
/// room to answer the excess 503 and close it (an excess socket that sends nothing is
/// closed by actix-web's 5 s request timeout).
pub const ACCEPT_SLACK: usize = 64;

/// Where a server listens: an address to bind, or a socket the caller bound already (the
/// binary binds every listener before it writes anything).
#[derive(Debug)]
pub enum Listen {
    /// Bind this address.
    Addr(SocketAddr),
    /// Serve this bound socket.
    Bound(std::net::TcpListener),
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Self {
        Self::Addr(addr)
    }
}

impl From<std::net::TcpListener> for Listen {
    fn from(listener: std::net::TcpListener) -> Self {
        Self::Bound(listener)
    }
}

/// Binds or adopts a [`Listen`] for an actix-web server (a macro: the server's type has
/// four parameters that only the call site knows).
macro_rules! listen_on {
    ($server:expr, $listen:expr) => {
        match $listen {
            Listen::Addr(addr) => $server.bind(addr),
            Listen::Bound(listener) => $server.listen(listener),
        }
    };
}

/// An HTTP server with one worker (admin RPC and scrapes are light) and no signal handling
/// of its own (the node's owner decides when to stop), on `listen`; returns the server (to
/// spawn or await) and the bound address.
pub(crate) fn http_server(
    listen: Listen,
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(1)
            .disable_signals();
    let server = listen_on!(server, listen)?;
    let bound = first_addr(server.addrs())?;
    Ok((server.run(), bound))
}

fn first_addr(addrs: Vec<SocketAddr>) -> std::io::Result<SocketAddr> {
    addrs
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("the server listens nowhere"))
}

/// A connection's place under the limit, or none (then its requests get 503 and close).
struct Place(Option<ConnectionPermit>);

/// An RPC server ([`http_server`]) whose connections take places from `gate`, shared with
/// the node's other RPC server: HTTP and WebSocket connections count together. With
/// `keep_socket` each connection also keeps a duplicate of its socket
/// ([`crate::api::rpc::ws::RawSocket`]) for the WebSocket server's direct writes.
pub(crate) fn rpc_server(
    listen: Listen,
    gate: Arc<ConnectionGate>,
    write_timeout: std::time::Duration,
    keep_socket: bool,
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let limit = gate.limit().saturating_add(ACCEPT_SLACK);
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(1)
            .disable_signals()
            .max_connections(limit)
            .on_connect(move |connection, extensions| {
                let stream = connection.downcast_ref::<actix_web::rt::net::TcpStream>();
                if let Some(stream) = stream {
                    // A client that stops reading: once our unsent data is older than the
                    // write deadline the kernel closes the socket, and with it frees the
                    // connection's place (actix-http would wait on the write forever).
                    let socket = socket2::SockRef::from(stream);
                    if let Err(error) = socket.set_tcp_user_timeout(Some(write_timeout)) {
                        log::debug!("TCP_USER_TIMEOUT not set: {error}");
                    }
                    // Notifications are small writes in a stream: with Nagle's algorithm
                    // each waits for the ACK of the previous one, which a client's delayed
                    // ACK holds up to 40 ms (measured: seen-arrival p50 17 ms at 1,000 tx/s
                    // with it, against 0.2 ms at 100 tx/s). geth's and reth's servers set
                    // TCP_NODELAY too (Go's default; hyper's option).
                    if let Err(error) = stream.set_nodelay(true) {
                        log::debug!("TCP_NODELAY not set: {error}");
                    }
                }
                if let (true, Some(stream)) = (keep_socket, stream) {
                    use std::os::fd::AsFd;
                    match stream.as_fd().try_clone_to_owned() {
                        Ok(fd) => {
                            let socket = Arc::new(std::net::TcpStream::from(fd));
                            extensions.insert(crate::api::rpc::ws::RawSocket(socket));
                        }
                        Err(error) => log::debug!("socket not kept: {error}"),
                    }
                }
                let ip = stream
                    .and_then(|stream| stream.peer_addr().ok())
                    .map(|addr| addr.ip().to_canonical());
                extensions.insert(Place(gate.admit(ip)));
            });
    let server = listen_on!(server, listen)?;
    let bound = first_addr(server.addrs())?;
    Ok((server.run(), bound))
}

/// The 503 for a request on a connection that found no place (closing it), if it did not.
pub(crate) fn over_connection_limit(request: &actix_web::HttpRequest) -> Option<HttpResponse> {
    match request.conn_data::<Place>() {
        Some(Place(None)) => Some(
            HttpResponse::ServiceUnavailable()
                .force_close()
                .body("too many connections"),
        ),
        // A place, or a server without a gate (an embedder's app).
        _ => None,
    }
}
