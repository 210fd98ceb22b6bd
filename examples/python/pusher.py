#!/usr/bin/env python3
"""Sends documents to a nerd daemon: the smallest useful producer, in plain pyzmq + protobuf.

Each text becomes one nerd.v1.Document, serialised with Google's protobuf runtime and sent as one
ZeroMQ frame on a PUSH socket connected to the daemon's --in endpoint.  The results come out of
the daemon's PUB socket: run subscriber.py (or `nerd tail`) first, since a PUB socket drops what
it publishes before anybody subscribes.

    ./pusher.py --text "Xi Jinping spoke in Beijing on Monday."
    ./pusher.py article.txt other.txt            # one document per file, id = the file name
    ./pusher.py --jsonl news.jsonl               # {"id": ..., "text": ...} a line
    echo "Wang He, a professor, said so." | ./pusher.py --id wang-1
"""

import argparse
import json
import sys
from pathlib import Path

import zmq

import nerd_proto


def parse_args():
    parser = argparse.ArgumentParser(
        description="Send documents to a nerd daemon's PULL socket as nerd.v1.Document frames.",
        epilog="With neither FILE nor --text, standard input is one document (id 'stdin').")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="text files, one document each (id = the file name as given); "
                             "'-' is standard input")
    parser.add_argument("--to", default="tcp://127.0.0.1:5555", metavar="ENDPOINT",
                        help="the daemon's --in endpoint (default %(default)s; '@ep' binds)")
    parser.add_argument("--text", action="append", default=[],
                        help="send TEXT as a document (may be repeated)")
    parser.add_argument("--id", help="document id for --text or stdin (default: text-N, stdin)")
    parser.add_argument("--jsonl", action="store_true",
                        help="the FILEs are JSON Lines of {\"id\": ..., \"text\": ...}")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                        help="metadata for every document, echoed in its Result (may be repeated)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="give up when no daemon takes a document for this long "
                             "(default %(default)s)")
    nerd_proto.add_curve_arguments(parser)
    nerd_proto.add_arguments(parser)
    return parser.parse_args()


def read_documents(args):
    """Yields (id, text) pairs from --text, the FILEs, or standard input."""
    for n, text in enumerate(args.text, 1):
        yield (args.id if args.id and len(args.text) == 1 else f"{args.id or 'text'}-{n}"), text
    files = args.files or ([] if args.text else ["-"])
    for name in files:
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as err:
            sys.exit(f"pusher: {err}")
        try:
            # A protobuf string must be UTF-8: Google's runtime refuses to encode anything else.
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            sys.exit(f"pusher: {name}: not valid UTF-8 (byte {err.start})")
        if args.jsonl:
            for line in text.splitlines():
                if line.strip():
                    obj = json.loads(line)
                    yield str(obj["id"]), obj["text"]
        else:
            yield (args.id or "stdin") if name == "-" else name, text


def main():
    args = parse_args()
    pb = nerd_proto.load(args.pb_dir, args.proto)
    metadata = [kv.split("=", 1) for kv in args.meta]
    if any(len(kv) != 2 for kv in metadata):
        sys.exit("--meta takes KEY=VALUE")

    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    # IMMEDIATE: queue only to daemons actually connected, so that with none a send blocks
    # (rather than filling a queue nobody reads); SNDTIMEO turns that block into an error, and
    # LINGER lets the frames still queued leave before close() returns.
    push.setsockopt(zmq.IMMEDIATE, 1)
    push.setsockopt(zmq.SNDTIMEO, int(args.timeout * 1000))
    push.setsockopt(zmq.LINGER, int(args.timeout * 1000))
    nerd_proto.secure(push, args)
    nerd_proto.attach(push, args.to)

    sent = 0
    try:
        for doc_id, text in read_documents(args):
            doc = pb.Document(id=doc_id, text=text)
            for key, value in metadata:
                doc.metadata.add(key=key, value=value)
            push.send(doc.SerializeToString())
            sent += 1
    except zmq.Again:
        sys.exit(f"pusher: no daemon took a document at {args.to} within {args.timeout} s")
    finally:
        push.close()
        ctx.term()
    print(f"pusher: sent {sent} document(s) to {args.to}", file=sys.stderr)


if __name__ == "__main__":
    main()
