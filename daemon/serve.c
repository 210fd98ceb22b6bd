/*
 * serve.c - `nerd serve`: the daemon's main thread (see serve.h for the whole picture).
 *
 * The main thread owns every external socket.  It polls the input (PULL), the reply socket
 * (ROUTER), the workers' answers (inproc PULL) and a self-pipe that the signal handlers write to,
 * and does everything else in that loop: jobs out to the workers, Results out to PUB/ROUTER,
 * counters, reloads (SIGHUP) and the shutdown (SIGTERM/SIGINT).
 *
 * Shutdown: what clients had already sent is still taken (until the input has been quiet for a
 * moment; see serve_drain), then the input endpoints are unbound/disconnected, every job
 * in flight is answered and published, and only then are the sockets closed, with ZMQ_LINGER =
 * SERVE_LINGER_MS so the last Results reach the network.  A second signal skips the wait.
 *
 * Memory: ZMQ_MAXMSGSIZE on the input sockets is 2 x --max-bytes + 64 KiB: a Document slightly
 * over the limit still gets its "too_big" error Result, while a frame far over it makes ZeroMQ drop
 * the connection before the frame is ever held in memory.
 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "codec.h"
#include "log.h"

static const char serve_usage[] =
    "Usage: nerd serve [OPTIONS]\n"
    "\n"
    "Runs the daemon: receives nerd.v1.Document frames, publishes one nerd.v1.Result for each.\n"
    "\n"
    "Endpoints (ZeroMQ syntax; \"@\" binds, \">\" connects, bare binds; several separated by\n"
    "commas):\n"
    "  -i, --in ENDPOINT      PULL socket for Documents (default @" SERVE_DEFAULT_IN ")\n"
    "  -o, --out ENDPOINT     PUB socket for Results (default @" SERVE_DEFAULT_OUT "),\n"
    "                         two frames: [topic][Result]; topic \"result\" when status is\n"
    "                         OK, \"error.CODE\" for errors (error.decode, error.utf8,\n"
    "                         error.too_big, ...)\n"
    "  -r, --reply ENDPOINT   also a ROUTER socket answering each Document (from REQ or DEALER\n"
    "                         clients) with its Result on the same socket (default: none)\n"
    "\n"
    "Options:\n"
    "  -R, --rules DIR        rule set (default: $NERD_RULES, else ../rules/en next to the\n"
    "                         executable, else " NERD_DATADIR "/rules/en); SIGHUP reloads it\n"
    "  -t, --threads N        worker threads (default: the number of online cores)\n"
    "  -m, --max-bytes N      longest text accepted, k/M/G suffixes allowed (default 4M;\n"
    "                         0 = no limit); longer ones get an error.too_big Result, frames\n"
    "                         over 2N+64k are refused by ZeroMQ (the sender is disconnected)\n"
    "  -b, --time-budget MS   wall-clock time a document may take before it gets an\n"
    "                         error.timeout Result (default 2000; 0 = no budget)\n"
    "  -q, --quiet            log warnings and errors only\n"
    "  -v, --verbose          log debug messages too\n"
    "  -h, --help             show this help\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop taking input, publish every Result in flight, exit 0 (a second\n"
    "one exits at once, status 1 if documents were lost); SIGHUP reloads the rules (a set that fails to load is logged and the old\n"
    "one keeps serving).  With --threads 1 results come out in input order; with more threads\n"
    "documents may overtake each other.\n"
    "\n"
    "Examples:\n"
    "  nerd serve\n"
    "  nerd serve --threads 4 --reply @tcp://127.0.0.1:5557\n"
    "  nerd serve --in '>tcp://hub:6000' --out '>tcp://hub:6001'   # behind a proxy pair\n";

/* Stopping goes through these phases (see serve_drain). */
enum { SERVE_DRAIN_QUIET, SERVE_DRAIN_DETACHED, SERVE_DRAIN_DONE };
#define SERVE_QUIET_MS 150

typedef struct serve {
    serve_opts_t opts;
    serve_stats_t stats;
    serve_rules_t rules;
    const char *rules_dir;
    void *ctx;
    void *in, *out, *reply;          /* external sockets (reply may be NULL) */
    void *work, *done;               /* inproc: jobs out, answers in */
    endpoint_list_t in_eps, out_eps, reply_eps;
    serve_worker_t *workers;
    int worker_count;
    atomic_int stop;
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

static uint64_t serve_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int serve_more(void *socket)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &len);
    return more;
}

/* ---- options ------------------------------------------------------------------------------ */

static int serve_parse(int argc, char **argv, serve_opts_t *opts)
{
    static const struct option longopts[] = {
        { "in", required_argument, NULL, 'i' },
        { "out", required_argument, NULL, 'o' },
        { "reply", required_argument, NULL, 'r' },
        { "rules", required_argument, NULL, 'R' },
        { "threads", required_argument, NULL, 't' },
        { "max-bytes", required_argument, NULL, 'm' },
        { "time-budget", required_argument, NULL, 'b' },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opts->in = SERVE_DEFAULT_IN;
    opts->out = SERVE_DEFAULT_OUT;
    opts->threads = cores > 0 ? (int)(cores < 256 ? cores : 256) : 1;
    opts->max_bytes = SERVE_DEFAULT_MAX_BYTES;
    opts->time_budget_ms = -1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":i:o:r:R:t:m:b:qvh", longopts, NULL)) != -1) {
        long value;
        uint64_t size;
        switch (opt) {
        case 'i': opts->in = optarg; break;
        case 'o': opts->out = optarg; break;
        case 'r': opts->reply = optarg; break;
        case 'R': opts->rules_dir = optarg; break;
        case 't':
            if (cli_parse_long(optarg, 1, 256, &value) != 0)
                return cli_usage_error("serve", "--threads: '%s' is not a number from 1 to 256",
                                       optarg);
            opts->threads = (int)value;
            break;
        case 'm':
            /* Bounded so that 2N + 64 KiB still fits ZMQ_MAXMSGSIZE's int64. */
            if (cli_parse_size(optarg, (uint64_t)1 << 40, &size) != 0)
                return cli_usage_error("serve", "--max-bytes: '%s' is not a size (e.g. 4M)",
                                       optarg);
            opts->max_bytes = (size_t)size;
            break;
        case 'b':
            if (cli_parse_long(optarg, 0, 86400000L, &opts->time_budget_ms) != 0)
                return cli_usage_error("serve", "--time-budget: '%s' is not a number of "
                                       "milliseconds", optarg);
            break;
        case 'q': log_set_level(LOG_LEVEL_WARN); break;
        case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
        case 'h':
            fputs(serve_usage, stdout);
            return -1;
        default:
            return cli_bad_option("serve", argv, opt);
        }
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    return 0;
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
    if (*socket == NULL)
        return -1;
    int linger = SERVE_LINGER_MS;
    zmq_setsockopt(*socket, ZMQ_LINGER, &linger, sizeof linger);
    if (type != ZMQ_PUB) {
        int64_t max = s->opts.max_bytes > 0 ? (int64_t)s->opts.max_bytes * 2 + 65536 : -1;
        zmq_setsockopt(*socket, ZMQ_MAXMSGSIZE, &max, sizeof max);
    }
    if (endpoint_attach(*socket, eps, err, sizeof err) != 0) {
        log_error("--%s: %s", what, err);
        return -1;
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
        serve_external(s, &s->out, ZMQ_PUB, "out", s->opts.out, &s->out_eps) != 0)
        return -1;
    if (s->opts.reply != NULL &&
        serve_external(s, &s->reply, ZMQ_ROUTER, "reply", s->opts.reply, &s->reply_eps) != 0)
        return -1;
    return 0;
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
        nerd_limits_default(&w->limits);
        w->limits.max_bytes = s->opts.max_bytes;
        if (s->opts.time_budget_ms >= 0)
            w->limits.time_budget_ms = (uint32_t)s->opts.time_budget_ms;
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

/* The directory's last component, for Document.rule_set. */
static void serve_rules_name(const char *dir, char *out, size_t outlen)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    snprintf(out, outlen, "%.*s", (int)(len - start), dir + start);
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Takes one Document from the input socket and hands it to a worker.  1, or 0 when none. */
static int serve_take_input(serve_t *s)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s->in, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return 0;
    }
    serve_job_t job = { SERVE_JOB_PULL, 0, 1, 0 };
    /* A Document is one frame; the worker answers extra frames with a decode error. */
    while (serve_more(s->in)) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        zmq_msg_recv(&extra, s->in, 0);
        zmq_msg_close(&extra);
        job.frames++;
    }
    s->stats.received++;
    if (zmq_send(s->work, &job, sizeof job, ZMQ_SNDMORE) < 0 ||
        zmq_msg_send(&msg, s->work, 0) < 0) {
        /* Cannot happen with an unlimited inproc queue; never count a job that is not there. */
        log_ratelimited(LOG_LEVEL_ERROR, "dispatch", "cannot hand a document to the workers: %s",
                        zmq_strerror(errno));
        zmq_msg_close(&msg);
        return 1;
    }
    s->in_flight++;
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
    serve_job_t job = { SERVE_JOB_REPLY, (uint32_t)(count - 1), 1, 0 };
    zmq_send(s->work, &job, sizeof job, ZMQ_SNDMORE);
    for (size_t i = 0; i < count; i++)
        if (zmq_msg_send(&frames[i], s->work, i + 1 < count ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close(&frames[i]);
    s->in_flight++;
    s->stats.received++;
    return 1;
}

/* Moves the next frame of the answer being read from done to socket (NULL = drop it). */
static void serve_relay(serve_t *s, void *socket, int more)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    zmq_msg_recv(&msg, s->done, 0);
    if (socket == NULL || zmq_msg_send(&msg, socket, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&msg);
}

/* Forwards one worker answer to PUB or the reply socket.  1, or 0 when none is waiting. */
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
        s->stats.replied++;
    } else {
        serve_relay(s, s->out, 1);
        serve_relay(s, s->out, 0);
        s->stats.published++;
    }
    if (job.code != 0) {
        s->stats.errors++;
        s->stats.by_reason[serve_reason_index(job.code)]++;
    }
    s->in_flight--;
    return 1;
}

static void serve_reload(serve_t *s)
{
    char *errors = NULL;
    log_info("SIGHUP: reloading the rules from %s", s->rules_dir);
    nerd_rules_t *rules = nerd_rules_load(s->rules_dir, &errors);
    if (rules == NULL) {
        nerd_rules_t *current = serve_rules_get(&s->rules);
        log_error("reload failed; still serving version %s", nerd_rules_version(current));
        nerd_rules_unref(&current);
        for (char *line = errors != NULL ? strtok(errors, "\n") : NULL; line != NULL;
             line = strtok(NULL, "\n"))
            log_error("  %s", line);
        free(errors);
        s->stats.reload_failures++;
        return;
    }
    free(errors);
    log_info("reloaded the rules: version %s, %zu rules", nerd_rules_version(rules),
             nerd_rules_count(rules));
    serve_rules_swap(&s->rules, rules);
    s->stats.reloads++;
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
            else
                serve_begin_stop(s, sigs[i]);
        }
    }
}

/*
 * While stopping: takes what the clients had already sent.  First the input is read until it
 * has been quiet for SERVE_QUIET_MS (documents still on their way through ZeroMQ's I/O thread
 * when the signal came are taken too), then its endpoints are unbound/disconnected, so upstream
 * pushers send elsewhere, and what the pipes still hold is read.  A backlog is always worked off
 * (however slow the workers); only clients that keep sending are cut off, after SERVE_LINGER_MS
 * spent with room for more documents.
 */
static void serve_drain(serve_t *s)
{
    if (s->drain_phase == SERVE_DRAIN_DONE)
        return;
    uint64_t now = serve_now_ms();
    int had_room = s->in_flight < s->max_in_flight;
    if (s->drain_had_room)
        s->drain_spent_ms += now - s->drain_checked_ms;
    s->drain_checked_ms = now;
    if (s->drain_spent_ms > SERVE_LINGER_MS) {
        s->drain_phase = SERVE_DRAIN_DONE;
        return;
    }
    int took = 0;
    while (s->in_flight < s->max_in_flight && serve_take_input(s))
        took = 1;
    while (s->reply != NULL && s->in_flight < s->max_in_flight && serve_take_request(s))
        took = 1;
    /* Full again: the time until the workers make room does not count. */
    s->drain_had_room = had_room && s->in_flight < s->max_in_flight;
    if (took || s->in_flight >= s->max_in_flight) {
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
        if (s->stopping) {
            serve_drain(s);
            if (s->drain_phase == SERVE_DRAIN_DONE && s->in_flight == 0)
                return 0;
        }
        zmq_pollitem_t items[4];
        int n = 0;
        items[n++] = (zmq_pollitem_t){ NULL, serve_signal_fd[0], ZMQ_POLLIN, 0 };
        items[n++] = (zmq_pollitem_t){ s->done, 0, ZMQ_POLLIN, 0 };
        int accepting = !s->stopping && s->in_flight < s->max_in_flight;
        int in_at = -1, reply_at = -1;
        if (accepting) {
            in_at = n;
            items[n++] = (zmq_pollitem_t){ s->in, 0, ZMQ_POLLIN, 0 };
            if (s->reply != NULL) {
                reply_at = n;
                items[n++] = (zmq_pollitem_t){ s->reply, 0, ZMQ_POLLIN, 0 };
            }
        }
        int rc = zmq_poll(items, n, s->stopping ? 50 : -1);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll failed: %s", zmq_strerror(errno));
            return -1;
        }
        if (items[0].revents & ZMQ_POLLIN)
            serve_handle_signals(s);
        if (items[1].revents & ZMQ_POLLIN)
            while (serve_take_answer(s))
                ;
        if (s->stopping)
            continue;
        if (in_at >= 0 && (items[in_at].revents & ZMQ_POLLIN))
            while (s->in_flight < s->max_in_flight && serve_take_input(s))
                ;
        if (reply_at >= 0 && (items[reply_at].revents & ZMQ_POLLIN))
            while (s->in_flight < s->max_in_flight && serve_take_request(s))
                ;
    }
}

/* ---- tear-down ---------------------------------------------------------------------------- */

static void serve_stop_workers(serve_t *s)
{
    atomic_store(&s->stop, 1);
    serve_job_t stop = { SERVE_JOB_STOP, 0, 0, 0 };
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
    serve_close_socket(&s->work, 0);
    serve_close_socket(&s->done, 0);
    serve_close_socket(&s->in, 0);
    serve_close_socket(&s->reply, SERVE_LINGER_MS);
    serve_close_socket(&s->out, SERVE_LINGER_MS);
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
             ", errors %" PRIu64 "%s, unroutable %" PRIu64 ", reloads %" PRIu64 " (%" PRIu64
             " failed)", s->stats.received, s->stats.published, s->stats.replied,
             s->stats.errors, reasons, s->stats.unroutable, s->stats.reloads,
             s->stats.reload_failures);
}

static void serve_log_ready(const serve_t *s)
{
    char in[512], out[512], reply[512];
    nerd_rules_t *rules = s->rules.rules;
    log_info("ready: in %s, out %s, reply %s; %d threads; rules %s version %s (%zu rules); "
             "max-bytes %zu", endpoint_format(&s->in_eps, in, sizeof in),
             endpoint_format(&s->out_eps, out, sizeof out),
             s->reply != NULL ? endpoint_format(&s->reply_eps, reply, sizeof reply) : "none",
             s->opts.threads, s->rules_dir, nerd_rules_version(rules), nerd_rules_count(rules),
             s->opts.max_bytes);
}

int serve_main(int argc, char **argv)
{
    static serve_t serve;   /* static: big (endpoint lists) and one per process */
    serve_t *s = &serve;
    memset(s, 0, sizeof *s);
    int rc = serve_parse(argc, argv, &s->opts);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;

    s->rules_dir = cli_rules_dir(s->opts.rules_dir);
    pthread_mutex_init(&s->rules.lock, NULL);
    serve_rules_name(s->rules_dir, s->rules.name, sizeof s->rules.name);
    atomic_init(&s->stop, 0);
    char *errors = NULL;
    s->rules.rules = nerd_rules_load(s->rules_dir, &errors);
    if (s->rules.rules == NULL) {
        log_error("cannot load the rules in %s", s->rules_dir);
        for (char *line = errors != NULL ? strtok(errors, "\n") : NULL; line != NULL;
             line = strtok(NULL, "\n"))
            log_error("  %s", line);
        free(errors);
        pthread_mutex_destroy(&s->rules.lock);
        return CLI_FAILED;
    }
    free(errors);

    /* Threads started from here on (ZeroMQ's and ours) inherit a mask without our signals, so
     * that only the main thread runs the handlers. */
    serve_signals_mask(SIG_BLOCK);
    int status = CLI_FAILED;
    s->ctx = zmq_ctx_new();
    if (s->ctx != NULL && serve_signals_install() == 0 && serve_open_sockets(s) == 0 &&
        serve_start_workers(s) == 0) {
        serve_signals_mask(SIG_UNBLOCK);
        serve_log_ready(s);
        status = serve_loop(s) == 0 ? CLI_OK : CLI_FAILED;
        serve_log_stats(s);
    } else if (s->ctx == NULL) {
        log_error("cannot create the ZeroMQ context: %s", zmq_strerror(errno));
    }
    serve_teardown(s);
    return status;
}
