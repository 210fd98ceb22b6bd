/*
 * serve.c - `nerd serve`: the daemon's main thread (see serve.h for the whole picture).
 *
 * The main thread owns every external socket.  It polls the input (PULL), the reply socket
 * (ROUTER), the workers' answers (inproc PULL) and a self-pipe that the signal handlers write to,
 * and does everything else in that loop: jobs out to the workers, Results out to XPUB/PUSH/ROUTER,
 * counters, the control socket, reloads (SIGHUP: the new set is loaded by a short-lived thread
 * while the old one keeps serving, then swapped in by the loop) and the shutdown (SIGTERM/SIGINT).
 *
 * Shutdown: what clients had already sent is still taken (until the input has been quiet for a
 * moment; see serve_drain), then the input endpoints are unbound/disconnected, every job
 * in flight is answered and published, and only then are the sockets closed, with ZMQ_LINGER =
 * SERVE_LINGER_MS so the last Results reach the network.  A second signal skips the wait.
 *
 * Memory: ZMQ_MAXMSGSIZE on the input sockets is 2 x --max-bytes + 64 KiB: a Document slightly
 * over the limit still gets its "too_big" error Result, while a frame far over it makes ZeroMQ drop
 * the connection before the frame is ever held in memory.
 *
 * Delivery: the output is an XPUB socket, always with ZMQ_XPUB_NODROP set, so that ZeroMQ says
 * (EAGAIN) when a subscriber's queue is full instead of dropping silently.  With --no-drop the
 * Result is then kept ("pending") and the loop stops reading input and worker answers until the
 * subscriber has made room: back-pressure through the in-flight bound to the input socket and its
 * clients.  Without --no-drop the Result is dropped and counted (for every subscriber: a send
 * with NODROP off would reach the others, but ZeroMQ would then skip the full subscriber
 * silently until it caught up, and those losses could not be counted).  An optional PUSH
 * output (--out-push) gets every Result too and always pushes back when no consumer has room.
 * Every Result ends up in exactly one of published, replied, dropped (see serve_stats_t).
 *
 * Control: a ROUTER (--control, and always inproc for the HTTP thread) answers "stats" with the
 * counters as JSON, "metrics" with Prometheus text and "ping" with "pong"; it is polled by the
 * same loop, so an answer also proves the loop runs (GET /healthz).
 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "cli.h"
#include "codec.h"
#include "config.h"
#include "json.h"
#include "log.h"

/* Stopping goes through these phases (see serve_drain). */
enum { SERVE_DRAIN_QUIET, SERVE_DRAIN_DETACHED, SERVE_DRAIN_DONE };
#define SERVE_QUIET_MS 150
#define SERVE_BLOCK_MS 20             /* one wait for a full output before looking around */
#define SERVE_CONTROL_FRAMES 8        /* routing frames + request kept; more are dropped */
#define SERVE_WAKE_RELOADED 0xff      /* written to the signal pipe: a reload has finished */

/* A Result read from the workers that an output has not taken yet (--no-drop / --out-push). */
typedef struct serve_pending {
    int active;
    serve_job_t job;
    zmq_msg_t topic, result;
    int pub_done, push_done;    /* each output that took it */
    int dropped;                /* the PUB dropped it for a full subscriber */
} serve_pending_t;

typedef struct serve {
    serve_opts_t opts;
    serve_stats_t stats;
    serve_rules_t rules;
    const char *rules_dir;
    void *ctx;
    void *in, *out, *reply;          /* external sockets (reply may be NULL) */
    void *push;                      /* --out-push, or NULL */
    void *control;                   /* --control, or NULL */
    void *control_inproc;            /* SERVE_CONTROL_INPROC, for the HTTP thread */
    void *work, *done;               /* inproc: jobs out, answers in */
    endpoint_list_t in_eps, out_eps, reply_eps, push_eps, control_eps;
    serve_worker_t *workers;
    int worker_count;
    atomic_int stop;
    atomic_int ready;                /* bound, loaded, not stopping: GET /readyz */
    atomic_uint_fast64_t started_jobs;   /* jobs the workers have taken */
    uint64_t dispatched;             /* jobs handed to the workers */
    serve_pending_t pending;
    serve_http_t *http;
    serve_zap_t *zap;
    pthread_t reload_thread;         /* SIGHUP: loads the rules (serve_reload) */
    int reloading, reload_again;
    atomic_int reload_done;          /* set by the reload thread when it is finished */
    nerd_rules_t *reload_result;     /* written by the reload thread, read after the join */
    char *reload_errors;
    double reload_ms;
    uint64_t started_ms;
    size_t in_flight, max_in_flight;
    int stopping;                    /* a SIGTERM/SIGINT came: drain and finish */
    int drain_phase;                 /* SERVE_DRAIN_*, while stopping */
    uint64_t last_input_ms;          /* while stopping: when a document last came in */
    uint64_t drain_checked_ms;       /* while stopping: the last serve_drain() */
    uint64_t drain_spent_ms;         /* time spent draining with room for more documents */
    int drain_had_room;              /* there was room at the last serve_drain() */
    int force;                       /* a second signal: exit without waiting */
} serve_t;

/* Written by the signal handlers, read by the main loop (zmq_poll watches it). */
static int serve_signal_fd[2] = { -1, -1 };

static void serve_on_signal(int sig)
{
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
    ssize_t n = write(serve_signal_fd[1], &byte, 1);
    (void)n;   /* a full pipe already holds enough wake-ups */
    errno = saved;
}

static int serve_more(void *socket)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &len);
    return more;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int serve_signals_install(void)
{
    if (pipe(serve_signal_fd) != 0) {
        log_error("cannot create the signal pipe: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(serve_signal_fd[i], F_SETFL, fcntl(serve_signal_fd[i], F_GETFL) | O_NONBLOCK);
        fcntl(serve_signal_fd[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = serve_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    return 0;
}

/* Blocks (how = SIG_BLOCK) or unblocks the signals we handle in the calling thread. */
static void serve_signals_mask(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(how, &set, NULL);
}

static void *serve_socket(serve_t *s, int type, const char *what)
{
    void *socket = zmq_socket(s->ctx, type);
    if (socket == NULL)
        log_error("cannot create the %s socket: %s", what, zmq_strerror(errno));
    return socket;
}

/* What every external socket gets before it binds or connects: linger, heartbeats, CURVE. */
static int serve_external_options(serve_t *s, void *socket, int type, const char *what)
{
    int linger = SERVE_LINGER_MS;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    if (type == ZMQ_PULL || type == ZMQ_ROUTER) {
        int64_t max = s->opts.max_bytes > 0 ? (int64_t)s->opts.max_bytes * 2 + 65536 : -1;
        zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max, sizeof max);
    }
    if (type == ZMQ_XPUB) {
        /* Always: a full subscriber must be seen (EAGAIN), never silently skipped. */
        int one = 1;
        zmq_setsockopt(socket, ZMQ_XPUB_NODROP, &one, sizeof one);
    }
    if (type == ZMQ_XPUB || type == ZMQ_PUSH) {
        int block = SERVE_BLOCK_MS;
        zmq_setsockopt(socket, ZMQ_SNDTIMEO, &block, sizeof block);
    }
    if (s->opts.heartbeat_ms > 0) {
        int ivl = (int)s->opts.heartbeat_ms, timeout = 3 * ivl, ttl = 3 * ivl;
        if (zmq_setsockopt(socket, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) != 0 ||
            zmq_setsockopt(socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout) != 0 ||
            zmq_setsockopt(socket, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl) != 0) {
            log_error("--%s: cannot set the heartbeat: %s", what, zmq_strerror(errno));
            return -1;
        }
    }
    if (s->zap != NULL &&
        (serve_zap_secure(s->zap, socket) != 0 || serve_zap_watch(s->zap, socket, what) != 0)) {
        log_error("--%s: cannot make it a CURVE server: %s", what, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* Creates and binds/connects an external socket; 0 or -1 (logged). */
static int serve_external(serve_t *s, void **socket, int type, const char *what,
                          const char *spec, endpoint_list_t *eps)
{
    char err[512];
    if (endpoint_parse(spec, 1, eps, err, sizeof err) != 0) {
        log_error("--%s: %s", what, err);
        return -1;
    }
    *socket = serve_socket(s, type, what);
    if (*socket == NULL || serve_external_options(s, *socket, type, what) != 0)
        return -1;
    if (endpoint_attach(*socket, eps, err, sizeof err) != 0) {
        log_error("--%s: %s", what, err);
        return -1;
    }
    return 0;
}

/* The control sockets: always inproc (for the HTTP thread), and --control unless "none".  The
 * default endpoint may be taken (several daemons on one machine): that only costs a warning. */
static int serve_open_control(serve_t *s)
{
    s->control_inproc = serve_socket(s, ZMQ_ROUTER, "control");
    if (s->control_inproc == NULL)
        return -1;
    int zero = 0;
    zmq_setsockopt(s->control_inproc, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s->control_inproc, SERVE_CONTROL_INPROC) != 0) {
        log_error("cannot bind %s: %s", SERVE_CONTROL_INPROC, zmq_strerror(errno));
        return -1;
    }
    if (s->opts.control == NULL)
        return 0;
    if (s->opts.control_given)
        return serve_external(s, &s->control, ZMQ_ROUTER, "control", s->opts.control,
                              &s->control_eps);
    char err[512];
    if (endpoint_parse(s->opts.control, 1, &s->control_eps, err, sizeof err) != 0)
        return -1;
    s->control = serve_socket(s, ZMQ_ROUTER, "control");
    if (s->control == NULL || serve_external_options(s, s->control, ZMQ_ROUTER, "control") != 0)
        return -1;
    if (endpoint_attach(s->control, &s->control_eps, err, sizeof err) != 0) {
        log_warn("no control socket (--control): %s; `nerd stats` cannot reach this daemon", err);
        zmq_setsockopt(s->control, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(s->control);
        s->control = NULL;
    }
    return 0;
}

static int serve_open_sockets(serve_t *s)
{
    s->work = serve_socket(s, ZMQ_PUSH, "work");
    s->done = serve_socket(s, ZMQ_PULL, "done");
    if (s->work == NULL || s->done == NULL)
        return -1;
    /* The in-flight bound keeps these queues small; a high-water mark would only risk a
     * deadlock between the main thread and the workers. */
    int zero = 0;
    zmq_setsockopt(s->work, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(s->done, ZMQ_RCVHWM, &zero, sizeof zero);
    if (zmq_bind(s->work, SERVE_WORK_ENDPOINT) != 0 ||
        zmq_bind(s->done, SERVE_DONE_ENDPOINT) != 0) {
        log_error("cannot bind the inproc sockets: %s", zmq_strerror(errno));
        return -1;
    }
    if (serve_external(s, &s->in, ZMQ_PULL, "in", s->opts.in, &s->in_eps) != 0 ||
        serve_external(s, &s->out, ZMQ_XPUB, "out", s->opts.out, &s->out_eps) != 0)
        return -1;
    if (s->opts.reply != NULL &&
        serve_external(s, &s->reply, ZMQ_ROUTER, "reply", s->opts.reply, &s->reply_eps) != 0)
        return -1;
    if (s->opts.out_push != NULL &&
        serve_external(s, &s->push, ZMQ_PUSH, "out-push", s->opts.out_push, &s->push_eps) != 0)
        return -1;
    return serve_open_control(s);
}

static int serve_start_workers(serve_t *s)
{
    s->workers = calloc((size_t)s->opts.threads, sizeof *s->workers);
    if (s->workers == NULL) {
        log_error("out of memory");
        return -1;
    }
    int zero = 0;
    for (int i = 0; i < s->opts.threads; i++) {
        serve_worker_t *w = &s->workers[i];
        w->index = i;
        w->rules = &s->rules;
        w->stop = &s->stop;
        w->started_jobs = &s->started_jobs;
        nerd_limits_default(&w->limits);
        w->limits.max_bytes = s->opts.max_bytes;
        if (s->opts.time_budget_ms >= 0)
            w->limits.time_budget_ms = (uint32_t)s->opts.time_budget_ms;
        if (s->opts.max_entities >= 0)
            w->limits.max_entities = (size_t)s->opts.max_entities;
        w->engine = nerd_worker_new();
        w->arena = nerd_arena_new(256 * 1024);
        w->work = serve_socket(s, ZMQ_PULL, "worker");
        w->done = serve_socket(s, ZMQ_PUSH, "worker");
        s->worker_count = i + 1;
        if (w->engine == NULL || w->arena == NULL || w->work == NULL || w->done == NULL) {
            log_error("cannot set up worker %d: out of memory", i);
            return -1;
        }
        zmq_setsockopt(w->work, ZMQ_RCVHWM, &zero, sizeof zero);
        zmq_setsockopt(w->done, ZMQ_SNDHWM, &zero, sizeof zero);
        if (zmq_connect(w->work, SERVE_WORK_ENDPOINT) != 0 ||
            zmq_connect(w->done, SERVE_DONE_ENDPOINT) != 0) {
            log_error("worker %d cannot connect: %s", i, zmq_strerror(errno));
            return -1;
        }
        /* The sockets now belong to the thread; pthread_create is the memory barrier ZeroMQ
         * asks for when a socket changes threads. */
        int rc = pthread_create(&w->thread, NULL, serve_worker_run, w);
        if (rc != 0) {
            log_error("cannot start worker %d: %s", i, strerror(rc));
            return -1;
        }
        w->started = 1;
    }
    s->max_in_flight = (size_t)s->opts.threads * SERVE_INFLIGHT_PER_WORKER;
    return 0;
}

/* Logs the errors of a failed load, one line each, and frees them. */
static void serve_log_rule_errors(char *errors)
{
    for (char *line = errors != NULL ? strtok(errors, "\n") : NULL; line != NULL;
         line = strtok(NULL, "\n"))
        log_error("  %s", line);
    free(errors);
}

/* Records a rule set just loaded in ms milliseconds: version, load time, when. */
static void serve_note_rules(serve_t *s, const nerd_rules_t *rules, double ms)
{
    s->stats.rule_set_load_ms = ms;
    s->stats.rule_set_loaded_at = (int64_t)time(NULL);
    snprintf(s->stats.rule_set_version, sizeof s->stats.rule_set_version, "%s",
             nerd_rules_version(rules));
}

/* Loads the rule set at start-up (logging every error). */
static nerd_rules_t *serve_load_rules(serve_t *s)
{
    char *errors = NULL;
    uint64_t start = serve_now_us();
    nerd_rules_t *rules = nerd_rules_load(s->rules_dir, &errors);
    if (rules != NULL) {
        serve_note_rules(s, rules, (double)(serve_now_us() - start) / 1000.0);
        free(errors);
    } else {
        serve_log_rule_errors(errors);
    }
    return rules;
}

/* ---- the loop: input ---------------------------------------------------------------------- */

/* Hands a job ([job][frames...]) to the workers and counts it. */
static void serve_dispatch(serve_t *s, serve_job_t *job, zmq_msg_t *frames, size_t count)
{
    job->received_us = serve_now_us();
    s->stats.received++;
    if (zmq_send(s->work, job, sizeof *job, ZMQ_SNDMORE) < 0) {
        /* Cannot happen with an unlimited inproc queue. */
        log_ratelimited(LOG_LEVEL_ERROR, "dispatch", "cannot hand a document to the workers: %s",
                        zmq_strerror(errno));
    }
    for (size_t i = 0; i < count; i++)
        if (zmq_msg_send(&frames[i], s->work, i + 1 < count ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close(&frames[i]);
    s->dispatched++;
    s->in_flight++;
}

/* Takes one Document from the input socket and hands it to a worker.  1, or 0 when none. */
static int serve_take_input(serve_t *s)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s->in, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return 0;
    }
    serve_job_t job = { SERVE_JOB_PULL, 0, 1, 0, 0 };
    /* A Document is one frame; the worker answers extra frames with a decode error. */
    while (serve_more(s->in)) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        zmq_msg_recv(&extra, s->in, 0);
        zmq_msg_close(&extra);
        job.frames++;
    }
    serve_dispatch(s, &job, &msg, 1);
    return 1;
}

/* Takes one request from the reply socket: [envelope...][Document].  1, or 0 when none. */
static int serve_take_request(serve_t *s)
{
    zmq_msg_t frames[SERVE_MAX_ENVELOPE + 1];
    size_t count = 0;
    int dropped = 0, more = 1;
    while (more) {
        zmq_msg_t spill;
        zmq_msg_t *frame = count <= SERVE_MAX_ENVELOPE ? &frames[count] : &spill;
        zmq_msg_init(frame);
        if (zmq_msg_recv(frame, s->reply, count == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(frame);
            if (count == 0)
                return 0;
            break;
        }
        more = zmq_msg_more(frame);
        if (frame == &spill) {
            zmq_msg_close(&spill);
            dropped = 1;
        } else {
            count++;
        }
    }
    if (dropped || count < 2) {
        for (size_t i = 0; i < count; i++)
            zmq_msg_close(&frames[i]);
        s->stats.unroutable++;
        log_ratelimited(LOG_LEVEL_WARN, "unroutable", "dropped a request on the reply socket: "
                        "its envelope is deeper than %d frames", SERVE_MAX_ENVELOPE);
        return 1;
    }
    serve_job_t job = { SERVE_JOB_REPLY, (uint32_t)(count - 1), 1, 0, 0 };
    serve_dispatch(s, &job, frames, count);
    return 1;
}

/* Reads and discards what subscribers send the XPUB (subscriptions), so it never piles up. */
static void serve_take_subscriptions(serve_t *s)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, s->out, ZMQ_DONTWAIT) >= 0) {
        const unsigned char *data = zmq_msg_data(&msg);
        if (zmq_msg_size(&msg) > 0)
            log_debug("a subscriber %s \"%.*s\"", data[0] == 1 ? "subscribed to"
                      : "unsubscribed from", (int)(zmq_msg_size(&msg) - 1), data + 1);
    }
    zmq_msg_close(&msg);
}

/* ---- the loop: output --------------------------------------------------------------------- */

/* Moves the next frame of the answer being read from done to socket (NULL = drop it). */
static void serve_relay(serve_t *s, void *socket, int more)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    zmq_msg_recv(&msg, s->done, 0);
    if (socket == NULL || zmq_msg_send(&msg, socket, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&msg);
}

/* Counts a Result that is out (published, replied or dropped). */
static void serve_count_answer(serve_t *s, const serve_job_t *job, uint64_t *bucket)
{
    (*bucket)++;
    if (job->code != 0) {
        s->stats.errors++;
        s->stats.by_reason[serve_reason_index(job->code)]++;
    }
    uint64_t now = serve_now_us();
    serve_stats_record(&s->stats, now > job->received_us ? now - job->received_us : 0,
                       now / 1000u);
    s->in_flight--;
}

/* Sends [topic][result] (copies; the originals stay) on socket.  0, or -1 with errno (EAGAIN:
 * no room).  Once the first frame is taken ZeroMQ always takes the second. */
static int serve_send_pair(void *socket, zmq_msg_t *topic, zmq_msg_t *result, int flags)
{
    zmq_msg_t t, r;
    zmq_msg_init(&t);
    zmq_msg_init(&r);
    zmq_msg_copy(&t, topic);
    zmq_msg_copy(&r, result);
    if (zmq_msg_send(&t, socket, flags | ZMQ_SNDMORE) < 0) {
        int saved = errno;
        zmq_msg_close(&t);
        zmq_msg_close(&r);
        errno = saved;
        return -1;
    }
    if (zmq_msg_send(&r, socket, flags & ~ZMQ_SNDMORE) < 0) {
        zmq_msg_close(&r);
        return -1;
    }
    return 0;
}

/*
 * Sends the pending Result to the outputs that have not taken it.  block: wait up to
 * SERVE_BLOCK_MS for room.  Returns 1 when it is out (and counted), 0 when an output is full.
 */
static int serve_flush(serve_t *s, int block)
{
    serve_pending_t *p = &s->pending;
    int flags = block ? 0 : ZMQ_DONTWAIT;
    if (!p->pub_done) {
        if (serve_send_pair(s->out, &p->topic, &p->result,
                            s->opts.no_drop ? flags : ZMQ_DONTWAIT) != 0) {
            if (errno != EAGAIN) {
                log_ratelimited(LOG_LEVEL_ERROR, "publish", "cannot publish a result: %s",
                                zmq_strerror(errno));
                p->dropped = 1;
            } else if (s->opts.no_drop) {
                return 0;
            } else {
                /* Dropped for every subscriber, not only the full one: sending it with NODROP
                 * off would let ZeroMQ skip the full subscriber silently for a while after. */
                p->dropped = 1;
                log_ratelimited(LOG_LEVEL_WARN, "dropped", "a subscriber is too slow (its queue "
                                "is full): result dropped (%" PRIu64 " so far; --no-drop makes "
                                "the daemon wait instead)", s->stats.dropped + 1);
            }
        }
        p->pub_done = 1;
    }
    if (s->push != NULL && !p->push_done) {
        if (serve_send_pair(s->push, &p->topic, &p->result, flags) != 0) {
            if (errno == EAGAIN)
                return 0;
            log_ratelimited(LOG_LEVEL_ERROR, "publish", "cannot push a result: %s",
                            zmq_strerror(errno));
        }
        p->push_done = 1;
    }
    serve_count_answer(s, &p->job, p->dropped ? &s->stats.dropped : &s->stats.published);
    zmq_msg_close(&p->topic);
    zmq_msg_close(&p->result);
    p->active = 0;
    return 1;
}

/* Forwards one worker answer to the outputs or the reply socket.  1, or 0 when none waits. */
static int serve_take_answer(serve_t *s)
{
    serve_job_t job;
    int n = zmq_recv(s->done, &job, sizeof job, ZMQ_DONTWAIT);
    if (n < 0)
        return 0;
    if (n != (int)sizeof job)
        return 1;   /* cannot happen: only our workers connect here */
    if (job.kind == SERVE_JOB_REPLY) {
        for (uint32_t i = 0; i < job.envelope; i++)
            serve_relay(s, s->reply, 1);
        serve_relay(s, NULL, 0);            /* the topic: not part of a reply */
        serve_relay(s, s->reply, 0);
        serve_count_answer(s, &job, &s->stats.replied);
        return 1;
    }
    serve_pending_t *p = &s->pending;
    p->job = job;
    zmq_msg_init(&p->topic);
    zmq_msg_init(&p->result);
    zmq_msg_recv(&p->topic, s->done, 0);
    zmq_msg_recv(&p->result, s->done, 0);
    p->pub_done = p->push_done = p->dropped = 0;
    p->active = 1;
    serve_flush(s, 0);
    return 1;
}

/* ---- the loop: control -------------------------------------------------------------------- */

/* Copies the gauges into the counters before a report. */
static void serve_fill_gauges(serve_t *s)
{
    s->stats.threads = s->opts.threads;
    s->stats.in_flight = s->in_flight;
    uint64_t started = atomic_load(&s->started_jobs);
    s->stats.queue_depth = s->dispatched > started ? s->dispatched - started : 0;
    s->stats.uptime_s = (double)(serve_now_ms() - s->started_ms) / 1000.0;
}

/* Builds the answer to request[0..len) into out. */
static void serve_control_answer(serve_t *s, const char *request, size_t len, buf_t *out)
{
    while (len > 0 && (request[len - 1] == '\n' || request[len - 1] == '\r' ||
                       request[len - 1] == ' '))
        len--;
    serve_fill_gauges(s);
    uint64_t now = serve_now_ms();
    int rc;
    if (len == 5 && memcmp(request, "stats", 5) == 0) {
        rc = serve_stats_json(&s->stats, now, out);
    } else if (len == 7 && memcmp(request, "metrics", 7) == 0) {
        rc = serve_stats_prometheus(&s->stats, now, out);
    } else if (len == 4 && memcmp(request, "ping", 4) == 0) {
        rc = buf_puts(out, "pong");
    } else {
        char shown[65];
        size_t n = len < 64 ? len : 64;
        for (size_t i = 0; i < n; i++)
            shown[i] = request[i] >= 0x20 && request[i] < 0x7f ? request[i] : '?';
        shown[n] = '\0';
        char text[96];
        snprintf(text, sizeof text, "unknown request: %s", shown);
        rc = buf_puts(out, "{\"error\":");
        rc |= json_put_cstr(out, text);
        rc |= buf_puts(out, "}");
    }
    if (rc != 0) {
        buf_clear(out);
        buf_puts(out, "{\"error\":\"out of memory\"}");
    }
}

/* Answers one request on a control ROUTER: [routing...][request] -> [routing...][answer]. */
static int serve_take_control(serve_t *s, void *socket)
{
    zmq_msg_t frames[SERVE_CONTROL_FRAMES];
    size_t count = 0;
    int more = 1, overflow = 0;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, count == 0 && !overflow ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&frame);
            if (count == 0 && !overflow)
                return 0;
            break;
        }
        more = zmq_msg_more(&frame);
        if (count < SERVE_CONTROL_FRAMES) {
            zmq_msg_init(&frames[count]);
            zmq_msg_move(&frames[count++], &frame);
        } else {
            overflow = 1;
        }
        zmq_msg_close(&frame);
    }
    if (count >= 2 && !overflow) {
        buf_t answer = BUF_INIT;
        zmq_msg_t *request = &frames[count - 1];
        serve_control_answer(s, zmq_msg_data(request), zmq_msg_size(request), &answer);
        for (size_t i = 0; i + 1 < count; i++)
            if (zmq_msg_send(&frames[i], socket, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                zmq_msg_close(&frames[i]);
        zmq_send(socket, answer.data != NULL ? answer.data : "", answer.len, ZMQ_DONTWAIT);
        buf_free(&answer);
        zmq_msg_close(&frames[count - 1]);
    } else {
        for (size_t i = 0; i < count; i++)
            zmq_msg_close(&frames[i]);
    }
    return 1;
}

/* ---- the loop: signals -------------------------------------------------------------------- */

/*
 * SIGHUP: the rules are loaded by a thread of their own (a big set takes a second or more), so
 * that documents, the control socket and /healthz are served meanwhile by the old set.  The
 * thread sets reload_done and wakes the loop through the signal pipe; serve_reload_finish then
 * swaps the set in.  A SIGHUP during a reload starts another one after it (files may have
 * changed again).
 */
static void *serve_reload_run(void *arg)
{
    serve_t *s = arg;
    uint64_t start = serve_now_us();
    s->reload_result = nerd_rules_load(s->rules_dir, &s->reload_errors);
    s->reload_ms = (double)(serve_now_us() - start) / 1000.0;
    atomic_store(&s->reload_done, 1);
    unsigned char wake = SERVE_WAKE_RELOADED;
    ssize_t n = write(serve_signal_fd[1], &wake, 1);
    (void)n;   /* a full pipe wakes the loop anyway */
    return NULL;
}

static void serve_reload(serve_t *s)
{
    if (s->reloading) {
        s->reload_again = 1;
        return;
    }
    log_info("SIGHUP: reloading the rules from %s", s->rules_dir);
    serve_notify("RELOADING=1");
    s->reload_result = NULL;
    s->reload_errors = NULL;
    atomic_store(&s->reload_done, 0);
    /* The thread must not take our signals. */
    serve_signals_mask(SIG_BLOCK);
    int rc = pthread_create(&s->reload_thread, NULL, serve_reload_run, s);
    serve_signals_mask(SIG_UNBLOCK);
    if (rc != 0) {
        log_error("reload failed: cannot start a thread: %s", strerror(rc));
        s->stats.reload_failures++;
        serve_notify("READY=1");
        return;
    }
    s->reloading = 1;
}

/* Waits for the reload thread and installs what it loaded. */
static void serve_reload_finish(serve_t *s)
{
    pthread_join(s->reload_thread, NULL);
    s->reloading = 0;
    nerd_rules_t *rules = s->reload_result;
    s->reload_result = NULL;
    if (rules == NULL) {
        serve_log_rule_errors(s->reload_errors);
        log_error("reload failed; still serving version %s", s->stats.rule_set_version);
        s->stats.reload_failures++;
    } else {
        free(s->reload_errors);
        serve_note_rules(s, rules, s->reload_ms);
        log_info("reloaded the rules: version %s, %zu rules, %.1f ms", nerd_rules_version(rules),
                 nerd_rules_count(rules), s->reload_ms);
        serve_rules_swap(&s->rules, rules);
        s->stats.reloads++;
    }
    s->reload_errors = NULL;
    serve_notify("READY=1");
    if (s->reload_again) {
        s->reload_again = 0;
        serve_reload(s);
    }
}

static const char *serve_signal_name(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    default: return "signal";
    }
}

static void serve_begin_stop(serve_t *s, int sig)
{
    if (s->stopping) {
        log_warn("%s again: exiting now, %zu documents in flight are lost", serve_signal_name(sig),
                 s->in_flight);
        s->force = 1;
        return;
    }
    s->stopping = 1;
    atomic_store(&s->ready, 0);
    serve_notify("STOPPING=1");
    s->last_input_ms = serve_now_ms();
    s->drain_checked_ms = s->last_input_ms;
    s->drain_spent_ms = 0;
    s->drain_had_room = 0;
    s->drain_phase = SERVE_DRAIN_QUIET;
    log_info("%s: stopping; finishing %zu documents in flight", serve_signal_name(sig),
             s->in_flight);
}

static void serve_handle_signals(serve_t *s)
{
    unsigned char sigs[64];
    ssize_t n;
    while ((n = read(serve_signal_fd[0], sigs, sizeof sigs)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (sigs[i] == SIGHUP)
                serve_reload(s);
            else if (sigs[i] != SERVE_WAKE_RELOADED)
                serve_begin_stop(s, sigs[i]);
        }
    }
    if (s->reloading && atomic_load(&s->reload_done))
        serve_reload_finish(s);
}

/* Room for one more document: under the in-flight bound and no Result waiting for an output. */
static int serve_has_room(const serve_t *s)
{
    return s->in_flight < s->max_in_flight && !s->pending.active;
}

/*
 * While stopping: takes what the clients had already sent.  First the input is read until it
 * has been quiet for SERVE_QUIET_MS (documents still on their way through ZeroMQ's I/O thread
 * when the signal came are taken too), then its endpoints are unbound/disconnected, so upstream
 * pushers send elsewhere, and what the pipes still hold is read.  A backlog is always worked off
 * (however slow the workers or the subscribers); only clients that keep sending are cut off,
 * after SERVE_LINGER_MS spent with room for more documents.
 */
static void serve_drain(serve_t *s)
{
    if (s->drain_phase == SERVE_DRAIN_DONE)
        return;
    uint64_t now = serve_now_ms();
    int had_room = serve_has_room(s);
    if (s->drain_had_room)
        s->drain_spent_ms += now - s->drain_checked_ms;
    s->drain_checked_ms = now;
    if (s->drain_spent_ms > SERVE_LINGER_MS) {
        s->drain_phase = SERVE_DRAIN_DONE;
        return;
    }
    int took = 0;
    while (serve_has_room(s) && serve_take_input(s))
        took = 1;
    while (s->reply != NULL && serve_has_room(s) && serve_take_request(s))
        took = 1;
    /* Full again: the time until the workers make room does not count. */
    s->drain_had_room = had_room && serve_has_room(s);
    if (took || !serve_has_room(s)) {
        s->last_input_ms = now;
        return;
    }
    if (s->drain_phase == SERVE_DRAIN_QUIET && now - s->last_input_ms >= SERVE_QUIET_MS) {
        endpoint_detach(s->in, &s->in_eps);
        s->drain_phase = SERVE_DRAIN_DETACHED;
    } else if (s->drain_phase == SERVE_DRAIN_DETACHED) {
        s->drain_phase = SERVE_DRAIN_DONE;
    }
}

static int serve_loop(serve_t *s)
{
    for (;;) {
        if (s->force)
            return s->in_flight > 0 ? -1 : 0;   /* documents were lost: say so */
        /* A full output: wait a little for room (ZeroMQ wakes us as soon as there is). */
        if (s->pending.active)
            serve_flush(s, 1);
        if (s->stopping) {
            serve_drain(s);
            if (s->drain_phase == SERVE_DRAIN_DONE && s->in_flight == 0)
                return 0;
        }
        zmq_pollitem_t items[8];
        int n = 0;
        items[n++] = (zmq_pollitem_t){ NULL, serve_signal_fd[0], ZMQ_POLLIN, 0 };
        items[n++] = (zmq_pollitem_t){ s->out, 0, ZMQ_POLLIN, 0 };
        items[n++] = (zmq_pollitem_t){ s->control_inproc, 0, ZMQ_POLLIN, 0 };
        int control_at = -1, done_at = -1, in_at = -1, reply_at = -1;
        if (s->control != NULL) {
            control_at = n;
            items[n++] = (zmq_pollitem_t){ s->control, 0, ZMQ_POLLIN, 0 };
        }
        if (!s->pending.active) {
            done_at = n;
            items[n++] = (zmq_pollitem_t){ s->done, 0, ZMQ_POLLIN, 0 };
        }
        if (!s->stopping && serve_has_room(s)) {
            in_at = n;
            items[n++] = (zmq_pollitem_t){ s->in, 0, ZMQ_POLLIN, 0 };
            if (s->reply != NULL) {
                reply_at = n;
                items[n++] = (zmq_pollitem_t){ s->reply, 0, ZMQ_POLLIN, 0 };
            }
        }
        long timeout = s->pending.active ? 0 : s->stopping ? 50 : -1;
        int rc = zmq_poll(items, n, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll failed: %s", zmq_strerror(errno));
            return -1;
        }
        if (items[0].revents & ZMQ_POLLIN)
            serve_handle_signals(s);
        if (items[1].revents & ZMQ_POLLIN)
            serve_take_subscriptions(s);
        if (items[2].revents & ZMQ_POLLIN)
            while (serve_take_control(s, s->control_inproc))
                ;
        if (control_at >= 0 && (items[control_at].revents & ZMQ_POLLIN))
            while (serve_take_control(s, s->control))
                ;
        if (done_at >= 0 && (items[done_at].revents & ZMQ_POLLIN))
            while (!s->pending.active && serve_take_answer(s))
                ;
        if (s->stopping)
            continue;
        if (in_at >= 0 && (items[in_at].revents & ZMQ_POLLIN))
            while (serve_has_room(s) && serve_take_input(s))
                ;
        if (reply_at >= 0 && (items[reply_at].revents & ZMQ_POLLIN))
            while (serve_has_room(s) && serve_take_request(s))
                ;
    }
}

/* ---- tear-down ---------------------------------------------------------------------------- */

static void serve_stop_workers(serve_t *s)
{
    atomic_store(&s->stop, 1);
    serve_job_t stop = { SERVE_JOB_STOP, 0, 0, 0, 0 };
    for (int i = 0; i < s->worker_count; i++)
        if (s->workers[i].started && s->work != NULL)
            zmq_send(s->work, &stop, sizeof stop, ZMQ_DONTWAIT);
    for (int i = 0; i < s->worker_count; i++) {
        serve_worker_t *w = &s->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        w->started = 0;
    }
}

static void serve_close_socket(void **socket, int linger)
{
    if (*socket == NULL)
        return;
    zmq_setsockopt(*socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(*socket);
    *socket = NULL;
}

static void serve_teardown(serve_t *s)
{
    /* First the HTTP thread: it may be asking the main thread over inproc. */
    serve_http_stop(&s->http);
    if (s->reloading) {
        pthread_join(s->reload_thread, NULL);
        s->reloading = 0;
        nerd_rules_unref(&s->reload_result);
        free(s->reload_errors);
        s->reload_errors = NULL;
    }
    if (s->workers != NULL)
        serve_stop_workers(s);
    for (int i = 0; i < s->worker_count; i++) {
        serve_worker_t *w = &s->workers[i];
        serve_close_socket(&w->work, 0);
        serve_close_socket(&w->done, 0);
        nerd_worker_destroy(&w->engine);
        nerd_arena_destroy(&w->arena);
    }
    free(s->workers);
    s->workers = NULL;
    if (s->pending.active) {
        zmq_msg_close(&s->pending.topic);
        zmq_msg_close(&s->pending.result);
        s->pending.active = 0;
    }
    serve_close_socket(&s->work, 0);
    serve_close_socket(&s->done, 0);
    serve_close_socket(&s->in, 0);
    serve_close_socket(&s->control, 0);
    serve_close_socket(&s->control_inproc, 0);
    /* After a forced stop a blocked output must not hold the exit up. */
    int linger = s->force ? 0 : SERVE_LINGER_MS;
    serve_close_socket(&s->reply, linger);
    serve_close_socket(&s->out, linger);
    serve_close_socket(&s->push, linger);
    serve_zap_stop(&s->zap);
    if (s->ctx != NULL)
        zmq_ctx_term(s->ctx);
    s->ctx = NULL;
    nerd_rules_unref(&s->rules.rules);
    pthread_mutex_destroy(&s->rules.lock);
    for (int i = 0; i < 2; i++) {
        if (serve_signal_fd[i] >= 0)
            close(serve_signal_fd[i]);
        serve_signal_fd[i] = -1;
    }
}

static void serve_log_stats(const serve_t *s)
{
    char reasons[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < SERVE_REASONS; i++) {
        if (s->stats.by_reason[i] == 0)
            continue;
        int n = snprintf(reasons + used, sizeof reasons - used, "%s%s %" PRIu64,
                         used > 0 ? ", " : " (", serve_reason_name(i), s->stats.by_reason[i]);
        if (n > 0 && (size_t)n < sizeof reasons - used)
            used += (size_t)n;
    }
    if (used > 0 && used + 1 < sizeof reasons)
        strcat(reasons, ")");
    log_info("stopped: received %" PRIu64 ", published %" PRIu64 ", replied %" PRIu64
             ", dropped %" PRIu64 ", errors %" PRIu64 "%s, unroutable %" PRIu64 ", reloads %"
             PRIu64 " (%" PRIu64 " failed)", s->stats.received, s->stats.published,
             s->stats.replied, s->stats.dropped, s->stats.errors, reasons, s->stats.unroutable,
             s->stats.reloads, s->stats.reload_failures);
}

static void serve_log_ready(const serve_t *s)
{
    char in[512], out[512], reply[512], push[512], control[512];
    nerd_rules_t *rules = s->rules.rules;
    log_info("ready: in %s, out %s%s, reply %s, out-push %s, control %s, metrics %s; %d threads; "
             "rules %s version %s (%zu rules); max-bytes %zu; heartbeat %ld ms; %s",
             endpoint_format(&s->in_eps, in, sizeof in),
             endpoint_format(&s->out_eps, out, sizeof out), s->opts.no_drop ? " (no-drop)" : "",
             s->reply != NULL ? endpoint_format(&s->reply_eps, reply, sizeof reply) : "none",
             s->push != NULL ? endpoint_format(&s->push_eps, push, sizeof push) : "none",
             s->control != NULL ? endpoint_format(&s->control_eps, control, sizeof control)
                                : "none",
             s->http != NULL ? serve_http_address(s->http) : "none", s->opts.threads,
             s->rules_dir, nerd_rules_version(rules), nerd_rules_count(rules),
             s->opts.max_bytes, s->opts.heartbeat_ms, s->zap != NULL ? "CURVE" : "no CURVE");
}

/* Everything between parsing and the loop; 0 or -1 (logged). */
static int serve_start(serve_t *s)
{
    char err[512];
    s->ctx = zmq_ctx_new();
    if (s->ctx == NULL) {
        log_error("cannot create the ZeroMQ context: %s", zmq_strerror(errno));
        return -1;
    }
    if (serve_signals_install() != 0)
        return -1;
    if (s->opts.metrics != NULL) {
        s->http = serve_http_start(s->ctx, s->opts.metrics, &s->ready, err, sizeof err);
        if (s->http == NULL) {
            log_error("%s", err);
            return -1;
        }
    }
    s->rules.rules = serve_load_rules(s);
    if (s->rules.rules == NULL) {
        log_error("cannot load the rules in %s", s->rules_dir);
        return -1;
    }
    /* the name Documents may ask for (Document.rule_set): the version's "NAME@hash" part, the
     * rule directory's last component; reloads read the same directory, so it stays */
    const char *version = nerd_rules_version(s->rules.rules);
    snprintf(s->rules.name, sizeof s->rules.name, "%.*s", (int)strcspn(version, "@"), version);
    if (s->opts.curve_secret != NULL) {
        s->zap = serve_zap_start(s->ctx, s->opts.curve_secret, s->opts.curve_allow, err,
                                 sizeof err);
        if (s->zap == NULL) {
            log_error("%s", err);
            return -1;
        }
    }
    if (serve_open_sockets(s) != 0)
        return -1;
    if (serve_drop_privileges(s->opts.user, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    return serve_start_workers(s);
}

int serve_main(int argc, char **argv)
{
    static serve_t serve;   /* static: big (endpoint lists, counters) and one per process */
    serve_t *s = &serve;
    memset(s, 0, sizeof *s);
    char **expanded = NULL;
    int expanded_argc = 0;
    int rc = serve_opts_parse(argc, argv, &s->opts, &expanded, &expanded_argc);
    if (rc != 0) {
        config_free_args(expanded, expanded_argc);
        return rc < 0 ? CLI_OK : rc;
    }
    char err[512];
    if (serve_check_user(s->opts.user, s->opts.allow_root, err, sizeof err) != 0) {
        log_error("%s", err);
        config_free_args(expanded, expanded_argc);
        return CLI_USAGE;
    }

    s->started_ms = serve_now_ms();
    s->rules_dir = cli_rules_dir(s->opts.rules_dir);
    pthread_mutex_init(&s->rules.lock, NULL);
    atomic_init(&s->stop, 0);
    atomic_init(&s->ready, 0);
    atomic_init(&s->started_jobs, 0);
    atomic_init(&s->reload_done, 0);

    /* Threads started from here on (ZeroMQ's and ours) inherit a mask without our signals, so
     * that only the main thread runs the handlers. */
    serve_signals_mask(SIG_BLOCK);
    int status = CLI_FAILED;
    if (serve_start(s) == 0) {
        serve_signals_mask(SIG_UNBLOCK);
        atomic_store(&s->ready, 1);
        serve_log_ready(s);
        serve_notify("READY=1");
        status = serve_loop(s) == 0 ? CLI_OK : CLI_FAILED;
        atomic_store(&s->ready, 0);
        serve_log_stats(s);
    }
    serve_teardown(s);
    config_free_args(expanded, expanded_argc);
    return status;
}
