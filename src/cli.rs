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
#[command(name = "ethpeer", version = VERSION, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: `node`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The node's flags without the `node` command, as geth and reth take them
    /// (`ethpeer --sepolia --http`).
    #[command(flatten)]
    pub node: NodeArgs,
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
    /// Print the effective node settings (flags, ETHPEER_<FLAG> variables, --config file)
    /// as TOML that --config loads.
    Dumpconfig(Box<NodeArgs>),
    /// Build an archive from a fleet's Kafka topic (`--from`), or merge and analyse
    /// archives (`merge`, `report`).
    Archive(ArchiveArgs),
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

/// `ethpeer archive --from kafka://... --dir DIR`, or `ethpeer archive merge|report`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ArchiveArgs {
    /// `merge` or `report`.
    #[command(subcommand)]
    pub command: Option<ArchiveCommand>,
    /// Consume a fleet's events (nodes run with --sink) from this Kafka topic:
    /// `kafka://host:port[,host:port]/topic`. Resumes from the positions kept in DIR.
    #[arg(long, value_name = "URL", requires = "dir")]
    pub from: Option<String>,
    /// The archive the consumed events go to.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Delete archived hours older than this (`90d`, `12h`, `30m`).
    #[arg(long, value_parser = parse_retain)]
    pub retain: Option<std::time::Duration>,
}

/// `ethpeer archive merge|report`
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Merge several nodes' archives into OUT: each hour's transactions once (earliest
    /// sighting's fields, every node in `sources`), every node's sightings and refusals.
    Merge {
        /// The merged archive's directory.
        #[arg(long)]
        out: PathBuf,
        /// The archives to merge.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Print who saw transactions first (per pair of sources), coverage, exclusives and
    /// inclusion delays of an archive (merged or one node's) as Markdown tables.
    Report {
        /// The archive.
        dir: PathBuf,
        /// Also draw each source's first-seen latency CDF to this SVG file.
        #[arg(long)]
        plot: Option<PathBuf>,
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

/// `--dev.period`: seconds between produced blocks (0: when txs arrive), or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevPeriod {
    /// No production.
    Off,
    /// A block every so many seconds (0: as soon as the pool has executable txs).
    Every(u64),
}

fn parse_dev_period(text: &str) -> Result<DevPeriod, String> {
    match text {
        "off" => Ok(DevPeriod::Off),
        seconds => seconds
            .parse()
            .map(DevPeriod::Every)
            .map_err(|_| format!("{text:?}: seconds (0: when transactions arrive) or off")),
    }
}

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-05T17:00:00.123Z INFO  module: message`.
    Terminal,
    /// geth's logfmt: `t=2026-12-05T17:00:00.123Z lvl=info target=module msg="message"`.
    Logfmt,
    /// One JSON object per line: `{"t":…,"lvl":"info","target":…,"msg":…}`.
    Json,
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
    /// A TOML file of settings, one key per long flag (`ethpeer dumpconfig` writes one);
    /// flags and ETHPEER_<FLAG> environment variables win over it. Also ETHPEER_CONFIG.
    #[arg(help_heading = "Config", long)]
    pub config: Option<PathBuf>,
    /// Data directory (chain store, node key). Default: ~/.ethpeer/<network>.
    #[arg(help_heading = "Data", long)]
    pub datadir: Option<PathBuf>,
    /// Listening IP address.
    #[arg(help_heading = "Networking", long, default_value = "127.0.0.1")]
    pub addr: std::net::IpAddr,
    /// Listening TCP port (0: any free port).
    #[arg(help_heading = "Networking", long, default_value_t = 30303)]
    pub port: u16,
    /// Node key file (64 hex characters); created with mode 0600 when absent.
    /// Default: <datadir>/nodekey.
    #[arg(help_heading = "Data", long)]
    pub nodekey: Option<PathBuf>,
    /// Node key as 64 hex characters (geth's flag; for tests and scripts: the key shows in
    /// the process list, prefer --nodekey).
    #[arg(help_heading = "Data", long, conflicts_with = "nodekey")]
    pub nodekeyhex: Option<String>,
    /// A name put in our client id (geth's flag): peers see `ethpeer/NAME/v0.1.0`.
    #[arg(help_heading = "Networking", long)]
    pub identity: Option<String>,
    /// Static peers (enode URLs, comma-separated): dialed at start and redialed with backoff.
    #[arg(help_heading = "Peers", long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Bootnodes (enode URLs or `enr:` records, comma-separated) where discovery starts;
    /// default: geth's list for the network (none for dev). With --nodiscover they are
    /// dialed like static peers.
    #[arg(help_heading = "Discovery", long, value_delimiter = ',')]
    pub bootnodes: Vec<String>,
    /// Disable peer discovery, v4 and v5 (geth's flag): only static, trusted and inbound
    /// peers.
    #[arg(help_heading = "Discovery", long)]
    pub nodiscover: bool,
    /// Run discovery v4 (geth's flag; `--discovery.v4=false` turns it off).
    #[arg(help_heading = "Discovery", long = "discovery.v4", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub discovery_v4: bool,
    /// Run discovery v5 (geth's flag, default on as in geth 1.17; `--discovery.v5=false`
    /// turns it off). It shares the discovery UDP port with discv4.
    #[arg(help_heading = "Discovery", long = "discovery.v5", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub discovery_v5: bool,
    /// EIP-1459 DNS node lists to take peers from (`enrtree://` URLs, comma-separated; geth's
    /// flag). Default: geth's `all` tree of the network (none for dev or a custom genesis);
    /// an empty string disables them, as does --nodiscover.
    #[arg(help_heading = "Discovery", long = "discovery.dns")]
    pub discovery_dns: Option<String>,
    /// UDP port of discovery, v4 and v5 alike (default: the listening port, as geth).
    #[arg(help_heading = "Discovery", long = "discovery.port")]
    pub discovery_port: Option<u16>,
    /// NAT: `extip:IP` names the address others reach us at (in our record and enode);
    /// `stun` (public servers) or `stun:HOST:PORT` asks a STUN server at start which
    /// address it sees; `none` announces the listening address (geth's flag).
    #[arg(help_heading = "Networking", long, default_value = "none")]
    pub nat: String,
    /// Trusted peers (enode URLs, comma-separated): exempt from the peer limit, dialed.
    #[arg(help_heading = "Peers", long, value_delimiter = ',')]
    pub trusted_peers: Vec<String>,
    /// Peers only from these networks, comma-separated CIDR (geth's flag, e.g.
    /// `10.0.0.0/8,192.168.0.0/16`): others are refused before the handshake and never
    /// dialed.
    #[arg(help_heading = "Peers", long)]
    pub netrestrict: Option<String>,
    /// Connect to and accept trusted peers only (reth's flag).
    #[arg(help_heading = "Peers", long = "trusted-only")]
    pub trusted_only: bool,
    /// Peer limit; at most a third of it are peers we dial.
    #[arg(help_heading = "Peers", long, default_value_t = 50)]
    pub maxpeers: usize,
    /// Built-in network.
    #[arg(help_heading = "Chain", long, value_enum, default_value = "dev")]
    pub network: NetworkArg,
    /// Ethereum mainnet (geth's flag: --network mainnet).
    #[arg(help_heading = "Chain", long, conflicts_with_all = ["network", "sepolia", "holesky", "hoodi", "dev"])]
    pub mainnet: bool,
    /// The Sepolia testnet (geth's flag: --network sepolia).
    #[arg(help_heading = "Chain", long, conflicts_with_all = ["network", "holesky", "hoodi", "dev"])]
    pub sepolia: bool,
    /// The Holesky testnet (geth's flag: --network holesky).
    #[arg(help_heading = "Chain", long, conflicts_with_all = ["network", "hoodi", "dev"])]
    pub holesky: bool,
    /// The Hoodi testnet (geth's flag: --network hoodi).
    #[arg(help_heading = "Chain", long, conflicts_with_all = ["network", "dev"])]
    pub hoodi: bool,
    /// The built-in dev network (geth's flag: --network dev, the default).
    #[arg(help_heading = "Chain", long, conflicts_with = "network")]
    pub dev: bool,
    /// A geth-style genesis.json (a custom network; overrides --network's chain).
    #[arg(help_heading = "Chain", long)]
    pub genesis: Option<PathBuf>,
    /// The chain: a network name (mainnet, sepolia, holesky, hoodi, dev) or a geth-style
    /// genesis.json (reth's flag; same as --network NAME or --genesis PATH).
    #[arg(help_heading = "Chain", long, conflicts_with_all = ["network", "genesis", "mainnet", "sepolia", "holesky", "hoodi", "dev"])]
    pub chain: Option<String>,
    /// An RLP chain file (geth export format) imported into the store at start.
    #[arg(help_heading = "Data", long)]
    pub import: Option<PathBuf>,
    /// Account state for the tx pool: a geth state dump (`geth dump` JSON).
    #[arg(help_heading = "Data", long)]
    pub state: Option<PathBuf>,
    /// Network id (default: the chain id).
    #[arg(help_heading = "Chain", long)]
    pub networkid: Option<u64>,
    /// Offered eth versions, comma-separated.
    #[arg(
        help_heading = "Chain",
        long,
        value_delimiter = ',',
        default_value = "66,67,68,69,70,71,72"
    )]
    pub eth: Vec<u64>,
    /// Serve JSON-RPC over HTTP (on --http.addr:--http.port).
    #[arg(help_heading = "JSON-RPC", long)]
    pub http: bool,
    /// HTTP-RPC listening interface (a name or an IP address).
    #[arg(
        help_heading = "JSON-RPC",
        long = "http.addr",
        default_value = "localhost"
    )]
    pub http_addr: String,
    /// HTTP-RPC listening port (0: any free port).
    #[arg(help_heading = "JSON-RPC", long = "http.port", default_value_t = 8545)]
    pub http_port: u16,
    /// Namespaces served over HTTP, comma-separated, from admin, eth, net, txpool, web3
    /// (default: geth's eth,net,web3; all of them with --rpc).
    #[arg(help_heading = "JSON-RPC", long = "http.api")]
    pub http_api: Option<String>,
    /// Host names accepted in HTTP requests, comma-separated (`*`: any); IP addresses
    /// always pass.
    #[arg(
        help_heading = "JSON-RPC",
        long = "http.vhosts",
        default_value = "localhost"
    )]
    pub http_vhosts: String,
    /// Browser origins allowed to call the HTTP-RPC (CORS), comma-separated (`*`: any).
    #[arg(
        help_heading = "JSON-RPC",
        long = "http.corsdomain",
        default_value = ""
    )]
    pub http_corsdomain: String,
    /// Serve a live page at /dashboard on the HTTP-RPC server (peers by client, tx arrivals,
    /// first deliverers); it streams over the WebSocket server, so it needs --ws (the
    /// `ethpeer` namespace and the page's origins are added to --ws.api and --ws.origins).
    #[arg(help_heading = "JSON-RPC", long = "http.dashboard")]
    pub http_dashboard: bool,
    /// Serve JSON-RPC over WebSocket, with `eth_subscribe` (on --ws.addr:--ws.port).
    #[arg(help_heading = "JSON-RPC", long)]
    pub ws: bool,
    /// WebSocket-RPC listening interface (a name or an IP address).
    #[arg(
        help_heading = "JSON-RPC",
        long = "ws.addr",
        default_value = "localhost"
    )]
    pub ws_addr: String,
    /// WebSocket-RPC listening port (0: any free port).
    #[arg(help_heading = "JSON-RPC", long = "ws.port", default_value_t = 8546)]
    pub ws_port: u16,
    /// Namespaces served over WebSocket, comma-separated (default: eth,net,web3).
    #[arg(help_heading = "JSON-RPC", long = "ws.api")]
    pub ws_api: Option<String>,
    /// Browser origins allowed to open a WebSocket, comma-separated (`*`: any). Empty:
    /// http://localhost and this host's name only (geth's rule). Clients that send no
    /// Origin (not browsers) always pass.
    #[arg(help_heading = "JSON-RPC", long = "ws.origins", default_value = "")]
    pub ws_origins: String,
    /// The IPC socket (JSON-RPC, every namespace, owner-only): a file name in the data
    /// directory or an explicit path (geth's flag; `geth attach <path>` connects).
    #[arg(help_heading = "JSON-RPC", long, default_value = ethpeer_actors::api::rpc::ipc::DEFAULT_IPC_FILE)]
    pub ipcpath: PathBuf,
    /// No IPC endpoint (geth's flag).
    #[arg(help_heading = "JSON-RPC", long)]
    pub ipcdisable: bool,
    /// Serve the engine API to a consensus client, authenticated with this JWT secret
    /// (64 hex characters; geth's flag). Without it no engine API listens (geth always
    /// listens on 8551 with a secret of its own; we wait to be asked).
    #[arg(help_heading = "Engine API", long = "authrpc.jwtsecret")]
    pub authrpc_jwtsecret: Option<PathBuf>,
    /// Engine API listening interface (geth's flag).
    #[arg(
        help_heading = "Engine API",
        long = "authrpc.addr",
        default_value = "localhost"
    )]
    pub authrpc_addr: String,
    /// Engine API listening port (0: any free port; geth's flag and default).
    #[arg(
        help_heading = "Engine API",
        long = "authrpc.port",
        default_value_t = 8551
    )]
    pub authrpc_port: u16,
    /// Most calls in one JSON-RPC batch (geth's name and default).
    #[arg(help_heading = "JSON-RPC", long = "rpc.batch-request-limit", default_value_t = rpc::limits::BATCH_REQUEST_LIMIT)]
    pub rpc_batch_request_limit: usize,
    /// Most result bytes in one JSON-RPC response; calls past it get "response too large"
    /// (geth's name and default).
    #[arg(help_heading = "JSON-RPC", long = "rpc.batch-response-max-size", default_value_t = rpc::limits::BATCH_RESPONSE_MAX_SIZE)]
    pub rpc_batch_response_max_size: usize,
    /// Most open JSON-RPC connections, HTTP and WebSocket together (reth's name and default).
    #[arg(help_heading = "JSON-RPC", long = "rpc.max-connections", default_value_t = rpc::limits::MAX_CONNECTIONS)]
    pub rpc_max_connections: usize,
    /// Most eth_subscribe subscriptions of all WebSocket connections together.
    #[arg(help_heading = "JSON-RPC", long = "rpc.max-subscriptions", default_value_t = rpc::limits::MAX_SUBSCRIPTIONS)]
    pub rpc_max_subscriptions: usize,
    /// Most subscriptions one WebSocket connection may hold (reth's name).
    #[arg(help_heading = "JSON-RPC", 
        long = "rpc.max-subscriptions-per-connection",
        default_value_t = rpc::limits::MAX_SUBSCRIPTIONS_PER_CONNECTION
    )]
    pub rpc_max_subscriptions_per_connection: usize,
    /// Alias of `--http` on this address with every namespace unless --http.api says
    /// otherwise, e.g. 127.0.0.1:8545.
    #[arg(help_heading = "JSON-RPC", long)]
    pub rpc: Option<std::net::SocketAddr>,
    /// Follow the head from peers' quorum (`--follow=false`: no peer-sourced head at all;
    /// the head moves only by local import).
    #[arg(help_heading = "Blocks", long, default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub follow: bool,
    /// Produce blocks (geth's flag): every N seconds, or with 0 as soon as the pool has
    /// executable transactions; `off`: never. Default: 0 on the dev network (as geth
    /// --dev), off elsewhere. Needs a chain whose state we hold (dev, or a --genesis).
    #[arg(help_heading = "Blocks", long = "dev.period", value_parser = parse_dev_period)]
    pub dev_period: Option<DevPeriod>,
    /// Blocks whose state is kept for state reads and calls at past blocks, where the node
    /// holds the state (geth keeps 128 blocks' state in memory; a copy per block here).
    #[arg(help_heading = "Blocks", long = "state.window",
          default_value_t = ethpeer_actors::blocks::engine::DEFAULT_STATE_WINDOW)]
    pub state_window: usize,
    /// Followed blocks kept in memory and served to peers like stored ones (headers and
    /// bodies), newest first; our Status advertises the followed head.
    #[arg(help_heading = "Blocks", long = "history.window",
          default_value_t = ethpeer_actors::blocks::follow::FOLLOWED_BLOCKS)]
    pub history_window: usize,
    /// Seconds between polls of the best peers for headers above the followed head.
    #[arg(help_heading = "Blocks", long = "follow.interval", default_value_t = 4)]
    pub follow_interval: u64,
    /// Network prefixes (IPv4 /24, IPv6 /48) whose peers must agree on a block's hash
    /// before it is followed (0: do not follow).
    #[arg(help_heading = "Blocks", long = "follow.quorum", default_value_t = 2)]
    pub follow_quorum: usize,
    /// Serve Prometheus metrics at /metrics on this address, e.g. 127.0.0.1:6060.
    #[arg(help_heading = "Metrics", long)]
    pub metrics: Option<std::net::SocketAddr>,
    /// Percent of eth/72 blob txs fetched whole; the others are sampled at the custody
    /// columns (EIP-8070; geth's flag, 15 to 100). Irrelevant while custody is all columns.
    #[arg(
        help_heading = "Transaction pool",
        long = "blobpool.fetchprobability",
        default_value_t = 15
    )]
    pub blobpool_fetch_probability: u8,
    /// Columns of each blob kept when sampling: `all` (every blob tx fetched whole, as geth
    /// without a consensus client), or indices and ranges such as `0-3,64` (geth takes them
    /// from its consensus client; fewer than 64 columns makes this node a sampler).
    #[arg(
        help_heading = "Transaction pool",
        long = "blobpool.custody",
        default_value = "all"
    )]
    pub blobpool_custody: String,
    /// Milliseconds between a tx announcement and its fetch (old spelling
    /// --tx-arrival-wait).
    #[arg(
        help_heading = "Transaction pool",
        long = "txpool.arrivalwait",
        alias = "tx-arrival-wait",
        default_value_t = 500
    )]
    pub tx_arrival_wait: u64,
    /// Send and announce no pool txs to peers (reth's flag): a watching node takes txs and
    /// answers requests for them, but relays nothing.
    #[arg(help_heading = "Transaction pool", long = "disable-tx-gossip")]
    pub disable_tx_gossip: bool,
    /// Executable transactions kept (geth's flag and default; the pool holds this plus
    /// --txpool.globalqueue in one capacity, cheapest evicted first).
    #[arg(
        help_heading = "Transaction pool",
        long = "txpool.globalslots",
        default_value_t = 4096
    )]
    pub txpool_globalslots: usize,
    /// Non-executable (gapped) transactions kept (geth's flag and default).
    #[arg(
        help_heading = "Transaction pool",
        long = "txpool.globalqueue",
        default_value_t = 1024
    )]
    pub txpool_globalqueue: usize,
    /// Gapped transactions kept per sender (geth's flag and default).
    #[arg(help_heading = "Transaction pool", long = "txpool.accountqueue",
          default_value_t = ethpeer_actors::txs::pool::MAX_FUTURE_PER_SENDER)]
    pub txpool_accountqueue: usize,
    /// Percent a replacement must raise both fees by (geth's flag and default).
    #[arg(help_heading = "Transaction pool", long = "txpool.pricebump",
          default_value_t = ethpeer_actors::txs::pool::PRICE_BUMP_PERCENT)]
    pub txpool_pricebump: u128,
    /// Least tip (legacy: gas price), in wei, a transaction must offer (geth's flag and
    /// default).
    #[arg(help_heading = "Transaction pool", long = "txpool.pricelimit",
          default_value_t = ethpeer_actors::txs::pool::MIN_TIP)]
    pub txpool_pricelimit: u128,
    /// Log level as geth counts it: 0 silent, 1 error, 2 warn, 3 info (default), 4 debug,
    /// 5 trace. `RUST_LOG`, when set, refines it per module.
    #[arg(help_heading = "Logging", long, value_parser = clap::value_parser!(u8).range(0..=5),
          conflicts_with = "verbose")]
    pub verbosity: Option<u8>,
    /// Log level as reth counts it: -v error, -vv warn, -vvv info, -vvvv debug, -vvvvv
    /// trace.
    #[arg(help_heading = "Logging", short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format: `terminal` (level, module, message), `logfmt` (geth's key=value)
    /// or `json` (one object per line).
    #[arg(
        help_heading = "Logging",
        long = "log.format",
        value_enum,
        default_value = "terminal"
    )]
    pub log_format: LogFormat,
    /// Write logs to this file (appended) instead of stderr.
    #[arg(help_heading = "Logging", long = "log.file")]
    pub log_file: Option<PathBuf>,
    /// Write, as JSON lines, when each peer first delivered or announced each tx and block
    /// (old spelling --trace-propagation).
    #[arg(
        help_heading = "Metrics",
        long = "trace.propagation",
        alias = "trace-propagation"
    )]
    pub trace_propagation: Option<PathBuf>,
    /// Archive every transaction peers deliver, with its provenance, as hourly Parquet
    /// files (mempool-dumpster's columns, a sourcelog and a trash file) under DIR.
    #[arg(help_heading = "Archive", long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// Delete archived hours older than this (`90d`, `12h`, `30m`; default: keep all).
    #[arg(help_heading = "Archive", long = "archive.retain", value_parser = parse_retain)]
    pub archive_retain: Option<std::time::Duration>,
    /// This node's name in the archive's `sources` (default: --identity, else
    /// `ethpeer-` and the node id's first 8 hex digits).
    #[arg(help_heading = "Archive", long = "archive.source")]
    pub archive_source: Option<String>,
    /// Publish every archive event (tx verdicts, sightings, inclusions; a versioned JSON
    /// schema) to Kafka, at least once: `kafka://host:port[,host:port]/topic`. A fleet's
    /// topic becomes one archive with `ethpeer archive --from`.
    #[arg(help_heading = "Archive", long, value_name = "URL")]
    pub sink: Option<String>,
}

/// `--archive.retain`: a count with a unit (`d`, `h`, `m`).
fn parse_retain(text: &str) -> Result<std::time::Duration, String> {
    let split = text.len().saturating_sub(1);
    let (count, unit) = text.split_at(split);
    let count: u64 = count
        .parse()
        .map_err(|_| format!("{text}: a whole number and d, h or m (e.g. 90d)"))?;
    let secs = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        _ => return Err(format!("{text}: the unit is d, h or m")),
    };
    if count == 0 {
        return Err("keep at least one unit".into());
    }
    count
        .checked_mul(secs)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{text}: too long"))
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

    /// `--chain NAME|PATH` (reth's flag) as `--network NAME` or `--genesis PATH`. A path
    /// that holds an RLP chain file rather than a genesis is refused with the flag that
    /// imports it.
    pub fn resolve_chain(mut self) -> anyhow::Result<Self> {
        let Some(chain) = self.chain.take() else {
            return Ok(self);
        };
        use clap::ValueEnum;
        if let Ok(network) = NetworkArg::from_str(&chain, true) {
            self.network = network;
            return Ok(self);
        }
        let path = PathBuf::from(&chain);
        let head = std::fs::read(&path)
            .map_err(|e| anyhow::anyhow!("--chain {chain}: not a network name (mainnet, sepolia, holesky, hoodi, dev) and not a readable genesis file: {e}"))?;
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            anyhow::bail!(
                "--chain {chain}: not a genesis file (JSON); if it is an RLP chain file, \
                 import it with --import {chain}"
            );
        }
        self.genesis = Some(path);
        Ok(self)
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
