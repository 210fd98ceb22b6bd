/*
 * nerd.h - the public API of the nerd extraction engine (libnerd).
 *
 * The engine turns a UTF-8 text into entities (PERSON, ORG, LOC, DATE, ROLE, ...) and relations
 * (affiliation, statement, ...) by applying a compiled rule set.  It knows nothing of ZeroMQ,
 * protobuf or threads: the daemon (daemon/) and the tests link it alone.
 *
 * Data flow inside nerd_extract():
 *   normalise (UTF-8 check, control bytes) -> tokenise -> gazetteer lookup -> entity patterns,
 *   phase by phase (overlap resolution) -> linking (canonical names) -> relation patterns ->
 *   speaker resolution -> result.
 *
 * Ownership and threads:
 *   - A nerd_rules_t is immutable once loaded and may be shared by any number of threads.  It is
 *     reference-counted: nerd_rules_ref() / nerd_rules_unref(); the last unref frees it.  A reload
 *     loads a new rule set and swaps the pointer; documents in flight finish on the old one.
 *   - A nerd_worker_t is private to one thread: it owns the per-document arena, PCRE2 match data
 *     and scratch memory, reused from one document to the next.
 *   - The result of nerd_extract() lives in the worker's arena and stays valid until the next
 *     nerd_extract() or nerd_worker_destroy() on that worker.
 *
 * Errors: functions return 0 or a negative NERD_E* code; nerd_strerror() says what it means.
 * Constructors return NULL.  The engine never logs and never exits.
 */
#ifndef NERD_H
#define NERD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NERD_VERSION "0.1.0"

/* Error codes.  Each names the reason a document could not be processed. */
enum {
    NERD_OK = 0,
    NERD_EINVAL = -1,        /* a bad argument (NULL text with a length, ...) */
    NERD_ENOMEM = -2,        /* out of memory */
    NERD_EUTF8 = -3,         /* the text is not valid UTF-8 */
    NERD_ETOOBIG = -4,       /* the text is longer than limits.max_bytes */
    NERD_EENTITIES = -5,     /* more entities than limits.max_entities */
    NERD_EMATCHLIMIT = -6,   /* a pattern hit the PCRE2 match or depth limit */
    NERD_ETIMEOUT = -7,      /* the document exceeded limits.time_budget_ms */
    NERD_ERULES = -8,        /* the rule set could not be loaded (see the error text) */
    NERD_EIO = -9            /* a file could not be read */
};

/* What the error code means, as a short sentence.  Never NULL. */
const char *nerd_strerror(int code);

/* Short machine name of the error code ("utf8", "too_big", ...), used for topics and counters. */
const char *nerd_strerror_name(int code);

/* ---- Per-document arena ------------------------------------------------------------------ */

/* A bump allocator: many small allocations, freed all at once by nerd_arena_reset(). */
typedef struct nerd_arena nerd_arena_t;

nerd_arena_t *nerd_arena_new(size_t block_size);
/* Frees the arena and sets *arena to NULL.  NULL-safe. */
void nerd_arena_destroy(nerd_arena_t **arena);
/* Returns size bytes aligned for any type, or NULL when memory runs out. */
void *nerd_arena_alloc(nerd_arena_t *arena, size_t size);
/* Copies len bytes and adds a terminating NUL. */
char *nerd_arena_strndup(nerd_arena_t *arena, const char *s, size_t len);
/* Forgets every allocation; keeps the first block for reuse. */
void nerd_arena_reset(nerd_arena_t *arena);
/* Bytes currently handed out (for statistics). */
size_t nerd_arena_used(const nerd_arena_t *arena);

/* ---- Rule sets ----------------------------------------------------------------------------- */

typedef struct nerd_rules nerd_rules_t;

/*
 * Loads and compiles the rule set in directory dir (its *.rules files, in name order, and the
 * gazetteer files they name).  On failure returns NULL and, if errors is not NULL, sets *errors
 * to a malloc'd text of one "file:line:col: message" line per problem (caller frees).  On success
 * *errors is set to NULL.  The returned set has one reference.
 */
nerd_rules_t *nerd_rules_load(const char *dir, char **errors);

/* Adds a reference; returns rules.  NULL-safe. */
nerd_rules_t *nerd_rules_ref(nerd_rules_t *rules);
/* Drops a reference and sets *rules to NULL; frees the set when the last one goes.  NULL-safe. */
void nerd_rules_unref(nerd_rules_t **rules);

/* A version string for the loaded set: directory name and a hash of its contents. */
const char *nerd_rules_version(const nerd_rules_t *rules);
/* Number of rules (entity patterns, gazetteers and relation patterns) in the set. */
size_t nerd_rules_count(const nerd_rules_t *rules);

/* ---- Extraction ---------------------------------------------------------------------------- */

typedef struct nerd_limits {
    size_t max_bytes;          /* longest text accepted; 0 = no limit */
    size_t max_entities;       /* most entities per document; 0 = no limit */
    uint32_t match_limit;      /* PCRE2 match limit per pattern call; 0 = engine default */
    uint32_t depth_limit;      /* PCRE2 depth limit per pattern call; 0 = engine default */
    uint32_t time_budget_ms;   /* wall-clock budget per MiB of text (nerd_limits_budget_ms());
                                * 0 = no budget */
} nerd_limits_t;

/* The defaults: 4 MiB, 100000 entities, 1000000 / 10000, 2000 ms. */
void nerd_limits_default(nerd_limits_t *limits);

/*
 * The wall-clock budget in ms of a text of len bytes under limits: time_budget_ms for each MiB
 * of it, and never less than time_budget_ms; 0 = no budget.  Extraction time grows with the
 * length of a text, so a fixed budget would fail long texts of ordinary prose.
 */
uint64_t nerd_limits_budget_ms(const nerd_limits_t *limits, size_t len);

typedef struct nerd_entity {
    const char *type;          /* "PERSON", "ORG", ... */
    uint32_t start, end;       /* UTF-8 byte offsets into the text, end exclusive */
    const char *text;          /* the covered text, NUL-terminated */
    const char *canonical;     /* canonical name after linking */
    const char *rule;          /* id of the rule that made it: "file:line name" */
} nerd_entity_t;

typedef struct nerd_arg {
    const char *role;          /* argument name: "person", "speaker", "content", ... */
    int has_span;              /* 0 when the argument is known only from context */
    uint32_t start, end;       /* byte offsets when has_span */
    const char *text;          /* covered text when has_span, else NULL */
    const char *canonical;     /* canonical name when the argument is an entity, else NULL */
    int32_t entity;            /* index into result->entities, or -1 */
} nerd_arg_t;

typedef struct nerd_attr {
    const char *key;
    const char *value;
} nerd_attr_t;

typedef struct nerd_relation {
    const char *type;          /* "affiliation", "statement", ... */
    const nerd_arg_t *args;
    size_t arg_count;
    const nerd_attr_t *attrs;
    size_t attr_count;
    const char *rule;
} nerd_relation_t;

typedef struct nerd_result {
    const nerd_entity_t *entities;     /* sorted by start, then end */
    size_t entity_count;
    const nerd_relation_t *relations;  /* sorted by the start of their first argument */
    size_t relation_count;
} nerd_result_t;

/* Time spent per stage, in nanoseconds, summed over every document a worker has processed. */
typedef struct nerd_stage_times {
    uint64_t normalise, tokenise, gazetteer, patterns, link, relations;
    uint64_t documents, bytes;
} nerd_stage_times_t;

typedef struct nerd_worker nerd_worker_t;

/* A worker for one thread.  Returns NULL when memory runs out. */
nerd_worker_t *nerd_worker_new(void);
/* Frees the worker (and any result it holds) and sets *worker to NULL.  NULL-safe. */
void nerd_worker_destroy(nerd_worker_t **worker);

/*
 * Extracts entities and relations from text[0..len) with rules.  limits may be NULL for the
 * defaults.  On success returns 0 and sets *result (valid until the next call on this worker).
 * On failure returns a negative code and sets *result to NULL.  The text need not be
 * NUL-terminated.
 */
int nerd_extract(nerd_worker_t *worker, const nerd_rules_t *rules, const char *text, size_t len,
                 const nerd_limits_t *limits, const nerd_result_t **result);

/* The worker's cumulative per-stage times. */
void nerd_worker_stage_times(const nerd_worker_t *worker, nerd_stage_times_t *times);

/* What one rule cost a worker since profiling was turned on: the time spent in its pattern
 * (PCRE2 calls and the search for places to try) and the number of PCRE2 calls. */
typedef struct nerd_rule_cost {
    const char *rule;                  /* the rule's id, "dir/file.rules:LINE name" */
    uint64_t ns;
    uint64_t calls;
} nerd_rule_cost_t;

/*
 * Turns per-rule timing on (on != 0) or off for worker, and clears the counts.  While on, every
 * pattern rule costs two clock reads per document.  Returns 0 or NERD_EINVAL.
 */
int nerd_worker_profile(nerd_worker_t *worker, int on);
/*
 * Writes the costs of the rules of rules that ran (the counts must come from documents extracted
 * with rules) into out[0..cap), the most expensive first; returns how many rules have costs,
 * which may be more than cap.
 */
size_t nerd_worker_rule_costs(const nerd_worker_t *worker, const nerd_rules_t *rules,
                              nerd_rule_cost_t *out, size_t cap);

/* 0 if text[0..len) is valid UTF-8, else NERD_EUTF8 (and *bad_offset, if given, is where). */
int nerd_utf8_check(const char *text, size_t len, size_t *bad_offset);

/* ---- Rule tests ---------------------------------------------------------------------------- */

/* Called once per inline test of a rule set: where it is, whether it passed, and why not. */
typedef void nerd_test_report_fn(void *ctx, const char *where, int passed, const char *detail);

/*
 * Runs every `test:` line of the rule set with worker and reports each through report (which may
 * be NULL).  Returns the number of failed tests (0 = all passed), or a negative error code.
 */
int nerd_rules_run_tests(const nerd_rules_t *rules, nerd_worker_t *worker,
                         nerd_test_report_fn *report, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* NERD_H */
