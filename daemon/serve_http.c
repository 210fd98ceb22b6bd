/*
 * serve_http.c - the optional HTTP endpoint of `nerd serve --metrics HOST:PORT`, served by
 * GNU libmicrohttpd (its own polling thread) on a socket bound here.
 *
 *   GET /metrics   Prometheus text format, 200
 *   GET /healthz   200 "ok" when the main loop answers within a second, else 503
 *   GET /readyz    200 once the sockets are bound and the rules loaded (and until shutdown
 *                  starts), else 503
 *
 * The counters belong to the main thread: this thread asks it over the control socket's inproc
 * endpoint (a fresh REQ socket per request, so a late answer can never be taken for the next
 * one).  libmicrohttpd parses the requests and drops a client that stays silent for
 * SERVE_HTTP_IDLE_S seconds; at most SERVE_HTTP_CLIENTS connections are served at once.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

#define SERVE_HTTP_IDLE_S 2
#define SERVE_HTTP_ASK_MS 1000
#define SERVE_HTTP_CLIENTS 16

struct serve_http {
    struct MHD_Daemon *daemon;
    int fd;                     /* listening socket, handed to libmicrohttpd once it runs */
    void *ctx;
    const atomic_int *ready;
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

/* Queues a response of status with body (copied); MHD_NO when it cannot. */
static enum MHD_Result serve_http_respond(struct MHD_Connection *connection, unsigned status,
                                          const char *type, const char *body, size_t len)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result serve_http_answer(void *cls, struct MHD_Connection *connection,
                                         const char *url, const char *method,
                                         const char *version, const char *upload_data,
                                         size_t *upload_data_size, void **request_state)
{
    static const char busy[] = "the main loop does not answer\n";
    serve_http_t *http = cls;
    (void)version;
    (void)upload_data;
    (void)request_state;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return serve_http_respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                                  "only GET\n", 9);
    if (*upload_data_size != 0) {
        *upload_data_size = 0;   /* a GET with a body: ignore it */
        return MHD_YES;
    }
    char *answer = NULL;
    size_t len = 0;
    enum MHD_Result rc;
    if (strcmp(url, "/metrics") == 0) {
        if (serve_http_ask(http, "metrics", &answer, &len) == 0)
            rc = serve_http_respond(connection, MHD_HTTP_OK,
                                    "text/plain; version=0.0.4; charset=utf-8", answer, len);
        else
            rc = serve_http_respond(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", busy,
                                    sizeof busy - 1);
    } else if (strcmp(url, "/healthz") == 0) {
        if (serve_http_ask(http, "ping", &answer, &len) == 0)
            rc = serve_http_respond(connection, MHD_HTTP_OK, "text/plain", "ok\n", 3);
        else
            rc = serve_http_respond(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", busy,
                                    sizeof busy - 1);
    } else if (strcmp(url, "/readyz") == 0) {
        if (atomic_load(http->ready))
            rc = serve_http_respond(connection, MHD_HTTP_OK, "text/plain", "ready\n", 6);
        else
            rc = serve_http_respond(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                                    "not ready\n", 10);
    } else {
        static const char missing[] = "not found: try /metrics, /healthz, /readyz\n";
        rc = serve_http_respond(connection, MHD_HTTP_NOT_FOUND, "text/plain", missing,
                                sizeof missing - 1);
    }
    free(answer);
    return rc;
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
    if (serve_http_listen(http, hostport, err, errlen) != 0) {
        free(http);
        return NULL;
    }
    http->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                    serve_http_answer, http,
                                    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)http->fd,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_HTTP_IDLE_S,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_HTTP_CLIENTS,
                                    MHD_OPTION_END);
    if (http->daemon == NULL) {
        snprintf(err, errlen, "--metrics %s: libmicrohttpd cannot start", hostport);
        close(http->fd);
        free(http);
        return NULL;
    }
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
    /* libmicrohttpd closes the listening socket it was given. */
    MHD_stop_daemon(h->daemon);
    free(h);
    *http = NULL;
}
