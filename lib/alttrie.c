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
    return c >= 0x20 && c < 0x7F && !strchr("\\^$.|?*+()[]{}", c);
}

/* Appends atom a (with the alternatives of its class, if any) to every sequence of v[0..n);
 * returns the new count, 0 when a sequence would be too long or there would be too many. */
static size_t append_atom(seq_t *v, size_t n, const uint16_t *alts, size_t nalts, int optional,
                          int lazy)
{
    size_t total = n * (nalts + (optional ? 1 : 0));
    if (total > VARIANTS_MAX)
        return 0;
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

/* The sequences items[0..n), all equal before offset k: 1 when their siblings at every level
 * are exclusive. */
static int check_level(seq_t *const *items, size_t n, size_t k)
{
    uint8_t seen[ATOM_SPACES + 1];
    uint16_t distinct[ATOM_SPACES + 1];
    size_t nd = 0;
    memset(seen, 0, sizeof(seen));
    for (size_t x = 0; x < n; x++)
        if (items[x]->len > k && !seen[items[x]->atoms[k]]) {
            seen[items[x]->atoms[k]] = 1;
            distinct[nd++] = items[x]->atoms[k];
        }
    /* siblings must be exclusive: no two case variants, at most one kind of blank */
    int blanks = seen[' '] + seen[ATOM_SPACE] + seen[ATOM_SPACES];
    if (blanks > 1)
        return 0;
    for (unsigned c = 'a'; c <= 'z'; c++)
        if (seen[c] && seen[c - 32])
            return 0;
    seq_t **group = malloc((n ? n : 1) * sizeof(seq_t *));
    if (group == NULL)
        return 0;
    int ok = 1;
    for (size_t d = 0; d < nd && ok; d++) {
        size_t m = 0;
        for (size_t y = 0; y < n; y++)
            if (items[y]->len > k && items[y]->atoms[k] == distinct[d])
                group[m++] = items[y];
        if (m > 1)
            ok = check_level(group, m, k + 1);
    }
    free(group);
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

/* Writes the alternatives items[0..n) from offset k on, as a trie, in PCRE2's order. */
static void emit_level(strbuf_t *out, seq_t *const *items, size_t n, size_t k)
{
    seq_t **group = malloc((n ? n : 1) * sizeof(seq_t *));
    uint8_t *done = calloc(n ? n : 1, 1);
    if (group == NULL || done == NULL) {
        free(group);
        free(done);
        out->failed = 1;
        return;
    }
    int first = 1;
    size_t i = 0;
    while (i < n) {
        if (!first)
            strbuf_putc(out, '|');
        first = 0;
        if (items[i]->len <= k) {   /* an empty rest: a barrier */
            i++;
            continue;
        }
        size_t end = i;
        while (end < n && items[end]->len > k)
            end++;
        int first_in_part = 1;
        for (size_t x = i; x < end; x++) {
            if (done[x])
                continue;
            size_t m = 0;
            for (size_t y = x; y < end; y++)
                if (!done[y] && items[y]->atoms[k] == items[x]->atoms[k]) {
                    group[m++] = items[y];
                    done[y] = 1;
                }
            if (!first_in_part)
                strbuf_putc(out, '|');
            first_in_part = 0;
            /* the common prefix of the group, then its rests */
            size_t kk = k;
            for (;;) {
                int same = 1;
                for (size_t g = 0; g < m && same; g++)
                    same = group[g]->len > kk && group[g]->atoms[kk] == group[0]->atoms[kk];
                if (!same)
                    break;
                put_atom(out, group[0]->atoms[kk]);
                kk++;
            }
            if (m > 1) {
                strbuf_append(out, "(?:", 3);
                seq_t **copy = malloc(m * sizeof(seq_t *));
                if (copy == NULL) {
                    out->failed = 1;
                } else {
                    memcpy(copy, group, m * sizeof(seq_t *));
                    emit_level(out, copy, m, kk);
                    free(copy);
                }
                strbuf_putc(out, ')');
            }
        }
        i = end;
    }
    free(group);
    free(done);
}

typedef struct writer {
    const char *p;
    size_t len;
    int changed;
    int depth;
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

typedef struct item {
    size_t first, count;     /* sequences in the run vector, when plain */
    size_t src_start, src_end;
    char *text;              /* rewritten text, when not plain */
    size_t text_len;
} item_t;

/* Writes a run of plain branches (items[a..b)) as a trie, or as they were. */
static void emit_run(writer_t *w, strbuf_t *out, const item_t *items, size_t a, size_t b,
                     seq_vec_t *seqs, int whole)
{
    size_t first = items[a].first, n = items[b - 1].first + items[b - 1].count - first;
    seq_t **ptrs = malloc((n ? n : 1) * sizeof(seq_t *));
    int ok = ptrs != NULL && n >= RUN_MIN;
    for (size_t k = 0; ok && k < n; k++)
        ptrs[k] = &seqs->items[first + k];
    if (ok)
        ok = check_level(ptrs, n, 0);
    if (ok) {
        if (!whole)
            strbuf_append(out, "(?:", 3);
        emit_level(out, ptrs, n, 0);
        if (!whole)
            strbuf_putc(out, ')');
        w->changed = 1;
    } else {
        for (size_t k = a; k < b; k++) {
            if (k > a)
                strbuf_putc(out, '|');
            strbuf_append(out, w->p + items[k].src_start, items[k].src_end - items[k].src_start);
        }
    }
    free(ptrs);
}

/* Reads the branches of a group from p[*i] through its ')' (or the end, at the top) and
 * writes them, runs of plain branches as tries unless verbatim. */
static void rewrite_alts(writer_t *w, size_t *i, strbuf_t *out, int verbatim, int top)
{
    item_t *items = NULL;
    size_t count = 0, cap = 0;
    seq_vec_t seqs = {NULL, 0, 0, 0};
    size_t k = *i;
    if (++w->depth > 100)
        verbatim = 1;
    for (;;) {
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            item_t *grown = realloc(items, cap * sizeof(item_t));
            if (grown == NULL) {
                out->failed = 1;
                break;
            }
            items = grown;
        }
        item_t *it = &items[count++];
        memset(it, 0, sizeof(*it));
        it->src_start = k;
        seq_t variants[VARIANTS_MAX];
        size_t nv = verbatim ? 0 : read_plain_branch(w->p, w->len, &k, variants);
        if (nv > 0) {
            it->first = seqs.count;
            for (size_t v = 0; v < nv; v++)
                push_seq(&seqs, &variants[v]);
            it->count = nv;
        } else {
            strbuf_t sb;
            strbuf_init(&sb);
            rewrite_branch(w, &k, &sb, verbatim);
            if (strbuf_failed(&sb))
                out->failed = 1;
            it->text_len = sb.len;
            it->text = strbuf_take(&sb);
        }
        it->src_end = k;
        if (k < w->len && w->p[k] == '|') {
            k++;
            continue;
        }
        break;
    }
    if (seqs.nomem)
        out->failed = 1;
    /* write: runs of plain items as tries, the others as rewritten */
    for (size_t a = 0; a < count;) {
        if (a > 0)
            strbuf_putc(out, '|');
        if (items[a].text_len || items[a].text || items[a].count == 0) {
            if (items[a].text)
                strbuf_append(out, items[a].text, items[a].text_len);
            else
                strbuf_append(out, w->p + items[a].src_start, items[a].src_end - items[a].src_start);
            a++;
            continue;
        }
        size_t b = a;
        while (b < count && items[b].count > 0 && items[b].text == NULL)
            b++;
        emit_run(w, out, items, a, b, &seqs, a == 0 && b == count && !top);
        a = b;
    }
    for (size_t a = 0; a < count; a++)
        free(items[a].text);
    free(items);
    free(seqs.items);
    w->depth--;
    if (!top && k < w->len && w->p[k] == ')') {
        strbuf_putc(out, ')');
        k++;
    }
    *i = k;
}

char *alttrie_rewrite(const char *pattern, size_t len, size_t *out_len)
{
    writer_t w = {pattern, len, 0, 0};
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
