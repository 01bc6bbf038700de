//! What the state machine does with each received packet. Every datagram passes, in this
//! order, everything that costs no signature recovery first: a request's budget (per IP,
//! per prefix, for all sources) on its type byte; the hash and the data; the expiration
//! (not past, not more than [`MAX_EXPIRATION_AHEAD`] ahead); for a reply, a pending
//! request to that address that it answers (a Pong's or ENRResponse's echoed hash, a
//! FindNode for Neighbors). Only then is the signer recovered (about 40 µs), and it must
//! be the node we asked; FindNode/ENRRequest need a bond.

use std::net::{IpAddr, SocketAddr};

use alloy_primitives::{keccak256, B256, B512};
use tokio::time::Instant;

use super::lookup::LookupNode;
use super::metrics::DropReason;
use super::proto::{
    short, Discv4, PendingKind, PingPurpose, BOND_EXPIRATION, MAX_EXPIRATION_AHEAD,
    RESPONSE_TIMEOUT,
};
use super::table::BUCKET_SIZE;
use super::wire::{
    Endpoint, EnrResponse, FindNode, Neighbors, NodeRecord, Packet, Ping, Pong, HEADER_SIZE,
    MAX_NEIGHBORS,
};
use crate::discovery::enode::is_lan;
use crate::discovery::enr;

/// geth's `nodeFromRPC`: discovery ports at or below 1024 are not accepted from Neighbors.
pub const MIN_RELAYED_UDP_PORT: u16 = 1025;

