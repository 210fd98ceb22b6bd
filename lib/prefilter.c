/*
 * prefilter.c - the first-byte analysis of prefilter.h.
 *
 * A small recursive reader of PCRE2 syntax.  For a sequence of items it unions the first bytes
 * of each item until one cannot match empty; for alternatives it unions the branches.  Anything
 * it does not fully understand makes it give up (every byte possible), so the result is always
 * a superset and never changes what a pattern matches, only where matching is tried.
 * Non-ASCII characters are approximated by every UTF-8 lead byte (0xC2-0xF4).
 */
#include "prefilter.h"

#include <string.h>

typedef struct reader {
    const char *p;
    size_t len, i;
    int caseless;
    int gave_up;                 /* every byte may start a match */
    int hard;                    /* and the reading itself may be wrong: never undone */
    int depth;
} reader_t;

static void add(uint8_t *bm, unsigned b)
{
    bm[b >> 3] |= (uint8_t)(1u << (b & 7));
}

static void add_range(uint8_t *bm, unsigned lo, unsigned hi)
{
    for (unsigned b = lo; b <= hi; b++)
        add(bm, b);
}

static void add_non_ascii(uint8_t *bm)
{
    add_range(bm, 0xC2, 0xF4);
}

static void add_letters(uint8_t *bm, int upper, int lower)
{
    if (upper)
        add_range(bm, 'A', 'Z');
    if (lower)
        add_range(bm, 'a', 'z');
    add_non_ascii(bm);
}

/* One character (code point c, first UTF-8 byte lead). */
static void add_char(reader_t *r, uint8_t *bm, unsigned c, unsigned lead)
{
    add(bm, lead);
    if (!r->caseless)
        return;
    if (c < 0x80 && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
        add(bm, c ^ 0x20);
        add_non_ascii(bm); /* K and S have non-ASCII case variants (Kelvin sign, long s) */
    } else if (c >= 0x80) {
        add_non_ascii(bm);
    }
}

static void give_up(reader_t *r)
{
    r->gave_up = 1;
}

static void give_up_hard(reader_t *r)
{
    r->gave_up = r->hard = 1;
}

static int peek(const reader_t *r, size_t k)
{
    return r->i + k < r->len ? (unsigned char)r->p[r->i + k] : -1;
}

/* Reads a \p{..} / \P{..} / \pL property at r->i (after the backslash and p/P). */
static void read_property(reader_t *r, uint8_t *bm, int negated)
{
    char name[32];
    size_t n = 0;
    if (peek(r, 0) == '{') {
        r->i++;
        while (r->i < r->len && r->p[r->i] != '}' && n < sizeof(name) - 1)
            name[n++] = r->p[r->i++];
        r->i++;
    } else if (r->i < r->len) {
        name[n++] = r->p[r->i++];
    }
    name[n] = '\0';
    if (negated || name[0] == '^') {
        give_up(r);
        return;
    }
    if (strcmp(name, "Lu") == 0 || strcmp(name, "Lt") == 0)
        add_letters(bm, 1, r->caseless);
    else if (strcmp(name, "Ll") == 0)
        add_letters(bm, r->caseless, 1);
    else if (name[0] == 'L' || strcmp(name, "Xan") == 0 || strcmp(name, "Xwd") == 0) {
        add_letters(bm, 1, 1);
        if (name[0] == 'X') {
            add_range(bm, '0', '9');
            if (name[1] == 'w')
                add(bm, '_');
        }
    } else if (name[0] == 'N') {
        add_range(bm, '0', '9');
        add_non_ascii(bm);
    } else if (name[0] == 'M') {
        add_non_ascii(bm);
    } else {
        give_up(r);
    }
}

/* Reads a number of hex digits for \x.. / \x{..}; returns the code point. */
static unsigned read_hex(reader_t *r)
{
    unsigned v = 0;
    int braced = peek(r, 0) == '{';
    if (braced)
        r->i++;
    for (int k = 0; r->i < r->len && (braced || k < 2); k++) {
        char c = r->p[r->i];
        unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0')
                     : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                     : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10) : 99;
        if (d == 99)
            break;
        v = v * 16 + d;
        r->i++;
    }
    if (braced && peek(r, 0) == '}')
        r->i++;
    return v;
}

static unsigned lead_byte(unsigned c)
{
    if (c < 0x80)
        return c;
    if (c < 0x800)
        return 0xC0 | (c >> 6);
    if (c < 0x10000)
        return 0xE0 | (c >> 12);
    return 0xF0 | (c >> 18);
}

/* Skips what follows some escapes: \k<name> \k{name} \k'name' \g{1} \g<name> \N{U+41} \o{101} \cX,
 * so that it is not read as literal text. */
static void skip_escape_argument(reader_t *r, char c)
{
    int open = peek(r, 0);
    if (c == 'c') {
        if (r->i < r->len)
            r->i++;
        return;
    }
    if (!(c == 'k' || c == 'g' || c == 'N' || c == 'o'))
        return;
    char close = open == '<' ? '>' : open == '{' ? '}' : open == '\'' ? '\'' : 0;
    if (close == 0 || ((c == 'N' || c == 'o') && open != '{'))
        return;
    size_t k = r->i + 1;
    while (k < r->len && r->p[k] != close)
        k++;
    r->i = k < r->len ? k + 1 : r->len;
}

/*
 * An escape at r->i (just after the backslash).  Adds its first bytes and returns 1 when it
 * consumes a character, 0 when it is zero-width (\b, \A, ...).
 */
static int read_escape(reader_t *r, uint8_t *bm, int in_class)
{
    if (r->i >= r->len) {
        give_up(r);
        return 1;
    }
    char c = r->p[r->i++];
    switch (c) {
    case 'd':
        add_range(bm, '0', '9');
        add_non_ascii(bm);
        return 1;
    case 'w':
        add_letters(bm, 1, 1);
        add_range(bm, '0', '9');
        add(bm, '_');
        return 1;
    case 's':
        add_range(bm, '\t', '\r');
        add(bm, ' ');
        add_non_ascii(bm);
        return 1;
    case 'p':
    case 'P':
        read_property(r, bm, c == 'P');
        return 1;
    case 'x': {
        unsigned v = read_hex(r);
        add_char(r, bm, v, lead_byte(v));
        return 1;
    }
    case 'n': add(bm, '\n'); return 1;
    case 't': add(bm, '\t'); return 1;
    case 'r': add(bm, '\r'); return 1;
    case 'f': add(bm, '\f'); return 1;
    case 'e': add(bm, 0x1B); return 1;
    case 'a': add(bm, 0x07); return 1;
    case 'b':
        if (in_class) {
            add(bm, 0x08);
            return 1;
        }
        return 0;
    case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K':
        if (in_class)
            give_up(r);
        return 0;
    case 'Q': {
        /* quoted literal up to \E: its first character, or nothing if empty */
        if (r->i + 1 < r->len && r->p[r->i] == '\\' && r->p[r->i + 1] == 'E') {
            r->i += 2;
            return 0;
        }
        unsigned char b = (unsigned char)r->p[r->i];
        add_char(r, bm, b < 0x80 ? b : 0x80, b);
        const char *e = NULL;
        for (size_t k = r->i; k + 1 < r->len; k++)
            if (r->p[k] == '\\' && r->p[k + 1] == 'E') {
                e = r->p + k;
                break;
            }
        r->i = e ? (size_t)(e - r->p) + 2 : r->len;
        return 1;
    }
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            give_up(r); /* \h \v \R \X \N \C \D \W \S, back references, ... */
            skip_escape_argument(r, c);
            return 1;
        }
        add_char(r, bm, (unsigned char)c, (unsigned char)c); /* an escaped punctuation mark */
        return 1;
    }
}

/* The index just past the ']' closing the class whose body starts at i (after '[' or '[^'). */
static size_t class_end(const reader_t *r, size_t i)
{
    int first = 1;
    while (i < r->len) {
        char c = r->p[i];
        if (c == '\\') {
            i += 2;
        } else if (c == '[' && i + 1 < r->len && r->p[i + 1] == ':') {
            const char *e = strstr(r->p + i + 2, ":]");
            i = e ? (size_t)(e - r->p) + 2 : r->len;
        } else if (c == ']' && !first) {
            return i + 1;
        } else {
            i++;
        }
        first = 0;
    }
    return r->len + 1;
}

/* A character class at r->i (just after '['); always consumes the whole class. */
static void read_class(reader_t *r, uint8_t *bm)
{
    int negated = peek(r, 0) == '^';
    size_t end = class_end(r, r->i + (size_t)negated);
    if (end > r->len) {
        give_up_hard(r); /* unterminated */
        return;
    }
    if (negated) {
        give_up(r);
        r->i = end;
        return;
    }
    size_t last = end - 1; /* the closing ']' */
    unsigned prev = 0x110000;
    while (r->i < last) {
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == '[' && peek(r, 1) == ':') {
            give_up(r); /* POSIX classes */
            r->i = end;
            return;
        }
        if (c == '\\') {
            r->i++;
            size_t at = r->i;
            read_escape(r, bm, 1);
            prev = (r->i == at + 1) ? (unsigned char)r->p[at] : 0x110000;
            continue;
        }
        if (c == '-' && prev != 0x110000 && r->i + 1 < last) {
            unsigned char hi = (unsigned char)r->p[r->i + 1];
            if (hi == '\\' || hi >= 0x80 || prev >= 0x80) {
                add_range(bm, 0x20, 0x7F); /* a range we do not work out: assume wide */
                add_non_ascii(bm);
                r->i += hi == '\\' ? 3 : 2;
            } else {
                for (unsigned v = prev; v <= hi; v++)
                    add_char(r, bm, v, v);
                r->i += 2;
            }
            prev = 0x110000;
            continue;
        }
        if (c >= 0x80) {
            add_char(r, bm, 0x80, c); /* its lead byte (every lead byte when caseless) */
            r->i++;
            while (r->i < last && ((unsigned char)r->p[r->i] & 0xC0) == 0x80)
                r->i++;
            prev = 0x80;
            continue;
        }
        add_char(r, bm, c, c);
        prev = c;
        r->i++;
    }
    r->i = end;
}

/* Skips a balanced group body up to and including its ')', honouring escapes and classes. */
static void skip_group(reader_t *r)
{
    int depth = 1, in_class = 0;
    while (r->i < r->len) {
        char c = r->p[r->i++];
        if (c == '\\') {
            r->i++;
        } else if (in_class) {
            if (c == ']')
                in_class = 0;
        } else if (c == '[') {
            in_class = 1;
            if (peek(r, 0) == '^')
                r->i++;
            if (peek(r, 0) == ']')
                r->i++;
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && --depth == 0) {
            return;
        }
    }
    give_up_hard(r);
}

static int read_alternatives(reader_t *r, uint8_t *bm);

/* Reads a quantifier after an item, if any; returns 1 when it allows zero repetitions. */
static int read_quantifier(reader_t *r)
{
    int c = peek(r, 0), zero = 0;
    if (c == '?' || c == '*') {
        zero = 1;
        r->i++;
    } else if (c == '+') {
        r->i++;
    } else if (c == '{') {
        size_t k = r->i + 1;
        unsigned min = 0;
        int digits = 0;
        while (k < r->len && r->p[k] >= '0' && r->p[k] <= '9') {
            min = min * 10 + (unsigned)(r->p[k++] - '0');
            digits++;
        }
        if (k < r->len && r->p[k] == ',') {
            k++;
            while (k < r->len && r->p[k] >= '0' && r->p[k] <= '9')
                k++;
        }
        if (!digits || k >= r->len || r->p[k] != '}')
            return 0; /* not a quantifier: a literal brace, read as the next item */
        r->i = k + 1;
        zero = min == 0;
    } else {
        return 0;
    }
    c = peek(r, 0);
    if (c == '?' || c == '+')
        r->i++;
    return zero;
}

/* Reads a group after '('; returns 1 when it can match empty. */
static int read_group(reader_t *r, uint8_t *bm)
{
    if (peek(r, 0) != '?' && peek(r, 0) != '*')
        return read_alternatives(r, bm); /* capturing group */
    if (peek(r, 0) == '*') {
        give_up_hard(r); /* (*VERB): changes where matches may start */
        return 1;
    }
    r->i++;
    int c = peek(r, 0);
    if (c == ':' || c == '>' || c == '|') {
        r->i++;
        return read_alternatives(r, bm);
    }
    if (c == '#' || c == '=' || c == '!') {
        skip_group(r);
        return 1; /* comments and lookaheads consume nothing */
    }
    if (c == '<' && (peek(r, 1) == '=' || peek(r, 1) == '!')) {
        skip_group(r);
        return 1; /* lookbehind */
    }
    if (c == '<' || c == '\'' || (c == 'P' && peek(r, 1) == '<')) {
        char close = c == '\'' ? '\'' : '>';
        while (r->i < r->len && r->p[r->i] != close)
            r->i++;
        r->i++;
        return read_alternatives(r, bm); /* named group */
    }
    /* inline options: (?i) (?i: ...) (?-i) (?m) (?s) ... */
    int caseless = r->caseless, on = 1;
    while (r->i < r->len) {
        char o = r->p[r->i];
        if (o == '-') {
            on = 0;
        } else if (o == 'i') {
            caseless = on;
        } else if (o == 'x' || o == 'n' || o == 'J' || o == 'U') {
            give_up_hard(r); /* changes how the rest of the pattern reads */
            return 1;
        } else if (o == ')' || o == ':') {
            break;
        } else if (!(o == 'm' || o == 's')) {
            give_up_hard(r); /* conditions, recursion, ...: not read, so the rest cannot be */
            return 1;
        }
        r->i++;
    }
    if (r->i >= r->len) {
        give_up_hard(r);
        return 1;
    }
    if (r->p[r->i] == ')') {
        r->i++;
        r->caseless = caseless; /* applies to the rest of the enclosing group */
        return 1;
    }
    r->i++;
    int saved = r->caseless;
    r->caseless = caseless;
    int nullable = read_alternatives(r, bm);
    r->caseless = saved;
    return nullable;
}

/*
 * Reads alternatives up to the closing ')' (consumed) or the end of the pattern; adds the
 * first bytes of the whole; returns 1 when it can match the empty string.
 */
static int read_alternatives(reader_t *r, uint8_t *bm)
{
    if (++r->depth > 200) {
        give_up_hard(r);
        return 1;
    }
    int saved_case = r->caseless;
    int any_nullable = 0, seq_nullable = 1, seq_done = 0;
    while (r->i < r->len && !r->hard) {
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == ')') {
            r->i++;
            break;
        }
        if (c == '|') {
            r->i++;
            any_nullable |= seq_nullable;
            seq_nullable = 1;
            seq_done = 0;
            r->caseless = saved_case;
            continue;
        }
        /* one item: its first bytes go to a scratch set, kept only while the sequence so far
         * can be empty */
        uint8_t item[32];
        memset(item, 0, sizeof(item));
        int item_nullable = 0;
        int gave_up_before = r->gave_up;
        r->i++;
        if (c == '\\') {
            item_nullable = !read_escape(r, item, 0);
        } else if (c == '[') {
            read_class(r, item);
        } else if (c == '(') {
            item_nullable = read_group(r, item);
        } else if (c == '^' || c == '$') {
            item_nullable = 1;
        } else if (c == '.') {
            give_up(r);
        } else if (c >= 0x80) {
            add_char(r, item, 0x80, c);
            while (r->i < r->len && ((unsigned char)r->p[r->i] & 0xC0) == 0x80)
                r->i++;
        } else {
            add_char(r, item, c, c);
        }
        if (read_quantifier(r))
            item_nullable = 1;
        /* after the first item that must consume, later items do not matter: read them only
         * to find the end of the group */
        if (seq_done && !r->hard)
            r->gave_up = gave_up_before;
        if (!seq_done) {
            for (int k = 0; k < 32; k++)
                bm[k] |= item[k];
            if (!item_nullable) {
                seq_nullable = 0;
                seq_done = 1;
            }
        }
    }
    r->caseless = saved_case;
    r->depth--;
    return any_nullable | seq_nullable;
}

int prefilter_first_bytes(const char *pattern, size_t len, int caseless, uint8_t bitmap[32])
{
    reader_t r = {pattern, len, 0, caseless, 0, 0, 0};
    memset(bitmap, 0, 32);
    int nullable = 1;
    /* a stray ')' at the top level would end the read early: read on until the end */
    while (r.i < r.len && !r.gave_up) {
        nullable = read_alternatives(&r, bitmap);
        if (r.i < r.len)
            give_up(&r);
    }
    if (r.gave_up || nullable)
        return 0;
    int count = 0;
    for (int b = 0; b < 256; b++)
        count += prefilter_has(bitmap, (unsigned char)b);
    return count > 0 && count < 200;
}

/* ---- required literals ---- */

typedef struct literal {
    char text[64];
    size_t len;
} literal_t;

static void keep_longer(literal_t *best, const literal_t *cand)
{
    if (cand->len > best->len)
        *best = *cand;
}

/* Whether a quantifier at r->i lets the item before it repeat zero times; consumes it. */
static int quantified(reader_t *r, int *zero)
{
    size_t before = r->i;
    *zero = read_quantifier(r);
    return r->i != before;
}

static int read_required(reader_t *r, literal_t *best);

/* Reads a group (after '(') for required literals; returns 1 when its literals count. */
static int read_required_group(reader_t *r, literal_t *inner)
{
    if (peek(r, 0) != '?')
        return read_required(r, inner);
    int c = peek(r, 1);
    if (c == ':' || c == '>' || c == '=') {
        r->i += 2;
        return read_required(r, inner);
    }
    if (c == '<' && peek(r, 2) == '=') {
        r->i += 3;
        return read_required(r, inner);
    }
    if (c == '<' || c == '\'' || (c == 'P' && peek(r, 2) == '<')) {
        char close = c == '\'' ? '\'' : '>';
        while (r->i < r->len && r->p[r->i] != close)
            r->i++;
        r->i++;
        return read_required(r, inner);
    }
    /* negative lookarounds, comments, options, conditions: nothing required from inside; an
     * option that turns case-insensitivity on anywhere makes every literal unreliable */
    for (size_t k = r->i + 1; k < r->len && r->p[k] != ')' && r->p[k] != ':'; k++)
        if (r->p[k] == 'i' && c != '#')
            give_up_hard(r);
    r->i++;
    skip_group(r);
    return 0;
}

/*
 * Reads a sequence up to its ')' (consumed) or the end, collecting in best the longest run of
 * literal characters every match must contain.  Returns 0 when the sequence has alternatives
 * (then nothing in it is required).
 */
static int read_required(reader_t *r, literal_t *best)
{
    if (++r->depth > 200) {
        give_up_hard(r);
        return 0;
    }
    literal_t found = {{0}, 0}, run = {{0}, 0};
    int single = 1;
    while (r->i < r->len && !r->hard) {
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == ')') {
            r->i++;
            break;
        }
        if (c == '|') {
            single = 0;
            r->i++;
            keep_longer(&found, &run);
            run.len = 0;
            continue;
        }
        r->i++;
        char lit[4];          /* the literal character of this item (UTF-8), if any */
        size_t lit_len = 0;
        if (c == '\\') {
            int e = peek(r, 0);
            if (e >= 0 && e < 0x80 &&
                !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))) {
                lit[lit_len++] = (char)e;
                r->i++;
            } else {
                uint8_t scratch[32];
                read_escape(r, scratch, 0);
            }
        } else if (c == '[') {
            uint8_t scratch[32];
            memset(scratch, 0, sizeof(scratch));
            read_class(r, scratch);
        } else if (c == '(') {
            literal_t inner = {{0}, 0};
            int counts = read_required_group(r, &inner);
            int zero;
            quantified(r, &zero);
            if (counts && !zero)
                keep_longer(&found, &inner);
            keep_longer(&found, &run);
            run.len = 0;
            continue;
        } else if (c >= 0xC0) {
            lit[lit_len++] = (char)c;
            while (r->i < r->len && lit_len < 4 && ((unsigned char)r->p[r->i] & 0xC0) == 0x80)
                lit[lit_len++] = r->p[r->i++];
        } else if (!(c == '^' || c == '$' || c == '.' || c == '*' || c == '+' || c == '?' ||
                     c == '{' || c >= 0x80)) {
            lit[lit_len++] = (char)c;
        }
        int zero, q = quantified(r, &zero);
        if (lit_len == 0 || zero || run.len + lit_len > sizeof(run.text)) {
            keep_longer(&found, &run);
            run.len = 0;
            continue;
        }
        memcpy(run.text + run.len, lit, lit_len);
        run.len += lit_len;
        if (q) { /* repeated: the run cannot go on past it */
            keep_longer(&found, &run);
            run.len = 0;
        }
    }
    keep_longer(&found, &run);
    r->depth--;
    if (single)
        keep_longer(best, &found);
    return single;
}

size_t prefilter_required_literal(const char *pattern, size_t len, int caseless, char *out,
                                  size_t cap)
{
    if (caseless)
        return 0;
    reader_t r = {pattern, len, 0, 0, 0, 0, 0};
    literal_t best = {{0}, 0};
    int single = read_required(&r, &best);
    if (r.hard || !single || r.i < r.len || best.len < 3)
        return 0;
    size_t n = best.len < cap ? best.len : cap;
    while (n > 0 && n < best.len && ((unsigned char)best.text[n] & 0xC0) == 0x80)
        n--; /* do not cut a character */
    while (n > 0 && ((unsigned char)best.text[n - 1] & 0xC0) == 0xC0)
        n--;
    memcpy(out, best.text, n);
    return n >= 3 ? n : 0;
}
