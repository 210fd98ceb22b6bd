/*
 * token.c - the tokeniser and the small Unicode character tables the engine needs.
 *
 * One pass per document, no allocation per token: tokens go into an arena array that grows by
 * doubling.  ASCII takes a table-driven fast path; other code points are classified with a short
 * range table: blanks and punctuation are listed, everything else counts as a letter, which is
 * right for the scripts of news text and keeps the table tiny.  Upper case is recognised for
 * Latin-1, Latin Extended-A, Greek and Cyrillic, which is what capitalisation flags need.
 */
#include "token.h"
#include "utf8.h"

#include <string.h>

/* ASCII classes, built from the rules above at first use would need a lock; a literal table is
 * simpler: 0 space, 1 punct, 2 letter, 3 digit. */
static const unsigned char ascii_class[128] = {
    /* 0x00-0x1F: controls are blanks (the shadow text has no other controls) */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* ' ' ! " # $ % & ' ( ) * + , - . / */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0-9 : ; < = > ? */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1,
    /* @ A-O */
    1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    /* P-Z [ \ ] ^ _ */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1,
    /* ` a-o */
    1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    /* p-z { | } ~ DEL */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0,
};

typedef struct {
    uint32_t lo, hi;
    unsigned char cls;
} char_range_t;

/* Non-letter ranges above ASCII, sorted.  Anything not listed is a letter. */
static const char_range_t char_ranges[] = {
    {0x0080, 0x009F, CHAR_SPACE},  /* C1 controls */
    {0x00A0, 0x00A0, CHAR_SPACE},  /* no-break space */
    {0x00A1, 0x00A9, CHAR_PUNCT},
    {0x00AB, 0x00B4, CHAR_PUNCT},  /* ª (AA) is a letter */
    {0x00B6, 0x00B9, CHAR_PUNCT},  /* µ (B5) is a letter */
    {0x00BB, 0x00BF, CHAR_PUNCT},  /* º (BA) is a letter */
    {0x00D7, 0x00D7, CHAR_PUNCT},
    {0x00F7, 0x00F7, CHAR_PUNCT},
    {0x0660, 0x0669, CHAR_DIGIT},  /* Arabic-Indic digits */
    {0x1680, 0x1680, CHAR_SPACE},
    {0x2000, 0x200B, CHAR_SPACE},
    {0x200C, 0x2027, CHAR_PUNCT},
    {0x2028, 0x2029, CHAR_SPACE},
    {0x202A, 0x202E, CHAR_PUNCT},
    {0x202F, 0x202F, CHAR_SPACE},
    {0x2030, 0x205E, CHAR_PUNCT},
    {0x205F, 0x205F, CHAR_SPACE},
    {0x2060, 0x206F, CHAR_PUNCT},
    {0x20A0, 0x20CF, CHAR_PUNCT},  /* currency */
    {0x2100, 0x214F, CHAR_PUNCT},  /* letterlike symbols */
    {0x2190, 0x2BFF, CHAR_PUNCT},  /* arrows, maths, technical, boxes, shapes, dingbats */
    {0x2E00, 0x2E7F, CHAR_PUNCT},
    {0x3000, 0x3000, CHAR_SPACE},
    {0x3001, 0x303F, CHAR_PUNCT},  /* CJK punctuation */
    {0xFE10, 0xFE1F, CHAR_PUNCT},
    {0xFE30, 0xFE6F, CHAR_PUNCT},
    {0xFEFF, 0xFEFF, CHAR_SPACE},  /* byte order mark */
    {0xFF01, 0xFF0F, CHAR_PUNCT},  /* fullwidth punctuation */
    {0xFF10, 0xFF19, CHAR_DIGIT},
    {0xFF1A, 0xFF20, CHAR_PUNCT},
    {0xFF3B, 0xFF40, CHAR_PUNCT},
    {0xFF5B, 0xFF65, CHAR_PUNCT},
    {0xFFF0, 0xFFFF, CHAR_PUNCT},
    {0x1F000, 0x1FAFF, CHAR_PUNCT}, /* emoji and other pictographs */
};

int token_char_class(uint32_t c)
{
    if (c < 0x80)
        return ascii_class[c];
    size_t lo = 0, hi = sizeof(char_ranges) / sizeof(char_ranges[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < char_ranges[mid].lo)
            hi = mid;
        else if (c > char_ranges[mid].hi)
            lo = mid + 1;
        else
            return char_ranges[mid].cls;
    }
    return CHAR_LETTER;
}

/* Latin Extended-A alternates upper/lower in pairs; these tell which parity is upper. */
static int latin_ext_a_upper(uint32_t c)
{
    if (c <= 0x0137)
        return (c & 1) == 0;
    if (c == 0x0138)
        return 0;
    if (c <= 0x0148)
        return (c & 1) == 1;
    if (c == 0x0149)
        return 0;
    if (c <= 0x0177)
        return (c & 1) == 0;
    if (c == 0x0178)
        return 1;
    if (c <= 0x017E)
        return (c & 1) == 1;
    return 0;
}

int token_char_is_upper(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z';
    if (c >= 0x00C0 && c <= 0x00DE)
        return c != 0x00D7;
    if (c >= 0x0100 && c <= 0x017F)
        return latin_ext_a_upper(c);
    if (c >= 0x0391 && c <= 0x03A9)
        return c != 0x03A2;
    if (c >= 0x0400 && c <= 0x042F)
        return 1;
    return 0;
}

uint32_t token_char_lower(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (!token_char_is_upper(c))
        return c;
    if (c <= 0x00DE || (c >= 0x0391 && c <= 0x03A9) || (c >= 0x0410 && c <= 0x042F))
        return c + 0x20;
    if (c >= 0x0400 && c <= 0x040F)
        return c + 0x50;
    if (c == 0x0178)
        return 0x00FF;
    return c + 1; /* Latin Extended-A pair */
}

uint32_t token_char_upper(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') ? c - 32 : c;
    if ((c >= 0x00E0 && c <= 0x00FE && c != 0x00F7) || (c >= 0x03B1 && c <= 0x03C9 && c != 0x03C2) ||
        (c >= 0x0430 && c <= 0x044F))
        return c - 0x20;
    if (c >= 0x0450 && c <= 0x045F)
        return c - 0x50;
    if (c == 0x00FF)
        return 0x0178;
    if (c >= 0x0100 && c <= 0x017F && c != 0x0138 && c != 0x0149 && c != 0x017F &&
        !latin_ext_a_upper(c) && latin_ext_a_upper(c - 1))
        return c - 1;
    return c;
}

/* The state of one scan; shared by the document and the small-phrase entry points. */
typedef struct {
    const unsigned char *s;
    size_t len, pos;
    uint32_t pending;      /* SPACE/NEWLINE/PARA flags gathered from blanks */
} scan_t;

/* Reads the next token into *t; returns 0 at the end of the text. */
static int scan_next(scan_t *sc, token_t *t)
{
    const unsigned char *s = sc->s;
    size_t i = sc->pos, len = sc->len;
    uint32_t flags = sc->pending;
    int newlines = 0;
    for (;;) {
        if (i >= len) {
            sc->pos = i;
            return 0;
        }
        size_t at = i;
        uint32_t c = s[i] < 0x80 ? s[i++] : utf8_next(s, &i);
        int cls = token_char_class(c);
        if (cls == CHAR_SPACE) {
            flags |= TOK_SPACE_BEFORE;
            if (c == '\n' || c == 0x2028 || c == 0x2029) {
                flags |= TOK_NEWLINE_BEFORE;
                if (++newlines >= 2 || c == 0x2029)
                    flags |= TOK_PARA_BEFORE;
            }
            continue;
        }
        t->start = (uint32_t)at;
        if (cls == CHAR_PUNCT) {
            t->end = (uint32_t)i;
            t->flags = flags | TOK_PUNCT;
            break;
        }
        /* A word: letters, marks and digits up to the next blank or punctuation. */
        int first_upper = token_char_is_upper(c);
        int letters = cls == CHAR_LETTER, uppers = first_upper;
        int digits = cls == CHAR_DIGIT;
        for (;;) {
            if (i >= len)
                break;
            size_t j = i;
            uint32_t d = s[j] < 0x80 ? s[j++] : utf8_next(s, &j);
            int dc = token_char_class(d);
            if (dc == CHAR_LETTER) {
                letters++;
                /* combining marks count as letters but are never upper case; ignore them for
                 * the all-caps test */
                if (token_char_is_upper(d) || (d >= 0x0300 && d <= 0x036F))
                    uppers++;
            } else if (dc == CHAR_DIGIT) {
                digits++;
            } else {
                break;
            }
            i = j;
        }
        t->end = (uint32_t)i;
        t->flags = flags | TOK_WORD;
        if (first_upper)
            t->flags |= TOK_CAP;
        if (letters > 0 && uppers == letters)
            t->flags |= TOK_ALLCAPS;
        if (digits)
            t->flags |= TOK_DIGIT;
        break;
    }
    sc->pos = i;
    sc->pending = 0;
    return 1;
}

int token_split(nerd_arena_t *arena, const char *text, size_t len, token_t **tokens,
                size_t *count)
{
    size_t cap = len / 4 + 16, n = 0;
    token_t *arr = nerd_arena_alloc(arena, cap * sizeof(token_t));
    if (arr == NULL)
        return NERD_ENOMEM;
    scan_t sc = {(const unsigned char *)text, len, 0, TOK_SPACE_BEFORE | TOK_NEWLINE_BEFORE |
                                                       TOK_PARA_BEFORE};
    token_t t;
    while (scan_next(&sc, &t)) {
        if (n == cap) {
            token_t *bigger = nerd_arena_alloc(arena, 2 * cap * sizeof(token_t));
            if (bigger == NULL)
                return NERD_ENOMEM;
            memcpy(bigger, arr, n * sizeof(token_t));
            arr = bigger;
            cap *= 2;
        }
        arr[n++] = t;
    }
    *tokens = arr;
    *count = n;
    return 0;
}

size_t token_split_small(const char *text, size_t len, token_t *out, size_t max)
{
    scan_t sc = {(const unsigned char *)text, len, 0, TOK_SPACE_BEFORE};
    size_t n = 0;
    token_t t;
    while (scan_next(&sc, &t)) {
        if (n == max)
            return max + 1;
        out[n++] = t;
    }
    return n;
}

static int is_hyphen(const char *text, const token_t *t)
{
    size_t n = t->end - t->start;
    const char *s = text + t->start;
    return (n == 1 && s[0] == '-') ||
           (n == 3 && memcmp(s, "\xE2\x80", 2) == 0 && (s[2] == '\x90' || s[2] == '\x91'));
}

int token_hyphen_joined(const char *text, const token_t *tokens, size_t count, size_t first,
                        size_t last)
{
    const token_t *a = &tokens[first], *z = &tokens[last];
    if (!(a->flags & TOK_CAP))
        return 0;
    if (first >= 2) {
        const token_t *h = &tokens[first - 1], *w = &tokens[first - 2];
        if (!(a->flags & TOK_SPACE_BEFORE) && !(h->flags & TOK_SPACE_BEFORE) && is_hyphen(text, h) &&
            (w->flags & TOK_WORD) && (w->flags & TOK_CAP))
            return 1;
    }
    if (last + 2 < count) {
        const token_t *h = &tokens[last + 1], *w = &tokens[last + 2];
        if ((z->flags & TOK_WORD) && !(h->flags & TOK_SPACE_BEFORE) &&
            !(w->flags & TOK_SPACE_BEFORE) && is_hyphen(text, h) && (w->flags & TOK_CAP))
            return 1;
    }
    return 0;
}
