"""The daemon end to end: `nerd serve` on free loopback ports, driven with pyzmq and Google's
protobuf (both directions of the wire format), its request/reply socket, bad input, SIGHUP reload,
SIGTERM with documents in flight, and the `nerd push` / `nerd tail` clients against it.

Tests whose names contain valgrind_safe also run under `make memcheck` with the daemon under
valgrind."""

import json
import random
import shutil
import signal
import subprocess
import time

import pytest
import zmq

from conftest import (CORE_PEOPLE, NERD, NEWS_PEOPLE, NEWS_TEXT, RULES_EN, SEED_ARTICLE,
                      SEED_PEOPLE, SLOW, VALGRIND, check_spans, free_ports, make_doc, people,
                      raw_doc)


def assert_ok(topic, result, doc_id, text):
    assert topic == "result", f"OK result on topic {topic!r}: {result}"
    assert result.status == result.OK, result
    assert result.document_id == doc_id
    assert result.error == "" and result.error_code == ""
    assert result.rule_set_version, "rule_set_version is empty"
    check_spans(text, result)


def assert_error(topic, result, code, doc_id=None):
    assert topic == f"error.{code}", f"expected topic error.{code}, got {topic!r}: {result}"
    assert result.status == result.ERROR, result
    assert result.error_code == code, result
    assert result.error, "an error result must say why"
    assert not result.entities
    if doc_id is not None:
        assert result.document_id == doc_id


# ---- push / subscribe ----------------------------------------------------------------------

def test_push_news_valgrind_safe(daemon, client_for, pb):
    """nerd decodes what Google's protobuf encodes, and Google's protobuf decodes its Result."""
    c = client_for(daemon)
    c.send(make_doc(pb, "news-1", NEWS_TEXT, {"source": "wire", "lang": "en"}))
    topic, result = c.recv_one()
    assert_ok(topic, result, "news-1", NEWS_TEXT)
    assert CORE_PEOPLE <= people(result), people(result)
    assert [(kv.key, kv.value) for kv in result.metadata] == [("source", "wire"), ("lang", "en")]
    assert result.processing_us > 0


def test_document_rule_set_names_the_served_set(daemon, client_for, pb):
    """Document.rule_set may name the set by its folder ("en") or its exact version; any other
    name gets a rule_set error that says what is served."""
    c = client_for(daemon)
    c.send(make_doc(pb, "by-name", "Xi Jinping spoke.", rule_set="en"))
    topic, result = c.recv_one()
    assert_ok(topic, result, "by-name", "Xi Jinping spoke.")
    version = result.rule_set_version
    assert version.startswith("en@"), version
    c.send(make_doc(pb, "by-version", "Xi Jinping spoke.", rule_set=version))
    topic, result = c.recv_one()
    assert_ok(topic, result, "by-version", "Xi Jinping spoke.")
    c.send(make_doc(pb, "other", "Xi Jinping spoke.", rule_set="fr"))
    topic, result = c.recv_one()
    assert_error(topic, result, "rule_set", "other")
    assert "'en'" in result.error and version in result.error, result.error


def test_push_news_people(daemon, client_for, pb):
    """Every person of our news text, hyphenated given names whole ("Chen Mei-ling")."""
    c = client_for(daemon)
    c.send(make_doc(pb, "news-2", NEWS_TEXT))
    topic, result = c.recv_one()
    assert_ok(topic, result, "news-2", NEWS_TEXT)
    missing = set(NEWS_PEOPLE) - people(result)
    assert not missing, f"PERSON entities missing: {missing}; got {people(result)}"


def test_push_seed_article(daemon, client_for, pb):
    if not SEED_ARTICLE.is_file():
        pytest.skip(f"{SEED_ARTICLE} not present")
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    c = client_for(daemon)
    c.send(make_doc(pb, "seed-article", text))
    topic, result = c.recv_one()
    assert_ok(topic, result, "seed-article", text)
    missing = set(SEED_PEOPLE) - people(result)
    assert not missing, f"PERSON entities missing: {missing}; got {sorted(people(result))}"
    for ent in result.entities:
        assert ent.canonical, f"entity without canonical name: {ent}"


def test_empty_and_unicode_documents(daemon, client_for, pb):
    """An empty text is a valid document with no entities; text in other scripts passes through
    with byte offsets intact."""
    c = client_for(daemon)
    mixed = ("東京で。 Müller-Lüdenscheidt, a spokesman, said “no” — Xi Jinping did not reply. "
             "😀")
    c.send(make_doc(pb, "empty", ""))
    c.send(make_doc(pb, "mixed", mixed))
    got = {r.document_id: (t, r) for t, r in c.recv(2)}
    assert_ok(*got["empty"], "empty", "")
    assert not got["empty"][1].entities
    assert_ok(*got["mixed"], "mixed", mixed)
    assert "Xi Jinping" in people(got["mixed"][1])


def test_one_thread_keeps_input_order(start_daemon, client_for, pb):
    d = start_daemon(threads=1)
    c = client_for(d)
    ids = [f"doc-{i:03d}" for i in range(50)]
    for i, doc_id in enumerate(ids):
        c.send(make_doc(pb, doc_id, NEWS_TEXT if i % 2 else "Xi Jinping spoke."))
    got = [r.document_id for _, r in c.recv(len(ids))]
    assert got == ids


def test_many_documents_each_answered_once(daemon, client_for, pb):
    c = client_for(daemon)
    ids = [f"m{i}" for i in range(300)]
    for doc_id in ids:
        c.send(make_doc(pb, doc_id, NEWS_TEXT))
    got = [r.document_id for _, r in c.recv(len(ids), timeout=30)]
    assert sorted(got) == sorted(ids)


def test_daemons_connect_to_one_stream(start_daemon, zctx, pb, tmp_path):
    """">" endpoints connect: two daemons share one producer (PUSH binds) and one consumer (SUB
    binds); the documents are spread over both and every one is answered once."""
    p_push, p_sub = free_ports(2)
    push = zctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.bind(f"tcp://127.0.0.1:{p_push}")
    sub = zctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.bind(f"tcp://127.0.0.1:{p_sub}")
    versions = set()
    for name in ("alpha", "beta"):
        # Same rules, folders named apart: the rule_set_version tells which daemon answered.
        shutil.copytree(RULES_EN, tmp_path / name)
        start_daemon(rules=tmp_path / name, in_spec=f">tcp://127.0.0.1:{p_push}",
                     out_spec=f">tcp://127.0.0.1:{p_sub}")

    def answer(timeout):
        assert sub.poll(int(timeout * 1000 * SLOW)), "no answer from the daemons"
        topic, data = sub.recv_multipart()
        return topic, pb.Result.FromString(data)

    # Until both daemons' PUB connections are up and subscribed, probe.
    deadline = time.monotonic() + 10 * SLOW
    while len(versions) < 2 and time.monotonic() < deadline:
        push.send(make_doc(pb, "__probe__", "probe"))
        if sub.poll(100):
            versions.add(pb.Result.FromString(sub.recv_multipart()[1]).rule_set_version)
    assert len(versions) == 2, f"answers came from {versions} only"
    ids = [f"shared-{i:03d}" for i in range(100)]
    for doc_id in ids:
        push.send(make_doc(pb, doc_id, NEWS_TEXT))
    got, by_version = [], {}
    while len(got) < len(ids):
        topic, result = answer(10)
        if result.document_id == "__probe__":
            continue
        assert topic == b"result" and result.status == result.OK
        got.append(result.document_id)
        by_version[result.rule_set_version] = by_version.get(result.rule_set_version, 0) + 1
    assert sorted(got) == ids
    assert len(by_version) == 2 and min(by_version.values()) > 0, by_version


# ---- request / reply -----------------------------------------------------------------------

def test_reply_req_valgrind_safe(daemon, zctx, pb):
    req = zctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.setsockopt(zmq.RCVTIMEO, int(10000 * SLOW))
    req.connect(daemon.reply_ep)
    for n in range(3):
        req.send(make_doc(pb, f"req-{n}", NEWS_TEXT, {"n": str(n)}))
        frames = req.recv_multipart()
        assert len(frames) == 1, f"REQ expected one frame, got {len(frames)}"
        result = pb.Result()
        result.ParseFromString(frames[0])
        assert result.document_id == f"req-{n}"
        assert result.status == result.OK, result
        check_spans(NEWS_TEXT, result)
        assert CORE_PEOPLE <= people(result)
        assert [(kv.key, kv.value) for kv in result.metadata] == [("n", str(n))]
    # A bad request gets an error answer, and the socket keeps serving.
    req.send(b"\x0a\x64only-three-bytes")
    result = pb.Result()
    result.ParseFromString(req.recv())
    assert result.status == result.ERROR and result.error_code == "decode", result
    req.send(make_doc(pb, "req-after", "Xi Jinping spoke."))
    result.ParseFromString(req.recv())
    assert result.document_id == "req-after" and result.status == result.OK


def test_reply_dealer_valgrind_safe(daemon, zctx, pb):
    """A DEALER may keep many requests outstanding; each answer comes back once."""
    dealer = zctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(daemon.reply_ep)
    ids = [f"dealer-{n}" for n in range(10)]
    for doc_id in ids:
        dealer.send_multipart([b"", make_doc(pb, doc_id, NEWS_TEXT)])
    got = []
    for _ in ids:
        assert dealer.poll(int(10000 * SLOW)), f"answers so far: {got}"
        frames = dealer.recv_multipart()
        assert len(frames) == 2 and frames[0] == b"", f"expected ['', Result], got {frames!r}"
        result = pb.Result()
        result.ParseFromString(frames[1])
        assert result.status == result.OK, result
        assert CORE_PEOPLE <= people(result)
        got.append(result.document_id)
    assert sorted(got) == sorted(ids)


# ---- bad input -----------------------------------------------------------------------------

def _wire_problem(data):
    """Why data is not a protobuf message at the wire level ("truncated", "wire type", ...), None
    if it is one, "group" if it holds a (deprecated) group, which parsers treat differently."""
    pos = 0

    def varint():
        nonlocal pos
        value, shift = 0, 0
        while pos < len(data) and shift < 70:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value
        return None

    while pos < len(data):
        key = varint()
        if key is None:
            return "truncated"
        if key >> 3 == 0:
            return "field 0"
        wire = key & 7
        if wire in (3, 4):
            return "group"
        if wire in (6, 7):
            return "wire type"
        if wire == 0 and varint() is None:
            return "truncated"
        if wire in (1, 5):
            pos += 8 if wire == 1 else 4
        if wire == 2:
            length = varint()
            if length is None:
                return "truncated"
            pos += length
        if pos > len(data):
            return "truncated"
    return None


def _malformed(pb):
    """Seeded random bytes that are not a protobuf message at all (so not merely a Document with
    bad UTF-8), and that Google's protobuf refuses too."""
    rng = random.Random(20240316)
    while True:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(8, 64)))
        if _wire_problem(data) in (None, "group"):
            continue
        try:
            pb.Document().ParseFromString(data)
        except Exception:  # google.protobuf.message.DecodeError
            return data


BAD_INPUTS = {
    # kind: (how to build the frame, the error code, the id the result must carry or None)
    "decode": (lambda pb: _malformed(pb), "decode", None),
    # the id comes before the damage, so it can still be read and echoed
    "truncated": (lambda pb: b"\x0a\x05bad-1\x12\x40cut short", "decode", "bad-1"),
    "utf8": (lambda pb: raw_doc(b"bad-utf8", b"Chen Mei-ling said \xc3\x28 and \xff\xfe."),
             "utf8", "bad-utf8"),
    "overlong_utf8": (lambda pb: raw_doc(b"bad-overlong", b"slash \xc0\xaf here"), "utf8",
                      "bad-overlong"),
    "too_big": (lambda pb: make_doc(pb, "bad-big", "Xi Jinping spoke. " * 400), "too_big",
                "bad-big"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_valgrind_safe(kind, start_daemon, client_for, pb):
    build, code, bad_id = BAD_INPUTS[kind]
    d = start_daemon(extra=["--max-bytes", "4096"])
    c = client_for(d)
    c.send(build(pb))
    c.send(make_doc(pb, "good-after", NEWS_TEXT))
    got = c.recv(2)
    errors = [(t, r) for t, r in got if r.status != r.OK]
    oks = [(t, r) for t, r in got if r.status == r.OK]
    assert len(errors) == 1 and len(oks) == 1, [(t, r.document_id, r.error_code) for t, r in got]
    assert_error(*errors[0], code, bad_id)
    assert_ok(*oks[0], "good-after", NEWS_TEXT)
    assert CORE_PEOPLE <= people(oks[0][1])
    assert d.proc.poll() is None, "the daemon died on bad input"


def test_bad_input_is_logged_rate_limited(daemon, client_for, pb):
    c = client_for(daemon)
    before = daemon.log().count("\n")
    bad = _malformed(pb)
    for _ in range(100):
        c.send(bad)
    c.send(make_doc(pb, "good-after", "Xi Jinping spoke."))
    got = c.recv(101)
    assert sum(1 for t, _ in got if t == "error.decode") == 100
    time.sleep(0.2)
    log = daemon.log()
    assert "decode" in log, f"a bad frame must be logged:\n{log}"
    assert log.count("\n") - before < 50, f"100 bad frames logged line by line:\n{log}"


# ---- signals -------------------------------------------------------------------------------

RELOAD_TEXT = "Engineers at qorvandix labs said the tests went well."
RELOAD_RULES = """\
# Added by the reload test: a made-up organisation, all lower case so no other rule sees it.
list ORG name=reload_test
  qorvandix labs | qorvandix
end
"""
BROKEN_RULES = """\
# Broken on purpose by the reload test.
entity PERSON reload.broken : (?<span>\\p{Lu}+(
"""


def _orgs(result):
    return {e.text for e in result.entities if e.type == "ORG"}


def test_sighup_reloads_rules(start_daemon, client_for, pb, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES_EN, rules)
    d = start_daemon(rules=rules)
    c = client_for(d)

    c.send(make_doc(pb, "before", RELOAD_TEXT))
    _, before = c.recv_one()
    assert before.status == before.OK
    assert "qorvandix labs" not in _orgs(before)
    version_before = before.rule_set_version

    (rules / "zz_reload.rules").write_text(RELOAD_RULES, encoding="utf-8")
    d.send_signal(signal.SIGHUP)
    # The reload is asynchronous: ask until the new rules answer.
    deadline = time.monotonic() + 10 * SLOW
    while True:
        c.send(make_doc(pb, "after", RELOAD_TEXT))
        _, after = c.recv_one()
        if "qorvandix labs" in _orgs(after) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "qorvandix labs" in _orgs(after), f"reload did not take effect:\n{d.describe()}"
    check_spans(RELOAD_TEXT, after)
    assert after.rule_set_version and after.rule_set_version != version_before

    # A broken rule set is refused: the log says where, and the previous set keeps serving.
    log_mark = len(d.log())
    (rules / "zz_broken.rules").write_text(BROKEN_RULES, encoding="utf-8")
    d.send_signal(signal.SIGHUP)
    d.wait_log("zz_broken.rules", timeout=10, start=log_mark)
    for n in range(3):
        c.send(make_doc(pb, f"still-{n}", RELOAD_TEXT + " Xi Jinping agreed."))
        _, still = c.recv_one()
        assert still.status == still.OK, still
        assert "qorvandix labs" in _orgs(still)
        assert "Xi Jinping" in people(still)
        assert still.rule_set_version == after.rule_set_version
    assert d.proc.poll() is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_finishes_documents_in_flight_valgrind_safe(sig, start_daemon, client_for, pb):
    d = start_daemon()
    c = client_for(d)
    count = 200
    ids = [f"flight-{i:03d}" for i in range(count)]
    # Under valgrind nerd runs some 30 times slower: short documents keep the test quick; what it
    # checks is the shutdown, not throughput.
    text = "Xi Jinping spoke." if VALGRIND else NEWS_TEXT * 4
    # Send through a context of its own and terminate it, which returns once every document has
    # been written to the daemon's TCP connection; then signal at once.
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, int(30000 * SLOW))
    push.connect(d.in_ep)
    for doc_id in ids:
        push.send(make_doc(pb, doc_id, text))
    push.close()
    ctx.term()
    rc = d.stop(sig, timeout=30)
    assert rc == 0, f"exit code {rc!r} after {sig.name}\n{d.describe()}"
    got = [r.document_id for _, r in c.recv(count, timeout=10)]
    assert sorted(got) == ids


# ---- the CLI clients against a daemon ------------------------------------------------------

def test_nerd_push_to_pyzmq_subscriber(daemon, client_for, pb, tmp_path):
    c = client_for(daemon)
    news = tmp_path / "news.txt"
    news.write_text(NEWS_TEXT, encoding="utf-8")
    jsonl = tmp_path / "docs.jsonl"
    docs = [{"id": "j-2", "text": "Xi Jinping met Daniel Hartley.", "extra": 1},
            {"id": "j-1", "text": NEWS_TEXT}]
    jsonl.write_text("".join(json.dumps(doc) + "\n" for doc in docs), encoding="utf-8")

    p = subprocess.run([NERD, "push", "--to", daemon.in_ep, str(news)], capture_output=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    topic, result = c.recv_one()
    assert_ok(topic, result, result.document_id, NEWS_TEXT)
    assert result.document_id, "nerd push must give a text file an id"
    assert CORE_PEOPLE <= people(result)

    p = subprocess.run([NERD, "push", "--to", daemon.in_ep, "--jsonl", str(jsonl)],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    got = {r.document_id: (t, r) for t, r in c.recv(2)}
    assert set(got) == {"j-1", "j-2"}
    assert_ok(*got["j-1"], "j-1", NEWS_TEXT)
    assert CORE_PEOPLE <= people(got["j-1"][1])
    assert "Xi Jinping" in people(got["j-2"][1])


def _tail_until_line(d, push_frame, topic, timeout=10):
    """Runs `nerd tail --count 1` and keeps pushing push_frame until tail prints its one line
    (the first frames may be published before tail's subscription arrives)."""
    tail = subprocess.Popen([NERD, "tail", "--from", d.out_ep, "--topic", topic, "--count", "1",
                             "--timeout", str(int(timeout * 1000 * SLOW))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(d.in_ep)
    try:
        deadline = time.monotonic() + timeout * SLOW
        while tail.poll() is None and time.monotonic() < deadline:
            push.send(push_frame)
            time.sleep(0.1)
        out, err = tail.communicate(timeout=5 * SLOW)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
        ctx.destroy(linger=0)
    assert tail.returncode == 0, f"nerd tail exit {tail.returncode}: {err.decode()}"
    lines = out.decode("utf-8").splitlines()
    assert len(lines) == 1, f"--count 1 printed {len(lines)} lines: {out!r}"
    return json.loads(lines[0])


def test_nerd_tail_prints_results(daemon, pb):
    obj = _tail_until_line(daemon, make_doc(pb, "tail-1", NEWS_TEXT), "result")
    assert obj["id"] == "tail-1"
    found = {e["text"] for e in obj["entities"] if e["type"] == "PERSON"}
    assert CORE_PEOPLE <= found
    data = NEWS_TEXT.encode("utf-8")
    for e in obj["entities"]:
        assert data[e["start"]:e["end"]].decode("utf-8") == e["text"]


def test_nerd_tail_topic_filter_shows_errors(daemon, pb):
    obj = _tail_until_line(daemon, raw_doc(b"tail-bad", b"\xff\xfe bad"), "error.")
    assert obj.get("id") == "tail-bad"
    assert "utf8" in json.dumps(obj), obj


def test_nerd_tail_times_out(daemon):
    t0 = time.monotonic()
    p = subprocess.run([NERD, "tail", "--from", daemon.out_ep, "--count", "1", "--timeout", "300"],
                       capture_output=True, timeout=30)
    assert time.monotonic() - t0 < 10
    assert p.stdout == b""
    assert p.returncode == 1, "a tail that saw nothing before its timeout should say so"
