/*
 * uchar.h - decode and encode single UTF-8 code points.
 *
 * The engine checks whole texts (nerd_utf8_check); the daemon also needs code-point level work:
 * escaping for JSON, \uXXXX escapes read from JSON Lines, repairing an id to show it in an error.
 */
#ifndef NERD_UCHAR_H
#define NERD_UCHAR_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the code point at s[0..len) into *cp.  Returns its length in bytes (1-4), or 0 when
 * the bytes there are not well-formed UTF-8 (overlong forms, surrogates and values above
 * U+10FFFF are rejected, as RFC 3629 requires).
 */
size_t uchar_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Writes cp (at most U+10FFFF, not a surrogate) as UTF-8 into out[0..4).  Returns the length. */
size_t uchar_encode(uint32_t cp, char out[4]);

#endif /* NERD_UCHAR_H */
