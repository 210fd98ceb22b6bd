build-prof/daemon/extract_cmd.o: daemon/extract_cmd.c daemon/buf.h \
 daemon/cli.h daemon/log.h daemon/docsrc.h daemon/json.h include/nerd.h
daemon/buf.h:
daemon/cli.h:
daemon/log.h:
daemon/docsrc.h:
daemon/json.h:
include/nerd.h:
