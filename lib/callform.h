/*
 * callform.h - writes the big groups that a pattern repeats once, as subroutines.
 *
 * PCRE2 compiles a group at every place it appears, and a group quantified {n,m} m times.  Macro
 * expansion makes both common: the stop words before every word of a name sit in @NAME's
 * {0,3}, and @NAME appears twice in a rule.  Each copy costs compile time and, above all, JIT
 * time and code (about twenty bytes of machine code per byte of pattern), which is most of what
 * loading a rule set costs.  This rewrite writes each such group once, in a (?(DEFINE)...) at
 * the end of the pattern, and calls it with (?&name) where it stood.  Since PCRE2 10.30 a called
 * group backtracks exactly as the group written in place; only the captures made inside a call
 * are lost when it returns, so groups with captures (and back references) are left where they
 * are.  What the pattern matches, and which match it finds first, do not change.  The price is
 * paid at match time: a call saves and restores the state of the group it enters.  On the
 * default rule pack a load takes 21% fewer instructions and extraction 1.5% more.
 */
#ifndef NERD_CALLFORM_H
#define NERD_CALLFORM_H

#include <stddef.h>
#include <stdint.h>

/* Groups smaller than this (in bytes) cost more as calls (a call saves and restores the state of
 * the group at every use) than they save as copies; 600 keeps the calls to the word lists and
 * macros of a rule pack.  The size the loader uses. */
#define CALLFORM_MIN_GROUP 600

/*
 * Returns a malloc'd NUL-terminated copy of pattern[0..len) (PCRE2 syntax, UTF mode) with its
 * repeated non-capturing groups of min_group bytes or more called as subroutines, its length in
 * *out_len and, in *added, how many capture groups the DEFINE adds (they are numbered after
 * every group of the pattern).  ends: prefilter_group_ends() of the pattern, or NULL to work it
 * out here.  NULL when nothing is worth rewriting, when the pattern uses syntax the rewrite
 * leaves alone (inline options such as (?i), verbs, \Q..\E, branch resets) or without memory:
 * then compile the pattern as it is.
 */
char *callform_rewrite(const char *pattern, size_t len, const uint32_t *ends, size_t min_group,
                       size_t *out_len, size_t *added);

#endif
