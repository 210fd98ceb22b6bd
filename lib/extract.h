/*
 * extract.h - the per-document state shared by the stages of nerd_extract().
 *
 * extract.c runs the pipeline and the entity phases; resolve.c picks the winners among
 * overlapping matches; link.c gives every mention its canonical name; relate.c runs the
 * relation patterns and resolves pronouns and speakers.  All of them work on one doc_t, whose
 * memory comes from the worker's arena or from the worker's reusable scratch vectors.
 */
#ifndef NERD_EXTRACT_H
#define NERD_EXTRACT_H

#include "rules.h"
#include "token.h"

/* A match waiting for overlap resolution, and, once accepted, an entity. */
typedef struct span {
    uint32_t start, end;         /* byte offsets of the text */
    uint32_t rule;               /* index into rules->rules, UINT32_MAX for the linker */
    int32_t priority;
    uint16_t type;               /* entity type index (or relation type index) */
    uint8_t nested;              /* the rule is nested */
    uint8_t inner;               /* accepted inside a longer entity: not masked */
    uint8_t removed;             /* replaced by a later entity that covers it */
    uint8_t linked;              /* made by the linker; rule_id says which step */
    const char *canonical;       /* NULL: the whitespace-normalised text */
    uint32_t canonical_len;
    const char *rule_id;         /* for linker entities */
    uint32_t aux;                /* relations: index of the argument block in doc->rel_args */
} span_t;

/* A growable array of spans (malloc'd, owned by the worker and reused between documents). */
typedef struct span_vec {
    span_t *items;
    size_t count, cap;
} span_vec_t;

int span_vec_push(span_vec_t *v, const span_t *s);
/*
 * The one binary search over the engine's sorted arrays (spans, tokens, final entities): in
 * items[0..count), each size bytes and sorted by the uint32_t at byte offset field, the index
 * of the first whose field is >= pos (count if none).
 */
size_t extract_first_from(const void *items, size_t count, size_t size, size_t field, uint32_t pos);

/*
 * A capital list (sorted offsets) after the ranges [start, end) of ranges[0..2k) (pairs in any
 * order, sorted here) were masked: every offset of a range is on it now, the others are as they
 * were.  Writes to out (room for count + the ranges' lengths) and returns the new count.
 */
size_t extract_caps_merge(const uint32_t *caps, size_t count, uint32_t *ranges, size_t k,
                          uint32_t *out);

/* In v sorted by start: the index of the first span starting at or after start (v->count if
 * none). */
size_t span_vec_first_from(const span_vec_t *v, uint32_t start);

/* qsort order of entities: by start, the longer first (so an outer entity precedes the ones
 * nested in it). */
int span_by_start_longest(const void *pa, const void *pb);

struct nerd_worker {
    nerd_arena_t *arena;
    uint32_t *caps[2];                 /* extract.c's capital list and its next version: memory */
    size_t caps_cap[2];                /* reused */
    uint32_t *masked;                  /* (start, end) of entities masked since it was made */
    size_t masked_cap;
    pcre2_match_data *match_data;
    uint32_t match_pairs;
    pcre2_match_context *match_context;
    pcre2_jit_stack *jit_stack;
    nerd_stage_times_t times;
    uint64_t pattern_calls;            /* PCRE2 calls made, for tests and profiling */
    uint64_t pattern_window_bytes;     /* sum of the text lengths those calls could examine */
    int profiling;                     /* nerd_worker_profile(): time every rule */
    uint64_t *rule_ns, *rule_calls;    /* per rule index, cost_slots of each */
    size_t cost_slots;
    nerd_result_t result;
    const nerd_entity_t *all_entities;   /* the last result's entities with internal types */
    size_t all_entity_count;
    span_vec_t gazetteer_hits, candidates, entities, relations;
};

typedef struct doc {
    nerd_worker_t *worker;
    const nerd_rules_t *rules;
    const nerd_limits_t *limits;
    const char *text;            /* the caller's text */
    char *shadow;                /* controls blanked, accepted entities masked */
    size_t len;
    token_t *tokens;
    size_t token_count;
    uint64_t deadline;           /* monotonic ns, 0 = none */
    uint32_t calls;              /* pattern calls since the last clock check */
    uint64_t *bitmap;            /* one bit per byte, for overlap checks */
    gate_doc_t gate;             /* which lines hold which rules' words (gate.h) */
    int lines_joined;            /* an entity masked over a '\n': lines no longer bound matches */
    int paragraphs_joined;       /* an entity masked over a blank line: nor do paragraphs */
    const uint32_t *caps;        /* the capital list of the shadow as it is, or NULL (extract.c) */
    size_t cap_count;
    int caps_buf;                /* which of worker->caps it is in */
    size_t masked_count;         /* ranges in worker->masked, not yet in caps */
    uint32_t *rel_args;          /* relations: (start,end) per named group, per match */
    size_t rel_arg_count, rel_arg_cap;
    nerd_result_t *result;
    nerd_entity_t *final;        /* every entity once built, internal types included */
    size_t final_count;
    int32_t *public_index;       /* final index -> index in result->entities, -1 if internal */
} doc_t;

/* Monotonic clock in nanoseconds. */
uint64_t extract_now(void);

/* 0, or NERD_ETIMEOUT when the document's time budget is spent. */
int extract_check_time(doc_t *d);

/*
 * Runs rule's pattern over the shadow text from the start to the end, calling found for every
 * match with the ovector.  Returns 0 or a negative NERD_E* code (match limit, timeout, ...).
 */
typedef int extract_match_fn(doc_t *d, const rule_t *rule, const PCRE2_SIZE *ovector, void *ctx);
int extract_run_pattern(doc_t *d, const rule_t *rule, extract_match_fn *found, void *ctx);

/* Writes the mask of an entity (type byte then fillers) into the shadow text. */
void extract_mask(doc_t *d, const span_t *e);

/*
 * Overlap resolution (resolve.c).  Chooses among spans[0..n): longest, then higher priority,
 * then lower rule index; a nested span may stay inside a winner (marked inner).  Writes the
 * winners' indexes to out (in no particular order) and returns their number, or -1 when out of
 * memory.  A nested span with exactly a winner's span and type is a duplicate and dropped
 * unless keep_equal (relations: two rules may find two relations in one stretch of text).
 * Uses d->bitmap, which must hold d->len bits.
 */
long resolve_spans(doc_t *d, span_t *spans, size_t n, uint32_t *out, int keep_equal);

/* Linking (link.c): canonical names, acronyms, bare mentions of known people.  The entities
 * are sorted by start (then longest first) on return.  0 or a negative code. */
int link_entities(doc_t *d);

/* Relations (relate.c): runs the relation patterns, resolves overlaps, pronouns and speakers,
 * and fills d->result's relations.  Needs d->final.  0 or a negative code. */
int relate_run(doc_t *d);

#endif
