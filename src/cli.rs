//! Command-line interface: argument parsing only; each command calls into the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ethpeer_actors::api::rpc;

/// `--version`: the crate version, the git commit and the build date (from build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ETHPEER_COMMIT"),
    ", built ",
    env!("ETHPEER_BUILD_DATE"),
    ")"
);

/// An Ethereum devp2p peer node built on actix. Without a command it runs a node on the
/// built-in dev network (`ethpeer node` with its defaults).
#[derive(Debug, Parser)]
#[command(name = "ethpeer", version = VERSION, about)]
pub struct Cli {
    /// What to do (default: `node`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node (the default command).
    Node(Box<NodeArgs>),
    /// Node key files.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Inspect chain data.
    #[command(subcommand)]
    Chain(ChainCommand),
    /// Inspect RLP.
    #[command(subcommand)]
    Rlp(RlpCommand),
    /// Import an RLP chain file (geth export format) into the data directory's chain store.
    Import {
        /// The data directory (created if absent); the store is `chain.redb` inside it.
        #[arg(long)]
        datadir: PathBuf,
        /// A geth-style genesis.json.
        #[arg(long)]
        genesis: PathBuf,
        /// The chain file.
        chain: PathBuf,
    },
}

/// `ethpeer chain ...`
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Print genesis hash, head, total difficulty and fork id as one JSON object.
    Info {
        /// A geth-style genesis.json.
        #[arg(long)]
        genesis: PathBuf,
        /// An RLP chain file (geth export format) on top of the genesis.
        #[arg(long)]
        chain: Option<PathBuf>,
    },
}

/// `ethpeer rlp ...`
#[derive(Debug, Subcommand)]
pub enum RlpCommand {
    /// Print the structure of one RLP item (hex input, `0x` optional) as JSON.
    Decode {
        /// The RLP bytes in hex.
        hex: String,
    },
}

/// `ethpeer key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a new node key: written to FILE (64 hex characters, mode 0600; an existing
    /// file is never overwritten) or, without FILE, printed; prints its id and enode URL.
    Generate {
        /// Where to write the key.
        file: Option<PathBuf>,
        /// The address to put in the enode URL.
        #[arg(long, default_value = "127.0.0.1:30303")]
        addr: std::net::SocketAddr,
    },
    /// Print the node id, enode URL and node record (ENR) of a node key file (64 hex
    /// characters). The record is the one the node saved next to the key (`enr` in the
    /// same folder) when there is one, else a fresh one for `--addr`.
    Show {
        /// The key file.
        file: PathBuf,
        /// The address to put in the enode URL.
        #[arg(long, default_value = "127.0.0.1:30303")]
        addr: std::net::SocketAddr,
    },
}

/// The networks `--network` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkArg {
    /// Ethereum mainnet.
    Mainnet,
    /// Sepolia testnet.
    Sepolia,
    /// Holesky testnet.
    Holesky,
    /// Hoodi testnet.
    Hoodi,
    /// The built-in dev network (chain id 1337, funded dev accounts).
    Dev,
}

impl NetworkArg {
    /// The name used for the default data directory.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mainnet => "mainnet",
            Self::Sepolia => "sepolia",
            Self::Holesky => "holesky",
            Self::Hoodi => "hoodi",
            Self::Dev => "dev",
        }
    }
}

/// `ethpeer node` flags (geth's names where geth has the flag).
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Data directory (chain store, node key). Default: ~/.ethpeer/<network>.
    #[arg(long)]
    pub datadir: Option<PathBuf>,
    /// Listening IP address.
    #[arg(long, default_value = "127.0.0.1")]
    pub addr: std::net::IpAddr,
    /// Listening TCP port (0: any free port).
    #[arg(long, default_value_t = 30303)]
    pub port: u16,
    /// Node key file (64 hex characters); created with mode 0600 when absent.
    /// Default: <datadir>/nodekey.
    #[arg(long)]
    pub nodekey: Option<PathBuf>,
    /// Static peers (enode URLs, comma-separated): dialed at start and redialed with backoff.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Bootnodes (enode URLs or `enr:` records, comma-separated) where discovery starts;
    /// default: geth's list for the network (none for dev). With --nodiscover they are
    /// dialed like static peers.
    #[arg(long, value_delimiter = ',')]
    pub bootnodes: Vec<String>,
    /// Disable peer discovery, v4 and v5 (geth's flag): only static, trusted and inbound
    /// peers.
    #[arg(long)]
    pub nodiscover: bool,
    /// Run discovery v4 (geth's flag; `--discovery.v4=false` turns it off).
    #[arg(long = "discovery.v4", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub discovery_v4: bool,
    /// Run discovery v5 (geth's flag, default on as in geth 1.17; `--discovery.v5=false`
    /// turns it off). It shares the discovery UDP port with discv4.
    #[arg(long = "discovery.v5", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub discovery_v5: bool,
    /// EIP-1459 DNS node lists to take peers from (`enrtree://` URLs, comma-separated; geth's
    /// flag). Default: geth's `all` tree of the network (none for dev or a custom genesis);
    /// an empty string disables them, as does --nodiscover.
    #[arg(long = "discovery.dns")]
    pub discovery_dns: Option<String>,
    /// UDP port of discovery, v4 and v5 alike (default: the listening port, as geth).
    #[arg(long = "discovery.port")]
    pub discovery_port: Option<u16>,
    /// NAT: `extip:IP` names the address others reach us at (in our record and enode);
    /// `none` announces the listening address.
    #[arg(long, default_value = "none")]
    pub nat: String,
    /// Trusted peers (enode URLs, comma-separated): exempt from the peer limit, dialed.
    #[arg(long, value_delimiter = ',')]
    pub trusted_peers: Vec<String>,
    /// Peer limit; at most a third of it are peers we dial.
    #[arg(long, default_value_t = 50)]
    pub maxpeers: usize,
    /// Built-in network.
    #[arg(long, value_enum, default_value = "dev")]
    pub network: NetworkArg,
    /// Ethereum mainnet (geth's flag: --network mainnet).
    #[arg(long, conflicts_with_all = ["network", "sepolia", "holesky", "hoodi", "dev"])]
    pub mainnet: bool,
    /// The Sepolia testnet (geth's flag: --network sepolia).
    #[arg(long, conflicts_with_all = ["network", "holesky", "hoodi", "dev"])]
    pub sepolia: bool,
    /// The Holesky testnet (geth's flag: --network holesky).
    #[arg(long, conflicts_with_all = ["network", "hoodi", "dev"])]
    pub holesky: bool,
    /// The Hoodi testnet (geth's flag: --network hoodi).
    #[arg(long, conflicts_with_all = ["network", "dev"])]
    pub hoodi: bool,
    /// The built-in dev network (geth's flag: --network dev, the default).
    #[arg(long, conflicts_with = "network")]
    pub dev: bool,
    /// A geth-style genesis.json (a custom network; overrides --network's chain).
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// An RLP chain file to import at start (geth export format).
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// Account state for the tx pool: a geth state dump (`geth dump` JSON).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Network id (default: the chain id).
    #[arg(long)]
    pub networkid: Option<u64>,
    /// Offered eth versions, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "66,67,68,69,70,71,72")]
    pub eth: Vec<u64>,
    /// Serve JSON-RPC over HTTP (on --http.addr:--http.port).
    #[arg(long)]
    pub http: bool,
    /// HTTP-RPC listening interface (a name or an IP address).
    #[arg(long = "http.addr", default_value = "localhost")]
    pub http_addr: String,
    /// HTTP-RPC listening port (0: any free port).
    #[arg(long = "http.port", default_value_t = 8545)]
    pub http_port: u16,
    /// Namespaces served over HTTP, comma-separated, from admin, eth, net, txpool, web3
    /// (default: geth's eth,net,web3; all of them with --rpc).
    #[arg(long = "http.api")]
    pub http_api: Option<String>,
    /// Host names accepted in HTTP requests, comma-separated (`*`: any); IP addresses
    /// always pass.
    #[arg(long = "http.vhosts", default_value = "localhost")]
    pub http_vhosts: String,
    /// Browser origins allowed to call the HTTP-RPC (CORS), comma-separated (`*`: any).
    #[arg(long = "http.corsdomain", default_value = "")]
    pub http_corsdomain: String,
    /// Serve JSON-RPC over WebSocket, with `eth_subscribe` (on --ws.addr:--ws.port).
    #[arg(long)]
    pub ws: bool,
    /// WebSocket-RPC listening interface (a name or an IP address).
    #[arg(long = "ws.addr", default_value = "localhost")]
    pub ws_addr: String,
    /// WebSocket-RPC listening port (0: any free port).
    #[arg(long = "ws.port", default_value_t = 8546)]
    pub ws_port: u16,
    /// Namespaces served over WebSocket, comma-separated (default: eth,net,web3).
    #[arg(long = "ws.api")]
    pub ws_api: Option<String>,
    /// Browser origins allowed to open a WebSocket, comma-separated (`*`: any). Empty:
    /// http://localhost and this host's name only (geth's rule). Clients that send no
    /// Origin (not browsers) always pass.
    #[arg(long = "ws.origins", default_value = "")]
    pub ws_origins: String,
    /// Most calls in one JSON-RPC batch (geth's name and default).
    #[arg(long = "rpc.batch-request-limit", default_value_t = rpc::limits::BATCH_REQUEST_LIMIT)]
    pub rpc_batch_request_limit: usize,
    /// Most result bytes in one JSON-RPC response; calls past it get "response too large"
    /// (geth's name and default).
    #[arg(long = "rpc.batch-response-max-size", default_value_t = rpc::limits::BATCH_RESPONSE_MAX_SIZE)]
    pub rpc_batch_response_max_size: usize,
    /// Most open JSON-RPC connections, HTTP and WebSocket together (reth's name and default).
    #[arg(long = "rpc.max-connections", default_value_t = rpc::limits::MAX_CONNECTIONS)]
    pub rpc_max_connections: usize,
    /// Most eth_subscribe subscriptions of all WebSocket connections together.
    #[arg(long = "rpc.max-subscriptions", default_value_t = rpc::limits::MAX_SUBSCRIPTIONS)]
    pub rpc_max_subscriptions: usize,
    /// Most subscriptions one WebSocket connection may hold (reth's name).
    #[arg(
        long = "rpc.max-subscriptions-per-connection",
        default_value_t = rpc::limits::MAX_SUBSCRIPTIONS_PER_CONNECTION
    )]
    pub rpc_max_subscriptions_per_connection: usize,
    /// Alias of `--http` on this address with every namespace unless --http.api says
    /// otherwise, e.g. 127.0.0.1:8545.
    #[arg(long)]
    pub rpc: Option<std::net::SocketAddr>,
    /// Seconds between polls of the best peers for headers above the followed head.
    #[arg(long = "follow.interval", default_value_t = 4)]
    pub follow_interval: u64,
    /// Peers that must agree on a block's hash before it is followed (0: do not follow).
    #[arg(long = "follow.quorum", default_value_t = 2)]
    pub follow_quorum: usize,
    /// Serve Prometheus metrics at /metrics on this address, e.g. 127.0.0.1:6060.
    #[arg(long)]
    pub metrics: Option<std::net::SocketAddr>,
    /// Percent of eth/72 blob txs fetched whole; the others are sampled at the custody
    /// columns (EIP-8070; geth's flag, 15 to 100). Irrelevant while custody is all columns.
    #[arg(long = "blobpool.fetchprobability", default_value_t = 15)]
    pub blobpool_fetch_probability: u8,
    /// Columns of each blob kept when sampling: `all` (every blob tx fetched whole, as geth
    /// without a consensus client), or indices and ranges such as `0-3,64` (geth takes them
    /// from its consensus client; fewer than 64 columns makes this node a sampler).
    #[arg(long = "blobpool.custody", default_value = "all")]
    pub blobpool_custody: String,
    /// Milliseconds between a tx announcement and its fetch.
    #[arg(long, default_value_t = 500)]
    pub tx_arrival_wait: u64,
    /// Write, as JSON lines, when each peer first delivered or announced each tx and block.
    #[arg(long)]
    pub trace_propagation: Option<PathBuf>,
}

impl NodeArgs {
    /// `--network` as geth's network flags (`--mainnet`, `--sepolia`, ...) set it.
    pub fn resolve_network(mut self) -> Self {
        let chosen = [
            (self.mainnet, NetworkArg::Mainnet),
            (self.sepolia, NetworkArg::Sepolia),
            (self.holesky, NetworkArg::Holesky),
            (self.hoodi, NetworkArg::Hoodi),
            (self.dev, NetworkArg::Dev),
        ]
        .into_iter()
        .find_map(|(set, network)| set.then_some(network));
        if let Some(network) = chosen {
            self.network = network;
        }
        self
    }
}

impl Default for NodeArgs {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            args: NodeArgs,
        }
        // Parsing no arguments applies exactly the defaults declared above.
        match Defaults::try_parse_from(["ethpeer"]) {
            Ok(defaults) => defaults.args,
            Err(error) => error.exit(),
        }
    }
}
