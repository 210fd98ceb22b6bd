/*
 * endpoint.c - parse "@bind,>connect" endpoint lists and apply them to a ZeroMQ socket.
 *
 * Kept apart from the commands so that serve, push, tail (and a later proxy) read endpoints the
 * same way.
 */
#include "endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

/* Parses one item s[0..len) into ep. */
static int endpoint_parse_one(const char *s, size_t len, int default_bind, endpoint_t *ep,
                              char *err, size_t errlen)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    ep->bind = default_bind;
    if (len > 0 && (*s == '@' || *s == '>')) {
        ep->bind = *s == '@';
        s++;
        len--;
    }
    if (len == 0) {
        snprintf(err, errlen, "empty endpoint");
        return -1;
    }
    if (len >= ENDPOINT_ADDR_MAX) {
        snprintf(err, errlen, "endpoint too long (%zu bytes, at most %d)", len,
                 ENDPOINT_ADDR_MAX - 1);
        return -1;
    }
    memcpy(ep->addr, s, len);
    ep->addr[len] = '\0';
    const char *sep = strstr(ep->addr, "://");
    if (sep == NULL || sep == ep->addr || sep[3] == '\0') {
        snprintf(err, errlen, "'%s' is not a ZeroMQ endpoint (expected transport://address, "
                 "e.g. tcp://127.0.0.1:5555)", ep->addr);
        return -1;
    }
    return 0;
}

int endpoint_parse(const char *spec, int default_bind, endpoint_list_t *list, char *err,
                   size_t errlen)
{
    list->count = 0;
    if (spec == NULL) {
        snprintf(err, errlen, "no endpoint");
        return -1;
    }
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (list->count == ENDPOINT_MAX) {
            snprintf(err, errlen, "too many endpoints (at most %d)", ENDPOINT_MAX);
            return -1;
        }
        if (endpoint_parse_one(p, len, default_bind, &list->items[list->count], err, errlen) != 0)
            return -1;
        list->count++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

int endpoint_attach(void *socket, endpoint_list_t *list, char *err, size_t errlen)
{
    for (size_t i = 0; i < list->count; i++) {
        endpoint_t *ep = &list->items[i];
        int rc = ep->bind ? zmq_bind(socket, ep->addr) : zmq_connect(socket, ep->addr);
        if (rc != 0) {
            snprintf(err, errlen, "cannot %s %s: %s", ep->bind ? "bind" : "connect", ep->addr,
                     zmq_strerror(errno));
            return -1;
        }
        if (ep->bind) {
            char resolved[ENDPOINT_ADDR_MAX];
            size_t size = sizeof resolved;
            if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, resolved, &size) == 0 && size > 1)
                snprintf(ep->addr, sizeof ep->addr, "%s", resolved);
        }
    }
    return 0;
}

void endpoint_detach(void *socket, const endpoint_list_t *list)
{
    for (size_t i = 0; i < list->count; i++) {
        const endpoint_t *ep = &list->items[i];
        if (ep->bind)
            zmq_unbind(socket, ep->addr);
        else
            zmq_disconnect(socket, ep->addr);
    }
}

char *endpoint_format(const endpoint_list_t *list, char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen == 0)
        return out;
    out[0] = '\0';
    for (size_t i = 0; i < list->count && used < outlen; i++) {
        int n = snprintf(out + used, outlen - used, "%s%c%s", i > 0 ? "," : "",
                         list->items[i].bind ? '@' : '>', list->items[i].addr);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return out;
}