impl Discv4 {
    /// Handles one datagram from `from`.
    pub fn on_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) {
        // Requests (Ping, FindNode, ENRRequest) are budgeted before anything is decoded:
        // a flood costs a lookup per packet, not an ecrecover.
        let kind = datagram.get(HEADER_SIZE - 1).copied();
        if matches!(kind, Some(0x01 | 0x03 | 0x05)) && !self.limiter.allow(from.ip(), now) {
            self.metrics.count_drop(DropReason::RateLimited);
            return;
        }
        let (packet, hash) = match Packet::decode_unverified(datagram) {
            Ok(decoded) => decoded,
            Err(error) => {
                log::trace!("discv4: {from}: {error}");
                self.metrics.count_drop(DropReason::Malformed);
                return;
            }
        };
        let unix = self.unix(now);
        let too_far = unix.saturating_add(MAX_EXPIRATION_AHEAD.as_secs());
        if packet.check_expiration(unix).is_err()
            || packet.expiration().is_some_and(|e| e > too_far)
        {
            self.metrics.count_drop(DropReason::Expired);
            return;
        }
        if !self.may_answer(from, &packet) {
            self.metrics.count_drop(DropReason::Unsolicited);
            return;
        }
        let sender = match Packet::recover_sender(datagram) {
            Ok(sender) => sender,
            Err(error) => {
                log::trace!("discv4: {from}: {error}");
                self.metrics.count_drop(DropReason::Malformed);
                return;
            }
        };
        if sender == self.local_id {
            self.metrics.count_drop(DropReason::FromSelf);
            return;
        }
        self.metrics.count_in(packet.kind());
        match packet {
            Packet::Ping(ping) => self.on_ping(sender, hash, from, ping, now),
            Packet::Pong(pong) => self.on_pong(sender, from, pong, now),
            Packet::FindNode(find) => self.on_findnode(sender, from, find, now),
            Packet::Neighbors(neighbors) => self.on_neighbors(sender, from, neighbors, now),
            Packet::EnrRequest(_) => self.on_enr_request(sender, hash, from, now),
            Packet::EnrResponse(response) => self.on_enr_response(sender, from, response, now),
        }
    }

    /// Whether `packet` from `from` is a request, or a reply to a request we sent to that
    /// address (checked before the signer is recovered; the handlers check the signer).
    fn may_answer(&self, from: SocketAddr, packet: &Packet) -> bool {
        let asked = |matches: &dyn Fn(&PendingKind) -> bool| {
            self.pending
                .iter()
                .any(|p| p.addr.ip() == from.ip() && matches(&p.kind))
        };
        match packet {
            Packet::Ping(_) | Packet::FindNode(_) | Packet::EnrRequest(_) => true,
            Packet::Pong(pong) => {
                asked(&|k| matches!(k, PendingKind::Ping { hash, .. } if *hash == pong.ping_hash))
            }
            Packet::Neighbors(_) => asked(&|k| matches!(k, PendingKind::FindNode { .. })),
            Packet::EnrResponse(response) => {
                asked(&|k| matches!(k, PendingKind::Enr { hash } if *hash == response.request_hash))
            }
        }
    }

    fn on_ping(&mut self, sender: B512, hash: B256, from: SocketAddr, ping: Ping, now: Instant) {
        let tcp = ping.from.tcp;
        let pong = Packet::Pong(Pong {
            to: Endpoint {
                ip: from.ip(),
                udp: from.port(),
                tcp,
            },
            ping_hash: hash,
            expiration: self
                .unix(now)
                .saturating_add(super::proto::EXPIRATION.as_secs()),
            enr_seq: Some(self.record.seq()),
        });
        self.send(from, &pong);
        self.bond_mut(sender).ping_received = Some(now);
        if self.is_bonded(&sender, from.ip(), now) {
            self.add_verified(sender, from, tcp, now);
            let known = self
                .bonds
                .get(&sender)
                .and_then(|b| b.record.as_ref())
                .map(|r| r.seq());
            let waiting = self.deferred_enr.iter().any(|(_, id, _)| *id == sender);
            if waiting
                || ping
                    .enr_seq
                    .is_some_and(|seq| known.is_none_or(|k| k < seq))
            {
                self.deferred_enr.retain(|(_, id, _)| *id != sender);
                self.request_enr(sender, from, now);
            }
        } else if !self.pinging(&sender) {
            // Unknown node: verify its endpoint before it goes into the table (geth does
            // the same on an unbonded Ping).
            self.ping(sender, from, tcp, PingPurpose::Bond, now);
        }
        // A lookup's FindNode that waited for this node to know us can go now.
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|(_, _, node)| node.id == sender);
        self.deferred = waiting;
        for (_, lookup, node) in ready {
            if !self.send_findnode(lookup, node, now) {
                self.lookup_answered(lookup, now);
            }
        }
    }

    fn pinging(&self, id: &B512) -> bool {
        self.pending
            .iter()
            .any(|p| p.id == *id && matches!(p.kind, PendingKind::Ping { .. }))
    }

    fn on_pong(&mut self, sender: B512, from: SocketAddr, pong: Pong, now: Instant) {
        let matched = self.pending.iter().position(|p| {
            p.id == sender
                && p.addr.ip() == from.ip()
                && matches!(p.kind, PendingKind::Ping { hash, .. } if hash == pong.ping_hash)
        });
        let Some(index) = matched else {
            self.metrics.count_drop(DropReason::Unsolicited);
            return;
        };
        let PendingKind::Ping { purpose, tcp, .. } = self.pending.swap_remove(index).kind else {
            return;
        };
        let bond = self.bond_mut(sender);
        bond.pong_received = Some(now);
        bond.pong_ip = Some(from.ip());
        let tcp = self
            .table
            .get(&sender)
            .map(|e| e.tcp)
            .filter(|t| *t != 0)
            .unwrap_or(tcp);
        self.add_verified(sender, from, tcp, now);
        if purpose == PingPurpose::Revalidate {
            if let Some(entry) = self.table.get_mut(&sender) {
                entry.liveness_checks = entry.liveness_checks.saturating_add(1);
            }
        }
        let known = self
            .bonds
            .get(&sender)
            .and_then(|b| b.record.as_ref())
            .map(|r| r.seq());
        let they_know_us = self
            .bonds
            .get(&sender)
            .and_then(|b| b.ping_received)
            .is_some_and(|at| now.saturating_duration_since(at) < BOND_EXPIRATION);
        match pong.enr_seq {
            Some(seq) if known.is_none_or(|k| k < seq) => {
                if they_know_us {
                    self.request_enr(sender, from, now);
                } else {
                    // Its ENRRequest handler wants a bond with us too: ask once it pinged
                    // us back (see on_ping), or after the reply timeout.
                    self.deferred_enr
                        .push((now + RESPONSE_TIMEOUT, sender, from));
                }
            }
            _ => self.announce(sender),
        }
        if let PingPurpose::BondThenFind(lookup) = purpose {
            let node = LookupNode::new(sender, from, tcp);
            if they_know_us {
                if !self.send_findnode(lookup, node, now) {
                    self.lookup_answered(lookup, now);
                }
            } else {
                // Give it time to ping us back (geth waits `respTimeout` too), else its
                // FindNode handler would not know us yet.
                self.deferred.push((now + RESPONSE_TIMEOUT, lookup, node));
            }
        }
    }

    fn on_findnode(&mut self, sender: B512, from: SocketAddr, find: FindNode, now: Instant) {
        if !self.is_bonded(&sender, from.ip(), now) {
            // No endpoint proof: answering could amplify traffic at a forged source.
            self.metrics.count_drop(DropReason::Unbonded);
            return;
        }
        let target = keccak256(find.target);
        let nodes: Vec<NodeRecord> = self
            .table
            .closest(&target, BUCKET_SIZE)
            .into_iter()
            .filter(|e| relay_allowed(from.ip(), e.udp.ip()))
            .map(|e| NodeRecord {
                endpoint: Endpoint {
                    ip: e.udp.ip(),
                    udp: e.udp.port(),
                    tcp: e.tcp,
                },
                id: e.id,
            })
            .collect();
        let expiration = self
            .unix(now)
            .saturating_add(super::proto::EXPIRATION.as_secs());
        if nodes.is_empty() {
            // geth answers with one empty packet, so the asker need not wait for a timeout.
            self.send(
                from,
                &Packet::Neighbors(Neighbors {
                    nodes: vec![],
                    expiration,
                }),
            );
        }
        for chunk in nodes.chunks(MAX_NEIGHBORS) {
            let packet = Packet::Neighbors(Neighbors {
                nodes: chunk.to_vec(),
                expiration,
            });
            self.send(from, &packet);
        }
    }

    fn on_neighbors(&mut self, sender: B512, from: SocketAddr, reply: Neighbors, now: Instant) {
        let matched = self.pending.iter().position(|p| {
            p.id == sender
                && p.addr.ip() == from.ip()
                && matches!(p.kind, PendingKind::FindNode { .. })
        });
        let Some(index) = matched else {
            self.metrics.count_drop(DropReason::Unsolicited);
            return;
        };
        let PendingKind::FindNode { lookup, received } = &mut self.pending[index].kind else {
            return;
        };
        let lookup = *lookup;
        *received = received.saturating_add(reply.nodes.len());
        // The sender splits its answer into packets of MAX_NEIGHBORS: a shorter packet is
        // the last one.
        let finished = *received >= BUCKET_SIZE || reply.nodes.len() < MAX_NEIGHBORS;
        if finished {
            self.pending.swap_remove(index);
        }
        for node in reply.nodes {
            let addr = SocketAddr::new(node.endpoint.ip, node.endpoint.udp);
            if node.id == self.local_id
                || node.endpoint.udp < MIN_RELAYED_UDP_PORT
                || !relay_allowed(from.ip(), addr.ip())
            {
                continue;
            }
            if let Some(running) = self.lookups.iter_mut().find(|l| l.id == lookup) {
                running.add(LookupNode::new(node.id, addr, node.endpoint.tcp));
            }
        }
        if finished {
            self.lookup_answered(lookup, now);
        }
    }

    fn on_enr_request(&mut self, sender: B512, hash: B256, from: SocketAddr, now: Instant) {
        if !self.is_bonded(&sender, from.ip(), now) {
            self.metrics.count_drop(DropReason::Unbonded);
            return;
        }
        let record = alloy_rlp::encode(&self.record);
        let response = Packet::EnrResponse(EnrResponse {
            request_hash: hash,
            record: record.into(),
        });
        self.send(from, &response);
    }

    fn on_enr_response(
        &mut self,
        sender: B512,
        from: SocketAddr,
        response: EnrResponse,
        _now: Instant,
    ) {
        let matched = self.pending.iter().position(|p| {
            p.id == sender
                && p.addr.ip() == from.ip()
                && matches!(p.kind, PendingKind::Enr { hash } if hash == response.request_hash)
        });
        let Some(index) = matched else {
            self.metrics.count_drop(DropReason::Unsolicited);
            return;
        };
        self.pending.swap_remove(index);
        match enr::decode_record(&response.record) {
            Ok(record) if enr::node_id(&record) == sender => {
                if let Some(entry) = self.table.get_mut(&sender) {
                    entry.record = Some(record.clone());
                }
                self.bond_mut(sender).record = Some(record);
            }
            Ok(_) => {
                log::debug!("discv4: {} sent another node's record", short(&sender));
                self.metrics.count_drop(DropReason::Malformed);
            }
            Err(error) => {
                log::debug!("discv4: {}: {error}", short(&sender));
                self.metrics.count_drop(DropReason::Malformed);
            }
        }
        self.announce(sender);
    }
}

/// geth's `netutil.CheckRelayIP`: whether a node at `addr` may be passed on to (or taken
/// from) a node at `sender`. Unspecified addresses never; loopback only between loopback
/// nodes; LAN addresses only to and from LAN nodes.
pub fn relay_allowed(sender: IpAddr, addr: IpAddr) -> bool {
    let (sender, addr) = (sender.to_canonical(), addr.to_canonical());
    if addr.is_unspecified() || addr.is_multicast() {
        return false;
    }
    if addr.is_loopback() && !sender.is_loopback() {
        return false;
    }
    if is_lan(addr) && !is_lan(sender) {
        return false;
    }
    true
}
