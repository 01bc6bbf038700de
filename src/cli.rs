//! Command-line interface: argument parsing only; each command calls into the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// An Ethereum devp2p peer node built on actix.
#[derive(Debug, Parser)]
#[command(name = "ethpeer", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
