build-prof/lib/errors.o: lib/errors.c include/nerd.h
include/nerd.h:
