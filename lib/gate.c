/*
 * gate.c - the word automaton of gate.h.
 *
 * A dense Aho-Corasick automaton: bytes are first mapped to classes (0 for every byte that is in
 * no word, one class per other byte, upper-case ASCII letters sharing their lower-case class),
 * then each state has one transition per class, so a scan is one table step per byte.  A state
 * that ends a word (or whose fallback chain does) carries the mask of the rule sets of those words.
 */
#include "gate.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define GATE_NONE UINT32_MAX
#define GATE_MAX_POSITIONS (1u << 20)   /* last_word entries kept per document (4 MB) */

struct gate {
    uint8_t cls[256];
    size_t classes;
    uint32_t *next;          /* states x classes */
    uint32_t *out;           /* per state: 1 + index of its mask in masks, or 0 for none */
    uint64_t *masks;         /* words per mask */
    size_t words;
    size_t states;
    size_t min_len;          /* a line shorter than this holds no word (gate_build()) */
};

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

static void map_classes(gate_t *g, const prefilter_set_t *const *sets, size_t count)
{
    memset(g->cls, 0, sizeof(g->cls));
    g->classes = 1;
    for (size_t k = 0; k < count; k++)
        for (size_t i = 0; i < sets[k]->count; i++)
            for (size_t j = 0; j < sets[k]->len[i]; j++) {
                unsigned char b = fold((unsigned char)sets[k]->text[i][j]);
                if (g->cls[b] == 0)
                    g->cls[b] = (uint8_t)g->classes++;
            }
    for (unsigned c = 'A'; c <= 'Z'; c++)
        g->cls[c] = g->cls[c | 0x20];
}

/* Adds one word of set bit to the trie; state masks are per state during the build. */
static void add_word(gate_t *g, const char *w, size_t len, uint32_t bit, uint64_t *state_masks)
{
    uint32_t s = 0;
    for (size_t j = 0; j < len; j++) {
        uint32_t *t = &g->next[(size_t)s * g->classes + g->cls[fold((unsigned char)w[j])]];
        if (*t == GATE_NONE) {
            *t = (uint32_t)g->states++;
        }
        s = *t;
    }
    state_masks[(size_t)s * g->words + (bit >> 6)] |= (uint64_t)1 << (bit & 63);
}

/* Fallback links by breadth-first order, folding them into full transitions and masks. */
static int link_states(gate_t *g, uint64_t *state_masks)
{
    uint32_t *queue = malloc(g->states * sizeof(uint32_t));
    uint32_t *fail = malloc(g->states * sizeof(uint32_t));
    if (queue == NULL || fail == NULL) {
        free(queue);
        free(fail);
        return -1;
    }
    size_t head = 0, tail = 0;
    for (size_t c = 0; c < g->classes; c++) {
        uint32_t *t = &g->next[c];
        if (*t == GATE_NONE) {
            *t = 0;
        } else {
            fail[*t] = 0;
            queue[tail++] = *t;
        }
    }
    while (head < tail) {
        uint32_t s = queue[head++];
        uint64_t *m = &state_masks[(size_t)s * g->words];
        const uint64_t *fm = &state_masks[(size_t)fail[s] * g->words];
        for (size_t w = 0; w < g->words; w++)
            m[w] |= fm[w];
        for (size_t c = 0; c < g->classes; c++) {
            uint32_t *t = &g->next[(size_t)s * g->classes + c];
            uint32_t via_fail = g->next[(size_t)fail[s] * g->classes + c];
            if (*t == GATE_NONE) {
                *t = via_fail;
            } else {
                fail[*t] = via_fail;
                queue[tail++] = *t;
            }
        }
    }
    free(queue);
    free(fail);
    return 0;
}

/* Keeps the masks of the states that have one, and numbers them in out. */
static int compact_masks(gate_t *g, const uint64_t *state_masks)
{
    size_t with = 0;
    for (size_t s = 0; s < g->states; s++)
        for (size_t w = 0; w < g->words; w++)
            if (state_masks[s * g->words + w]) {
                with++;
                break;
            }
    g->masks = calloc(with ? with * g->words : 1, sizeof(uint64_t));
    g->out = calloc(g->states, sizeof(uint32_t));
    if (g->masks == NULL || g->out == NULL)
        return -1;
    size_t n = 0;
    for (size_t s = 0; s < g->states; s++) {
        const uint64_t *m = &state_masks[s * g->words];
        int any = 0;
        for (size_t w = 0; w < g->words; w++)
            any |= m[w] != 0;
        if (!any)
            continue;
        memcpy(&g->masks[n * g->words], m, g->words * sizeof(uint64_t));
        g->out[s] = (uint32_t)++n;
    }
    return 0;
}

gate_t *gate_build(const prefilter_set_t *const *sets, size_t count)
{
    gate_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    map_classes(g, sets, count);
    g->words = count / 64 + 1;
    size_t cap = 1;
    g->min_len = SIZE_MAX;
    for (size_t k = 0; k < count; k++)
        for (size_t i = 0; i < sets[k]->count; i++) {
            cap += sets[k]->len[i];
            /* a word with a line feed in it may end on a line shorter than itself */
            size_t on_line = memchr(sets[k]->text[i], '\n', sets[k]->len[i]) ? 0 : sets[k]->len[i];
            if (on_line < g->min_len)
                g->min_len = on_line;
        }
    if (g->min_len == SIZE_MAX)
        g->min_len = 0;
    g->next = malloc(cap * g->classes * sizeof(uint32_t));
    uint64_t *state_masks = calloc(cap * g->words, sizeof(uint64_t));
    int ok = g->next != NULL && state_masks != NULL;
    if (ok) {
        memset(g->next, 0xFF, cap * g->classes * sizeof(uint32_t));
        g->states = 1;
        for (size_t k = 0; k < count; k++)
            for (size_t i = 0; i < sets[k]->count; i++)
                add_word(g, sets[k]->text[i], sets[k]->len[i], (uint32_t)k, state_masks);
        ok = link_states(g, state_masks) == 0 && compact_masks(g, state_masks) == 0;
    }
    free(state_masks);
    if (!ok)
        gate_destroy(&g);
    return g;
}

void gate_destroy(gate_t **gate)
{
    if (gate == NULL || *gate == NULL)
        return;
    free((*gate)->next);
    free((*gate)->out);
    free((*gate)->masks);
    free(*gate);
    *gate = NULL;
}

size_t gate_words(const gate_t *gate)
{
    return gate->words;
}

static int has_fold_hazard(const char *text, size_t len)
{
    for (const char *p = text; (p = memchr(p, 0xC5, (size_t)(text + len - p))) != NULL; p++)
        if (p + 1 < text + len && (unsigned char)p[1] == 0xBF)
            return 1;   /* U+017F long s */
    for (const char *p = text; (p = memchr(p, 0xE2, (size_t)(text + len - p))) != NULL; p++)
        if (p + 2 < text + len && (unsigned char)p[1] == 0x84 && (unsigned char)p[2] == 0xAA)
            return 1;   /* U+212A Kelvin sign */
    return 0;
}

/* Records offset i as where the words of every bit of add last ended on this line. */
static void note_last_words(uint32_t *last, const uint64_t *add, size_t words, uint32_t i)
{
    for (size_t w = 0; w < words; w++)
        for (uint64_t x = add[w]; x != 0; x &= x - 1)
            last[w * 64 + (size_t)__builtin_ctzll(x)] = i;
}

uint32_t gate_last_word(const gate_doc_t *doc, const gate_line_t *unit, uint32_t bit)
{
    if (doc->last_word == NULL)
        return unit->end;
    uint32_t at = unit->start;
    for (uint32_t l = unit->first; l <= unit->last; l++)
        if (gate_has(doc->lines[l].rules, bit) && doc->last_word[l * doc->bits + bit] > at)
            at = doc->last_word[l * doc->bits + bit];
    return at;
}

/* A byte a blank line may hold besides its line feed. */
static int blank_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int blank_line(const char *text, uint32_t start, uint32_t end)
{
    for (uint32_t i = start; i < end; i++)
        if (!blank_byte(text[i]))
            return 0;
    return 1;
}

int gate_spans_blank_line(const char *text, size_t start, size_t end)
{
    int after_feed = 0;
    for (size_t i = start; i < end; i++) {
        if (text[i] == '\n') {
            if (after_feed)
                return 1;
            after_feed = 1;
        } else if (!blank_byte(text[i])) {
            after_feed = 0;
        }
    }
    return 0;
}

/* Lines or paragraphs with words, kept while the scan reads, in arena arrays sized by
 * count_units(). */
typedef struct unit_list {
    gate_line_t *units;
    uint64_t *masks;         /* words per unit */
    uint32_t *last;          /* bits per unit (lines only): gate_doc_t.last_word, or NULL */
    size_t count, cap;
} unit_list_t;

/* The state of one gate_scan(). */
typedef struct scan {
    const gate_t *g;
    const char *text;
    size_t bits;
    unit_list_t lines, paragraphs;
    uint64_t *line_mask;     /* the words of the line being read */
    uint32_t *line_last;     /* per bit, where its last word on this line ended */
    gate_line_t para;        /* the paragraph being read, when para_open */
    uint64_t *para_mask;
    int para_open;
    uint32_t para_prev_end;  /* where the paragraph before it ended (0 for the first) */
    uint64_t *any;
} scan_t;

static int mask_empty(const uint64_t *mask, size_t words)
{
    uint64_t any = 0;
    for (size_t w = 0; w < words; w++)
        any |= mask[w];
    return any == 0;
}

/* Appends unit with its mask (and last, when the list keeps positions). */
static void units_add(scan_t *sc, unit_list_t *l, gate_line_t unit, const uint64_t *mask,
                      const uint32_t *last)
{
    size_t words = sc->g->words;
    assert(l->count < l->cap);   /* count_units() counted every line and paragraph that can */
    uint64_t *m = l->masks + l->count * words;
    memcpy(m, mask, words * sizeof(uint64_t));
    unit.rules = m;
    l->units[l->count] = unit;
    if (l->last)
        memcpy(l->last + l->count * sc->bits, last, sc->bits * sizeof(uint32_t));
    l->count++;
}

/* Ends the paragraph being read, keeping it when it has words. */
static void close_paragraph(scan_t *sc)
{
    if (!sc->para_open)
        return;
    sc->para_open = 0;
    sc->para_prev_end = sc->para.end;
    if (sc->para.first != GATE_NONE)
        units_add(sc, &sc->paragraphs, sc->para, sc->para_mask, NULL);
}

/* The line [start, end) has been read: kept when it has words, then added to its paragraph, or
 * ending the paragraph when it is blank. */
static void end_line(scan_t *sc, uint32_t start, uint32_t end)
{
    size_t words = sc->g->words;
    int has_words = !mask_empty(sc->line_mask, words);
    uint32_t index = (uint32_t)sc->lines.count;
    if (has_words) {
        units_add(sc, &sc->lines, (gate_line_t){start, end, NULL, index, index}, sc->line_mask,
                  sc->line_last);
        for (size_t w = 0; w < words; w++)
            sc->any[w] |= sc->line_mask[w];
    }
    if (blank_line(sc->text, start, end)) {
        close_paragraph(sc);
    } else {
        if (!sc->para_open) {
            sc->para_open = 1;
            sc->para = (gate_line_t){sc->para_prev_end, end, NULL, GATE_NONE, 0};
            memset(sc->para_mask, 0, words * sizeof(uint64_t));
        }
        sc->para.end = end;
        if (has_words) {
            if (sc->para.first == GATE_NONE)
                sc->para.first = index;
            sc->para.last = index;
            for (size_t w = 0; w < words; w++)
                sc->para_mask[w] |= sc->line_mask[w];
        }
    }
    memset(sc->line_mask, 0, words * sizeof(uint64_t));
}

/* Upper bounds for the units a scan keeps: the lines long enough to hold a word, and the
 * paragraphs (a line that is not blank after one that is, or first). */
static void count_units(const gate_t *g, const char *text, size_t len, size_t *lines,
                        size_t *paragraphs)
{
    *lines = *paragraphs = 0;
    int after_blank = 1;
    for (size_t start = 0; start <= len;) {
        const char *feed = memchr(text + start, '\n', len - start);
        size_t end = feed ? (size_t)(feed - text) : len;
        *lines += end - start >= g->min_len;
        int blank = blank_line(text, (uint32_t)start, (uint32_t)end);
        *paragraphs += !blank && after_blank;
        after_blank = blank;
        start = end + 1;
    }
}

/* Allocates a list of count units; with bits, their last-word positions too. */
static int units_alloc(nerd_arena_t *arena, unit_list_t *l, size_t count, size_t words,
                       size_t bits)
{
    memset(l, 0, sizeof(*l));
    l->cap = count;
    l->units = nerd_arena_alloc(arena, (count ? count : 1) * sizeof(gate_line_t));
    l->masks = nerd_arena_alloc(arena, (count ? count : 1) * words * sizeof(uint64_t));
    if (bits)
        l->last = nerd_arena_alloc(arena, (count ? count : 1) * bits * sizeof(uint32_t));
    return l->units && l->masks && (!bits || l->last) ? 0 : NERD_ENOMEM;
}

static int scan_start(scan_t *sc, const gate_t *g, nerd_arena_t *arena, const char *text,
                      size_t len)
{
    memset(sc, 0, sizeof(*sc));
    sc->g = g;
    sc->text = text;
    sc->bits = g->words * 64;
    size_t lines, paragraphs;
    count_units(g, text, len, &lines, &paragraphs);
    /* the lists exist even when empty: the extractor tells a scanned text by its lines */
    int keep_last = lines * sc->bits <= GATE_MAX_POSITIONS;
    if (units_alloc(arena, &sc->lines, lines, g->words, keep_last ? sc->bits : 0) ||
        units_alloc(arena, &sc->paragraphs, paragraphs, g->words, 0))
        return NERD_ENOMEM;
    sc->line_mask = nerd_arena_alloc(arena, 3 * g->words * sizeof(uint64_t));
    sc->line_last = nerd_arena_alloc(arena, sc->bits * sizeof(uint32_t));
    if (sc->line_mask == NULL || sc->line_last == NULL)
        return NERD_ENOMEM;
    memset(sc->line_mask, 0, 3 * g->words * sizeof(uint64_t));
    sc->para_mask = sc->line_mask + g->words;
    sc->any = sc->para_mask + g->words;
    return 0;
}

int gate_scan(const gate_t *g, nerd_arena_t *arena, const char *text, size_t len,
              gate_doc_t *out)
{
    scan_t sc;
    int rc = scan_start(&sc, g, arena, text, len);
    if (rc)
        return rc;
    const unsigned char *t = (const unsigned char *)text;
    size_t start = 0;
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = t[i];
        s = g->next[(size_t)s * g->classes + g->cls[b]];
        if (g->out[s]) {
            const uint64_t *add = &g->masks[(size_t)(g->out[s] - 1) * g->words];
            for (size_t w = 0; w < g->words; w++)
                sc.line_mask[w] |= add[w];
            note_last_words(sc.line_last, add, g->words, (uint32_t)i);
        }
        if (b == '\n') {
            end_line(&sc, (uint32_t)start, (uint32_t)i);
            start = i + 1;
        }
    }
    end_line(&sc, (uint32_t)start, (uint32_t)len);
    close_paragraph(&sc);
    out->lines = sc.lines.units;
    out->line_count = sc.lines.count;
    out->paragraphs = sc.paragraphs.units;
    out->paragraph_count = sc.paragraphs.count;
    out->any = sc.any;
    out->fold_hazard = has_fold_hazard(text, len);
    out->bits = sc.bits;
    out->last_word = sc.lines.last;
    return 0;
}
