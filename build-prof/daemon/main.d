build-prof/daemon/main.o: daemon/main.c daemon/cli.h daemon/log.h \
 include/nerd.h
daemon/cli.h:
daemon/log.h:
include/nerd.h:
