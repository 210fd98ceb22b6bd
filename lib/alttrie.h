/*
 * alttrie.h - rewrites alternations of plain words in a pattern as tries.
 *
 * Rule packs are full of word lists: (?:said|told|added|...), (?:The|A|An|And|...).  PCRE2
 * tries the branches of an alternation one after the other, so a list of 300 words costs 300
 * failed comparisons at every place it is tried, and the lists sit inside loops (@NCAP before
 * every name word).  Written as a trie, (?:s(?:aid|ays)|t(?:old|ells)|...), the same list costs
 * a few comparisons.  The rewrite changes nothing a pattern matches, nor which match it finds
 * first (see alttrie.c), nor its capture groups: it is a pure speed-up done at load time.
 */
#ifndef NERD_ALTTRIE_H
#define NERD_ALTTRIE_H

#include <stddef.h>

#include "memo.h"

/*
 * Returns a malloc'd NUL-terminated copy of pattern[0..len) (PCRE2 syntax, not extended mode)
 * with its runs of plain-word alternatives written as tries, and its length in *out_len; NULL
 * when nothing was rewritten or memory ran out (then use the pattern as it is).
 */
char *alttrie_rewrite(const char *pattern, size_t len, size_t *out_len);

/*
 * alttrie_rewrite() remembering in memo (memo.h; NULL: none) what each run of words became.  The
 * patterns of a rule set repeat the same word lists (a macro used in many rules), and working
 * out a list's trie is most of the rewrite's cost: with a memo each list is worked out once.
 * The result is the same.
 */
char *alttrie_rewrite_with(memo_t *memo, const char *pattern, size_t len, size_t *out_len);

#endif
