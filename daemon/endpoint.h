/*
 * endpoint.h - ZeroMQ endpoint lists as written on the command line.
 *
 * Follows ZeroMQ's own convention (as in zsock/czmq): "@tcp://host:port" binds,
 * ">tcp://host:port" connects, and a bare "tcp://host:port" does what the socket usually does
 * (serve's sockets bind, push/tail clients connect).  Several endpoints may be given separated by
 * commas: "@tcp://127.0.0.1:5555,>tcp://hub:6000".
 */
#ifndef NERD_ENDPOINT_H
#define NERD_ENDPOINT_H

#include <stddef.h>

#define ENDPOINT_MAX 16
#define ENDPOINT_ADDR_MAX 256

typedef struct endpoint {
    int bind;                        /* 1 = bind, 0 = connect */
    char addr[ENDPOINT_ADDR_MAX];    /* without the @ or > prefix; after a bind, the resolved one */
} endpoint_t;

typedef struct endpoint_list {
    endpoint_t items[ENDPOINT_MAX];
    size_t count;
} endpoint_list_t;

/*
 * Parses spec into list.  default_bind says what a bare endpoint does.  Returns 0, or -1 with a
 * sentence in err (at most errlen bytes) when an item is empty, too long, lacks "transport://",
 * or there are more than ENDPOINT_MAX items.
 */
int endpoint_parse(const char *spec, int default_bind, endpoint_list_t *list, char *err,
                   size_t errlen);

/*
 * Binds or connects socket to every endpoint of list, in order.  After a bind, the item's addr
 * becomes the resolved address (ZMQ_LAST_ENDPOINT), so "tcp://127.0.0.1:*" shows its port and can
 * be unbound later.  Returns 0, or -1 with the failing endpoint and zmq_strerror() in err.
 */
int endpoint_attach(void *socket, endpoint_list_t *list, char *err, size_t errlen);

/* Unbinds or disconnects every endpoint of list; errors are ignored (used at shutdown). */
void endpoint_detach(void *socket, const endpoint_list_t *list);

/* Writes the list as "@tcp://...,>tcp://..." into out (always NUL-terminated).  Returns out. */
char *endpoint_format(const endpoint_list_t *list, char *out, size_t outlen);

#endif /* NERD_ENDPOINT_H */
