build-prof/lib/utf8.o: lib/utf8.c include/nerd.h lib/utf8.h
include/nerd.h:
lib/utf8.h:
