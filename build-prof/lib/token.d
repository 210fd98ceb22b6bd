build-prof/lib/token.o: lib/token.c lib/token.h include/nerd.h lib/utf8.h
lib/token.h:
include/nerd.h:
lib/utf8.h:
