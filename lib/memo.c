/*
 * memo.c - the table of memo.h: open addressing, at most half full, keys and values copied.
 */
#include "memo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct memo_entry {
    char *key;                   /* malloc'd, with the value after it; NULL: a free slot */
    size_t len, size;
    int tag;
} memo_entry_t;

struct memo {
    memo_entry_t *slots;
    size_t cap, count;           /* cap: a power of two */
};

memo_t *memo_new(void)
{
    return calloc(1, sizeof(memo_t));
}

void memo_destroy(memo_t **memo)
{
    if (memo == NULL || *memo == NULL)
        return;
    for (size_t k = 0; k < (*memo)->cap; k++)
        free((*memo)->slots[k].key);
    free((*memo)->slots);
    free(*memo);
    *memo = NULL;
}

/* A hash (FNV-1a) of the key's length, tag and first and last bytes: the texts are macros of up
 * to kilobytes, which a full comparison tells apart once the hash has found a candidate. */
static size_t memo_hash(const char *key, size_t len, int tag)
{
    size_t edge = len < 32 ? len : 32;
    uint64_t h = 14695981039346656037u ^ (uint64_t)len ^ (uint64_t)(unsigned)tag << 40;
    for (size_t k = 0; k < edge; k++)
        h = (h ^ (unsigned char)key[k]) * 1099511628211u;
    for (size_t k = len - edge; k < len; k++)
        h = (h ^ (unsigned char)key[k]) * 1099511628211u;
    return (size_t)(h ^ (h >> 29));
}

/* The slot of (key, tag) in slots[0..cap), or the free slot where it would go. */
static memo_entry_t *memo_slot(memo_entry_t *slots, size_t cap, const char *key, size_t len,
                               int tag)
{
    size_t h = memo_hash(key, len, tag) & (cap - 1);
    for (;; h = (h + 1) & (cap - 1)) {
        memo_entry_t *e = &slots[h];
        if (e->key == NULL || (e->len == len && e->tag == tag && memcmp(e->key, key, len) == 0))
            return e;
    }
}

const void *memo_get(const memo_t *memo, const char *key, size_t len, int tag, size_t *size)
{
    if (memo == NULL || memo->count == 0)
        return NULL;
    const memo_entry_t *e = memo_slot(memo->slots, memo->cap, key, len, tag);
    if (e->key == NULL)
        return NULL;
    *size = e->size;
    return e->key + e->len;
}

/* Keeps the table at most half full; -1 out of memory. */
static int memo_grow(memo_t *memo)
{
    if (2 * (memo->count + 1) <= memo->cap)
        return 0;
    size_t cap = memo->cap ? 2 * memo->cap : 64;
    memo_entry_t *slots = calloc(cap, sizeof(memo_entry_t));
    if (slots == NULL)
        return -1;
    for (size_t k = 0; k < memo->cap; k++) {
        const memo_entry_t *e = &memo->slots[k];
        if (e->key != NULL)
            *memo_slot(slots, cap, e->key, e->len, e->tag) = *e;
    }
    free(memo->slots);
    memo->slots = slots;
    memo->cap = cap;
    return 0;
}

void memo_put(memo_t *memo, const char *key, size_t len, int tag, const void *value, size_t size)
{
    if (memo == NULL || memo_grow(memo) != 0)
        return;
    memo_entry_t *e = memo_slot(memo->slots, memo->cap, key, len, tag);
    if (e->key != NULL)
        return;
    char *copy = malloc(len + size ? len + size : 1);
    if (copy == NULL)
        return;
    memcpy(copy, key, len);
    if (size > 0)
        memcpy(copy + len, value, size);
    *e = (memo_entry_t){copy, len, size, tag};
    memo->count++;
}
