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

/// An HTTP server with one worker (admin RPC and scrapes are light) and no signal handling
/// of its own (the node's owner decides when to stop), bound to `addr`; returns the server
/// (to spawn or await) and the bound address.
pub(crate) fn http_server(
    addr: SocketAddr,
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(1)
            .disable_signals()
            .bind(addr)?;
    let bound = server.addrs().first().copied().unwrap_or(addr);
    Ok((server.run(), bound))
}

/// A connection's place under the limit, or none (then its requests get 503 and close).
struct Place(Option<ConnectionPermit>);

/// An RPC server ([`http_server`]) whose connections take places from `gate`, shared with
/// the node's other RPC server: HTTP and WebSocket connections count together.
pub(crate) fn rpc_server(
    addr: SocketAddr,
    gate: Arc<ConnectionGate>,
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let limit = gate.limit().saturating_add(ACCEPT_SLACK);
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(1)
            .disable_signals()
            .max_connections(limit)
            .on_connect(move |_, extensions| {
                extensions.insert(Place(gate.admit()));
            })
            .bind(addr)?;
    let bound = server.addrs().first().copied().unwrap_or(addr);
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
