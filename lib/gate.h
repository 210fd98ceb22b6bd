/*
 * gate.h - which lines of a document may hold a match of which rule, found in one pass.
 *
 * Most rules can only match where one of a few words is (a cue verb, a month, "born" or
 * "elected"): prefilter_required_set() works out those words from the pattern.  The gate is one
 * Aho-Corasick automaton over the words of every rule, run once over each document (ASCII case
 * folded).  It gives, per line and per paragraph, the set of rules whose words occur there;
 * the extractor then skips a rule in a document without its words, runs a rule that never
 * matches across a line only in the lines that have them, and any other rule only from the
 * paragraphs that have them.  A match must contain one of the words, so the first two are exact;
 * the third loses only a match that starts in a paragraph and finds its words after a blank
 * line (the rule language says a match never reaches across one for its words: docs/rules.md).
 */
#ifndef NERD_GATE_H
#define NERD_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "nerd.h"
#include "prefilter.h"

typedef struct gate gate_t;

/* One line or paragraph of a document: [start, end), end at its '\n' or at the end of the text. */
typedef struct gate_line {
    uint32_t start, end;
    const uint64_t *rules;   /* gate_words() words: bit k set when rule set k has a word here */
    uint32_t first, last;    /* its lines with words: gate_doc_t.lines[first..last] */
} gate_line_t;

/* What the gate found in one document (in the worker's arena).  Only the lines and paragraphs
 * that hold a word are kept, so that a text of bare line feeds costs no memory per line.
 * Paragraphs are the runs of lines between blank lines (lines of nothing but blanks); one ends
 * at the end of its last line, starts where the one before ended (blank lines before it
 * included), and its mask is the union of its lines'.  lines is never NULL after a scan. */
typedef struct gate_doc {
    gate_line_t *lines;
    size_t line_count;
    gate_line_t *paragraphs;
    size_t paragraph_count;
    uint64_t *any;           /* the union over the lines */
    int fold_hazard;         /* the text has a Kelvin sign or a long s (see prefilter.h) */
    uint32_t *last_word;     /* per kept line and gate bit, where its last word there ends;
                              * NULL when the text has too many such lines to keep them */
    size_t bits;             /* gate bits per line in last_word */
} gate_doc_t;

/* Builds the automaton for sets[0..count) (set k is gate bit k); NULL when memory runs out. */
gate_t *gate_build(const prefilter_set_t *const *sets, size_t count);
void gate_destroy(gate_t **gate);
/* 64-bit words in each line's rule mask. */
size_t gate_words(const gate_t *gate);

/* Scans text[0..len) and fills out; 0, or NERD_ENOMEM when the arena runs out. */
int gate_scan(const gate_t *gate, nerd_arena_t *arena, const char *text, size_t len,
              gate_doc_t *out);

/* The offset of the last byte of the last word of gate bit `bit` in unit (a line or paragraph
 * of doc whose mask has the bit), or unit->end when doc keeps no positions.  A match that
 * consumes one of the words starts no later: the extractor tries nothing after it. */
uint32_t gate_last_word(const gate_doc_t *doc, const gate_line_t *unit, uint32_t bit);

/* Whether text[start, end) holds a blank line: two line feeds with nothing but blanks between
 * (an entity masked over one joins two paragraphs). */
int gate_spans_blank_line(const char *text, size_t start, size_t end);

static inline int gate_has(const uint64_t *mask, uint32_t bit)
{
    return (int)((mask[bit >> 6] >> (bit & 63)) & 1u);
}

#endif
