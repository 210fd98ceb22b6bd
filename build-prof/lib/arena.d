build-prof/lib/arena.o: lib/arena.c include/nerd.h
include/nerd.h:
