"""The operator tools: `nerd keygen`, `nerd stats` and `nerd serve --config` errors (issues 6, 7).

keygen's files are read back with pyzmq's own zmq.auth.load_certificate and used for a real
CurveZMQ handshake, so the format is checked against ZeroMQ's tools rather than against nerd.
stats is tried against a stand-in control socket (the exact JSON of the control protocol), against
nothing at all, and against a real daemon when `nerd serve` has --control.
"""

import json
import os
import pty
import re
import stat
import subprocess
import threading
import time

import pytest
import zmq
import zmq.auth

from conftest import NERD, SLOW, free_ports, run_nerd

Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


def serve_help():
    return run_nerd("serve", "--help").stdout.decode()


# ---- keygen ---------------------------------------------------------------------------------

def test_keygen_writes_a_pair_zeromq_tools_read(tmp_path):
    path = tmp_path / "server.key"
    r = run_nerd("keygen", path)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.decode().strip()
    assert Z85.match(printed), printed

    secret_path = tmp_path / "server.key_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(secret_path.stat().st_mode) == 0o600

    public_text = path.read_text()
    secret_text = secret_path.read_text()
    assert public_text.startswith("#   ****  Generated ")
    assert "\nmetadata\ncurve\n    public-key = \"" in public_text
    assert "secret-key" not in public_text
    assert re.search(r'\n    secret-key = "[^"]{40}"\n$', secret_text)

    pub, sec = zmq.auth.load_certificate(str(path))
    assert pub.decode() == printed and sec is None
    pub2, sec2 = zmq.auth.load_certificate(str(secret_path))
    assert pub2 == pub and Z85.match(sec2.decode())
    assert zmq.curve_public(sec2) == pub


def test_keygen_keys_make_a_curve_handshake(tmp_path):
    """A server with one nerd key pair and a client with another talk over CURVE."""
    for name in ("server", "client"):
        assert run_nerd("keygen", tmp_path / name).returncode == 0
    server_pub, server_sec = zmq.auth.load_certificate(str(tmp_path / "server_secret"))
    client_pub, client_sec = zmq.auth.load_certificate(str(tmp_path / "client_secret"))
    ctx = zmq.Context()
    try:
        rep = ctx.socket(zmq.REP)
        rep.curve_server = True
        rep.curve_secretkey = server_sec
        rep.curve_publickey = server_pub
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        req = ctx.socket(zmq.REQ)
        req.curve_serverkey = server_pub
        req.curve_publickey = client_pub
        req.curve_secretkey = client_sec
        req.connect(f"tcp://127.0.0.1:{port}")
        req.send(b"hello")
        assert rep.poll(5000 * SLOW), "no CURVE handshake with nerd keygen's keys"
        assert rep.recv() == b"hello"
    finally:
        ctx.destroy(linger=0)


def test_keygen_refuses_to_overwrite_unless_forced(tmp_path):
    path = tmp_path / "k"
    assert run_nerd("keygen", path).returncode == 0
    before = (tmp_path / "k_secret").read_text()
    r = run_nerd("keygen", path)
    assert r.returncode == 1
    assert b"exists" in r.stderr and b"--force" in r.stderr
    assert (tmp_path / "k_secret").read_text() == before
    r = run_nerd("keygen", "--force", path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "k_secret").read_text() != before
    assert stat.S_IMODE((tmp_path / "k_secret").stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["k", "k_secret"], "temporary files left behind"


def test_keygen_usage(tmp_path):
    assert run_nerd("keygen").returncode == 2
    assert run_nerd("keygen", tmp_path / "a", tmp_path / "b").returncode == 2
    r = run_nerd("keygen", "--help")
    assert r.returncode == 0 and b"FILE_secret" in r.stdout
    r = run_nerd("keygen", tmp_path / "no" / "such" / "dir" / "k")
    assert r.returncode == 1 and b"cannot write" in r.stderr


# ---- stats ----------------------------------------------------------------------------------

SAMPLE_STATS = {
    "version": "0.1.0", "uptime_s": 3725.5, "threads": 2,
    "received": 100, "published": 97, "replied": 2, "dropped": 1,
    "errors": {"decode": 1, "utf8": 0, "too_big": 3, "timeout": 0, "match_limit": 0,
               "entities": 0, "rule_set": 0},
    "in_flight": 0, "queue_depth": 0, "rate_1m": 1.6,
    "latency_p50_ms": 0.8, "latency_p99_ms": 2.1,
    "rule_set_version": "en@32f9179a", "rule_set_load_ms": 45.0,
    "rule_set_loaded_at": "2026-11-29T09:00:00Z", "reloads": 1, "reload_failures": 0,
    "future_counter": 7, "future_list": [1, {"a": "]"}], "future_deep": {"x": {"y": 1}},
}


class FakeControl:
    """A REP socket answering one request with a fixed reply, in a thread of pyzmq's own."""

    def __init__(self, ctx, reply):
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.reply = reply
        self.request = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        if self.sock.poll(10000 * SLOW):
            self.request = self.sock.recv()
            self.sock.send(self.reply)

    def endpoint(self):
        return f"tcp://127.0.0.1:{self.port}"


def test_stats_json_is_passed_through(zctx):
    reply = json.dumps(SAMPLE_STATS).encode()
    fake = FakeControl(zctx, reply)
    r = run_nerd("stats", "--json", "--control", fake.endpoint())
    fake.thread.join(5)
    assert r.returncode == 0, r.stderr
    assert fake.request == b"stats"
    assert json.loads(r.stdout) == SAMPLE_STATS


def test_stats_table(zctx):
    fake = FakeControl(zctx, json.dumps(SAMPLE_STATS).encode())
    r = run_nerd("stats", "--control", fake.endpoint())
    fake.thread.join(5)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    for pattern in [r"uptime\s+1h 02m 05s", r"received\s+100", r"published\s+97",
                    r"replied\s+2", r"dropped\s+1", r"in flight\s+0",
                    r"total\s+4\n", r"by reason\s+decode 1, too_big 3\n",
                    r"rate \(last min\)\s+1\.6 results/s", r"latency\s+p50 0\.8 ms, p99 2\.1 ms",
                    r"version\s+en@32f9179a", r"loaded\s+2026-11-29T09:00:00Z \(took 45\.0 ms\)",
                    r"reloads\s+1 \(0 failed\)", r"future_counter\s+7"]:
        assert re.search(pattern, out), f"{pattern!r} not in:\n{out}"


def test_stats_not_json(zctx):
    fake = FakeControl(zctx, b"stats? what stats?")
    r = run_nerd("stats", "--control", fake.endpoint())
    assert r.returncode == 1
    assert b"not a JSON object" in r.stderr


def test_stats_error_reply(zctx):
    fake = FakeControl(zctx, b'{"error":"unknown request: stats"}')
    r = run_nerd("stats", "--control", fake.endpoint())
    assert r.returncode == 1
    assert b"unknown request" in r.stderr


def test_stats_without_daemon_fails_fast():
    port, = free_ports(1)
    start = time.monotonic()
    r = run_nerd("stats", "--control", f"tcp://127.0.0.1:{port}", "--timeout", "300")
    elapsed = time.monotonic() - start
    assert r.returncode == 1
    assert b"no answer from" in r.stderr and b"300 ms" in r.stderr
    assert elapsed < 5 * SLOW
    assert run_nerd("stats", "--timeout", "soon").returncode == 2
    assert run_nerd("stats", "--control", "nowhere").returncode == 2


def test_stats_from_a_running_daemon(start_daemon, client_for, pb):
    if "--control" not in serve_help():
        pytest.skip("`nerd serve --help` has no --control yet (the daemon's side of `nerd stats`)")
    port, = free_ports(1)
    control = f"tcp://127.0.0.1:{port}"
    d = start_daemon(extra=("--control", "@" + control))
    c = client_for(d)
    for i in range(5):
        c.send(pb.Document(id=f"s{i}", text="Xi Jinping spoke in Beijing.").SerializeToString())
    c.recv(5)
    r = run_nerd("stats", "--json", "--control", control)
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["received"] >= 6          # the 5 and the sync probe(s)
    assert stats["received"] == (stats["published"] + stats["replied"] + stats["dropped"]
                                 + stats["in_flight"])
    assert stats["rule_set_version"]
    r = run_nerd("stats", "--control", control)
    assert r.returncode == 0, r.stderr
    assert re.search(r"received\s+\d+", r.stdout.decode())


# ---- config ---------------------------------------------------------------------------------

def needs_config():
    if "--config" not in serve_help():
        pytest.skip("`nerd serve --help` has no --config yet")


@pytest.mark.parametrize("text,line,fragment", [
    ("threads = 2\n= 4\n", 2, "empty key"),
    ("in: tcp://127.0.0.1:5555\n", 1, "expected 'key = value'"),
    ("# ok\n\nrules = \"/srv/rules\n", 3, "unterminated"),
    ("threads =\n", 1, "missing value"),
])
def test_config_syntax_errors_name_file_and_line(tmp_path, text, line, fragment):
    needs_config()
    conf = tmp_path / "nerd.conf"
    conf.write_text(text)
    r = run_nerd("serve", "--config", conf, timeout=20)
    assert r.returncode != 0
    err = r.stderr.decode()
    assert f"{conf}:{line}: " in err and fragment in err, err


def test_config_unknown_key_is_refused(tmp_path):
    needs_config()
    conf = tmp_path / "nerd.conf"
    conf.write_text("treads = 4\n")      # (not "thread": getopt_long takes unique prefixes)
    r = run_nerd("serve", "--config", conf, timeout=20)
    assert r.returncode == 2
    assert b"treads" in r.stderr


def test_config_missing_file(tmp_path):
    needs_config()
    r = run_nerd("serve", "--config", tmp_path / "none.conf", timeout=20)
    assert r.returncode != 0
    assert b"none.conf" in r.stderr


# ---- progress (nerd extract / nerd push on a terminal) ----------------------------------------

def _batch(tmp_path, n=4000):
    path = tmp_path / "batch.jsonl"
    sentence = ("Prime Minister Anna Lindqvist met Wang Jian-hong, an economist at Fudan "
                "University, in Oslo on 4 March, officials said. ")
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"p{i}", "text": sentence * 2}) + "\n")
    return path


def _run_with_tty_stderr(args, timeout=120):
    """Runs nerd with stderr on a pseudo-terminal; returns (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([NERD, *map(str, args)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:          # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        rc = proc.wait(timeout)
    finally:
        os.close(master)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def test_extract_progress_only_on_a_terminal(tmp_path):
    batch = _batch(tmp_path)
    rc, term = _run_with_tty_stderr(["extract", "--time-budget", "0", "--jsonl", batch])
    assert rc == 0
    assert "\r" in term and "documents" in term and "MB/s" in term, repr(term[-300:])
    assert "4000/4000 (100%) documents" in term, repr(term[-300:])
    rc, term = _run_with_tty_stderr(["extract", "--time-budget", "0", "--quiet", "--jsonl",
                                     batch])
    assert rc == 0 and term == "", repr(term)
    r = run_nerd("extract", "--time-budget", "0", "--jsonl", batch)   # stderr a pipe: nothing
    assert r.returncode == 0 and r.stderr == b""
    assert r.stdout.count(b"\n") == 4000


def test_push_progress_flags(tmp_path, zctx):
    """push: --no-progress keeps a terminal silent; without a terminal there is no progress."""
    pull = zctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    batch = _batch(tmp_path, 200)
    rc, term = _run_with_tty_stderr(["push", "--no-progress", "--jsonl", "--to",
                                     f"tcp://127.0.0.1:{port}", batch])
    assert rc == 0 and term == "", repr(term)
    r = run_nerd("push", "--jsonl", "--to", f"tcp://127.0.0.1:{port}", batch)
    assert r.returncode == 0 and r.stderr == b""
    got = 0
    while got < 400 and pull.poll(5000):
        pull.recv()
        got += 1
    assert got == 400
