build-prof/gen/nerd.pb-c.o: build-prof/gen/nerd.pb-c.c \
 build-prof/gen/nerd.pb-c.h
build-prof/gen/nerd.pb-c.h:
