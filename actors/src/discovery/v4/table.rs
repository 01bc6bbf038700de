//! The Kademlia table, as geth's `p2p/discover/table.go`: 17 buckets of 16 nodes for the
//! nearest log-distances (all farther nodes share bucket 0), a replacement list per
//! bucket, the IP limits per bucket and per table, and the closest-nodes query that
//! FindNode answers and lookups start from. Pure data: the caller passes the time.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use alloy_primitives::{keccak256, B256, B512};
use tokio::time::Instant;

use crate::discovery::enode::is_lan;
use crate::discovery::enr::Record;

/// geth `bucketSize` (Kademlia's k): nodes per bucket.
pub const BUCKET_SIZE: usize = 16;

/// geth `nBuckets` = `hashBits / 15`: buckets for the nearest distances.
pub const N_BUCKETS: usize = 17;

/// geth `bucketMinDistance` = `hashBits - nBuckets`: log-distances up to this share
/// bucket 0.
pub const BUCKET_MIN_DISTANCE: usize = 256 - N_BUCKETS;

/// geth `maxReplacements`: waiting nodes per bucket.
pub const MAX_REPLACEMENTS: usize = 10;

/// geth `bucketIPLimit`: nodes per /24 ([`SUBNET_BITS`]) in one bucket.
pub const BUCKET_IP_LIMIT: usize = 2;

/// geth `tableIPLimit`: nodes per /24 in the whole table.
pub const TABLE_IP_LIMIT: usize = 10;

/// geth `bucketSubnet` / `tableSubnet`: the prefix length the IP limits count per.
pub const SUBNET_BITS: u8 = 24;

/// A node the table knows: its identity, where it answers, and what we learnt about it.
#[derive(Clone, Debug)]
pub struct NodeEntry {
    /// Public key (node id).
    pub id: B512,
    /// keccak256(id): the Kademlia position.
    pub hash: B256,
    /// Discovery endpoint.
    pub udp: SocketAddr,
    /// RLPx port (0: unknown).
    pub tcp: u16,
    /// Its record, once fetched (EIP-868).
    pub record: Option<Record>,
    /// The sequence number its last Pong announced.
    pub enr_seq: Option<u64>,
    /// Revalidations it answered since it entered the table.
    pub liveness_checks: u32,
    /// When it entered the table.
    pub added_at: Instant,
    /// When it was last pinged by revalidation (or added).
    pub checked_at: Instant,
}

impl NodeEntry {
    /// A new entry.
    pub fn new(id: B512, udp: SocketAddr, tcp: u16, now: Instant) -> Self {
        Self {
            id,
            hash: keccak256(id),
            udp,
            tcp,
            record: None,
            enr_seq: None,
            liveness_checks: 0,
            added_at: now,
            checked_at: now,
        }
    }
}

/// What adding a node did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// It is in a bucket now.
    Inserted,
    /// It was there already (its endpoint was refreshed).
    Updated,
    /// Its bucket is full: it waits in the replacement list.
    Replacement,
    /// Refused: ourselves, or over an IP limit.
    Refused,
}

/// One bucket: live entries (most recently verified first) and replacements.
#[derive(Debug, Default)]
struct Bucket {
    entries: Vec<NodeEntry>,
    replacements: Vec<NodeEntry>,
}

/// The table of one node.
#[derive(Debug)]
pub struct Table {
    local_hash: B256,
    local_id: B512,
    buckets: Vec<Bucket>,
    /// Entries (not replacements) per /24, for [`TABLE_IP_LIMIT`].
    subnets: HashMap<IpAddr, usize>,
}

/// The log2 XOR distance of two hashes (0 when equal), as geth's `enode.LogDist`.
pub fn log_distance(a: &B256, b: &B256) -> usize {
    let mut leading = 0;
    for (x, y) in a.iter().zip(b.iter()) {
        let diff = x ^ y;
        if diff == 0 {
            leading += 8;
        } else {
            leading += diff.leading_zeros() as usize;
            break;
        }
    }
    256 - leading
}

/// Whether `a` is closer to `target` than `b` (XOR metric).
pub fn closer(target: &B256, a: &B256, b: &B256) -> std::cmp::Ordering {
    let da = *a ^ *target;
    let db = *b ^ *target;
    da.cmp(&db)
}

/// The /24 (or /SUBNET_BITS of IPv6, as geth) an address belongs to.
fn subnet(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let mask = u32::MAX << (32 - u32::from(SUBNET_BITS));
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX << (128 - u32::from(SUBNET_BITS));
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

impl Table {
    /// An empty table for node `local_id`.
    pub fn new(local_id: B512) -> Self {
        Self {
            local_hash: keccak256(local_id),
            local_id,
            buckets: (0..N_BUCKETS).map(|_| Bucket::default()).collect(),
            subnets: HashMap::new(),
        }
    }

    /// Nodes in buckets (not replacements).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    /// Whether no bucket holds a node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bucket index of `hash`: geth's `bucketAtDistance`.
    fn bucket_index(&self, hash: &B256) -> usize {
        let d = log_distance(&self.local_hash, hash);
        d.saturating_sub(BUCKET_MIN_DISTANCE + 1)
    }

    /// The entry of `id`, if it is in a bucket.
    pub fn get(&self, id: &B512) -> Option<&NodeEntry> {
        let b = self.bucket_index(&keccak256(id));
        self.buckets[b].entries.iter().find(|e| e.id == *id)
    }

    /// The entry of `id`, to update what we know of it.
    pub fn get_mut(&mut self, id: &B512) -> Option<&mut NodeEntry> {
        let b = self.bucket_index(&keccak256(id));
        self.buckets[b].entries.iter_mut().find(|e| e.id == *id)
    }

    /// Adds a node whose endpoint was proven (it answered our Ping, or pinged us and we
    /// hold its Pong): geth's `addInboundNode`/`addFoundNode` after verification. A known
    /// node moves to the front with its endpoint refreshed; a new one goes in if its bucket
    /// has room and the IP limits allow, else into the replacements.
    pub fn add(&mut self, entry: NodeEntry) -> Added {
        if entry.id == self.local_id {
            return Added::Refused;
        }
        let b = self.bucket_index(&entry.hash);
        if let Some(pos) = self.buckets[b]
            .entries
            .iter()
            .position(|e| e.id == entry.id)
        {
            let old = self.buckets[b].entries.remove(pos);
            if old.udp.ip() != entry.udp.ip() {
                // A new IP must fit the limits like a new node would.
                self.release_ip(old.udp.ip());
                if !self.ip_allowed(b, entry.udp.ip()) {
                    return Added::Refused;
                }
                self.take_ip(entry.udp.ip());
            }
            let mut updated = entry;
            updated.record = updated.record.or(old.record);
            updated.enr_seq = updated.enr_seq.or(old.enr_seq);
            updated.liveness_checks = old.liveness_checks;
            updated.added_at = old.added_at;
            self.buckets[b].entries.insert(0, updated);
            return Added::Updated;
        }
        if self.buckets[b].entries.len() >= BUCKET_SIZE {
            return self.add_replacement(b, entry);
        }
        if !self.ip_allowed(b, entry.udp.ip()) {
            return Added::Refused;
        }
        self.take_ip(entry.udp.ip());
        self.buckets[b].replacements.retain(|r| r.id != entry.id);
        self.buckets[b].entries.insert(0, entry);
        Added::Inserted
    }

    fn add_replacement(&mut self, b: usize, entry: NodeEntry) -> Added {
        let bucket = &mut self.buckets[b];
        bucket.replacements.retain(|r| r.id != entry.id);
        let same_subnet = bucket
            .replacements
            .iter()
            .filter(|r| subnet(r.udp.ip()) == subnet(entry.udp.ip()))
            .count();
        if !is_lan(entry.udp.ip()) && same_subnet >= BUCKET_IP_LIMIT {
            return Added::Refused;
        }
        bucket.replacements.insert(0, entry);
        bucket.replacements.truncate(MAX_REPLACEMENTS);
        Added::Replacement
    }

    /// Removes a node that failed revalidation; a replacement (most recent first) takes
    /// its place when the IP limits allow. Answers whether it was in the table.
    pub fn remove(&mut self, id: &B512) -> bool {
        let b = self.bucket_index(&keccak256(id));
        let Some(pos) = self.buckets[b].entries.iter().position(|e| e.id == *id) else {
            self.buckets[b].replacements.retain(|r| r.id != *id);
            return false;
        };
        let gone = self.buckets[b].entries.remove(pos);
        self.release_ip(gone.udp.ip());
        while !self.buckets[b].replacements.is_empty() {
            let next = self.buckets[b].replacements.remove(0);
            if self.ip_allowed(b, next.udp.ip()) {
                self.take_ip(next.udp.ip());
                self.buckets[b].entries.push(next);
                break;
            }
        }
        true
    }

    /// Up to `n` known nodes closest to `target` (a hash), closest first.
    pub fn closest(&self, target: &B256, n: usize) -> Vec<NodeEntry> {
        let mut all: Vec<&NodeEntry> = self.buckets.iter().flat_map(|b| &b.entries).collect();
        all.sort_by(|a, b| closer(target, &a.hash, &b.hash));
        all.into_iter().take(n).cloned().collect()
    }

    /// The entry revalidation should ping next: the one checked longest ago.
    pub fn least_recently_checked(&self) -> Option<&NodeEntry> {
        self.entries().min_by_key(|e| e.checked_at)
    }

    /// Every node in a bucket.
    pub fn entries(&self) -> impl Iterator<Item = &NodeEntry> {
        self.buckets.iter().flat_map(|b| &b.entries)
    }

    /// Nodes waiting in replacement lists.
    pub fn replacements_len(&self) -> usize {
        self.buckets.iter().map(|b| b.replacements.len()).sum()
    }

    /// geth's `addIP` checks: LAN and loopback addresses are exempt (several local nodes
    /// share one), others at most [`BUCKET_IP_LIMIT`] per /24 in the bucket and
    /// [`TABLE_IP_LIMIT`] in the table.
    fn ip_allowed(&self, b: usize, ip: IpAddr) -> bool {
        if is_lan(ip) {
            return true;
        }
        let net = subnet(ip);
        let in_table = self.subnets.get(&net).copied().unwrap_or(0);
        let in_bucket = self.buckets[b]
            .entries
            .iter()
            .filter(|e| subnet(e.udp.ip()) == net)
            .count();
        in_table < TABLE_IP_LIMIT && in_bucket < BUCKET_IP_LIMIT
    }

    fn take_ip(&mut self, ip: IpAddr) {
        if !is_lan(ip) {
            *self.subnets.entry(subnet(ip)).or_default() += 1;
        }
    }

    fn release_ip(&mut self, ip: IpAddr) {
        if is_lan(ip) {
            return;
        }
        let net = subnet(ip);
        if let Some(n) = self.subnets.get_mut(&net) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.subnets.remove(&net);
            }
        }
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
