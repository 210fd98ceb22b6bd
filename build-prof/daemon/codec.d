build-prof/daemon/codec.o: daemon/codec.c daemon/codec.h include/nerd.h \
 build-prof/gen/nerd.pb-c.h daemon/uchar.h
daemon/codec.h:
include/nerd.h:
build-prof/gen/nerd.pb-c.h:
daemon/uchar.h:
