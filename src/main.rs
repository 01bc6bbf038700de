//! The `ethpeer` binary: parses the command line and runs the command. All behaviour lives
//! in the `ethpeer-actors` library.

#![cfg_attr(not(test), warn(clippy::too_many_lines))]

mod archive;
mod cli;
mod config;
mod flags;
mod keys;
mod logging;
mod node;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use ethpeer_actors::{chain, eth::genesis, rlp_tree::RlpItem};

use cli::{ChainCommand, Command, KeyCommand, RlpCommand};

/// mimalloc instead of glibc's malloc: with hundreds of peers the node's threads allocate
/// and free frames and messages all the time, and glibc's arena locks and consolidation
/// took about a third of its CPU (see the README's arrivals benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let (cli, dump) = match config::parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(error) if !error.use_stderr() => error.exit(),
        Err(error) => {
            // clap's whole text: the error, the valid values, "a similar argument exists",
            // usage; its first line carries our prefix like every other error.
            let text = error.render().to_string();
            let mut lines = text.lines();
            let first = lines.next().unwrap_or_default();
            eprintln!("ethpeer: {}", first.trim_start_matches("error: "));
            for line in lines {
                eprintln!("{line}");
            }
            return ExitCode::from(2);
        }
    };
    if let Some(matches) = dump {
        return match config::dump(&matches) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("ethpeer: {}", one_line(&err));
                ExitCode::FAILURE
            }
        };
    }
    let command = cli.command.unwrap_or(Command::Node(Box::new(cli.node)));
    let settings = match &command {
        Command::Node(args) => logging::LogSettings {
            level: args
                .verbosity
                .or((args.verbose > 0).then_some(args.verbose)),
            format: args.log_format,
            file: args.log_file.as_deref(),
        },
        _ => logging::LogSettings {
            level: None,
            format: cli::LogFormat::Terminal,
            file: None,
        },
    };
    if let Err(err) = logging::init(settings) {
        eprintln!("ethpeer: {}", one_line(&err));
        return ExitCode::FAILURE;
    }
    match run(command) {
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
        Command::Archive(args) => archive::command(args),
        Command::Import {
            datadir,
            genesis,
            chain,
        } => import(&datadir, &genesis, &chain),
        Command::Node(args) => node::run(*args),
        // Answered in `main` from the parsed matches, before logging starts.
        Command::Dumpconfig(_) => Ok(()),
        Command::Key(KeyCommand::Show { file, addr }) => keys::key_show(&file, addr),
        Command::Key(KeyCommand::Generate { file, addr }) => {
            keys::key_generate(file.as_deref(), addr)
        }
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

/// Blocks written per store transaction while importing.
const IMPORT_BATCH: usize = 256;

fn import(datadir: &Path, genesis_path: &Path, chain_path: &Path) -> anyhow::Result<()> {
    use ethpeer_actors::chain::{RedbChainStore, CHAIN_DB_FILE};

    let spec = genesis::load_genesis(genesis_path)?;
    let genesis_header = genesis::genesis_header(&spec)?;
    std::fs::create_dir_all(datadir)
        .with_context(|| format!("cannot create data directory {}", datadir.display()))?;
    let store = RedbChainStore::open(&datadir.join(CHAIN_DB_FILE), &genesis_header)?;
    println!("{}", import_into(&store, chain_path, Some(&spec))?);
    Ok(())
}

/// Imports a chain file into `store` after checking parent links and body roots; returns
/// the JSON summary. With the genesis alloc (`spec`), every block is executed first and
/// must reproduce its header's roots (as geth's `import` does); its receipts are stored so
/// that peers can be served them. Without it (the public networks ship no alloc), blocks
/// are stored without receipts.
fn import_into(
    store: &ethpeer_actors::chain::RedbChainStore,
    chain_path: &Path,
    spec: Option<&alloy_genesis::Genesis>,
) -> anyhow::Result<serde_json::Value> {
    use ethpeer_actors::chain::ChainStore;

    let bytes = std::fs::read(chain_path)
        .with_context(|| format!("cannot read chain file {}", chain_path.display()))?;
    let blocks = chain::read_chain_file(&bytes)
        .with_context(|| format!("invalid chain file {}", chain_path.display()))?;
    let Some(first) = blocks.first() else {
        anyhow::bail!("chain file {} holds no blocks", chain_path.display())
    };
    let parent = store
        .header_by_hash(&first.header.parent_hash)
        .with_context(|| {
            format!(
                "block {} does not extend this chain (unknown parent)",
                first.header.number
            )
        })?;
    // Parent links, numbers and body roots, before anything is written.
    chain::verify_chain(&parent, &blocks)?;
    let mut executor = spec
        .map(|spec| chain::ChainExecutor::replayed_to(spec, store, &parent))
        .transpose()
        .context("cannot replay the stored chain")?;
    let progress = indicatif::ProgressBar::new(blocks.len() as u64);
    let mut new = 0;
    for batch in blocks.chunks(IMPORT_BATCH) {
        let mut executed = Vec::with_capacity(batch.len());
        for block in batch {
            let receipts = match executor.as_mut() {
                Some(executor) => Some(executor.execute(block)?),
                None => None,
            };
            executed.push((block.clone(), receipts));
        }
        new += store.import(&executed)?;
        progress.inc(batch.len() as u64);
    }
    progress.finish_and_clear();
    let head = store.head();
    Ok(
        serde_json::json!({"imported": new, "skipped": blocks.len() - new, "head_number": head.number, "head_hash": head.hash_slow()}),
    )
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
