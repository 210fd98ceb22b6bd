#!/usr/bin/env bash
# eval.sh BIN EVALDIR - scores `BIN extract` on every gold file under EVALDIR (make eval).
#
# Gold files: EVALDIR/seed/gold.jsonl first, then every other *.jsonl below EVALDIR (the corpora's
# dev.jsonl files).  The system output of each goes to $EVAL_OUT/NAME.jsonl (default build/eval),
# then EVALDIR/score.py compares the two.  Exits non-zero if an extraction or a scoring failed.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 BIN EVALDIR" >&2
    exit 2
fi
BIN=$1
EVALDIR=${2%/}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${EVAL_OUT:-build/eval}

if [ ! -x "$BIN" ]; then echo "eval: $BIN is not built (run make)" >&2; exit 1; fi
if [ ! -f "$EVALDIR/score.py" ]; then echo "eval: no $EVALDIR/score.py" >&2; exit 1; fi
mkdir -p "$OUT"

golds=()
[ -f "$EVALDIR/seed/gold.jsonl" ] && golds+=("$EVALDIR/seed/gold.jsonl")
while IFS= read -r f; do
    [ "$f" = "$EVALDIR/seed/gold.jsonl" ] || golds+=("$f")
done < <(find "$EVALDIR" -name '*.jsonl' -type f | LC_ALL=C sort)

if [ ${#golds[@]} -eq 0 ]; then echo "eval: no gold files under $EVALDIR" >&2; exit 1; fi

status=0
for gold in "${golds[@]}"; do
    rel=${gold#"$EVALDIR"/}
    name=${rel%.jsonl}
    name=${name//\//-}
    docs=$(grep -c . "$gold")
    echo
    echo "==== $name ($rel, $docs documents)"
    start=$(date +%s.%N)
    if ! "$BIN" extract --jsonl "$gold" >"$OUT/$name.jsonl"; then
        echo "eval: nerd extract failed on $gold" >&2
        status=1
        continue
    fi
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "extract: %.2f s\n", e - s }'
    if ! "$PYTHON" "$EVALDIR/score.py" "$gold" "$OUT/$name.jsonl"; then
        echo "eval: scoring failed on $gold" >&2
        status=1
    fi
done
exit $status
