//! Account state for pool checks: the [`StateProvider`] trait and two implementations, a
//! genesis alloc and a geth state dump (`geth dump` JSON, e.g. ethtest's `headstate.json`).

use std::collections::HashMap;
use std::path::Path;

use alloy_genesis::Genesis;
use alloy_primitives::{Address, U256};

/// What the pool needs of an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountState {
    /// Next nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
}

/// Account state at the current head.
pub trait StateProvider: Send + Sync + 'static {
    /// The account, if it exists.
    fn account(&self, address: &Address) -> Option<AccountState>;

    /// Whether this provider knows the state at all. A relay on a public network without
    /// an execution client has none ([`NoState`]); the pool then runs only stateless checks.
    fn is_available(&self) -> bool {
        true
    }
}

/// No state: a relay without execution. Nonce and balance checks are skipped.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoState;

impl StateProvider for NoState {
    fn account(&self, _address: &Address) -> Option<AccountState> {
        None
    }

    fn is_available(&self) -> bool {
        false
    }
}

/// State held in memory (from a genesis alloc or a state dump).
#[derive(Clone, Debug, Default)]
pub struct MemoryState {
    accounts: HashMap<Address, AccountState>,
}

/// Why a state dump could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be read.
    #[error("cannot read state file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a geth state dump.
    #[error("invalid state file {path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl MemoryState {
    /// The state of a genesis alloc.
    pub fn from_genesis(genesis: &Genesis) -> Self {
        let accounts = genesis
            .alloc
            .iter()
            .map(|(address, account)| {
                (
                    *address,
                    AccountState {
                        nonce: account.nonce.unwrap_or_default(),
                        balance: account.balance,
                    },
                )
            })
            .collect();
        Self { accounts }
    }

    /// Reads a geth state dump: `{"root": .., "accounts": {"0x..": {"balance": "<decimal>",
    /// "nonce": <number or string>, ..}}}`.
    pub fn from_dump(path: &Path) -> Result<Self, StateError> {
        let shown = path.display().to_string();
        let format = |reason: String| StateError::Format {
            path: shown.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
            path: shown.clone(),
            source,
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
        let accounts = json
            .get("accounts")
            .and_then(|a| a.as_object())
            .ok_or_else(|| format("no \"accounts\" object".into()))?;
        let mut out = HashMap::with_capacity(accounts.len());
        for (key, value) in accounts {
            let address: Address = key
                .parse()
                .map_err(|_| format(format!("bad address {key}")))?;
            let number = |field: &str| -> Result<U256, StateError> {
                match value.get(field) {
                    None => Ok(U256::ZERO),
                    Some(serde_json::Value::Number(n)) => n
                        .as_u64()
                        .map(U256::from)
                        .ok_or_else(|| format(format!("{key}: bad {field}"))),
                    Some(serde_json::Value::String(s)) => s
                        .parse::<U256>()
                        .map_err(|_| format(format!("{key}: bad {field} {s}"))),
                    Some(_) => Err(format(format!("{key}: bad {field}"))),
                }
            };
            let nonce = u64::try_from(number("nonce")?)
                .map_err(|_| format(format!("{key}: nonce too large")))?;
            out.insert(
                address,
                AccountState {
                    nonce,
                    balance: number("balance")?,
                },
            );
        }
        Ok(Self { accounts: out })
    }
}

impl StateProvider for MemoryState {
    fn account(&self, address: &Address) -> Option<AccountState> {
        self.accounts.get(address).copied()
    }
}
