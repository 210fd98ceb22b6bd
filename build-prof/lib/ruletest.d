build-prof/lib/ruletest.o: lib/ruletest.c lib/extract.h lib/rules.h \
 lib/gazetteer.h lib/token.h include/nerd.h lib/prefilter.h lib/strbuf.h
lib/extract.h:
lib/rules.h:
lib/gazetteer.h:
lib/token.h:
include/nerd.h:
lib/prefilter.h:
lib/strbuf.h:
