/*
 * prefilter.h - which bytes can start a match of a pattern, and which can come before one.
 *
 * PCRE2 skips ahead quickly when it knows the possible first bytes of a match, but it gives up
 * on Unicode properties (\p{Lu}, and \w or \d under UCP), which most name patterns start with:
 * it then tries a match at every byte.  This module reads the expanded pattern and computes a
 * superset of the first bytes itself; the extractor then jumps from candidate byte to candidate
 * byte and runs an anchored copy of the pattern only there.
 */
#ifndef NERD_PREFILTER_H
#define NERD_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "memo.h"

/*
 * Computes into bitmap (256 bits) every byte that can be the first byte of a match of
 * pattern[0..len) (PCRE2 syntax, UTF mode).  Returns 1 when the set is useful, 0 when the
 * pattern may start anywhere (it can match empty, starts with '.', a negated class, a construct
 * the analysis does not know, ...).
 */
int prefilter_first_bytes(const char *pattern, size_t len, int caseless, uint8_t bitmap[32]);

#define PREFILTER_PAIRS 16

/* What may come right before a match: it may start at offset p when, for some k, the byte
 * at p-1 is in b1[k] and the byte at p-2 in b2[k].  count 0: anything. */
typedef struct prefilter_prev {
    uint8_t b1[PREFILTER_PAIRS][32], b2[PREFILTER_PAIRS][32];
    int count;
} prefilter_prev_t;

/*
 * Works out what may come right before a match of the pattern, from the assertions before its
 * first character: ^, lookbehinds such as (?<=\n) or (?<=[.!?]\s) or (?<![\p{L}'-]), and \b
 * when word_first is set (the caller then uses the result only where the match would start
 * with an ASCII letter, digit or '_').  Returns 1 when that rules out some places, else 0 (and
 * prev->count is 0).
 */
int prefilter_prev_bytes(const char *pattern, size_t len, int caseless, int word_first,
                         prefilter_prev_t *prev);

/* A set of strings, one of which every match of a pattern contains (prefilter_required_set). */
#define PREFILTER_SET_MAX 256
#define PREFILTER_SET_LEN 24

typedef struct prefilter_set {
    size_t count;
    uint8_t len[PREFILTER_SET_MAX];
    char text[PREFILTER_SET_MAX][PREFILTER_SET_LEN];   /* ASCII lower case, not terminated */
} prefilter_set_t;

/*
 * Works out a set of strings (each 3 bytes or more, at most PREFILTER_SET_MAX of them) such that
 * every match of the pattern contains one of them in what it consumes: the cue verbs of
 * "(?<span>@NAME)\s+(?:said|told)\b", say.  ASCII letters are in lower case and must be
 * looked for without regard to ASCII case (a caseless pattern also matches the Kelvin sign for
 * k and the long s for s: the caller must allow for those).  Returns 1 with set filled, or 0
 * when no useful set is known (set->count 0).
 */
int prefilter_required_set(const char *pattern, size_t len, prefilter_set_t *set);

/*
 * prefilter_required_set() remembering in memo (memo.h; NULL: none) what each group required.
 * A rule set's patterns repeat the same groups (a macro used in many rules), and with a memo
 * each is worked out once.  The result is the same.  ends: prefilter_group_ends() of the
 * pattern when the caller has it, else NULL (with a memo, it is then worked out here).
 */
int prefilter_required_set_with(memo_t *memo, const char *pattern, size_t len,
                                const uint32_t *ends, prefilter_set_t *set);

/*
 * For each '(' of pattern[0..len), the index past its ')' (0 when it has none, or when the '('
 * is escaped or inside a class), stepping over escapes and classes as this module reads them.
 * A malloc'd array of len entries (free() it), NULL without memory.
 */
uint32_t *prefilter_group_ends(const char *pattern, size_t len);

/*
 * Whether a match of the pattern may consume a line feed (\s, a negated class, \n, (?s). ...).
 * When it returns 0, every match lies within one line of the text, lookarounds aside.
 */
int prefilter_may_cross_lines(const char *pattern, size_t len);

static inline int prefilter_has(const uint8_t bitmap[32], unsigned char b)
{
    return (bitmap[b >> 3] >> (b & 7)) & 1;
}

/* Whether prev allows a match to start at text[pos] (offsets 0 and 1 are never ruled out for
 * want of bytes before them).  Inline: the extractor asks at every candidate byte. */
static inline int prefilter_prev_allows(const prefilter_prev_t *prev, const unsigned char *text,
                                        size_t pos)
{
    if (prev->count == 0 || pos == 0)
        return 1;
    unsigned char p1 = text[pos - 1], p2 = pos >= 2 ? text[pos - 2] : 0;
    for (int k = 0; k < prev->count; k++)
        if (prefilter_has(prev->b1[k], p1) && (pos < 2 || prefilter_has(prev->b2[k], p2)))
            return 1;
    return 0;
}

#endif
