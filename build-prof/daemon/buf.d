build-prof/daemon/buf.o: daemon/buf.c daemon/buf.h
daemon/buf.h:
