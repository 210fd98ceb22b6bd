"""Scale-out on ZeroMQ's own devices (issue 7): one `nerd proxy --both` (a PULL->PUSH streamer and
an XSUB->XPUB forwarder), three `nerd serve` workers that connect to it with '>' endpoints, a
producer (`nerd push`) on the streamer's front and one subscriber on the forwarder's back.

Every document must come out exactly once, in the one result stream, and every worker must have
taken part.  Each worker also binds an input of its own, used only to check, before the real
load, that its results already reach the subscriber through the forwarder (a PUB drops what it
publishes before the subscription has travelled all the way back to it).
"""

import json
import re
import signal
import subprocess
import time

import pytest
import zmq

from conftest import (NERD, SLOW, VALGRIND, VALGRIND_CMD, _Drain, free_ports, make_doc,
                      run_nerd)

DOCS = 600
WORKERS = 3

# Our own short news-like sentences; each document gets one, with its number, so the texts differ.
SENTENCES = [
    "Maria Okafor, a spokeswoman for the Lagos State Government, said on Friday that talks went on.",
    "Prime Minister Anna Lindqvist visited Oslo on 4 March.",
    "Wang Jian-hong, an economist at Fudan University, said growth would slow.",
    "The United Nations said on Tuesday that the aid convoy had reached Aleppo.",
]


class Proxy:
    """`nerd proxy` as a child process (under valgrind with NERD_VALGRIND=1); stop() sends
    SIGTERM and returns the exit code."""

    def __init__(self, *args):
        self.cmd = (VALGRIND_CMD if VALGRIND else []) + [NERD, "proxy", *args]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.err = _Drain(self.proc.stderr)
        self.out = _Drain(self.proc.stdout)
        self.err.start()
        self.out.start()

    def wait_ready(self, count, timeout=10):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.err.text().count("ready:") >= count:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        pytest.fail(f"nerd proxy not ready (exit {self.proc.poll()}):\n{self.err.text()}")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "hung (killed)"
        self.err.join(5)
        return rc


def serve_has(option):
    return option in run_nerd("serve", "--help").stdout.decode()


def test_proxy_help_and_usage_errors():
    r = run_nerd("proxy", "--help")
    assert r.returncode == 0
    assert "--front" in r.stdout.decode() and "--both" in r.stdout.decode()
    r = run_nerd("proxy", "--front", "@tcp://127.0.0.1:1")
    assert r.returncode == 2 and b"--back" in r.stderr
    r = run_nerd("proxy", "--front", "tcp://a:1", "--back", "tcp://a:2", "--mode", "fan")
    assert r.returncode == 2 and b"fan" in r.stderr
    r = run_nerd("proxy", "--both", "--front", "tcp://a:1")
    assert r.returncode == 2


def test_proxy_bind_failure_is_an_error():
    port, = free_ports(1)
    holder = zmq.Context()
    s = holder.socket(zmq.PULL)
    s.bind(f"tcp://127.0.0.1:{port}")
    try:
        r = run_nerd("proxy", "--front", f"@tcp://127.0.0.1:{port}",
                     "--back", f"@tcp://127.0.0.1:{free_ports(1)[0]}", timeout=20)
        assert r.returncode == 1, r.stderr
        assert b"cannot bind" in r.stderr
    finally:
        s.close(0)
        holder.term()


def test_forward_proxy_alone_valgrind_safe(zctx, pb):
    """A forwarder on its own: a PUB connected to the front reaches a SUB on the back (with the
    SUB's topic filter applied), SIGHUP is only logged, and SIGINT stops it with exit 0."""
    front, back = free_ports(2)
    proxy = Proxy("--front", f"@tcp://127.0.0.1:{front}", "--back", f"@tcp://127.0.0.1:{back}",
                  "--mode", "forward")
    try:
        proxy.wait_ready(1)
        proxy.proc.send_signal(signal.SIGHUP)      # nothing to reload: logged, keeps running
        pub = zctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.connect(f"tcp://127.0.0.1:{front}")
        sub = zctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"result")
        sub.connect(f"tcp://127.0.0.1:{back}")
        deadline = time.monotonic() + 10 * SLOW
        got = None
        while got is None and time.monotonic() < deadline:
            pub.send_multipart([b"result", b"payload"])
            pub.send_multipart([b"error.utf8", b"filtered out"])
            if sub.poll(100):
                got = sub.recv_multipart()
        assert got == [b"result", b"payload"]
    finally:
        assert proxy.stop(signal.SIGINT) == 0, proxy.err.text()
    assert "SIGHUP" in proxy.err.text() and "stopped" in proxy.err.text()


def test_three_workers_behind_one_proxy_pair(start_daemon, zctx, pb, tmp_path):
    docs_in, docs_out, results_in, results_out = free_ports(4)
    ep = lambda port: f"tcp://127.0.0.1:{port}"  # noqa: E731
    proxy = Proxy("--both", "--docs-in", "@" + ep(docs_in), "--docs-out", "@" + ep(docs_out),
                  "--results-in", "@" + ep(results_in), "--results-out", "@" + ep(results_out))
    try:
        proxy.wait_ready(2)

        sub = zctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(ep(results_out))

        control = serve_has("--control")
        workers, own_inputs = [], []
        for i in range(WORKERS):
            own, ctl = free_ports(2)
            extra = ("--control", "@" + ep(ctl)) if control else ()
            d = start_daemon(threads=1, in_spec=f">{ep(docs_out)},@{ep(own)}",
                             out_spec=f">{ep(results_in)}", extra=extra)
            workers.append(d)
            own_inputs.append(ep(own))

        # Each worker's results reach the subscriber through the forwarder before the load.
        probes = [0] * WORKERS
        for i, own in enumerate(own_inputs):
            push = zctx.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 0)
            push.connect(own)
            want = f"__sync__{i}"
            deadline = time.monotonic() + 15 * SLOW
            synced = False
            while not synced and time.monotonic() < deadline:
                push.send(make_doc(pb, want, "probe"))
                probes[i] += 1
                end = time.monotonic() + 0.3 * SLOW
                while not synced and sub.poll(max(1, int((end - time.monotonic()) * 1000))):
                    result = pb.Result()
                    result.ParseFromString(sub.recv_multipart()[-1])
                    synced = result.document_id == want
            push.close()
            assert synced, f"worker {i} never reached the subscriber\n{workers[i].describe()}"

        # The load: DOCS documents through the streamer, pushed by `nerd push --jsonl`.
        batch = tmp_path / "batch.jsonl"
        with batch.open("w") as f:
            for n in range(DOCS):
                f.write(json.dumps({"id": f"doc-{n:04d}",
                                    "text": f"{SENTENCES[n % len(SENTENCES)]} (item {n})"}) + "\n")
        r = run_nerd("push", "--jsonl", "--to", ep(docs_in), batch, timeout=60)
        assert r.returncode == 0, r.stderr.decode()

        seen = []
        deadline = time.monotonic() + 60 * SLOW
        while len(seen) < DOCS and time.monotonic() < deadline:
            if sub.poll(500):
                frames = sub.recv_multipart()
                assert len(frames) == 2, frames
                result = pb.Result()
                result.ParseFromString(frames[1])
                if not result.document_id.startswith("__sync__"):
                    assert frames[0] == b"result", (frames[0], result.error)
                    seen.append(result.document_id)
        # Anything arriving after the last one would be a duplicate.
        while sub.poll(int(500 * SLOW)):
            result = pb.Result()
            result.ParseFromString(sub.recv_multipart()[-1])
            if not result.document_id.startswith("__sync__"):
                seen.append(result.document_id)
        assert len(seen) == DOCS, f"{len(seen)} results for {DOCS} documents"
        assert sorted(seen) == [f"doc-{n:04d}" for n in range(DOCS)], "missing or duplicated ids"

        per_worker = []
        for d in workers:
            assert d.stop() == 0, d.describe()
            m = re.search(r"stopped: received (\d+)", d.log())
            assert m, d.describe()
            per_worker.append(int(m.group(1)))
        # Each worker also received its own sync probes; the rest came through the streamer.
        streamed = [n - p for n, p in zip(per_worker, probes)]
        print(f"documents per worker through the streamer: {streamed}")
        assert sum(streamed) == DOCS, f"per worker {streamed}, probes {probes}"
        assert all(n > 0 for n in streamed), f"documents per worker: {streamed}"
    finally:
        rc = proxy.stop()
    assert rc == 0, proxy.err.text()
    log = proxy.err.text()
    assert re.search(r"stream proxy: %d messages" % DOCS, log), log
