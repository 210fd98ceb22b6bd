#!/usr/bin/python3
"""daemon_bench.py - end-to-end figures for `nerd serve` on loopback.

Part of `make bench` (bench/run.sh calls it).  A pusher (this process) and a subscriber (a child
process) talk to a real daemon over real ZeroMQ sockets with real protobuf messages:

  - sustained throughput (documents/s, MB/s) with 1..N worker threads, all BBC articles pushed as
    fast as the daemon takes them;
  - latency from push to received result (p50/p99/max) for ~5 KB documents sent at half of the
    sustained one-thread rate;
  - the daemon's resident memory idle (after start) and its peak (VmHWM) under load;
  - reload under load: three SIGHUPs while those ~5 KB documents keep coming, and the longest
    pause between two published results (the target is under 200 ms), against the longest in
    the latency run without reloads.

Prints one JSON object per figure on stdout; bench/run.sh turns them into the table.
"""
import argparse
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import zmq


def load_pb(repo):
    out = tempfile.mkdtemp(prefix="nerd-bench-pb-")
    subprocess.run(["protoc", "--python_out=" + out, "--proto_path=" + os.path.join(repo, "proto"),
                    os.path.join(repo, "proto", "nerd.proto")], check=True)
    sys.path.insert(0, out)
    import nerd_pb2  # noqa: E402  (generated just above)
    return nerd_pb2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Daemon:
    def __init__(self, nerd, threads, rules):
        self.nerd = nerd
        self.pin, self.pout, self.pcontrol = free_port(), free_port(), free_port()
        cmd = [nerd, "serve", "--quiet", "--threads", str(threads),
               "--in", "@tcp://127.0.0.1:%d" % self.pin, "--out", "@tcp://127.0.0.1:%d" % self.pout,
               "--control", "@tcp://127.0.0.1:%d" % self.pcontrol]
        if rules:
            cmd += ["--rules", rules]
        if os.geteuid() == 0:
            cmd += ["--allow-root"]  # the daemon refuses root otherwise; a bench has no user to drop to
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        # --quiet hides the ready line: wait for the ports to accept connections instead.
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit("daemon_bench: nerd serve exited at start: " + self.proc.stderr.read().strip())
            try:
                with socket.create_connection(("127.0.0.1", self.pout), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.2)

    def stats(self):
        """The daemon's counters (`nerd stats --json`)."""
        out = subprocess.run([self.nerd, "stats", "--json", "--control",
                              "tcp://127.0.0.1:%d" % self.pcontrol],
                             capture_output=True, text=True, timeout=30)
        return json.loads(out.stdout) if out.returncode == 0 else {}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def subscriber(endpoint, expected, ready, result_q):
    """Receives `expected` results; sends back (count, first and last receive time, all times)."""
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    ready.set()
    got, first, recv_times = 0, None, []
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    while got < expected:
        if not poller.poll(20000):
            break
        frames = sub.recv_multipart()
        now = time.perf_counter()
        if first is None:
            first = now
        got += 1
        # The document id is the first field of the Result: decode lazily in the parent.
        recv_times.append(now)
    result_q.put((got, first, recv_times[-1] if recv_times else None, recv_times))
    sub.close(0)
    ctx.term()


def max_gap_ms(times):
    """The longest time between two consecutive receive times, in milliseconds."""
    times = sorted(times)
    return max(b - a for a, b in zip(times, times[1:])) * 1000


def run_load(pb, daemon, docs, pace_s=0.0):
    """Pushes docs (list of (id, bytes)); returns (elapsed, got, send_times, recv list)."""
    ready, q = mp.Event(), mp.Queue()
    p = mp.Process(target=subscriber, args=("tcp://127.0.0.1:%d" % daemon.pout, len(docs), ready, q))
    p.start()
    ready.wait()
    time.sleep(0.3)  # the subscription has to reach the publisher before the first result
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect("tcp://127.0.0.1:%d" % daemon.pin)
    send_times = {}
    start = time.perf_counter()
    next_at = start
    for doc_id, raw in docs:
        if pace_s:
            # sleep, not spin: on a 2-core machine a spinning pusher takes the core the daemon
            # needs, and the latency measured would be the pusher's
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            next_at += pace_s
        send_times[doc_id] = time.perf_counter()
        push.send(raw)
    got, first, last, recvs = q.get()
    p.join()
    push.close(0)
    ctx.term()
    return (last - start if last else float("nan")), got, send_times, recvs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nerd", required=True)
    ap.add_argument("--nerd-bench", default=None,
                    help="nerd_bench: the engine's rate is measured right before each daemon run")
    ap.add_argument("--repo", default=".")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--rules", default=None)
    ap.add_argument("--max-threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--latency-docs", type=int, default=2000)
    args = ap.parse_args()
    pb = load_pb(args.repo)

    texts = [json.loads(line)["text"] for line in open(args.corpus, encoding="utf-8")]
    docs = []
    for i, t in enumerate(texts):
        d = pb.Document(id="bbc-%d" % i, text=t)
        docs.append((d.id, d.SerializeToString()))
    total_mb = sum(len(t.encode()) for t in texts) / 1e6

    def emit(**kv):
        print(json.dumps(kv), flush=True)

    def engine_mb_per_s():
        """The engine's one-thread rate now (nerd_bench --engine-only), or None."""
        if not args.nerd_bench:
            return None
        cmd = [args.nerd_bench, "--engine-only", args.rules or os.path.join(args.repo, "rules/en"),
               args.corpus]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return next(r["mb_per_s"] for r in rows if r["figure"] == "engine")

    rate1 = None
    for threads in range(1, args.max_threads + 1):
        engine = engine_mb_per_s()
        daemon = Daemon(args.nerd, threads, args.rules)
        idle = rss_kib(daemon.proc.pid, "VmRSS")
        run_load(pb, daemon, docs[:200])  # warm up
        elapsed, got, _, _ = run_load(pb, daemon, docs)
        peak = rss_kib(daemon.proc.pid, "VmHWM")
        daemon.stop()
        emit(figure="daemon_throughput", threads=threads, docs=got, pushed=len(docs),
             seconds=round(elapsed, 3), docs_per_s=round(got / elapsed, 1),
             mb_per_s=round(total_mb * got / len(docs) / elapsed, 2))
        emit(figure="daemon_rss", threads=threads, idle_mib=round(idle / 1024, 1),
             peak_mib=round(peak / 1024, 1))
        if engine:
            # the daemon's rate per worker thread against the engine's, measured just before:
            # the target is at least 0.8
            per_thread = total_mb * got / len(docs) / elapsed / threads
            emit(figure="daemon_vs_engine", threads=threads,
                 mb_per_s_per_thread=round(per_thread, 2), engine_mb_per_s=engine,
                 ratio=round(per_thread / engine, 2))
        if threads == 1:
            rate1 = got / elapsed

    # Latency: ~5 KB documents at half the one-thread sustained rate (in documents of that size).
    five_kb = [t for t in texts if 4000 <= len(t.encode()) <= 6000] or texts
    sample = [five_kb[i % len(five_kb)] for i in range(args.latency_docs)]
    ldocs = [("lat-%d" % i, pb.Document(id="lat-%d" % i, text=t).SerializeToString())
             for i, t in enumerate(sample)]
    mean_len = sum(len(t.encode()) for t in sample) / len(sample)
    mean_all = total_mb * 1e6 / len(texts)
    rate5k = rate1 * mean_all / mean_len
    daemon = Daemon(args.nerd, 1, args.rules)
    run_load(pb, daemon, ldocs[:100])
    _, got, send_times, recvs = run_load(pb, daemon, ldocs, pace_s=1.0 / (rate5k / 2))
    daemon.stop()
    # Results of one thread come back in input order: pair them with the send times in order.
    sends = [send_times[i] for i, _ in ldocs][:len(recvs)]
    lat = sorted((r - s) * 1000 for r, s in zip(recvs, sends))
    if lat:
        emit(figure="daemon_latency_5kb", docs=len(lat), rate_docs_per_s=round(rate5k / 2, 1),
             p50_ms=round(lat[len(lat) // 2], 3), p99_ms=round(lat[int(len(lat) * 0.99) - 1], 3),
             max_ms=round(lat[-1], 3))

    # Reload under load: the same documents at the same pace, three SIGHUPs a second and a half
    # apart; every document must still come back, and publishing must not stop for long.
    reload_docs = ldocs[:min(len(ldocs), int(rate5k / 2 * 6))]
    daemon = Daemon(args.nerd, 1, args.rules)
    run_load(pb, daemon, ldocs[:100])
    timers = [threading.Timer(at, daemon.proc.send_signal, args=(signal.SIGHUP,))
              for at in (1.5, 3.0, 4.5)]
    for t in timers:
        t.start()
    _, got, _, rrecvs = run_load(pb, daemon, reload_docs, pace_s=1.0 / (rate5k / 2))
    for t in timers:
        t.join()
    time.sleep(0.5)  # let the last reload finish before asking
    stats = daemon.stats()
    daemon.stop()
    if len(rrecvs) > 1 and len(recvs) > 1:
        emit(figure="daemon_reload", reloads=stats.get("reloads"),
             reload_failures=stats.get("reload_failures"),
             last_load_ms=stats.get("rule_set_load_ms"), docs=len(reload_docs), got=got,
             max_gap_ms=round(max_gap_ms(rrecvs), 1),
             max_gap_without_reload_ms=round(max_gap_ms(recvs), 1))


if __name__ == "__main__":
    main()
