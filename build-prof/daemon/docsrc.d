build-prof/daemon/docsrc.o: daemon/docsrc.c daemon/docsrc.h daemon/buf.h \
 daemon/json.h include/nerd.h
daemon/docsrc.h:
daemon/buf.h:
daemon/json.h:
include/nerd.h:
