/*
 * callform.c - writes the big groups that a pattern repeats once, as subroutines (callform.h).
 *
 * One pass finds the groups (prefilter_group_ends()); the non-capturing ones of min_group
 * bytes or more that PCRE2 would compile twice or more (the same text at two places, or one
 * place under {n,m}) become subroutines _c0, _c1, ...  The writer then copies
 * the pattern, putting (?&_cN) in place of each, and appends (?(DEFINE)(?<_c0>...)...) whose
 * bodies are written the same way, so a subroutine may call smaller ones.  Groups inside a
 * lookaround stay where they are: PCRE2 wants a lookbehind's length known without calls, and a
 * lookahead is mostly where an attempt starts, at every candidate place, where calls cost most
 * (on the default pack, calls there too would save a load another 11% of its instructions and
 * cost extraction 1.5% more).
 */
#include "callform.h"

#include "prefilter.h"
#include "strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct group {
    uint32_t start, end;     /* its '(' and the byte after its ')' */
    uint64_t hash;
    size_t text;             /* the first group with the same text (itself when none before) */
    size_t copies;           /* how many copies PCRE2 makes of this text, lookarounds aside */
    long sub;                /* its subroutine number, or -1 */
} group_t;

typedef struct writer {
    const char *p;
    const uint32_t *close;   /* prefilter_group_ends() */
    const long *call_at;     /* per byte: the subroutine to call for the group opening there, or -1 */
    strbuf_t out;
} writer_t;

/* Syntax whose meaning depends on where it is written, or that the rewrite does not follow:
 * inline options, relative and numbered calls, branch resets, (?P..), verbs, \Q..\E, \g. */
static int unsupported(const char *p, size_t len, const uint32_t *close)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (p[i] == '\\' && (p[i + 1] == 'Q' || p[i + 1] == 'g'))
            return 1;
        if (p[i] != '(' || close[i] == 0)
            continue;
        if (p[i + 1] == '*')
            return 1;
        if (p[i + 1] == '?' && i + 2 < len && strchr("imnsxJU^-+0123456789R&P|", p[i + 2]))
            return 1;
    }
    return 0;
}

#define HASH_BASE 1099511628211ull

/*
 * What find_groups() asks of every group in constant time, worked out in one pass: how many
 * captures and back references (which a call would change) come before each byte, and a
 * polynomial hash of every prefix (so a group's hash is hash[end] - hash[start] * base^len).
 */
typedef struct prefix {
    uint32_t *captures;
    uint64_t *hash, *power;
} prefix_t;

static void prefix_free(prefix_t *x)
{
    free(x->captures);
    free(x->hash);
    free(x->power);
}

/* Whether a capture group opens at p[j]: "(", "(?<name>" or "(?'name'". */
static int capture_at(const char *p, size_t len, const uint32_t *close, size_t j)
{
    if (p[j] != '(' || close[j] == 0)
        return 0;
    if (j + 1 >= len || p[j + 1] != '?')
        return 1;
    if (j + 2 < len && p[j + 2] == '\'')
        return 1;
    return j + 3 < len && p[j + 2] == '<' && p[j + 3] != '=' && p[j + 3] != '!';
}

static int prefix_init(prefix_t *x, const char *p, size_t len, const uint32_t *close)
{
    x->captures = malloc((len + 1) * sizeof(uint32_t));
    x->hash = malloc((len + 1) * sizeof(uint64_t));
    x->power = malloc((len + 1) * sizeof(uint64_t));
    if (x->captures == NULL || x->hash == NULL || x->power == NULL) {
        prefix_free(x);
        return -1;
    }
    x->captures[0] = 0;
    x->hash[0] = 0;
    x->power[0] = 1;
    for (size_t j = 0; j < len; j++) {
        int marks = capture_at(p, len, close, j);
        if (p[j] == '\\' && j + 1 < len) {
            char c = p[j + 1];
            marks = (c >= '1' && c <= '9') || c == 'k';
        }
        x->captures[j + 1] = x->captures[j] + (uint32_t)marks;
        x->hash[j + 1] = x->hash[j] * HASH_BASE + (unsigned char)p[j] + 1;
        x->power[j + 1] = x->power[j] * HASH_BASE;
    }
    return 0;
}

/* Whether the group p[start..end) holds a capture or a back reference after its '('. */
static int captures_inside(const prefix_t *x, uint32_t start, uint32_t end)
{
    return x->captures[end] != x->captures[start + 1];
}

static uint64_t group_hash(const prefix_t *x, uint32_t start, uint32_t end)
{
    return x->hash[end] - x->hash[start] * x->power[end - start];
}

/* How many times PCRE2 copies a group followed by p[at..]: m for {n,m}, n for {n} and {n,}. */
static size_t quantifier_copies(const char *p, size_t len, size_t at)
{
    if (at >= len || p[at] != '{')
        return 1;
    size_t n = 0, m = 0, i = at + 1;
    int comma = 0;
    for (; i < len && p[i] != '}'; i++) {
        if (p[i] == ',' && !comma) {
            comma = 1;
        } else if (p[i] >= '0' && p[i] <= '9') {
            size_t *v = comma ? &m : &n;
            *v = *v * 10 + (size_t)(p[i] - '0');
            if (*v > 65535)
                return 1;
        } else {
            return 1;   /* a literal '{' */
        }
    }
    if (i >= len)
        return 1;
    size_t copies = comma && m > 0 ? m : n;
    return copies > 1 ? copies : 1;
}

/* Per byte: inside a lookaround (a count of the lookarounds around it). */
static int *lookaround_depth(const char *p, size_t len, const uint32_t *close)
{
    int *depth = calloc(len + 1, sizeof(int));
    if (depth == NULL)
        return NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (p[i] == '(' && close[i] != 0 && p[i + 1] == '?' && ((p[i + 2] == '<' &&
            (p[i + 3] == '=' || p[i + 3] == '!')) || p[i + 2] == '=' || p[i + 2] == '!')) {
            depth[i]++;
            depth[close[i]]--;
        }
    }
    for (size_t i = 1; i <= len; i++)
        depth[i] += depth[i - 1];
    return depth;
}

/* Whether the group at i is all that the group around it holds, "(?:(?:...))" as a macro
 * whose body is one group expands: only the outer one (maybe quantified) is worth a call. */
static int sole_content(const char *p, const uint32_t *close, size_t i)
{
    return i >= 3 && memcmp(p + i - 3, "(?:", 3) == 0 && close[i - 3] == close[i] + 1;
}

/* The candidate groups, in pattern order, with their texts matched up and copies counted. */
static group_t *find_groups(const char *p, size_t len, size_t min_group, const uint32_t *close,
                            const int *in_look, const prefix_t *x, size_t *count)
{
    size_t n = 0, cap = 0;
    group_t *g = NULL;
    for (size_t i = 0; i + 2 < len; i++) {
        if (p[i] != '(' || close[i] == 0 || p[i + 1] != '?' || p[i + 2] != ':' ||
            close[i] - i < min_group || in_look[i] || sole_content(p, close, i) ||
            captures_inside(x, (uint32_t)i, close[i]))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            group_t *grown = realloc(g, cap * sizeof(*g));
            if (grown == NULL) {
                free(g);
                return NULL;
            }
            g = grown;
        }
        size_t glen = close[i] - i;
        group_t cand = {(uint32_t)i, close[i], group_hash(x, (uint32_t)i, close[i]), n, 0, -1};
        for (size_t k = 0; k < n; k++) {
            if (g[k].text == k && g[k].hash == cand.hash && g[k].end - g[k].start == glen &&
                memcmp(p + g[k].start, p + i, glen) == 0) {
                cand.text = k;
                break;
            }
        }
        g[n++] = cand;
        g[cand.text].copies += quantifier_copies(p, len, close[i]);
    }
    *count = n;
    return g;
}

/* Copies p[from..to) with every group that has a subroutine written as its call. */
static void write_range(writer_t *w, size_t from, size_t to)
{
    size_t run = from;
    for (size_t i = from; i < to; i++) {
        if (w->call_at[i] < 0)
            continue;
        strbuf_append(&w->out, w->p + run, i - run);
        strbuf_printf(&w->out, "(?&_c%ld)", w->call_at[i]);
        run = w->close[i];
        i = run - 1;
    }
    strbuf_append(&w->out, w->p + run, to - run);
}

/* Numbers the groups worth a subroutine and marks where each is called; returns how many. */
static size_t assign_subroutines(group_t *g, size_t n, long *call_at)
{
    size_t subs = 0;
    for (size_t k = 0; k < n; k++) {
        group_t *first = &g[g[k].text];
        if (first->copies < 2)
            continue;
        if (first->sub < 0)
            first->sub = (long)subs++;
        call_at[g[k].start] = first->sub;
    }
    return subs;
}

static char *write_callform(writer_t *w, const group_t *g, size_t n, size_t len, size_t *out_len)
{
    write_range(w, 0, len);
    strbuf_puts(&w->out, "(?(DEFINE)");
    for (size_t k = 0; k < n; k++) {
        if (g[k].text != k || g[k].sub < 0)
            continue;
        /* the body inside "(?:" and ")", its own big groups called in turn */
        strbuf_printf(&w->out, "(?<_c%ld>", g[k].sub);
        write_range(w, g[k].start + 3, g[k].end - 1);
        strbuf_putc(&w->out, ')');
    }
    strbuf_putc(&w->out, ')');
    if (strbuf_failed(&w->out)) {
        strbuf_free(&w->out);
        return NULL;
    }
    *out_len = w->out.len;
    return strbuf_take(&w->out);
}

char *callform_rewrite(const char *pattern, size_t len, const uint32_t *ends, size_t min_group,
                       size_t *out_len, size_t *added)
{
    *added = 0;
    if (len < min_group || len >= UINT32_MAX)
        return NULL;
    uint32_t *own = ends ? NULL : prefilter_group_ends(pattern, len);
    const uint32_t *close = ends ? ends : own;
    int *in_look = close ? lookaround_depth(pattern, len, close) : NULL;
    long *call_at = malloc(len * sizeof(long));
    group_t *g = NULL;
    size_t n = 0, subs = 0;
    char *out = NULL;
    if (in_look == NULL || call_at == NULL || unsupported(pattern, len, close))
        goto done;
    prefix_t x;
    if (prefix_init(&x, pattern, len, close) != 0)
        goto done;
    g = find_groups(pattern, len, min_group, close, in_look, &x, &n);
    prefix_free(&x);
    if (g == NULL)
        goto done;
    for (size_t i = 0; i < len; i++)
        call_at[i] = -1;
    subs = assign_subroutines(g, n, call_at);
    if (subs == 0)
        goto done;
    writer_t w = {pattern, close, call_at, {0}};
    strbuf_init(&w.out);
    out = write_callform(&w, g, n, len, out_len);
    if (out != NULL)
        *added = subs;
done:
    free(g);
    free(call_at);
    free(in_look);
    free(own);
    return out;
}
