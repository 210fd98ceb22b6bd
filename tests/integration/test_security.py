"""Who may connect to `nerd serve` (issue 6): loopback defaults, CurveZMQ with a ZAP handler
that admits only the client keys of --curve-allow DIR (refusals logged), and running as root
only to bind, then as --user.

Key files are written here in the certificate format of ZeroMQ's tools (the format `nerd keygen`
writes), from key pairs made by pyzmq (zmq.curve_keypair), so nerd is checked against an
independent implementation of CURVE.
"""

import os
import re
import signal
import subprocess
import time

import pytest
import zmq

from conftest import NERD, RULES_EN, SLOW, VALGRIND, free_ports, make_doc, run_nerd



def write_cert(path, public, secret=None):
    """A key file as czmq's zcert / `nerd keygen` write it."""
    lines = ["#   ****  Written by nerd's tests  ****", "", "metadata", "curve",
             f'    public-key = "{public.decode()}"']
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode()}"')
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def curve(tmp_path):
    """Server key pair, an allowed client, and a client whose key is not allowed."""
    server_public, server_secret = zmq.curve_keypair()
    allowed_public, allowed_secret = zmq.curve_keypair()
    other_public, other_secret = zmq.curve_keypair()
    write_cert(tmp_path / "server", server_public)
    write_cert(tmp_path / "server_secret", server_public, server_secret)
    allow = tmp_path / "clients"
    allow.mkdir()
    write_cert(allow / "pipeline", allowed_public)
    return {
        "args": ["--curve-secret", str(tmp_path / "server_secret"), "--curve-allow", str(allow)],
        "server": server_public,
        "allowed": (allowed_public, allowed_secret),
        "other": (other_public, other_secret),
    }


def socket_as(ctx, kind, endpoint, server=None, keys=None):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        s.curve_serverkey = server
        s.curve_publickey, s.curve_secretkey = keys
    if kind == zmq.SUB:
        s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(endpoint)
    return s


def test_curve_allowed_client_gets_results_others_nothing(start_daemon, zctx, pb, curve):
    d = start_daemon(extra=curve["args"] + ["--verbose"])
    push = socket_as(zctx, zmq.PUSH, d.in_ep, curve["server"], curve["allowed"])
    sub = socket_as(zctx, zmq.SUB, d.out_ep, curve["server"], curve["allowed"])
    stranger = socket_as(zctx, zmq.SUB, d.out_ep, curve["server"], curve["other"])
    plain = socket_as(zctx, zmq.SUB, d.out_ep)           # no CURVE at all
    stranger_push = socket_as(zctx, zmq.PUSH, d.in_ep, curve["server"], curve["other"])
    stranger_push.send(make_doc(pb, "from-stranger", "Xi Jinping spoke."), zmq.NOBLOCK)

    # The allowed client: documents in, results out (probes until the subscription is up).
    deadline = time.monotonic() + 15 * SLOW
    got = None
    i = 0
    while got is None and time.monotonic() < deadline:
        push.send(make_doc(pb, f"curve-{i}", "Xi Jinping met Daniel Hartley in Beijing."))
        i += 1
        if sub.poll(int(300 * SLOW)):
            topic, body = sub.recv_multipart()
            got = pb.Result()
            got.ParseFromString(body)
    assert got is not None, f"the allowed client got no result\n{d.describe()}"
    assert topic == b"result" and got.document_id.startswith("curve-")
    for n in range(5):
        push.send(make_doc(pb, f"more-{n}", "Daniel Hartley spoke."))
    time.sleep(1.0 * SLOW)
    seen = []
    while sub.poll(100):
        seen.append(sub.recv_multipart())
    assert len(seen) >= 5

    # Neither the unknown key nor the plain client got anything; the stranger's document
    # never came in.
    assert not stranger.poll(200), "a client with an unknown key received a result"
    assert not plain.poll(200), "a client without CURVE received a result"
    for frames in seen:
        r = pb.Result()
        r.ParseFromString(frames[1])
        assert r.document_id != "from-stranger"
    d.wait_log("refused a client from", timeout=10)
    assert curve["other"][0].decode() in d.log(), "the refused key is not in the log"
    # The plain client is logged too: as a mechanism mismatch where ZeroMQ reports one, or (on
    # a busy machine its connection may close before the mechanisms are compared) as a failed
    # handshake, a debug line, hence --verbose.
    deadline = time.monotonic() + 10 * SLOW
    while time.monotonic() < deadline:
        if "does not speak CURVE" in d.log() or "a handshake failed on" in d.log():
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the client without CURVE was not logged\n{d.describe()}")


def test_curve_needs_a_valid_secret_and_allow_dir(tmp_path, curve):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_nerd("serve", "--curve-secret", str(tmp_path / "server_secret"), "--curve-allow",
                 str(empty), "--in", "@tcp://127.0.0.1:*", "--out", "@tcp://127.0.0.1:*",
                 "--control", "none", timeout=20)
    assert r.returncode != 0 and b"no key files" in r.stderr, r.stderr
    r = run_nerd("serve", "--curve-secret", str(tmp_path / "server"), "--curve-allow",
                 str(tmp_path / "clients"), "--in", "@tcp://127.0.0.1:*", "--out",
                 "@tcp://127.0.0.1:*", "--control", "none", timeout=20)
    assert r.returncode != 0 and b"secret" in r.stderr, r.stderr


def test_default_endpoints_are_loopback():
    r = run_nerd("serve", "--help")
    assert r.returncode == 0
    # Every "(default @tcp://HOST:PORT" of the help: in, out, control.
    endpoints = re.findall(rb"default\s+@?tcp://([^:\s]+):", r.stdout)
    assert len(endpoints) >= 3, r.stdout
    assert endpoints, r.stdout
    assert set(endpoints) <= {b"127.0.0.1"}, endpoints


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_refused_without_user_or_allow_root():
    env = {k: v for k, v in os.environ.items() if k != "NERD_ALLOW_ROOT"}
    r = run_nerd("serve", "--control", "none", env=env, timeout=20)
    assert r.returncode == 2, r
    assert b"refusing to run as root" in r.stderr and b"--user" in r.stderr, r.stderr


@pytest.mark.skipif(os.geteuid() != 0 or VALGRIND, reason="needs root (and no valgrind)")
def test_user_drops_root_after_binding(start_daemon, zctx, pb):
    env_before = os.environ.pop("NERD_ALLOW_ROOT", None)
    try:
        d = start_daemon(extra=["--user", "nobody", "--heartbeat-ms", "1000"])
    finally:
        if env_before is not None:
            os.environ["NERD_ALLOW_ROOT"] = env_before
    status = open(f"/proc/{d.proc.pid}/status").read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
    assert set(uids) == {"65534"}, status
    assert "0" not in gids and "0" not in groups, status
    assert "running as user nobody" in d.log()
    # Still serving, and SIGHUP still reloads (the rules are world-readable).
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(d.in_ep)
    sub = zctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(d.out_ep)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        push.send(make_doc(pb, "as-nobody", "Xi Jinping spoke."))
        if sub.poll(300):
            break
    else:
        pytest.fail(f"no result from the daemon running as nobody\n{d.describe()}")
    mark = len(d.log())
    d.send_signal(signal.SIGHUP)
    d.wait_log("reloaded the rules", start=mark)


def test_curve_command_line_clients(start_daemon, tmp_path, curve):
    """`nerd push`, `nerd tail` and `nerd stats` connect as CURVE clients with --curve-server
    and --curve-key; a key the daemon does not admit gets nothing through."""
    (control_port,) = free_ports(1)
    control = f"tcp://127.0.0.1:{control_port}"
    d = start_daemon(extra=curve["args"] + ["--control", "@" + control])
    write_cert(tmp_path / "client_secret", *curve["allowed"])
    write_cert(tmp_path / "stranger_secret", *curve["other"])
    as_client = ["--curve-server", str(tmp_path / "server"),
                 "--curve-key", str(tmp_path / "client_secret")]
    doc = tmp_path / "doc.jsonl"
    doc.write_text('{"id": "by-curve", "text": "Xi Jinping met Daniel Hartley in Beijing."}\n')

    tail = subprocess.Popen([NERD, "tail", "--from", d.out_ep, "--count", "1",
                             "--timeout", str(int(20000 * SLOW)), *as_client],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the subscription takes a moment to reach the daemon: push until tail has its result
    deadline = time.monotonic() + 20 * SLOW
    while tail.poll() is None and time.monotonic() < deadline:
        p = run_nerd("push", "--jsonl", "--to", d.in_ep, "--timeout", "5000", *as_client, doc,
                     text=True)
        assert p.returncode == 0, p.stderr
        time.sleep(0.3)
    out, err = tail.communicate(timeout=30)
    assert tail.returncode == 0, err
    assert '"id":"by-curve"' in out and "Xi Jinping" in out

    p = run_nerd("stats", "--json", "--control", control, *as_client, text=True)
    assert p.returncode == 0, p.stderr
    assert '"received":' in p.stdout

    # an unknown key: the push finds no daemon to take it, stats gets no answer
    stranger = ["--curve-server", str(tmp_path / "server"),
                "--curve-key", str(tmp_path / "stranger_secret")]
    p = run_nerd("push", "--jsonl", "--to", d.in_ep, "--timeout", "1000", *stranger, doc,
                 text=True)
    assert p.returncode == 1
    p = run_nerd("stats", "--control", control, "--timeout", "1000", *stranger, text=True)
    assert p.returncode == 1
    # the two options go together, and a public key file is no key pair
    p = run_nerd("push", "--to", d.in_ep, "--curve-server", str(tmp_path / "server"), doc,
                 text=True)
    assert p.returncode == 1 and "go together" in p.stderr
    p = run_nerd("stats", "--control", control, "--curve-server", str(tmp_path / "server"),
                 "--curve-key", str(tmp_path / "server"), text=True)
    assert p.returncode == 1 and "no secret key" in p.stderr
