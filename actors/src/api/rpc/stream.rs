//! What the streaming transports (WebSocket, IPC) add to the HTTP endpoint's methods:
//! `eth_subscribe` (`newPendingTransactions`, with `true` full transactions, `newHeads`,
//! `logs`) and `eth_unsubscribe`, and in our namespace `ethpeer_subscribe("txArrivals")`
//! and `ethpeer_unsubscribe`, for one connection whose notifications go to its own bounded
//! buffer ([`crate::feed::hub`]).

use std::sync::atomic::{AtomicU64, Ordering};

use actix::Addr;
use serde_json::{json, Value};

use super::{answer_body, RpcAccess, RpcError};
use crate::feed::arrivals::ArrivalFilter;
use crate::feed::hub::{
    ConnectionClosed, NotificationSink, Subscribe, SubscriptionHub, SubscriptionKind, Unsubscribe,
};
use crate::node::Node;

/// EIP-1474's code for a request over a limit.
pub const LIMIT_EXCEEDED: i64 = -32005;

/// Connection ids, unique per process (the hub tells connections apart by them).
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// One streaming connection's JSON-RPC: every method the endpoint serves, plus
/// subscriptions delivered to the connection's sink.
pub struct StreamConnection {
    /// Unique per process.
    pub id: u64,
    pub(super) node: Node,
    pub(super) access: RpcAccess,
    hub: Addr<SubscriptionHub>,
}

impl StreamConnection {
    /// A new connection to `node` serving what `access` allows.
    pub fn new(node: Node, access: RpcAccess) -> Self {
        Self {
            id: CONNECTIONS.fetch_add(1, Ordering::Relaxed),
            hub: node.subscriptions.clone(),
            node,
            access,
        }
    }

    /// What the connection may do and cost.
    pub fn access(&self) -> &RpcAccess {
        &self.access
    }

    /// Answers one request message (a call or a batch); subscriptions made by it deliver
    /// to `sink`. `None` when nothing is to be sent back.
    pub async fn answer(&self, body: &[u8], sink: &NotificationSink) -> Option<String> {
        let call: Option<Value> = serde_json::from_slice(body).ok();
        let method = call
            .as_ref()
            .and_then(|c| c.get("method"))
            .and_then(Value::as_str);
        match method {
            Some(
                m @ ("eth_subscribe"
                | "eth_unsubscribe"
                | "ethpeer_subscribe"
                | "ethpeer_unsubscribe"),
            ) if self.access.allows(m) => {
                let call = call.as_ref().unwrap_or(&Value::Null);
                Some(self.subscription_call(m, call, sink).await.to_string())
            }
            _ => answer_body(&self.node, &self.access, body).await,
        }
    }

    /// Ends the connection's subscriptions (call when it closes).
    pub fn closed(&self) {
        self.hub.do_send(ConnectionClosed(self.id));
    }

    async fn subscription_call(
        &self,
        method: &str,
        call: &Value,
        sink: &NotificationSink,
    ) -> Value {
        let id = call.get("id").cloned().unwrap_or(Value::Null);
        let params = call.get("params").and_then(Value::as_array);
        let result = match method {
            "eth_subscribe" => self.subscribe(params, sink).await,
            "ethpeer_subscribe" => self.subscribe_ethpeer(params, sink).await,
            _ => self.unsubscribe(params).await,
        };
        match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(error) => error_json(id, &error),
        }
    }

    async fn subscribe(
        &self,
        params: Option<&Vec<Value>>,
        sink: &NotificationSink,
    ) -> Result<Value, RpcError> {
        let name = params.and_then(|p| p.first()).and_then(Value::as_str);
        let full = params.and_then(|p| p.get(1)).and_then(Value::as_bool) == Some(true);
        let kind = match name {
            Some("newPendingTransactions") if full => SubscriptionKind::PendingFull,
            Some("newPendingTransactions") => SubscriptionKind::PendingHashes,
            Some("newHeads") => SubscriptionKind::NewHeads,
            Some("logs") => SubscriptionKind::Logs,
            Some(other) => {
                return Err(RpcError::params(format!(
                    "no \"{other}\" subscription in eth namespace"
                )))
            }
            None => return Err(RpcError::params("missing subscription name")),
        };
        // `logs` takes a filter object (address, topics); none means every log.
        let filter = match kind {
            SubscriptionKind::Logs => Some(match params.and_then(|p| p.get(1)) {
                None | Some(Value::Null) => crate::feed::logs::LogFilter::default(),
                Some(Value::Object(object)) => {
                    crate::feed::logs::LogFilter::from_json(object).map_err(RpcError::params)?
                }
                Some(_) => return Err(RpcError::params("the logs filter must be an object")),
            }),
            _ => None,
        };
        self.start(kind, sink, filter, None).await
    }

    /// `ethpeer_subscribe`: `txArrivals` with optional `{"tiers": [...], "fullTx": bool}`.
    async fn subscribe_ethpeer(
        &self,
        params: Option<&Vec<Value>>,
        sink: &NotificationSink,
    ) -> Result<Value, RpcError> {
        match params.and_then(|p| p.first()).and_then(Value::as_str) {
            Some("txArrivals") => {
                let filter = ArrivalFilter::from_json(params.and_then(|p| p.get(1)))
                    .map_err(RpcError::params)?;
                self.start(SubscriptionKind::TxArrivals, sink, None, Some(filter))
                    .await
            }
            Some(other) => Err(RpcError::params(format!(
                "no \"{other}\" subscription in ethpeer namespace"
            ))),
            None => Err(RpcError::params("missing subscription name")),
        }
    }

    /// Asks the hub for a subscription of `kind`; answers its id.
    async fn start(
        &self,
        kind: SubscriptionKind,
        sink: &NotificationSink,
        filter: Option<crate::feed::logs::LogFilter>,
        arrivals: Option<ArrivalFilter>,
    ) -> Result<Value, RpcError> {
        let id = self
            .hub
            .send(Subscribe {
                connection: self.id,
                kind,
                sink: sink.clone(),
                per_connection: self.access.limits.subscriptions_per_connection,
                filter,
                arrivals,
            })
            .await
            .map_err(|_| RpcError::new(-32000, "node is shutting down"))?;
        match id {
            Ok(id) => Ok(Value::String(id)),
            Err(refused) => Err(RpcError::new(LIMIT_EXCEEDED, refused.to_string())),
        }
    }

    async fn unsubscribe(&self, params: Option<&Vec<Value>>) -> Result<Value, RpcError> {
        let id = params
            .and_then(|p| p.first())
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::params("missing subscription id"))?;
        let ended = self
            .hub
            .send(Unsubscribe {
                connection: self.id,
                id: id.to_string(),
            })
            .await
            .unwrap_or(false);
        Ok(Value::Bool(ended))
    }
}

fn error_json(id: Value, error: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()})
}
