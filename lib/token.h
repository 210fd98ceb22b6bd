/*
 * token.h - the tokeniser: one pass over a document into an arena array of tokens.
 *
 * A token is a run of letters, marks and digits, or one single other non-blank character
 * ("Party’s" -> Party ’ s; "Chun-chang" -> Chun - chang).  The gazetteer looks phrases up by
 * token n-grams and the linker walks tokens to find bare mentions of known names.
 */
#ifndef NERD_TOKEN_H
#define NERD_TOKEN_H

#include "nerd.h"

#include <stddef.h>
#include <stdint.h>

enum {
    TOK_WORD = 1u << 0,           /* letters, marks and digits */
    TOK_PUNCT = 1u << 1,          /* one other non-blank character */
    TOK_CAP = 1u << 2,            /* first character is an upper-case letter */
    TOK_ALLCAPS = 1u << 3,        /* has letters, all of them upper case */
    TOK_DIGIT = 1u << 4,          /* contains a digit */
    TOK_SPACE_BEFORE = 1u << 5,   /* blank (or start of text) right before the token */
    TOK_NEWLINE_BEFORE = 1u << 6, /* a line break in the blanks before the token */
    TOK_PARA_BEFORE = 1u << 7     /* two or more line breaks before the token */
};

typedef struct token {
    uint32_t start, end;          /* byte offsets, end exclusive */
    uint32_t flags;
} token_t;

/*
 * Splits text[0..len) (valid UTF-8) into tokens allocated from arena.  Sets *tokens and *count.
 * Returns 0 or NERD_ENOMEM.  Text of any length up to UINT32_MAX bytes.
 */
int token_split(nerd_arena_t *arena, const char *text, size_t len, token_t **tokens,
                size_t *count);

/*
 * Splits a short phrase (a gazetteer form) into at most max tokens written to out.  Returns the
 * number of tokens, or max + 1 when the phrase has more.  Allocation free.
 */
size_t token_split_small(const char *text, size_t len, token_t *out, size_t max);

/*
 * Whether tokens [first, last] are glued by a hyphen to a capitalised word on either side
 * ("Jones" in "Okafor-Jones", "Packard" in "Hewlett-Packard"): such a part is not a phrase of
 * its own.  "pro-Beijing" and "U.S.-China" are not glued (lower case or no word before).
 */
int token_hyphen_joined(const char *text, const token_t *tokens, size_t count, size_t first,
                        size_t last);

/* Character classes used by the tokeniser, the gazetteer and the linker. */
enum { CHAR_SPACE, CHAR_PUNCT, CHAR_LETTER, CHAR_DIGIT };
int token_char_class(uint32_t c);
int token_char_is_upper(uint32_t c);
/* Simple one-to-one case mappings (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic). */
uint32_t token_char_lower(uint32_t c);
uint32_t token_char_upper(uint32_t c);

#endif
