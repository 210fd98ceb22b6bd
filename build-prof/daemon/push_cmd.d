build-prof/daemon/push_cmd.o: daemon/push_cmd.c daemon/cli.h daemon/log.h \
 daemon/codec.h include/nerd.h build-prof/gen/nerd.pb-c.h daemon/docsrc.h \
 daemon/endpoint.h
daemon/cli.h:
daemon/log.h:
daemon/codec.h:
include/nerd.h:
build-prof/gen/nerd.pb-c.h:
daemon/docsrc.h:
daemon/endpoint.h:
