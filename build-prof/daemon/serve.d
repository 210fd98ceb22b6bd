build-prof/daemon/serve.o: daemon/serve.c daemon/serve.h \
 daemon/endpoint.h include/nerd.h daemon/cli.h daemon/log.h \
 daemon/codec.h build-prof/gen/nerd.pb-c.h
daemon/serve.h:
daemon/endpoint.h:
include/nerd.h:
daemon/cli.h:
daemon/log.h:
daemon/codec.h:
build-prof/gen/nerd.pb-c.h:
