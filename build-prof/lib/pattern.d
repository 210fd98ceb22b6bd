build-prof/lib/pattern.o: lib/pattern.c lib/alttrie.h lib/prefilter.h \
 lib/rules_load.h lib/rules.h lib/gazetteer.h lib/token.h include/nerd.h \
 lib/strbuf.h
lib/alttrie.h:
lib/prefilter.h:
lib/rules_load.h:
lib/rules.h:
lib/gazetteer.h:
lib/token.h:
include/nerd.h:
lib/strbuf.h:
