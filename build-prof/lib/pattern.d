build-prof/lib/pattern.o: lib/pattern.c lib/prefilter.h lib/rules_load.h \
 lib/rules.h lib/gazetteer.h lib/token.h include/nerd.h lib/strbuf.h
lib/prefilter.h:
lib/rules_load.h:
lib/rules.h:
lib/gazetteer.h:
lib/token.h:
include/nerd.h:
lib/strbuf.h:
