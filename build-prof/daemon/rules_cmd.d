build-prof/daemon/rules_cmd.o: daemon/rules_cmd.c daemon/cli.h \
 daemon/log.h include/nerd.h
daemon/cli.h:
daemon/log.h:
include/nerd.h:
