/*
 * utf8.c - strict UTF-8 validation (nerd_utf8_check) and encoding.
 *
 * Every document is validated once before anything else looks at it, so later stages may decode
 * without checks.  Rejects overlong forms, surrogates (U+D800-U+DFFF), code points above
 * U+10FFFF and truncated sequences.  ASCII runs are skipped eight bytes at a time.
 */
#include "nerd.h"
#include "utf8.h"

#include <string.h>

/* Length of the sequence that a valid lead byte starts, 0 for an invalid lead byte. */
static size_t lead_length(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    if (c < 0xF5)
        return 4;
    return 0;
}

static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Checks one multi-byte sequence at s[0..n) of expected length len; 1 when valid. */
static int sequence_valid(const unsigned char *s, size_t avail, size_t len)
{
    if (avail < len)
        return 0;
    unsigned char c = s[0], d = s[1];
    if (!is_cont(d))
        return 0;
    if (len == 3) {
        if (c == 0xE0 && d < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && d > 0x9F)
            return 0; /* surrogate */
        return is_cont(s[2]);
    }
    if (len == 4) {
        if (c == 0xF0 && d < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && d > 0x8F)
            return 0; /* above U+10FFFF */
        return is_cont(s[2]) && is_cont(s[3]);
    }
    return 1;
}

int nerd_utf8_check(const char *text, size_t len, size_t *bad_offset)
{
    if (text == NULL)
        return len == 0 ? 0 : NERD_EINVAL;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        /* Fast path: eight ASCII bytes at once. */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = lead_length(c);
        if (n == 0 || !sequence_valid(s + i, len - i, n)) {
            if (bad_offset)
                *bad_offset = i;
            return NERD_EUTF8;
        }
        i += n;
    }
    return 0;
}

size_t utf8_encode(uint32_t c, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}
