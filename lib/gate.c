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
#define GATE_MAX_POSITIONS (1u << 20)   /* last_word entries kept per document (4 MB) */

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

static int blank_line(const char *text, const gate_line_t *line)
{
    for (uint32_t i = line->start; i < line->end; i++)
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

/* Groups out's lines into paragraphs: runs of lines that are not blank, masks joined.  A
 * paragraph starts where the one before ended, so the blank lines before it (where a pattern
 * that starts at a line feed starts) are its own. */
static int group_paragraphs(gate_doc_t *out, const char *text, size_t words, nerd_arena_t *arena)
{
    size_t count = 0;
    for (size_t l = 0; l < out->line_count; l++)
        count += !blank_line(text, &out->lines[l]) &&
                 (l == 0 || blank_line(text, &out->lines[l - 1]));
    out->paragraphs = nerd_arena_alloc(arena, (count ? count : 1) * sizeof(gate_line_t));
    uint64_t *masks = nerd_arena_alloc(arena, (count ? count : 1) * words * sizeof(uint64_t));
    if (out->paragraphs == NULL || masks == NULL)
        return NERD_ENOMEM;
    size_t n = 0;
    gate_line_t *open = NULL;
    for (size_t l = 0; l < out->line_count; l++) {
        const gate_line_t *line = &out->lines[l];
        if (blank_line(text, line)) {
            open = NULL;
            continue;
        }
        if (open == NULL) {
            open = &out->paragraphs[n];
            uint32_t start = n > 0 ? out->paragraphs[n - 1].end : 0;
            *open = (gate_line_t){start, line->end, masks + n * words, (uint32_t)l, (uint32_t)l};
            memset(masks + n * words, 0, words * sizeof(uint64_t));
            n++;
        }
        open->end = line->end;
        open->last = (uint32_t)l;
        uint64_t *m = masks + (open - out->paragraphs) * words;
        for (size_t w = 0; w < words; w++)
            m[w] |= line->rules[w];
    }
    out->paragraph_count = n;
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
    out->bits = g->words * 64;
    out->last_word = lines * out->bits <= GATE_MAX_POSITIONS
        ? nerd_arena_alloc(arena, lines * out->bits * sizeof(uint32_t)) : NULL;
    const unsigned char *t = (const unsigned char *)text;
    size_t line = 0, start = 0;
    uint64_t *m = masks;
    uint32_t *last = out->last_word;
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = t[i];
        s = g->next[(size_t)s * g->classes + g->cls[b]];
        if (g->out[s]) {
            const uint64_t *add = &g->masks[(size_t)(g->out[s] - 1) * g->words];
            for (size_t w = 0; w < g->words; w++)
                m[w] |= add[w];
            if (last != NULL)
                note_last_words(last, add, g->words, (uint32_t)i);
        }
        if (b == '\n') {
            out->lines[line] = (gate_line_t){(uint32_t)start, (uint32_t)i, m, (uint32_t)line,
                                             (uint32_t)line};
            line++;
            start = i + 1;
            m += g->words;
            if (last != NULL)
                last += out->bits;
        }
    }
    out->lines[line] = (gate_line_t){(uint32_t)start, (uint32_t)len, m, (uint32_t)line,
                                     (uint32_t)line};
    for (size_t l = 0; l < lines; l++)
        for (size_t w = 0; w < g->words; w++)
            out->any[w] |= out->lines[l].rules[w];
    return group_paragraphs(out, text, g->words, arena);
}
