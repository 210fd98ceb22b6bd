/*
 * utf8.h - UTF-8 validation and decoding shared by the engine modules.
 */
#ifndef NERD_UTF8_H
#define NERD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the code point at s[*pos] of an already validated text and advances *pos past it.
 * Must only be called on text that passed nerd_utf8_check().
 */
static inline uint32_t utf8_next(const unsigned char *s, size_t *pos)
{
    size_t i = *pos;
    uint32_t c = s[i];
    if (c < 0x80) {
        *pos = i + 1;
        return c;
    }
    if (c < 0xE0) {
        *pos = i + 2;
        return ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
    }
    if (c < 0xF0) {
        *pos = i + 3;
        return ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
    }
    *pos = i + 4;
    return ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
           (s[i + 3] & 0x3Fu);
}

/* Writes the UTF-8 form of c (a valid scalar value) to out; returns its length (1-4). */
size_t utf8_encode(uint32_t c, char *out);

#endif
