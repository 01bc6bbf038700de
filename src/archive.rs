//! The binary's archive commands and flags: `--archive`/`--sink` start the archiver
//! beside the node, `ethpeer archive --from` consumes a fleet's Kafka topic, and
//! `ethpeer archive merge|report` read archives (the work is in `ethpeer_actors::archive`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use ethpeer_actors::archive::actor::{Archiver, ArchiverHandle};
use ethpeer_actors::archive::kafka::KafkaUrl;
use ethpeer_actors::archive::report;
use ethpeer_actors::archive::store::ArchiveStore;

use crate::cli::{ArchiveArgs, ArchiveCommand, NodeArgs};

/// What `--archive`, `--archive.*` and `--sink` ask of the archiver.
pub struct ArchivePlan {
    dir: Option<PathBuf>,
    retain: Option<Duration>,
    /// The source name (none: --identity, else the node id).
    name: Option<String>,
    sink: Option<KafkaUrl>,
}

/// The archiver's plan, if `--archive` or `--sink` is given (a bad `--sink` is refused).
pub fn archive_plan(args: &NodeArgs) -> anyhow::Result<Option<ArchivePlan>> {
    let sink = match &args.sink {
        Some(url) => Some(url.parse().context("--sink")?),
        None => None,
    };
    if args.archive.is_none() && sink.is_none() {
        return Ok(None);
    }
    Ok(Some(ArchivePlan {
        dir: args.archive.clone(),
        retain: args.archive_retain,
        name: args
            .archive_source
            .clone()
            .or_else(|| args.identity.clone()),
        sink,
    }))
}

/// Opens the store (replaying its segments) and starts the archiver on an arbiter of its
/// own, subscribed to the node's events.
pub fn start_archive(
    node: &ethpeer_actors::node::Node,
    plan: &ArchivePlan,
) -> anyhow::Result<ArchiverHandle> {
    let store = match &plan.dir {
        Some(dir) => Some(ArchiveStore::open(dir, plan.retain).context("--archive")?),
        None => None,
    };
    let source = plan.name.clone().unwrap_or_else(|| {
        let id = node.node_id();
        format!(
            "ethpeer-{}",
            ethpeer_actors::alloy_primitives::hex::encode(&id[..4])
        )
    });
    if let (Some(dir), Some(store)) = (&plan.dir, &store) {
        log::info!(
            "archiving transactions to {} as {source} ({} events replayed)",
            dir.display(),
            store.stats.written
        );
    }
    if let Some(sink) = &plan.sink {
        log::info!(
            "publishing archive events to kafka topic {} as {source}",
            sink.topic
        );
    }
    let archiver = ArchiverHandle::start(Archiver::new(store, source, plan.sink.clone()));
    node.subscribe(archiver.events());
    node.add_metrics(archiver.metrics());
    Ok(archiver)
}

/// `ethpeer archive ...`.
pub fn command(args: ArchiveArgs) -> anyhow::Result<()> {
    let Some(command) = args.command else {
        let (Some(from), Some(dir)) = (args.from, args.dir) else {
            anyhow::bail!("archive: give --from URL --dir DIR, or merge / report");
        };
        return consume_kafka(&from, &dir, args.retain);
    };
    match command {
        ArchiveCommand::Merge { out, inputs } => {
            let (hours, txs) = report::merge(&inputs, &out)?;
            println!(
                "merged {} archives into {}: {hours} hours, {txs} txs",
                inputs.len(),
                out.display()
            );
        }
        ArchiveCommand::Report { dir, plot } => {
            let report = report::report(&dir)?;
            print!("{}", report.to_markdown());
            if let Some(path) = plot {
                report
                    .plot_cdf(&path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                println!("\nlatency CDF: {}", path.display());
            }
        }
    }
    Ok(())
}

/// `ethpeer archive --from URL --dir DIR`: consumes a fleet's topic until Ctrl-C.
fn consume_kafka(from: &str, dir: &Path, retain: Option<Duration>) -> anyhow::Result<()> {
    let url: KafkaUrl = from.parse().context("--from")?;
    actix_rt::System::new().block_on(async {
        ethpeer_actors::archive::kafka::consume(&url, dir, retain, crate::node::wait_for_signal())
            .await
            .context("archive --from")
    })
}
