build-prof/daemon/serve_worker.o: daemon/serve_worker.c daemon/serve.h \
 daemon/endpoint.h include/nerd.h daemon/codec.h \
 build-prof/gen/nerd.pb-c.h daemon/log.h
daemon/serve.h:
daemon/endpoint.h:
include/nerd.h:
daemon/codec.h:
build-prof/gen/nerd.pb-c.h:
daemon/log.h:
