build-prof/daemon/cli.o: daemon/cli.c daemon/cli.h daemon/log.h \
 include/nerd.h
daemon/cli.h:
daemon/log.h:
include/nerd.h:
