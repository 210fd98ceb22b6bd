build-prof/daemon/uchar.o: daemon/uchar.c daemon/uchar.h
daemon/uchar.h:
