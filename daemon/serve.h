/*
 * serve.h - `nerd serve`, the daemon: what its main thread (serve.c), its worker threads
 * (serve_worker.c) and its helpers share: the command line (serve_opts.c), counters and
 * reports (serve_stats.c), the HTTP endpoint (serve_http.c), CURVE and ZAP (serve_zap.c),
 * systemd and privileges (serve_sys.c).
 *
 * Sockets and threads:
 *
 *     PUSH clients ---> [PULL  --in] ----+                  +---> [XPUB --out] ---> SUB clients
 *   REQ/DEALER clients <-> [ROUTER --reply] <-+  main thread  +---> [PUSH --out-push] (optional)
 *   `nerd stats` <-> [ROUTER --control] <-----+    |     ^     +---> (answers on the ROUTER)
 *   HTTP thread (--metrics) <-> inproc control -+    |     |
 *                           inproc PUSH "work"    v     |  inproc PULL "done"
 *                                          worker threads (--threads N)
 *   ZAP thread (--curve-secret): admits CURVE clients by public key (serve_zap.c)
 *
 * Only the main thread touches the external sockets; it polls them together with a self-pipe the
 * signal handlers write to.  A job goes to the workers as [serve_job_t][envelope...][Document];
 * its answer comes back as [serve_job_t][envelope...][topic][Result].  The number of jobs in
 * flight is bounded (SERVE_INFLIGHT_PER_WORKER per worker), so the inproc queues stay bounded
 * and a full daemon pushes back on its clients through ZeroMQ's high-water marks.  With
 * --no-drop (or --out-push) a full output stops the main thread from taking input until it has
 * room, so a slow consumer pushes back all the way to the pushers (see serve.c).
 *
 * Topics on the output sockets (first frame of each two-frame message):
 *   "result"          a Document processed (Result.status = OK)
 *   "error.<code>"    a Document that failed, <code> = Result.error_code: "decode" (the frame is
 *                     not a Document), "rule_set", or the engine's nerd_strerror_name(): "utf8",
 *                     "too_big", "entities", "match_limit", "timeout", "nomem", ...
 * A subscriber to "error." gets every error; to "" everything.
 *
 * Ordering: with --threads 1 results come out in the order the documents came in (per input
 * socket).  With more threads only each document's own Result is guaranteed; documents overtake
 * each other.  Answers on the reply socket go to the client that asked, whatever the order.
 */
#ifndef NERD_SERVE_H
#define NERD_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "nerd.h"

#define SERVE_DEFAULT_IN "tcp://127.0.0.1:5555"
#define SERVE_DEFAULT_OUT "tcp://127.0.0.1:5556"
#define SERVE_DEFAULT_MAX_BYTES (4u * 1024u * 1024u)
#define SERVE_DEFAULT_CONTROL "tcp://127.0.0.1:5558"
#define SERVE_DEFAULT_HEARTBEAT_MS 5000
#define SERVE_INFLIGHT_PER_WORKER 64
#define SERVE_MAX_ENVELOPE 32       /* routing frames kept for a reply; more: request dropped */
#define SERVE_LINGER_MS 2000

#define SERVE_WORK_ENDPOINT "inproc://nerd-work"
#define SERVE_DONE_ENDPOINT "inproc://nerd-done"

/* Kinds of job. */
enum { SERVE_JOB_PULL = 1, SERVE_JOB_REPLY = 2, SERVE_JOB_STOP = 3 };

/* The first frame of every job and answer on the inproc sockets. */
typedef struct serve_job {
    uint32_t kind;        /* SERVE_JOB_* */
    uint32_t envelope;    /* routing frames that follow (reply jobs) */
    uint32_t frames;      /* main -> worker: frames the client sent (a Document is 1) */
    int32_t code;         /* worker -> main: 0 or the error code of the Result */
    uint64_t received_us; /* when the main thread took the document (serve_now_us), for latency */
} serve_job_t;

/* Error reasons counted apart: index 0 = decode, 1..9 = -NERD_E*, 10 = rule_set, 11 = other. */
#define SERVE_REASONS 12

#define SERVE_LATENCY_SAMPLES 1024  /* latency quantiles are over the last this many documents */
#define SERVE_RATE_SECONDS 60       /* rate_1m: results per second over this window */

/*
 * The daemon's counters, kept by the main thread only (the control socket and the HTTP thread ask
 * the main thread for them, so no lock is needed).  At every moment
 *     received == published + replied + dropped + in_flight
 * (an error is a Result too: it is counted in published/replied/dropped and in errors).
 */
typedef struct serve_stats {
    uint64_t received;                  /* documents taken from the input and reply sockets */
    uint64_t published;                 /* Results sent on the outputs (PUB and/or PUSH) */
    uint64_t replied;                   /* Results sent back on the reply socket */
    uint64_t dropped;                   /* Results a full subscriber queue made ZeroMQ drop */
    uint64_t errors;                    /* of those, error Results */
    uint64_t by_reason[SERVE_REASONS];  /* error Results by reason (serve_reason_index) */
    uint64_t unroutable;                /* reply requests dropped: envelope too deep */
    uint64_t reloads;                   /* successful SIGHUP reloads */
    uint64_t reload_failures;
    /* Latency (receive -> publish) of the last SERVE_LATENCY_SAMPLES documents, a ring. */
    uint32_t latency_us[SERVE_LATENCY_SAMPLES];
    size_t latency_count, latency_next;
    /* Results per second of the last SERVE_RATE_SECONDS seconds, a ring indexed by second. */
    uint32_t rate_count[SERVE_RATE_SECONDS];
    uint64_t rate_second[SERVE_RATE_SECONDS];
    /* Gauges, filled in by the main thread just before a report (serve_stats_json...). */
    int threads;
    uint64_t in_flight;
    uint64_t queue_depth;               /* documents handed to the workers, not yet started */
    double uptime_s;
    char rule_set_version[64];
    double rule_set_load_ms;
    int64_t rule_set_loaded_at;         /* Unix time of the last successful load */
} serve_stats_t;

/* Records one document's receive-to-publish latency and one result at monotonic now_ms. */
void serve_stats_record(serve_stats_t *stats, uint64_t latency_us, uint64_t now_ms);
/* Results per second over the last SERVE_RATE_SECONDS seconds before now_ms. */
double serve_stats_rate(const serve_stats_t *stats, uint64_t now_ms);
/* The q-quantile (0..1) of the recorded latencies, in milliseconds (0 when none). */
double serve_stats_latency_ms(const serve_stats_t *stats, double q);
/*
 * Writes the `stats` answer of the control socket (the JSON object of docs/ops-spec: version,
 * counters, errors by reason, gauges, latency, rule set) into out.  Returns 0 or -1 (no memory).
 */
struct buf;
int serve_stats_json(const serve_stats_t *stats, uint64_t now_ms, struct buf *out);
/* The same counters in Prometheus' text exposition format (GET /metrics). */
int serve_stats_prometheus(const serve_stats_t *stats, uint64_t now_ms, struct buf *out);

/* Monotonic clock in microseconds / milliseconds. */
uint64_t serve_now_us(void);
uint64_t serve_now_ms(void);

/* Options of `nerd serve`. */
typedef struct serve_opts {
    const char *in;             /* endpoint lists as given */
    const char *out;
    const char *reply;          /* NULL = no reply socket */
    const char *rules_dir;
    int threads;
    size_t max_bytes;           /* 0 = no limit */
    long time_budget_ms;        /* per document; -1 = the engine's default, 0 = none */
    long max_entities;          /* per document; -1 = the engine's default, 0 = none */
    int no_drop;                /* --no-drop: a full subscriber pushes back instead of losing */
    const char *out_push;       /* NULL = no PUSH output */
    long heartbeat_ms;          /* ZMQ_HEARTBEAT_IVL; 0 = off */
    const char *control;        /* NULL = none */
    int control_given;          /* --control was given (a bind failure is then fatal) */
    const char *metrics;        /* HOST:PORT of the HTTP endpoint; NULL = none */
    const char *curve_secret;   /* key file: every endpoint a CURVE server; NULL = no CURVE */
    const char *curve_allow;    /* directory of client key files the ZAP handler admits */
    const char *user;           /* drop root to this user after binding */
    int allow_root;
} serve_opts_t;

/*
 * Parses the serve command line into opts (serve_opts.c), reading --config FILE first when it
 * is given.  Returns 0, -1 after --help was printed, or an exit status after a usage error was
 * printed.  *expanded (set when a config file was read) is the argv to free with
 * config_free_args(*expanded, *expanded_argc); opts points into it and into argv.
 */
int serve_opts_parse(int argc, char **argv, serve_opts_t *opts, char ***expanded,
                     int *expanded_argc);

/* The current rule set, swapped whole on reload; readers take a reference per document. */
typedef struct serve_rules {
    pthread_mutex_t lock;
    nerd_rules_t *rules;
    char name[64];              /* the rule directory's base name: what Document.rule_set may say */
} serve_rules_t;

/* Takes a reference on the current rule set (release it with nerd_rules_unref). */
nerd_rules_t *serve_rules_get(serve_rules_t *slot);
/* Installs rules (taking over the caller's reference); drops the old set's reference. */
void serve_rules_swap(serve_rules_t *slot, nerd_rules_t *rules);

/* One worker thread: its own engine worker, arena and inproc sockets. */
typedef struct serve_worker {
    pthread_t thread;
    int started;
    int index;
    void *work;                 /* PULL, connected to SERVE_WORK_ENDPOINT */
    void *done;                 /* PUSH, connected to SERVE_DONE_ENDPOINT */
    nerd_worker_t *engine;
    nerd_arena_t *arena;
    serve_rules_t *rules;
    nerd_limits_t limits;
    atomic_int *stop;           /* set by the main thread when the workers must leave */
    atomic_uint_fast64_t *started_jobs;  /* counted up as jobs are taken (for queue_depth) */
} serve_worker_t;

/* The worker thread's body (arg = its serve_worker_t). */
void *serve_worker_run(void *arg);

/* The counter slot of an error code. */
size_t serve_reason_index(int code);
/* The name of a counter slot ("decode", "utf8", ..., "other"). */
const char *serve_reason_name(size_t index);

/* ---- serve_http.c: GET /metrics, /healthz, /readyz ---------------------------------------- */

/* The main thread's control socket also listens here; the HTTP thread asks it with REQ. */
#define SERVE_CONTROL_INPROC "inproc://nerd-control"

typedef struct serve_http serve_http_t;

/*
 * Starts the HTTP/1.0 thread listening on hostport ("127.0.0.1:9100", "[::1]:9100", ":9100" =
 * loopback).  /metrics and /healthz ask the main thread over SERVE_CONTROL_INPROC in ctx
 * ("metrics", "ping"); /readyz answers 200 while *ready is non-zero.  Returns NULL with a
 * sentence in err when the address is bad or cannot be bound.
 */
serve_http_t *serve_http_start(void *ctx, const char *hostport, const atomic_int *ready,
                               char *err, size_t errlen);
/* Stops and joins the thread, closes its socket; NULL-safe, clears *http. */
void serve_http_stop(serve_http_t **http);
/* The address actually bound ("127.0.0.1:9100"). */
const char *serve_http_address(const serve_http_t *http);

/* ---- serve_zap.c: CURVE and the ZAP handler ----------------------------------------------- */

typedef struct serve_zap serve_zap_t;

/*
 * Reads the server's secret key (key file secret_path) and every client key file in allow_dir,
 * binds the ZAP handler (REP on inproc://zeromq.zap.01 in ctx) and starts its thread, which
 * answers 200 to a CURVE client whose public key is among those files and 400 (logged,
 * rate-limited, with the client's address) to any other.  Returns NULL with a sentence in err.
 */
serve_zap_t *serve_zap_start(void *ctx, const char *secret_path, const char *allow_dir,
                             char *err, size_t errlen);
/* Makes socket a CURVE server with the secret key (before it binds or connects).  0 or -1. */
int serve_zap_secure(const serve_zap_t *zap, void *socket);
/*
 * Logs the handshakes that fail on socket before they reach the handler (a client without CURVE,
 * a wrong server key), with what (the option naming the socket).  Main thread only, before the
 * socket binds or connects.  0 or -1.
 */
int serve_zap_watch(serve_zap_t *zap, void *socket, const char *what);
/* Stops and joins the thread and closes the handler socket (before zmq_ctx_term); NULL-safe. */
void serve_zap_stop(serve_zap_t **zap);

/* ---- serve_sys.c: the operating system: systemd readiness, privileges ----------------------- */

/* Sends state ("READY=1", "STOPPING=1", ...) to $NOTIFY_SOCKET if it is set; else nothing. */
void serve_notify(const char *state);
/*
 * Checked at start-up, before anything is bound: as root, --user or --allow-root is required
 * (the environment variable NERD_ALLOW_ROOT=1 counts as --allow-root); not as root, --user may
 * only name the current user.  Returns 0, or -1 with a sentence in err.
 */
int serve_check_user(const char *user, int allow_root, char *err, size_t errlen);
/*
 * After binding and loading the rules: as root with a user, switches to that user (setgroups,
 * setgid, setuid) and checks root cannot be regained; otherwise nothing.  0, or -1 with err.
 */
int serve_drop_privileges(const char *user, char *err, size_t errlen);

#endif /* NERD_SERVE_H */
