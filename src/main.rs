//! The `ethpeer` binary: parses the command line and runs the command. All behaviour lives
//! in the `ethpeer-actors` library.

mod cli;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use ethpeer_actors::{chain, eth::genesis, rlp_tree::RlpItem};

use cli::{ChainCommand, Cli, Command, RlpCommand};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ethpeer: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Chain(ChainCommand::Info { genesis, chain }) => {
            chain_info(&genesis, chain.as_deref())
        }
        Command::Rlp(RlpCommand::Decode { hex }) => rlp_decode(&hex),
    }
}

fn chain_info(genesis_path: &Path, chain_path: Option<&Path>) -> anyhow::Result<()> {
    let spec = genesis::load_genesis(genesis_path)?;
    let blocks = match chain_path {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read chain file {}", path.display()))?;
            chain::read_chain_file(&bytes)
                .with_context(|| format!("invalid chain file {}", path.display()))?
        }
        None => Vec::new(),
    };
    let info = chain::chain_info(&spec, &blocks)?;
    println!("{}", serde_json::to_string(&info)?);
    Ok(())
}

fn rlp_decode(hex: &str) -> anyhow::Result<()> {
    let bytes = alloy_primitives::hex::decode(hex.trim()).context("input is not hex")?;
    let item = RlpItem::decode_exact(&bytes)?;
    println!("{}", item.to_json());
    Ok(())
}

/// The error and its causes on one line, skipping a cause whose text the previous message
/// already contains (our error types quote their source).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
}
