/*
 * serve.h - `nerd serve`, the daemon: what its main thread (serve.c) and its worker threads
 * (serve_worker.c) share.
 *
 * Sockets and threads:
 *
 *     PUSH clients ---> [PULL  --in] ----+                  +---> [PUB --out] ---> SUB clients
 *   REQ/DEALER clients <-> [ROUTER --reply] <-+   main thread  +---> (answers on the ROUTER)
 *                                               |         ^
 *                           inproc PUSH "work"  v         |  inproc PULL "done"
 *                                          worker threads (--threads N)
 *
 * Only the main thread touches the external sockets; it polls them together with a self-pipe the
 * signal handlers write to.  A job goes to the workers as [serve_job_t][envelope...][Document];
 * its answer comes back as [serve_job_t][envelope...][topic][Result].  The number of jobs in
 * flight is bounded (SERVE_INFLIGHT_PER_WORKER per worker), so the inproc queues stay bounded
 * and a full daemon pushes back on its clients through ZeroMQ's high-water marks.
 *
 * Topics on the PUB socket (first frame of each two-frame message):
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
} serve_job_t;

/* Error reasons counted apart: index 0 = decode, 1..9 = -NERD_E*, 10 = rule_set, 11 = other. */
#define SERVE_REASONS 12

/* The daemon's counters, kept by the main thread (a later `nerd stats` reads them). */
typedef struct serve_stats {
    uint64_t received;                  /* documents taken from the input and reply sockets */
    uint64_t published;                 /* Results sent on PUB */
    uint64_t replied;                   /* Results sent back on the reply socket */
    uint64_t errors;                    /* of those, error Results */
    uint64_t by_reason[SERVE_REASONS];  /* error Results by reason (serve_reason_index) */
    uint64_t unroutable;                /* reply requests dropped: envelope too deep */
    uint64_t reloads;                   /* successful SIGHUP reloads */
    uint64_t reload_failures;
} serve_stats_t;

/* Options of `nerd serve`. */
typedef struct serve_opts {
    const char *in;             /* endpoint lists as given */
    const char *out;
    const char *reply;          /* NULL = no reply socket */
    const char *rules_dir;
    int threads;
    size_t max_bytes;           /* 0 = no limit */
    long time_budget_ms;        /* per document; -1 = the engine's default, 0 = none */
} serve_opts_t;

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
} serve_worker_t;

/* The worker thread's body (arg = its serve_worker_t). */
void *serve_worker_run(void *arg);

/* The counter slot of an error code. */
size_t serve_reason_index(int code);
/* The name of a counter slot ("decode", "utf8", ..., "other"). */
const char *serve_reason_name(size_t index);

#endif /* NERD_SERVE_H */
