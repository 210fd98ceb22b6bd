/*
 * gate.c - the word automaton of gate.h.
 *
 * A dense Aho-Corasick automaton: bytes are first mapped to classes (0 for every byte that is in
 * no word, one class per other byte, upper-case ASCII letters sharing their lower-case class),
 * then each state has one transition per class, so a scan is one table step per byte.  A state
 * that ends a word (or whose fallback chain does) carries the mask of the rule sets of those words.
 */
#include "gate.h"

#include <stdlib.h>
#include <string.h>

#define GATE_NONE UINT32_MAX

struct gate {
    uint8_t cls[256];
    size_t classes;
    uint32_t *next;          /* states x classes */
    uint32_t *out;           /* per state: 1 + index of its mask in masks, or 0 for none */
    uint64_t *masks;         /* words per mask */
    size_t words;
    size_t states;
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
    for (size_t k = 0; k < count; k++)
        for (size_t i = 0; i < sets[k]->count; i++)
            cap += sets[k]->len[i];
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

int gate_scan(const gate_t *g, nerd_arena_t *arena, const char *text, size_t len,
              gate_doc_t *out)
{
    size_t lines = 1;
    for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + len - p))) != NULL; p++)
        lines++;
    out->lines = nerd_arena_alloc(arena, lines * sizeof(gate_line_t));
    uint64_t *masks = nerd_arena_alloc(arena, (lines + 1) * g->words * sizeof(uint64_t));
    if (out->lines == NULL || masks == NULL)
        return NERD_ENOMEM;
    memset(masks, 0, (lines + 1) * g->words * sizeof(uint64_t));
    out->any = masks + lines * g->words;
    out->line_count = lines;
    out->fold_hazard = has_fold_hazard(text, len);
    const unsigned char *t = (const unsigned char *)text;
    size_t line = 0, start = 0;
    uint64_t *m = masks;
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = t[i];
        s = g->next[(size_t)s * g->classes + g->cls[b]];
        if (g->out[s]) {
            const uint64_t *add = &g->masks[(size_t)(g->out[s] - 1) * g->words];
            for (size_t w = 0; w < g->words; w++)
                m[w] |= add[w];
        }
        if (b == '\n') {
            out->lines[line] = (gate_line_t){(uint32_t)start, (uint32_t)i, m};
            line++;
            start = i + 1;
            m += g->words;
        }
    }
    out->lines[line] = (gate_line_t){(uint32_t)start, (uint32_t)len, m};
    for (size_t l = 0; l < lines; l++)
        for (size_t w = 0; w < g->words; w++)
            out->any[w] |= out->lines[l].rules[w];
    return 0;
}
