/*
 * namemap.h - small string-keyed tables in a document's arena, for names.
 *
 * Linking (link.c) and attribution (relate.c) look names up by their text many times per
 * document: "Lai" -> "Lai Chun-chang", "CCP" -> "Chinese Communist Party".  A name_map_t is an
 * open-addressing hash of (key, canonical name) pairs sized once for the names it will hold; keys
 * and values are not copied (they point into the text or the arena) and live as long as it.
 */
#ifndef NERD_NAMEMAP_H
#define NERD_NAMEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "nerd.h"

typedef struct name_entry {
    const char *key;             /* NULL = empty slot */
    uint32_t key_len;
    const char *canonical;
    uint32_t canonical_len;
    uint32_t pos;                /* where the caller saw the name (name_map_add_at()), else 0 */
} name_entry_t;

typedef struct name_map {
    name_entry_t *slots;
    size_t cap, used;
} name_map_t;

/* An empty map in arena a for up to `expected` keys; 0 or NERD_ENOMEM. */
int name_map_init(nerd_arena_t *a, name_map_t *m, size_t expected);

/* The entry of key, or NULL. */
const name_entry_t *name_map_get(const name_map_t *m, const char *key, size_t len);

/* Sets key -> canonical, replacing the canonical of a key already there.  A key beyond the
 * expected count of name_map_init() is not stored (the map stays fast: at most half full). */
void name_map_put(name_map_t *m, const char *key, size_t len, const char *canon, size_t clen);

/* Sets key -> canonical (seen at pos) unless the key is already there: the first name of a key
 * keeps it. */
void name_map_add_at(name_map_t *m, const char *key, size_t len, const char *canon, size_t clen,
                     uint32_t pos);

static inline void name_map_add(name_map_t *m, const char *key, size_t len, const char *canon,
                                size_t clen)
{
    name_map_add_at(m, key, len, canon, clen, 0);
}

#endif
