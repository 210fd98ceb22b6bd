/*
 * resolve.c - overlap resolution: which of several overlapping matches survive.
 *
 * The matches are sorted best first (longest, then higher priority, then earlier rule, then
 * earlier in the text) and accepted greedily when none of their bytes is taken yet.  Taken
 * bytes are bits of a bitmap as long as the text, so a check costs the length of the match in
 * 64-bit words: resolution is O(n log n) in the number of matches, never pairwise.  A nested
 * match that lost is kept afterwards when it lies wholly inside a winner (binary search over
 * the winners sorted by start).
 */
#include "extract.h"

#include <stdlib.h>
#include <string.h>

static int better(const void *pa, const void *pb)
{
    const span_t *a = pa, *b = pb;
    uint32_t la = a->end - a->start, lb = b->end - b->start;
    if (la != lb)
        return la > lb ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->rule != b->rule)
        return a->rule < b->rule ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return 0;
}

static inline uint64_t word_mask(uint32_t from, uint32_t to)
{
    /* bits [from, to) of one word, 0 <= from < to <= 64 */
    uint64_t hi = to == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << to) - 1);
    return hi & ~((UINT64_C(1) << from) - 1);
}

static int bits_any(const uint64_t *bm, uint32_t s, uint32_t e)
{
    while (s < e) {
        uint32_t w = s >> 6, from = s & 63;
        uint32_t to = (e - (s - from)) > 64 ? 64 : e - (s - from);
        if (bm[w] & word_mask(from, to))
            return 1;
        s += to - from;
    }
    return 0;
}

static void bits_assign(uint64_t *bm, uint32_t s, uint32_t e, int on)
{
    while (s < e) {
        uint32_t w = s >> 6, from = s & 63;
        uint32_t to = (e - (s - from)) > 64 ? 64 : e - (s - from);
        if (on)
            bm[w] |= word_mask(from, to);
        else
            bm[w] &= ~word_mask(from, to);
        s += to - from;
    }
}

/* Sorts idx[0..n) by the start of spans[idx], using tmp of n elements (merge sort). */
static void sort_by_start(uint32_t *idx, uint32_t *tmp, size_t n, const span_t *spans)
{
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = spans[idx[b]].start < spans[idx[a]].start ? idx[b++] : idx[a++];
            while (a < mid)
                tmp[o++] = idx[a++];
            while (b < hi)
                tmp[o++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof(uint32_t));
    }
}

/* Keeps the deferred nested spans that lie inside a winner; returns how many were added. */
static size_t keep_nested(doc_t *d, span_t *spans, const uint32_t *winners, size_t nw,
                          const uint32_t *deferred, size_t nd, uint32_t *out, int keep_equal)
{
    uint32_t *by_start = nerd_arena_alloc(d->worker->arena, 2 * nw * sizeof(uint32_t));
    if (by_start == NULL)
        return SIZE_MAX;
    memcpy(by_start, winners, nw * sizeof(uint32_t));
    sort_by_start(by_start, by_start + nw, nw, spans);
    size_t added = 0;
    for (size_t k = 0; k < nd; k++) {
        span_t *c = &spans[deferred[k]];
        size_t lo = 0, hi = nw;   /* last winner with start <= c->start */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (spans[by_start[mid]].start <= c->start)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0)
            continue;
        const span_t *w = &spans[by_start[lo - 1]];
        int same = w->start == c->start && w->end == c->end && w->type == c->type;
        if (w->end >= c->end && (keep_equal || !same)) {
            c->inner = 1;
            out[nw + added++] = deferred[k];
        }
    }
    return added;
}

long resolve_spans(doc_t *d, span_t *spans, size_t n, uint32_t *out, int keep_equal)
{
    if (n == 0)
        return 0;
    qsort(spans, n, sizeof(span_t), better);
    uint32_t *deferred = NULL;
    size_t nw = 0, nd = 0;
    for (size_t i = 0; i < n; i++) {
        span_t *c = &spans[i];
        if (c->end <= c->start)
            continue;
        if (!bits_any(d->bitmap, c->start, c->end)) {
            bits_assign(d->bitmap, c->start, c->end, 1);
            out[nw++] = (uint32_t)i;
        } else if (c->nested) {
            if (deferred == NULL) {
                deferred = nerd_arena_alloc(d->worker->arena, n * sizeof(uint32_t));
                if (deferred == NULL)
                    return -1;
            }
            deferred[nd++] = (uint32_t)i;
        }
    }
    /* Leave the bitmap clear for the next call: only the winners' bits were set. */
    for (size_t k = 0; k < nw; k++)
        bits_assign(d->bitmap, spans[out[k]].start, spans[out[k]].end, 0);
    size_t added = 0;
    if (nd) {
        added = keep_nested(d, spans, out, nw, deferred, nd, out, keep_equal);
        if (added == SIZE_MAX)
            return -1;
    }
    return (long)(nw + added);
}
