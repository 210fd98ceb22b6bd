#!/usr/bin/env bash
# run.sh - `make bench`: every performance figure of nerd in one run (about two minutes).
#
#   bench/run.sh BUILD_DIR CORPUS.jsonl
#
# 1. build/bench/synth/{10k,100k,1m}: the default rule set plus a synthetic gazetteer of that many
#    extra ORG entries (made-up three-word names), for the rule-scaling figures;
# 2. nerd_bench: engine alone, one thread: MB/s, per stage, the reference pass (one PCRE2 JIT
#    search for capitalised words, the yardstick of the speed target), size scaling, rule
#    scaling, load time;
# 3. `nerd extract --jsonl` over the corpus, start-up included (the figure issue 5 counts);
# 4. daemon_bench.py: the daemon end to end on loopback (throughput by threads, latency, RSS),
#    and its rate per thread against the engine's, measured right before.
# Every figure is one JSON object in BUILD_DIR/bench/results.jsonl; a table is printed.
set -euo pipefail
build=$1
corpus=$2
top=$(cd "$(dirname "$0")/.." && pwd)
out=$build/bench
mkdir -p "$out/synth"
results=$out/results.jsonl
: > "$results"

if [ ! -f "$corpus" ]; then
    echo "bench: corpus $corpus not found (it lives in ../shared/bench/)" >&2
    exit 1
fi

make_synth() {  # DIR ENTRIES
    local dir=$1 n=$2
    if [ -f "$dir/.entries" ] && [ "$(cat "$dir/.entries")" = "$n" ] &&
       [ -z "$(find "$top/rules/en" -newer "$dir/.entries" -print -quit)" ]; then
        return
    fi
    rm -rf "$dir"
    cp -r "$top/rules/en" "$dir"
    /usr/bin/python3 - "$dir/zz-synthetic.gaz" "$n" <<'PY'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
syll = ["ka", "lo", "mer", "vin", "tra", "sel", "dor", "qui", "zen", "bar", "pol", "nix", "ru", "tam"]
def word():
    return "".join(rnd.choice(syll) for _ in range(rnd.randint(2, 3))).capitalize()
with open(path, "w") as f:
    f.write("# synthetic entries for the rule-scaling benchmark\n")
    for i in range(n):
        f.write("%s %s %s Holdings | %s%d\n" % (word(), word(), word(), word().upper(), i))
PY
    printf 'phase names\ngazetteer ORG zz-synthetic.gaz name=synthetic\n' > "$dir/zz-synthetic.rules"
    echo "$n" > "$dir/.entries"
}
make_synth "$out/synth/10k" 10000
make_synth "$out/synth/100k" 100000
make_synth "$out/synth/1m" 1000000

echo "== engine, one thread (bench/nerd_bench)" >&2
"$build/nerd_bench" "$top/rules/en" "$corpus" "$out/synth" | tee -a "$results"

echo "== nerd extract --jsonl over the corpus, start-up included" >&2
bytes=$(/usr/bin/python3 -c 'import json,sys; print(sum(len(json.loads(l)["text"].encode()) for l in open(sys.argv[1])))' "$corpus")
t0=$(date +%s.%N)
"$build/nerd" extract --jsonl "$corpus" > "$out/extract.jsonl"
t1=$(date +%s.%N)
/usr/bin/python3 -c 'import json,sys; s=float(sys.argv[2])-float(sys.argv[1]); b=int(sys.argv[3]); print(json.dumps({"figure":"extract_cli","seconds":round(s,3),"mb":round(b/1e6,3),"mb_per_s":round(b/1e6/s,2)}))' "$t0" "$t1" "$bytes" | tee -a "$results"

echo "== daemon end to end on loopback (bench/daemon_bench.py)" >&2
# It also measures the engine (nerd_bench --engine-only) right before each throughput run and
# prints the daemon's rate per worker thread against it (issue target: at least 0.8): the two
# are then taken at the same speed of this noisy machine.
/usr/bin/python3 "$top/bench/daemon_bench.py" --nerd "$build/nerd" --nerd-bench "$build/nerd_bench" \
    --repo "$top" --corpus "$corpus" | tee -a "$results"

echo >&2
/usr/bin/python3 "$top/bench/table.py" "$results"
