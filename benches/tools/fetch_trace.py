#!/usr/bin/env python3
"""Splits ethpeer's fetches of announced txs into its part and the remote's, from packets.

The first-seen bench (`cargo bench --bench first_seen`) puts its origins on 127.0.3.1 and
up. Capture their traffic while it runs, and note ethpeer's local ports once it has peered:

    tcpdump -tt -n -i lo -l 'tcp and (net 127.0.3.0/24 or net 127.0.4.0/24 \
        or net 127.0.5.0/24 or net 127.0.6.0/24)' > trace.txt &
    FIRST_SEEN_ARRIVAL_WAIT=0 cargo bench --bench first_seen &
    # after "both watchers have 4 peers":
    ss -tnp | grep '"ethpeer"' | awk '{print $4}' | sed 's/.*://' > ports.txt

then `python3 benches/tools/fetch_trace.py trace.txt ports.txt`. RLPx frames are encrypted,
so messages are told apart by their TCP payload length, which is fixed for one-tx messages
of this bench (eth/68+ framing, 16-byte padding and MACs included): an announcement of one
hash is 112 bytes, a GetPooledTransactions of one hash 96, a one-tx reply or broadcast
at least 144. For each request ethpeer wrote, it prints the time from the last
announcement it read on that connection to the request (ethpeer's turnaround), and from
the request to the next tx-sized packet it read there (the remote's serving plus loopback).
"""
import re
import sys

ANNOUNCEMENT = 112
REQUEST = 96
SMALLEST_REPLY = 144
LINE = re.compile(r"^(\d+\.\d+) IP (\S+)\.(\d+) > (\S+)\.(\d+): .* length (\d+)")


def packets(trace, ports):
    """Per connection (our port, their port): (time, 'in'/'out', payload length)."""
    conns = {}
    for line in open(trace):
        m = LINE.match(line)
        if not m:
            continue
        t, _, sport, _, dport, length = m.groups()
        sport, dport, length = int(sport), int(dport), int(length)
        if length == 0:
            continue
        if sport in ports:
            key, way = (sport, dport), "out"
        elif dport in ports:
            key, way = (dport, sport), "in"
        else:
            continue
        conns.setdefault(key, []).append((float(t), way, length))
    return conns


def split(conns):
    turnaround, serve = [], []
    for pk in conns.values():
        for i, (t, way, length) in enumerate(pk):
            if way != "out" or length != REQUEST:
                continue
            before = [p for p in pk[:i] if p[1] == "in" and p[2] == ANNOUNCEMENT]
            after = [p for p in pk[i + 1:] if p[1] == "in" and p[2] >= SMALLEST_REPLY]
            if before and after:
                turnaround.append((t - before[-1][0]) * 1e3)
                serve.append((after[0][0] - t) * 1e3)
    return turnaround, serve


def main():
    ports = {int(p) for p in open(sys.argv[2]).read().split()}
    turnaround, serve = split(packets(sys.argv[1], ports))
    if not turnaround:
        sys.exit("no request of one hash found")
    print(f"{len(turnaround)} requests")
    for name, values in [
        ("announcement read -> request written (ethpeer)", turnaround),
        ("request written -> reply read (remote + loopback)", serve),
    ]:
        values.sort()
        at = lambda p: values[round((len(values) - 1) * p)]
        print(f"{name}: p10 {at(.1):.3f} / p50 {at(.5):.3f} / p90 {at(.9):.3f} ms")


if __name__ == "__main__":
    main()
