build-prof/lib/link.o: lib/link.c lib/extract.h lib/rules.h \
 lib/gazetteer.h lib/token.h include/nerd.h lib/prefilter.h lib/strbuf.h \
 lib/utf8.h
lib/extract.h:
lib/rules.h:
lib/gazetteer.h:
lib/token.h:
include/nerd.h:
lib/prefilter.h:
lib/strbuf.h:
lib/utf8.h:
