//! An actix-web app that embeds the ethpeer subsystem: a dev-network node runs inside the
//! app's own actix `System`, an actor collects its events, and the app serves
//!
//! - `GET /`: an HTML page listing live peers and the latest transactions seen,
//! - `GET /api/peers`, `GET /api/txs`: the same as JSON,
//! - `POST /rpc`: ethpeer's JSON-RPC, mounted from the library.
//!
//! Ctrl-C disconnects the node's peers with "client quitting", then stops the server.
//!
//! Run: `cargo run --example web_monitor -- [HTTP_ADDR] [P2P_ADDR]` (defaults
//! 127.0.0.1:8080 and 127.0.0.1:30305), then point another node at the enode it prints.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use actix::prelude::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use ethpeer_actors::alloy_primitives::B256;
use ethpeer_actors::api::rpc;
use ethpeer_actors::node::{Direction, Node, NodeBuilder, NodeEvent};
use ethpeer_actors::peer::{Delivery, PeerId};

/// Latest transactions kept for the page.
const LATEST_TXS: usize = 50;

/// A live peer as the page shows it.
#[derive(Clone, Debug, serde::Serialize)]
struct LivePeer {
    id: PeerId,
    addr: SocketAddr,
    direction: Direction,
    version: u8,
    client: String,
}

/// A transaction the node saw first from some peer.
#[derive(Clone, Debug, serde::Serialize)]
struct SeenTx {
    hash: B256,
    from_peer: PeerId,
    delivery: Delivery,
}

/// Collects the node's events into what the page shows.
#[derive(Default)]
struct Activity {
    peers: HashMap<PeerId, LivePeer>,
    txs: VecDeque<SeenTx>,
}

impl Actor for Activity {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Seen events come in bursts (a Transactions message of 100 txs is 100 events);
        // past a full mailbox they are dropped, so leave room.
        ctx.set_mailbox_capacity(ACTIVITY_MAILBOX);
    }
}

/// Events the collector can hold unprocessed.
const ACTIVITY_MAILBOX: usize = 16_384;

impl Handler<NodeEvent> for Activity {
    type Result = ();

    fn handle(&mut self, event: NodeEvent, _ctx: &mut Self::Context) {
        match event {
            NodeEvent::PeerConnected {
                id,
                addr,
                direction,
                version,
                client,
                ..
            } => {
                let version = version as u8;
                self.peers.insert(
                    id,
                    LivePeer {
                        id,
                        addr,
                        direction,
                        version,
                        client,
                    },
                );
            }
            NodeEvent::PeerDisconnected { id, .. } => {
                self.peers.remove(&id);
            }
            NodeEvent::TxSeen {
                hash,
                peer,
                delivery,
                ..
            } => {
                if self.txs.len() == LATEST_TXS {
                    self.txs.pop_back();
                }
                self.txs.push_front(SeenTx {
                    hash,
                    from_peer: peer,
                    delivery,
                });
            }
            _ => {}
        }
    }
}

/// Query: what the page shows.
#[derive(Message)]
#[rtype(result = "Snapshot")]
struct GetSnapshot;

#[derive(Clone, Debug, Default, serde::Serialize, actix::MessageResponse)]
struct Snapshot {
    peers: Vec<LivePeer>,
    txs: Vec<SeenTx>,
}

impl Handler<GetSnapshot> for Activity {
    type Result = Snapshot;

    fn handle(&mut self, _msg: GetSnapshot, _ctx: &mut Self::Context) -> Snapshot {
        let mut peers: Vec<_> = self.peers.values().cloned().collect();
        peers.sort_by_key(|p| p.id);
        Snapshot {
            peers,
            txs: self.txs.iter().cloned().collect(),
        }
    }
}

/// The app's state: the node and the event collector.
#[derive(Clone)]
struct AppState {
    node: Node,
    activity: Addr<Activity>,
}

async fn snapshot(state: &AppState) -> Snapshot {
    state.activity.send(GetSnapshot).await.unwrap_or_default()
}

