build-prof/daemon/json.o: daemon/json.c daemon/json.h daemon/buf.h \
 include/nerd.h daemon/uchar.h
daemon/json.h:
daemon/buf.h:
include/nerd.h:
daemon/uchar.h:
