/*
 * serve_http.c - the optional HTTP endpoint of `nerd serve --metrics HOST:PORT`: a tiny
 * HTTP/1.0 server on plain sockets, one thread, one connection at a time.
 *
 *   GET /metrics   Prometheus text format, 200
 *   GET /healthz   200 "ok" when the main loop answers within a second, else 503
 *   GET /readyz    200 once the sockets are bound and the rules loaded (and until shutdown
 *                  starts), else 503
 *
 * The counters belong to the main thread: this thread asks it over the control socket's inproc
 * endpoint (a fresh REQ socket per request, so a late answer can never be taken for the next
 * one).  A scraper that sends nothing is dropped after SERVE_HTTP_READ_MS; requests are small
 * and nothing of the request but its first line is used.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

#define SERVE_HTTP_READ_MS 2000
#define SERVE_HTTP_ASK_MS 1000
#define SERVE_HTTP_REQUEST_MAX 4096

struct serve_http {
    pthread_t thread;
    int started;
    int fd;                     /* listening socket */
    void *ctx;
    const atomic_int *ready;
    atomic_int stop;
    char address[128];
};

/* Splits "host:port" / "[v6]:port" / ":port"; 0 or -1. */
static int serve_http_split(const char *hostport, char *host, size_t hostlen, char *port,
                            size_t portlen)
{
    const char *colon;
    const char *h = hostport;
    size_t hlen;
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = hostport + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - hostport);
    }
    if (hlen == 0) {
        h = "127.0.0.1";
        hlen = strlen(h);
    }
    if (hlen >= hostlen || strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, portlen, "%s", colon + 1);
    return 0;
}

static int serve_http_listen(serve_http_t *http, const char *hostport, char *err, size_t errlen)
{
    char host[256], port[32];
    if (serve_http_split(hostport, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "--metrics: '%s' is not HOST:PORT", hostport);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "--metrics %s: %s", hostport, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "--metrics %s: cannot listen: %s", hostport, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage bound;
    socklen_t boundlen = sizeof bound;
    char numhost[INET6_ADDRSTRLEN] = "?", numport[16] = "?";
    if (getsockname(fd, (struct sockaddr *)&bound, &boundlen) == 0)
        getnameinfo((struct sockaddr *)&bound, boundlen, numhost, sizeof numhost, numport,
                    sizeof numport, NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(http->address, sizeof http->address, strchr(numhost, ':') ? "[%s]:%s" : "%s:%s",
             numhost, numport);
    http->fd = fd;
    return 0;
}

/* Asks the main thread; the answer goes into out (malloc'd, *outlen).  0, or -1 on timeout. */
static int serve_http_ask(serve_http_t *http, const char *request, char **out, size_t *outlen)
{
    void *req = zmq_socket(http->ctx, ZMQ_REQ);
    if (req == NULL)
        return -1;
    int zero = 0, timeout = SERVE_HTTP_ASK_MS;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(req, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    int rc = -1;
    zmq_msg_t answer;
    zmq_msg_init(&answer);
    if (zmq_connect(req, SERVE_CONTROL_INPROC) == 0 &&
        zmq_send(req, request, strlen(request), 0) >= 0 && zmq_msg_recv(&answer, req, 0) >= 0) {
        *outlen = zmq_msg_size(&answer);
        *out = malloc(*outlen + 1);
        if (*out != NULL) {
            memcpy(*out, zmq_msg_data(&answer), *outlen);
            (*out)[*outlen] = '\0';
            rc = 0;
        }
    }
    zmq_msg_close(&answer);
    zmq_close(req);
    return rc;
}

/* Writes all of data; errors are ignored (the client went away). */
static void serve_http_write(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void serve_http_respond(int fd, int status, const char *type, const char *body,
                               size_t len)
{
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed" : status == 400 ? "Bad Request"
                       : "Service Unavailable";
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, reason, type,
                     len);
    serve_http_write(fd, head, (size_t)n);
    serve_http_write(fd, body, len);
}

/* Reads until the end of the request head (or the buffer is full, or the client stalls). */
static size_t serve_http_read(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, SERVE_HTTP_READ_MS) <= 0)
            break;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
            break;
    }
    buf[len] = '\0';
    return len;
}

static void serve_http_serve(serve_http_t *http, int fd)
{
    char request[SERVE_HTTP_REQUEST_MAX];
    if (serve_http_read(fd, request, sizeof request) == 0)
        return;
    char method[16], path[256];
    if (sscanf(request, "%15s %255s", method, path) != 2) {
        serve_http_respond(fd, 400, "text/plain", "bad request\n", 12);
        return;
    }
    char *query = strchr(path, '?');
    if (query != NULL)
        *query = '\0';
    int head = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head) {
        serve_http_respond(fd, 405, "text/plain", "only GET\n", 9);
        return;
    }
    char *answer = NULL;
    size_t len = 0;
    if (strcmp(path, "/metrics") == 0) {
        if (serve_http_ask(http, "metrics", &answer, &len) == 0)
            serve_http_respond(fd, 200, "text/plain; version=0.0.4; charset=utf-8", answer,
                               head ? 0 : len);
        else
            serve_http_respond(fd, 503, "text/plain", "the main loop does not answer\n", 30);
    } else if (strcmp(path, "/healthz") == 0) {
        if (serve_http_ask(http, "ping", &answer, &len) == 0)
            serve_http_respond(fd, 200, "text/plain", "ok\n", head ? 0 : 3);
        else
            serve_http_respond(fd, 503, "text/plain", "the main loop does not answer\n", 30);
    } else if (strcmp(path, "/readyz") == 0) {
        if (atomic_load(http->ready))
            serve_http_respond(fd, 200, "text/plain", "ready\n", head ? 0 : 6);
        else
            serve_http_respond(fd, 503, "text/plain", "not ready\n", head ? 0 : 10);
    } else {
        serve_http_respond(fd, 404, "text/plain", "not found: try /metrics, /healthz, /readyz\n",
                           43);
    }
    free(answer);
}

static void *serve_http_run(void *arg)
{
    serve_http_t *http = arg;
    while (!atomic_load(&http->stop)) {
        struct pollfd pfd = { http->fd, POLLIN, 0 };
        int rc = poll(&pfd, 1, 200);
        if (rc <= 0)
            continue;
        int fd = accept(http->fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_http_serve(http, fd);
        close(fd);
    }
    return NULL;
}

serve_http_t *serve_http_start(void *ctx, const char *hostport, const atomic_int *ready,
                               char *err, size_t errlen)
{
    serve_http_t *http = calloc(1, sizeof *http);
    if (http == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    http->fd = -1;
    http->ctx = ctx;
    http->ready = ready;
    atomic_init(&http->stop, 0);
    if (serve_http_listen(http, hostport, err, errlen) != 0) {
        free(http);
        return NULL;
    }
    int rc = pthread_create(&http->thread, NULL, serve_http_run, http);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the HTTP thread: %s", strerror(rc));
        close(http->fd);
        free(http);
        return NULL;
    }
    http->started = 1;
    return http;
}

const char *serve_http_address(const serve_http_t *http)
{
    return http->address;
}

void serve_http_stop(serve_http_t **http)
{
    if (http == NULL || *http == NULL)
        return;
    serve_http_t *h = *http;
    atomic_store(&h->stop, 1);
    if (h->started)
        pthread_join(h->thread, NULL);
    if (h->fd >= 0)
        close(h->fd);
    free(h);
    *http = NULL;
}
