#!/usr/bin/python3
"""table.py - prints bench/run.sh's JSON figures (one object a line) as a readable table."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
for r in rows:
    fig = r.pop("figure")
    print("%-20s %s" % (fig, "  ".join("%s=%s" % kv for kv in r.items())))
