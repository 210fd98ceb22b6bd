build-prof/lib/gazetteer.o: lib/gazetteer.c lib/gazetteer.h lib/token.h \
 include/nerd.h lib/utf8.h
lib/gazetteer.h:
lib/token.h:
include/nerd.h:
lib/utf8.h:
