//! The sync state of one tree, as geth's `clientTree`: the verified root, the link subtree
//! (synced to completion first) and the node subtree (walked in random order, started
//! over once every leaf was visited), root rechecks on a timer or after repeated leaf
//! failures. No I/O: the [`super::Client`] fetches what [`TreeSync::next_request`] names
//! and reports back.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::entry::{Entry, EntryHash, Link, Root};
use super::DnsError;
use crate::discovery::enr::Record;

/// How often a tree's root is fetched again (geth `Config.RecheckInterval` default, 30 min).
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// Leaf failures in a row after which the root is fetched again (geth
/// `rootRecheckFailCount`): the tree may have been replaced under us.
pub const ROOT_RECHECK_FAIL_COUNT: u32 = 5;

/// Root failures after which root fetches wait [`ROOT_SLOWDOWN`] (geth
/// `slowdownRootUpdate`: more than 5 failures, 5 s).
pub const ROOT_SLOWDOWN_AFTER: u32 = 5;
/// The wait after [`ROOT_SLOWDOWN_AFTER`] root failures (geth: 5 s).
pub const ROOT_SLOWDOWN: Duration = Duration::from_secs(5);
/// Root failures after which root fetches wait [`ROOT_SLOWDOWN_MAX`] (geth: more than 20).
pub const ROOT_SLOWDOWN_MAX_AFTER: u32 = 20;
/// The wait after [`ROOT_SLOWDOWN_MAX_AFTER`] root failures (geth: 10 s).
pub const ROOT_SLOWDOWN_MAX: Duration = Duration::from_secs(10);

/// The deepest branch we follow (ours): geth's builder puts 18 children in a branch, so
/// depth 4 already holds over 100,000 records; deeper trees are hostile or broken.
pub const MAX_TREE_DEPTH: usize = 8;

/// Distinct entries one pass over a subtree visits at most (ours; each costs a remembered
/// hash of ~64 bytes, so at most ~2 MiB). The public trees hold a few thousand records.
/// The same hash listed twice is visited once, so a branch naming one subtree many times
/// cannot multiply the work.
pub const MAX_TREE_ENTRIES: usize = 32_768;

/// Hashes waiting to be fetched in one subtree at most (ours).
pub const MAX_PENDING: usize = 4096;

/// Trees linked from one tree that are followed at most (ours).
pub const MAX_LINKS_PER_TREE: usize = 64;

/// A hash to fetch, and where it sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The subdomain to query under the tree's domain.
    pub hash: EntryHash,
    /// Whether it belongs to the link subtree.
    pub link: bool,
    depth: usize,
}

/// One pass over a subtree.
#[derive(Debug)]
struct Subtree {
    root: EntryHash,
    link: bool,
    /// (hash, depth) still to fetch.
    missing: Vec<(EntryHash, usize)>,
    seen: HashSet<EntryHash>,
    leaves: usize,
}

impl Subtree {
    fn new(root: EntryHash, link: bool) -> Self {
        let mut seen = HashSet::new();
        seen.insert(root.clone());
        Self {
            missing: vec![(root.clone(), 0)],
            root,
            link,
            seen,
            leaves: 0,
        }
    }

    fn done(&self) -> bool {
        self.missing.is_empty()
    }

    fn name(&self) -> &'static str {
        match self.link {
            true => "link",
            false => "node",
        }
    }
}

/// Where a tree stands.
#[derive(Debug)]
pub struct TreeSync {
    link: Link,
    root: Option<Root>,
    last_root_check: Option<Instant>,
    leaf_failures: u32,
    root_failures: u32,
    nodes: Option<Subtree>,
    links: Option<Subtree>,
    /// Links of the last completed pass over the link subtree.
    linked: BTreeSet<Link>,
    /// Links found in the current pass.
    linking: BTreeSet<Link>,
}

impl TreeSync {
    /// A tree not fetched yet.
    pub fn new(link: Link) -> Self {
        Self {
            link,
            root: None,
            last_root_check: None,
            leaf_failures: 0,
            root_failures: 0,
            nodes: None,
            links: None,
            linked: BTreeSet::new(),
            linking: BTreeSet::new(),
        }
    }

    /// The tree's location.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The verified root, once there is one.
    pub fn root(&self) -> Option<&Root> {
        self.root.as_ref()
    }

    /// The trees this one links to (the last complete pass, and what the current one found).
    pub fn links(&self) -> impl Iterator<Item = &Link> {
        self.linked.union(&self.linking)
    }

    /// Whether the root should be fetched: never fetched, fetched [`RECHECK_INTERVAL`] ago,
    /// or leaves kept failing; after repeated root failures, not before
    /// [`TreeSync::root_delay`] has passed.
    pub fn root_update_due(&self, now: Instant) -> bool {
        self.next_root_check().is_none_or(|at| now >= at)
    }

    /// When the root is fetched next (`None`: now). geth sleeps the whole iterator for
    /// the slowdown; here only this tree waits, so one dead tree does not stall the rest.
    pub fn next_root_check(&self) -> Option<Instant> {
        let at = self.last_root_check?;
        match self.root.is_none() || self.leaf_failures > ROOT_RECHECK_FAIL_COUNT {
            true => Some(at + self.root_delay()),
            false => Some(at + RECHECK_INTERVAL),
        }
    }

    /// How long to wait between root fetches after repeated failures.
    pub fn root_delay(&self) -> Duration {
        match self.root_failures {
            n if n > ROOT_SLOWDOWN_MAX_AFTER => ROOT_SLOWDOWN_MAX,
            n if n > ROOT_SLOWDOWN_AFTER => ROOT_SLOWDOWN,
            _ => Duration::ZERO,
        }
    }

    /// Whether a fetch can make progress now (geth `canSyncRandom`): a root check is due,
    /// a subtree has hashes left, or the node subtree has leaves to walk again.
    pub fn can_sync(&self, now: Instant) -> bool {
        self.root_update_due(now)
            || self.links.as_ref().is_some_and(|s| !s.done())
            || self
                .nodes
                .as_ref()
                .is_some_and(|s| !s.done() || s.leaves > 0)
    }

    /// A root fetch failed.
    pub fn root_failed(&mut self, now: Instant) {
        self.last_root_check = Some(now);
        self.root_failures = self.root_failures.saturating_add(1);
    }

    /// A root was fetched and verified: subtrees whose root hash changed start over.
    pub fn set_root(&mut self, root: Root, now: Instant) -> Result<(), DnsError> {
        self.last_root_check = Some(now);
        if let Some(old) = &self.root {
            if root.seq < old.seq {
                self.root_failures = self.root_failures.saturating_add(1);
                return Err(DnsError::SeqRegressed {
                    domain: self.link.domain.clone(),
                    seq: root.seq,
                    previous: old.seq,
                });
            }
        }
        self.root_failures = 0;
        self.leaf_failures = 0;
        if self.links.as_ref().map(|s| &s.root) != Some(&root.link_root) {
            self.links = Some(Subtree::new(root.link_root.clone(), true));
            self.linking.clear();
        }
        if self.nodes.as_ref().map(|s| &s.root) != Some(&root.enr_root) {
            self.nodes = Some(Subtree::new(root.enr_root.clone(), false));
        }
        self.root = Some(root);
        Ok(())
    }

    /// The next hash to fetch: the link subtree to completion first, then a random one of
    /// the node subtree's (a finished pass starts over: entries are cached). `None` until
    /// a root is set or when the tree is empty.
    pub fn next_request(&mut self, random: u64) -> Option<Request> {
        if let Some(links) = &self.links {
            if let Some((hash, depth)) = links.missing.first() {
                return Some(Request {
                    hash: hash.clone(),
                    link: true,
                    depth: *depth,
                });
            }
        }
        let nodes = self.nodes.as_mut()?;
        if nodes.done() {
            if nodes.leaves == 0 {
                return None;
            }
            *nodes = Subtree::new(nodes.root.clone(), false);
        }
        let len = u64::try_from(nodes.missing.len()).unwrap_or(u64::MAX);
        let index = usize::try_from(random % len.max(1)).unwrap_or(0);
        let (hash, depth) = nodes.missing.get(index)?;
        Some(Request {
            hash: hash.clone(),
            link: false,
            depth: *depth,
        })
    }

    /// A requested entry was fetched and its hash matched. Returns the node record of an
    /// `enr:` leaf. A link pass that ends here replaces the tree's links.
    pub fn resolved(
        &mut self,
        request: &Request,
        entry: &Entry,
    ) -> Result<Option<Record>, DnsError> {
        let result = self.apply(request, entry);
        match &result {
            Ok(_) => self.leaf_failures = 0,
            Err(_) => self.leaf_failures = self.leaf_failures.saturating_add(1),
        }
        if self.links.as_ref().is_some_and(Subtree::done) && !self.linking.is_empty() {
            self.linked = std::mem::take(&mut self.linking);
        } else if self.links.as_ref().is_some_and(Subtree::done) && request.link {
            // The pass ended with no links at all: the tree links nowhere now.
            self.linked.clear();
        }
        result
    }

    /// A requested entry could not be fetched or did not verify: it is dropped from this
    /// pass and counts towards a root recheck.
    pub fn failed(&mut self, request: &Request) {
        self.leaf_failures = self.leaf_failures.saturating_add(1);
        self.remove(request);
    }

    /// Whether the last pass over the node subtree just ended with leaves seen (a "synced"
    /// tree for the metrics).
    pub fn node_pass_done(&self) -> bool {
        self.nodes
            .as_ref()
            .is_some_and(|s| s.done() && s.leaves > 0)
    }

    fn subtree(&mut self, link: bool) -> Option<&mut Subtree> {
        match link {
            true => self.links.as_mut(),
            false => self.nodes.as_mut(),
        }
    }

    fn remove(&mut self, request: &Request) {
        if let Some(subtree) = self.subtree(request.link) {
            if let Some(at) = subtree.missing.iter().position(|(h, _)| *h == request.hash) {
                subtree.missing.swap_remove(at);
            }
        }
    }

    fn apply(&mut self, request: &Request, entry: &Entry) -> Result<Option<Record>, DnsError> {
        self.remove(request);
        let domain = self.link.domain.clone();
        let name = format!("{}.{domain}", request.hash);
        let Some(subtree) = self.subtree(request.link) else {
            return Ok(None);
        };
        let wrong = |found| DnsError::WrongSubtree {
            name: name.clone(),
            found,
            subtree: subtree.name(),
        };
        match entry {
            Entry::Enr(record) if !request.link => {
                subtree.leaves = subtree.leaves.saturating_add(1);
                Ok(Some((**record).clone()))
            }
            Entry::Link(link) if request.link => {
                subtree.leaves = subtree.leaves.saturating_add(1);
                if self.linking.len() < MAX_LINKS_PER_TREE {
                    self.linking.insert(link.clone());
                }
                Ok(None)
            }
            Entry::Enr(_) => Err(wrong("enr")),
            Entry::Link(_) => Err(wrong("link")),
            Entry::Branch(children) => {
                let depth = request.depth.saturating_add(1);
                if depth > MAX_TREE_DEPTH {
                    return Err(DnsError::TooDeep {
                        name,
                        depth,
                        max: MAX_TREE_DEPTH,
                    });
                }
                for child in children {
                    if subtree.seen.contains(child) {
                        continue;
                    }
                    let limit = if subtree.seen.len() >= MAX_TREE_ENTRIES {
                        Some(("entries", MAX_TREE_ENTRIES))
                    } else if subtree.missing.len() >= MAX_PENDING {
                        Some(("pending hashes", MAX_PENDING))
                    } else {
                        None
                    };
                    if let Some((what, max)) = limit {
                        return Err(DnsError::TreeTooLarge { domain, what, max });
                    }
                    subtree.seen.insert(child.clone());
                    subtree.missing.push((child.clone(), depth));
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