async fn page(state: web::Data<AppState>) -> HttpResponse {
    let snapshot = snapshot(&state).await;
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ethpeer monitor</title>\
         </head><body><h1>ethpeer monitor</h1><p>node <code>{}</code></p>\
         <h2>Live peers ({})</h2><table><tr><th>id</th><th>address</th><th>direction</th>\
         <th>eth</th><th>client</th></tr>",
        state.node.enode(),
        snapshot.peers.len()
    );
    for peer in &snapshot.peers {
        html.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            peer.id,
            peer.addr,
            peer.direction.as_str(),
            peer.version,
            escape(&peer.client)
        ));
    }
    html.push_str("</table><h2>Latest transactions seen</h2><table><tr><th>hash</th><th>first from</th><th>how</th></tr>");
    for tx in &snapshot.txs {
        html.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{:?}</td></tr>",
            tx.hash, tx.from_peer, tx.delivery
        ));
    }
    html.push_str("</table></body></html>");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// Client ids come from remote peers: never put them in HTML unescaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn api_peers(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(snapshot(&state).await.peers)
}

async fn api_txs(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(snapshot(&state).await.txs)
}

/// Starts the embedded node and the HTTP server; returns the server, its address and the
/// node (for tests and for printing the enode).
async fn start(
    http: SocketAddr,
    p2p: SocketAddr,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr, Node)> {
    let node = NodeBuilder::dev().listen(p2p).start().await?;
    let activity = Activity::default().start();
    node.subscribe(activity.clone().recipient());
    let state = AppState {
        node: node.clone(),
        activity,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/", web::get().to(page))
            .route("/api/peers", web::get().to(api_peers))
            .route("/api/txs", web::get().to(api_txs))
            .service(web::scope("/rpc").configure(rpc::configure(state.node.clone())))
    })
    .workers(1)
    // Ctrl-C is ours: peers get "client quitting" before the server stops.
    .disable_signals()
    .bind(http)?;
    let bound = server.addrs().first().copied().unwrap_or(http);
    Ok((server.run(), bound, node))
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut args = std::env::args().skip(1);
    let parse = |arg: Option<String>, default: &str| -> std::io::Result<SocketAddr> {
        arg.as_deref()
            .unwrap_or(default)
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))
    };
    let http = parse(args.next(), "127.0.0.1:8080")?;
    let p2p = parse(args.next(), "127.0.0.1:30305")?;
    actix_rt::System::new().block_on(async move {
        let (server, bound, node) = start(http, p2p).await?;
        println!("{}", node.enode());
        println!("monitor on http://{bound}/");
        let handle = server.handle();
        actix_rt::spawn(server);
        tokio::signal::ctrl_c().await?;
        node.shutdown(std::time::Duration::from_secs(3)).await;
        handle.stop(true).await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};
    use ethpeer_actors::eth::genesis;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response.split_once("\r\n\r\n").unwrap().1.to_string()
    }

    /// Polls the app over HTTP until `body` satisfies `done` (the app offers no push).
    async fn get_until(addr: SocketAddr, path: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let body = get(addr, path).await;
            if done(&body) {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "{path}: {body}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    #[actix_rt::test]
    async fn the_page_lists_a_live_peer_and_the_tx_it_sent() {
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (server, http, node) = start(local, local).await.unwrap();
        actix_rt::spawn(server);
        // Another dev node connects to the embedded one and sends a transaction.
        let other = NodeBuilder::dev().listen(local).start().await.unwrap();
        other.dial(node.local_addr(), node.node_id()).await.unwrap();
        let other_id = other.node_id().to_string();
        get_until(http, "/api/peers", |body| body.contains(&other_id)).await;

        let tx = genesis::dev_transfer(0, 0, Address::repeat_byte(1), U256::from(1)).unwrap();
        let hash = tx.hash().to_string();
        assert!(other.submit_transactions(vec![tx])[0].is_ok());

        let page = get_until(http, "/", |body| body.contains(&hash)).await;
        assert!(page.contains("Live peers (1)"), "{page}");
        assert!(page.contains(&other_id), "{page}");
        let txs: serde_json::Value = serde_json::from_str(&get(http, "/api/txs").await).unwrap();
        assert_eq!(txs[0]["hash"], hash);
        assert_eq!(txs[0]["from_peer"], other_id);
    }
}
