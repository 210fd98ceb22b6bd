/*
 * strbuf.h - a growable, always NUL-terminated byte buffer (malloc based).
 *
 * Used while loading rule sets (expanded patterns, error texts) and for rule-test reports: places
 * where sizes are unknown in advance and speed does not matter.  Out of memory is sticky: the
 * buffer remembers it and strbuf_failed() tells, so callers check once at the end.
 */
#ifndef NERD_STRBUF_H
#define NERD_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *data;      /* NUL-terminated when len > 0 or after any append */
    size_t len, cap;
    int failed;      /* an allocation failed: contents are incomplete */
} strbuf_t;

void strbuf_init(strbuf_t *sb);
void strbuf_free(strbuf_t *sb);
void strbuf_append(strbuf_t *sb, const char *s, size_t len);
void strbuf_puts(strbuf_t *sb, const char *s);
void strbuf_putc(strbuf_t *sb, char c);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void strbuf_printf(strbuf_t *sb, const char *fmt, ...);
/* Hands the malloc'd text to the caller (NULL when empty or failed) and resets sb. */
char *strbuf_take(strbuf_t *sb);
int strbuf_failed(const strbuf_t *sb);

#endif
