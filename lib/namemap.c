/*
 * namemap.c - the name tables of namemap.h: FNV-1a hashing, linear probing, a power-of-two
 * capacity at least twice the expected count.
 */
#include "namemap.h"

#include <string.h>

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
    return h;
}

int name_map_init(nerd_arena_t *a, name_map_t *m, size_t expected)
{
    size_t cap = 16;
    while (cap < 2 * expected + 16)
        cap *= 2;
    m->slots = nerd_arena_alloc(a, cap * sizeof(name_entry_t));
    if (m->slots == NULL)
        return NERD_ENOMEM;
    memset(m->slots, 0, cap * sizeof(name_entry_t));
    m->cap = cap;
    m->used = 0;
    return 0;
}

static name_entry_t *map_slot(const name_map_t *m, const char *key, size_t len)
{
    size_t i = (size_t)hash_bytes(key, len) & (m->cap - 1);
    while (m->slots[i].key && !(m->slots[i].key_len == len && memcmp(m->slots[i].key, key, len) == 0))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

const name_entry_t *name_map_get(const name_map_t *m, const char *key, size_t len)
{
    if (m->used == 0)
        return NULL;
    const name_entry_t *e = map_slot(m, key, len);
    return e->key ? e : NULL;
}

/* Claims the empty slot e for key; 0 when the map is full (it stays at most half full). */
static int map_claim(name_map_t *m, name_entry_t *e, const char *key, size_t len)
{
    if ((m->used + 1) * 2 > m->cap)
        return 0;
    m->used++;
    e->key = key;
    e->key_len = (uint32_t)len;
    return 1;
}

void name_map_put(name_map_t *m, const char *key, size_t len, const char *canon, size_t clen)
{
    name_entry_t *e = map_slot(m, key, len);
    if (e->key == NULL && !map_claim(m, e, key, len))
        return;
    e->canonical = canon;
    e->canonical_len = (uint32_t)clen;
}

void name_map_add_at(name_map_t *m, const char *key, size_t len, const char *canon, size_t clen,
                     uint32_t pos)
{
    name_entry_t *e = map_slot(m, key, len);
    if (e->key != NULL || !map_claim(m, e, key, len))
        return;   /* the first name of a key keeps it */
    e->canonical = canon;
    e->canonical_len = (uint32_t)clen;
    e->pos = pos;
}
