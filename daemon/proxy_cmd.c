/*
 * proxy_cmd.c - `nerd proxy`: ZeroMQ's own devices, so that several `nerd serve` workers share one
 * document stream and one result stream.
 *
 *   stream   PULL (front, producers push here) -> PUSH (back, workers connect with
 *            `nerd serve --in '>tcp://...'`); PUSH hands each document to one worker, round robin
 *            among those that are ready, so every document is processed exactly once.
 *   forward  XSUB (front, workers connect with `nerd serve --out '>tcp://...'`) -> XPUB (back,
 *            subscribers connect); subscriptions travel the other way, so every subscriber sees
 *            every worker's results as one stream.
 *   --both   one of each in one process, on four endpoints.
 *
 * Each device is zmq_proxy_steerable() in a thread of its own with an inproc PAIR control socket.
 * The main thread blocks SIGINT/SIGTERM (and SIGHUP, which it only logs) before anything else starts (so ZeroMQ's threads and the
 * device threads never see them) and waits for them with sigwait(); then it asks each device for
 * its STATISTICS, sends TERMINATE, joins the threads and closes every socket with ZMQ_LINGER set,
 * so the shutdown neither hangs nor loses the messages already handed over.  A device thread that
 * fails wakes the main thread with SIGUSR1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "endpoint.h"
#include "log.h"
#include "tools.h"

#define PROXY_DEFAULT_LINGER_MS 1000
/* --both defaults: producers and subscribers keep the ports they use against one daemon. */
#define PROXY_DEFAULT_DOCS_IN "tcp://127.0.0.1:5555"
#define PROXY_DEFAULT_DOCS_OUT "tcp://127.0.0.1:5565"
#define PROXY_DEFAULT_RESULTS_IN "tcp://127.0.0.1:5566"
#define PROXY_DEFAULT_RESULTS_OUT "tcp://127.0.0.1:5556"

static const char proxy_usage[] =
    "Usage: nerd proxy --front ENDPOINT --back ENDPOINT [--mode stream|forward]\n"
    "       nerd proxy --both [--docs-in EP] [--docs-out EP] [--results-in EP] [--results-out EP]\n"
    "\n"
    "Runs ZeroMQ's own devices so that several nerd daemons, on one machine or many, share one\n"
    "document stream and one result stream.\n"
    "\n"
    "Modes:\n"
    "  stream    PULL on --front (producers: nerd push, your pipeline) -> PUSH on --back\n"
    "            (workers: nerd serve --in '>tcp://PROXY:PORT'); each document goes to exactly\n"
    "            one worker\n"
    "  forward   XSUB on --front (workers: nerd serve --out '>tcp://PROXY:PORT') -> XPUB on\n"
    "            --back (subscribers: nerd tail, your services); one stream of every result\n"
    "\n"
    "Options:\n"
    "  -f, --front ENDPOINT    where messages come in (bound; \">\" connects instead; several\n"
    "                          separated by commas)\n"
    "  -b, --back ENDPOINT     where they go out (bound; \">\" connects instead)\n"
    "  -m, --mode MODE         stream (default) or forward\n"
    "  -B, --both              a stream and a forward proxy in one process:\n"
    "      --docs-in EP        stream front (default " PROXY_DEFAULT_DOCS_IN ")\n"
    "      --docs-out EP       stream back (default " PROXY_DEFAULT_DOCS_OUT ")\n"
    "      --results-in EP     forward front (default " PROXY_DEFAULT_RESULTS_IN ")\n"
    "      --results-out EP    forward back (default " PROXY_DEFAULT_RESULTS_OUT ")\n"
    "                          (the defaults let `nerd push` and `nerd tail` talk to the proxy\n"
    "                          exactly as to a single daemon)\n"
    "  -l, --linger MS         at exit, time given to deliver what is queued (default 1000)\n"
    "  -q, --quiet             log warnings and errors only\n"
    "  -v, --verbose           log more\n"
    "  -h, --help              show this help\n"
    "\n"
    "SIGTERM or SIGINT stops the proxy cleanly (exit status 0); SIGHUP is ignored (logged).\n"
    "Exit status 1: an endpoint could not be bound or connected; 2: usage error.\n"
    "\n"
    "Example (three workers behind one proxy pair):\n"
    "  nerd proxy --both --docs-in @tcp://*:5555 --docs-out @tcp://*:5565 \\\n"
    "             --results-in @tcp://*:5566 --results-out @tcp://*:5556\n"
    "  nerd serve --in '>tcp://proxyhost:5565' --out '>tcp://proxyhost:5566'   # on each worker\n"
    "  nerd push --jsonl --to tcp://proxyhost:5555 news.jsonl\n"
    "  nerd tail --from tcp://proxyhost:5556\n";

enum { PROXY_STREAM = 0, PROXY_FORWARD = 1 };

/* One device: its sockets, endpoints and thread. */
typedef struct proxy_device {
    int mode;
    const char *front_spec, *back_spec;
    endpoint_list_t front_eps, back_eps;
    void *front, *back;
    void *control;          /* main thread's end of the PAIR */
    void *control_peer;     /* the device thread's end */
    pthread_t thread;
    int started;
    int rc;                 /* zmq_proxy_steerable's return */
    int err;                /* its errno */
    pthread_t main_thread;
} proxy_device_t;

typedef struct proxy_opts {
    int both;
    int mode;
    const char *front, *back;
    const char *docs_in, *docs_out, *results_in, *results_out;
    int linger_ms;
} proxy_opts_t;

static const char *proxy_mode_name(int mode)
{
    return mode == PROXY_STREAM ? "stream" : "forward";
}

static int proxy_parse(int argc, char **argv, proxy_opts_t *opts)
{
    enum { OPT_DOCS_IN = 256, OPT_DOCS_OUT, OPT_RESULTS_IN, OPT_RESULTS_OUT };
    static const struct option longopts[] = {
        { "front", required_argument, NULL, 'f' },
        { "back", required_argument, NULL, 'b' },
        { "mode", required_argument, NULL, 'm' },
        { "both", no_argument, NULL, 'B' },
        { "docs-in", required_argument, NULL, OPT_DOCS_IN },
        { "docs-out", required_argument, NULL, OPT_DOCS_OUT },
        { "results-in", required_argument, NULL, OPT_RESULTS_IN },
        { "results-out", required_argument, NULL, OPT_RESULTS_OUT },
        { "linger", required_argument, NULL, 'l' },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int four = 0, mode_given = 0;
    opts->linger_ms = PROXY_DEFAULT_LINGER_MS;
    opts->docs_in = PROXY_DEFAULT_DOCS_IN;
    opts->docs_out = PROXY_DEFAULT_DOCS_OUT;
    opts->results_in = PROXY_DEFAULT_RESULTS_IN;
    opts->results_out = PROXY_DEFAULT_RESULTS_OUT;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":f:b:m:Bl:qvh", longopts, NULL)) != -1) {
        long value;
        switch (opt) {
        case 'f': opts->front = optarg; break;
        case 'b': opts->back = optarg; break;
        case 'm':
            mode_given = 1;
            if (strcmp(optarg, "stream") == 0)
                opts->mode = PROXY_STREAM;
            else if (strcmp(optarg, "forward") == 0)
                opts->mode = PROXY_FORWARD;
            else
                return cli_usage_error("proxy", "--mode: '%s' is neither stream nor forward",
                                       optarg);
            break;
        case 'B': opts->both = 1; break;
        case OPT_DOCS_IN: opts->docs_in = optarg; four = 1; break;
        case OPT_DOCS_OUT: opts->docs_out = optarg; four = 1; break;
        case OPT_RESULTS_IN: opts->results_in = optarg; four = 1; break;
        case OPT_RESULTS_OUT: opts->results_out = optarg; four = 1; break;
        case 'l':
            if (cli_parse_long(optarg, 0, 3600000L, &value) != 0)
                return cli_usage_error("proxy", "--linger: '%s' is not a number of "
                                       "milliseconds", optarg);
            opts->linger_ms = (int)value;
            break;
        case 'q': log_set_level(LOG_LEVEL_WARN); break;
        case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
        case 'h':
            fputs(proxy_usage, stdout);
            return -1;
        default:
            return cli_bad_option("proxy", argv, opt);
        }
    }
    if (optind < argc)
        return cli_usage_error("proxy", "unexpected argument '%s'", argv[optind]);
    if (opts->both) {
        if (opts->front != NULL || opts->back != NULL || mode_given)
            return cli_usage_error("proxy", "--both takes --docs-in, --docs-out, --results-in "
                                   "and --results-out, not --front, --back or --mode");
        return 0;
    }
    if (four)
        return cli_usage_error("proxy", "--docs-in, --docs-out, --results-in and --results-out "
                               "go with --both");
    if (opts->front == NULL || opts->back == NULL)
        return cli_usage_error("proxy", "missing --%s ENDPOINT (or use --both)",
                               opts->front == NULL ? "front" : "back");
    return 0;
}

static void *proxy_socket(void *ctx, int type, int linger_ms)
{
    void *s = zmq_socket(ctx, type);
    if (s != NULL)
        zmq_setsockopt(s, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    return s;
}

/*
 * Creates, binds and connects the sockets of dev (index n, for the inproc control name).
 * Returns 0, or -1 after logging why.
 */
static int proxy_setup(void *ctx, proxy_device_t *dev, int n, int linger_ms)
{
    char err[512];
    if (endpoint_parse(dev->front_spec, 1, &dev->front_eps, err, sizeof err) != 0 ||
        endpoint_parse(dev->back_spec, 1, &dev->back_eps, err, sizeof err) != 0) {
        log_error("%s proxy: %s", proxy_mode_name(dev->mode), err);
        return -1;
    }
    int stream = dev->mode == PROXY_STREAM;
    dev->front = proxy_socket(ctx, stream ? ZMQ_PULL : ZMQ_XSUB, linger_ms);
    dev->back = proxy_socket(ctx, stream ? ZMQ_PUSH : ZMQ_XPUB, linger_ms);
    dev->control = proxy_socket(ctx, ZMQ_PAIR, 0);
    dev->control_peer = proxy_socket(ctx, ZMQ_PAIR, 0);
    if (dev->front == NULL || dev->back == NULL || dev->control == NULL ||
        dev->control_peer == NULL) {
        log_error("%s proxy: cannot create the sockets: %s", proxy_mode_name(dev->mode),
                  zmq_strerror(errno));
        return -1;
    }
    /* The answer to STATISTICS must not hang the shutdown if the device is already gone. */
    int timeout = 2000;
    zmq_setsockopt(dev->control, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(dev->control, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    char inproc[64];
    snprintf(inproc, sizeof inproc, "inproc://nerd-proxy-control-%d", n);
    if (zmq_bind(dev->control, inproc) != 0 || zmq_connect(dev->control_peer, inproc) != 0) {
        log_error("%s proxy: cannot set up the control socket: %s", proxy_mode_name(dev->mode),
                  zmq_strerror(errno));
        return -1;
    }
    if (endpoint_attach(dev->front, &dev->front_eps, err, sizeof err) != 0 ||
        endpoint_attach(dev->back, &dev->back_eps, err, sizeof err) != 0) {
        log_error("%s proxy: %s", proxy_mode_name(dev->mode), err);
        return -1;
    }
    return 0;
}

static void *proxy_thread(void *arg)
{
    proxy_device_t *dev = arg;
    dev->rc = zmq_proxy_steerable(dev->front, dev->back, NULL, dev->control_peer);
    dev->err = errno;
    /* A device that stops on its own (not by TERMINATE) must wake the main thread. */
    if (dev->rc != 0)
        pthread_kill(dev->main_thread, SIGUSR1);
    return NULL;
}

/* Asks a running device for its counters and logs them. */
static void proxy_log_stats(proxy_device_t *dev)
{
    if (zmq_send(dev->control, "STATISTICS", 10, 0) != 10)
        return;
    uint64_t v[8] = { 0 };
    for (int i = 0; i < 8; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, dev->control, 0) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        if (zmq_msg_size(&msg) == sizeof v[i])
            memcpy(&v[i], zmq_msg_data(&msg), sizeof v[i]);
        int more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
        if (!more)
            break;
    }
    /* v: front in (messages, bytes), front out, back in, back out. */
    log_info("%s proxy: %" PRIu64 " messages (%" PRIu64 " bytes) front to back, %" PRIu64
             " messages back to front", proxy_mode_name(dev->mode), v[0], v[1], v[4]);
}

/*
 * Waits for SIGINT/SIGTERM (or SIGUSR1 from a failed device); returns the signal.  SIGHUP (a
 * service manager's "reload") is answered with a log line: a proxy has nothing to reload.
 */
static int proxy_wait(const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            return sig;
        log_info("SIGHUP: a proxy has no configuration to reload; still running");
    }
}

static void proxy_close(proxy_device_t *dev)
{
    void **sockets[] = { &dev->front, &dev->back, &dev->control, &dev->control_peer };
    for (size_t i = 0; i < sizeof sockets / sizeof sockets[0]; i++)
        if (*sockets[i] != NULL) {
            zmq_close(*sockets[i]);
            *sockets[i] = NULL;
        }
}

int proxy_main(int argc, char **argv)
{
    proxy_opts_t opts;
    memset(&opts, 0, sizeof opts);
    int rc = proxy_parse(argc, argv, &opts);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;

    proxy_device_t devices[2];
    memset(devices, 0, sizeof devices);
    size_t count = 0;
    if (opts.both) {
        devices[count++] = (proxy_device_t){ .mode = PROXY_STREAM, .front_spec = opts.docs_in,
                                             .back_spec = opts.docs_out };
        devices[count++] = (proxy_device_t){ .mode = PROXY_FORWARD,
                                             .front_spec = opts.results_in,
                                             .back_spec = opts.results_out };
    } else {
        devices[count++] = (proxy_device_t){ .mode = opts.mode, .front_spec = opts.front,
                                             .back_spec = opts.back };
    }

    /* Blocked before ZeroMQ starts its I/O threads, so only sigwait() below sees them. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);

    int status = CLI_OK;
    void *ctx = zmq_ctx_new();
    if (ctx == NULL) {
        log_error("cannot start ZeroMQ: %s", zmq_strerror(errno));
        status = CLI_FAILED;
    }
    for (size_t i = 0; status == CLI_OK && i < count; i++)
        if (proxy_setup(ctx, &devices[i], (int)i, opts.linger_ms) != 0)
            status = CLI_FAILED;
    for (size_t i = 0; status == CLI_OK && i < count; i++) {
        devices[i].main_thread = pthread_self();
        if (pthread_create(&devices[i].thread, NULL, proxy_thread, &devices[i]) != 0) {
            log_error("cannot start a thread");
            status = CLI_FAILED;
        } else {
            devices[i].started = 1;
        }
    }
    if (status == CLI_OK) {
        for (size_t i = 0; i < count; i++) {
            char front[1024], back[1024];
            log_info("ready: %s proxy, front %s -> back %s", proxy_mode_name(devices[i].mode),
                     endpoint_format(&devices[i].front_eps, front, sizeof front),
                     endpoint_format(&devices[i].back_eps, back, sizeof back));
        }
        int sig = proxy_wait(&set);
        if (sig == SIGUSR1)
            status = CLI_FAILED;
        else
            log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    for (size_t i = 0; i < count; i++) {
        if (!devices[i].started)
            continue;
        /* A device that failed has returned already: TERMINATE then only waits in its pipe. */
        if (status == CLI_OK)
            proxy_log_stats(&devices[i]);
        zmq_send(devices[i].control, "TERMINATE", 9, 0);
        pthread_join(devices[i].thread, NULL);
        if (devices[i].rc != 0) {
            log_error("%s proxy stopped: %s", proxy_mode_name(devices[i].mode),
                      zmq_strerror(devices[i].err));
            status = CLI_FAILED;
        }
    }
    for (size_t i = 0; i < count; i++)
        proxy_close(&devices[i]);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (status == CLI_OK)
        log_info("stopped");
    return status;
}
