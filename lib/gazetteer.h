/*
 * gazetteer.h - phrase lists matched by hash probes on token n-grams.
 *
 * Every form of every entry (canonical name and aliases) is stored as the 64-bit hash of its
 * tokens joined by single spaces.  The first token of each form is stored too, with the length
 * of the longest form it starts, so a lookup at a token position costs one probe when no phrase
 * starts there and a few more when one may: the cost per token depends on the text, not on the
 * size of the lists.  Two tables: one exact (case=sensitive, and the three spellings of
 * case=smart) and one case-folded (case=insensitive).
 */
#ifndef NERD_GAZETTEER_H
#define NERD_GAZETTEER_H

#include "token.h"

#include <stddef.h>
#include <stdint.h>

#define GAZETTEER_MAX_TOKENS 8

enum { GAZ_CASE_SENSITIVE, GAZ_CASE_INSENSITIVE, GAZ_CASE_SMART };

typedef struct gazetteer gazetteer_t;

/* What a phrase maps to: the rule (gazetteer statement) and the canonical name of its entry. */
typedef struct gazetteer_value {
    const char *canonical;       /* not NUL-terminated; lives as long as the gazetteer */
    uint32_t canonical_len;
    uint32_t rule;               /* index of the rule in the rule set */
    uint32_t next;               /* next value of the same phrase + 1, 0 at the end */
} gazetteer_value_t;

gazetteer_t *gazetteer_new(void);
/* Frees the gazetteer, its tables and every buffer it adopted; sets *g to NULL.  NULL-safe. */
void gazetteer_destroy(gazetteer_t **g);

/* Makes the gazetteer own buf (malloc'd): it is freed with the gazetteer.  0 or NERD_ENOMEM
 * (in which case buf has been freed). */
int gazetteer_adopt(gazetteer_t *g, char *buf);

/*
 * Adds the phrase form[0..len) for rule with the given canonical name (which must live as long
 * as the gazetteer: adopt its buffer).  Returns 0, 1 when the phrase was skipped (empty, or more
 * than GAZETTEER_MAX_TOKENS tokens), or NERD_ENOMEM.
 */
int gazetteer_add(gazetteer_t *g, const char *form, size_t len, int case_mode, uint32_t rule,
                  const char *canonical, size_t canonical_len);

/* Makes room for about phrases more phrases of case_mode, so that loading a big list does not
 * rehash again and again.  0 or NERD_ENOMEM. */
int gazetteer_reserve(gazetteer_t *g, int case_mode, size_t phrases);

/*
 * Builds the filter that lets most lookups skip the tables: call once after the last add (an
 * add after it is not seen by the filter, so it must be called again).  0 or NERD_ENOMEM.
 */
int gazetteer_freeze(gazetteer_t *g);

/* Number of distinct stored phrases. */
size_t gazetteer_size(const gazetteer_t *g);

/* Called for each phrase found: tokens [tok, tok+ntok) map to value.  Nonzero stops the lookup. */
typedef int gazetteer_hit_fn(void *ctx, size_t tok, size_t ntok, const gazetteer_value_t *value);

/*
 * Looks up every phrase starting at every token of text and reports each through hit.  Returns
 * 0, or the first nonzero value hit returned.
 */
int gazetteer_lookup(const gazetteer_t *g, const char *text, const token_t *tokens, size_t count,
                     gazetteer_hit_fn *hit, void *ctx);

#endif
