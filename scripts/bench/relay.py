#!/usr/bin/env python3
"""A user-space UDP relay that loses and delays packets, for media tests (the kernel here has no
netem).

The phones' RTP/RTCP ports lie in known ranges; the relay listens on IP at each of those ports
plus OFFSET, and the signalling tells each phone that its peer's media is there (Kamailio adds
OFFSET to the ports in the SDP). So a packet from IP:q to IP:p+OFFSET is meant for IP:p; the
relay sends it there from its own socket IP:q+OFFSET, so the receiver sees it come from the
address the SDP gave for the sender (symmetric RTP keeps working). Each packet is lost with probability LOSS, otherwise
delayed by DELAY +- JITTER ms (uniform; packets may overtake each other, as on a real network).
The random draws are seeded, so two runs see the same pattern of loss and delay.

On SIGTERM/SIGINT it prints one JSON line of counters and exits.
"""

import argparse
import heapq
import json
import random
import selectors
import signal
import socket
import sys
import time


def port_range(text):
    first, last = text.split("-", 1)
    return range(int(first), int(last) + 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--offset", type=int, default=10000)
    ap.add_argument("--ports", action="append", type=port_range, required=True,
                    help="FIRST-LAST, repeatable: the phones' RTP/RTCP port ranges")
    ap.add_argument("--loss", type=float, default=0.0, help="probability, 0..1")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +- around the delay")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sel = selectors.DefaultSelector()
    sockets = {}
    for r in args.ports:
        for port in r:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((args.ip, port + args.offset))
            s.setblocking(False)
            sockets[port] = s
            sel.register(s, selectors.EVENT_READ, port)

    counters = {"received": 0, "lost": 0, "sent": 0, "unroutable": 0, "reordered": 0}
    queue = []  # (due, seq, from_port, to_port, bytes)
    seq = 0
    last_due = {}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"event": "ready", "ports": len(sockets)}), flush=True)

    while not stopping:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, via, to, data = heapq.heappop(queue)
            try:
                sockets[via].sendto(data, (args.ip, to))
                counters["sent"] += 1
            except OSError:
                counters["unroutable"] += 1
        timeout = 0.05 if not queue else max(0.0, queue[0][0] - time.monotonic())
        for key, _ in sel.select(timeout):
            to = key.data
            while True:
                try:
                    data, (ip, via) = key.fileobj.recvfrom(65536)
                except OSError:  # drained (BlockingIOError), or the socket failed
                    break
                counters["received"] += 1
                if ip != args.ip or via not in sockets:
                    counters["unroutable"] += 1
                    continue
                if rng.random() < args.loss:
                    counters["lost"] += 1
                    continue
                delay = args.delay_ms + rng.uniform(-args.jitter_ms, args.jitter_ms)
                due = time.monotonic() + max(0.0, delay) / 1000.0
                flow = (via, to)
                if due < last_due.get(flow, 0.0):
                    counters["reordered"] += 1
                last_due[flow] = max(due, last_due.get(flow, 0.0))
                seq += 1
                heapq.heappush(queue, (due, seq, via, to, data))

    print(json.dumps({"event": "stopped", **counters}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
