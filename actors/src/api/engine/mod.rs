//! The engine API a consensus client drives us through, as geth names and serves it
//! (`--authrpc.addr`, `--authrpc.port`, `--authrpc.jwtsecret`): JSON-RPC at `POST /`,
//! every request authenticated by an HS256 JWT ([`jwt`]). `engine_exchangeCapabilities`,
//! `engine_getClientVersionV1`, `engine_newPayloadV1`-`V4` (the payload is checked
//! against its block hash and blob hashes, then executed where we hold the state:
//! [`crate::blocks::engine`]) and `engine_forkchoiceUpdatedV1`-`V3` (the head; we build
//! no payloads, so `payloadId` is always null).

pub mod jwt;

use std::net::SocketAddr;
use std::sync::Arc;

use actix::Addr;
use actix_web::{web, HttpRequest, HttpResponse};
use alloy_consensus::{Block, Transaction, TxEnvelope};
use alloy_primitives::{Bytes, B256};
use alloy_rpc_types_engine::{
    CancunPayloadFields, ExecutionPayload, ExecutionPayloadInputV2, ExecutionPayloadSidecar,
    ExecutionPayloadV1, ExecutionPayloadV3, PraguePayloadFields,
};
use serde_json::{json, Value};

use crate::blocks::engine::{ExecutePayload, PayloadExecutor, UpdateForkchoice, Verdict};
use crate::eth::EthBlock;
use jwt::JwtSecret;

/// Largest request body (geth's engine API limit: payloads with many transactions are
/// large, and only an authenticated client gets this far).
pub const MAX_ENGINE_BODY: usize = 128 * 1024 * 1024;

/// The methods we serve, as `engine_exchangeCapabilities` answers.
pub const CAPABILITIES: [&str; 9] = [
    "engine_exchangeCapabilities",
    "engine_getClientVersionV1",
    "engine_newPayloadV1",
    "engine_newPayloadV2",
    "engine_newPayloadV3",
    "engine_newPayloadV4",
    "engine_forkchoiceUpdatedV1",
    "engine_forkchoiceUpdatedV2",
    "engine_forkchoiceUpdatedV3",
];

/// What the endpoint needs.
#[derive(Clone)]
pub struct EngineEndpoint {
    /// Where payloads are executed.
    pub executor: Addr<PayloadExecutor>,
    /// The shared secret.
    pub secret: JwtSecret,
    /// Our version for `engine_getClientVersionV1` (name, version, commit).
    pub version: (String, String, String),
}

impl EngineEndpoint {
    /// The endpoint of `node` with the shared `secret`; `version` is our client's name,
    /// version and commit for `engine_getClientVersionV1`.
    pub fn of(
        node: &crate::node::Node,
        secret: JwtSecret,
        version: (String, String, String),
    ) -> Self {
        Self {
            executor: node.engine.clone(),
            secret,
            version,
        }
    }
}

/// Serves the engine API on `addr` (one worker). Returns the server and the bound address.
pub fn server(
    endpoint: EngineEndpoint,
    addr: impl Into<super::http::Listen>,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let endpoint = Arc::new(endpoint);
    let gate = Arc::new(super::rpc::ConnectionGate::new(
        super::rpc::limits::MAX_CONNECTIONS,
    ));
    super::http::rpc_server(
        addr.into(),
        gate,
        super::rpc::limits::WS_WRITE_TIMEOUT,
        false,
        move |config| {
            config
                .app_data(web::Data::from(endpoint.clone()))
                .app_data(web::PayloadConfig::new(MAX_ENGINE_BODY))
                .route("/", web::post().to(handle));
        },
    )
}

async fn handle(
    endpoint: web::Data<EngineEndpoint>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let authorization = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    if let Err(error) = endpoint.secret.check(authorization, now) {
        return HttpResponse::Unauthorized().body(error.to_string());
    }
    let answer = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(calls)) => {
            let mut answers = Vec::with_capacity(calls.len());
            for call in calls {
                answers.push(answer(&endpoint, call).await);
            }
            Value::Array(answers)
        }
        Ok(call) => answer(&endpoint, call).await,
        Err(error) => error_json(Value::Null, -32700, &format!("parse error: {error}")),
    };
    HttpResponse::Ok()
        .content_type("application/json")
        .body(answer.to_string())
}

async fn answer(endpoint: &EngineEndpoint, call: Value) -> Value {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let method = call
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = call
        .get("params")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let result = match method {
        "engine_exchangeCapabilities" => Ok(json!(CAPABILITIES)),
        "engine_getClientVersionV1" => {
            let (name, version, commit) = &endpoint.version;
            Ok(json!([{"code": "EP", "name": name, "version": version, "commit": commit}]))
        }
        "engine_newPayloadV1"
        | "engine_newPayloadV2"
        | "engine_newPayloadV3"
        | "engine_newPayloadV4" => new_payload(endpoint, method, &params).await,
        "engine_forkchoiceUpdatedV1"
        | "engine_forkchoiceUpdatedV2"
        | "engine_forkchoiceUpdatedV3" => forkchoice(endpoint, &params).await,
        other => Err((
            -32601,
            format!("the method {other} does not exist/is not available"),
        )),
    };
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err((code, message)) => error_json(id, code, &message),
    }
}

fn error_json(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A parameter as `T`, or the engine API's invalid-params error.
fn param<T: serde::de::DeserializeOwned>(
    params: &[Value],
    index: usize,
) -> Result<T, (i64, String)> {
    let value = params.get(index).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| (-32602, format!("invalid argument {index}: {e}")))
}

/// A JSON-RPC error: code and message.
type CallError = (i64, String);

/// A payload as its claimed hash, its block, and the blob hashes the call expects (V3+).
type PayloadBlock = (B256, Block<TxEnvelope>, Option<Vec<B256>>);

/// The payload of any version as a block and what its sidecar says.
fn payload_block(method: &str, params: &[Value]) -> Result<PayloadBlock, CallError> {
    let (payload, sidecar, hashes) = match method {
        "engine_newPayloadV1" => {
            let payload: ExecutionPayloadV1 = param(params, 0)?;
            (
                ExecutionPayload::V1(payload),
                ExecutionPayloadSidecar::none(),
                None,
            )
        }
        "engine_newPayloadV2" => {
            // geth's V2 payload type has the Cancun fields too; they must be null here.
            let mut payload = params.first().cloned().unwrap_or(Value::Null);
            if let Some(fields) = payload.as_object_mut() {
                for key in ["blobGasUsed", "excessBlobGas"] {
                    match fields.remove(key) {
                        None | Some(Value::Null) => {}
                        Some(_) => return Err((-32602, format!("non-nil {key} pre-cancun"))),
                    }
                }
            }
            let input: ExecutionPayloadInputV2 = param(&[payload], 0)?;
            (
                ExecutionPayload::from(input),
                ExecutionPayloadSidecar::none(),
                None,
            )
        }
        _ => {
            let payload: ExecutionPayloadV3 = param(params, 0)?;
            let hashes: Vec<B256> = param(params, 1)?;
            let root: B256 = param(params, 2)?;
            let cancun = CancunPayloadFields::new(root, hashes.clone());
            let sidecar = match method {
                "engine_newPayloadV4" => {
                    let requests: Vec<Bytes> = param(params, 3)?;
                    let requests = alloy_eips::eip7685::Requests::new(requests);
                    ExecutionPayloadSidecar::v4(cancun, PraguePayloadFields::new(requests))
                }
                _ => ExecutionPayloadSidecar::v3(cancun),
            };
            (ExecutionPayload::V3(payload), sidecar, Some(hashes))
        }
    };
    let hash = payload.block_hash();
    let block = payload
        .try_into_block_with_sidecar::<TxEnvelope>(&sidecar)
        .map_err(|e| (-32602, format!("invalid payload: {e}")))?;
    Ok((hash, block, hashes))
}

async fn new_payload(
    endpoint: &EngineEndpoint,
    method: &str,
    params: &[Value],
) -> Result<Value, (i64, String)> {
    let (claimed, block, hashes) = payload_block(method, params)?;
    let hash = block.header.hash_slow();
    let parent = block.header.parent_hash;
    if hash != claimed {
        return Ok(status(&Verdict::Invalid {
            latest_valid: None,
            error: format!("blockhash mismatch, want {claimed}, got {hash}"),
        }));
    }
    if let Some(expected) = hashes {
        let carried: Vec<B256> = block
            .body
            .transactions
            .iter()
            .filter_map(|tx| tx.blob_versioned_hashes().map(<[B256]>::to_vec))
            .flatten()
            .collect();
        if carried != expected {
            return Ok(status(&Verdict::Invalid {
                latest_valid: Some(parent),
                error: "invalid blob versioned hashes".into(),
            }));
        }
    }
    let block = EthBlock {
        header: block.header,
        body: block.body,
    };
    let verdict = endpoint
        .executor
        .send(ExecutePayload(block))
        .await
        .map_err(|_| (-32000, "the node is shutting down".to_string()))?;
    Ok(status(&verdict))
}

async fn forkchoice(endpoint: &EngineEndpoint, params: &[Value]) -> Result<Value, (i64, String)> {
    let state: Value = param(params, 0)?;
    let head: B256 =
        serde_json::from_value(state.get("headBlockHash").cloned().unwrap_or_default())
            .map_err(|e| (-32602, format!("invalid forkchoice state: {e}")))?;
    let verdict = endpoint
        .executor
        .send(UpdateForkchoice { head })
        .await
        .map_err(|_| (-32000, "the node is shutting down".to_string()))?;
    Ok(json!({"payloadStatus": status(&verdict), "payloadId": null}))
}

/// A verdict as the engine API's `PayloadStatusV1`.
fn status(verdict: &Verdict) -> Value {
    match verdict {
        Verdict::Valid(hash) => {
            json!({"status": "VALID", "latestValidHash": hash, "validationError": null})
        }
        Verdict::Invalid {
            latest_valid,
            error,
        } => {
            json!({"status": "INVALID", "latestValidHash": latest_valid, "validationError": error})
        }
        Verdict::Syncing => {
            json!({"status": "SYNCING", "latestValidHash": null, "validationError": null})
        }
        Verdict::Accepted => {
            json!({"status": "ACCEPTED", "latestValidHash": null, "validationError": null})
        }
    }
}
