//! The live page (`--http.dashboard`): `GET /dashboard` on the HTTP JSON-RPC server serves
//! one self-contained HTML file (`dashboard.html`: no external scripts, fonts or images)
//! that opens the node's WebSocket and draws peers by client, tx arrivals per second, the
//! peers that deliver first, announcement-to-delivery waits and the latest arrivals from
//! `ethpeer_subscribe("txArrivals")` and `ethpeer_status`.

use std::net::{IpAddr, SocketAddr};

use actix_web::{http::header, web, HttpRequest, HttpResponse};

use super::rpc::RpcAccess;

/// The page, with `__WS_PORT__` where the WebSocket server's port goes.
const PAGE: &str = include_str!("dashboard.html");

/// The page for a WebSocket server on `ws_port` (the page connects to the host it was
/// loaded from, at that port).
pub fn page(ws_port: u16) -> String {
    PAGE.replace("__WS_PORT__", &ws_port.to_string())
}

/// The browser origins the page runs under when the HTTP server is bound at `http`: what
/// the WebSocket server must allow (`--ws.origins`) for the page to connect. Loopback names
/// and, for a specific address, that address; a page loaded through another host name
/// needs that name in `--ws.origins`.
pub fn origins(http: SocketAddr) -> Vec<String> {
    let port = http.port();
    let mut origins = vec![
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
    ];
    match http.ip() {
        ip if ip.is_unspecified() || ip.is_loopback() => {}
        IpAddr::V4(ip) => origins.push(format!("http://{ip}:{port}")),
        IpAddr::V6(ip) => origins.push(format!("http://[{ip}]:{port}")),
    }
    origins
}

/// `GET /dashboard`: the page, under the endpoint's Host check (as its JSON-RPC), with a
/// policy that lets it run its own inline code and reach WebSockets only.
pub(crate) async fn serve(request: HttpRequest, access: web::Data<RpcAccess>) -> HttpResponse {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(port) = access.dashboard else {
        return HttpResponse::NotFound().finish();
    };
    if !access.allows_host(host) {
        return HttpResponse::Forbidden().body("invalid host specified");
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src ws: wss:; img-src 'self'",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page(port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_port_and_loads_nothing_from_elsewhere() {
        let html = page(8546);
        assert!(html.contains("const WS_PORT = \"8546\""));
        assert!(!html.contains("__WS_PORT__"));
        for external in ["src=\"http", "href=\"http", "@import", "<link"] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn origins_cover_loopback_names_and_a_specific_address() {
        let local = origins("127.0.0.1:8545".parse().expect("addr"));
        assert!(local.contains(&"http://localhost:8545".to_string()));
        assert!(local.contains(&"http://127.0.0.1:8545".to_string()));
        assert_eq!(local.len(), 3);
        let lan = origins("192.168.1.5:8545".parse().expect("addr"));
        assert!(lan.contains(&"http://192.168.1.5:8545".to_string()));
    }
}
