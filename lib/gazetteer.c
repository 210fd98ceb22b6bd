/*
 * gazetteer.c - hash tables of token n-grams for the phrase lists (see gazetteer.h).
 *
 * A table is open addressing with linear probing over two parallel arrays: the 64-bit phrase
 * hash (0 marks an empty slot) and a word of information (bits 28-31: for a one-token key, the
 * most tokens of any phrase starting with that token; bits 0-27: first value + 1).  A lookup
 * probes the token at a position first: most tokens start no phrase and cost one probe; the
 * others give the longest length worth trying.  Adding a phrase costs two probes whatever its
 * length.  Once loading is over, a bit array of first-token hashes (gazetteer_freeze) answers
 * "no phrase starts here" for most tokens from cache, before any probe of a table that may be
 * hundreds of megabytes for a million-entry list.  Two different phrases with the same 64-bit hash would be confused; with FNV-1a over
 * a million phrases the chance is about 1e-7, an accepted cost for not storing and comparing
 * keys.  Strings are never copied: canonical names point into file buffers the gazetteer adopts.
 */
#include "gazetteer.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

#define INFO_MAXLEN_SHIFT 28
#define INFO_VALUE_MASK 0x0FFFFFFFu
#define FNV_OFFSET UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)
#define FORM_MAX 4096

typedef struct {
    uint64_t *hashes;
    uint32_t *info;
    size_t cap;                  /* power of two, or 0 */
    size_t used;                 /* occupied slots (phrases and prefixes) */
} gaz_table_t;

struct gazetteer {
    gaz_table_t exact, folded;
    uint64_t *first_bits;        /* filter: hashes of first tokens (gazetteer_freeze) */
    size_t first_mask;           /* bits - 1 */
    gazetteer_value_t *values;
    size_t value_count, value_cap;
    size_t phrases;
    char **buffers;
    size_t buffer_count, buffer_cap;
};

gazetteer_t *gazetteer_new(void)
{
    return calloc(1, sizeof(gazetteer_t));
}

static void table_free(gaz_table_t *t)
{
    free(t->hashes);
    free(t->info);
    memset(t, 0, sizeof(*t));
}

void gazetteer_destroy(gazetteer_t **g)
{
    if (g == NULL || *g == NULL)
        return;
    gazetteer_t *z = *g;
    table_free(&z->exact);
    table_free(&z->folded);
    free(z->first_bits);
    free(z->values);
    for (size_t i = 0; i < z->buffer_count; i++)
        free(z->buffers[i]);
    free(z->buffers);
    free(z);
    *g = NULL;
}

static int table_grow(gaz_table_t *t);

int gazetteer_adopt(gazetteer_t *g, char *buf)
{
    if (g->buffer_count == g->buffer_cap) {
        size_t cap = g->buffer_cap ? 2 * g->buffer_cap : 8;
        char **b = realloc(g->buffers, cap * sizeof(*b));
        if (b == NULL) {
            free(buf);
            return NERD_ENOMEM;
        }
        g->buffers = b;
        g->buffer_cap = cap;
    }
    g->buffers[g->buffer_count++] = buf;
    return 0;
}

int gazetteer_reserve(gazetteer_t *g, int case_mode, size_t phrases)
{
    gaz_table_t *t = case_mode == GAZ_CASE_INSENSITIVE ? &g->folded : &g->exact;
    size_t want = (t->used + phrases) * 4 / 3 + 1;
    while (t->cap < want)
        if (table_grow(t) != 0)
            return NERD_ENOMEM;
    return 0;
}

size_t gazetteer_size(const gazetteer_t *g)
{
    return g ? g->phrases : 0;
}

/* ---- hashing ---- */

static inline uint64_t hash_byte(uint64_t h, unsigned char b)
{
    return (h ^ b) * FNV_PRIME;
}

/* Extends h with one token's bytes, folded to lower case when fold is set. */
static uint64_t hash_token(uint64_t h, const char *text, const token_t *t, int fold)
{
    const unsigned char *s = (const unsigned char *)text;
    if (!fold) {
        for (uint32_t i = t->start; i < t->end; i++)
            h = hash_byte(h, s[i]);
        return h;
    }
    size_t i = t->start;
    while (i < t->end) {
        if (s[i] < 0x80) {
            unsigned char c = s[i++];
            h = hash_byte(h, (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c);
            continue;
        }
        uint32_t c = token_char_lower(utf8_next(s, &i));
        char enc[4];
        size_t n = utf8_encode(c, enc);
        for (size_t k = 0; k < n; k++)
            h = hash_byte(h, (unsigned char)enc[k]);
    }
    return h;
}

static inline uint64_t hash_nonzero(uint64_t h)
{
    return h ? h : 1;
}

/* ---- tables ---- */

static size_t table_find(const gaz_table_t *t, uint64_t h)
{
    size_t mask = t->cap - 1, i = (size_t)(h ^ (h >> 29)) & mask;
    while (t->hashes[i] != 0 && t->hashes[i] != h)
        i = (i + 1) & mask;
    return i;
}

static int table_grow(gaz_table_t *t)
{
    size_t cap = t->cap ? 2 * t->cap : 1024;
    gaz_table_t n = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(uint32_t)), cap, t->used};
    if (n.hashes == NULL || n.info == NULL) {
        free(n.hashes);
        free(n.info);
        return NERD_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->hashes[i] == 0)
            continue;
        size_t j = table_find(&n, t->hashes[i]);
        n.hashes[j] = t->hashes[i];
        n.info[j] = t->info[i];
    }
    table_free(t);
    *t = n;
    return 0;
}

