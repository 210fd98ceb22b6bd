"""The example clients of examples/python run against the real daemon.

subscriber.py and pusher.py are what we tell users to start from, so they are run exactly as a
user would: as programs, with /usr/bin/python3, generating their protobuf module themselves
(subscriber.py into a temporary directory, pusher.py into --pb-dir).  The subscriber must print
the entities of our own sentence, and the topic scheme must let it pick out errors.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import NERD, REPO, SLOW


EXAMPLES = REPO / "examples" / "python"
PYTHON = "/usr/bin/python3"

SENTENCE = ("Maria Okonkwo, a senior economist at the World Bank, said on Friday that "
            "Xi Jinping would visit Kenya in March.")


def start_subscriber(daemon, *args):
    """subscriber.py on the daemon's output, once it says it is listening (args are its
    options)."""
    proc = subprocess.Popen([PYTHON, str(EXAMPLES / "subscriber.py"), "--from", daemon.out_ep,
                             "--count", "1", "--timeout", str(20 * SLOW), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=EXAMPLES)
    first = proc.stderr.readline()
    if "listening" not in first:
        proc.kill()
        pytest.fail(f"subscriber.py did not start: {first}{proc.communicate()[1]}")
    return proc


def push_until_received(daemon, subscriber, pb_dir, *args, timeout=15):
    """Runs pusher.py again and again until the subscriber has its result and exits: a PUB
    socket drops what it publishes before the subscription has reached it, and the subscriber
    cannot tell when that is."""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        pushed = subprocess.run([PYTHON, str(EXAMPLES / "pusher.py"), "--to", daemon.in_ep,
                                 "--pb-dir", str(pb_dir), "--timeout", "5", *args],
                                capture_output=True, text=True, timeout=30 * SLOW)
        assert pushed.returncode == 0, pushed.stderr
        assert "sent 1 document" in pushed.stderr
        try:
            out, err = subscriber.communicate(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue
        assert subscriber.returncode == 0, err
        return out
    subscriber.kill()
    out, err = subscriber.communicate()
    pytest.fail(f"subscriber.py printed nothing within {timeout}s\nstdout: {out}\nstderr: {err}\n"
                f"{daemon.describe()}")


def test_examples_help():
    for script in ("pusher.py", "subscriber.py"):
        done = subprocess.run([PYTHON, str(EXAMPLES / script), "--help"], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert "--pb-dir" in done.stdout and "usage:" in done.stdout


def test_example_clients_json(start_daemon, tmp_path):
    d = start_daemon(threads=1)
    sub = start_subscriber(d, "--topic", "result", "--json")
    out = push_until_received(d, sub, tmp_path / "pb", "--id", "example-1", "--meta",
                              "source=test", "--text", SENTENCE)
    assert (tmp_path / "pb" / "nerd_pb2.py").is_file()   # --pb-dir: generated there
    line = json.loads(out.strip().splitlines()[-1])
    assert line["topic"] == "result" and line["status"] == "ok"
    assert line["id"] == "example-1"
    assert line["metadata"] == {"source": "test"}
    found = {(e["type"], e["text"]) for e in line["entities"]}
    assert {("PERSON", "Maria Okonkwo"), ("PERSON", "Xi Jinping"), ("ORG", "World Bank"),
            ("LOC", "Kenya")} <= found, found
    data = SENTENCE.encode("utf-8")
    for e in line["entities"]:
        assert data[e["start"]:e["end"]].decode("utf-8") == e["text"]
    assert "affiliation" in {r["type"] for r in line["relations"]}


def test_example_clients_readable(start_daemon, tmp_path):
    d = start_daemon(threads=1)
    sub = start_subscriber(d)
    out = push_until_received(d, sub, tmp_path / "pb", "--id", "example-2", "--text", SENTENCE)
    assert out.startswith("result  example-2"), out
    assert "PERSON   Maria Okonkwo  [0:13]" in out, out
    assert "affiliation: person=Maria Okonkwo, role=senior economist, org=World Bank" in out, out


def test_example_subscriber_error_topic(start_daemon, tmp_path):
    """Subscribed to "error." only, the subscriber skips results and shows the error."""
    d = start_daemon(threads=1, extra=("--max-bytes", "40"))
    sub = start_subscriber(d, "--topic", "error.")
    out = push_until_received(d, sub, tmp_path / "pb", "--id", "long-1", "--text", SENTENCE)
    assert out.startswith("error.too_big  long-1: "), out
    assert out.rstrip().endswith("[too_big]"), out


def test_example_clients_with_curve(start_daemon, tmp_path):
    """With keys made by `nerd keygen`, the examples talk CurveZMQ to a daemon that admits only
    the client key in its --curve-allow directory."""
    allow = tmp_path / "clients"
    allow.mkdir()
    for name in ("server.key", "client.key"):
        made = subprocess.run([NERD, "keygen", str(tmp_path / name)], capture_output=True,
                              text=True, timeout=30)
        if made.returncode != 0 and "unknown command" in made.stderr:
            pytest.skip("this nerd has no keygen yet")
        assert made.returncode == 0, made.stderr
    shutil.copy(tmp_path / "client.key", allow / "client.key")   # the public key only
    d = start_daemon(threads=1, extra=("--curve-secret", str(tmp_path / "server.key_secret"),
                                       "--curve-allow", str(allow)))
    curve = ("--curve-server", str(tmp_path / "server.key"),
             "--curve-key", str(tmp_path / "client.key_secret"))
    sub = start_subscriber(d, "--json", *curve)
    out = push_until_received(d, sub, tmp_path / "pb", "--id", "curve-1", "--text", SENTENCE,
                              *curve)
    line = json.loads(out.strip().splitlines()[-1])
    assert line["id"] == "curve-1"
    assert ("PERSON", "Maria Okonkwo") in {(e["type"], e["text"]) for e in line["entities"]}
