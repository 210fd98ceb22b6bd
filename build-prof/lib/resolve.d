build-prof/lib/resolve.o: lib/resolve.c lib/extract.h lib/rules.h \
 lib/gazetteer.h lib/token.h include/nerd.h lib/prefilter.h lib/strbuf.h
lib/extract.h:
lib/rules.h:
lib/gazetteer.h:
lib/token.h:
include/nerd.h:
lib/prefilter.h:
lib/strbuf.h:
