//! JSON-RPC 2.0 over HTTP (actix-web) with the methods people expect of a geth node's
//! `admin`, `eth`, `net`, `txpool` and `web3` namespaces, as far as a node without
//! execution can answer them: `admin_nodeInfo`, `admin_peers`, `admin_addPeer`,
//! `admin_removePeer`; `eth_sendRawTransaction` (refusals in geth's words, `errors`),
//! `eth_getTransactionByHash` (pool and followed blocks), `eth_getTransactionCount`,
//! `eth_getBlockByNumber`/`ByHash`, `eth_gasPrice`, `eth_maxPriorityFeePerGas`
//! (`gas_price`), `eth_syncing`, `eth_blockNumber`, `eth_chainId` (`eth`); `txpool_*`
//! (`txpool`); `net_peerCount`, `net_version`, `net_listening`, `web3_clientVersion`;
//! `rpc_modules` on every endpoint. Shapes come from
//! alloy's RPC types (`shapes`). Batches are supported; malformed requests get the
//! JSON-RPC error codes (-32700 parse, -32600 invalid request, -32601 unknown method,
//! -32602 invalid params, -32000 refused by the node).

use std::net::SocketAddr;

use actix_web::http::{header, Method};
use actix_web::{web, HttpResponse};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{hex, keccak256};
use serde_json::{json, Value};

mod access;
mod errors;
mod eth;
mod fee_history;
pub mod gas_price;
#[cfg(unix)]
pub mod ipc;
pub mod limits;
mod receipts;
pub mod state;
pub mod stream;
mod txpool;
pub mod ws;

pub use access::{default_origins, split_list, RpcAccess, ALL_APIS, DEFAULT_APIS, DEFAULT_VHOSTS};
pub use errors::{geth_text, is_geth_pool_text, pool_rpc_error, GETH_POOL_TEXTS, POOL_ERROR_CODE};

use crate::discovery::enode::{Enode, EnodeError};
use crate::eth::PooledTx;
use crate::feed::events::Direction;
use crate::node::manager::{ConnectedPeers, RemovePeer};
use crate::node::Node;

/// Largest request body accepted: geth's `maxRequestContentLength` (5 MiB).
pub const MAX_REQUEST_SIZE: usize = 5 * 1024 * 1024;

pub use limits::{ConnectionGate, RpcLimits, BATCH_REQUEST_LIMIT as MAX_BATCH};

/// A JSON-RPC error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The code.
    pub code: i64,
    /// The message.
    pub message: String,
    /// Extra data (a revert's return data, as hex).
    pub data: Option<String>,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The error as the JSON-RPC `error` object.
    pub(crate) fn to_json(&self) -> Value {
        match &self.data {
            Some(data) => json!({"code": self.code, "message": self.message, "data": data}),
            None => json!({"code": self.code, "message": self.message}),
        }
    }

    pub(crate) fn params(message: impl Into<String>) -> Self {
        Self::new(-32602, message)
    }
}

/// Answers one HTTP body with every namespace served ([`RpcAccess::all`]): a call or a
/// batch. `None` when nothing is to be sent back (a batch of notifications only).
pub async fn handle_body(node: &Node, body: &[u8]) -> Option<Value> {
    handle_body_with(node, &RpcAccess::all(), body).await
}

/// Answers one body serving the namespaces `access` allows, as a JSON value (see
/// [`answer_body`], which the servers use).
pub async fn handle_body_with(node: &Node, access: &RpcAccess, body: &[u8]) -> Option<Value> {
    let text = answer_body(node, access, body).await?;
    serde_json::from_str(&text).ok()
}

/// Answers one body (a call or a batch) as JSON text, within `access.limits`: a batch of
/// more than `batch_request_limit` calls is refused whole, and once the answers so far
/// exceed `batch_response_max_size` bytes, every call not yet answered gets geth's
/// "response too large" (-32003) instead (a single answer over it too). `None` when
/// nothing is to be sent back (notifications only).
pub async fn answer_body(node: &Node, access: &RpcAccess, body: &[u8]) -> Option<String> {
    let request: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            let error = RpcError::new(-32700, format!("parse error: {error}"));
            return Some(error_response(Value::Null, error).to_string());
        }
    };
    let limits = &access.limits;
    match request {
        Value::Array(calls) if calls.is_empty() => {
            let error = RpcError::new(-32600, "empty batch");
            Some(error_response(Value::Null, error).to_string())
        }
        Value::Array(calls) if calls.len() > limits.batch_request_limit => {
            let error = RpcError::new(-32600, limits::BATCH_TOO_LARGE_TEXT);
            Some(error_response(Value::Null, error).to_string())
        }
        Value::Array(calls) => answer_batch(node, access, calls).await,
        call => {
            let answer = handle_call(node, access, call).await?;
            let text = answer.to_string();
            match text.len() > limits.batch_response_max_size {
                true => Some(too_large(answer.get("id").cloned().unwrap_or(Value::Null))),
                false => Some(text),
            }
        }
    }
}

/// The answers of a batch as one JSON array, spending the response budget as geth does:
/// the answer that crosses it is kept, the calls after it get "response too large".
async fn answer_batch(node: &Node, access: &RpcAccess, calls: Vec<Value>) -> Option<String> {
    let budget = access.limits.batch_response_max_size;
    let mut spent = 0usize;
    let mut out = String::from("[");
    for call in calls {
        let text = if spent > budget {
            // Notifications get nothing; a call that is not an object gets a null id.
            match &call {
                Value::Object(object) => match object.get("id") {
                    Some(id) => too_large(id.clone()),
                    None => continue,
                },
                _ => too_large(Value::Null),
            }
        } else {
            match handle_call(node, access, call).await {
                Some(answer) => answer.to_string(),
                None => continue,
            }
        };
        spent = spent.saturating_add(text.len());
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&text);
    }
    (out.len() > 1).then(|| out + "]")
}

/// geth's answer to a call past the response budget.
fn too_large(id: Value) -> String {
    let error = RpcError::new(limits::RESPONSE_TOO_LARGE, limits::RESPONSE_TOO_LARGE_TEXT);
    error_response(id, error).to_string()
}

/// Answers one call object; `None` for a notification (no `id`).
async fn handle_call(node: &Node, access: &RpcAccess, call: Value) -> Option<Value> {
    let Value::Object(call) = call else {
        return Some(error_response(
            Value::Null,
            RpcError::new(-32600, "request must be an object"),
        ));
    };
    let id = call.get("id").cloned();
    if matches!(
        id,
        Some(Value::Object(_) | Value::Array(_) | Value::Bool(_))
    ) {
        return Some(error_response(
            Value::Null,
            RpcError::new(
                -32600,
                "invalid request: id must be a string, number or null",
            ),
        ));
    }
    let method = call.get("method").and_then(Value::as_str);
    let version_ok = call.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let (Some(method), true) = (method, version_ok) else {
        return Some(error_response(
            id.unwrap_or(Value::Null),
            RpcError::new(
                -32600,
                "invalid request: needs jsonrpc \"2.0\" and a method",
            ),
        ));
    };
    let params = match call.get("params") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(params)) => Ok(params.clone()),
        Some(_) => Err(RpcError::params("params must be an array")),
    };
    let result = match params {
        // geth serves `rpc_modules` on every endpoint: what this endpoint serves.
        Ok(_) if method == "rpc_modules" => Ok(modules(access)),
        // geth answers a namespace it does not serve as an unknown method.
        Ok(_) if !access.allows(method) => Err(unknown_method(method)),
        Ok(params) => dispatch(node, method, &params).await,
        Err(error) => Err(error),
    };
    // A notification (no id) is executed but never answered, not even with an error.
    let id = id?;
    Some(match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => error_response(id, error),
    })
}

/// `rpc_modules`: each namespace served, with geth's version string (`geth attach` builds
/// its console objects from this).
fn modules(access: &RpcAccess) -> Value {
    let mut modules = serde_json::Map::new();
    for api in access.apis.iter().map(String::as_str).chain(["rpc"]) {
        modules.insert(api.to_string(), Value::String("1.0".into()));
    }
    Value::Object(modules)
}

/// geth's answer for a method it does not serve (-32601).
fn unknown_method(method: &str) -> RpcError {
    RpcError::new(
        -32601,
        format!("the method {method} does not exist/is not available"),
    )
}

fn error_response(id: Value, error: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()})
}

pub(crate) fn quantity(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

pub(crate) fn string_param<'a>(
    params: &'a [Value],
    index: usize,
    name: &str,
) -> Result<&'a str, RpcError> {
    params
        .get(index)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::params(format!("missing {name} (string parameter {index})")))
}

fn enode_param(params: &[Value]) -> Result<Enode, RpcError> {
    string_param(params, 0, "enode URL")?
        .parse()
        .map_err(|error: EnodeError| RpcError::params(error.to_string()))
}

/// `ethpeer_status`: what the status line says (peers by direction and client, the pool,
/// the head), for pages and monitors; nothing an attacker could use beyond `net_peerCount`
/// and `txpool_status` (no addresses or ids).
async fn ethpeer_status(node: &Node) -> Value {
    let status = crate::node::status::Status::of(node).await;
    json!({
        "peers": status.inbound + status.outbound,
        "inbound": status.inbound,
        "outbound": status.outbound,
        "clients": status.clients,
        "pool": {"pending": status.pool.0, "queued": status.pool.1},
        "head": status.followed_head.unwrap_or(status.stored_head).max(status.stored_head),
    })
}

async fn dispatch(node: &Node, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    match method {
        "admin_nodeInfo" => Ok(node_info(node)),
        "ethpeer_status" => Ok(ethpeer_status(node).await),
        "admin_datadir" => match &node.datadir {
            Some(dir) => Ok(Value::String(dir.display().to_string())),
            None => Err(RpcError::new(-32000, "this node has no data directory")),
        },
        "admin_peers" => peers(node).await,
        "admin_addPeer" => {
            // geth answers true for any valid URL, whether or not the peer was known.
            let enode = enode_param(params)?;
            node.add_peer(enode).await;
            Ok(Value::Bool(true))
        }
        "admin_removePeer" => {
            let enode = enode_param(params)?;
            let known = node
                .manager
                .send(RemovePeer(enode.id))
                .await
                .unwrap_or(false);
            Ok(Value::Bool(known))
        }
        // geth's answer on a transport without notifications (HTTP).
        "eth_subscribe" | "eth_unsubscribe" | "ethpeer_subscribe" | "ethpeer_unsubscribe" => {
            Err(RpcError::new(-32601, "notifications not supported"))
        }
        "eth_sendRawTransaction" => send_raw_transaction(node, params).await,
        "eth_getTransactionByHash" => eth::get_transaction_by_hash(node, params),
        "eth_getTransactionCount" => match eth::get_transaction_count(node, params) {
            // A past block: its state's nonce, where that state is kept.
            Err(error) if error.message.starts_with("historical state") => {
                state::state_nonce(node, params).await
            }
            answer => answer,
        },
        "eth_getBalance" => state::get_balance(node, params).await,
        "eth_call" => state::call(node, params).await,
        "eth_estimateGas" => state::estimate_gas(node, params).await,
        "eth_getTransactionReceipt" => receipts::get_transaction_receipt(node, params),
        "eth_getBlockReceipts" => receipts::get_block_receipts(node, params),
        "eth_getLogs" => receipts::get_logs(node, params),
        "eth_feeHistory" => fee_history::fee_history(node, params),
        "eth_getRawTransactionByHash" => receipts::get_raw_transaction_by_hash(node, params),
        "eth_getCode" => state::get_code(node, params).await,
        "eth_getStorageAt" => state::get_storage_at(node, params).await,
        // geth without a keystore: no accounts.
        "eth_accounts" => Ok(Value::Array(Vec::new())),
        "eth_getBlockByNumber" => eth::get_block_by_number(node, params),
        "eth_getBlockByHash" => eth::get_block_by_hash(node, params),
        "eth_gasPrice" => Ok(eth::gas_price(node)),
        "eth_maxPriorityFeePerGas" => Ok(Value::String(format!("{:#x}", eth::suggested_tip(node)))),
        "eth_syncing" => Ok(eth::syncing(node)),
        "eth_blockNumber" => Ok(quantity(eth::latest_number(node))),
        "eth_chainId" => Ok(quantity(node.chain_id)),
        "txpool_status" => txpool::status(node),
        "txpool_content" => txpool::content(node),
        "txpool_contentFrom" => txpool::content_from(node, params),
        "txpool_inspect" => txpool::inspect(node),
        "net_peerCount" => {
            let peers = node.manager.send(ConnectedPeers).await.unwrap_or_default();
            Ok(quantity(peers.len() as u64))
        }
        "net_version" => Ok(Value::String(node.network_id.to_string())),
        // geth answers whether its p2p server runs: ours runs while the node does.
        "net_listening" => Ok(Value::Bool(node.manager.connected())),
        "web3_clientVersion" => Ok(Value::String(node.client_id.clone())),
        other => Err(unknown_method(other)),
    }
}

/// geth's shape: `id` is the node's v4 id (keccak of the public key), `enode` the URL.
fn node_info(node: &Node) -> Value {
    let enode = node.enode();
    let head = node.store.head();
    let genesis = node
        .store
        .header_by_number(0)
        .map(|h| h.hash_slow())
        .unwrap_or_default();
    // Without discovery there is no record and no discovery port (geth says 0 too).
    let (record, discovery_port) = match &node.discovery {
        Some(discovery) => (Some(discovery.record().to_base64()), discovery.port()),
        None => (None, 0),
    };
    json!({
        "id": hex::encode(keccak256(enode.id)),
        "name": node.client_id,
        "enode": node.enode_url(),
        "enr": record,
        "ip": enode.addr.ip().to_string(),
        "ports": {"discovery": discovery_port, "listener": enode.addr.port()},
        "listenAddr": enode.addr.to_string(),
        "protocols": {"eth": {
            "network": node.network_id,
            "genesis": genesis,
            "head": head.hash_slow(),
            "headNumber": head.number,
            "versions": node.eth_versions().iter().map(|v| *v as u8).collect::<Vec<_>>(),
            "forkId": format!("{:#010x}", u32::from_be_bytes(node.status().fork_id().hash.0)),
        }},
    })
}

async fn peers(node: &Node) -> Result<Value, RpcError> {
    let peers = node
        .manager
        .send(ConnectedPeers)
        .await
        .map_err(|_| RpcError::new(-32000, "node is shutting down"))?;
    Ok(Value::Array(
        peers
            .into_iter()
            .map(|peer| {
                let session = &peer.session;
                json!({
                    "id": hex::encode(keccak256(session.enode.id)),
                    "enode": session.enode.to_string(),
                    "name": session.client,
                    "caps": session.caps,
                    "network": {
                        "remoteAddress": session.enode.addr.to_string(),
                        "localAddress": session.local.to_string(),
                        "inbound": session.direction == Direction::Inbound,
                        "trusted": peer.trusted,
                        "static": peer.is_static,
                    },
                    // Not in geth: how the peer was found (static, trusted, discv4, inbound).
                    "found": peer.found.as_str(),
                    "protocols": {"eth": {"version": session.version as u8}},
                })
            })
            .collect(),
    ))
}

/// `eth_sendRawTransaction`, cheapest checks first: decode, then everything that needs no
/// KZG work (already known, chain id, blob count, sidecar shape, size, fees, signature,
/// nonce and balance: [`ValidatingTxPool::precheck`]); only then is a version-0 blob
/// sidecar given cell proofs, on the blocking pool ([`convert_sidecar`]), never on the
/// server's worker; the pool then runs its full checks.
///
/// [`ValidatingTxPool::precheck`]: crate::txs::pool::ValidatingTxPool::precheck
async fn send_raw_transaction(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let raw = string_param(params, 0, "raw transaction")?;
    let bytes = hex::decode(raw).map_err(|_| RpcError::params("raw transaction is not hex"))?;
    // The RPC form is the network form: blob txs come with their sidecar.
    let mut slice = bytes.as_slice();
    let mut tx = PooledTx::decode_2718(&mut slice)
        .map_err(|error| RpcError::new(-32000, format!("invalid transaction: {error}")))?;
    if !slice.is_empty() {
        return Err(RpcError::new(-32000, "invalid transaction: trailing bytes"));
    }
    drop(bytes);
    node.pool
        .precheck(&tx)
        .map_err(|error| pool_rpc_error(&error))?;
    // A legacy blob sidecar gets cell proofs (as geth's eth_sendRawTransaction converts it):
    // the pool takes only version 1, which eth/72 peers can fetch cells of.
    if matches!(&tx, PooledTx::Eip4844(signed) if signed.tx().sidecar.as_eip7594().is_none()) {
        tx = convert_sidecar(tx).await?;
    }
    match node.pool.add(vec![tx], None).pop() {
        Some(Ok(hash)) => Ok(Value::String(hash.to_string())),
        Some(Err(error)) => Err(pool_rpc_error(&error)),
        None => Err(RpcError::new(-32000, "transaction not processed")),
    }
}

/// Sidecar conversions (cell proofs of up to `max_blobs_per_tx` blobs, about 0.3 s each
/// blob) running at once: ours, one per core of the machine we size for (2), so that
/// block and peer work keep the rest.
pub const MAX_SIDECAR_CONVERSIONS: usize = 2;

/// Conversions waiting for a place at most; further calls are refused at once ("busy")
/// rather than queued with their blobs held in memory.
pub const MAX_SIDECAR_CONVERSIONS_WAITING: usize = 8;

