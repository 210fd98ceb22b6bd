build-prof/lib/rules.o: lib/rules.c lib/rules_load.h lib/rules.h \
 lib/gazetteer.h lib/token.h include/nerd.h lib/prefilter.h lib/strbuf.h
lib/rules_load.h:
lib/rules.h:
lib/gazetteer.h:
lib/token.h:
include/nerd.h:
lib/prefilter.h:
lib/strbuf.h:
