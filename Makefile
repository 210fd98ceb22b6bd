# nerd - named-entity and relation extraction daemon.
#
#   make              build build/nerd and build/libnerd.a
#   make deps         install the Debian packages nerd needs to build and test (apt-get)
#   make demo         build, start the daemon on its defaults, send the seed article, show the result
#   make test         build and run every test: unit, rule examples, integration, sanitizers, valgrind
#   make eval         score nerd extract on every gold file under ../shared/eval
#   make bench        throughput, latency, scaling and memory figures
#   make SANITIZER=address,undefined   build into build-asan/ with the sanitizers
#
# Generated protobuf code lives in $(BUILD)/gen and is never committed.

CC        ?= cc
CFLAGS    ?= -O2 -g
SHARED    ?= ../shared
PYTHON    ?= /usr/bin/python3

NERD_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
               -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
               -Wcast-qual -Werror -MMD -MP -pthread
GEN_CFLAGS  := -std=c11 -O2 -g -MMD -MP

ifneq ($(SANITIZER),)
BUILD     ?= build-san
SAN_FLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD     ?= build
SAN_FLAGS :=
endif

PKGS_LIBS := libzmq libprotobuf-c libpcre2-8
LIBS_ENGINE := $(shell pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8)
LIBS_DAEMON := $(shell pkg-config --libs libzmq libprotobuf-c libmicrohttpd 2>/dev/null || echo -lzmq -lprotobuf-c -lmicrohttpd)
LIBS_TEST   := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CPPFLAGS  += -Iinclude -Ilib -Idaemon -I$(BUILD)/gen

LIB_SRC    := $(wildcard lib/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
DAEMON_SRC := $(wildcard daemon/*.c)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_LIBOBJ := $(filter-out $(BUILD)/daemon/main.o,$(DAEMON_OBJ))
GEN_C      := $(BUILD)/gen/nerd.pb-c.c
GEN_H      := $(BUILD)/gen/nerd.pb-c.h
GEN_OBJ    := $(BUILD)/gen/nerd.pb-c.o
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

DEB_PKGS := build-essential pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler \
            libpcre2-dev libcmocka-dev libmicrohttpd-dev protobuf-compiler python3 python3-pytest python3-zmq \
            python3-protobuf valgrind

.PHONY: all deps demo test unit rules-test integration sanitize memcheck eval bench fuzz clean

all: $(BUILD)/nerd

# Installs the Debian packages only when one is missing, so `make test` stays quick on a ready
# machine.  apt-get needs root: run as root, or have sudo.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	else echo "make deps: all Debian packages present"; fi

$(GEN_C) $(GEN_H): proto/nerd.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen proto/nerd.proto

$(GEN_OBJ): $(GEN_C)
	$(CC) $(GEN_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) -c -o $@ $<

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(NERD_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) -c -o $@ $<

$(BUILD)/daemon/%.o: daemon/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(NERD_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) -c -o $@ $<

$(BUILD)/libnerd.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/nerd: $(DAEMON_OBJ) $(GEN_OBJ) $(BUILD)/libnerd.a
	$(CC) $(CFLAGS) $(SAN_FLAGS) -pthread -o $@ $^ $(LIBS_DAEMON) $(LIBS_ENGINE) -lm

$(BUILD)/tests/%.o: tests/unit/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(NERD_CFLAGS) -Wno-missing-prototypes $(SAN_FLAGS) $(CPPFLAGS) -c -o $@ $<

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(DAEMON_LIBOBJ) $(GEN_OBJ) $(BUILD)/libnerd.a
	$(CC) $(CFLAGS) $(SAN_FLAGS) -pthread -o $@ $^ $(LIBS_TEST) $(LIBS_DAEMON) $(LIBS_ENGINE) -lm

$(BUILD)/bench/%.o: bench/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(NERD_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) -c -o $@ $<

$(BUILD)/nerd_bench: $(BUILD)/bench/nerd_bench.o $(DAEMON_LIBOBJ) $(GEN_OBJ) $(BUILD)/libnerd.a
	$(CC) $(CFLAGS) $(SAN_FLAGS) -pthread -o $@ $^ $(LIBS_DAEMON) $(LIBS_ENGINE) -lm

FUZZ_TARGETS := extract rules utf8 callform

$(BUILD)/fuzz/%.o: tests/fuzz/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(NERD_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) -c -o $@ $<

$(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/replay.o $(DAEMON_LIBOBJ) $(GEN_OBJ) $(BUILD)/libnerd.a
	$(CC) $(CFLAGS) $(SAN_FLAGS) -pthread -o $@ $^ $(LIBS_DAEMON) $(LIBS_ENGINE) -lm

# ---- tests --------------------------------------------------------------------------------

test: deps
	$(MAKE) unit rules-test integration
	$(MAKE) sanitize
	$(MAKE) memcheck
	@echo "make test: all passed"

unit: $(UNIT_BIN) $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; NERD_RULES=rules/en $$t; done
	@set -e; for t in $(FUZZ_TARGETS); do \
	  NERD_RULES=rules/en $(BUILD)/fuzz/replay_$$t tests/fuzz/corpus/$$t; done

rules-test: $(BUILD)/nerd
	$(BUILD)/nerd rules check rules/en
	$(BUILD)/nerd rules test rules/en

integration: $(BUILD)/nerd
	NERD_BIN=$(abspath $(BUILD)/nerd) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# The whole suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize:
	$(MAKE) SANITIZER=address,undefined unit rules-test
	ASAN_OPTIONS=detect_leaks=1 $(MAKE) SANITIZER=address,undefined integration

# The daemon's integration tests with the daemon under valgrind: any error or leak fails.
memcheck: $(BUILD)/nerd
	NERD_BIN=$(abspath $(BUILD)/nerd) NERD_VALGRIND=1 $(PYTHON) -m pytest -q -p no:cacheprovider \
	    tests/integration -k "valgrind_safe"

# Soak test: SOAK_SECONDS (default 180) of steady mixed load (good, malformed, invalid UTF-8,
# oversize documents) against build/nerd; fails if RSS grows > 10 % or an error counter grows
# for a reason that was not provoked.  Prints RSS at start and end.
SOAK_SECONDS ?= 180
.PHONY: soak
soak: $(BUILD)/nerd
	NERD_BIN=$(abspath $(BUILD)/nerd) SOAK_SECONDS=$(SOAK_SECONDS) $(PYTHON) tests/soak/soak.py

# ---- demo, eval, bench ---------------------------------------------------------------------

demo: deps $(BUILD)/nerd
	@tests/demo.sh $(BUILD)/nerd $(SHARED)/eval/seed/article.txt

bench: $(BUILD)/nerd $(BUILD)/nerd_bench
	bench/run.sh $(BUILD) $(SHARED)/bench/bbc-news.jsonl

eval: $(BUILD)/nerd
	@tests/eval.sh $(BUILD)/nerd $(SHARED)/eval

# Coverage-guided fuzzing with clang's libFuzzer, FUZZ_SECONDS per target (default 60).  New
# inputs land in build-fuzz/corpus/; copy the interesting ones and every crash into
# tests/fuzz/corpus/TARGET/ so `make test` replays them from then on.
FUZZ_SECONDS ?= 60
fuzz: deps
	@command -v clang >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get install -y -q clang libclang-rt-dev; }
	$(MAKE) CC=clang BUILD=build-fuzz SANITIZER=fuzzer-no-link,address,undefined \
	    build-fuzz/libnerd.a $(DAEMON_LIBOBJ:$(BUILD)/%=build-fuzz/%) build-fuzz/gen/nerd.pb-c.o \
	    $(FUZZ_TARGETS:%=build-fuzz/fuzz/fuzz_%.o)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  clang -fsanitize=fuzzer,address,undefined -pthread -o build-fuzz/fuzz_$$t \
	    build-fuzz/fuzz/fuzz_$$t.o $(DAEMON_LIBOBJ:$(BUILD)/%=build-fuzz/%) build-fuzz/gen/nerd.pb-c.o \
	    build-fuzz/libnerd.a $(LIBS_DAEMON) $(LIBS_ENGINE) -lm; \
	  mkdir -p build-fuzz/corpus/$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  NERD_RULES=rules/en build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -artifact_prefix=build-fuzz/crash-$$t- build-fuzz/corpus/$$t tests/fuzz/corpus/$$t; \
	done

# ---- install -------------------------------------------------------------------------------
#
#   make install   [PREFIX=/usr/local] [DESTDIR=]   the binary, rules, .proto, man page, systemd
#                                                  unit, configuration, libnerd.a + nerd.h + nerd.pc
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]   removes exactly those files
#
# The binary looks for its default rules in $(PREFIX)/share/nerd/rules/en, a path compiled into
# it (NERD_DATADIR), so build and install with the same PREFIX:
#     make PREFIX=/usr && sudo make PREFIX=/usr install
# install refuses a build/nerd made for another PREFIX (then `make clean` first).  DESTDIR only
# stages the files (for packages); it is not compiled in.  The configuration file
# $(SYSCONFDIR)/nerd/nerd.conf (/etc/nerd with PREFIX=/usr) is installed only when there is none,
# and uninstalled only when unchanged; a reference copy goes to $(DOCDIR)/nerd.conf.example.

PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
DATADIR        ?= $(PREFIX)/share/nerd
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/nerd
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR     ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
INSTALL        ?= install
CPPFLAGS       += -DNERD_DATADIR='"$(DATADIR)"'

INSTALL_VERSION := $(shell sed -n 's/.*define NERD_VERSION "\(.*\)"/\1/p' include/nerd.h)
INSTALL_RULES   := $(notdir $(wildcard rules/en/*.rules rules/en/*.gaz))
# In nerd.pc, paths under PREFIX are written as ${prefix}/... so that pkg-config's
# --define-variable=prefix= and PKG_CONFIG_SYSROOT_DIR can move them.
INSTALL_PC_SED  := -e 's|@PREFIX@|$(PREFIX)|g' \
                   -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
                   -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
                   -e 's|@DATADIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(DATADIR))|g' \
                   -e 's|@VERSION@|$(INSTALL_VERSION)|g'
INSTALL_SED     := -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
                   -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
INSTALL_CONF    := $(DESTDIR)$(SYSCONFDIR)/nerd/nerd.conf

.PHONY: install uninstall

install: $(BUILD)/nerd $(BUILD)/libnerd.a
	@grep -qaF '$(DATADIR)/rules/en' $(BUILD)/nerd || { \
	  echo "make install: $(BUILD)/nerd was built for another PREFIX (it would not find its rules in" \
	       "$(DATADIR)/rules/en); run: make clean && make PREFIX=$(PREFIX) && make PREFIX=$(PREFIX) install" >&2; \
	  exit 1; }
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/rules/en $(DESTDIR)$(DATADIR)/proto \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/nerd
	$(INSTALL) -m 755 $(BUILD)/nerd $(DESTDIR)$(BINDIR)/nerd
	$(INSTALL) -m 644 $(addprefix rules/en/,$(INSTALL_RULES)) $(DESTDIR)$(DATADIR)/rules/en/
	$(INSTALL) -m 644 rules/README.md $(DESTDIR)$(DATADIR)/rules/README.md
	$(INSTALL) -m 644 proto/nerd.proto $(DESTDIR)$(DATADIR)/proto/nerd.proto
	$(INSTALL) -m 644 docs/nerd.1 $(DESTDIR)$(MANDIR)/man1/nerd.1
	$(INSTALL) -m 644 README.md docs/rules.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 644 $(BUILD)/libnerd.a $(DESTDIR)$(LIBDIR)/libnerd.a
	$(INSTALL) -m 644 include/nerd.h $(DESTDIR)$(INCLUDEDIR)/nerd.h
	sed $(INSTALL_PC_SED) dist/nerd.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/nerd.pc
	sed $(INSTALL_SED) dist/nerd.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/nerd.service
	sed $(INSTALL_SED) dist/nerd.conf.in > $(DESTDIR)$(DOCDIR)/nerd.conf.example
	@if [ -e $(INSTALL_CONF) ]; then echo "make install: kept $(INSTALL_CONF) as it is"; \
	else echo "$(INSTALL) -m 644 $(DESTDIR)$(DOCDIR)/nerd.conf.example $(INSTALL_CONF)"; \
	  $(INSTALL) -m 644 $(DESTDIR)$(DOCDIR)/nerd.conf.example $(INSTALL_CONF); fi

uninstall:
	@if [ -e $(INSTALL_CONF) ]; then \
	  if sed $(INSTALL_SED) dist/nerd.conf.in | cmp -s - $(INSTALL_CONF); then \
	    echo "rm -f $(INSTALL_CONF)"; rm -f $(INSTALL_CONF); \
	  else echo "make uninstall: kept $(INSTALL_CONF): it was changed"; fi; fi
	rm -f $(DESTDIR)$(BINDIR)/nerd $(addprefix $(DESTDIR)$(DATADIR)/rules/en/,$(INSTALL_RULES)) \
	    $(DESTDIR)$(DATADIR)/rules/README.md $(DESTDIR)$(DATADIR)/proto/nerd.proto \
	    $(DESTDIR)$(MANDIR)/man1/nerd.1 $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/rules.md \
	    $(DESTDIR)$(LIBDIR)/libnerd.a $(DESTDIR)$(INCLUDEDIR)/nerd.h \
	    $(DESTDIR)$(PKGCONFIGDIR)/nerd.pc $(DESTDIR)$(SYSTEMDUNITDIR)/nerd.service \
	    $(DESTDIR)$(DOCDIR)/nerd.conf.example
	rmdir $(DESTDIR)$(DATADIR)/rules/en $(DESTDIR)$(DATADIR)/rules $(DESTDIR)$(DATADIR)/proto \
	    $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/nerd 2>/dev/null || true

clean:
	rm -rf build build-san build-fuzz

-include $(wildcard $(BUILD)/lib/*.d $(BUILD)/daemon/*.d $(BUILD)/tests/*.d $(BUILD)/bench/*.d $(BUILD)/fuzz/*.d $(BUILD)/gen/*.d)
