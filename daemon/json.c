/*
 * json.c - JSON output of results and a strict JSON Lines reader for input documents.
 *
 * Both sides sit on the hot path of `nerd extract --jsonl`, so they work on byte runs: the writer
 * copies runs of characters that need no escaping in one go, the reader decodes strings straight
 * into reused buffers and never builds a tree.
 */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "uchar.h"

/* ---- writing ------------------------------------------------------------------------------ */

/* 1 for bytes that can be copied into a JSON string as they are. */
static int json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

int json_put_string(buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    /* Worst case: 6 bytes per input byte, plus quotes. */
    if (buf_reserve(out, len + 2) != 0 || buf_putc(out, '"') != 0)
        return -1;
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && json_plain(p[run]))
            run++;
        if (run > i && buf_append(out, p + i, run - i) != 0)
            return -1;
        i = run;
        if (i == len)
            break;
        unsigned char c = p[i];
        char esc[8];
        size_t n;
        if (c >= 0x80) {
            uint32_t cp;
            n = uchar_decode(p + i, len - i, &cp);
            if (n > 0) {
                if (buf_append(out, p + i, n) != 0)
                    return -1;
                i += n;
                continue;
            }
            if (buf_append(out, "\\ufffd", 6) != 0)
                return -1;
            i++;
            continue;
        }
        switch (c) {
        case '"': memcpy(esc, "\\\"", 2); n = 2; break;
        case '\\': memcpy(esc, "\\\\", 2); n = 2; break;
        case '\b': memcpy(esc, "\\b", 2); n = 2; break;
        case '\f': memcpy(esc, "\\f", 2); n = 2; break;
        case '\n': memcpy(esc, "\\n", 2); n = 2; break;
        case '\r': memcpy(esc, "\\r", 2); n = 2; break;
        case '\t': memcpy(esc, "\\t", 2); n = 2; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
            break;
        }
        if (buf_append(out, esc, n) != 0)
            return -1;
        i++;
    }
    return buf_putc(out, '"');
}

int json_put_cstr(buf_t *out, const char *s)
{
    return s != NULL ? json_put_string(out, s, strlen(s)) : buf_append(out, "\"\"", 2);
}

int json_put_uint(buf_t *out, uint64_t value)
{
    char digits[24];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    return buf_append(out, digits + n, sizeof digits - n);
}

/* Appends ,"key": (or "key": when first) */
static int json_key(buf_t *out, const char *key, int first)
{
    if (!first && buf_putc(out, ',') != 0)
        return -1;
    if (json_put_cstr(out, key) != 0)
        return -1;
    return buf_putc(out, ':');
}

static int json_span(buf_t *out, uint32_t start, uint32_t end, const char *text)
{
    int rc = 0;
    rc |= json_key(out, "start", 1);
    rc |= json_put_uint(out, start);
    rc |= json_key(out, "end", 0);
    rc |= json_put_uint(out, end);
    rc |= json_key(out, "text", 0);
    rc |= json_put_cstr(out, text);
    return rc;
}

static int json_entity(buf_t *out, const nerd_entity_t *e)
{
    int rc = 0;
    rc |= buf_putc(out, '{');
    rc |= json_key(out, "type", 1);
    rc |= json_put_cstr(out, e->type);
    rc |= buf_putc(out, ',');
    rc |= json_span(out, e->start, e->end, e->text);
    rc |= json_key(out, "canonical", 0);
    rc |= json_put_cstr(out, e->canonical);
    rc |= json_key(out, "rule", 0);
    rc |= json_put_cstr(out, e->rule);
    rc |= buf_putc(out, '}');
    return rc;
}

static int json_arg(buf_t *out, const nerd_arg_t *a, int first)
{
    int rc = 0;
    rc |= json_key(out, a->role, first);
    rc |= buf_putc(out, '{');
    if (a->has_span)
        rc |= json_span(out, a->start, a->end, a->text);
    if (a->canonical != NULL) {
        rc |= json_key(out, "canonical", !a->has_span);
        rc |= json_put_cstr(out, a->canonical);
    }
    rc |= buf_putc(out, '}');
    return rc;
}

static int json_relation(buf_t *out, const nerd_relation_t *r)
{
    int rc = 0;
    rc |= buf_putc(out, '{');
    rc |= json_key(out, "type", 1);
    rc |= json_put_cstr(out, r->type);
    rc |= json_key(out, "args", 0);
    rc |= buf_putc(out, '{');
    for (size_t i = 0; i < r->arg_count; i++)
        rc |= json_arg(out, &r->args[i], i == 0);
    rc |= buf_putc(out, '}');
    if (r->attr_count > 0) {
        rc |= json_key(out, "attrs", 0);
        rc |= buf_putc(out, '{');
        for (size_t i = 0; i < r->attr_count; i++) {
            rc |= json_key(out, r->attrs[i].key, i == 0);
            rc |= json_put_cstr(out, r->attrs[i].value);
        }
        rc |= buf_putc(out, '}');
    }
    rc |= json_key(out, "rule", 0);
    rc |= json_put_cstr(out, r->rule);
    rc |= buf_putc(out, '}');
    return rc;
}

int json_begin_doc(buf_t *out, const char *id, size_t id_len)
{
    if (buf_append(out, "{\"id\":", 6) != 0)
        return -1;
    return json_put_string(out, id != NULL ? id : "", id != NULL ? id_len : 0);
}

int json_add_result(buf_t *out, const nerd_result_t *result)
{
    int rc = 0;
    rc |= json_key(out, "entities", 0);
    rc |= buf_putc(out, '[');
    for (size_t i = 0; i < result->entity_count; i++) {
        if (i > 0)
            rc |= buf_putc(out, ',');
        rc |= json_entity(out, &result->entities[i]);
    }
    rc |= buf_putc(out, ']');
    rc |= json_key(out, "relations", 0);
    rc |= buf_putc(out, '[');
    for (size_t i = 0; i < result->relation_count; i++) {
        if (i > 0)
            rc |= buf_putc(out, ',');
        rc |= json_relation(out, &result->relations[i]);
    }
    rc |= buf_putc(out, ']');
    return rc != 0 ? -1 : 0;
}

int json_add_string(buf_t *out, const char *key, const char *value)
{
    if (json_key(out, key, 0) != 0)
        return -1;
    return json_put_cstr(out, value);
}

int json_add_uint(buf_t *out, const char *key, uint64_t value)
{
    if (json_key(out, key, 0) != 0)
        return -1;
    return json_put_uint(out, value);
}

int json_end_doc(buf_t *out)
{
    return buf_append(out, "}\n", 2);
}

int json_write_error(buf_t *out, const char *id, size_t id_len, const char *message,
                     const char *code)
{
    int rc = 0;
    rc |= json_begin_doc(out, id, id_len);
    rc |= json_add_string(out, "error", message);
    rc |= json_add_string(out, "error_code", code);
    rc |= json_end_doc(out);
    return rc != 0 ? -1 : 0;
}

/* ---- reading one line --------------------------------------------------------------------- */

#define JSON_MAX_DEPTH 512

typedef struct json_parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    char *err;
    size_t errlen;
    int oom;
} json_parser_t;

__attribute__((format(printf, 2, 3)))
static int json_fail(json_parser_t *p, const char *fmt, ...)
{
    if (p->err != NULL && p->errlen > 0) {
        int n = snprintf(p->err, p->errlen, "column %zu: ", p->pos + 1);
        if (n >= 0 && (size_t)n < p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static void json_ws(json_parser_t *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            break;
        p->pos++;
    }
}

static int json_hex4(json_parser_t *p, uint32_t *value)
{
    uint32_t v = 0;
    if (p->len - p->pos < 4)
        return json_fail(p, "\\u needs four hex digits");
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[p->pos + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return json_fail(p, "\\u needs four hex digits");
    }
    p->pos += 4;
    *value = v;
    return 0;
}

/* Reads the \uXXXX escape (pos is after the 'u'), joining surrogate pairs. */
static int json_unicode_escape(json_parser_t *p, uint32_t *cp)
{
    uint32_t hi;
    size_t at = p->pos - 2;
    if (json_hex4(p, &hi) != 0)
        return -1;
    if (hi >= 0xdc00 && hi <= 0xdfff) {
        p->pos = at;
        return json_fail(p, "lone low surrogate \\u%04X", (unsigned)hi);
    }
    if (hi < 0xd800 || hi > 0xdbff) {
        *cp = hi;
        return 0;
    }
    uint32_t lo;
    if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
        p->pos = at;
        return json_fail(p, "high surrogate \\u%04X without a low surrogate after it",
                         (unsigned)hi);
    }
    p->pos += 2;
    if (json_hex4(p, &lo) != 0)
        return -1;
    if (lo < 0xdc00 || lo > 0xdfff) {
        p->pos = at;
        return json_fail(p, "high surrogate \\u%04X followed by \\u%04X, not a low surrogate",
                         (unsigned)hi, (unsigned)lo);
    }
    *cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    return 0;
}

/* Parses a string (pos at the opening quote); decodes it into out unless out is NULL. */
static int json_string(json_parser_t *p, buf_t *out)
{
    p->pos++;
    if (out != NULL)
        buf_clear(out);
    for (;;) {
        size_t run = p->pos;
        while (run < p->len && p->s[run] != '"' && p->s[run] != '\\' && p->s[run] >= 0x20)
            run++;
        if (out != NULL && run > p->pos && buf_append(out, p->s + p->pos, run - p->pos) != 0) {
            p->oom = 1;
            return -1;
        }
        p->pos = run;
        if (p->pos == p->len)
            return json_fail(p, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return 0;
        }
        if (c < 0x20)
            return json_fail(p, "control character 0x%02x inside a string (must be escaped)", c);
        /* A backslash. */
        if (p->pos + 1 >= p->len)
            return json_fail(p, "unterminated escape");
        char e = (char)p->s[p->pos + 1];
        char ch[4];
        size_t n = 1;
        p->pos += 2;
        switch (e) {
        case '"': ch[0] = '"'; break;
        case '\\': ch[0] = '\\'; break;
        case '/': ch[0] = '/'; break;
        case 'b': ch[0] = '\b'; break;
        case 'f': ch[0] = '\f'; break;
        case 'n': ch[0] = '\n'; break;
        case 'r': ch[0] = '\r'; break;
        case 't': ch[0] = '\t'; break;
        case 'u': {
            uint32_t cp = 0;
            if (json_unicode_escape(p, &cp) != 0)
                return -1;
            n = uchar_encode(cp, ch);
            break;
        }
        default:
            p->pos -= 2;
            return json_fail(p, "invalid escape \\%c", e >= 0x20 && e < 0x7f ? e : '?');
        }
        if (out != NULL && buf_append(out, ch, n) != 0) {
            p->oom = 1;
            return -1;
        }
    }
}

static size_t json_digits(json_parser_t *p)
{
    size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    return p->pos - start;
}

/* Parses a number per RFC 8259; its literal text is s[start..pos). */
static int json_number(json_parser_t *p)
{
    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '0')
        p->pos++;
    else if (json_digits(p) == 0)
        return json_fail(p, "invalid number");
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (json_digits(p) == 0)
            return json_fail(p, "invalid number: digits expected after '.'");
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (json_digits(p) == 0)
            return json_fail(p, "invalid number: digits expected in the exponent");
    }
    return 0;
}

static int json_literal(json_parser_t *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return json_fail(p, "unexpected character '%c'",
                         p->s[p->pos] >= 0x20 && p->s[p->pos] < 0x7f ? p->s[p->pos] : '?');
    p->pos += n;
    return 0;
}

static int json_value(json_parser_t *p, int depth);

/* Parses an array or object (pos at the bracket), skipping what is inside. */
static int json_container(json_parser_t *p, int depth)
{
    unsigned char close = p->s[p->pos] == '[' ? ']' : '}';
    int object = close == '}';
    if (depth >= JSON_MAX_DEPTH)
        return json_fail(p, "nested deeper than %d levels", JSON_MAX_DEPTH);
    p->pos++;
    json_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        json_ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return json_fail(p, "expected a string key");
            if (json_string(p, NULL) != 0)
                return -1;
            json_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return json_fail(p, "expected ':' after an object key");
            p->pos++;
        }
        if (json_value(p, depth + 1) != 0)
            return -1;
        json_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return 0;
        }
        return json_fail(p, "expected ',' or '%c'", close);
    }
}

static int json_value(json_parser_t *p, int depth)
{
    json_ws(p);
    if (p->pos >= p->len)
        return json_fail(p, "unexpected end of line, a value was expected");
    switch (p->s[p->pos]) {
    case '{':
    case '[':
        return json_container(p, depth);
    case '"':
        return json_string(p, NULL);
    case 't':
        return json_literal(p, "true");
    case 'f':
        return json_literal(p, "false");
    case 'n':
        return json_literal(p, "null");
    default:
        if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
            return json_number(p);
        return json_fail(p, "unexpected character '%c'",
                         p->s[p->pos] >= 0x20 && p->s[p->pos] < 0x7f ? p->s[p->pos] : '?');
    }
}

/* Key names we keep. */
enum { JSON_KEY_OTHER, JSON_KEY_ID, JSON_KEY_TEXT };

/* Parses the key at pos (a string) and says which one it is. */
static int json_doc_key(json_parser_t *p, buf_t *scratch, int *which)
{
    if (json_string(p, scratch) != 0)
        return -1;
    *which = JSON_KEY_OTHER;
    if (scratch->len == 2 && memcmp(scratch->data, "id", 2) == 0)
        *which = JSON_KEY_ID;
    else if (scratch->len == 4 && memcmp(scratch->data, "text", 4) == 0)
        *which = JSON_KEY_TEXT;
    return 0;
}

/* Parses the value of "id": a string, or a number kept as written. */
static int json_doc_id(json_parser_t *p, json_doc_t *doc)
{
    if (p->pos < p->len && p->s[p->pos] == '"') {
        if (json_string(p, &doc->id) != 0)
            return -1;
    } else if (p->pos < p->len && (p->s[p->pos] == '-' ||
                                   (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))) {
        size_t start = p->pos;
        if (json_number(p) != 0)
            return -1;
        buf_clear(&doc->id);
        if (buf_append(&doc->id, p->s + start, p->pos - start) != 0) {
            p->oom = 1;
            return -1;
        }
    } else {
        return json_fail(p, "\"id\" must be a string or a number");
    }
    doc->has_id = 1;
    return 0;
}

static int json_doc_object(json_parser_t *p, json_doc_t *doc)
{
    buf_t *key = &doc->scratch;
    int rc = -1;
    p->pos++;
    json_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return 0;
    }
    for (;;) {
        int which;
        json_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            json_fail(p, "expected a string key");
            break;
        }
        if (json_doc_key(p, key, &which) != 0)
            break;
        json_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') {
            json_fail(p, "expected ':' after an object key");
            break;
        }
        p->pos++;
        json_ws(p);
        if (which == JSON_KEY_ID) {
            if (json_doc_id(p, doc) != 0)
                break;
        } else if (which == JSON_KEY_TEXT) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                json_fail(p, "\"text\" must be a string");
                break;
            }
            if (json_string(p, &doc->text) != 0)
                break;
            doc->has_text = 1;
        } else if (json_value(p, 1) != 0) {
            break;
        }
        json_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            rc = 0;
            break;
        }
        json_fail(p, "expected ',' or '}'");
        break;
    }
    return rc;
}

int json_parse_doc(const char *line, size_t len, json_doc_t *doc, char *err, size_t errlen)
{
    json_parser_t p = { (const unsigned char *)line, len, 0, err, errlen, 0 };
    doc->has_id = 0;
    doc->has_text = 0;
    buf_clear(&doc->id);
    buf_clear(&doc->text);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    json_ws(&p);
    if (p.pos == p.len)
        return 0;
    if (p.s[p.pos] != '{')
        return json_fail(&p, "a line must hold one JSON object");
    if (json_doc_object(&p, doc) != 0)
        return p.oom ? NERD_ENOMEM : -1;
    json_ws(&p);
    if (p.pos != p.len)
        return json_fail(&p, "unexpected text after the object");
    if (!doc->has_text)
        return json_fail(&p, "the object has no \"text\" key");
    return 1;
}

void json_doc_free(json_doc_t *doc)
{
    buf_free(&doc->id);
    buf_free(&doc->text);
    buf_free(&doc->scratch);
    doc->has_id = 0;
    doc->has_text = 0;
}

/* ---- reading a stream --------------------------------------------------------------------- */

#define JSON_READ_CHUNK (1u << 20)

struct json_lines {
    FILE *f;
    char *name;
    buf_t data;        /* bytes read and not yet consumed start at data.data + start */
    size_t start;
    size_t scanned;    /* bytes from start known to hold no newline */
    int eof;
    size_t lineno;
};

json_lines_t *json_lines_new(FILE *f, const char *name)
{
    json_lines_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->f = f;
    r->name = strdup(name != NULL ? name : "-");
    if (r->name == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void json_lines_destroy(json_lines_t **reader)
{
    if (reader == NULL || *reader == NULL)
        return;
    buf_free(&(*reader)->data);
    free((*reader)->name);
    free(*reader);
    *reader = NULL;
}

size_t json_lines_lineno(const json_lines_t *reader)
{
    return reader->lineno;
}

/* Reads more input: moves the unconsumed bytes to the front, then appends a chunk. */
static int json_lines_fill(json_lines_t *r, char *err, size_t errlen)
{
    if (r->start > 0) {
        size_t left = r->data.len - r->start;
        memmove(r->data.data, r->data.data + r->start, left);
        r->data.len = left;
        r->start = 0;
    }
    if (buf_reserve(&r->data, JSON_READ_CHUNK) != 0) {
        snprintf(err, errlen, "%s: out of memory", r->name);
        return -2;
    }
    size_t got = fread(r->data.data + r->data.len, 1, r->data.cap - r->data.len - 1, r->f);
    r->data.len += got;
    r->data.data[r->data.len] = '\0';
    if (got == 0) {
        if (ferror(r->f)) {
            snprintf(err, errlen, "%s: read error: %s", r->name, strerror(errno));
            return -2;
        }
        r->eof = 1;
    }
    return 0;
}

/* Finds the next line: *line, *len (without the newline).  1, 0 at the end, or -2. */
static int json_lines_line(json_lines_t *r, const char **line, size_t *len, char *err,
                           size_t errlen)
{
    for (;;) {
        size_t avail = r->data.len - r->start;
        char *base = r->data.data != NULL ? r->data.data + r->start : NULL;
        char *nl = avail > r->scanned ? memchr(base + r->scanned, '\n', avail - r->scanned) : NULL;
        if (nl != NULL) {
            *line = base;
            *len = (size_t)(nl - base);
            r->start += *len + 1;
            r->scanned = 0;
            return 1;
        }
        r->scanned = avail;
        if (r->eof) {
            if (avail == 0)
                return 0;
            *line = base;
            *len = avail;
            r->start += avail;
            r->scanned = 0;
            return 1;
        }
        if (json_lines_fill(r, err, errlen) != 0)
            return -2;
    }
}

int json_lines_next(json_lines_t *r, json_doc_t *doc, char *err, size_t errlen)
{
    for (;;) {
        const char *line;
        size_t len;
        int rc = json_lines_line(r, &line, &len, err, errlen);
        if (rc <= 0)
            return rc == 0 ? 0 : -2;
        r->lineno++;
        char why[256];
        rc = json_parse_doc(line, len, doc, why, sizeof why);
        if (rc == 1)
            return 1;
        if (rc == NERD_ENOMEM) {
            snprintf(err, errlen, "%s:%zu: out of memory", r->name, r->lineno);
            return -2;
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s:%zu: %s", r->name, r->lineno, why);
            return -1;
        }
    }
}
