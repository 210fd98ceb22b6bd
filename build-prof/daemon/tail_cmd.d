build-prof/daemon/tail_cmd.o: daemon/tail_cmd.c daemon/buf.h daemon/cli.h \
 daemon/log.h daemon/codec.h include/nerd.h build-prof/gen/nerd.pb-c.h \
 daemon/endpoint.h daemon/json.h
daemon/buf.h:
daemon/cli.h:
daemon/log.h:
daemon/codec.h:
include/nerd.h:
build-prof/gen/nerd.pb-c.h:
daemon/endpoint.h:
daemon/json.h:
