//! TXT lookups: the [`Resolver`] trait the client walks trees through, and the real one,
//! [`HickoryResolver`] (hickory-resolver over the system's DNS servers, UDP with TCP
//! fallback, no TLS).

use std::future::Future;
use std::net::SocketAddr;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

/// TXT records longer than this are passed on as they are no further: a client refuses
/// anything over [`super::entry::MAX_ENTRY_LEN`] anyway, so the resolver keeps at most
/// that many bytes plus one (enough for the client to see "too long").
const KEEP_LEN: usize = super::entry::MAX_ENTRY_LEN + 1;

/// TXT records of one name kept at most (ours; a tree entry is one record, and geth reads
/// the first of a known type).
pub const MAX_TXT_RECORDS: usize = 16;

/// Responses hickory's own cache keeps (ours; its default is 8,192). The client caches
/// verified entries itself ([`super::client::CACHE_LIMIT`]), so hickory's TTL cache only
/// spares repeated lookups; a small bound keeps a hostile tree's large answers from piling
/// up in it.
pub const RESOLVER_CACHE: u64 = 256;

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name does not exist or has no TXT record.
    #[error("no TXT record")]
    NotFound,
    /// The servers failed or could not be reached.
    #[error("{reason}")]
    Failed {
        /// The resolver's reason.
        reason: String,
    },
}

/// Looks up the TXT records of a name.
pub trait Resolver {
    /// Each TXT record of `name` as text, its character-strings joined (records that are
    /// not UTF-8 are left out).
    fn lookup_txt(&self, name: &str) -> impl Future<Output = Result<Vec<String>, LookupError>>;
}

/// The system's DNS resolver through hickory-resolver.
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HickoryResolver")
    }
}

impl HickoryResolver {
    /// The servers of the system's configuration (`/etc/resolv.conf`).
    pub fn system() -> Result<Self, LookupError> {
        let mut builder = TokioResolver::builder_tokio().map_err(|e| LookupError::Failed {
            reason: format!("system DNS configuration: {e}"),
        })?;
        builder.options_mut().cache_size = RESOLVER_CACHE;
        let inner = builder.build().map_err(|e| LookupError::Failed {
            reason: e.to_string(),
        })?;
        Ok(Self { inner })
    }

    /// One name server at `server` (UDP, with TCP for truncated answers), e.g. a local one.
    pub fn with_server(server: SocketAddr) -> Result<Self, LookupError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.port();
        let name_server = NameServerConfig::new(server.ip(), true, vec![udp, tcp]);
        let config = ResolverConfig::from_parts(None, Vec::new(), vec![name_server]);
        let mut options = ResolverOpts::default();
        // The client times lookups itself; one attempt each, so its timeout is the bound.
        options.attempts = 1;
        options.cache_size = RESOLVER_CACHE;
        let inner = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|e| LookupError::Failed {
                reason: e.to_string(),
            })?;
        Ok(Self { inner })
    }
}

impl Resolver for HickoryResolver {
    async fn lookup_txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        // A trailing dot: the name is absolute (no search domains are tried).
        let absolute = format!("{}.", name.trim_end_matches('.'));
        let lookup = match self.inner.txt_lookup(absolute).await {
            Ok(lookup) => lookup,
            Err(error) if error.is_no_records_found() => return Err(LookupError::NotFound),
            Err(error) => {
                return Err(LookupError::Failed {
                    reason: error.to_string(),
                })
            }
        };
        let texts = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(join(&txt.txt_data)),
                _ => None,
            })
            .flatten()
            .take(MAX_TXT_RECORDS)
            .collect();
        Ok(texts)
    }
}

/// A record's character-strings joined, cut at [`KEEP_LEN`]; `None` if not UTF-8.
fn join(strings: &[Box<[u8]>]) -> Option<String> {
    let mut bytes = Vec::new();
    for part in strings {
        let room = KEEP_LEN.saturating_sub(bytes.len());
        bytes.extend_from_slice(part.get(..room.min(part.len())).unwrap_or_default());
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
