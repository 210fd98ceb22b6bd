build-prof/lib/prefilter.o: lib/prefilter.c lib/prefilter.h
lib/prefilter.h:
