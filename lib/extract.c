/*
 * extract.c - nerd_extract(): the pipeline that turns one text into entities and relations.
 *
 *   limits -> UTF-8 check -> shadow text (C0 controls blanked) -> tokens -> gazetteer hits
 *   -> for each phase: gazetteer hits + entity patterns, overlap resolution, masking
 *   -> linking (link.c) -> relations, pronouns, speakers (relate.c) -> result.
 *
 * The shadow text is the only text patterns see.  After each phase every accepted entity of L
 * bytes is overwritten by its type byte and L-1 filler bytes, so later patterns see it as one
 * unit ({TYPE} in a pattern matches exactly that), byte offsets never change and the shadow
 * stays valid UTF-8.  Everything per document lives in the worker's arena; pattern calls reuse
 * the worker's match data, run under match and depth limits, and the clock is checked between
 * calls against the document's time budget.  A pattern is skipped in a document, a line or a
 * paragraph without one of the words every match contains (gate.h), tried no later than the
 * last of them, and only at the bytes a match can start with (and after the bytes its
 * lookbehinds and \b allow) when PCRE2 cannot find those itself (prefilter.h).  Every match
 * attempt sees a bounded window of text (EXTRACT_WINDOW), so no pattern makes extraction cost
 * more than linear time in the length of the text.
 *
 * A worker can also time every rule (nerd_worker_profile(), `nerd rules profile`): two clock
 * reads per rule and document, nothing when it is off.
 */
#include "extract.h"
#include "prefilter.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_BYTES (4u * 1024u * 1024u)
#define DEFAULT_MAX_ENTITIES 100000u
#define DEFAULT_MATCH_LIMIT 1000000u
#define DEFAULT_DEPTH_LIMIT 10000u
#define DEFAULT_TIME_BUDGET_MS 2000u
#define CLOCK_EVERY 32u              /* pattern calls between two looks at the clock */
#define SHADOW_PADDING 64u           /* zero bytes after the shadow text (see run_stages) */
#define EXTRACT_WINDOW 8192u         /* bytes one match attempt sees (see next_match) */

void nerd_limits_default(nerd_limits_t *limits)
{
    if (limits == NULL)
        return;
    limits->max_bytes = DEFAULT_MAX_BYTES;
    limits->max_entities = DEFAULT_MAX_ENTITIES;
    limits->match_limit = DEFAULT_MATCH_LIMIT;
    limits->depth_limit = DEFAULT_DEPTH_LIMIT;
    limits->time_budget_ms = DEFAULT_TIME_BUDGET_MS;
}

uint64_t nerd_limits_budget_ms(const nerd_limits_t *limits, size_t len)
{
    if (limits == NULL || limits->time_budget_ms == 0)
        return 0;
    uint64_t per_mib = limits->time_budget_ms, mib = (uint64_t)len >> 20;
    if (mib > UINT32_MAX)
        return UINT64_MAX / 1000000u;   /* no text is that long; keep the ns deadline finite */
    /* whole MiBs, then the rest of one: no product leaves 64 bits */
    uint64_t scaled = per_mib * mib + (per_mib * ((uint64_t)len & ((1u << 20) - 1)) >> 20);
    return scaled > per_mib ? scaled : per_mib;
}

uint64_t extract_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int extract_check_time(doc_t *d)
{
    if (d->deadline && extract_now() > d->deadline)
        return NERD_ETIMEOUT;
    return 0;
}

int span_vec_push(span_vec_t *v, const span_t *s)
{
    if (v->count == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 256;
        span_t *items = realloc(v->items, cap * sizeof(span_t));
        if (items == NULL)
            return NERD_ENOMEM;
        v->items = items;
        v->cap = cap;
    }
    v->items[v->count++] = *s;
    return 0;
}

/* ---- worker ---- */

size_t extract_first_from(const void *items, size_t count, size_t size, size_t field, uint32_t pos)
{
    const unsigned char *base = items;
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t key;
        memcpy(&key, base + mid * size + field, sizeof(key));
        if (key < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t span_vec_first_from(const span_vec_t *v, uint32_t start)
{
    return extract_first_from(v->items, v->count, sizeof(span_t), offsetof(span_t, start), start);
}

nerd_worker_t *nerd_worker_new(void)
{
    nerd_worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->arena = nerd_arena_new(256 * 1024);
    w->match_context = pcre2_match_context_create(NULL);
    w->jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    w->match_pairs = 16;
    w->match_data = pcre2_match_data_create(w->match_pairs, NULL);
    if (w->arena == NULL || w->match_context == NULL || w->jit_stack == NULL || w->match_data == NULL) {
        nerd_worker_destroy(&w);
        return NULL;
    }
    pcre2_jit_stack_assign(w->match_context, NULL, w->jit_stack);
    return w;
}

void nerd_worker_destroy(nerd_worker_t **worker)
{
    if (worker == NULL || *worker == NULL)
        return;
    nerd_worker_t *w = *worker;
    nerd_arena_destroy(&w->arena);
    pcre2_match_data_free(w->match_data);
    pcre2_match_context_free(w->match_context);
    pcre2_jit_stack_free(w->jit_stack);
    free(w->gazetteer_hits.items);
    free(w->candidates.items);
    free(w->entities.items);
    free(w->relations.items);
    free(w->rule_ns);
    free(w->rule_calls);
    free(w->caps[0]);
    free(w->caps[1]);
    free(w->masked);
    free(w);
    *worker = NULL;
}

void nerd_worker_stage_times(const nerd_worker_t *worker, nerd_stage_times_t *times)
{
    if (times == NULL)
        return;
    if (worker == NULL)
        memset(times, 0, sizeof(*times));
    else
        *times = worker->times;
}

int nerd_worker_profile(nerd_worker_t *worker, int on)
{
    if (worker == NULL)
        return NERD_EINVAL;
    worker->profiling = on != 0;
    if (worker->rule_ns != NULL)
        memset(worker->rule_ns, 0, worker->cost_slots * sizeof(uint64_t));
    if (worker->rule_calls != NULL)
        memset(worker->rule_calls, 0, worker->cost_slots * sizeof(uint64_t));
    return 0;
}

/* Makes room for the costs of n rules (the counts of rules already there are kept). */
static int grow_costs(nerd_worker_t *w, size_t n)
{
    if (n <= w->cost_slots)
        return 0;
    uint64_t *ns = realloc(w->rule_ns, n * sizeof(uint64_t));
    if (ns == NULL)
        return NERD_ENOMEM;
    w->rule_ns = ns;
    uint64_t *calls = realloc(w->rule_calls, n * sizeof(uint64_t));
    if (calls == NULL)
        return NERD_ENOMEM;
    w->rule_calls = calls;
    memset(ns + w->cost_slots, 0, (n - w->cost_slots) * sizeof(uint64_t));
    memset(calls + w->cost_slots, 0, (n - w->cost_slots) * sizeof(uint64_t));
    w->cost_slots = n;
    return 0;
}

static int by_cost(const void *pa, const void *pb)
{
    const nerd_rule_cost_t *a = pa, *b = pb;
    return a->ns != b->ns ? (a->ns < b->ns ? 1 : -1) : strcmp(a->rule, b->rule);
}

size_t nerd_worker_rule_costs(const nerd_worker_t *worker, const nerd_rules_t *rules,
                              nerd_rule_cost_t *out, size_t cap)
{
    if (worker == NULL || rules == NULL)
        return 0;
    size_t n = 0;
    for (size_t r = 0; r < rules->rule_count && r < worker->cost_slots; r++) {
        if (worker->rule_calls[r] == 0 && worker->rule_ns[r] == 0)
            continue;
        if (n < cap)
            out[n] = (nerd_rule_cost_t){rules->rules[r].id, worker->rule_ns[r],
                                        worker->rule_calls[r]};
        n++;
    }
    if (out != NULL)
        qsort(out, n < cap ? n : cap, sizeof(*out), by_cost);
    return n;
}

/* ---- patterns ---- */

static int map_pcre2_error(int rc)
{
    switch (rc) {
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        return NERD_EMATCHLIMIT;
    case PCRE2_ERROR_NOMEMORY:
        return NERD_ENOMEM;
    default:
        return NERD_EINVAL;
    }
}

/* next_match() gives up with this when the document's time is spent (no PCRE2 code is). */
#define TIMEOUT_RC (PCRE2_ERROR_MATCHLIMIT - 1000)

/* One PCRE2 call: rule's pattern (anchored or not) on the shadow text cut at end, from pos. */
static int match_at(doc_t *d, const rule_t *rule, int anchored, size_t pos, size_t end)
{
    nerd_worker_t *w = d->worker;
    const pcre2_code *code = anchored ? rule->anchored : rule->code;
    int jit = anchored ? rule->anchored_jit : rule->jit;
    /* a cut text has no end: $ must not match there */
    uint32_t opts = end < d->len ? PCRE2_NOTEOL : 0;
    w->pattern_calls++;
    w->pattern_window_bytes += end - pos;
    if (jit)
        return pcre2_jit_match(code, (PCRE2_SPTR)d->shadow, end, pos, opts, w->match_data,
                               w->match_context);
    return pcre2_match(code, (PCRE2_SPTR)d->shadow, end, pos, opts | PCRE2_NO_UTF_CHECK,
                       w->match_data, w->match_context);
}

/* pos moved back to the start of its UTF-8 character (offsets handed to PCRE2 must be). */
static size_t char_start(const doc_t *d, size_t pos)
{
    while (pos > 0 && pos < d->len && ((unsigned char)d->shadow[pos] & 0xC0) == 0x80)
        pos--;
    return pos;
}

static int ascii_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Whether a match of rule may start at pos, by its first byte and the byte before it. */
static inline int may_start(const rule_t *rule, const unsigned char *shadow, size_t pos)
{
    unsigned char b = shadow[pos];
    if (!rule->start_table[b])
        return 0;
    return prefilter_prev_allows(ascii_word(b) ? &rule->prev_word : &rule->prev, shadow, pos);
}

/* The first offset in [pos, stop) whose byte may start a match of rule, or stop: four bytes a
 * step, since most bytes cannot. */
static size_t skip_to_start_byte(const rule_t *rule, const unsigned char *shadow, size_t pos,
                                 size_t stop)
{
    const uint8_t *t = rule->start_table;
    while (pos + 4 <= stop &&
           !(t[shadow[pos]] | t[shadow[pos + 1]] | t[shadow[pos + 2]] | t[shadow[pos + 3]]))
        pos += 4;
    while (pos < stop && !t[shadow[pos]])
        pos++;
    return pos;
}

/* The capital list: the offsets of the shadow text that hold a capital byte (rules.h).  The
 * anchored rules that can only start at one walk it rather than every byte of the text.  One
 * pass over the shadow makes it; after that, the entities masked into the shadow (capital bytes
 * all: their type byte and the filler) are merged in, which costs far less than a new pass. */

/* Room for n offsets in the worker array *items of *cap, which at least doubles when it grows
 * (it is kept for the next documents); 0 or NERD_ENOMEM. */
static int reserve_offsets(uint32_t **items, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    size_t want = n > 2 * *cap ? n : 2 * *cap;
    uint32_t *grown = realloc(*items, want * sizeof(uint32_t));
    if (grown == NULL)
        return NERD_ENOMEM;
    *items = grown;
    *cap = want;
    return 0;
}

static int caps_build(doc_t *d)
{
    nerd_worker_t *w = d->worker;
    const unsigned char *shadow = (const unsigned char *)d->shadow;
    size_t n = 0;
    for (size_t i = 0; i < d->len; i++)
        n += (size_t)rules_capital_byte(shadow[i]);
    /* one spare slot for the fill below */
    if (reserve_offsets(&w->caps[d->caps_buf], &w->caps_cap[d->caps_buf], n + 1) != 0)
        return NERD_ENOMEM;
    /* without a branch: every offset is written, and kept when it holds a capital */
    uint32_t *out = w->caps[d->caps_buf];
    n = 0;
    for (size_t i = 0; i < d->len; i++) {
        out[n] = (uint32_t)i;
        n += (size_t)rules_capital_byte(shadow[i]);
    }
    d->caps = out;
    d->cap_count = n;
    d->masked_count = 0;
    return 0;
}

static int by_range_start(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a > b) - (a < b);
}

size_t extract_caps_merge(const uint32_t *caps, size_t count, uint32_t *ranges, size_t k,
                          uint32_t *out)
{
    qsort(ranges, k, 2 * sizeof(uint32_t), by_range_start);
    size_t n = 0, j = 0;
    uint32_t done = 0;   /* every offset below it is settled */
    for (size_t r = 0; r < k; r++) {
        uint32_t s = ranges[2 * r] > done ? ranges[2 * r] : done, e = ranges[2 * r + 1];
        if (e <= s)
            continue;
        for (; j < count && caps[j] < s; j++)
            out[n++] = caps[j];
        for (uint32_t p = s; p < e; p++)
            out[n++] = p;
        while (j < count && caps[j] < e)
            j++;
        done = e;
    }
    while (j < count)
        out[n++] = caps[j++];
    return n;
}

static int caps_merge_masked(doc_t *d)
{
    nerd_worker_t *w = d->worker;
    size_t bound = d->cap_count;
    for (size_t r = 0; r < d->masked_count; r++)
        bound += w->masked[2 * r + 1] - w->masked[2 * r];
    int next = !d->caps_buf;
    if (reserve_offsets(&w->caps[next], &w->caps_cap[next], bound + 1) != 0)
        return NERD_ENOMEM;
    d->cap_count = extract_caps_merge(d->caps, d->cap_count, w->masked, d->masked_count,
                                      w->caps[next]);
    d->caps = w->caps[next];
    d->caps_buf = next;
    d->masked_count = 0;
    return 0;
}

/* d's capital list, up to date with the shadow; 0 or NERD_ENOMEM. */
static int capital_list(doc_t *d)
{
    if (d->caps == NULL)
        return caps_build(d);
    return d->masked_count ? caps_merge_masked(d) : 0;
}

/* Notes that [start, end) of the shadow was masked, for capital_list(). */
static void caps_note_masked(doc_t *d, uint32_t start, uint32_t end)
{
    if (d->caps == NULL)
        return;   /* not made yet: the first pass will see the masked shadow */
    nerd_worker_t *w = d->worker;
    if (reserve_offsets(&w->masked, &w->masked_cap, 2 * (d->masked_count + 1)) != 0) {
        d->caps = NULL;   /* without memory for the note, make the list again */
        return;
    }
    w->masked[2 * d->masked_count] = start;
    w->masked[2 * d->masked_count + 1] = end;
    d->masked_count++;
}

/* The first offset in [pos, stop) where rule may start, or stop.  With the capital list (caps,
 * not NULL), *k is the cursor in it that the calls share. */
static size_t next_start(const doc_t *d, const rule_t *rule, const uint32_t *caps, size_t *k,
                         size_t pos, size_t stop)
{
    const unsigned char *shadow = (const unsigned char *)d->shadow;
    if (caps == NULL) {
        for (;; pos++) {
            pos = skip_to_start_byte(rule, shadow, pos, stop);
            if (pos >= stop || may_start(rule, shadow, pos))
                return pos;
        }
    }
    for (; *k < d->cap_count && caps[*k] < stop; ++*k)
        if (caps[*k] >= pos && may_start(rule, shadow, caps[*k]))
            return caps[*k];
    return stop;
}

/*
 * The next match of rule at or after pos, or PCRE2_ERROR_NOMATCH.  Every attempt sees at most
 * EXTRACT_WINDOW bytes from where it starts (lookbehinds see the whole text before it), so no
 * pattern can make an attempt scan the rest of a long text and the cost of a pattern stays
 * linear in the text: a match (lookaheads included) longer than the window is not found.
 */
static int next_match(doc_t *d, const rule_t *rule, size_t pos, size_t limit)
{
    if (rule->anchored) {
        /* jump to the next byte a match can start with and try there only; the leftmost
         * match found this way is the one an unanchored search would find */
        size_t stop = limit < d->len ? limit + 1 : d->len;
        const uint32_t *caps = NULL;
        size_t k = 0;
        if (rule->at_capitals && capital_list(d) == 0) {
            caps = d->caps;
            k = extract_first_from(caps, d->cap_count, sizeof(uint32_t), 0, (uint32_t)pos);
        }
        for (;;) {
            pos = next_start(d, rule, caps, &k, pos, stop);
            if (pos >= stop)
                return PCRE2_ERROR_NOMATCH;
            size_t end = d->len - pos > EXTRACT_WINDOW ? char_start(d, pos + EXTRACT_WINDOW) : d->len;
            int rc = match_at(d, rule, 1, pos, end);
            if (rc != PCRE2_ERROR_NOMATCH)
                return rc;
            pos++;
            if (++d->calls >= CLOCK_EVERY) {
                d->calls = 0;
                if (extract_check_time(d))
                    return TIMEOUT_RC;
            }
        }
    }
    /* PCRE2 finds the start itself, no further than limit: search windows of two window
     * sizes, keeping a match that starts in the first half (it had a whole window after its
     * start) */
    pcre2_set_offset_limit(d->worker->match_context, limit < d->len ? limit : PCRE2_UNSET);
    int rc;
    for (;;) {
        if (d->len - pos <= 2 * (size_t)EXTRACT_WINDOW) {
            rc = match_at(d, rule, 0, pos, d->len);
            break;
        }
        size_t half = char_start(d, pos + EXTRACT_WINDOW);
        rc = match_at(d, rule, 0, pos, char_start(d, pos + 2 * (size_t)EXTRACT_WINDOW));
        if ((rc == PCRE2_ERROR_NOMATCH && half <= limit) ||
            (rc >= 0 && pcre2_get_ovector_pointer(d->worker->match_data)[0] >= half)) {
            pos = half;
            continue;
        }
        break;
    }
    pcre2_set_offset_limit(d->worker->match_context, PCRE2_UNSET);
    return rc;
}

/*
 * Every match of rule that starts at or after *pos and no later than limit, in order, each
 * handed to found; *pos ends past the last one.  0, or the first error.
 */
static int run_range(doc_t *d, const rule_t *rule, size_t *pos, size_t limit,
                     extract_match_fn *found, void *ctx)
{
    while (*pos <= d->len && *pos <= limit) {
        if (++d->calls >= CLOCK_EVERY) {
            d->calls = 0;
            int rc = extract_check_time(d);
            if (rc)
                return rc;
        }
        int rc = next_match(d, rule, *pos, limit);
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        if (rc == TIMEOUT_RC)
            return NERD_ETIMEOUT;
        if (rc < 0)
            return map_pcre2_error(rc);
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(d->worker->match_data);
        rc = found(d, rule, ov, ctx);
        if (rc)
            return rc;
        size_t next = ov[1];
        if (next <= *pos || ov[1] == ov[0]) {
            /* an empty match: step over one character */
            next = ov[1] > *pos ? ov[1] : *pos;
            if (next >= d->len) {
                *pos = d->len + 1;
                return 0;
            }
            next++;
            while (next < d->len && ((unsigned char)d->shadow[next] & 0xC0) == 0x80)
                next++;
        }
        *pos = next;
    }
    return 0;
}

static int run_pattern(doc_t *d, const rule_t *rule, extract_match_fn *found, void *ctx);

int extract_run_pattern(doc_t *d, const rule_t *rule, extract_match_fn *found, void *ctx)
{
    nerd_worker_t *w = d->worker;
    if (!w->profiling || rule->index >= w->cost_slots)
        return run_pattern(d, rule, found, ctx);
    uint64_t start = extract_now(), calls = w->pattern_calls;
    int rc = run_pattern(d, rule, found, ctx);
    w->rule_ns[rule->index] += extract_now() - start;
    w->rule_calls[rule->index] += w->pattern_calls - calls;
    return rc;
}

/* rule's matches that start in the units (lines or paragraphs) that have its gate bit. */
static int run_units(doc_t *d, const rule_t *rule, const gate_line_t *units, size_t count,
                     extract_match_fn *found, void *ctx)
{
    uint32_t bit = (uint32_t)rule->gate_bit;
    size_t pos = 0;
    for (size_t u = 0; u < count; u++) {
        if (!gate_has(units[u].rules, bit) || units[u].end < pos)
            continue;
        if (pos < units[u].start)
            pos = units[u].start;
        int rc = run_range(d, rule, &pos, gate_last_word(&d->gate, &units[u], bit), found, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

/* One rule over the document: skipped without its words, else over the lines that have them
 * (single-line rules) or from the paragraphs that have them (gate.h). */
static int run_pattern(doc_t *d, const rule_t *rule, extract_match_fn *found, void *ctx)
{
    const gate_doc_t *g = &d->gate;
    size_t pos = 0;
    if (rule->gate_bit < 0 || g->lines == NULL || (rule->gate_caseless && g->fold_hazard))
        return run_range(d, rule, &pos, SIZE_MAX, found, ctx);
    if (!gate_has(g->any, (uint32_t)rule->gate_bit))
        return 0; /* none of the words every match contains */
    if (d->paragraphs_joined)
        return run_range(d, rule, &pos, SIZE_MAX, found, ctx);
    if (!rule->single_line || d->lines_joined)
        return run_units(d, rule, g->paragraphs, g->paragraph_count, found, ctx);
    return run_units(d, rule, g->lines, g->line_count, found, ctx);
}

static int entity_found(doc_t *d, const rule_t *rule, const PCRE2_SIZE *ov, void *ctx)
{
    (void)ctx;
    span_t s;
    memset(&s, 0, sizeof(s));
    s.start = (uint32_t)ov[0];
    s.end = (uint32_t)ov[1];
    if (rule->span_group && ov[2 * rule->span_group] != PCRE2_UNSET) {
        s.start = (uint32_t)ov[2 * rule->span_group];
        s.end = (uint32_t)ov[2 * rule->span_group + 1];
    }
    if (s.end <= s.start)
        return 0;
    s.rule = rule->index;
    s.priority = rule->priority;
    s.type = (uint16_t)rule->type;
    s.nested = (uint8_t)rule->nested;
    uint32_t cg = rule->canonical_group;
    if (cg && ov[2 * cg] != PCRE2_UNSET && ov[2 * cg + 1] > ov[2 * cg]) {
        s.canonical = d->text + ov[2 * cg];
        s.canonical_len = (uint32_t)(ov[2 * cg + 1] - ov[2 * cg]);
    }
    return span_vec_push(&d->worker->candidates, &s) ? NERD_ENOMEM : 0;
}

void extract_mask(doc_t *d, const span_t *e)
{
    caps_note_masked(d, e->start, e->end);
    if (memchr(d->text + e->start, '\n', e->end - e->start) != NULL) {
        d->lines_joined = 1;   /* a single-line rule could now match across that line end */
        if (gate_spans_blank_line(d->text, e->start, e->end))
            d->paragraphs_joined = 1;
    }
    d->shadow[e->start] = (char)d->rules->type_byte[e->type];
    if (e->end > e->start + 1)
        memset(d->shadow + e->start + 1, RULES_FILLER_BYTE, e->end - e->start - 1);
}

/* ---- gazetteer ---- */

static int gazetteer_found(void *ctx, size_t tok, size_t ntok, const gazetteer_value_t *v)
{
    doc_t *d = ctx;
    const rule_t *rule = &d->rules->rules[v->rule];
    if (token_hyphen_joined(d->shadow, d->tokens, d->token_count, tok, tok + ntok - 1))
        return 0;
    span_t s;
    memset(&s, 0, sizeof(s));
    s.start = d->tokens[tok].start;
    s.end = d->tokens[tok + ntok - 1].end;
    s.rule = rule->index;
    s.priority = rule->priority;
    s.type = (uint16_t)rule->type;
    s.nested = (uint8_t)rule->nested;
    s.canonical = v->canonical;
    s.canonical_len = v->canonical_len;
    return span_vec_push(&d->worker->gazetteer_hits, &s) ? NERD_ENOMEM : 0;
}

/* ---- phases ---- */

int span_by_start_longest(const void *pa, const void *pb)
{
    const span_t *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->end != b->end)
        return a->end > b->end ? -1 : 1;
    return 0;
}

/* 1 when the span starts or ends inside an entity masked by an earlier phase. */
static int cuts_mask(const doc_t *d, const span_t *s)
{
    return (unsigned char)d->shadow[s->start] == RULES_FILLER_BYTE ||
           (s->end < d->len && (unsigned char)d->shadow[s->end] == RULES_FILLER_BYTE);
}

/* The earlier entity (index into entities) that wholly contains [s,e), or -1. */
static long containing_entity(const span_vec_t *ents, uint32_t s, uint32_t e)
{
    /* entities sorted by start: from the last one starting at or before s, backwards */
    for (size_t k = span_vec_first_from(ents, s + 1); k > 0; k--) {
        const span_t *x = &ents->items[k - 1];
        if (x->removed || x->inner)
            continue;
        return x->end >= e ? (long)(k - 1) : -1;
    }
    return -1;
}

/* Marks the earlier entities that [s,e) wholly covers as removed. */
static void remove_covered(span_vec_t *ents, uint32_t s, uint32_t e)
{
    for (size_t k = span_vec_first_from(ents, s); k < ents->count && ents->items[k].start < e; k++)
        if (ents->items[k].end <= e)
            ents->items[k].removed = 1;
}

static size_t live_entities(const span_vec_t *ents)
{
    size_t n = 0;
    for (size_t k = 0; k < ents->count; k++)
        n += !ents->items[k].removed;
    return n;
}

static int run_phase(doc_t *d, uint32_t phase)
{
    nerd_worker_t *w = d->worker;
    const nerd_rules_t *rules = d->rules;
    span_vec_t *cands = &w->candidates, *ents = &w->entities;
    cands->count = 0;
    for (size_t k = 0; k < w->gazetteer_hits.count; k++)
        if (rules->rules[w->gazetteer_hits.items[k].rule].phase == phase &&
            span_vec_push(cands, &w->gazetteer_hits.items[k]) != 0)
            return NERD_ENOMEM;
    for (size_t r = 0; r < rules->rule_count; r++) {
        const rule_t *rule = &rules->rules[r];
        if (rule->kind != RULE_ENTITY || rule->phase != phase)
            continue;
        int rc = extract_check_time(d);
        if (rc == 0)
            rc = extract_run_pattern(d, rule, entity_found, NULL);
        if (rc)
            return rc;
    }
    /* Matches may not cut an entity of an earlier phase, except nested ones inside it.  No
     * entity spans a blank line ("1 March\n\n2000 people"): it would also join two paragraphs
     * for the gate, for the rest of the document (extract_mask()). */
    size_t n = 0;
    for (size_t k = 0; k < cands->count; k++) {
        span_t *c = &cands->items[k];
        if (cuts_mask(d, c) && !(c->nested && containing_entity(ents, c->start, c->end) >= 0))
            continue;
        if (gate_spans_blank_line(d->text, c->start, c->end))
            continue;
        cands->items[n++] = *c;
    }
    cands->count = n;
    if (n == 0)
        return 0;
    uint32_t *win = nerd_arena_alloc(w->arena, n * sizeof(uint32_t));
    if (win == NULL)
        return NERD_ENOMEM;
    long nw = resolve_spans(d, cands->items, n, win, 0);
    if (nw < 0)
        return NERD_ENOMEM;
    for (long k = 0; k < nw; k++) {
        span_t *c = &cands->items[win[k]];
        if (cuts_mask(d, c))
            c->inner = 1;  /* nested inside an earlier entity */
    }
    for (long k = 0; k < nw; k++) {
        span_t *c = &cands->items[win[k]];
        if (c->inner)
            continue;
        if (!c->nested)
            remove_covered(ents, c->start, c->end);
        extract_mask(d, c);
    }
    for (long k = 0; k < nw; k++)
        if (span_vec_push(ents, &cands->items[win[k]]) != 0)
            return NERD_ENOMEM;
    qsort(ents->items, ents->count, sizeof(span_t), span_by_start_longest);
    if (d->limits->max_entities && live_entities(ents) > d->limits->max_entities)
        return NERD_EENTITIES;
    return 0;
}

/* ---- result ---- */

/* Copies s[0..n) into the arena with every run of blanks made one space, trimmed. */
static char *normalised_copy(nerd_arena_t *a, const char *s, size_t n)
{
    char *out = nerd_arena_alloc(a, n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    int blank = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            blank = o > 0;
            continue;
        }
        if (blank)
            out[o++] = ' ';
        blank = 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

static int by_start_end(const void *pa, const void *pb)
{
    const nerd_entity_t *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return 0;
}

/* The index of a type name of the set (names are interned: compare pointers). */
static int type_index(const nerd_rules_t *rules, const char *type)
{
    for (size_t t = 0; t < rules->type_count; t++)
        if (rules->types[t] == type)
            return (int)t;
    return 0;
}

static int build_entities(doc_t *d)
{
    nerd_worker_t *w = d->worker;
    span_vec_t *ents = &w->entities;
    size_t n = live_entities(ents);
    if (d->limits->max_entities && n > d->limits->max_entities)
        return NERD_EENTITIES;
    nerd_entity_t *out = nerd_arena_alloc(w->arena, (n ? n : 1) * sizeof(nerd_entity_t));
    if (out == NULL)
        return NERD_ENOMEM;
    size_t o = 0;
    for (size_t k = 0; k < ents->count; k++) {
        const span_t *s = &ents->items[k];
        if (s->removed)
            continue;
        nerd_entity_t *e = &out[o++];
        e->type = d->rules->types[s->type];
        e->start = s->start;
        e->end = s->end;
        e->text = nerd_arena_strndup(w->arena, d->text + s->start, s->end - s->start);
        e->canonical = s->canonical ? normalised_copy(w->arena, s->canonical, s->canonical_len)
                                    : normalised_copy(w->arena, e->text, s->end - s->start);
        e->rule = s->rule_id ? s->rule_id : d->rules->rules[s->rule].id;
        if (e->text == NULL || e->canonical == NULL)
            return NERD_ENOMEM;
    }
    qsort(out, n, sizeof(nerd_entity_t), by_start_end);
    d->final = out;
    d->final_count = n;
    d->public_index = nerd_arena_alloc(w->arena, (n ? n : 1) * sizeof(int32_t));
    if (d->public_index == NULL)
        return NERD_ENOMEM;
    int32_t pub = 0;
    for (size_t k = 0; k < n; k++) {
        int t = type_index(d->rules, out[k].type);
        d->public_index[k] = (d->rules->internal_types >> t) & 1 ? -1 : pub++;
    }
    return 0;
}

/* The reported entities: the final ones without the internal types (after relations, which
 * may still give a pronoun its canonical name). */
static int publish_entities(doc_t *d)
{
    d->worker->all_entities = d->final;
    d->worker->all_entity_count = d->final_count;
    size_t n = 0;
    for (size_t k = 0; k < d->final_count; k++)
        n += d->public_index[k] >= 0;
    if (n == d->final_count) {
        d->result->entities = d->final;
        d->result->entity_count = n;
        return 0;
    }
    nerd_entity_t *out = nerd_arena_alloc(d->worker->arena, (n ? n : 1) * sizeof(nerd_entity_t));
    if (out == NULL)
        return NERD_ENOMEM;
    for (size_t k = 0; k < d->final_count; k++)
        if (d->public_index[k] >= 0)
            out[d->public_index[k]] = d->final[k];
    d->result->entities = out;
    d->result->entity_count = n;
    return 0;
}

/* ---- the pipeline ---- */

static int prepare_worker(nerd_worker_t *w, const nerd_rules_t *rules, const nerd_limits_t *lim)
{
    uint32_t pairs = rules->max_captures + 1;
    if (pairs > w->match_pairs) {
        pcre2_match_data *md = pcre2_match_data_create(pairs, NULL);
        if (md == NULL)
            return NERD_ENOMEM;
        pcre2_match_data_free(w->match_data);
        w->match_data = md;
        w->match_pairs = pairs;
    }
    if (w->profiling && grow_costs(w, rules->rule_count) != 0)
        return NERD_ENOMEM;
    pcre2_set_match_limit(w->match_context, lim->match_limit ? lim->match_limit : DEFAULT_MATCH_LIMIT);
    pcre2_set_depth_limit(w->match_context, lim->depth_limit ? lim->depth_limit : DEFAULT_DEPTH_LIMIT);
    w->gazetteer_hits.count = 0;
    w->candidates.count = 0;
    w->entities.count = 0;
    w->relations.count = 0;
    memset(&w->result, 0, sizeof(w->result));
    w->all_entities = NULL;
    w->all_entity_count = 0;
    return 0;
}

/* Copies the text into the shadow, blanking C0 controls other than \t \n \r (they are the
 * type and filler bytes of masked entities). */
static void make_shadow(char *shadow, const char *text, size_t len)
{
    memcpy(shadow, text, len);
    memset(shadow + len, 0, SHADOW_PADDING);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)shadow[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            shadow[i] = ' ';
    }
}

static int run_stages(doc_t *d)
{
    nerd_worker_t *w = d->worker;
    nerd_stage_times_t *t = &w->times;
    uint64_t t0 = extract_now();
    /* Zeroed padding after the text: JIT code reads the subject in aligned SIMD chunks that may
     * pass its end, and valgrind would see those bytes as uninitialised. */
    d->shadow = nerd_arena_alloc(w->arena, d->len + SHADOW_PADDING);
    d->bitmap = nerd_arena_alloc(w->arena, ((d->len + 63) / 64 + 1) * sizeof(uint64_t));
    if (d->shadow == NULL || d->bitmap == NULL)
        return NERD_ENOMEM;
    memset(d->bitmap, 0, ((d->len + 63) / 64 + 1) * sizeof(uint64_t));
    make_shadow(d->shadow, d->text, d->len);
    uint64_t t1 = extract_now();
    t->normalise += t1 - t0;
    int rc = d->rules->gate ? gate_scan(d->rules->gate, w->arena, d->text, d->len, &d->gate) : 0;
    if (rc)
        return rc;
    rc = token_split(w->arena, d->shadow, d->len, &d->tokens, &d->token_count);
    uint64_t t2 = extract_now();
    t->tokenise += t2 - t1;
    if (rc)
        return rc;
    rc = gazetteer_lookup(d->rules->gazetteer, d->shadow, d->tokens, d->token_count,
                          gazetteer_found, d);
    uint64_t t3 = extract_now();
    t->gazetteer += t3 - t2;
    if (rc)
        return rc;
    for (uint32_t p = 0; p < d->rules->phase_count && rc == 0; p++)
        rc = run_phase(d, p);
    uint64_t t4 = extract_now();
    t->patterns += t4 - t3;
    if (rc)
        return rc;
    rc = link_entities(d);
    if (rc == 0)
        rc = build_entities(d);
    uint64_t t5 = extract_now();
    t->link += t5 - t4;
    if (rc)
        return rc;
    rc = extract_check_time(d);
    if (rc == 0)
        rc = relate_run(d);
    if (rc == 0)
        rc = publish_entities(d);
    t->relations += extract_now() - t5;
    return rc;
}

int nerd_extract(nerd_worker_t *worker, const nerd_rules_t *rules, const char *text, size_t len,
                 const nerd_limits_t *limits, const nerd_result_t **result)
{
    if (result)
        *result = NULL;
    if (worker == NULL || rules == NULL || result == NULL || (text == NULL && len > 0))
        return NERD_EINVAL;
    nerd_limits_t defaults;
    if (limits == NULL) {
        nerd_limits_default(&defaults);
        limits = &defaults;
    }
    uint64_t start = extract_now();
    if ((limits->max_bytes && len > limits->max_bytes) || len >= UINT32_MAX)
        return NERD_ETOOBIG;
    if (text == NULL)
        text = "";
    int rc = nerd_utf8_check(text, len, NULL);
    worker->times.normalise += extract_now() - start;
    if (rc)
        return rc;
    nerd_arena_reset(worker->arena);
    rc = prepare_worker(worker, rules, limits);
    if (rc)
        return rc;
    doc_t d;
    memset(&d, 0, sizeof(d));
    d.worker = worker;
    d.rules = rules;
    d.limits = limits;
    d.text = text;
    d.len = len;
    d.result = &worker->result;
    if (limits->time_budget_ms)
        d.deadline = start + nerd_limits_budget_ms(limits, len) * 1000000u;
    rc = run_stages(&d);
    worker->times.documents++;
    worker->times.bytes += len;
    if (rc)
        return rc;
    *result = &worker->result;
    return 0;
}
