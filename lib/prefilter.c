/*
 * prefilter.c - the pattern analyses of prefilter.h.
 *
 * A small recursive reader of PCRE2 syntax.  For a sequence of items it unions the first bytes
 * of each item until one cannot match empty; for alternatives it unions the branches.  Anything
 * it does not fully understand makes it give up (every byte possible), so the result is always
 * a superset and never changes what a pattern matches, only where matching is tried.
 * Non-ASCII characters are approximated by every UTF-8 lead byte (0xC2-0xF4).
 *
 * The same reader works out what may come before a match: the assertions met before the first
 * character (^, \b, lookbehinds) give conditions on the two bytes before it, as a short list
 * of (byte before, byte before that) set pairs; alternatives add pairs, assertions in sequence
 * intersect them, and what is not understood allows everything.
 */
#include "prefilter.h"

#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *p;
    size_t len, i;
    int caseless;
    int gave_up;                 /* every byte may start a match */
    int hard;                    /* and the reading itself may be wrong: never undone */
    int depth;
    void **frames;               /* required sets: one scratch frame per group depth, reused */
    int frame_count;
    int max_depth;               /* required sets: the deepest depth reached so far */
    memo_t *memo;                /* required sets: groups met before, or NULL */
    const uint32_t *close;       /* with memo: for each '(', the index past its ')', or 0 */
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

/* Where the body of the class whose '[' ends at p[i] starts: past a leading '^' and a ']'
 * that is a member, not the end. */
static size_t class_body(const char *p, size_t i, size_t len)
{
    if (i < len && p[i] == '^')
        i++;
    if (i < len && p[i] == ']')
        i++;
    return i;
}

/* Whether a byte means something to skip_group(); lookarounds hold most of a pattern's text
 * (whole macros), and most of it is letters and classes it only steps over. */
static int group_syntax(unsigned char c)
{
    return c == '\\' || c == '[' || c == ']' || c == '(' || c == ')';
}

/* Skips a balanced group body up to and including its ')', honouring escapes and classes. */
static void skip_group(reader_t *r)
{
    const char *p = r->p;
    size_t i = r->i, len = r->len;
    int depth = 1, in_class = 0;
    while (i < len) {
        char c = p[i++];
        if (!group_syntax((unsigned char)c)) {
            continue;
        } else if (c == '\\') {
            i++;
        } else if (in_class) {
            if (c == ']')
                in_class = 0;
        } else if (c == '[') {
            in_class = 1;
            i = class_body(p, i, len);
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && --depth == 0) {
            r->i = i;
            return;
        }
    }
    r->i = i;
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

/* After a branch of a group: 1 when a '|' starts another (consumed); else 0, with the group's
 * ')' consumed if there is one. */
static int next_branch(reader_t *r)
{
    if (r->i < r->len && r->p[r->i] == '|') {
        r->i++;
        return 1;
    }
    if (r->i < r->len && r->p[r->i] == ')')
        r->i++;
    return 0;
}

/* Whether a quantifier at r->i lets the item before it repeat zero times; consumes it. */
static int quantified(reader_t *r, int *zero)
{
    size_t before = r->i;
    *zero = read_quantifier(r);
    return r->i != before;
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
    reader_t r = {.p = pattern, .len = len, .caseless = caseless};
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

/* ---- the bytes before a match ---- */

/* A set of conditions on the two bytes before a match: it may start where, for some pair k,
 * the byte before is in b1[k] and the one before that in b2[k]. */
typedef struct lead {
    uint8_t b2[PREFILTER_PAIRS][32], b1[PREFILTER_PAIRS][32];
    int n;
} lead_t;

static void fill_all(uint8_t *bm)
{
    memset(bm, 0xFF, 32);
}

static void set_and(uint8_t *a, const uint8_t *b)
{
    for (int k = 0; k < 32; k++)
        a[k] &= b[k];
}

static void set_or(uint8_t *a, const uint8_t *b)
{
    for (int k = 0; k < 32; k++)
        a[k] |= b[k];
}

static void lead_any(lead_t *l)
{
    l->n = 1;
    fill_all(l->b2[0]);
    fill_all(l->b1[0]);
}

static void lead_one(lead_t *l, const uint8_t *b2, const uint8_t *b1)
{
    l->n = 1;
    memcpy(l->b2[0], b2, 32);
    memcpy(l->b1[0], b1, 32);
}

/* Folds every pair into one (their unions): fewer conditions, a looser test. */
static void lead_fold(lead_t *l)
{
    for (int k = 1; k < l->n; k++) {
        set_or(l->b2[0], l->b2[k]);
        set_or(l->b1[0], l->b1[k]);
    }
    if (l->n > 1)
        l->n = 1;
}

/* Whether l allows every place (one of its pairs allows any two bytes). */
static int lead_is_any(const lead_t *l)
{
    static const uint8_t all[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                    0xFF, 0xFF};
    for (int k = 0; k < l->n; k++)
        if (memcmp(l->b1[k], all, 32) == 0 && memcmp(l->b2[k], all, 32) == 0)
            return 1;
    return 0;
}

/* a = a or b */
static void lead_union(lead_t *a, const lead_t *b)
{
    if (lead_is_any(a))
        return;
    if (lead_is_any(b)) {
        lead_any(a);
        return;
    }
    lead_t fresh;   /* b without the pairs a already has */
    fresh.n = 0;
    for (int k = 0; k < b->n; k++) {
        int dup = 0;
        for (int j = 0; j < a->n && !dup; j++)
            dup = memcmp(a->b1[j], b->b1[k], 32) == 0 && memcmp(a->b2[j], b->b2[k], 32) == 0;
        if (!dup) {
            memcpy(fresh.b1[fresh.n], b->b1[k], 32);
            memcpy(fresh.b2[fresh.n], b->b2[k], 32);
            fresh.n++;
        }
    }
    b = &fresh;
    if (a->n + b->n > PREFILTER_PAIRS) {
        lead_fold(a);
        lead_t c = *b;
        lead_fold(&c);
        if (a->n == 0) {
            *a = c;
        } else if (c.n) {
            set_or(a->b2[0], c.b2[0]);
            set_or(a->b1[0], c.b1[0]);
        }
        return;
    }
    for (int k = 0; k < b->n; k++) {
        memcpy(a->b2[a->n], b->b2[k], 32);
        memcpy(a->b1[a->n], b->b1[k], 32);
        a->n++;
    }
}

/* a = a and b */
static void lead_intersect(lead_t *a, const lead_t *b)
{
    if (lead_is_any(b))
        return;
    if (lead_is_any(a)) {
        *a = *b;
        return;
    }
    lead_t x = *a, y = *b;
    if (x.n * y.n > PREFILTER_PAIRS) {
        lead_fold(&x);
        lead_fold(&y);
    }
    a->n = 0;
    for (int i = 0; i < x.n; i++)
        for (int j = 0; j < y.n; j++) {
            memcpy(a->b2[a->n], x.b2[i], 32);
            set_and(a->b2[a->n], y.b2[j]);
            memcpy(a->b1[a->n], x.b1[i], 32);
            set_and(a->b1[a->n], y.b1[j]);
            a->n++;
        }
}

/* Last bytes of the characters whose first bytes are in first: ASCII ones as they are, and
 * every continuation byte when a longer character is possible. */
static void last_bytes_of(uint8_t *out, const uint8_t *first)
{
    for (unsigned b = 0; b < 0x80; b++)
        if (prefilter_has(first, (unsigned char)b))
            add(out, b);
    for (unsigned b = 0x80; b < 0x100; b++)
        if (prefilter_has(first, (unsigned char)b)) {
            add_range(out, 0x80, 0xBF);
            break;
        }
}

/* The byte before b1 when b1 may end a longer character: its lead or continuation bytes. */
static void widen_for_multibyte(uint8_t *b2, const uint8_t *b1)
{
    for (unsigned b = 0x80; b < 0xC0; b++)
        if (prefilter_has(b1, (unsigned char)b)) {
            add_range(b2, 0x80, 0xF4);
            return;
        }
}

/*
 * The last two bytes a positive lookbehind's text can end with, from its body at r->i (after
 * "(?<="); consumes the body and its ')'.  A branch whose end is not worked out allows any.
 */
static void lookbehind_lead(reader_t *r, lead_t *out)
{
    out->n = 0;
    uint8_t last[32], before[32];
    int known = 0, known_before = 0;
    while (r->i < r->len) {
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == ')' || c == '|') {
            r->i++;
            lead_t one;
            if (!known) {
                lead_any(&one);
            } else {
                /* an ASCII last byte has the previous character's last byte before it; a
                 * continuation byte may have a byte of its own character before it */
                uint8_t b2[32], ascii[32], wide[32], wide_b2[32];
                if (known_before)
                    memcpy(b2, before, 32);
                else
                    fill_all(b2);
                memset(ascii, 0, 32);
                memset(wide, 0, 32);
                for (unsigned b = 0; b < 256; b++)
                    if (prefilter_has(last, (unsigned char)b))
                        add(b < 0x80 ? ascii : wide, b);
                memcpy(wide_b2, b2, 32);
                widen_for_multibyte(wide_b2, wide);
                one.n = 0;
                lead_t part;
                if (memcmp(ascii, (uint8_t[32]){0}, 32) != 0) {
                    lead_one(&part, b2, ascii);
                    lead_union(&one, &part);
                }
                if (memcmp(wide, (uint8_t[32]){0}, 32) != 0) {
                    lead_one(&part, wide_b2, wide);
                    lead_union(&one, &part);
                }
            }
            lead_union(out, &one);
            if (c == ')')
                return;
            known = known_before = 0;
            continue;
        }
        uint8_t first[32];
        memset(first, 0, 32);
        int saved = r->gave_up;
        r->gave_up = 0;
        int consumes = 1;
        r->i++;
        if (c == '\\') {
            consumes = read_escape(r, first, 0);
        } else if (c == '[') {
            read_class(r, first);
        } else if (c == '(') {
            skip_group(r);
            r->gave_up = 1;
        } else if (c == '.' || c == '^' || c == '$') {
            r->gave_up = 1;
        } else if (c >= 0x80) {
            /* a literal character: its last byte, exactly unless the case may vary */
            size_t k = r->i;
            while (k < r->len && ((unsigned char)r->p[k] & 0xC0) == 0x80)
                k++;
            if (k > r->i && !r->caseless)
                add(first, (unsigned char)r->p[k - 1]);
            else
                add_range(first, 0x80, 0xBF);
            r->i = k;
            consumes = 2;   /* first already holds last bytes */
        } else {
            add_char(r, first, c, c);
        }
        size_t before_q = r->i;
        int zero;
        int q = quantified(r, &zero);
        int gave = r->gave_up || zero;
        r->gave_up = saved || r->hard;
        if (!consumes)
            continue;   /* \b and the like: the last character stays the last */
        uint8_t lb[32];
        memset(lb, 0, 32);
        if (consumes == 2)
            memcpy(lb, first, 32);
        else
            last_bytes_of(lb, first);
        int repeats = q && !(r->i == before_q + 1 && r->p[before_q] == '?');
        if (gave) {
            known = known_before = 0;
            continue;
        }
        memcpy(before, last, 32);
        known_before = known && !repeats;
        if (repeats) {
            known_before = 0;   /* the byte before may be of the same item */
        }
        memcpy(last, lb, 32);
        known = 1;
    }
    lead_any(out);
}

/*
 * ASCII characters certainly in the class body at r->i (after '['), for a negative lookbehind;
 * consumes the class.  Returns 0 when the class is negated (nothing is certain then).
 */
static int class_members(reader_t *r, uint8_t *members)
{
    memset(members, 0, 32);
    if (peek(r, 0) == '^') {
        r->i = class_end(r, r->i + 1);
        return 0;
    }
    size_t end = class_end(r, r->i);
    if (end > r->len) {
        give_up_hard(r);
        return 0;
    }
    while (r->i < end - 1) {
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == '\\' && r->i + 1 < end - 1) {
            char e = r->p[r->i + 1];
            if (e == 'w') {
                add_range(members, 'a', 'z');
                add_range(members, 'A', 'Z');
                add_range(members, '0', '9');
                add(members, '_');
            } else if (e == 'd') {
                add_range(members, '0', '9');
            } else if (e == 'p' && r->i + 2 < end - 1) {
                const char *q = r->p + r->i + 2;
                if (*q == 'L' || strncmp(q, "{L}", 3) == 0) {
                    add_range(members, 'a', 'z');
                    add_range(members, 'A', 'Z');
                }
            } else if (!((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))) {
                add(members, (unsigned char)e);
            }
            r->i++;
            uint8_t scratch[32];
            int g = r->gave_up;
            read_escape(r, scratch, 1);
            r->gave_up = g;
            continue;
        }
        if (c < 0x80 && r->i + 2 < end - 1 && r->p[r->i + 1] == '-' &&
            (unsigned char)r->p[r->i + 2] < 0x80 && r->p[r->i + 2] != '\\') {
            for (unsigned v = c; v <= (unsigned char)r->p[r->i + 2]; v++)
                add(members, v);
            r->i += 3;
            continue;
        }
        if (c < 0x80)
            add(members, c);
        r->i++;
    }
    r->i = end;
    if (r->caseless)
        for (unsigned v = 'a'; v <= 'z'; v++)
            if (prefilter_has(members, (unsigned char)v) || prefilter_has(members, (unsigned char)(v - 32))) {
                add(members, v);
                add(members, v - 32);
            }
    return 1;
}

static int lead_alternatives(reader_t *r, lead_t *out, int word_b, int *pure);

/*
 * Reads one sequence up to '|' or ')' (not consumed) and works out what may come right before
 * a match of it into out; *pure is set when the sequence never consumes.
 */
static void lead_sequence(reader_t *r, lead_t *out, int word_b, int *pure)
{
    lead_t cur, done, a;
    lead_any(&cur);
    done.n = 0;
    int alive = 1, consumed = 0;
    while (r->i < r->len && !r->hard) {
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == '|' || c == ')')
            break;
        r->i++;
        if (!alive) {   /* read on to the end of the sequence */
            uint8_t scratch[32];
            if (c == '\\')
                read_escape(r, scratch, 0);
            else if (c == '[')
                read_class(r, scratch);
            else if (c == '(')
                skip_group(r);
            int z;
            quantified(r, &z);
            continue;
        }
        lead_any(&a);
        int kind = 0;   /* 0 assertion a, 1 consumes, 2 group */
        int group_pure = 0, zero = 0;
        if (c == '\\') {
            uint8_t scratch[32];
            size_t at = r->i;
            int cons = read_escape(r, scratch, 0);
            if (cons) {
                kind = 1;
            } else if (r->p[at] == 'b' && word_b) {
                uint8_t nonword[32];
                fill_all(nonword);
                for (unsigned v = 0; v < 0x80; v++)
                    if ((v >= 'a' && v <= 'z') || (v >= 'A' && v <= 'Z') || (v >= '0' && v <= '9') || v == '_')
                        nonword[v >> 3] &= (uint8_t) ~(1u << (v & 7));
                memcpy(a.b1[0], nonword, 32);
            }
        } else if (c == '^') {
            memset(a.b1[0], 0, 32);
            add(a.b1[0], '\n');
        } else if (c == '$') {
            /* zero-width, no condition */
        } else if (c == '(') {
            if (peek(r, 0) == '?' && (peek(r, 1) == '=' || peek(r, 1) == '!' || peek(r, 1) == '#')) {
                r->i += 2;
                skip_group(r);
            } else if (peek(r, 0) == '?' && peek(r, 1) == '<' && peek(r, 2) == '=') {
                r->i += 3;
                lookbehind_lead(r, &a);
            } else if (peek(r, 0) == '?' && peek(r, 1) == '<' && peek(r, 2) == '!') {
                r->i += 3;
                uint8_t members[32];
                if (peek(r, 0) == '[') {
                    r->i++;
                    if (class_members(r, members) && peek(r, 0) == ')') {
                        for (int k = 0; k < 32; k++)
                            a.b1[0][k] = (uint8_t) ~members[k];
                        r->i++;
                    } else {
                        skip_group(r);
                    }
                } else {
                    skip_group(r);
                }
            } else if (peek(r, 0) == '?' && peek(r, 1) != ':' && peek(r, 1) != '>' &&
                       peek(r, 1) != '<' && peek(r, 1) != '\'' && peek(r, 1) != 'P' && peek(r, 1) != '|') {
                /* options: (?i) for the rest of the group, (?i:...) for its body */
                size_t k = r->i + 1;
                int on = 1, caseless = r->caseless;
                while (k < r->len && strchr("ims-", r->p[k]) != NULL) {
                    if (r->p[k] == '-')
                        on = 0;
                    else if (r->p[k] == 'i')
                        caseless = on;
                    k++;
                }
                if (k >= r->len || (r->p[k] != ')' && r->p[k] != ':')) {
                    give_up_hard(r);   /* conditions, recursion, extended mode: not read */
                    break;
                }
                r->i = k + 1;
                if (r->p[k] == ')') {
                    r->caseless = caseless;
                } else {
                    int saved = r->caseless;
                    r->caseless = caseless;
                    zero = lead_alternatives(r, &a, word_b, &group_pure);
                    r->caseless = saved;
                    kind = 2;
                }
            } else {
                if (peek(r, 0) == '?') {
                    r->i++;
                    if (peek(r, 0) == '<' || peek(r, 0) == '\'' || peek(r, 0) == 'P') {
                        char close = peek(r, 0) == '\'' ? '\'' : '>';
                        while (r->i < r->len && r->p[r->i] != close)
                            r->i++;
                    }
                    r->i++;
                }
                zero = lead_alternatives(r, &a, word_b, &group_pure);
                kind = 2;
            }
        } else if (c == '[') {
            uint8_t scratch[32];
            read_class(r, scratch);
            kind = 1;
        } else {
            kind = 1;
            while (c >= 0xC0 && r->i < r->len && ((unsigned char)r->p[r->i] & 0xC0) == 0x80)
                r->i++;
        }
        int qzero = 0;
        if (quantified(r, &qzero) && qzero)
            zero = 1;
        if (kind == 0 || (kind == 2 && group_pure)) {
            if (!qzero)   /* assertions that may be skipped constrain nothing */
                lead_intersect(&cur, &a);
        } else if (kind == 1) {
            if (!zero) {
                lead_union(&done, &cur);
                alive = 0;
            }
            consumed = 1;
        } else {
            lead_t through = cur;
            lead_intersect(&through, &a);
            lead_union(&done, &through);
            consumed = 1;
            if (!zero)
                alive = 0;
        }
    }
    if (alive)
        lead_union(&done, &cur);
    *out = done;
    *pure = !consumed;
}

/* Alternatives up to ')' (consumed) or the end: the union of theirs.  Returns 1 when some
 * branch may consume nothing (then the group can be passed without consuming). */
static int lead_alternatives(reader_t *r, lead_t *out, int word_b, int *pure)
{
    if (++r->depth > 200) {
        give_up_hard(r);
        return 1;
    }
    out->n = 0;
    *pure = 1;
    int empty = 0;
    int saved_case = r->caseless;
    for (;;) {
        lead_t seq;
        int seq_pure;
        lead_sequence(r, &seq, word_b, &seq_pure);
        lead_union(out, &seq);
        *pure &= seq_pure;
        empty |= seq_pure;
        if (!next_branch(r))
            break;
    }
    r->caseless = saved_case;
    r->depth--;
    return empty;
}

int prefilter_prev_bytes(const char *pattern, size_t len, int caseless, int word_first,
                         prefilter_prev_t *prev)
{
    reader_t r = {.p = pattern, .len = len, .caseless = caseless};
    int pure;
    lead_t *l = malloc(sizeof(lead_t));
    if (l == NULL) {
        prev->count = 0;
        return 0;
    }
    lead_alternatives(&r, l, word_first, &pure);
    int useful = 0;
    if (!r.hard && r.i >= r.len && l->n > 0) {
        prev->count = l->n;
        memcpy(prev->b1, l->b1, sizeof(prev->b1[0]) * (size_t)l->n);
        memcpy(prev->b2, l->b2, sizeof(prev->b2[0]) * (size_t)l->n);
        for (int k = 0; k < l->n && !useful; k++)
            for (int j = 0; j < 32; j++)
                if (l->b1[k][j] != 0xFF || l->b2[k][j] != 0xFF)
                    useful = 1;
    }
    if (!useful)
        prev->count = 0;
    free(l);
    return useful;
}

/* ---- required sets of literals ----
 *
 * For every item the reader works out four sets of strings (each kept only while it is small):
 *   exact   the strings the item matches, when there are few ("said"; {"a", "an"} for [Aa]n?);
 *   prefix  strings one of which every match begins with ({"id", "ys", "ved"} for
 *           (?:id|ys|ved\s+a)); {""} when nothing is known;
 *   suffix  the same for the end of a match;
 *   req     the best set one of which every match contains.
 * A sequence multiplies neighbouring items: the exact strings before an item that is not exact
 * run on into its prefixes ("sa" then (?:id|ys|ved\s+a) requires {"said", "says", "saved"}),
 * and its suffixes run on into the exact items after it.  Alternatives unite their branches.
 * This is what makes the word lists usable after alttrie.c has factored them into tries.  Strings
 * are kept in ASCII lower case: the caller looks for them without regard to ASCII case, which
 * only adds places (see prefilter.h on the non-ASCII case variants of k and s).
 */

typedef struct lset {
    int n;                                 /* strings held; -1: none known */
    uint32_t key[PREFILTER_SET_MAX];       /* lset_key() of each string */
    uint8_t len[PREFILTER_SET_MAX];
    char s[PREFILTER_SET_MAX][PREFILTER_SET_LEN];
} lset_t;

/* What the reader knows about one item, group or sequence. */
typedef struct lnode {
    lset_t exact, prefix, suffix, req;
} lnode_t;

static void lset_none(lset_t *x)
{
    x->n = -1;
}

/* A hash (FNV-1a) of a string's bytes, go on from the key of what comes before them: sets are
 * united and multiplied often, and most strings looked for are not there, which comparing keys
 * and lengths settles without a memcmp.  A product's key goes on from its first part's. */
#define LSET_KEY_EMPTY 2166136261u

static uint32_t lset_key_more(uint32_t key, const char *s, size_t len)
{
    for (size_t k = 0; k < len; k++)
        key = (key ^ (unsigned char)s[k]) * 16777619u;
    return key;
}

static uint32_t lset_key(const char *s, size_t len)
{
    return lset_key_more(LSET_KEY_EMPTY, s, len);
}

/* The set {""}: nothing known, but nothing wrong with multiplying by it. */
static void lset_empty(lset_t *x)
{
    x->n = 1;
    x->len[0] = 0;
    x->key[0] = LSET_KEY_EMPTY;
}

static void lset_copy(lset_t *to, const lset_t *from)
{
    to->n = from->n;
    if (from->n <= 0)
        return;
    size_t n = (size_t)from->n;
    memcpy(to->key, from->key, n * sizeof(from->key[0]));
    memcpy(to->len, from->len, n);
    /* whole slots in one copy: cheaper than a copy per string (bytes past a string's length
     * are never read) */
    memcpy(to->s, from->s, n * PREFILTER_SET_LEN);
}

static int lset_has(const lset_t *x, const char *s, size_t len, uint32_t key)
{
    for (int k = 0; k < x->n; k++)
        if (x->key[k] == key && x->len[k] == len && memcmp(x->s[k], s, len) == 0)
            return 1;
    return 0;
}

/* Adds s (whose lset_key() is key), known not to be in x, which has room for it. */
static void lset_append(lset_t *x, const char *s, size_t len, uint32_t key)
{
    x->key[x->n] = key;
    x->len[x->n] = (uint8_t)len;
    memcpy(x->s[x->n], s, len);
    x->n++;
}

/* Adds s, known not to be in x; 0, or -1 with none known when the set would grow too large. */
static int lset_push(lset_t *x, const char *s, size_t len, uint32_t key)
{
    if (x->n >= PREFILTER_SET_MAX || len > PREFILTER_SET_LEN) {
        x->n = -1;
        return -1;
    }
    lset_append(x, s, len, key);
    return 0;
}

