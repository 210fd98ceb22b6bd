"""Loads nerd_pb2, the Python code protoc generates from nerd.proto, for the example clients.

pusher.py and subscriber.py need the message classes of nerd's wire format (package nerd.v1).
Rather than commit generated code, they ask this module, which:

  1. imports nerd_pb2 from --pb-dir if one was given (generating it there first if it is missing),
  2. else imports it if it is already importable (on PYTHONPATH, or next to the scripts),
  3. else runs `protoc --python_out` on nerd.proto into a temporary directory removed at exit.

nerd.proto is looked for at --proto, $NERD_PROTO, ../../proto/nerd.proto (the source tree),
then the installed copies under /usr/local/share/nerd/proto and /usr/share/nerd/proto.

It also holds what both clients share about sockets: nerd's "@bind" / ">connect" endpoint
convention, and CurveZMQ for a daemon started with --curve-secret (keys made by `nerd keygen`).
"""

import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO_CANDIDATES = [
    HERE.parent.parent / "proto" / "nerd.proto",
    Path("/usr/local/share/nerd/proto/nerd.proto"),
    Path("/usr/share/nerd/proto/nerd.proto"),
]


def find_proto(explicit=None):
    """The nerd.proto to generate from: explicit, else $NERD_PROTO, else the first that exists."""
    for candidate in [explicit, os.environ.get("NERD_PROTO"), *PROTO_CANDIDATES]:
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    sys.exit("cannot find nerd.proto: give --proto FILE or set NERD_PROTO "
             "(`make install` puts it in $(PREFIX)/share/nerd/proto/nerd.proto)")


def generate(proto, out_dir):
    """Runs protoc to write nerd_pb2.py into out_dir."""
    if shutil.which("protoc") is None:
        sys.exit("protoc not found: install it (Debian: apt-get install protobuf-compiler)")
    cmd = ["protoc", f"--python_out={out_dir}", f"--proto_path={proto.parent}", proto.name]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")


def _import_from(directory):
    sys.path.insert(0, str(directory))
    return importlib.import_module("nerd_pb2")


def load(pb_dir=None, proto=None):
    """Returns the nerd_pb2 module (see the top of this file for where it comes from)."""
    if pb_dir:
        pb_dir = Path(pb_dir)
        if not (pb_dir / "nerd_pb2.py").is_file():
            pb_dir.mkdir(parents=True, exist_ok=True)
            generate(find_proto(proto), pb_dir)
        return _import_from(pb_dir)
    if proto is None:
        try:
            return importlib.import_module("nerd_pb2")
        except ImportError:
            pass
    tmp = tempfile.mkdtemp(prefix="nerd-pb2-")
    atexit.register(shutil.rmtree, tmp, True)
    generate(find_proto(proto), tmp)
    return _import_from(tmp)


def add_arguments(parser):
    """The options every example takes to locate the generated code."""
    parser.add_argument("--pb-dir", metavar="DIR",
                        help="import nerd_pb2 from DIR (generated there first if missing); "
                             "default: generate it into a temporary directory")
    parser.add_argument("--proto", metavar="FILE",
                        help="nerd.proto to generate from (default: $NERD_PROTO, the source "
                             "tree's proto/, then $(PREFIX)/share/nerd/proto)")


def add_curve_arguments(parser):
    """The options for talking to a daemon that runs CurveZMQ (nerd serve --curve-secret)."""
    parser.add_argument("--curve-server", metavar="FILE",
                        help="encrypt with CurveZMQ: the daemon's public key file (the FILE of "
                             "`nerd keygen FILE` whose FILE_secret the daemon uses)")
    parser.add_argument("--curve-key", metavar="FILE_secret",
                        help="with --curve-server: this client's key pair, the FILE_secret of "
                             "`nerd keygen FILE` (put FILE in the daemon's --curve-allow "
                             "directory); default: a new throw-away pair")


def secure(socket, args):
    """Makes socket a CurveZMQ client when --curve-server was given (before it connects)."""
    if not args.curve_server:
        if args.curve_key:
            sys.exit("--curve-key needs --curve-server")
        return
    # The certificate format of `nerd keygen` is ZeroMQ's own (czmq's), which pyzmq reads.
    from zmq.auth.certs import load_certificate
    import zmq

    server_public, _ = load_certificate(args.curve_server)
    if args.curve_key:
        public, secret = load_certificate(args.curve_key)
        if secret is None:
            sys.exit(f"{args.curve_key} holds no secret key: give the FILE_secret of nerd keygen")
    else:
        public, secret = zmq.curve_keypair()
    socket.curve_serverkey = server_public
    socket.curve_publickey = public
    socket.curve_secretkey = secret


def attach(socket, endpoint):
    """Binds or connects like nerd itself: "@ep" binds, ">ep" or a bare "ep" connects."""
    for ep in endpoint.split(","):
        if ep.startswith("@"):
            socket.bind(ep[1:])
        else:
            socket.connect(ep[1:] if ep.startswith(">") else ep)
