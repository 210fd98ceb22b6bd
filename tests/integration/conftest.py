"""Shared machinery for nerd's integration tests.

The tests drive the real `nerd` binary (NERD_BIN, default build/nerd) with real clients: pyzmq
sockets and Google's Python protobuf runtime, whose module is generated from proto/nerd.proto by
protoc at the start of the session, so the tests check nerd against an independent implementation
of the wire format.

NERD_VALGRIND=1 runs every daemon under valgrind (make memcheck selects the tests whose names say
valgrind_safe); timeouts are then stretched, and a daemon must still exit 0 after SIGTERM, which
under valgrind means no memory error and no definite or indirect leak.  Under the sanitizer build
(make sanitize) a leak makes the exit code non-zero too, so the same assertion catches it.
"""

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import zmq

# The suite runs as root in CI and on fresh machines; nerd serve refuses root without this
# (tests that check the refusal remove it from their own environment).
os.environ.setdefault("NERD_ALLOW_ROOT", "1")

REPO = Path(__file__).resolve().parents[2]
NERD = os.environ.get("NERD_BIN") or str(REPO / "build" / "nerd")
RULES_EN = REPO / "rules" / "en"
VALGRIND = os.environ.get("NERD_VALGRIND") == "1"
# Every timeout in the suite is multiplied by this: valgrind runs code 20-50 times slower.
SLOW = 25 if VALGRIND else 1
SHARED = Path(os.environ.get("NERD_SHARED", REPO.parent / "shared"))
SEED_ARTICLE = SHARED / "eval" / "seed" / "article.txt"

VALGRIND_CMD = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect", "-q",
                # false positives inside PCRE2's JIT-generated code only (see the file)
                f"--suppressions={Path(__file__).resolve().parent / 'valgrind.supp'}"]

PROBE_ID = "__probe__"

# Our own news-like text (never text from the eval corpora): Chinese names with and without
# hyphens, a Western name, roles, organisations, dates, curly quotes and apostrophes so that byte
# offsets differ from character offsets.
NEWS_TEXT = (
    "Beijing\u2019s new \u201ccyber sovereignty\u201d rules drew sharp criticism on Monday.\n\n"
    "Chen Mei-ling, a professor at National Tsing Hua University, told Reuters on May 3 that the "
    "rules would silence critics abroad. "
    "Communist Party leader Xi Jinping announced the plan in a speech in Beijing last week. "
    "Zhou Li-wen, a political analyst and Reuters contributor, said the move showed "
    "Beijing\u2019s growing confidence. "
    "Daniel Hartley, a researcher at the University of Leeds, told the BBC on Tuesday that the "
    "plan was \u201cambitious and worrying.\u201d\n"
)
NEWS_PEOPLE = ["Chen Mei-ling", "Xi Jinping", "Zhou Li-wen", "Daniel Hartley"]
# The tests of the plumbing (reply, bad input, clients) check only these, so that a weakness of the
# rule pack fails the tests about rules, not every test.
CORE_PEOPLE = {"Xi Jinping", "Daniel Hartley"}
SEED_PEOPLE = ["Lai Chun-chang", "Wang He", "Lin Zongnan", "Xi Jinping"]


# ---- generated protobuf module ----------------------------------------------------------------

@pytest.fixture(scope="session")
def pb():
    """The nerd_pb2 module, generated now from proto/nerd.proto with protoc."""
    out = tempfile.mkdtemp(prefix="nerd-pb-")
    try:
        subprocess.run(["protoc", f"--python_out={out}", "--proto_path=proto", "proto/nerd.proto"],
                       cwd=REPO, check=True, capture_output=True, text=True)
        sys.path.insert(0, out)
        module = importlib.import_module("nerd_pb2")
        yield module
    finally:
        if out in sys.path:
            sys.path.remove(out)
        shutil.rmtree(out, ignore_errors=True)


def make_doc(pb, doc_id, text, metadata=None, rule_set=""):
    doc = pb.Document(id=doc_id, text=text, rule_set=rule_set)
    for key, value in (metadata or {}).items():
        doc.metadata.add(key=key, value=value)
    return doc.SerializeToString()


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def raw_doc(doc_id: bytes, text: bytes) -> bytes:
    """A Document encoded by hand, so that its text may hold bytes that are not UTF-8 (Google's
    protobuf refuses to encode those)."""
    return (b"\x0a" + _varint(len(doc_id)) + doc_id +
            b"\x12" + _varint(len(text)) + text)


# ---- checks shared by the tests ---------------------------------------------------------------

def check_spans(text, result):
    """Every entity and relation argument of a Result points at its own text, in UTF-8 bytes."""
    data = text.encode("utf-8")
    for ent in result.entities:
        assert ent.type, ent
        assert ent.rule, f"entity without a rule id: {ent}"
        assert 0 <= ent.start < ent.end <= len(data), ent
        assert data[ent.start:ent.end].decode("utf-8") == ent.text, ent
    for rel in result.relations:
        assert rel.type and rel.rule, rel
        for arg in rel.args:
            assert arg.role, arg
            if arg.HasField("span"):
                assert 0 <= arg.span.start <= arg.span.end <= len(data), arg
                assert data[arg.span.start:arg.span.end].decode("utf-8") == arg.span.text, arg
            if arg.entity >= 0:
                assert arg.entity < len(result.entities), arg


def people(result):
    return {e.text for e in result.entities if e.type == "PERSON"}


# ---- ports and the daemon ---------------------------------------------------------------------

def free_ports(n):
    """n distinct free loopback TCP ports (held open together while picked, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class _Drain(threading.Thread):
    """Reads a pipe to its end into a buffer, so the child never blocks on a full pipe."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe = pipe
        self.lock = threading.Lock()
        self.chunks = []

    def run(self):
        for line in iter(self.pipe.readline, b""):
            with self.lock:
                self.chunks.append(line)
        self.pipe.close()

    def text(self):
        with self.lock:
            return b"".join(self.chunks).decode("utf-8", "replace")


class Daemon:
    """One `nerd serve` process on free loopback ports."""

    def __init__(self, rules=None, extra=(), threads=2, in_spec=None, out_spec=None):
        """in_spec / out_spec replace the bound --in / --out endpoints (e.g. ">tcp://..." to
        connect to a socket the test binds)."""
        self.p_in, self.p_out, self.p_reply = free_ports(3)
        self.in_ep = f"tcp://127.0.0.1:{self.p_in}"
        self.out_ep = f"tcp://127.0.0.1:{self.p_out}"
        self.reply_ep = f"tcp://127.0.0.1:{self.p_reply}"
        cmd = [NERD, "serve", "--in", in_spec or "@" + self.in_ep,
               "--out", out_spec or "@" + self.out_ep,
               "--reply", "@" + self.reply_ep, "--threads", str(threads),
               "--rules", str(rules or RULES_EN), *extra]
        if VALGRIND and "--time-budget" not in extra:
            # valgrind runs the engine some 25 times slower: the default budget would turn
            # ordinary documents into timeouts
            cmd += ["--time-budget", str(2000 * SLOW)]
        self.cmd = (VALGRIND_CMD if VALGRIND else []) + cmd
        self.threads = threads
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.err = _Drain(self.proc.stderr)
        self.out = _Drain(self.proc.stdout)
        self.err.start()
        self.out.start()
        self.returncode = None

    def log(self):
        return self.err.text()

    def wait_log(self, needle, timeout=10, start=0):
        """Waits until the log (from character start on) contains needle; returns its position."""
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            pos = self.log().find(needle, start)
            if pos >= 0:
                return pos
            if self.proc.poll() is not None:
                self.err.join(2)
                pos = self.log().find(needle, start)
                if pos >= 0:
                    return pos
                pytest.fail(f"nerd serve exited ({self.proc.returncode}) before logging "
                            f"{needle!r}:\n{self.describe()}")
            time.sleep(0.02)
        pytest.fail(f"nerd serve did not log {needle!r} within {timeout * SLOW}s:\n"
                    f"{self.describe()}")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Sends sig (once), waits, and returns the exit code (killing the daemon if it hangs)."""
        if self.returncode is not None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.returncode = f"hung after {signal.Signals(sig).name} (killed)"
        self.err.join(5)
        self.out.join(5)
        return self.returncode

    def warm_up(self):
        """Under valgrind a worker's first document costs seconds (valgrind translating the code
        it runs for the first time) and may overrun the per-document time budget; so each worker
        is given a few throw-away documents before the test starts."""
        ctx = zmq.Context()
        try:
            dealer = ctx.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(self.reply_ep)
            count = 2 * self.threads
            for _ in range(count):
                # A minimal Document: field 1 (id) and field 2 (text), written by hand.
                dealer.send_multipart([b"", raw_doc(PROBE_ID.encode(), b"Xi Jinping spoke.")])
            for _ in range(count):
                if not dealer.poll(60000):
                    pytest.fail(f"no answer to a warm-up document in 60s\n{self.describe()}")
                dealer.recv_multipart()
        finally:
            ctx.destroy(linger=0)

    def describe(self):
        return (f"command: {' '.join(self.cmd)}\nexit: {self.proc.poll()}\n"
                f"---- stderr ----\n{self.log()}\n---- stdout ----\n{self.out.text()}")


@pytest.fixture
def start_daemon():
    """start_daemon(rules=None, extra=(), threads=2) starts `nerd serve` and waits for "ready".
    Every daemon still running at the end of the test is stopped with SIGTERM and must exit 0."""
    started = []

    def start(**kwargs):
        d = Daemon(**kwargs)
        started.append(d)
        d.wait_log("ready", timeout=10)
        if VALGRIND:
            d.warm_up()
        return d

    yield start
    failures = []
    for d in started:
        rc = d.stop()
        if rc != 0:
            failures.append(f"nerd serve exit code {rc!r}, expected 0\n{d.describe()}")
    if failures:
        pytest.fail("\n\n".join(failures))


@pytest.fixture
def daemon(start_daemon):
    return start_daemon()


# ---- clients ----------------------------------------------------------------------------------

class Client:
    """A PUSH socket to a daemon's input and a SUB socket on its output."""

    def __init__(self, ctx, pb, d):
        self.pb = pb
        self.push = ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 5000)
        self.push.connect(d.in_ep)
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(d.out_ep)
        self.daemon = d

    def sync(self, timeout=10):
        """Waits until the subscription has reached the daemon: sends probe documents until the
        result of one comes back (a PUB drops what it publishes before a subscriber is known)."""
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            self.push.send(make_doc(self.pb, PROBE_ID, "probe"))
            if self.sub.poll(int(200 * SLOW)):
                frames = self.sub.recv_multipart()
                result = self.pb.Result()
                result.ParseFromString(frames[-1])
                if result.document_id == PROBE_ID:
                    return
        pytest.fail(f"no result for a probe document within {timeout * SLOW}s\n"
                    f"{self.daemon.describe()}")

    def send(self, doc_bytes):
        self.push.send(doc_bytes)

    def recv(self, n, timeout=10):
        """The next n non-probe messages as (topic, Result), failing after timeout seconds."""
        got = []
        deadline = time.monotonic() + timeout * SLOW
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sub.poll(int(left * 1000)):
                pytest.fail(f"received {len(got)} of {n} results within {timeout * SLOW}s: "
                            f"{[(t, r.document_id) for t, r in got]}\n{self.daemon.describe()}")
            frames = self.sub.recv_multipart()
            assert len(frames) == 2, f"expected [topic][Result], got {len(frames)} frames"
            result = self.pb.Result()
            result.ParseFromString(frames[1])
            if result.document_id == PROBE_ID:
                continue
            got.append((frames[0].decode("utf-8"), result))
        return got

    def recv_one(self, timeout=10):
        return self.recv(1, timeout)[0]

    def close(self):
        self.push.close()
        self.sub.close()


@pytest.fixture
def zctx():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def client_for(zctx, pb):
    """client_for(daemon) returns a Client whose subscription has reached the daemon."""
    clients = []

    def make(d, sync=True):
        c = Client(zctx, pb, d)
        clients.append(c)
        if sync:
            c.sync()
        return c

    yield make
    for c in clients:
        c.close()


def run_nerd(*args, input=None, timeout=60, env=None, **kw):
    """Runs the nerd command (never under valgrind: the CLI tests are not memcheck tests)."""
    return subprocess.run([NERD, *map(str, args)], input=input, capture_output=True,
                          timeout=timeout * SLOW, env=env, **kw)