static CONVERSIONS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_SIDECAR_CONVERSIONS);
static CONVERSIONS_WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Gives a blob tx's version-0 sidecar cell proofs (EIP-7594) on tokio's blocking pool,
/// at most [`MAX_SIDECAR_CONVERSIONS`] at once.
async fn convert_sidecar(tx: PooledTx) -> Result<PooledTx, RpcError> {
    use std::sync::atomic::Ordering;
    let busy = || RpcError::new(-32000, "too many blob sidecar conversions in progress");
    if CONVERSIONS_WAITING.fetch_add(1, Ordering::Relaxed) >= MAX_SIDECAR_CONVERSIONS_WAITING {
        CONVERSIONS_WAITING.fetch_sub(1, Ordering::Relaxed);
        return Err(busy());
    }
    let permit = CONVERSIONS.acquire().await;
    CONVERSIONS_WAITING.fetch_sub(1, Ordering::Relaxed);
    let _permit = permit.map_err(|_| busy())?;
    let converted = tokio::task::spawn_blocking(move || {
        let PooledTx::Eip4844(mut signed) = tx else {
            return Ok(tx);
        };
        let sidecar = &mut signed.tx_mut().sidecar;
        *sidecar = sidecar.clone().try_convert_into_eip7594()?;
        Ok(PooledTx::Eip4844(signed))
    })
    .await
    .map_err(|_| RpcError::new(-32000, "blob sidecar conversion failed"))?;
    converted.map_err(|error: c_kzg::Error| {
        RpcError::new(-32000, format!("blob sidecar conversion failed: {error}"))
    })
}

/// Serves JSON-RPC at `POST /` on `addr` (one worker) with every namespace (the `--rpc`
/// alias). Returns the server and the bound address.
pub fn server(
    node: Node,
    addr: impl Into<super::http::Listen>,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    server_with(node, addr, RpcAccess::all())
}

/// Serves JSON-RPC at `POST /` on `addr` as `access` allows (`--http.*` flags).
pub fn server_with(
    node: Node,
    addr: impl Into<super::http::Listen>,
    access: RpcAccess,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let (gate, timeout) = (
        access.limits.connections.clone(),
        access.limits.ws_write_timeout,
    );
    super::http::rpc_server(addr.into(), gate, timeout, false, move |config| {
        configure_with(node.clone(), access.clone())(config)
    })
}

/// Mounts the JSON-RPC endpoint, every namespace served, in an embedder's actix-web app:
/// at `POST /` of the app, or at the scope's own path (`/rpc` and `/rpc/` for
/// `web::scope("/rpc")`).
pub fn configure(node: Node) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_with(node, RpcAccess::all())
}

/// Mounts the JSON-RPC endpoint serving what `access` allows.
pub fn configure_with(node: Node, access: RpcAccess) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(node))
            .app_data(web::Data::new(access))
            .app_data(web::PayloadConfig::new(MAX_REQUEST_SIZE))
            .route("", web::post().to(endpoint))
            .route("/", web::post().to(endpoint))
            .route("", web::method(Method::OPTIONS).to(preflight))
            .route("/", web::method(Method::OPTIONS).to(preflight))
            .route("/dashboard", web::get().to(crate::api::dashboard::serve));
    }
}

fn header(request: &actix_web::HttpRequest, name: header::HeaderName) -> Option<&str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The CORS headers for `request`'s Origin, if `access` allows it (as geth's CORS
/// handler: methods POST and GET, any header, preflight cached 600 s).
fn with_cors(
    mut response: HttpResponse,
    access: &RpcAccess,
    request: &actix_web::HttpRequest,
) -> HttpResponse {
    let allowed = header(request, header::ORIGIN).and_then(|origin| access.cors_origin(origin));
    if let Some(origin) = allowed.and_then(|o| header::HeaderValue::from_str(&o).ok()) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::HeaderValue::from_static("POST, GET"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            header::HeaderValue::from_static("600"),
        );
    }
    response
}

async fn preflight(access: web::Data<RpcAccess>, request: actix_web::HttpRequest) -> HttpResponse {
    with_cors(HttpResponse::NoContent().finish(), &access, &request)
}

async fn endpoint(
    node: web::Data<Node>,
    access: web::Data<RpcAccess>,
    request: actix_web::HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    // As geth: only application/json. A web page can POST text/plain to a local port
    // without a CORS preflight; insisting on JSON makes the browser ask first.
    let json = header(&request, header::CONTENT_TYPE).is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return HttpResponse::UnsupportedMediaType()
            .body("invalid content type, only application/json is supported");
    }
    // The Host header only: actix's `connection_info().host()` prefers Forwarded and
    // X-Forwarded-Host, which a rebinding page's request can set to anything.
    if !access.allows_host(header(&request, header::HOST).unwrap_or("")) {
        return HttpResponse::Forbidden().body("invalid host specified");
    }
    if let Some(refusal) = super::http::over_connection_limit(&request) {
        return refusal;
    }
    let response = match answer_body(&node, &access, &body).await {
        Some(answer) => HttpResponse::Ok()
            .content_type("application/json")
            .body(answer),
        None => HttpResponse::NoContent().finish(),
    };
    with_cors(response, &access, &request)
}
