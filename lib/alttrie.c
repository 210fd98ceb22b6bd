/*
 * alttrie.c - the trie rewrite of alttrie.h.
 *
 * The pattern is copied group by group.  Inside every group (except lookbehinds, whose
 * branches must keep a fixed length each), the branches are read one by one; a branch made
 * only of plain characters, \s, escaped punctuation, "x?" and small classes such as [ae]
 * becomes one or more word sequences ("sources?" -> "sources", "source", in the order PCRE2
 * would try them).  A run of such adjacent branches is written as a trie.
 *
 * Why the first match stays the same: PCRE2 tries branches in order, and at one position two
 * branches whose first characters differ cannot both match.  So gathering the branches by
 * first character (keeping their order within each gathering, and keeping an empty branch as
 * a barrier that nothing moves across) changes no outcome.  This needs every two different
 * sibling characters to be exclusive: the rewrite gives up on a run where two siblings differ
 * only in case (the pattern may be case-insensitive there) or where a blank and \s meet, and a
 * \s+ must be followed by a plain character (so its length is never backtracked into while a
 * later branch waits).
 *
 * The rewrite is a function of each run's text alone, so a memo (memo.h) keeps what
 * every run became, and a word list that comes back (a macro used in many rules) is copied
 * from it instead of being worked out again.
 */
#include "alttrie.h"
#include "strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ATOM_SPACE 256u          /* \s */
#define ATOM_SPACES 257u         /* \s+ */
#define SEQ_MAX 48               /* atoms in one word sequence */
#define VARIANTS_MAX 16          /* sequences one branch may expand to */
#define RUN_MIN 3                /* shorter runs are not worth rewriting */

typedef struct seq {
    uint16_t atoms[SEQ_MAX];
    uint8_t len;
} seq_t;

typedef struct seq_vec {
    seq_t *items;
    size_t count, cap;
    int nomem;
} seq_vec_t;

static int push_seq(seq_vec_t *v, const seq_t *s)
{
    if (v->count == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        seq_t *items = realloc(v->items, cap * sizeof(seq_t));
        if (items == NULL) {
            v->nomem = 1;
            return -1;
        }
        v->items = items;
        v->cap = cap;
    }
    v->items[v->count++] = *s;
    return 0;
}

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A character that stands for itself outside a class. */
static int is_plain(int c)
{
    switch (c) {
    case '\\': case '^': case '$': case '.': case '|': case '?': case '*': case '+':
    case '(': case ')': case '[': case ']': case '{': case '}':
        return 0;
    default:
        return c >= 0x20 && c < 0x7F;
    }
}

/* Appends atom a (with the alternatives of its class, if any) to every sequence of v[0..n);
 * returns the new count, 0 when a sequence would be too long or there would be too many. */
static size_t append_atom(seq_t *v, size_t n, const uint16_t *alts, size_t nalts, int optional,
                          int lazy)
{
    size_t total = n * (nalts + (optional ? 1 : 0));
    if (total > VARIANTS_MAX)
        return 0;
    if (nalts == 1 && !optional) {
        /* the common case, a plain character: extend each sequence where it is */
        for (size_t k = 0; k < n; k++) {
            if (v[k].len >= SEQ_MAX)
                return 0;
            v[k].atoms[v[k].len++] = alts[0];
        }
        return n;
    }
    seq_t out[VARIANTS_MAX];
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        if (optional && lazy)
            out[o++] = v[k];
        for (size_t a = 0; a < nalts; a++) {
            if (v[k].len >= SEQ_MAX)
                return 0;
            out[o] = v[k];
            out[o].atoms[out[o].len++] = alts[a];
            o++;
        }
        if (optional && !lazy)
            out[o++] = v[k];
    }
    memcpy(v, out, o * sizeof(seq_t));
    return o;
}

/*
 * Reads one branch at p[*i] as plain words, up to (not past) its '|' or ')' or the end.
 * Returns the number of sequences written to out (the branch's expansions in PCRE2's order),
 * or 0 when the branch is not plain (then *i is unchanged).
 */
static size_t read_plain_branch(const char *p, size_t len, size_t *i, seq_t *out)
{
    size_t k = *i, n = 1;
    out[0].len = 0;
    while (k < len && p[k] != '|' && p[k] != ')') {
        uint16_t alts[4];
        size_t nalts = 0;
        int c = (unsigned char)p[k];
        if (c == '\\') {
            int e = k + 1 < len ? (unsigned char)p[k + 1] : 0;
            if (e == 's' && k + 2 < len && p[k + 2] == '+') {
                if (k + 3 < len && (p[k + 3] == '?' || p[k + 3] == '+'))
                    return 0;
                alts[nalts++] = ATOM_SPACES;
                k += 3;
            } else if (e == 's') {
                alts[nalts++] = ATOM_SPACE;
                k += 2;
            } else if (e >= 0x21 && e < 0x7F && !is_alnum(e)) {
                alts[nalts++] = (uint16_t)e;
                k += 2;
            } else {
                return 0;
            }
        } else if (c == '[') {
            k++;
            while (k < len && is_alnum((unsigned char)p[k]) && nalts < 4)
                alts[nalts++] = (uint16_t)(unsigned char)p[k++];
            if (k >= len || p[k] != ']' || nalts == 0)
                return 0;
            k++;
        } else if (is_plain(c)) {
            alts[nalts++] = (uint16_t)c;
            k++;
        } else {
            return 0;
        }
        int optional = 0, lazy = 0;
        if (k < len && p[k] == '?') {
            if (alts[0] == ATOM_SPACES)
                return 0;
            optional = 1;
            k++;
            if (k < len && p[k] == '?') {
                lazy = 1;
                k++;
            } else if (k < len && p[k] == '+') {
                return 0;
            }
        }
        if (k < len && (p[k] == '*' || p[k] == '+' || p[k] == '{'))
            return 0;
        n = append_atom(out, n, alts, nalts, optional, lazy);
        if (n == 0)
            return 0;
    }
    /* \s+ only before a plain character (see the top of the file) */
    for (size_t v = 0; v < n; v++)
        for (size_t a = 0; a < out[v].len; a++)
            if (out[v].atoms[a] == ATOM_SPACES &&
                (a + 1 == out[v].len || out[v].atoms[a + 1] == ' ' ||
                 out[v].atoms[a + 1] >= ATOM_SPACE))
                return 0;
    *i = k;
    return n;
}

/* The items of a trie level grouped by their atom at one offset: the groups in the order their
 * atoms first appear (the order PCRE2 would meet them), each group's items in their own order. */
typedef struct grouping {
    seq_t **sorted;                    /* malloc'd; group d is sorted[start[d] .. start[d + 1]) */
    uint32_t start[ATOM_SPACES + 2];
    uint16_t atom[ATOM_SPACES + 1];    /* group d's atom */
    size_t count;
} grouping_t;

/* Groups the items of items[0..n) longer than k by their atom at k, in two passes over them (a
 * level of a long word list has many items and few distinct atoms).  0, or -1 out of memory. */
static int group_by_atom(seq_t *const *items, size_t n, size_t k, grouping_t *g)
{
    int16_t index[ATOM_SPACES + 1];
    uint32_t size[ATOM_SPACES + 1];
    memset(index, -1, sizeof(index));
    g->count = 0;
    for (size_t x = 0; x < n; x++) {
        if (items[x]->len <= k)
            continue;
        uint16_t a = items[x]->atoms[k];
        if (index[a] < 0) {
            index[a] = (int16_t)g->count;
            g->atom[g->count] = a;
            size[g->count++] = 0;
        }
        size[index[a]]++;
    }
    g->start[0] = 0;
    for (size_t d = 0; d < g->count; d++)
        g->start[d + 1] = g->start[d] + size[d];
    g->sorted = malloc((n ? n : 1) * sizeof(seq_t *));
    if (g->sorted == NULL)
        return -1;
    uint32_t at[ATOM_SPACES + 1];
    memcpy(at, g->start, g->count * sizeof(at[0]));
    for (size_t x = 0; x < n; x++)
        if (items[x]->len > k)
            g->sorted[at[index[items[x]->atoms[k]]]++] = items[x];
    return 0;
}

/* Whether the atoms of a level are exclusive: no two case variants, at most one kind of blank. */
static int siblings_exclusive(const grouping_t *g)
{
    uint8_t seen[ATOM_SPACES + 1];
    memset(seen, 0, sizeof(seen));
    for (size_t d = 0; d < g->count; d++)
        seen[g->atom[d]] = 1;
    int blanks = seen[' '] + seen[ATOM_SPACE] + seen[ATOM_SPACES];
    if (blanks > 1)
        return 0;
    for (unsigned c = 'a'; c <= 'z'; c++)
        if (seen[c] && seen[c - 32])
            return 0;
    return 1;
}

/* Whether every one of items[0..n) has an atom at k, the same. */
static int shared_atom(seq_t *const *items, size_t n, size_t k)
{
    for (size_t x = 0; x < n; x++)
        if (items[x]->len <= k || items[x]->atoms[k] != items[0]->atoms[k])
            return 0;
    return 1;
}

/* The sequences items[0..n), all equal before offset k: 1 when their siblings at every level
 * are exclusive. */
static int check_level(seq_t *const *items, size_t n, size_t k)
{
    /* a level where every item goes on with the same atom has nothing to check */
    while (n > 1 && shared_atom(items, n, k))
        k++;
    grouping_t g;
    if (group_by_atom(items, n, k, &g) != 0)
        return 0;
    int ok = siblings_exclusive(&g);
    for (size_t d = 0; d < g.count && ok; d++) {
        size_t m = g.start[d + 1] - g.start[d];
        if (m > 1)
            ok = check_level(g.sorted + g.start[d], m, k + 1);
    }
    free(g.sorted);
    return ok;
}

static void put_atom(strbuf_t *out, uint16_t a)
{
    if (a == ATOM_SPACE) {
        strbuf_append(out, "\\s", 2);
    } else if (a == ATOM_SPACES) {
        strbuf_append(out, "\\s+", 3);
    } else if (is_alnum(a) || a == ' ') {
        strbuf_putc(out, (char)a);
    } else {
        strbuf_putc(out, '\\');
        strbuf_putc(out, (char)a);
    }
}

static void emit_level(strbuf_t *out, seq_t *const *items, size_t n, size_t k);

/* Writes items[0..n), all longer than k, one alternative per atom at k: the common prefix of
 * the items with that atom, then their rests. */
static void emit_part(strbuf_t *out, seq_t *const *items, size_t n, size_t k)
{
    grouping_t g;
    if (group_by_atom(items, n, k, &g) != 0) {
        out->failed = 1;
        return;
    }
    for (size_t d = 0; d < g.count; d++) {
        seq_t *const *group = g.sorted + g.start[d];
        size_t m = g.start[d + 1] - g.start[d];
        if (d > 0)
            strbuf_putc(out, '|');
        size_t kk = k;
        for (;;) {
            int same = 1;
            for (size_t x = 0; x < m && same; x++)
                same = group[x]->len > kk && group[x]->atoms[kk] == group[0]->atoms[kk];
            if (!same)
                break;
            put_atom(out, group[0]->atoms[kk]);
            kk++;
        }
        if (m > 1) {
            strbuf_append(out, "(?:", 3);
            emit_level(out, group, m, kk);
            strbuf_putc(out, ')');
        }
    }
    free(g.sorted);
}

/* Writes the alternatives items[0..n) from offset k on, as a trie, in PCRE2's order: an item
 * that ends at k is an empty alternative, a barrier between the parts around it. */
static void emit_level(strbuf_t *out, seq_t *const *items, size_t n, size_t k)
{
    size_t i = 0;
    while (i < n) {
        if (i > 0)
            strbuf_putc(out, '|');
        if (items[i]->len <= k) {
            i++;
            continue;
        }
        size_t end = i;
        while (end < n && items[end]->len > k)
            end++;
        emit_part(out, items + i, end - i, k);
        i = end;
    }
}

typedef struct writer {
    const char *p;
    size_t len;
    int changed;
    int depth;
    memo_t *memo;            /* or NULL */
} writer_t;

static void rewrite_alts(writer_t *w, size_t *i, strbuf_t *out, int verbatim, int top);

/* Length of the escape at p[i] == '\\'. */
static size_t escape_len(const writer_t *w, size_t i)
{
    const char *p = w->p;
    size_t len = w->len;
    if (i + 1 >= len)
        return 1;
    char d = p[i + 1];
    if (d == 'Q') {
        for (size_t k = i + 2; k + 1 < len; k++)
            if (p[k] == '\\' && p[k + 1] == 'E')
                return k + 2 - i;
        return len - i;
    }
    if (strchr("pPxoNgk", d) && i + 2 < len && (p[i + 2] == '{' || p[i + 2] == '<' || p[i + 2] == '\'')) {
        char close = p[i + 2] == '{' ? '}' : p[i + 2] == '<' ? '>' : '\'';
        for (size_t k = i + 3; k < len; k++)
            if (p[k] == close)
                return k + 1 - i;
        return len - i;
    }
    return 2;
}

/* Length of the class at p[i] == '['. */
static size_t class_len(const writer_t *w, size_t i)
{
    size_t k = i + 1;
    if (k < w->len && w->p[k] == '^')
        k++;
    if (k < w->len && w->p[k] == ']')
        k++;
    while (k < w->len && w->p[k] != ']') {
        if (w->p[k] == '\\')
            k += escape_len(w, k);
        else if (w->p[k] == '[' && k + 1 < w->len && w->p[k + 1] == ':') {
            const char *e = strstr(w->p + k, ":]");
            k = e && (size_t)(e - w->p) < w->len ? (size_t)(e - w->p) + 2 : k + 1;
        } else
            k++;
    }
    return (k < w->len ? k + 1 : w->len) - i;
}

/* Copies one branch from p[*i] up to its '|' or ')' (not consumed), rewriting its groups. */
static void rewrite_branch(writer_t *w, size_t *i, strbuf_t *out, int verbatim)
{
    const char *p = w->p;
    size_t k = *i;
    while (k < w->len && p[k] != '|' && p[k] != ')') {
        if (p[k] == '\\') {
            size_t n = escape_len(w, k);
            strbuf_append(out, p + k, n);
            k += n;
        } else if (p[k] == '[') {
            size_t n = class_len(w, k);
            strbuf_append(out, p + k, n);
            k += n;
        } else if (p[k] == '(') {
            size_t open = k + 1;
            int lookbehind = 0;
            if (open < w->len && p[open] == '*') {   /* (*VERB) */
                while (open < w->len && p[open] != ')')
                    open++;
                size_t e = open < w->len ? open + 1 : w->len;
                strbuf_append(out, p + k, e - k);
                k = e;
                continue;
            }
            if (open + 1 < w->len && p[open] == '?') {
                char c = p[open + 1];
                if (c == '#') {
                    while (open < w->len && p[open] != ')')
                        open++;
                    size_t e = open < w->len ? open + 1 : w->len;
                    strbuf_append(out, p + k, e - k);
                    k = e;
                    continue;
                }
                if (c == '<' && open + 2 < w->len && (p[open + 2] == '=' || p[open + 2] == '!')) {
                    lookbehind = 1;
                    open += 3;
                } else if (c == ':' || c == '>' || c == '=' || c == '!' || c == '|') {
                    open += 2;
                } else if (c == '<' || c == '\'' || (c == 'P' && open + 2 < w->len && p[open + 2] == '<')) {
                    char close = c == '\'' ? '\'' : '>';
                    while (open < w->len && p[open] != close)
                        open++;
                    open++;
                } else {
                    /* options (?i) (?i:...), conditions, recursion: copy the head as it is */
                    while (open < w->len && p[open] != ')' && p[open] != ':' && p[open] != '(')
                        open++;
                    if (open < w->len && p[open] == ')') {
                        strbuf_append(out, p + k, open + 1 - k);
                        k = open + 1;
                        continue;
                    }
                    if (open < w->len && p[open] == '(')
                        verbatim = 1; /* a condition: leave the rest alone */
                    else
                        open++;
                }
            }
            if (open > w->len)
                open = w->len;
            strbuf_append(out, p + k, open - k);
            k = open;
            rewrite_alts(w, &k, out, verbatim || lookbehind, 0);
        } else {
            strbuf_putc(out, p[k]);
            k++;
        }
    }
    *i = k;
}

/* ---- the memo: what each run became, kept by its source text (memo.h) ---- */

/* What a run (source, whole) became, from memo: *trie and the text; NULL when not known.  A
 * kept value is a byte (1: a trie) and the text. */
static const char *memo_find_run(const memo_t *memo, const char *source, size_t len, int whole,
                                 int *trie, size_t *text_len)
{
    size_t size = 0;
    const char *v = memo_get(memo, source, len, whole, &size);
    if (v == NULL)
        return NULL;
    *trie = v[0];
    *text_len = size - 1;
    return v + 1;
}

/* Keeps what the run (source, whole) became; nothing when memory runs out. */
static void memo_put_run(memo_t *memo, const char *source, size_t len, int whole, int trie,
                         const char *text, size_t text_len)
{
    char *v = memo != NULL ? malloc(text_len + 1) : NULL;
    if (v == NULL)
        return;
    v[0] = (char)trie;
    memcpy(v + 1, text, text_len);
    memo_put(memo, source, len, whole, v, text_len + 1);
    free(v);
}

/* The plain branches read since the last branch written: their word sequences and where
 * they are in the pattern (to copy them as they are when they do not make a trie). */
typedef struct run {
    seq_vec_t seqs;
    size_t branches;
    size_t src_start, src_end;
} run_t;

/* Writes the run's sequences as a trie, in (?:...) unless whole; 0 when they do not make one
 * (then nothing is written). */
static int write_trie(strbuf_t *out, const run_t *run, int whole)
{
    size_t n = run->seqs.count;
    seq_t **ptrs = malloc((n ? n : 1) * sizeof(seq_t *));
    if (ptrs == NULL) {
        out->failed = 1;
        return 0;
    }
    int ok = n >= RUN_MIN;
    for (size_t k = 0; ok && k < n; k++)
        ptrs[k] = &run->seqs.items[k];
    if (ok)
        ok = check_level(ptrs, n, 0);
    if (ok) {
        if (!whole)
            strbuf_append(out, "(?:", 3);
        emit_level(out, ptrs, n, 0);
        if (!whole)
            strbuf_putc(out, ')');
    }
    free(ptrs);
    return ok;
}

/* Writes the run (after a '|' when branches were written before it) as a trie, or as it was,
 * and empties it; whole: the run is the whole group, whose own parentheses hold the trie.  A
 * run met before (the same macro in another place or pattern) is written from the memo. */
static void flush_run(writer_t *w, strbuf_t *out, run_t *run, size_t *written, int whole)
{
    if (run->branches == 0)
        return;
    if (*written > 0)
        strbuf_putc(out, '|');
    const char *source = w->p + run->src_start;
    size_t source_len = run->src_end - run->src_start;
    int trie = 0;
    size_t known_len = 0;
    const char *known = memo_find_run(w->memo, source, source_len, whole, &trie, &known_len);
    if (known != NULL) {
        strbuf_append(out, known, known_len);
    } else {
        size_t at = out->len;
        trie = write_trie(out, run, whole);
        if (!trie)
            strbuf_append(out, source, source_len);
        if (!strbuf_failed(out) && !run->seqs.nomem)
            memo_put_run(w->memo, source, source_len, whole, trie, out->data + at, out->len - at);
    }
    w->changed |= trie;
    *written += run->branches;
    run->branches = 0;
    run->seqs.count = 0;
}

/* Reads the branches of a group from p[*i] through its ')' (or the end, at the top) and
 * writes them, runs of plain branches as tries unless verbatim.  A branch that is not plain
 * is written as soon as it is read, straight into out. */
static void rewrite_alts(writer_t *w, size_t *i, strbuf_t *out, int verbatim, int top)
{
    run_t run = {{NULL, 0, 0, 0}, 0, 0, 0};
    size_t written = 0;
    size_t k = *i;
    if (++w->depth > 100)
        verbatim = 1;
    for (;;) {
        size_t start = k;
        seq_t variants[VARIANTS_MAX];
        size_t nv = verbatim ? 0 : read_plain_branch(w->p, w->len, &k, variants);
        if (nv > 0) {
            if (run.branches++ == 0)
                run.src_start = start;
            run.src_end = k;
            for (size_t v = 0; v < nv; v++)
                push_seq(&run.seqs, &variants[v]);
        } else {
            flush_run(w, out, &run, &written, 0);
            if (written++ > 0)
                strbuf_putc(out, '|');
            rewrite_branch(w, &k, out, verbatim);
        }
        if (k < w->len && w->p[k] == '|') {
            k++;
            continue;
        }
        break;
    }
    flush_run(w, out, &run, &written, written == 0 && !top);
    if (run.seqs.nomem)
        out->failed = 1;
    free(run.seqs.items);
    w->depth--;
    if (!top && k < w->len && w->p[k] == ')') {
        strbuf_putc(out, ')');
        k++;
    }
    *i = k;
}

char *alttrie_rewrite(const char *pattern, size_t len, size_t *out_len)
{
    return alttrie_rewrite_with(NULL, pattern, len, out_len);
}

char *alttrie_rewrite_with(memo_t *memo, const char *pattern, size_t len, size_t *out_len)
{
    writer_t w = {pattern, len, 0, 0, memo};
    strbuf_t out;
    strbuf_init(&out);
    size_t i = 0;
    while (i < len) {
        rewrite_alts(&w, &i, &out, 0, 1);
        if (i < len) {   /* a stray ')' at the top: copy it and go on */
            strbuf_putc(&out, pattern[i]);
            i++;
        }
    }
    if (!w.changed || strbuf_failed(&out)) {
        strbuf_free(&out);
        return NULL;
    }
    *out_len = out.len;
    return strbuf_take(&out);
}
