//! The node's HTTP servers (admin JSON-RPC, Prometheus metrics) on actix-web.

use std::net::SocketAddr;

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
