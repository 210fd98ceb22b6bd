/*
 * buf.h - a growable byte buffer, used to build JSON lines and to read input files.
 *
 * Grows by doubling, so appending is amortised O(1) and a buffer reused from one document to the
 * next stops allocating once it has reached the largest document's size.
 */
#ifndef NERD_BUF_H
#define NERD_BUF_H

#include <stddef.h>

typedef struct buf {
    char *data;     /* NUL-terminated whenever data != NULL */
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT { NULL, 0, 0 }

/* Makes room for extra more bytes (plus the NUL).  Returns 0, or -1 when memory runs out. */
int buf_reserve(buf_t *b, size_t extra);
/* Appends len bytes.  Returns 0 or -1 (out of memory; the buffer is unchanged). */
int buf_append(buf_t *b, const void *data, size_t len);
/* Appends a NUL-terminated string. */
int buf_puts(buf_t *b, const char *s);
/* Appends one byte. */
int buf_putc(buf_t *b, char c);
/* Empties the buffer, keeping its memory. */
void buf_clear(buf_t *b);
/* Frees the memory; the buffer is empty and usable again. */
void buf_free(buf_t *b);

#endif /* NERD_BUF_H */
