/*
 * prefilter.h - which bytes can start a match of a pattern.
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

/*
 * Computes into bitmap (256 bits) every byte that can be the first byte of a match of
 * pattern[0..len) (PCRE2 syntax, UTF mode).  Returns 1 when the set is useful, 0 when the
 * pattern may start anywhere (it can match empty, starts with '.', a negated class, a construct
 * the analysis does not know, ...).
 */
int prefilter_first_bytes(const char *pattern, size_t len, int caseless, uint8_t bitmap[32]);

/*
 * Writes to out (up to cap bytes) the longest run of literal characters that every match of a
 * case-sensitive pattern must contain ("contributed" in "(?<span>@NAME)\s+contributed\b");
 * returns its length, 0 when there is none of at least 3 bytes.  A text without it cannot
 * match, so the extractor skips the pattern there.
 */
size_t prefilter_required_literal(const char *pattern, size_t len, int caseless, char *out,
                                  size_t cap);

static inline int prefilter_has(const uint8_t bitmap[32], unsigned char b)
{
    return (bitmap[b >> 3] >> (b & 7)) & 1;
}

#endif
