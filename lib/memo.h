/*
 * memo.h - a table from a piece of text (and a small tag) to a block of bytes worked out from it.
 *
 * Loading a rule set analyses a few hundred patterns that repeat the same macros: the same word
 * list or group comes back in many of them.  The word-list rewrite (alttrie.h) and the required
 * words (prefilter.h) each keep what they made of a text in a memo, so that each text is worked
 * out once per compile thread.  The caller packs what it made into bytes; the memo keeps copies.
 * Not thread-safe: one memo per thread.
 */
#ifndef NERD_MEMO_H
#define NERD_MEMO_H

#include <stddef.h>

typedef struct memo memo_t;

/* An empty memo; NULL without memory.  memo_destroy() takes NULL too and clears the pointer. */
memo_t *memo_new(void);
void memo_destroy(memo_t **memo);

/* The bytes kept for (key[0..len), tag) and their size in *size, or NULL when there are none
 * (memo may be NULL). */
const void *memo_get(const memo_t *memo, const char *key, size_t len, int tag, size_t *size);

/* Keeps a copy of value[0..size) for (key[0..len), tag), unless something is kept for it
 * already; nothing when memory runs out (a memo only saves work). */
void memo_put(memo_t *memo, const char *key, size_t len, int tag, const void *value, size_t size);

#endif
