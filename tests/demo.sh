#!/usr/bin/env bash
# demo.sh BIN ARTICLE - the daemon end to end on its built-in defaults (make demo).
#
# Starts `BIN serve` (PULL on tcp://127.0.0.1:5555, PUB on tcp://127.0.0.1:5556), subscribes with
# `BIN tail`, sends ARTICLE with `BIN push`, and prints what came back: the entities by type and
# the relations.  Exits non-zero when no result arrives.  Everything it started is stopped on exit.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 BIN ARTICLE" >&2
    exit 2
fi
BIN=$1
ARTICLE=$2
PYTHON=${PYTHON:-/usr/bin/python3}

if [ ! -x "$BIN" ]; then echo "demo: $BIN is not built (run make)" >&2; exit 1; fi
if [ ! -r "$ARTICLE" ]; then echo "demo: cannot read $ARTICLE" >&2; exit 1; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nerd-demo.XXXXXX")
serve_pid=""
tail_pid=""

cleanup() {
    if [ -n "$tail_pid" ] && kill -0 "$tail_pid" 2>/dev/null; then
        kill "$tail_pid" 2>/dev/null
        wait "$tail_pid" 2>/dev/null
    fi
    if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
        kill -TERM "$serve_pid" 2>/dev/null
        wait "$serve_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting: $BIN serve (in tcp://127.0.0.1:5555, out tcp://127.0.0.1:5556)"
# The daemon will not run as root unless told to: a demo on a fresh machine often is root.
as_root=""
[ "$(id -u)" = 0 ] && as_root=--allow-root
"$BIN" serve $as_root 2>"$work/serve.log" &
serve_pid=$!

ready=""
for _ in $(seq 100); do
    if grep -q ready "$work/serve.log" 2>/dev/null; then ready=1; break; fi
    if ! kill -0 "$serve_pid" 2>/dev/null; then break; fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    echo "demo: the daemon did not become ready; its log:" >&2
    cat "$work/serve.log" >&2
    exit 1
fi
sed 's/^/   serve: /' "$work/serve.log"

"$BIN" tail --count 1 --timeout 10000 >"$work/result.jsonl" 2>"$work/tail.log" &
tail_pid=$!
sleep 0.5   # let the subscription reach the daemon: a PUB drops what nobody has subscribed to yet

echo "== sending: $BIN push $ARTICLE"
if ! "$BIN" push "$ARTICLE"; then
    echo "demo: nerd push failed" >&2
    exit 1
fi

wait "$tail_pid"
tail_rc=$?
tail_pid=""
if [ ! -s "$work/result.jsonl" ]; then
    echo "demo: no result came back (nerd tail exit $tail_rc)" >&2
    cat "$work/tail.log" "$work/serve.log" >&2
    exit 1
fi

echo "== result"
"$PYTHON" - "$work/result.jsonl" <<'PY' || exit 1
import json, sys, textwrap
from collections import defaultdict

with open(sys.argv[1], encoding="utf-8") as f:
    result = json.loads(f.readline())
print(f"document: {result.get('id', '?')}")
if result.get("error"):
    print(f"error: {result['error']}")
    sys.exit(1)
by_type = defaultdict(list)
for e in result.get("entities", []):
    name = e.get("canonical") or e["text"]
    if name not in by_type[e["type"]]:
        by_type[e["type"]].append(name)
print(f"entities: {len(result.get('entities', []))}")
for etype in sorted(by_type):
    print(textwrap.fill("; ".join(by_type[etype]), width=100, initial_indent=f"  {etype:8}",
                        subsequent_indent=" " * 10))
relations = result.get("relations", [])
print(f"relations: {len(relations)}")
for r in relations:
    parts = []
    for role, arg in r.get("args", {}).items():
        text = arg.get("text", "")
        if len(text) > 60:
            text = text[:57] + "..."
        canonical = arg.get("canonical")
        if canonical and canonical != text:
            # a pronoun or short name resolved, or a speaker known only from context
            shown = f"{text!r} [{canonical}]" if text else f"[{canonical}]"
        else:
            shown = repr(text)
        parts.append(f"{role}={shown}")
    print(f"  {r['type']:11} " + ", ".join(parts))
PY

echo "== stopping the daemon (SIGTERM)"
kill -TERM "$serve_pid"
wait "$serve_pid"
serve_rc=$?
serve_pid=""
if [ "$serve_rc" -ne 0 ]; then
    echo "demo: the daemon exited with $serve_rc" >&2
    exit 1
fi
echo "== done"
