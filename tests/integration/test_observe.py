"""Observing `nerd serve` (issue 7): the control socket's `stats` JSON, the HTTP endpoint
(/metrics in Prometheus text format, /healthz, /readyz), systemd readiness over $NOTIFY_SOCKET,
and the --config file (with command-line flags winning over it)."""

import json
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest
import zmq

from conftest import SLOW, free_ports, make_doc, raw_doc


STATS_KEYS = {"version", "uptime_s", "threads", "received", "published", "replied", "dropped",
              "errors", "in_flight", "queue_depth", "rate_1m", "latency_p50_ms",
              "latency_p99_ms", "rule_set_version", "rule_set_load_ms", "rule_set_loaded_at",
              "reloads", "reload_failures"}
ERROR_KEYS = {"decode", "utf8", "too_big", "timeout", "match_limit", "entities", "rule_set"}


def ask(ctx, endpoint, request=b"stats"):
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(endpoint)
    try:
        req.send(request)
        assert req.poll(int(5000 * SLOW)), f"no answer on {endpoint}"
        return json.loads(req.recv().decode("utf-8"))
    finally:
        req.close()


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5 * SLOW) as r:
            return r.status, r.read().decode("utf-8"), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8"), e.headers.get("Content-Type")


def send_and_wait(zctx, pb, d, docs):
    """Pushes docs (bytes) through a synced subscriber and waits for their results."""
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.connect(d.in_ep)
    sub = zctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(d.out_ep)
    deadline = time.monotonic() + 10 * SLOW
    while time.monotonic() < deadline:
        push.send(raw_doc(b"__probe__", b"probe"))
        if sub.poll(int(200 * SLOW)):
            break
    while sub.poll(int(300 * SLOW)):
        sub.recv_multipart()
    for doc in docs:
        push.send(doc)
    got = 0
    deadline = time.monotonic() + 20 * SLOW
    while got < len(docs) and time.monotonic() < deadline:
        if sub.poll(100):
            sub.recv_multipart()
            got += 1
    assert got == len(docs), d.describe()
    push.close()
    sub.close()


def test_stats_json_over_control_socket_valgrind_safe(start_daemon, zctx, pb):
    port, = free_ports(1)
    ctl = f"tcp://127.0.0.1:{port}"
    d = start_daemon(threads=2, extra=["--control", "@" + ctl])
    send_and_wait(zctx, pb, d, [make_doc(pb, f"s-{i}", "Xi Jinping spoke in Beijing.")
                                for i in range(20)] + [b"\xff not a document"])
    st = ask(zctx, ctl)
    assert STATS_KEYS <= set(st), STATS_KEYS - set(st)
    assert ERROR_KEYS <= set(st["errors"]), st["errors"]
    assert st["version"] == "0.1.0"
    assert st["threads"] == 2
    assert st["received"] >= 21 and st["errors"]["decode"] == 1, st
    assert st["received"] == st["published"] + st["replied"] + st["dropped"] + st["in_flight"]
    assert st["in_flight"] == 0 and st["queue_depth"] == 0
    assert 0 < st["latency_p50_ms"] <= st["latency_p99_ms"], st
    assert st["rate_1m"] > 0
    assert st["uptime_s"] > 0
    assert st["rule_set_version"].startswith("en@"), st
    assert st["rule_set_load_ms"] > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", st["rule_set_loaded_at"]), st
    mark = len(d.log())
    d.send_signal(signal.SIGHUP)
    d.wait_log("reloaded the rules", start=mark)
    assert ask(zctx, ctl)["reloads"] == 1
    assert ask(zctx, ctl, b"bogus") == {"error": "unknown request: bogus"}


def test_metrics_healthz_readyz(start_daemon, zctx, pb):
    port, = free_ports(1)
    d = start_daemon(threads=2, extra=["--metrics", f"127.0.0.1:{port}"])
    send_and_wait(zctx, pb, d, [make_doc(pb, f"m-{i}", "Daniel Hartley spoke.")
                                for i in range(10)] +
                  [raw_doc(b"bad-utf8", b"\xc3\x28")])
    status, body, ctype = http_get(port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain"), (status, ctype)
    for name in ("nerd_documents_received_total", "nerd_results_published_total",
                 "nerd_errors_total{reason=\"utf8\"}", "nerd_dropped_total", "nerd_in_flight",
                 "nerd_latency_seconds{quantile=\"0.5\"}", "nerd_latency_seconds{quantile=\"0.99\"}",
                 "nerd_rule_set_info{version=\"en@", "nerd_uptime_seconds"):
        assert name in body, f"{name} missing from /metrics:\n{body}"
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    assert samples["nerd_documents_received_total"] >= 11
    assert samples['nerd_errors_total{reason="utf8"}'] == 1
    assert samples["nerd_in_flight"] == 0
    assert status == 200
    assert http_get(port, "/healthz")[:2] == (200, "ok\n")
    assert http_get(port, "/readyz")[:2] == (200, "ready\n")
    assert http_get(port, "/nothing")[0] == 404


@pytest.fixture
def notify_socket(tmp_path):
    """A unix datagram socket standing in for systemd; NOTIFY_SOCKET points at it while the
    daemon starts."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10 * SLOW)
    yield path, sock
    sock.close()


def test_notify_socket_ready_reloading_stopping(start_daemon, notify_socket):
    path, sock = notify_socket
    os.environ["NOTIFY_SOCKET"] = path
    try:
        d = start_daemon()
    finally:
        del os.environ["NOTIFY_SOCKET"]
    assert sock.recv(256) == b"READY=1"
    d.send_signal(signal.SIGHUP)
    assert sock.recv(256) == b"RELOADING=1"
    assert sock.recv(256) == b"READY=1"
    assert d.stop() == 0
    assert sock.recv(256) == b"STOPPING=1"


def test_config_file_and_flags_win(start_daemon, zctx, pb, tmp_path):
    port, = free_ports(1)
    ctl = f"tcp://127.0.0.1:{port}"
    conf = tmp_path / "nerd.conf"
    conf.write_text("# nerd serve configuration\n"
                    f"control = @{ctl}\n"
                    "threads = 1          # the command line says 2: it wins\n"
                    "no-drop\n"
                    "heartbeat-ms = 2000\n"
                    "max-entities = 1\n")
    d = start_daemon(threads=2, extra=["--config", str(conf), "--max-entities", "50"])
    st = ask(zctx, ctl)                       # control endpoint: from the file
    assert st["threads"] == 2, st             # --threads 2 on the command line wins
    assert "(no-drop)" in d.log() and "heartbeat 2000 ms" in d.log(), d.log()
    # max-entities 50 (command line) and not 1 (file): a document with several entities passes.
    send_and_wait(zctx, pb, d, [make_doc(pb, "c-1", "Xi Jinping met Daniel Hartley in Leeds.")])
    assert ask(zctx, ctl)["errors"]["entities"] == 0


def test_config_file_errors_are_reported(tmp_path):
    from conftest import run_nerd
    conf = tmp_path / "bad.conf"
    conf.write_text("threads = 2\nthis is not a setting\n")
    r = run_nerd("serve", "--config", str(conf), timeout=20)
    assert r.returncode == 2, r
    assert b"bad.conf:2" in r.stderr, r.stderr
    conf.write_text("no-such-option = 1\n")
    r = run_nerd("serve", "--config", str(conf), timeout=20)
    assert r.returncode == 2 and b"no-such-option" in r.stderr, r.stderr


def test_healthz_and_stats_answer_during_a_reload(start_daemon, zctx, pb):
    """The rules are reloaded by a thread of their own: the loop (and so /healthz and the
    control socket) keeps answering while a SIGHUP reload is running."""
    port, ctl_port = free_ports(2)
    ctl = f"tcp://127.0.0.1:{ctl_port}"
    d = start_daemon(extra=["--metrics", f"127.0.0.1:{port}", "--control", "@" + ctl])
    mark = len(d.log())
    d.send_signal(signal.SIGHUP)
    d.wait_log("SIGHUP: reloading", start=mark)
    started = time.monotonic()
    assert http_get(port, "/healthz")[0] == 200
    assert ask(zctx, ctl)["reloads"] in (0, 1)
    answered = time.monotonic() - started
    d.wait_log("reloaded the rules", start=mark)
    assert answered < 1.0 * SLOW, f"the loop was blocked {answered:.2f}s by the reload"
