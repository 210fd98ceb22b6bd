"""The nerd command without a daemon: `nerd extract` (the JSON of ../shared/eval/README.md),
`nerd rules check|test`, `--help` everywhere, and how bad options and bad configuration end."""

import json
import os
import re
import socket

import pytest

from conftest import (CORE_PEOPLE, NEWS_PEOPLE, NEWS_TEXT, RULES_EN, SEED_PEOPLE, SHARED,
                      free_ports, run_nerd)

GOLD_SEED = SHARED / "eval" / "seed" / "gold.jsonl"

TINY_RULES = """\
# A one-list rule set for the tests.
list ORG name=tiny
  qorvandix labs | qorvandix
end
test: "Engineers at qorvandix labs agreed." => ORG "qorvandix labs"
"""


def parse_lines(out):
    lines = out.decode("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def check_output_doc(obj, text):
    """One line of `nerd extract`: the keys of the eval README, byte offsets into text."""
    assert isinstance(obj["id"], str)
    assert isinstance(obj["entities"], list) and isinstance(obj["relations"], list)
    data = text.encode("utf-8")
    for e in obj["entities"]:
        assert {"type", "start", "end", "text", "canonical", "rule"} <= set(e), e
        assert data[e["start"]:e["end"]].decode("utf-8") == e["text"], e
        assert e["rule"], e
    for r in obj["relations"]:
        assert r["type"] and r["rule"] and isinstance(r["args"], dict), r
        for role, arg in r["args"].items():
            if "start" in arg:
                assert data[arg["start"]:arg["end"]].decode("utf-8") == arg["text"], (role, arg)
            else:
                assert arg.get("canonical"), (role, arg)
        for key, value in r.get("attrs", {}).items():
            assert isinstance(value, str), (key, value)


def persons(obj):
    return {e["text"] for e in obj["entities"] if e["type"] == "PERSON"}


# ---- extract -------------------------------------------------------------------------------

def test_extract_text_file(tmp_path):
    news = tmp_path / "news.txt"
    news.write_text(NEWS_TEXT, encoding="utf-8")
    p = run_nerd("extract", "--rules", RULES_EN, news)
    assert p.returncode == 0, p.stderr.decode()
    docs = parse_lines(p.stdout)
    assert len(docs) == 1
    check_output_doc(docs[0], NEWS_TEXT)
    assert docs[0]["id"], "a text file's document needs an id"
    assert set(NEWS_PEOPLE) <= persons(docs[0])


def test_extract_text_files_keep_order(tmp_path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text(NEWS_TEXT, encoding="utf-8")
    b.write_text("Xi Jinping did not attend.\n", encoding="utf-8")
    p = run_nerd("extract", "--rules", RULES_EN, b, a)
    assert p.returncode == 0, p.stderr.decode()
    docs = parse_lines(p.stdout)
    assert len(docs) == 2 and docs[0]["id"] != docs[1]["id"]
    check_output_doc(docs[0], "Xi Jinping did not attend.\n")
    check_output_doc(docs[1], NEWS_TEXT)
    assert persons(docs[0]) == {"Xi Jinping"}


def test_extract_jsonl_keeps_ids_and_order(tmp_path):
    docs_in = [
        {"id": "z-last-name-first", "text": "Xi Jinping spoke."},
        {"id": "a-news", "text": NEWS_TEXT, "source": "ignored",
         # gold keys in the input are ignored, never echoed
         "entities": [{"type": "PERSON", "start": 0, "end": 4, "text": "Beij"}]},
        {"id": "m-empty", "text": ""},
        {"id": "k-unicode", "text": "“Quoted,” said Chen Mei-ling, a professor at the "
                                    "University of Leeds."},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs_in),
                   encoding="utf-8")
    p = run_nerd("extract", "--jsonl", "--rules", RULES_EN, src)
    assert p.returncode == 0, p.stderr.decode()
    docs = parse_lines(p.stdout)
    assert [d["id"] for d in docs] == [d["id"] for d in docs_in]
    for d_out, d_in in zip(docs, docs_in):
        check_output_doc(d_out, d_in["text"])
    assert persons(docs[0]) == {"Xi Jinping"}
    assert CORE_PEOPLE <= persons(docs[1])
    assert "Beij" not in {e["text"] for e in docs[1]["entities"]}
    assert docs[2]["entities"] == []
    assert persons(docs[3]), "the quoted sentence names a person"


def test_extract_threads_keep_input_order(tmp_path):
    # more documents than a batch holds, of very different sizes, so that threads finish out of
    # order; every thread count must print the same lines in the same order
    texts = [NEWS_TEXT * (1 + k % 7) if k % 3 else "Xi Jinping spoke in Geneva." for k in range(600)]
    src = tmp_path / "many.jsonl"
    src.write_text("".join(json.dumps({"id": "d%d" % k, "text": t}) + "\n"
                           for k, t in enumerate(texts)) + "not json\n", encoding="utf-8")
    outputs = []
    for threads in ("1", "3"):
        p = run_nerd("extract", "--jsonl", "--threads", threads, "--rules", RULES_EN, src)
        assert p.returncode == 1, "the bad line makes the run fail"
        outputs.append(p.stdout)
    assert outputs[0] == outputs[1]
    docs = parse_lines(outputs[0])
    assert [d["id"] for d in docs[:600]] == ["d%d" % k for k in range(600)]
    assert docs[600]["error_code"] == "json"
    assert persons(docs[0]) == {"Xi Jinping"}


def test_extract_threads_rejects_zero(tmp_path):
    p = run_nerd("extract", "--threads", "0", "--rules", RULES_EN, tmp_path / "none.txt")
    assert p.returncode == 2
    assert b"--threads" in p.stderr


def test_extract_stdin():
    p = run_nerd("extract", "--rules", RULES_EN, input=NEWS_TEXT.encode("utf-8"))
    assert p.returncode == 0, p.stderr.decode()
    docs = parse_lines(p.stdout)
    assert len(docs) == 1
    check_output_doc(docs[0], NEWS_TEXT)
    assert CORE_PEOPLE <= persons(docs[0])

    lines = "".join(json.dumps({"id": f"s{n}", "text": f"Xi Jinping spoke {n} times."}) + "\n"
                    for n in range(5))
    p = run_nerd("extract", "--jsonl", "--rules", RULES_EN, input=lines.encode())
    assert p.returncode == 0, p.stderr.decode()
    assert [d["id"] for d in parse_lines(p.stdout)] == [f"s{n}" for n in range(5)]


def test_extract_seed_gold():
    if not GOLD_SEED.is_file():
        pytest.skip(f"{GOLD_SEED} not present")
    p = run_nerd("extract", "--jsonl", "--rules", RULES_EN, GOLD_SEED)
    assert p.returncode == 0, p.stderr.decode()
    docs = parse_lines(p.stdout)
    gold = [json.loads(line) for line in GOLD_SEED.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    assert [d["id"] for d in docs] == [g["id"] for g in gold]
    check_output_doc(docs[0], gold[0]["text"])
    assert set(SEED_PEOPLE) <= persons(docs[0])


def test_rules_choice_flag_env_default(tmp_path):
    """--rules, else $NERD_RULES, else <exe dir>/../rules/en."""
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "tiny.rules").write_text(TINY_RULES, encoding="utf-8")
    text = b"Engineers at qorvandix labs met Xi Jinping."
    env = {k: v for k, v in os.environ.items() if k != "NERD_RULES"}

    p = run_nerd("extract", input=text, env=env)
    assert p.returncode == 0, p.stderr.decode()
    default = parse_lines(p.stdout)[0]
    assert "Xi Jinping" in persons(default)

    p = run_nerd("extract", input=text, env={**env, "NERD_RULES": str(tiny)})
    assert p.returncode == 0, p.stderr.decode()
    from_env = parse_lines(p.stdout)[0]
    assert [(e["type"], e["text"]) for e in from_env["entities"]] == [("ORG", "qorvandix labs")]

    p = run_nerd("extract", "--rules", RULES_EN, input=text, env={**env, "NERD_RULES": str(tiny)})
    assert p.returncode == 0, p.stderr.decode()
    assert "Xi Jinping" in persons(parse_lines(p.stdout)[0])


def test_extract_missing_rules_dir_fails(tmp_path):
    p = run_nerd("extract", "--rules", tmp_path / "no-such-dir", input=b"Xi Jinping spoke.")
    assert p.returncode != 0
    assert p.stdout == b""
    assert b"no-such-dir" in p.stderr


# ---- rules check / test --------------------------------------------------------------------

def test_rules_check_default_pack():
    p = run_nerd("rules", "check", RULES_EN)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()


def test_rules_check_reports_file_line_col(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.rules").write_text(
        "# fine so far\n"
        "define CAP = \\p{Lu}\\p{Ll}+\n"
        "entity PERSON unclosed : (?<span>@CAP(\n"
        "\n"
        "entity PERSON undefined : @NO_SUCH_MACRO\\s+@CAP\n",
        encoding="utf-8")
    p = run_nerd("rules", "check", bad)
    out = (p.stdout + p.stderr).decode()
    assert p.returncode != 0, out
    assert re.search(r"a\.rules:3:\d+:", out), out
    assert re.search(r"a\.rules:5:\d+:", out), out
    assert "NO_SUCH_MACRO" in out, out


def test_rules_check_unknown_keyword(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "k.rules").write_text("list ORG\n  Acme Corp\nend\nentiti PERSON x : Foo\n",
                                 encoding="utf-8")
    p = run_nerd("rules", "check", bad)
    out = (p.stdout + p.stderr).decode()
    assert p.returncode != 0
    assert re.search(r"k\.rules:4:\d+:", out), out


def test_rules_test_passes_and_fails(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "tiny.rules").write_text(TINY_RULES, encoding="utf-8")
    p = run_nerd("rules", "test", good)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()

    (good / "tiny.rules").write_text(
        TINY_RULES + 'test: "Nobody works at acme." => ORG "acme"\n', encoding="utf-8")
    p = run_nerd("rules", "test", good)
    out = (p.stdout + p.stderr).decode()
    assert p.returncode != 0, out
    assert re.search(r"tiny\.rules:6", out), out


def test_rules_profile_lists_costly_rules(tmp_path):
    src = tmp_path / "news.jsonl"
    src.write_text("".join(json.dumps({"id": "n%d" % k, "text": NEWS_TEXT}) + "\n"
                           for k in range(5)), encoding="utf-8")
    p = run_nerd("rules", "profile", "--jsonl", "--top", "5", RULES_EN, src)
    assert p.returncode == 0, p.stderr.decode()
    lines = p.stdout.decode().splitlines()
    assert "5 documents (0 failed)" in lines[0]
    rows = lines[2:]
    assert len(rows) == 5
    ms = [float(r.split()[0]) for r in rows]
    assert ms == sorted(ms, reverse=True), "most expensive first"
    assert all(re.search(r"en/\d\d-\w+\.rules:\d+ \S+$", r) for r in rows), rows
    p = run_nerd("rules", "profile", RULES_EN)
    assert p.returncode == 2 and b"FILE" in p.stderr


def test_rules_test_default_pack():
    p = run_nerd("rules", "test", RULES_EN)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()


# ---- help and options ----------------------------------------------------------------------

HELP = {
    (): ["serve", "extract", "push", "tail", "rules"],
    ("serve",): ["--in", "--out", "--reply", "--threads", "--rules", "--max-bytes", "--quiet",
                 "--verbose"],
    ("extract",): ["--jsonl", "--rules"],
    ("push",): ["--to", "--jsonl"],
    ("tail",): ["--from", "--topic", "--count", "--timeout"],
    ("rules",): ["check", "test"],
}


@pytest.mark.parametrize("cmd", list(HELP), ids=lambda c: " ".join(c) or "nerd")
def test_help(cmd):
    p = run_nerd(*cmd, "--help")
    assert p.returncode == 0, p.stderr.decode()
    text = p.stdout.decode()
    for word in HELP[cmd]:
        assert word in text, f"`nerd {' '.join(cmd)} --help` does not mention {word}:\n{text}"


@pytest.mark.parametrize("cmd", [(), ("serve",), ("extract",), ("push",), ("tail",)],
                         ids=lambda c: " ".join(c) or "nerd")
def test_unknown_option_exits_2(cmd):
    p = run_nerd(*cmd, "--no-such-option", timeout=10)
    assert p.returncode == 2, (p.returncode, p.stderr.decode())
    assert p.stderr, "a usage error should say what is wrong"


def test_unknown_command_fails():
    p = run_nerd("frobnicate", timeout=10)
    assert p.returncode != 0
    assert p.stderr


# ---- serve refuses configurations that cannot work -----------------------------------------

def test_serve_bad_rules_dir_exits_non_zero(tmp_path):
    p = run_nerd("serve", "--in", "@tcp://127.0.0.1:0", "--out", "@tcp://127.0.0.1:0",
                 "--rules", tmp_path / "nowhere", timeout=20)
    assert p.returncode not in (0, None)
    assert b"nowhere" in p.stderr


def test_serve_port_in_use_exits_non_zero():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        port = s.getsockname()[1]
        p = run_nerd("serve", "--in", f"@tcp://127.0.0.1:{port}", "--out",
                     "@tcp://127.0.0.1:0", "--rules", RULES_EN, timeout=20)
    finally:
        s.close()
    assert p.returncode not in (0, None)
    assert str(port).encode() in p.stderr, p.stderr.decode()


def test_push_without_daemon_times_out(tmp_path):
    news = tmp_path / "news.txt"
    news.write_text("Xi Jinping spoke.", encoding="utf-8")
    port = free_ports(1)[0]
    p = run_nerd("push", "--to", f"tcp://127.0.0.1:{port}", "--timeout", "500", news, timeout=20)
    assert p.returncode == 1, (p.returncode, p.stderr.decode())
    assert p.stderr