/* Returns the slot of h, inserting it (with empty info) when missing; SIZE_MAX on no memory. */
static size_t table_slot(gaz_table_t *t, uint64_t h)
{
    if ((t->used + 1) * 4 > t->cap * 3 && table_grow(t) != 0)
        return SIZE_MAX;
    size_t i = table_find(t, h);
    if (t->hashes[i] == 0) {
        t->hashes[i] = h;
        t->info[i] = 0;
        t->used++;
    }
    return i;
}

static int value_push(gazetteer_t *g, uint32_t rule, const char *canonical, size_t len,
                      uint32_t next)
{
    if (g->value_count == g->value_cap) {
        size_t cap = g->value_cap ? 2 * g->value_cap : 1024;
        gazetteer_value_t *v = realloc(g->values, cap * sizeof(*v));
        if (v == NULL)
            return NERD_ENOMEM;
        g->values = v;
        g->value_cap = cap;
    }
    if (g->value_count >= INFO_VALUE_MASK)
        return NERD_ENOMEM;
    gazetteer_value_t *v = &g->values[g->value_count++];
    v->canonical = canonical;
    v->canonical_len = (uint32_t)len;
    v->rule = rule;
    v->next = next;
    return 0;
}

/* Stores one already tokenised form in table t. */
static int add_tokens(gazetteer_t *g, gaz_table_t *t, const char *text, const token_t *toks,
                      size_t n, int fold, uint32_t rule, const char *canonical, size_t clen)
{
    uint64_t h = hash_token(FNV_OFFSET, text, &toks[0], fold);
    size_t slot = table_slot(t, hash_nonzero(h));
    if (slot == SIZE_MAX)
        return NERD_ENOMEM;
    uint32_t maxlen = t->info[slot] >> INFO_MAXLEN_SHIFT;
    if (n > maxlen)
        t->info[slot] = (t->info[slot] & INFO_VALUE_MASK) | (uint32_t)n << INFO_MAXLEN_SHIFT;
    if (n > 1) {
        for (size_t k = 1; k < n; k++)
            h = hash_token(hash_byte(h, ' '), text, &toks[k], fold);
        slot = table_slot(t, hash_nonzero(h));
        if (slot == SIZE_MAX)
            return NERD_ENOMEM;
    }
    uint32_t head = t->info[slot] & INFO_VALUE_MASK;
    /* The smart spellings of one entry often coincide ("NATO"): keep one value. */
    if (head && g->values[head - 1].rule == rule && g->values[head - 1].canonical == canonical)
        return 0;
    if (head == 0)
        g->phrases++;
    if (value_push(g, rule, canonical, clen, head) != 0)
        return NERD_ENOMEM;
    t->info[slot] = (t->info[slot] & ~INFO_VALUE_MASK) | (uint32_t)g->value_count;
    return 0;
}

/* Rewrites form into out in upper case (all) or with each word's first letter upper (title). */
static size_t recase(const char *form, size_t len, char *out, int title)
{
    const unsigned char *s = (const unsigned char *)form;
    size_t i = 0, o = 0;
    int word_start = 1;
    while (i < len) {
        if (s[i] < 0x80) {  /* the common case, without decoding */
            unsigned char c = s[i++];
            int is_word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            out[o++] = (char)((c >= 'a' && c <= 'z' && (!title || word_start)) ? c - 32 : c);
            word_start = !is_word;
            continue;
        }
        uint32_t c = utf8_next(s, &i);
        int cls = token_char_class(c);
        int is_word = cls == CHAR_LETTER || cls == CHAR_DIGIT;
        uint32_t u = (!title || (word_start && is_word)) ? token_char_upper(c) : c;
        o += utf8_encode(u, out + o);
        word_start = !is_word;
    }
    return o;
}

static int add_form(gazetteer_t *g, const char *form, size_t len, int fold, uint32_t rule,
                    const char *canonical, size_t clen)
{
    token_t toks[GAZETTEER_MAX_TOKENS];
    size_t n = token_split_small(form, len, toks, GAZETTEER_MAX_TOKENS);
    if (n == 0 || n > GAZETTEER_MAX_TOKENS)
        return 1;
    return add_tokens(g, fold ? &g->folded : &g->exact, form, toks, n, fold, rule, canonical,
                      clen);
}

int gazetteer_add(gazetteer_t *g, const char *form, size_t len, int case_mode, uint32_t rule,
                  const char *canonical, size_t canonical_len)
{
    if (case_mode == GAZ_CASE_INSENSITIVE)
        return add_form(g, form, len, 1, rule, canonical, canonical_len);
    int rc = add_form(g, form, len, 0, rule, canonical, canonical_len);
    if (rc != 0 || case_mode != GAZ_CASE_SMART)
        return rc;
    if (len > FORM_MAX)
        return 0;
    char buf[FORM_MAX];
    for (int title = 0; title <= 1; title++) {
        size_t n = recase(form, len, buf, title);
        if (n == len && memcmp(buf, form, len) == 0)
            continue;
        rc = add_form(g, buf, n, 0, rule, canonical, canonical_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static inline size_t filter_bit(const gazetteer_t *g, uint64_t h)
{
    return (size_t)(h >> 40 ^ h) & g->first_mask;
}

static int filter_says_no(const gazetteer_t *g, uint64_t h)
{
    if (g->first_bits == NULL)
        return 0;
    size_t b = filter_bit(g, h);
    return !((g->first_bits[b >> 6] >> (b & 63)) & 1);
}

int gazetteer_freeze(gazetteer_t *g)
{
    size_t firsts = 0;
    const gaz_table_t *tables[2] = {&g->exact, &g->folded};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < tables[k]->cap; i++)
            firsts += tables[k]->hashes[i] != 0 && (tables[k]->info[i] >> INFO_MAXLEN_SHIFT) != 0;
    /* about 16 bits per first token keeps false positives near 6 %, in a cache-friendly array */
    size_t bits = 1u << 16;
    while (bits < 16 * firsts && bits < (1u << 27))
        bits <<= 1;
    free(g->first_bits);
    g->first_bits = calloc(bits / 64, sizeof(uint64_t));
    if (g->first_bits == NULL)
        return NERD_ENOMEM;
    g->first_mask = bits - 1;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < tables[k]->cap; i++)
            if (tables[k]->hashes[i] != 0 && (tables[k]->info[i] >> INFO_MAXLEN_SHIFT) != 0) {
                size_t b = filter_bit(g, tables[k]->hashes[i]);
                g->first_bits[b >> 6] |= UINT64_C(1) << (b & 63);
            }
    return 0;
}

/* Probes table t for every phrase starting at token i. */
static int lookup_at(const gazetteer_t *g, const gaz_table_t *t, int fold, const char *text,
                     const token_t *tokens, size_t count, size_t i, gazetteer_hit_fn *hit,
                     void *ctx)
{
    uint64_t h = hash_token(FNV_OFFSET, text, &tokens[i], fold);
    if (filter_says_no(g, hash_nonzero(h)))
        return 0;
    size_t slot = table_find(t, hash_nonzero(h));
    if (t->hashes[slot] == 0)
        return 0;
    size_t max = t->info[slot] >> INFO_MAXLEN_SHIFT;
    if (max > count - i)
        max = count - i;
    for (size_t n = 1;;) {
        uint32_t v = t->info[slot] & INFO_VALUE_MASK;
        while (v) {
            int rc = hit(ctx, i, n, &g->values[v - 1]);
            if (rc)
                return rc;
            v = g->values[v - 1].next;
        }
        if (++n > max)
            return 0;
        /* extend to n tokens; a missing n-gram may still be the prefix of a longer phrase */
        for (;;) {
            h = hash_token(hash_byte(h, ' '), text, &tokens[i + n - 1], fold);
            slot = table_find(t, hash_nonzero(h));
            if (t->hashes[slot] != 0 || n == max)
                break;
            n++;
        }
        if (t->hashes[slot] == 0)
            return 0;
    }
}

int gazetteer_lookup(const gazetteer_t *g, const char *text, const token_t *tokens, size_t count,
                     gazetteer_hit_fn *hit, void *ctx)
{
    if (g == NULL)
        return 0;
    for (size_t i = 0; i < count; i++) {
        int rc = 0;
        if (g->exact.used)
            rc = lookup_at(g, &g->exact, 0, text, tokens, count, i, hit, ctx);
        if (rc == 0 && g->folded.used)
            rc = lookup_at(g, &g->folded, 1, text, tokens, count, i, hit, ctx);
        if (rc)
            return rc;
    }
    return 0;
}
