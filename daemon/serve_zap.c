/*
 * serve_zap.c - CurveZMQ for `nerd serve --curve-secret FILE --curve-allow DIR`: every external
 * socket becomes a CURVE server, and a ZAP handler (ZeroMQ RFC 27) decides who may connect.
 *
 * ZeroMQ asks the handler, over inproc://zeromq.zap.01 in the daemon's context, about every
 * CURVE handshake: [version "1.0"][request id][domain][address][identity][mechanism]
 * [client public key, 32 bytes].  The handler answers [version][request id][status code]
 * [status text][user id][metadata]: "200" when the key is one of the client key files in the
 * allow directory, "400" otherwise (and logs the refusal, rate-limited, with the peer's address).
 * A client that does not speak CURVE (or has the wrong server key) never gets this far: its
 * handshake fails inside ZeroMQ, which a socket monitor on every secured socket reports to the
 * same thread (serve_zap_watch); those are logged too, with the endpoint (ZeroMQ does not give
 * the peer's address for them).
 *
 * The allowed keys are read once at start-up; restart the daemon to change them.
 */
#include "serve.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "keys.h"
#include "log.h"

#define SERVE_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define SERVE_ZAP_FRAMES 7
#define SERVE_ZAP_WATCHES 8

/* A monitor of one secured socket: a PAIR that receives its handshake failures. */
typedef struct serve_zap_watch {
    void *pair;
    char what[16];              /* the option that made the socket: "in", "out", ... */
} serve_zap_watch_t;

struct serve_zap {
    pthread_t thread;
    int started;
    void *ctx;
    void *handler;              /* REP, bound to SERVE_ZAP_ENDPOINT */
    pthread_mutex_t lock;       /* guards watches: added by the main thread, read by ours */
    serve_zap_watch_t watches[SERVE_ZAP_WATCHES];
    size_t watch_count;
    atomic_int stop;
    char secret_z85[41];
    uint8_t (*allowed)[32];     /* allowed client public keys, binary */
    size_t allowed_count;
    char allow_dir[512];
};

/* Adds the public key of key file path to the allowed keys.  0, or -1 with err. */
static int serve_zap_allow(serve_zap_t *zap, const char *path, char *err, size_t errlen)
{
    char public_z85[41], secret_z85[41], why[256];
    if (keys_read(path, public_z85, secret_z85, why, sizeof why) != 0) {
        snprintf(err, errlen, "--curve-allow: %s", why);
        return -1;
    }
    uint8_t key[32];
    if (zmq_z85_decode(key, public_z85) == NULL) {
        snprintf(err, errlen, "--curve-allow: %s: the public key is not Z85", path);
        return -1;
    }
    uint8_t(*grown)[32] = realloc(zap->allowed, (zap->allowed_count + 1) * sizeof *grown);
    if (grown == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    zap->allowed = grown;
    memcpy(zap->allowed[zap->allowed_count++], key, 32);
    return 0;
}

/* Reads every regular file of dir (hidden files and editor backups skipped).  0 or -1. */
static int serve_zap_load_dir(serve_zap_t *zap, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "--curve-allow %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || (len > 0 && e->d_name[len - 1] == '~'))
            continue;
        char path[1024];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        rc = serve_zap_allow(zap, path, err, errlen);
    }
    closedir(d);
    if (rc == 0 && zap->allowed_count == 0) {
        snprintf(err, errlen, "--curve-allow %s: no key files in it (no client could connect)",
                 dir);
        rc = -1;
    }
    return rc;
}

static int serve_zap_known(const serve_zap_t *zap, const uint8_t *key)
{
    for (size_t i = 0; i < zap->allowed_count; i++)
        if (memcmp(zap->allowed[i], key, 32) == 0)
            return 1;
    return 0;
}

/* Copies a frame into a NUL-terminated string (truncated). */
static void serve_zap_text(zmq_msg_t *frame, char *out, size_t outlen)
{
    size_t len = zmq_msg_size(frame);
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, zmq_msg_data(frame), len);
    out[len] = '\0';
}

/* Answers one request already read into frames[0..count). */
static void serve_zap_answer(serve_zap_t *zap, zmq_msg_t *frames, size_t count)
{
    char version[8] = "", mechanism[16] = "", address[64] = "";
    if (count >= 1)
        serve_zap_text(&frames[0], version, sizeof version);
    if (count >= 6) {
        serve_zap_text(&frames[3], address, sizeof address);
        serve_zap_text(&frames[5], mechanism, sizeof mechanism);
    }
    const char *code = "400", *text = "unknown client key";
    if (count < 6 || strcmp(version, "1.0") != 0) {
        code = "500";
        text = "malformed ZAP request";
    } else if (strcmp(mechanism, "CURVE") != 0) {
        text = "CURVE required";
    } else if (count == SERVE_ZAP_FRAMES && zmq_msg_size(&frames[6]) == 32 &&
               serve_zap_known(zap, zmq_msg_data(&frames[6]))) {
        code = "200";
        text = "OK";
    }
    if (strcmp(code, "200") == 0) {
        log_debug("admitted a CURVE client from %s", address);
    } else {
        char key[41] = "?";
        if (count == SERVE_ZAP_FRAMES && zmq_msg_size(&frames[6]) == 32)
            zmq_z85_encode(key, zmq_msg_data(&frames[6]), 32);
        log_ratelimited(LOG_LEVEL_WARN, "zap", "refused a client from %s (mechanism %s, public "
                        "key %s): %s; allowed keys are in %s", address[0] ? address : "?",
                        mechanism[0] ? mechanism : "?", key, text, zap->allow_dir);
    }
    /* Reply: version, the request id echoed, status, text, user id, metadata. */
    zmq_send(zap->handler, "1.0", 3, ZMQ_SNDMORE);
    if (count >= 2)
        zmq_send(zap->handler, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), ZMQ_SNDMORE);
    else
        zmq_send(zap->handler, "", 0, ZMQ_SNDMORE);
    zmq_send(zap->handler, code, 3, ZMQ_SNDMORE);
    zmq_send(zap->handler, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(zap->handler, "", 0, ZMQ_SNDMORE);
    zmq_send(zap->handler, "", 0, 0);
}

/* Logs one event of a socket monitor: [event id u16, value u32][endpoint]. */
static void serve_zap_event(serve_zap_watch_t *watch)
{
    zmq_msg_t head, addr;
    zmq_msg_init(&head);
    zmq_msg_init(&addr);
    if (zmq_msg_recv(&head, watch->pair, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&head);
        zmq_msg_close(&addr);
        return;
    }
    if (zmq_msg_more(&head))
        zmq_msg_recv(&addr, watch->pair, 0);
    uint16_t event = 0;
    uint32_t value = 0;
    if (zmq_msg_size(&head) >= 6) {
        memcpy(&event, zmq_msg_data(&head), 2);
        memcpy(&value, (const char *)zmq_msg_data(&head) + 2, 4);
    }
    char endpoint[128];
    serve_zap_text(&addr, endpoint, sizeof endpoint);
    if (event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        /* No detail: also what a refused key (already logged by the handler) looks like here. */
        log_debug("a handshake failed on %s (--%s)", endpoint, watch->what);
    } else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
        log_ratelimited(LOG_LEVEL_WARN, "handshake.mechanism", "refused a client on %s (--%s): "
                        "it does not speak CURVE", endpoint[0] ? endpoint : "?", watch->what);
    } else {
        log_ratelimited(LOG_LEVEL_WARN, "handshake.protocol", "refused a client on %s (--%s): "
                        "its CURVE handshake is wrong (protocol error 0x%x; the wrong server "
                        "key?)", endpoint[0] ? endpoint : "?", watch->what, (unsigned)value);
    }
    zmq_msg_close(&head);
    zmq_msg_close(&addr);
}

static void *serve_zap_run(void *arg)
{
    serve_zap_t *zap = arg;
    while (!atomic_load(&zap->stop)) {
        zmq_pollitem_t items[1 + SERVE_ZAP_WATCHES];
        pthread_mutex_lock(&zap->lock);
        size_t watches = zap->watch_count;
        for (size_t i = 0; i < watches; i++)
            items[1 + i] = (zmq_pollitem_t){ zap->watches[i].pair, 0, ZMQ_POLLIN, 0 };
        pthread_mutex_unlock(&zap->lock);
        items[0] = (zmq_pollitem_t){ zap->handler, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll(items, (int)(1 + watches), 200);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0)
            continue;
        for (size_t i = 0; i < watches; i++)
            if (items[1 + i].revents & ZMQ_POLLIN)
                serve_zap_event(&zap->watches[i]);
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t frames[SERVE_ZAP_FRAMES];
        size_t count = 0;
        int more = 1;
        while (more) {
            zmq_msg_t frame;
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, zap->handler, 0) < 0) {
                zmq_msg_close(&frame);
                break;
            }
            more = zmq_msg_more(&frame);
            if (count < SERVE_ZAP_FRAMES) {
                zmq_msg_init(&frames[count]);
                zmq_msg_move(&frames[count++], &frame);
            }
            zmq_msg_close(&frame);
        }
        serve_zap_answer(zap, frames, count);
        for (size_t i = 0; i < count; i++)
            zmq_msg_close(&frames[i]);
    }
    int zero = 0;
    zmq_setsockopt(zap->handler, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(zap->handler);
    zap->handler = NULL;
    pthread_mutex_lock(&zap->lock);
    for (size_t i = 0; i < zap->watch_count; i++) {
        zmq_setsockopt(zap->watches[i].pair, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(zap->watches[i].pair);
    }
    zap->watch_count = 0;
    pthread_mutex_unlock(&zap->lock);
    return NULL;
}

serve_zap_t *serve_zap_start(void *ctx, const char *secret_path, const char *allow_dir,
                             char *err, size_t errlen)
{
    serve_zap_t *zap = calloc(1, sizeof *zap);
    if (zap == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&zap->stop, 0);
    pthread_mutex_init(&zap->lock, NULL);
    zap->ctx = ctx;
    snprintf(zap->allow_dir, sizeof zap->allow_dir, "%s", allow_dir != NULL ? allow_dir : "");
    char public_z85[41], why[256];
    if (keys_read(secret_path, public_z85, zap->secret_z85, why, sizeof why) != 0) {
        snprintf(err, errlen, "--curve-secret: %s", why);
        goto fail;
    }
    if (zap->secret_z85[0] == '\0') {
        snprintf(err, errlen, "--curve-secret %s: no secret-key in it (give the _secret file)",
                 secret_path);
        goto fail;
    }
    if (allow_dir == NULL) {
        snprintf(err, errlen, "--curve-secret needs --curve-allow DIR (the client keys admitted)");
        goto fail;
    }
    if (serve_zap_load_dir(zap, allow_dir, err, errlen) != 0)
        goto fail;
    zap->handler = zmq_socket(ctx, ZMQ_REP);
    if (zap->handler == NULL || zmq_bind(zap->handler, SERVE_ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "cannot bind the ZAP handler: %s", zmq_strerror(errno));
        goto fail;
    }
    /* From here the socket belongs to the thread; pthread_create is the barrier. */
    int rc = pthread_create(&zap->thread, NULL, serve_zap_run, zap);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the ZAP thread: %s", strerror(rc));
        goto fail;
    }
    zap->started = 1;
    log_info("CURVE on every endpoint; %zu client keys admitted from %s", zap->allowed_count,
             allow_dir);
    return zap;
fail:
    if (zap->handler != NULL) {
        int zero = 0;
        zmq_setsockopt(zap->handler, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(zap->handler);
    }
    free(zap->allowed);
    pthread_mutex_destroy(&zap->lock);
    free(zap);
    return NULL;
}

int serve_zap_secure(const serve_zap_t *zap, void *socket)
{
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, zap->secret_z85, 40) != 0)
        return -1;
    /* A domain makes ZeroMQ consult the handler for every handshake of this socket. */
    return zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, "nerd", 4);
}

int serve_zap_watch(serve_zap_t *zap, void *socket, const char *what)
{
    pthread_mutex_lock(&zap->lock);
    size_t index = zap->watch_count;
    pthread_mutex_unlock(&zap->lock);
    if (index == SERVE_ZAP_WATCHES)
        return 0;   /* more sockets than we watch: they are secured all the same */
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://nerd-zap-watch-%zu", index);
    if (zmq_socket_monitor(socket, endpoint, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        return -1;
    void *pair = zmq_socket(zap->ctx, ZMQ_PAIR);
    if (pair == NULL || zmq_connect(pair, endpoint) != 0) {
        if (pair != NULL)
            zmq_close(pair);
        return -1;
    }
    /* The mutex is the memory barrier ZeroMQ asks for when a socket changes threads. */
    pthread_mutex_lock(&zap->lock);
    zap->watches[index].pair = pair;
    snprintf(zap->watches[index].what, sizeof zap->watches[index].what, "%s", what);
    zap->watch_count = index + 1;
    pthread_mutex_unlock(&zap->lock);
    return 0;
}

void serve_zap_stop(serve_zap_t **zap)
{
    if (zap == NULL || *zap == NULL)
        return;
    serve_zap_t *z = *zap;
    atomic_store(&z->stop, 1);
    if (z->started) {
        pthread_join(z->thread, NULL);
    } else if (z->handler != NULL) {
        zmq_close(z->handler);
    }
    memset(z->secret_z85, 0, sizeof z->secret_z85);
    free(z->allowed);
    pthread_mutex_destroy(&z->lock);
    free(z);
    *zap = NULL;
}
