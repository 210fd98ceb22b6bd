"""`make install` and `make uninstall`, into a staging directory (DESTDIR).

An installed nerd must be usable as a program, as a service and as a library: the binary runs
with the installed rules, nerd.pc is valid and gives the flags to build a program against the
installed header and libnerd.a (compiled and run here), the man page renders and covers every
command and option of --help, the systemd unit says what the service needs (and nerd serve keeps
its side: the shipped nerd.conf is accepted, READY=1 reaches $NOTIFY_SOCKET), and
`make uninstall` takes every file away again, except a configuration the operator changed.
"""

import os
import re
import shutil
import socket
import subprocess
import textwrap

import pytest

from conftest import NERD, REPO, SLOW


PREFIX = "/usr/local"

INSTALLED = [
    "bin/nerd",
    "share/nerd/rules/en/00-macros.rules",
    "share/nerd/rules/en/30-names.rules",
    "share/nerd/rules/en/person-surnames.gaz",
    "share/nerd/rules/README.md",
    "share/nerd/proto/nerd.proto",
    "share/man/man1/nerd.1",
    "share/doc/nerd/rules.md",
    "lib/libnerd.a",
    "include/nerd.h",
    "lib/pkgconfig/nerd.pc",
    "lib/systemd/system/nerd.service",
    "etc/nerd/nerd.conf",
    "share/doc/nerd/nerd.conf.example",
]

# Our own sentence, with a name the engine must call a PERSON.
SENTENCE = "Ruth Abernathy, a spokeswoman for the Red Cross, said on Sunday that aid would come."

EMBED_C = textwrap.dedent(r"""
    /* A program embedding the nerd engine: prints each entity of argv[2] with the rules in argv[1]. */
    #include <stdio.h>
    #include <string.h>
    #include <nerd.h>

    int main(int argc, char **argv)
    {
        if (argc != 3)
            return 2;
        char *errors = NULL;
        nerd_rules_t *rules = nerd_rules_load(argv[1], &errors);
        if (rules == NULL) {
            fprintf(stderr, "cannot load %s:\n%s", argv[1], errors ? errors : "");
            return 1;
        }
        nerd_worker_t *worker = nerd_worker_new();
        const nerd_result_t *result = NULL;
        int rc = worker ? nerd_extract(worker, rules, argv[2], strlen(argv[2]), NULL, &result)
                        : NERD_ENOMEM;
        if (rc != 0) {
            fprintf(stderr, "nerd_extract: %s\n", nerd_strerror(rc));
        } else {
            printf("version %s rules %s\n", NERD_VERSION, nerd_rules_version(rules));
            for (size_t i = 0; i < result->entity_count; i++)
                printf("%s\t%s\t%u\t%u\n", result->entities[i].type, result->entities[i].text,
                       result->entities[i].start, result->entities[i].end);
        }
        nerd_worker_destroy(&worker);
        nerd_rules_unref(&rules);
        return rc == 0 ? 0 : 1;
    }
""")


def make(*args, check=True):
    """Runs make in the repository on the plain build/, not as a sub-make of whatever make
    started pytest: `make SANITIZER=... integration` exports SANITIZER, and MAKEFLAGS carries it
    and jobserver descriptors along; an installed libnerd.a is never a sanitizer build."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SANITIZER", "BUILD")}
    done = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args], env=env,
                          capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, f"make {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """The tree `make install DESTDIR=... PREFIX=/usr/local` makes; returns DESTDIR."""
    destdir = tmp_path_factory.mktemp("destdir")
    make("install", f"DESTDIR={destdir}", f"PREFIX={PREFIX}")
    return destdir


def root(destdir):
    return destdir / PREFIX.lstrip("/")


def pkg_config(destdir, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=str(root(destdir) / "lib" / "pkgconfig"))
    done = subprocess.run(["pkg-config", *args, "nerd"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, f"pkg-config {' '.join(args)} nerd: {done.stderr}"
    return done.stdout.strip()


def test_install_puts_every_file(staged):
    for rel in INSTALLED:
        assert (root(staged) / rel).is_file(), f"{rel} not installed"
    assert os.access(root(staged) / "bin" / "nerd", os.X_OK)
    rules = sorted(p.name for p in (REPO / "rules" / "en").iterdir() if p.is_file())
    assert sorted(p.name for p in (root(staged) / "share/nerd/rules/en").iterdir()) == rules
    assert (root(staged) / "share/nerd/proto/nerd.proto").read_bytes() == \
        (REPO / "proto" / "nerd.proto").read_bytes()


def test_installed_binary_runs_with_installed_rules(staged):
    nerd = root(staged) / "bin" / "nerd"
    rules = root(staged) / "share/nerd/rules/en"
    version = subprocess.run([nerd, "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and "nerd" in version.stdout
    check = subprocess.run([nerd, "rules", "check", rules], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stderr
    # The compiled-in default is where the rules go under PREFIX (DESTDIR is only staging).
    assert f"{PREFIX}/share/nerd/rules/en".encode() in nerd.read_bytes()
    env = dict(os.environ, NERD_RULES=str(rules))
    out = subprocess.run([nerd, "extract"], input=SENTENCE, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"Ruth Abernathy"' in out.stdout


def test_pkg_config_file(staged):
    pkg_config(staged, "--validate")
    header = (REPO / "include" / "nerd.h").read_text()
    version = re.search(r'#define NERD_VERSION "([^"]+)"', header).group(1)
    assert pkg_config(staged, "--modversion") == version
    assert pkg_config(staged, "--variable=rulesdir") == f"{PREFIX}/share/nerd/rules/en"
    assert pkg_config(staged, "--variable=protodir") == f"{PREFIX}/share/nerd/proto"
    assert pkg_config(staged, "--cflags") == f"-I{PREFIX}/include"
    assert "-lnerd" in pkg_config(staged, "--libs").split()
    assert "-lpcre2-8" in pkg_config(staged, "--libs", "--static").split()


def test_embed_the_installed_library(staged, tmp_path):
    """A C program built with nothing but what pkg-config says about the staged install."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    moved = f"--define-variable=prefix={root(staged)}"   # the files are under DESTDIR for now
    cflags = pkg_config(staged, moved, "--cflags").split()
    libs = pkg_config(staged, moved, "--libs", "--static").split()
    source = tmp_path / "embed.c"
    source.write_text(EMBED_C)
    program = tmp_path / "embed"
    built = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", str(program),
                            str(source), *cflags, *libs], capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([program, str(root(staged) / "share/nerd/rules/en"), SENTENCE],
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    start = SENTENCE.index("Ruth Abernathy")
    assert f"PERSON\tRuth Abernathy\t{start}\t{start + len('Ruth Abernathy')}" in \
        ran.stdout.splitlines(), ran.stdout


def run_help(*command):
    done = subprocess.run([NERD, *command, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_man_page_renders(staged):
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    page = root(staged) / "share/man/man1/nerd.1"
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat")
    done = subprocess.run(["man", "-l", str(page)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                    "CONFIGURATION FILE", "ENDPOINTS", "TOPICS", "SIGNALS", "FILES",
                    "ENVIRONMENT", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert re.search(rf"^{heading}$", text, re.M), f"no {heading} section"
    for word in ("nerd serve", "nerd extract", "nerd push", "nerd tail", "rules check",
                 "rules test", "error.too_big", "SIGHUP", "NERD_RULES"):
        assert word in text, word
    # Every command and every long option that `nerd --help` and `nerd CMD --help` list.
    listing = run_help().split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    commands = sorted(set(re.findall(r"^  ([a-z]+)\b", listing, re.M)))
    assert {"serve", "extract", "push", "tail", "rules"} <= set(commands), commands
    for command in commands:
        assert re.search(rf"^ +nerd {command}\b", text, re.M), f"no synopsis for {command}"
        for option in set(re.findall(r"--[a-z][a-z-]+", run_help(command))):
            assert option in text, f"nerd {command} {option} is not in the man page"


def test_systemd_unit(staged):
    unit = (root(staged) / "lib/systemd/system/nerd.service").read_text()
    settings = [line for line in unit.splitlines() if line and not line.startswith("#")]
    for want in ("Type=notify", "NotifyAccess=main", f"ExecStart={PREFIX}/bin/nerd serve --config {PREFIX}/etc/nerd/nerd.conf $NERD_OPTS",
                 "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "DynamicUser=yes",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "PrivateDevices=yes",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "SystemCallFilter=@system-service"):
        assert want in settings, want
    # PCRE2's JIT needs memory that is written and then executed.
    assert not any(s.startswith("MemoryDenyWriteExecute") for s in settings)
    assert "@" not in "".join(s for s in settings if s.startswith("Exec"))   # all filled in
    if shutil.which("systemd-analyze") is None:
        return
    done = subprocess.run(["systemd-analyze", "verify", "--man=no",
                           str(root(staged) / "lib/systemd/system/nerd.service")],
                          capture_output=True, text=True, timeout=60)
    # The binary is staged under DESTDIR, not yet in PREFIX: that complaint is expected.
    problems = [line for line in done.stderr.splitlines()
                if line.strip() and "is not executable" not in line
                and "sysinit.target" not in line]
    assert not problems, done.stderr


def test_shipped_configuration_is_accepted(start_daemon, staged):
    """The nerd.conf that the unit reads is valid for this nerd serve: every key an option, every
    value accepted (the test's own endpoints, given as flags, win over the file's)."""
    if b"--config" not in open(NERD, "rb").read():
        pytest.skip("this nerd serve has no --config yet")
    conf = root(staged) / "etc/nerd/nerd.conf"
    text = conf.read_text()
    assert f"rules = {PREFIX}/share/nerd/rules/en" in text.splitlines()
    assert "@" not in re.sub(r"[@>]tcp://", "", re.sub(r"#.*", "", text))   # all filled in
    d = start_daemon(extra=("--config", str(conf)))
    assert d.in_ep in d.log()      # the command line won over the file's "in ="


def test_uninstall_keeps_a_changed_configuration(tmp_path):
    make("install", f"DESTDIR={tmp_path}", f"PREFIX={PREFIX}")
    conf = root(tmp_path) / "etc/nerd/nerd.conf"
    conf.write_text(conf.read_text() + "threads = 2\n")
    installed_again = make("install", f"DESTDIR={tmp_path}", f"PREFIX={PREFIX}")
    assert "kept" in installed_again.stdout
    assert conf.read_text().endswith("threads = 2\n")
    make("uninstall", f"DESTDIR={tmp_path}", f"PREFIX={PREFIX}")
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == [conf]


def test_install_refuses_a_binary_built_for_another_prefix(tmp_path):
    done = make("install", f"DESTDIR={tmp_path}", "PREFIX=/opt/nerd-elsewhere", check=False)
    assert done.returncode != 0
    assert "built for another PREFIX" in done.stderr
    assert not (tmp_path / "opt").exists()


def test_uninstall_removes_everything(tmp_path):
    make("install", f"DESTDIR={tmp_path}", f"PREFIX={PREFIX}")
    make("uninstall", f"DESTDIR={tmp_path}", f"PREFIX={PREFIX}")
    left = [p for p in tmp_path.rglob("*") if not p.is_dir()]
    assert not left, f"left behind by make uninstall: {left}"
    assert not (root(tmp_path) / "share" / "nerd").exists()


def test_prefix_is_compiled_in():
    """`make PREFIX=P` compiles P/share/nerd into nerd as the default rules' home (NERD_DATADIR),
    so that a nerd built and installed with the same PREFIX finds its rules alone.  Checked on
    the compile command (make -n): a whole build for another PREFIX takes too long for a test;
    the refusal above covers the mismatch."""
    done = make("-n", "-B", "PREFIX=/opt/nerd-test", "build/daemon/cli.o")
    assert "-DNERD_DATADIR='\"/opt/nerd-test/share/nerd\"'" in done.stdout, done.stdout


def test_serve_tells_systemd_it_is_ready(start_daemon, monkeypatch, tmp_path):
    """nerd.service is Type=notify: `nerd serve` must send READY=1 on $NOTIFY_SOCKET once it
    serves, or systemd would kill it at TimeoutStartSec."""
    if b"NOTIFY_SOCKET" not in open(NERD, "rb").read():
        pytest.skip("this nerd has no sd_notify support yet (the unit needs it)")
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        listener.bind(path)
        listener.settimeout(20 * SLOW)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        start_daemon()
        messages = []
        while not any("READY=1" in m.split("\n") for m in messages):
            messages.append(listener.recv(4096).decode("utf-8"))
    finally:
        listener.close()
