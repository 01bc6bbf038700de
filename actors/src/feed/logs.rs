//! Log filters as geth takes them (`eth_getLogs`, `eth_subscribe logs`): addresses (any
//! of them), and per topic position null (any) or one or several hashes.

use alloy_primitives::{Address, B256};
use serde_json::Value;

/// Addresses or topic alternatives one filter may list at most (bounds a filter's size;
/// geth bounds them similarly).
pub const MAX_FILTER_ITEMS: usize = 1_000;

/// A log filter (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Any of these emitters (empty: any).
    pub addresses: Vec<Address>,
    /// Per position, any of these topics (empty: any).
    pub topics: Vec<Vec<B256>>,
}

impl LogFilter {
    /// Whether `log` passes.
    pub fn matches(&self, log: &alloy_primitives::Log) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        let topics = log.topics();
        self.topics.iter().enumerate().all(|(i, wanted)| {
            wanted.is_empty() || topics.get(i).is_some_and(|t| wanted.contains(t))
        })
    }

    /// The `address` and `topics` fields of a filter object (other fields are the
    /// caller's); a text naming what is wrong otherwise.
    pub fn from_json(filter: &serde_json::Map<String, Value>) -> Result<Self, String> {
        let topics = match filter.get("topics") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(positions)) if positions.len() <= 4 => positions
                .iter()
                .map(|p| list::<B256>(Some(p), "topic"))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("topics must be a list of at most 4 positions".into()),
        };
        Ok(Self {
            addresses: list(filter.get("address"), "address")?,
            topics,
        })
    }
}

fn list<T: std::str::FromStr>(value: Option<&Value>, what: &str) -> Result<Vec<T>, String> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    if items.len() > MAX_FILTER_ITEMS {
        return Err(format!("too many {what}s in the filter"));
    }
    items
        .into_iter()
        .map(|item| {
            item.as_str()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| format!("invalid {what}"))
        })
        .collect()
}
