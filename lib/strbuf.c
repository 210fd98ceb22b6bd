/*
 * strbuf.c - the growable byte buffer of strbuf.h.
 */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(strbuf_t *sb)
{
    memset(sb, 0, sizeof(*sb));
}

void strbuf_free(strbuf_t *sb)
{
    free(sb->data);
    memset(sb, 0, sizeof(*sb));
}

static int reserve(strbuf_t *sb, size_t extra)
{
    if (sb->failed)
        return 0;
    if (sb->len + extra + 1 <= sb->cap)
        return 1;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *d = realloc(sb->data, cap);
    if (d == NULL) {
        sb->failed = 1;
        return 0;
    }
    sb->data = d;
    sb->cap = cap;
    return 1;
}

void strbuf_append(strbuf_t *sb, const char *s, size_t len)
{
    if (!reserve(sb, len))
        return;
    if (len)
        memcpy(sb->data + sb->len, s, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
}

void strbuf_puts(strbuf_t *sb, const char *s)
{
    strbuf_append(sb, s, strlen(s));
}

void strbuf_putc(strbuf_t *sb, char c)
{
    strbuf_append(sb, &c, 1);
}

void strbuf_printf(strbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        strbuf_append(sb, small, (size_t)n);
        return;
    }
    if (!reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

char *strbuf_take(strbuf_t *sb)
{
    char *d = sb->failed ? NULL : sb->data;
    if (sb->failed)
        free(sb->data);
    memset(sb, 0, sizeof(*sb));
    return d;
}

int strbuf_failed(const strbuf_t *sb)
{
    return sb->failed;
}
