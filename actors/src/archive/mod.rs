//! The mempool archive (`--archive DIR`, issue 27): every transaction the node's peers
//! deliver, with its provenance, in hourly Parquet files that keep mempool-dumpster's
//! columns ([`files`]), written through a write-ahead segment synced every second
//! ([`store`]) by the [`actor::Archiver`], which consumes the feed's `settled` arrivals
//! and inclusions ([`record`] is the event schema, also what a fleet publishes).
//! [`kafka`] publishes a node's events to Kafka and consumes a fleet's into one archive;
//! [`report`] merges archives and prints who saw what first.

pub mod actor;
pub mod files;
pub mod hour;
pub mod kafka;
pub mod record;
pub mod report;
pub mod store;

#[cfg(test)]
mod tests;
