/*
 * arena.c - the per-document bump allocator.
 *
 * Every allocation made while processing one document (tokens, matches, result arrays, strings)
 * comes from the worker's arena and is released at once by nerd_arena_reset() before the next
 * document.  Memory is a chain of blocks; a reset keeps the first block so that a worker in a
 * steady state does no malloc at all.  Requests larger than a quarter of the block size get a
 * block of their own so that they do not waste the rest of a regular block.
 */
#include "nerd.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

typedef struct arena_block {
    struct arena_block *next;
    size_t size;                 /* usable bytes in data[] */
    size_t used;
    alignas(max_align_t) unsigned char data[];
} arena_block_t;

struct nerd_arena {
    arena_block_t *first;        /* kept across resets */
    arena_block_t *current;      /* where bump allocation happens */
    size_t block_size;
    size_t used;                 /* bytes handed out since the last reset */
};

#define ARENA_ALIGN (alignof(max_align_t))
#define ARENA_DEFAULT_BLOCK (64u * 1024u)

static arena_block_t *block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(arena_block_t))
        return NULL;
    arena_block_t *b = malloc(sizeof(arena_block_t) + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

nerd_arena_t *nerd_arena_new(size_t block_size)
{
    nerd_arena_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->block_size = block_size ? block_size : ARENA_DEFAULT_BLOCK;
    a->first = block_new(a->block_size);
    if (a->first == NULL) {
        free(a);
        return NULL;
    }
    a->current = a->first;
    return a;
}

static void free_chain(arena_block_t *b)
{
    while (b != NULL) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
}

void nerd_arena_destroy(nerd_arena_t **arena)
{
    if (arena == NULL || *arena == NULL)
        return;
    free_chain((*arena)->first);
    free(*arena);
    *arena = NULL;
}

void *nerd_arena_alloc(nerd_arena_t *arena, size_t size)
{
    if (arena == NULL)
        return NULL;
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    arena_block_t *cur = arena->current;
    if (cur->size - cur->used >= rounded) {
        void *p = cur->data + cur->used;
        cur->used += rounded;
        arena->used += rounded;
        return p;
    }
    /* A big request gets its own block, linked after the current one so that the current block
     * stays the bump target; a small one starts a fresh regular block. */
    int big = rounded > arena->block_size / 4;
    arena_block_t *b = block_new(big ? rounded : arena->block_size);
    if (b == NULL)
        return NULL;
    b->used = rounded;
    b->next = cur->next;
    cur->next = b;
    if (!big)
        arena->current = b;
    arena->used += rounded;
    return b->data;
}

char *nerd_arena_strndup(nerd_arena_t *arena, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = nerd_arena_alloc(arena, len + 1);
    if (p == NULL)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void nerd_arena_reset(nerd_arena_t *arena)
{
    if (arena == NULL)
        return;
    free_chain(arena->first->next);
    arena->first->next = NULL;
    arena->first->used = 0;
    arena->current = arena->first;
    arena->used = 0;
}

size_t nerd_arena_used(const nerd_arena_t *arena)
{
    return arena ? arena->used : 0;
}
