//! Who may call what, as geth's flags decide it: the namespaces served on an endpoint
//! (`--http.api`, `--ws.api`), the Host names accepted (`--http.vhosts`), the browser
//! origins answered with CORS headers (`--http.corsdomain`), the browser origins allowed
//! to open a WebSocket (`--ws.origins`), and what one client may cost ([`RpcLimits`]).

use super::limits::RpcLimits;

/// Every namespace the node implements (`ethpeer`: our own, `ethpeer_subscribe
/// txArrivals` on the streaming transports).
pub const ALL_APIS: [&str; 6] = ["admin", "eth", "ethpeer", "net", "txpool", "web3"];

/// geth's default `--http.api` and `--ws.api`: `eth,net,web3`.
pub const DEFAULT_APIS: [&str; 3] = ["eth", "net", "web3"];

/// geth's default `--http.vhosts`: `localhost` (IP addresses always pass).
pub const DEFAULT_VHOSTS: [&str; 1] = ["localhost"];

/// What one RPC endpoint serves and to whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcAccess {
    /// Namespaces served (`eth`, `txpool`, ...); calls to others are unknown methods.
    pub apis: Vec<String>,
    /// Host names accepted (`*`: any); IP addresses and an absent Host always pass.
    pub vhosts: Vec<String>,
    /// Origins answered with CORS headers (`*`: any); none by default.
    pub cors: Vec<String>,
    /// Browser origins allowed to open a WebSocket (`--ws.origins`; `*`: any). Empty, as
    /// by default: `http://localhost` and this host's own name only. A request without
    /// an Origin header (not a browser) always passes, as in geth.
    pub origins: Vec<String>,
    /// Batch, response, connection and subscription limits.
    pub limits: RpcLimits,
    /// `--http.dashboard`: the WebSocket port the live page at `GET /dashboard` connects
    /// to (`None`: no page).
    pub dashboard: Option<u16>,
}

impl Default for RpcAccess {
    /// geth's defaults: `eth,net,web3`, vhost `localhost`, no CORS.
    fn default() -> Self {
        Self {
            apis: DEFAULT_APIS.map(String::from).to_vec(),
            vhosts: DEFAULT_VHOSTS.map(String::from).to_vec(),
            cors: Vec::new(),
            origins: Vec::new(),
            limits: RpcLimits::default(),
            dashboard: None,
        }
    }
}

impl RpcAccess {
    /// Every namespace the node implements (what embedders calling the handler directly
    /// and the `--rpc` alias get).
    pub fn all() -> Self {
        Self {
            apis: ALL_APIS.map(String::from).to_vec(),
            ..Self::default()
        }
    }

    /// Serving `apis` (comma-separated names as geth's flags take them).
    pub fn with_apis(mut self, apis: &str) -> Self {
        self.apis = split_list(apis);
        self
    }

    /// Whether `method`'s namespace (before the first `_`) is served.
    pub fn allows(&self, method: &str) -> bool {
        let namespace = method.split_once('_').map_or(method, |(ns, _)| ns);
        self.apis.iter().any(|api| api == namespace)
    }

    /// geth's virtual-host check: a Host naming an IP address (or none) passes, as does a
    /// name in the list (or any name with `*`); other names are refused, so a page on a
    /// rebinding DNS name cannot reach the node from a victim's browser.
    pub fn allows_host(&self, host: &str) -> bool {
        let name = host_name(host);
        name.is_empty()
            || name.parse::<std::net::IpAddr>().is_ok()
            || self
                .vhosts
                .iter()
                .any(|v| v == "*" || v.eq_ignore_ascii_case(name))
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn cors_origin(&self, origin: &str) -> Option<String> {
        if self.cors.iter().any(|c| c == "*") {
            return Some("*".into());
        }
        self.cors
            .iter()
            .any(|c| c.eq_ignore_ascii_case(origin))
            .then(|| origin.to_string())
    }
}

impl RpcAccess {
    /// Whether a WebSocket upgrade with this `Origin` header may proceed (geth's
    /// `wsHandshakeValidator`): no header passes; otherwise the origin must match a rule
    /// of [`RpcAccess::origins`] (scheme, host and port each compared where the rule names
    /// them), or, with no rule, `http://localhost` or `http://` + this host's name.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let origin = origin.to_ascii_lowercase();
        if self.origins.iter().any(|o| o == "*") {
            return true;
        }
        let defaults;
        let rules: &[String] = if self.origins.is_empty() {
            defaults = default_origins();
            &defaults
        } else {
            &self.origins
        };
        rules
            .iter()
            .any(|rule| origin_matches(&rule.to_ascii_lowercase(), &origin))
    }
}

/// geth's origins when `--ws.origins` is empty: `http://localhost` and `http://HOSTNAME`.
pub fn default_origins() -> Vec<String> {
    let mut origins = vec!["http://localhost".to_string()];
    if let Some(name) = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
    {
        origins.push(format!("http://{name}"));
    }
    origins
}

/// An origin's scheme, host and port (each `None` when absent): `https://a.b:8080`.
fn origin_parts(text: &str) -> (Option<&str>, &str, Option<&str>) {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, text),
    };
    let rest = rest.split('/').next().unwrap_or_default();
    match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (scheme, host, Some(port))
        }
        _ => (scheme, rest, None),
    }
}

/// geth's `ruleAllowsOrigin`: the host must be equal; the scheme and port only where the
/// rule names them.
fn origin_matches(rule: &str, origin: &str) -> bool {
    let (rule_scheme, rule_host, rule_port) = origin_parts(rule);
    let (scheme, host, port) = origin_parts(origin);
    rule_host == host
        && rule_scheme.is_none_or(|s| Some(s) == scheme)
        && rule_port.is_none_or(|p| Some(p) == port)
}

/// A comma-separated flag value as a list (blank entries dropped).
pub fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The name in a Host header, without port or IPv6 brackets.
fn host_name(host: &str) -> &str {
    let name = match host.rsplit_once(':') {
        // "[::1]:8545", "127.0.0.1:8545", "localhost:8545"; a bare IPv6 has several colons.
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    name.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_pass_as_in_geths_default_vhosts() {
        let access = RpcAccess::default();
        for host in [
            "127.0.0.1:8545",
            "localhost:8545",
            "LOCALHOST",
            "[::1]:8545",
            "::1",
            "10.0.0.2",
        ] {
            assert!(access.allows_host(host), "{host}");
        }
        for host in [
            "evil.example:8545",
            "evil.example",
            "localhost.evil.example",
        ] {
            assert!(!access.allows_host(host), "{host}");
        }
        let any = RpcAccess {
            vhosts: vec!["*".into()],
            ..RpcAccess::default()
        };
        assert!(any.allows_host("evil.example"));
    }

    #[test]
    fn websocket_origins_pass_as_geths_validator_lets_them() {
        let default = RpcAccess::default();
        assert!(default.allows_origin(None), "not a browser");
        assert!(default.allows_origin(Some("http://localhost")));
        assert!(default.allows_origin(Some("http://localhost:3000")));
        assert!(!default.allows_origin(Some("https://evil.example")));
        assert!(!default.allows_origin(Some("null")));
        assert!(!default.allows_origin(Some("http://localhost.evil.example")));
        let listed = RpcAccess {
            origins: vec!["https://app.example".into(), "wallet.example:8080".into()],
            ..RpcAccess::default()
        };
        assert!(listed.allows_origin(Some("https://APP.example")));
        assert!(listed.allows_origin(Some("https://app.example:443")));
        assert!(
            !listed.allows_origin(Some("http://app.example")),
            "scheme named"
        );
        assert!(listed.allows_origin(Some("http://wallet.example:8080")));
        assert!(
            !listed.allows_origin(Some("http://wallet.example:9090")),
            "port named"
        );
        assert!(
            !listed.allows_origin(Some("http://localhost")),
            "the list replaces the default"
        );
        let any = RpcAccess {
            origins: vec!["*".into()],
            ..RpcAccess::default()
        };
        assert!(any.allows_origin(Some("null")));
    }

    #[test]
    fn only_listed_namespaces_are_served() {
        let access = RpcAccess::default().with_apis("eth, txpool");
        assert!(access.allows("eth_chainId"));
        assert!(access.allows("txpool_status"));
        assert!(!access.allows("admin_peers"));
        assert!(!access.allows("net_version"));
        assert!(RpcAccess::all().allows("admin_addPeer"));
    }

    #[test]
    fn cors_answers_only_listed_origins() {
        let access = RpcAccess {
            cors: split_list("http://localhost:3000,https://app.example"),
            ..RpcAccess::default()
        };
        assert_eq!(
            access.cors_origin("https://app.example").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(access.cors_origin("https://evil.example"), None);
        assert_eq!(
            RpcAccess::default().cors_origin("https://app.example"),
            None
        );
    }
}
