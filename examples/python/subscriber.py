#!/usr/bin/env python3
"""Prints what a nerd daemon finds: the smallest useful consumer, in plain pyzmq + protobuf.

It subscribes to the daemon's PUB socket (--out).  Every message there has two frames: the
topic, then a serialised nerd.v1.Result.  The topic says what happened, so a consumer can
choose with ZeroMQ's prefix subscriptions alone, before decoding anything:

    result             the document was processed; the Result holds entities and relations
    error.<code>       it was not (error.decode, error.utf8, error.too_big, error.timeout, ...)

    ./subscriber.py                         # everything
    ./subscriber.py --topic result          # results only
    ./subscriber.py --topic error.          # every error, whatever its code
    ./subscriber.py --count 1 --json        # one result as a JSON line, then exit
"""

import argparse
import json
import sys
import time

import zmq

import nerd_proto


def parse_args():
    parser = argparse.ArgumentParser(
        description="Subscribe to a nerd daemon's results and print them.")
    parser.add_argument("--from", dest="source", default="tcp://127.0.0.1:5556",
                        metavar="ENDPOINT",
                        help="the daemon's --out endpoint (default %(default)s; '@ep' binds, "
                             "e.g. to collect from several daemons)")
    parser.add_argument("--topic", action="append", metavar="PREFIX",
                        help="only topics starting with PREFIX (may be repeated; default: all)")
    parser.add_argument("--count", type=int, default=0, metavar="N",
                        help="exit after N results (default: never)")
    parser.add_argument("--timeout", type=float, default=0, metavar="SECONDS",
                        help="exit after this long in all, status 1 if fewer than --count "
                             "came (default: never)")
    parser.add_argument("--json", action="store_true",
                        help="print each result as one JSON line instead of a readable block")
    nerd_proto.add_curve_arguments(parser)
    nerd_proto.add_arguments(parser)
    return parser.parse_args()


def span_of(arg):
    """An argument's text: its span when it has one, else (known from context) its canonical."""
    return arg.span.text if arg.HasField("span") else f"({arg.canonical})"


def as_dict(topic, result):
    """A JSON-friendly view of a Result, shaped like the lines of `nerd tail`."""
    out = {"topic": topic, "id": result.document_id,
           "status": "ok" if result.status == result.OK else "error"}
    if result.status != result.OK:
        out.update(error=result.error, error_code=result.error_code)
    out["entities"] = [{"type": e.type, "start": e.start, "end": e.end, "text": e.text,
                        "canonical": e.canonical, "rule": e.rule} for e in result.entities]
    out["relations"] = [{"type": r.type, "args": {a.role: span_of(a) for a in r.args},
                         "attrs": {kv.key: kv.value for kv in r.attrs}, "rule": r.rule}
                        for r in result.relations]
    out["metadata"] = {kv.key: kv.value for kv in result.metadata}
    out["rule_set_version"] = result.rule_set_version
    out["processing_us"] = result.processing_us
    return out


def show(topic, result):
    """A readable block: one line per entity and per relation."""
    if topic.startswith("error."):
        code = topic[len("error."):]          # the same as result.error_code
        print(f"{topic}  {result.document_id or '(no id)'}: {result.error} [{code}]")
        return
    print(f"{topic}  {result.document_id}  ({len(result.entities)} entities, "
          f"{len(result.relations)} relations, {result.processing_us} us)")
    for e in result.entities:
        canonical = f"  = {e.canonical}" if e.canonical and e.canonical != e.text else ""
        print(f"  {e.type:<8} {e.text}{canonical}  [{e.start}:{e.end}]")
    for r in result.relations:
        args = ", ".join(f"{a.role}={span_of(a)}" for a in r.args)
        attrs = "".join(f" {kv.key}={kv.value}" for kv in r.attrs)
        print(f"  {r.type}: {args}{attrs}")


def main():
    args = parse_args()
    pb = nerd_proto.load(args.pb_dir, args.proto)

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    for prefix in args.topic or [""]:
        sub.setsockopt(zmq.SUBSCRIBE, prefix.encode("utf-8"))
    nerd_proto.secure(sub, args)
    nerd_proto.attach(sub, args.source)
    print(f"subscriber: listening on {args.source} for topics "
          f"{', '.join(repr(t) for t in args.topic or [''])}", file=sys.stderr, flush=True)

    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    received = 0
    try:
        while args.count == 0 or received < args.count:
            wait_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not sub.poll(wait_ms):
                print(f"subscriber: {received} of {args.count or 'any'} results within "
                      f"{args.timeout} s", file=sys.stderr)
                return 1 if received < args.count else 0
            topic, payload = sub.recv_multipart()
            result = pb.Result.FromString(payload)
            topic = topic.decode("utf-8")
            if args.json:
                print(json.dumps(as_dict(topic, result), ensure_ascii=False))
            else:
                show(topic, result)
            sys.stdout.flush()
            received += 1
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