/* Adds s (whose lset_key() is key) to x; none known (-1) when the set would grow too large. */
static void lset_add_keyed(lset_t *x, const char *s, size_t len, uint32_t key)
{
    if (x->n >= 0 && !lset_has(x, s, len, key))
        lset_push(x, s, len, key);
}

static void lset_add(lset_t *x, const char *s, size_t len)
{
    lset_add_keyed(x, s, len, lset_key(s, len));
}

/* A hash index of a set's strings for the big unions and products (a word list's tries), which
 * a search of the whole set per string added would make quadratic. */
#define LINDEX_SLOTS 1024                  /* a power of two, four times PREFILTER_SET_MAX */
#define LINDEX_MIN_PAIRS 128               /* smaller unions and products search the set */

typedef struct lindex {
    uint16_t slot[LINDEX_SLOTS];           /* position in the set + 1; 0: free */
} lindex_t;

/* The slot holding s in x, or the free slot where it would go. */
static uint16_t *lindex_find(lindex_t *ix, const lset_t *x, const char *s, size_t len,
                             uint32_t key)
{
    size_t h = (key * 2654435761u) >> 22;
    for (;; h = (h + 1) & (LINDEX_SLOTS - 1)) {
        uint16_t at = ix->slot[h];
        if (at == 0 || (x->key[at - 1] == key && x->len[at - 1] == len &&
                        memcmp(x->s[at - 1], s, len) == 0))
            return &ix->slot[h];
    }
}

static void lindex_build(lindex_t *ix, const lset_t *x)
{
    memset(ix->slot, 0, sizeof(ix->slot));
    for (int k = 0; k < x->n; k++)
        *lindex_find(ix, x, x->s[k], x->len[k], x->key[k]) = (uint16_t)(k + 1);
}

/* lset_add_keyed() through x's index, which it keeps up to date. */
static void lset_add_indexed(lset_t *x, lindex_t *ix, const char *s, size_t len, uint32_t key)
{
    if (x->n < 0)
        return;
    uint16_t *slot = lindex_find(ix, x, s, len, key);
    if (*slot == 0 && lset_push(x, s, len, key) == 0)
        *slot = (uint16_t)x->n;
}

static void lset_unite(lset_t *x, const lset_t *y)
{
    if (y->n < 0)
        x->n = -1;
    if (x->n > 0 && y->n > 0 && x->n * y->n >= LINDEX_MIN_PAIRS) {
        lindex_t ix;
        lindex_build(&ix, x);
        for (int k = 0; k < y->n && x->n >= 0; k++)
            lset_add_indexed(x, &ix, y->s[k], y->len[k], y->key[k]);
        return;
    }
    for (int k = 0; k < y->n && x->n >= 0; k++)
        lset_add_keyed(x, y->s[k], y->len[k], y->key[k]);
}

/* out := x followed by y (every pair); none known when a string or the set grows too large. */
static void lset_times(lset_t *out, const lset_t *x, const lset_t *y)
{
    out->n = 0;
    if (x->n < 0 || y->n < 0 || x->n * y->n > PREFILTER_SET_MAX) {
        out->n = -1;
        return;
    }
    /* with one string on either side the products differ as the strings of the other side
     * do: nothing to look for (a word's characters, one after the other) */
    int distinct = x->n == 1 || y->n == 1;
    lindex_t ix;
    int indexed = !distinct && x->n * y->n >= LINDEX_MIN_PAIRS;
    if (indexed)
        lindex_build(&ix, out);
    for (int a = 0; a < x->n && out->n >= 0; a++)
        for (int b = 0; b < y->n && out->n >= 0; b++) {
            size_t len = (size_t)x->len[a] + y->len[b];
            if (len > PREFILTER_SET_LEN) {
                out->n = -1;
                return;
            }
            char buf[PREFILTER_SET_LEN];
            memcpy(buf, x->s[a], x->len[a]);
            memcpy(buf + x->len[a], y->s[b], y->len[b]);
            uint32_t key = lset_key_more(x->key[a], y->s[b], y->len[b]);
            if (distinct)
                lset_append(out, buf, len, key);
            else if (indexed)
                lset_add_indexed(out, &ix, buf, len, key);
            else
                lset_add_keyed(out, buf, len, key);
        }
}

static size_t lset_min_len(const lset_t *x)
{
    size_t m = PREFILTER_SET_LEN + 1;
    for (int k = 0; k < x->n; k++)
        if (x->len[k] < m)
            m = x->len[k];
    return m;
}

/* Whether cand is a usable requirement (strings of 3 bytes or more) better than best: longer
 * shortest string (up to 6 bytes, beyond which all are rare), then fewer strings. */
static int lset_better(const lset_t *cand, const lset_t *best)
{
    if (cand->n <= 0 || lset_min_len(cand) < 3)
        return 0;
    if (best->n <= 0)
        return 1;
    size_t mc = lset_min_len(cand), mb = lset_min_len(best);
    mc = mc > 6 ? 6 : mc;
    mb = mb > 6 ? 6 : mb;
    return mc != mb ? mc > mb : cand->n < best->n;
}

static void lset_keep_better(lset_t *best, const lset_t *cand)
{
    if (lset_better(cand, best))
        lset_copy(best, cand);
}

/* A node that matches the empty string only (a lookaround, \b, ^). */
static void lnode_empty(lnode_t *x)
{
    lset_empty(&x->exact);
    lset_empty(&x->prefix);
    lset_empty(&x->suffix);
    lset_none(&x->req);
}

/* A node about which nothing is known (\s, a class, .). */
static void lnode_unknown(lnode_t *x)
{
    lset_none(&x->exact);
    lset_empty(&x->prefix);
    lset_empty(&x->suffix);
    lset_none(&x->req);
}

/* A node matching exactly the strings of x->exact. */
static void lnode_exact(lnode_t *x)
{
    lset_copy(&x->prefix, &x->exact);
    lset_copy(&x->suffix, &x->exact);
    lset_none(&x->req);
    lset_keep_better(&x->req, &x->exact);
}

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* The exact set of a character class: one byte, or one letter in either case. */
static void class_exact(const uint8_t bm[32], lset_t *exact)
{
    int found = -1;
    for (unsigned b = 0; b < 256; b++) {
        if (!prefilter_has(bm, (unsigned char)b))
            continue;
        unsigned char f = fold((unsigned char)b);
        if (b >= 0x80 || b < 0x20 || (found >= 0 && f != found)) {
            exact->n = -1;
            return;
        }
        found = f;
    }
    exact->n = 0;
    if (found >= 0) {
        char c = (char)found;
        lset_add(exact, &c, 1);
    } else {
        exact->n = -1;
    }
}

static void read_set_alternatives(reader_t *r, lnode_t *out);

/* A group after '('; a lookaround or comment matches "" as far as its neighbours go. */
static void read_set_group(reader_t *r, lnode_t *out)
{
    lnode_empty(out);
    if (peek(r, 0) == '*') {
        give_up_hard(r);
        return;
    }
    if (peek(r, 0) != '?') {
        read_set_alternatives(r, out);
        return;
    }
    int c = peek(r, 1);
    if (c == ':' || c == '>' || c == '|') {
        r->i += 2;
        read_set_alternatives(r, out);
        return;
    }
    if (c == '#' || c == '=' || c == '!' || (c == '<' && (peek(r, 2) == '=' || peek(r, 2) == '!'))) {
        r->i++;
        skip_group(r);
        return;
    }
    if (c == '(') {
        /* a condition: either branch may be taken, so nothing is known of what it matches,
         * but the items around it still count */
        r->i++;
        skip_group(r);
        lnode_unknown(out);
        return;
    }
    if (c == '<' || c == '\'' || (c == 'P' && peek(r, 2) == '<')) {
        char close = c == '\'' ? '\'' : '>';
        while (r->i < r->len && r->p[r->i] != close)
            r->i++;
        r->i++;
        read_set_alternatives(r, out);
        return;
    }
    /* inline options: only i, m and s are understood (case does not matter here) */
    r->i++;
    while (r->i < r->len && r->p[r->i] != ')' && r->p[r->i] != ':') {
        char o = r->p[r->i++];
        if (!(o == 'i' || o == 'm' || o == 's' || o == '-')) {
            give_up_hard(r);
            return;
        }
    }
    if (r->i >= r->len) {
        give_up_hard(r);
        return;
    }
    if (r->p[r->i++] == ':')
        read_set_alternatives(r, out);
}

/*
 * The memo of prefilter.h.  What read_set_group() makes of a group is a function of the group's
 * text, of whether the reader had given up on first bytes before it (read_set_item() then takes
 * no class as a literal), and of the depth (past 200 it gives up): every macro used in many
 * rules comes back as the same group text.  The memo (memo.h) keeps, for the text from after the
 * '(' through the ')' and the give-up flag before it, the give-up flag after it, the depth it
 * went down and the node packed (lset counts, then each string's length and bytes).
 */
/* Groups shorter than this are read again: the memo would cost what they do. */
#define SET_MEMO_MIN 48

static size_t lset_packed_size(const lset_t *x)
{
    size_t n = sizeof(int32_t);
    for (int k = 0; k < x->n; k++)
        n += 1 + x->len[k];
    return n;
}

static uint8_t *lset_pack(uint8_t *at, const lset_t *x)
{
    int32_t n = x->n;
    memcpy(at, &n, sizeof(n));
    at += sizeof(n);
    for (int k = 0; k < x->n; k++) {
        *at++ = x->len[k];
        memcpy(at, x->s[k], x->len[k]);
        at += x->len[k];
    }
    return at;
}

static const uint8_t *lset_unpack(const uint8_t *at, lset_t *x)
{
    int32_t n;
    memcpy(&n, at, sizeof(n));
    at += sizeof(n);
    x->n = n;
    for (int k = 0; k < n; k++) {
        x->len[k] = *at++;
        memcpy(x->s[k], at, x->len[k]);
        x->key[k] = lset_key(x->s[k], x->len[k]);
        at += x->len[k];
    }
    return at;
}

/* What a memo entry starts with, before the packed node. */
typedef struct set_memo_head {
    int32_t gave_up_out;
    int32_t depth;               /* the levels of groups it went down */
} set_memo_head_t;

/* Remembers what the group source[0..len) made; nothing when memory runs out. */
static void set_memo_put(memo_t *memo, const char *source, size_t len, int gave_up_in,
                         int gave_up_out, int depth, const lnode_t *node)
{
    const lset_t *sets[4] = {&node->exact, &node->prefix, &node->suffix, &node->req};
    size_t size = sizeof(set_memo_head_t);
    for (int k = 0; k < 4; k++)
        size += lset_packed_size(sets[k]);
    uint8_t *packed = malloc(size);
    if (packed == NULL)
        return;
    set_memo_head_t head = {gave_up_out, depth};
    memcpy(packed, &head, sizeof(head));
    uint8_t *at = packed + sizeof(head);
    for (int k = 0; k < 4; k++)
        at = lset_pack(at, sets[k]);
    memo_put(memo, source, len, gave_up_in, packed, size);
    free(packed);
}

/* The group at r->i (after its '('), from the memo when it was met before, else read and
 * remembered.  Only groups whose reading ends at their ')' (as r->close says) and before the
 * end of the pattern are remembered: their reading looked at nothing after them. */
static void read_set_group_memo(reader_t *r, lnode_t *out)
{
    size_t at = r->i, end = r->memo && at > 0 ? r->close[at - 1] : 0;
    if (end == 0 || end >= r->len || end - at < SET_MEMO_MIN) {
        read_set_group(r, out);
        return;
    }
    const char *source = r->p + at;
    size_t len = end - at;
    int gave_up_in = r->gave_up, depth_in = r->depth;
    size_t size = 0;
    const uint8_t *known = memo_get(r->memo, source, len, gave_up_in, &size);
    set_memo_head_t head;
    if (known != NULL)
        memcpy(&head, known, sizeof(head));
    if (known != NULL && depth_in + head.depth <= 200) {
        const uint8_t *p = known + sizeof(head);
        p = lset_unpack(p, &out->exact);
        p = lset_unpack(p, &out->prefix);
        p = lset_unpack(p, &out->suffix);
        lset_unpack(p, &out->req);
        r->i = end;
        r->gave_up = head.gave_up_out;
        if (depth_in + head.depth > r->max_depth)
            r->max_depth = depth_in + head.depth;
        return;
    }
    int max_before = r->max_depth;
    r->max_depth = depth_in;
    read_set_group(r, out);
    int depth = r->max_depth - depth_in;
    if (max_before > r->max_depth)
        r->max_depth = max_before;
    if (!r->hard && r->i == end)
        set_memo_put(r->memo, source, len, gave_up_in, r->gave_up, depth, out);
}

/* One item at r->i, c already consumed. */
static void read_set_item(reader_t *r, unsigned char c, lnode_t *out)
{
    uint8_t bm[32];
    memset(bm, 0, sizeof(bm));
    lnode_unknown(out);
    if (c == '(') {
        read_set_group_memo(r, out);
        return;
    }
    lset_t *exact = &out->exact;
    if (c == '\\') {
        size_t at = r->i;
        int e = peek(r, 0);
        int consumes = read_escape(r, bm, 0);
        if (!consumes) {
            lnode_empty(out);            /* \b \B \A \z \Z \G \K, empty \Q\E */
            return;
        }
        if (e == 'Q' || r->i != at + 1 || e < 0 || e >= 0x80 ||
            (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
            return;   /* classes, code points, quoted text: not taken as literals */
        exact->n = 0;
        char ch = (char)e;
        lset_add(exact, &ch, 1);
    } else if (c == '[') {
        int saved = r->gave_up;
        read_class(r, bm);
        if (!r->gave_up)
            class_exact(bm, exact);
        r->gave_up = saved;
    } else if (c == '^' || c == '$') {
        lnode_empty(out);
        return;
    } else if (c == '.' || c < 0x20 || c == 0x7F) {
        return;   /* any character, or a type byte / control character: no literal */
    } else if (c >= 0x80) {
        char buf[4];
        size_t n = 0;
        buf[n++] = (char)c;
        while (r->i < r->len && n < 4 && ((unsigned char)r->p[r->i] & 0xC0) == 0x80)
            buf[n++] = r->p[r->i++];
        exact->n = 0;
        lset_add(exact, buf, n);
    } else {
        exact->n = 0;
        char ch = (char)fold(c);
        lset_add(exact, &ch, 1);
    }
    if (exact->n >= 0)
        lnode_exact(out);
}

/* What a quantifier read after an item does to it. */
static void quantify(lnode_t *x, int zero, int optional_once)
{
    if (!zero) {                     /* x+ x{2,}: x's words are still required */
        lset_keep_better(&x->req, &x->exact);
        lset_none(&x->exact);
        return;
    }
    lset_none(&x->req);
    if (optional_once && x->exact.n >= 0) {   /* x?: x or nothing */
        lset_add(&x->exact, "", 0);
        lnode_exact(x);
        return;
    }
    lset_none(&x->exact);
    lset_empty(&x->prefix);
    lset_empty(&x->suffix);
}

/* Reads a sequence of items up to '|', ')' (not consumed) or the end into out. */
static void read_set_sequence(reader_t *r, lnode_t *out, lnode_t *item, lset_t *cur, lset_t *tmp)
{
    lset_empty(cur);                 /* the exact strings since the last inexact item */
    lset_none(&out->req);
    int whole_exact = 1, at_start = 1;
    lset_empty(&out->prefix);
    while (r->i < r->len && !r->hard) {
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == ')' || c == '|')
            break;
        r->i++;
        read_set_item(r, c, item);
        size_t before = r->i;
        int zero = read_quantifier(r);
        if (r->i != before)
            quantify(item, zero, zero && r->i == before + 1 && r->p[before] == '?');
        lset_keep_better(&out->req, &item->req);
        if (item->exact.n >= 0) {
            lset_times(tmp, cur, &item->exact);
            if (tmp->n >= 0) {
                lset_t *product = tmp;   /* the product becomes cur: swap, not copy */
                tmp = cur;
                cur = product;
                continue;
            }
            /* too many strings: keep what is known so far and start again from this item */
            lset_keep_better(&out->req, cur);
            if (at_start)
                lset_copy(&out->prefix, cur);
            whole_exact = at_start = 0;
            lset_copy(cur, &item->exact);
            continue;
        }
        /* an inexact item: the run so far goes on into its prefixes, and its suffixes start
         * the next run */
        lset_times(tmp, cur, &item->prefix);
        lset_keep_better(&out->req, tmp);
        if (at_start)
            lset_copy(&out->prefix, tmp->n >= 0 ? tmp : cur);
        whole_exact = at_start = 0;
        lset_copy(cur, &item->suffix);
        if (cur->n < 0)
            lset_empty(cur);
    }
    lset_keep_better(&out->req, cur);
    lset_copy(&out->suffix, cur);
    if (whole_exact) {
        lset_copy(&out->exact, cur);
        lset_copy(&out->prefix, cur);
    } else {
        lset_none(&out->exact);
    }
    if (out->prefix.n < 0)
        lset_empty(&out->prefix);
}

/* The scratch sets of one group depth: made once per depth and reused by every group there. */
typedef struct set_frame {
    lnode_t branch[2];
    lset_t tmp[2];
} set_frame_t;

static set_frame_t *set_frame(reader_t *r, int depth)
{
    if (depth >= r->frame_count) {
        void **grown = realloc(r->frames, (size_t)(depth + 1) * sizeof(void *));
        if (grown == NULL)
            return NULL;
        r->frames = grown;
        while (r->frame_count <= depth)
            r->frames[r->frame_count++] = NULL;
    }
    if (r->frames[depth] == NULL)
        r->frames[depth] = malloc(sizeof(set_frame_t));
    return r->frames[depth];
}

/* Reads alternatives up to the closing ')' (consumed) or the end into out. */
static void read_set_alternatives(reader_t *r, lnode_t *out)
{
    set_frame_t *frame = r->depth < 200 ? set_frame(r, r->depth) : NULL;
    if (frame == NULL) {
        give_up_hard(r);
        return;
    }
    r->depth++;
    if (r->depth > r->max_depth)
        r->max_depth = r->depth;
    lnode_t *branch = frame->branch;
    lset_t *tmp = frame->tmp;
    int first = 1;
    for (;;) {
        /* the first branch is read into out itself, the others beside it */
        lnode_t *into = first ? out : branch;
        read_set_sequence(r, into, branch + 1, tmp, tmp + 1);
        /* a branch requires whichever of its sets is best */
        lset_keep_better(&into->req, &into->prefix);
        lset_keep_better(&into->req, &into->suffix);
        if (first) {
            first = 0;
        } else {
            lset_unite(&out->exact, &branch->exact);
            lset_unite(&out->prefix, &branch->prefix);
            lset_unite(&out->suffix, &branch->suffix);
            if (out->prefix.n < 0)
                lset_empty(&out->prefix);
            if (out->suffix.n < 0)
                lset_empty(&out->suffix);
            if (branch->req.n <= 0)
                lset_none(&out->req);
            else
                lset_unite(&out->req, &branch->req);
        }
        if (!next_branch(r))
            break;
    }
    if (out->req.n > 0 && lset_min_len(&out->req) < 3)
        lset_none(&out->req);
    r->depth--;
}

uint32_t *prefilter_group_ends(const char *p, size_t len)
{
    uint32_t *close = calloc(len ? len : 1, sizeof(uint32_t));
    uint32_t *open = malloc((len ? len : 1) * sizeof(uint32_t));
    if (close == NULL || open == NULL || len >= UINT32_MAX) {
        free(close);
        free(open);
        return NULL;
    }
    size_t depth = 0, i = 0;
    int in_class = 0;
    while (i < len) {
        char c = p[i++];
        if (c == '\\') {
            i++;
        } else if (in_class) {
            if (c == ']')
                in_class = 0;
        } else if (c == '[') {
            in_class = 1;
            i = class_body(p, i, len);
        } else if (c == '(') {
            open[depth++] = (uint32_t)(i - 1);
        } else if (c == ')' && depth > 0) {
            close[open[--depth]] = (uint32_t)i;
        }
    }
    free(open);
    return close;
}

int prefilter_required_set(const char *pattern, size_t len, prefilter_set_t *set)
{
    return prefilter_required_set_with(NULL, pattern, len, NULL, set);
}

int prefilter_required_set_with(memo_t *memo, const char *pattern, size_t len,
                                const uint32_t *ends, prefilter_set_t *set)
{
    reader_t r = {.p = pattern, .len = len};
    uint32_t *own = memo && !ends ? prefilter_group_ends(pattern, len) : NULL;
    if (memo && (ends || own)) {
        r.memo = memo;
        r.close = ends ? ends : own;
    }
    lnode_t *top = malloc(sizeof(*top));
    set->count = 0;
    if (top == NULL) {
        free(own);
        return 0;
    }
    read_set_alternatives(&r, top);
    for (int k = 0; k < r.frame_count; k++)
        free(r.frames[k]);
    free(r.frames);
    free(own);
    lset_t *req = &top->req;
    lset_keep_better(req, &top->exact);
    lset_keep_better(req, &top->prefix);
    lset_keep_better(req, &top->suffix);
    if (!r.hard && r.i >= r.len && req->n > 0 && lset_min_len(req) >= 3) {
        set->count = (size_t)req->n;
        for (int k = 0; k < req->n; k++) {
            set->len[k] = req->len[k];
            memcpy(set->text[k], req->s[k], req->len[k]);
        }
    }
    free(top);
    return set->count > 0;
}

/* ---- what a match can consume ---- */

int prefilter_may_cross_lines(const char *pattern, size_t len)
{
    reader_t r = {.p = pattern, .len = len};
    uint8_t bm[32];
    memset(bm, 0, sizeof(bm));
    while (r.i < r.len && !r.hard) {
        unsigned char c = (unsigned char)r.p[r.i++];
        int e = peek(&r, 0);
        if (c == '\\' && (e == 'S' || e == 'N' || e == 'V')) {
            r.i++;                 /* never a line feed */
        } else if (c == '\\' && e == 'p') {
            /* a property: letters, marks, numbers, punctuation, symbols, separators (Z is
             * only U+2028/9 and spaces) never include the line feed, which is Cc */
            r.i++;
            int name = peek(&r, 0) == '{' ? peek(&r, 1) : peek(&r, 0);
            if (!(name == 'L' || name == 'M' || name == 'N' || name == 'P' || name == 'S' ||
                  name == 'Z'))
                return 1;
            uint8_t scratch[32];
            memset(scratch, 0, sizeof(scratch));
            read_property(&r, scratch, 0);
        } else if (c == '\\') {
            read_escape(&r, bm, 0);
        } else if (c == '[' && e == '^') {
            /* a negated class takes a line feed unless its body names one (\n, \s, \v) */
            r.i++;
            uint8_t body[32];
            memset(body, 0, sizeof(body));
            int saved = r.gave_up;
            read_class(&r, body);
            r.gave_up = saved;
            if (!prefilter_has(body, '\n'))
                return 1;
        } else if (c == '[') {
            read_class(&r, bm);
        } else if (c == '(' && peek(&r, 0) == '?') {
            int k = peek(&r, 1);
            if (k == '=' || k == '!' || k == '#' ||
                (k == '<' && (peek(&r, 2) == '=' || peek(&r, 2) == '!'))) {
                r.i++;
                skip_group(&r);   /* lookarounds consume nothing */
            } else if (k == 's' || k == 'x' || k == '(' || k == 'R' || (k >= '0' && k <= '9') ||
                       k == '&' || k == 'P' || k == '+' || k == '-') {
                return 1;          /* dot-all, recursion, conditions: not followed */
            }
        } else if (c == '\n') {
            return 1;
        }
        /* '.' never matches a newline without (?s); a plain character is itself */
    }
    return r.hard || r.gave_up || prefilter_has(bm, '\n');
}
