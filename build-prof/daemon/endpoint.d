build-prof/daemon/endpoint.o: daemon/endpoint.c daemon/endpoint.h
daemon/endpoint.h:
