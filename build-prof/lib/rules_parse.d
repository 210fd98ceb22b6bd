build-prof/lib/rules_parse.o: lib/rules_parse.c lib/rules_load.h \
 lib/rules.h lib/gazetteer.h lib/token.h include/nerd.h lib/prefilter.h \
 lib/strbuf.h
lib/rules_load.h:
lib/rules.h:
lib/gazetteer.h:
lib/token.h:
include/nerd.h:
lib/prefilter.h:
lib/strbuf.h:
