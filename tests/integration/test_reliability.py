"""Delivery guarantees of `nerd serve` (issue 6): nothing lost with --no-drop, even across
reloads and a SIGTERM under load; back-pressure from a slow subscriber; counters that add up;
drops counted in the default mode; hostile input and rules answered with an error Result while
the next document is still served.

The 100,000-document loss test (name contains `loss`) takes 10-30 s on the normal build; it is
skipped under valgrind (NERD_VALGRIND=1) and in the sanitizer build (a binary under build-san/),
where it would take many minutes; the smaller tests below exercise the same code paths there.
Run it alone with:  NERD_BIN=$PWD/build/nerd python3 -m pytest tests/integration -k loss
"""

import json
import os
import shutil
import signal
import threading
import time

import pytest
import zmq

from conftest import NERD, RULES_EN, SLOW, VALGRIND, free_ports, make_doc, raw_doc


SANITIZED = "build-san" in NERD
PROBE = b"__probe__"


# ---- helpers -----------------------------------------------------------------------------------

def control_args():
    port, = free_ports(1)
    ep = f"tcp://127.0.0.1:{port}"
    return ep, ["--control", "@" + ep]


def ask(ctx, endpoint, request=b"stats", timeout=5):
    """One request on the control socket; the JSON answer as a dict."""
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(endpoint)
    try:
        req.send(request)
        assert req.poll(int(timeout * 1000 * SLOW)), f"no answer to {request!r} on {endpoint}"
        return json.loads(req.recv().decode("utf-8"))
    finally:
        req.close()


def assert_counters_add_up(st):
    assert st["received"] == st["published"] + st["replied"] + st["dropped"] + st["in_flight"], st


def subscribe_synced(ctx, d, push, rcvhwm=None, timeout=10):
    """A SUB socket on d's output whose subscription has reached the daemon (probe documents are
    sent through push until one comes back)."""
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if rcvhwm is not None:
        sub.setsockopt(zmq.RCVHWM, rcvhwm)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(d.out_ep)
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        push.send(raw_doc(PROBE, b"probe"))
        if sub.poll(int(200 * SLOW)):
            sub.recv_multipart()
            # Read the other probes' results too, so the test starts with an empty queue.
            while sub.poll(int(300 * SLOW)):
                sub.recv_multipart()
            return sub
    pytest.fail(f"subscription did not reach the daemon\n{d.describe()}")


class Collector(threading.Thread):
    """Reads [topic][Result] from sub as fast as it can, keeping the document ids (probes
    left out).  pause() / resume() make it stop reading for a while."""

    def __init__(self, pb, sub, expected):
        super().__init__(daemon=True)
        self.pb, self.sub, self.expected = pb, sub, expected
        self.ids = set()
        self.count = 0
        self.topics = {}
        self.done = threading.Event()
        self.stop = threading.Event()
        self.reading = threading.Event()
        self.reading.set()

    def run(self):
        result = self.pb.Result()
        while not self.stop.is_set() and len(self.ids) < self.expected:
            self.reading.wait()
            if not self.sub.poll(100):
                continue
            topic, body = self.sub.recv_multipart()
            result.ParseFromString(body)
            if result.document_id == PROBE.decode():
                continue
            self.count += 1
            self.ids.add(result.document_id)
            self.topics[topic] = self.topics.get(topic, 0) + 1
        self.done.set()


def copy_rules(tmp_path):
    rules = tmp_path / "en"
    shutil.copytree(RULES_EN, rules)
    return rules


# ---- (a) 100,000 documents, reloads, SIGTERM: nothing lost ---------------------------------------

@pytest.mark.skipif(VALGRIND or SANITIZED, reason="100k documents take too long under valgrind "
                    "or the sanitizers; the smaller tests cover the same paths there")
def test_loss_100k_documents_reloads_and_sigterm(start_daemon, zctx, pb, tmp_path):
    total = 100_000
    rules = copy_rules(tmp_path)
    ctl, args = control_args()
    d = start_daemon(rules=rules, threads=2, extra=["--no-drop", *args])
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, -1)
    push.connect(d.in_ep)
    sub = subscribe_synced(zctx, d, push)
    collector = Collector(pb, sub, total)
    collector.start()

    started = time.monotonic()
    texts = [b"Xi Jinping met Daniel Hartley in Beijing on May 3.",
             b"Chen Mei-ling, a professor at National Tsing Hua University, spoke.",
             b"Nothing to see here."]
    reload_every = total // 6
    for i in range(total):
        push.send(raw_doc(b"doc-%d" % i, texts[i % len(texts)]))
        if i > 0 and i % reload_every == 0:
            d.send_signal(signal.SIGHUP)
    pushed = time.monotonic() - started
    # SIGTERM while documents are still queued and in flight: they must all come out.
    rc = d.stop(signal.SIGTERM, timeout=60)
    collector.done.wait(30)
    collector.stop.set()
    collector.join(5)
    elapsed = time.monotonic() - started
    print(f"\nloss test: pushed {total} documents in {pushed:.1f}s, received "
          f"{len(collector.ids)} unique results ({collector.count} in all) in {elapsed:.1f}s, "
          f"{d.log().count('reloaded the rules')} reloads")
    assert rc == 0, d.describe()
    # Six SIGHUPs; the last comes just before SIGTERM and may not finish (reloads run in a
    # thread of their own and one still running at exit is dropped); one arriving during a
    # reload is folded into the next.
    assert d.log().count("reloaded the rules") >= 4, d.log()
    assert collector.count == len(collector.ids), "a document got more than one result"
    missing = total - len(collector.ids)
    assert missing == 0, f"{missing} of {total} results missing\n{d.log()[-3000:]}"
    assert set(collector.topics) == {b"result"}, collector.topics
    assert "dropped 0," in d.log(), d.log()[-2000:]


# ---- (b) --no-drop: a subscriber that stops reading pushes back ----------------------------------

BIG = "x" * 2048   # echoed back in Result.metadata: fills the queues quickly


def push_many(zctx, d, pb, n, prefix):
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, -1)
    push.setsockopt(zmq.SNDHWM, 0)     # the test itself must never block on a full queue
    push.connect(d.in_ep)
    return push, [make_doc(pb, f"{prefix}-{i}", "Xi Jinping spoke in Beijing.", {"pad": BIG})
                  for i in range(n)]


def test_no_drop_back_pressure_valgrind_safe(start_daemon, zctx, pb):
    total = 100 if VALGRIND else 6000
    ctl, args = control_args()
    d = start_daemon(threads=2, extra=["--no-drop", *args])
    push, docs = push_many(zctx, d, pb, total, "bp")
    sub = subscribe_synced(zctx, d, push, rcvhwm=10)
    base = ask(zctx, ctl)
    collector = Collector(pb, sub, total)
    collector.reading.clear()          # the subscriber is not reading yet
    collector.start()
    for doc in docs:
        push.send(doc)
    # While it does not read, the daemon holds back (nothing dropped) and stops taking input.
    # (Not SLOW-scaled: under valgrind only the bookkeeping is checked, not the timing.)
    time.sleep(5 if VALGRIND else 2)
    st = ask(zctx, ctl)
    assert st["dropped"] == 0, st
    assert_counters_add_up(st)
    if not VALGRIND:
        assert st["received"] - base["received"] < total, \
            f"the daemon took every document although its output was full: {st}"
    collector.reading.set()
    assert collector.done.wait(60 * SLOW), \
        f"got {len(collector.ids)} of {total}\n{d.describe()}"
    assert len(collector.ids) == total
    st = ask(zctx, ctl)
    assert st["dropped"] == 0 and st["in_flight"] == 0, st
    assert_counters_add_up(st)


def test_default_mode_counts_drops(start_daemon, zctx, pb):
    """Without --no-drop a subscriber that does not read loses results, and they are counted:
    received == published + dropped, and the log says so."""
    total = 6000
    ctl, args = control_args()
    d = start_daemon(threads=2, extra=[*args])
    push, docs = push_many(zctx, d, pb, total, "drop")
    sub = subscribe_synced(zctx, d, push, rcvhwm=10)
    collector = Collector(pb, sub, total)
    collector.reading.clear()
    collector.start()
    base = ask(zctx, ctl)
    for doc in docs:
        push.send(doc)
    deadline = time.monotonic() + 60 * SLOW
    while time.monotonic() < deadline:
        st = ask(zctx, ctl)
        if st["received"] - base["received"] == total and st["in_flight"] == 0:
            break
        time.sleep(0.2)
    assert st["received"] - base["received"] == total, st
    assert st["dropped"] > 0, st
    assert_counters_add_up(st)
    collector.reading.set()
    time.sleep(1 * SLOW)
    collector.stop.set()
    collector.join(5)
    # What the subscriber got is exactly what was published to it (never more than that).
    assert len(collector.ids) <= st["published"] - base["published"]
    assert len(collector.ids) + st["dropped"] >= total - 5, (len(collector.ids), st)
    d.wait_log("dropped", timeout=5)


# ---- (c) counters add up after mixed input -------------------------------------------------------

def test_counters_add_up_mixed_input_valgrind_safe(start_daemon, zctx, pb):
    ctl, args = control_args()
    d = start_daemon(threads=2, extra=["--max-bytes", "1k", *args])
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.connect(d.in_ep)
    sub = subscribe_synced(zctx, d, push)
    dealer = zctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(d.reply_ep)
    base = ask(zctx, ctl)
    sent = {"good": 0, "decode": 0, "utf8": 0, "too_big": 0}
    for i in range(40):
        kind = ("good", "decode", "utf8", "too_big")[i % 4]
        if kind == "good":
            doc = make_doc(pb, f"m-{i}", "Daniel Hartley visited Leeds.")
        elif kind == "decode":
            doc = b"\xff\xff\xff not a protobuf"
        elif kind == "utf8":
            doc = raw_doc(b"m-%d" % i, b"bad \xc3\x28 bytes")
        else:
            doc = make_doc(pb, f"m-{i}", "y" * 2000)
        sent[kind] += 1
        push.send(doc)
    for i in range(10):
        dealer.send_multipart([b"", make_doc(pb, f"r-{i}", "Xi Jinping spoke.")])
    got = 0
    deadline = time.monotonic() + 20 * SLOW
    while got < 40 and time.monotonic() < deadline:
        if sub.poll(200):
            sub.recv_multipart()
            got += 1
    for _ in range(10):
        assert dealer.poll(int(10000 * SLOW))
        dealer.recv_multipart()
    assert got == 40
    st = ask(zctx, ctl)
    assert_counters_add_up(st)
    assert st["in_flight"] == 0 and st["queue_depth"] == 0, st
    assert st["received"] - base["received"] == 50
    assert st["published"] - base["published"] == 40
    assert st["replied"] - base["replied"] == 10
    for reason in ("decode", "utf8", "too_big"):
        assert st["errors"][reason] - base["errors"][reason] == sent[reason], (reason, st)
    assert st["errors_total"] - base["errors_total"] == 30, st


# ---- (d) hostile rules: a catastrophic pattern ----------------------------------------------------

def test_catastrophic_pattern_gives_error_and_next_document_is_served(
        start_daemon, zctx, pb, tmp_path):
    rules = copy_rules(tmp_path)
    (rules / "99-evil.rules").write_text(
        "# a pattern that backtracks catastrophically on many a's followed by b\n"
        "entity ORG evil_backtrack : (a+)+$\n")
    check = __import__("subprocess").run([NERD, "rules", "check", str(rules)],
                                         capture_output=True, text=True)
    if check.returncode != 0:
        # The rule language may spell rules differently: fall back to the docs' syntax.
        pytest.skip(f"could not write an evil rule in this rule language: {check.stderr[:500]}")
    d = start_daemon(rules=rules, threads=1, extra=["--time-budget", str(2000 * SLOW)])
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.connect(d.in_ep)
    sub = subscribe_synced(zctx, d, push)
    push.send(make_doc(pb, "evil", "a" * 5000 + "b"))
    push.send(make_doc(pb, "next", "Xi Jinping spoke in Beijing."))
    results = {}
    deadline = time.monotonic() + 30 * SLOW
    while len(results) < 2 and time.monotonic() < deadline:
        if sub.poll(200):
            topic, body = sub.recv_multipart()
            r = pb.Result()
            r.ParseFromString(body)
            results[r.document_id] = (topic.decode(), r)
    assert set(results) == {"evil", "next"}, results
    topic, evil = results["evil"]
    assert topic in ("error.match_limit", "error.timeout"), (topic, evil)
    assert evil.error_code in ("match_limit", "timeout")
    assert "limit" in evil.error or "budget" in evil.error, evil.error
    assert any(ch.isdigit() for ch in evil.error), f"the error does not give the limit: {evil.error}"
    topic, nxt = results["next"]
    assert topic == "result", (topic, nxt)


def test_max_entities_error_says_limit(start_daemon, zctx, pb):
    d = start_daemon(threads=1, extra=["--max-entities", "2"])
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.connect(d.in_ep)
    sub = subscribe_synced(zctx, d, push)
    text = ("Xi Jinping met Daniel Hartley in Beijing. Chen Mei-ling and Zhou Li-wen spoke in "
            "Leeds on May 3.")
    push.send(make_doc(pb, "many", text))
    push.send(make_doc(pb, "few", "Nothing here."))
    got = {}
    deadline = time.monotonic() + 20 * SLOW
    while len(got) < 2 and time.monotonic() < deadline:
        if sub.poll(200):
            topic, body = sub.recv_multipart()
            r = pb.Result()
            r.ParseFromString(body)
            got[r.document_id] = (topic.decode(), r)
    topic, many = got["many"]
    assert topic == "error.entities", (topic, many)
    assert "2" in many.error and "--max-entities" in many.error, many.error
    assert got["few"][0] == "result"


# ---- --out-push: a PUSH output that waits for its consumer ---------------------------------------

def test_out_push_waits_for_a_consumer_valgrind_safe(start_daemon, zctx, pb):
    """Results also go to --out-push as [topic][Result]; with no consumer connected the daemon
    holds them (and stops taking input) instead of losing them; a late consumer gets all."""
    total = 50 if VALGRIND else 500
    port, = free_ports(1)
    push_ep = f"tcp://127.0.0.1:{port}"
    ctl, args = control_args()
    d = start_daemon(threads=2, extra=["--out-push", "@" + push_ep, *args])
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.setsockopt(zmq.SNDHWM, 0)
    push.connect(d.in_ep)
    for i in range(total):
        push.send(make_doc(pb, f"p-{i}", "Xi Jinping spoke in Beijing."))
    time.sleep(5 if VALGRIND else 1)
    st = ask(zctx, ctl)
    assert st["published"] == 0 and st["dropped"] == 0, st
    assert_counters_add_up(st)
    pull = zctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.connect(push_ep)
    ids = set()
    deadline = time.monotonic() + 30 * SLOW
    while len(ids) < total and time.monotonic() < deadline:
        if pull.poll(200):
            topic, body = pull.recv_multipart()
            r = pb.Result()
            r.ParseFromString(body)
            assert topic == b"result"
            ids.add(r.document_id)
    assert len(ids) == total, f"{len(ids)} of {total}\n{d.describe()}"
    st = ask(zctx, ctl)
    assert st["published"] == total and st["in_flight"] == 0, st
    assert_counters_add_up(st)
