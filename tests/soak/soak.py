#!/usr/bin/env python3
"""Soak test of `nerd serve` (make soak): SOAK_SECONDS (default 180) of steady, mixed load -
good documents, frames that are not Documents, texts that are not UTF-8, texts over
--max-bytes - while the daemon's resident memory (VmRSS) is sampled every few seconds.

It fails when
  - RSS at the end is more than 10 % above the highest RSS of the first third of the run
    (after a short warm-up: arenas, ZeroMQ queues and the allocator reach their working size
    in the first seconds and must then stay flat);
  - an error counter of the daemon differs from the bad input sent (a reason that was never
    provoked grows, e.g. timeout, match_limit, nomem), or a result is missing or dropped;
  - the daemon does not exit 0 on SIGTERM.
It prints the RSS at start and end and the counters.

    NERD_BIN=build/nerd SOAK_SECONDS=60 python3 tests/soak/soak.py
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parents[2]
NERD = os.environ.get("NERD_BIN") or str(REPO / "build" / "nerd")
SECONDS = float(os.environ.get("SOAK_SECONDS", "180"))
RATE = float(os.environ.get("SOAK_RATE", "400"))        # documents per second
SAMPLE_S = 3.0
WARMUP_S = min(10.0, SECONDS / 6)
MAX_GROWTH = 0.10
MAX_BYTES = 16 * 1024

GOOD = [
    "Xi Jinping met Daniel Hartley in Beijing on May 3.",
    "Chen Mei-ling, a professor at National Tsing Hua University, told Reuters the plan "
    "would fail.",
    "The committee will meet again in Leeds next Tuesday, a spokesman said.",
    "Zhou Li-wen, a political analyst, said the move showed growing confidence.",
    "Nothing in this sentence names anyone at all.",
    "\u201cWe are not worried,\u201d said Wang He, a director at the Shanghai Institute.",
]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def doc(doc_id: bytes, text: bytes) -> bytes:
    """A nerd.v1.Document (id = 1, text = 2) encoded by hand: the text may be any bytes."""
    return b"\x0a" + varint(len(doc_id)) + doc_id + b"\x12" + varint(len(text)) + text


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ask_stats(ctx, endpoint):
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(endpoint)
    try:
        req.send(b"stats")
        if not req.poll(5000):
            raise RuntimeError("the control socket does not answer")
        return json.loads(req.recv())
    finally:
        req.close()


class Reader(threading.Thread):
    def __init__(self, sub):
        super().__init__(daemon=True)
        self.sub = sub
        self.topics = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            if self.sub.poll(100):
                topic = self.sub.recv_multipart()[0].decode()
                self.topics[topic] = self.topics.get(topic, 0) + 1


def main():
    p_in, p_out, p_ctl = free_ports(3)
    in_ep, out_ep, ctl_ep = (f"tcp://127.0.0.1:{p}" for p in (p_in, p_out, p_ctl))
    env = dict(os.environ, NERD_ALLOW_ROOT="1")
    cmd = [NERD, "serve", "--in", "@" + in_ep, "--out", "@" + out_ep, "--control", "@" + ctl_ep,
           "--threads", "2", "--no-drop", "--max-bytes", str(MAX_BYTES), "--quiet",
           "--rules", str(REPO / "rules" / "en")]
    log_path = os.environ.get("SOAK_LOG") or f"/tmp/nerd-soak-{os.getpid()}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    ctx = zmq.Context()
    failures = []
    try:
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 5000)
        push.connect(in_ep)
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(out_ep)
        deadline = time.monotonic() + 30
        while True:   # wait for the daemon and the subscription: probes until one comes back
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"soak: nerd serve did not start ({' '.join(cmd)}); its log:")
                print(Path(log_path).read_text(errors="replace")[-3000:])
                return 1
            push.send(doc(b"probe", b"probe"))
            if sub.poll(200):
                break
        time.sleep(0.5)
        while sub.poll(100):
            sub.recv_multipart()
        reader = Reader(sub)
        reader.start()
        base = ask_stats(ctx, ctl_ep)

        rng = random.Random(20261129)
        sent = {"good": 0, "decode": 0, "utf8": 0, "too_big": 0}
        samples = []          # (seconds since start, RSS KiB)
        start = time.monotonic()
        next_sample = start + WARMUP_S
        n = 0
        while True:
            now = time.monotonic()
            if now - start >= SECONDS:
                break
            # Steady rate: send what is due, then sleep a little.
            due = int((now - start) * RATE) - n
            for _ in range(max(0, due)):
                n += 1
                r = rng.random()
                doc_id = b"soak-%d" % n
                if r < 0.70:
                    text = " ".join(rng.choice(GOOD) for _ in range(rng.randint(1, 6)))
                    frame = doc(doc_id, text.encode("utf-8"))
                    sent["good"] += 1
                elif r < 0.80:
                    frame = bytes(rng.getrandbits(8) | 0x80 for _ in range(rng.randint(1, 64)))
                    frame = b"\xff\xff" + frame  # an invalid wire type: never a Document
                    sent["decode"] += 1
                elif r < 0.90:
                    frame = doc(doc_id, b"Daniel Hartley \xc3\x28 \xff spoke.")
                    sent["utf8"] += 1
                else:
                    frame = doc(doc_id, b"a" * (MAX_BYTES + rng.randint(1, 4096)))
                    sent["too_big"] += 1
                push.send(frame)
            if now >= next_sample:
                samples.append((now - start, rss_kib(proc.pid)))
                next_sample += SAMPLE_S
            time.sleep(0.005)
        samples.append((time.monotonic() - start, rss_kib(proc.pid)))

        # Let the last results come out, then compare the counters with what was sent.
        total = sum(sent.values())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = ask_stats(ctx, ctl_ep)
            if st["received"] - base["received"] >= total and st["in_flight"] == 0:
                break
            time.sleep(0.2)
        time.sleep(1)
        reader.stop.set()
        reader.join(2)
        delta = {k: st["errors"][k] - base["errors"][k] for k in st["errors"]}
        for reason, count in delta.items():
            expected = sent.get(reason, 0)
            if count != expected:
                failures.append(f"errors[{reason}] grew by {count}, {expected} were provoked")
        if st["received"] - base["received"] != total:
            failures.append(f"received {st['received'] - base['received']} of {total}")
        if st["dropped"] != 0:
            failures.append(f"dropped {st['dropped']} with --no-drop")
        got = sum(reader.topics.values())
        if got != total:
            failures.append(f"the subscriber got {got} results for {total} documents")

        third = [kib for t, kib in samples if t <= WARMUP_S + (SECONDS - WARMUP_S) / 3]
        first = max(third) if third else samples[0][1]
        end = sorted(kib for _, kib in samples[-3:])[len(samples[-3:]) // 2]
        growth = (end - first) / first if first else 0.0
        print(f"soak: {SECONDS:.0f} s, {total} documents ({sent}), {total / SECONDS:.0f}/s")
        print(f"soak: results by topic {reader.topics}")
        print(f"soak: RSS start {samples[0][1]} KiB, first-third max {first} KiB, "
              f"end {end} KiB ({growth * 100:+.1f} %), samples {[kib for _, kib in samples]}")
        print(f"soak: latency p50 {st['latency_p50_ms']} ms, p99 {st['latency_p99_ms']} ms")
        if growth > MAX_GROWTH:
            failures.append(f"RSS grew {growth * 100:.1f} % (> {MAX_GROWTH * 100:.0f} %) "
                            f"from the first third to the end")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "hung"
        ctx.destroy(linger=0)
        log.close()
    if rc != 0:
        failures.append(f"nerd serve exited {rc} after SIGTERM")
    for f in failures:
        print(f"soak: FAIL: {f}")
    print(f"soak: the daemon's log (warnings and errors) is in {log_path}")
    print("soak: passed" if not failures else "soak: failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
