/*
 * rules_parse.c - reads one *.rules file into the rule set being loaded (pass one).
 *
 * The file is cut into logical lines (trailing backslashes join lines; each byte keeps its
 * source line and column for error messages), and each line is one statement: define, internal,
 * phase, gazetteer, list ... end, entity, relation or test:.  Patterns are only copied here; they are
 * expanded and compiled by pattern.c once every entity type of the set is known.  Every error is
 * reported and parsing goes on with the next statement, so a rule writer sees all problems.
 */
#include "rules_load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *data;
    size_t len, pos;
    uint32_t line;                 /* number of the next physical line */
    strbuf_t text;
    uint32_t *lines, *cols;
    size_t map_cap;
    loader_t *L;
} reader_t;

/* What the statement being parsed is. */
typedef struct stmt {
    loader_t *L;
    const char *file;              /* display path */
    const char *fname;             /* file name inside the folder */
    const logical_line_t *ll;
} stmt_t;

enum { OPT_ENTITY, OPT_RELATION, OPT_GAZETTEER };

typedef struct options {
    int priority, nested, case_mode, speaker_previous;
    const char *canonical;
    size_t canonical_len;
    uint32_t canonical_line, canonical_col;
    const char *name;
    size_t name_len;
    nerd_attr_t *attrs;
    size_t attr_count, attr_cap;
} options_t;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* ---- logical lines ---- */

static int map_reserve(reader_t *r, size_t n)
{
    if (n + 1 <= r->map_cap)
        return 0;
    size_t cap = r->map_cap ? r->map_cap : 256;
    while (cap < n + 1)
        cap *= 2;
    uint32_t *l = realloc(r->lines, cap * sizeof(uint32_t));
    if (l == NULL)
        return -1;
    r->lines = l;
    uint32_t *c = realloc(r->cols, cap * sizeof(uint32_t));
    if (c == NULL)
        return -1;
    r->cols = c;
    r->map_cap = cap;
    return 0;
}

/* Appends physical bytes s[0..n) that start at column col of line. */
static int reader_append(reader_t *r, const char *s, size_t n, uint32_t line, uint32_t col)
{
    size_t at = r->text.len;
    if (map_reserve(r, at + n + 1) != 0)
        return -1;
    strbuf_append(&r->text, s, n);
    if (strbuf_failed(&r->text))
        return -1;
    for (size_t k = 0; k < n; k++) {
        r->lines[at + k] = line;
        r->cols[at + k] = col + (uint32_t)k;
    }
    r->lines[at + n] = line;
    r->cols[at + n] = col + (uint32_t)n;
    return 0;
}

/* Reads the next logical line; returns 0 at the end of the file, -1 when out of memory. */
static int reader_next(reader_t *r, logical_line_t *ll)
{
    if (r->pos >= r->len)
        return 0;
    r->text.len = 0;
    if (r->text.data)
        r->text.data[0] = '\0';
    int first = 1;
    uint32_t start_line = r->line;
    while (r->pos < r->len) {
        const char *s = r->data + r->pos;
        const char *nl = memchr(s, '\n', r->len - r->pos);
        size_t n = nl ? (size_t)(nl - s) : r->len - r->pos;
        r->pos += n + (nl ? 1 : 0);
        uint32_t line = r->line++;
        size_t lead = 0;
        if (!first)
            while (lead < n && is_blank(s[lead]))
                lead++;
        size_t end = n;
        while (end > lead && is_blank(s[end - 1]))
            end--;
        int cont = end > lead && s[end - 1] == '\\';
        if (reader_append(r, s + lead, end - lead - (cont ? 1 : 0), line, (uint32_t)lead + 1) != 0)
            return -1;
        first = 0;
        if (!cont)
            break;
    }
    if (r->text.len == 0 && map_reserve(r, 1) == 0) {
        r->lines[0] = start_line;
        r->cols[0] = 1;
    }
    ll->text = r->text.data ? r->text.data : "";
    ll->len = r->text.len;
    ll->lines = r->lines;
    ll->cols = r->cols;
    return 1;
}

/* ---- small scanners ---- */

static size_t skip_blank(const logical_line_t *ll, size_t i)
{
    while (i < ll->len && is_blank(ll->text[i]))
        i++;
    return i;
}

static size_t scan_name(const logical_line_t *ll, size_t i)
{
    while (i < ll->len && is_name_char(ll->text[i]))
        i++;
    return i;
}

static size_t scan_token(const logical_line_t *ll, size_t i, int stop_at_colon)
{
    while (i < ll->len && !is_blank(ll->text[i]) && !(stop_at_colon && ll->text[i] == ':'))
        i++;
    return i;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void stmt_error(const stmt_t *st, size_t at, const char *fmt, ...)
{
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (at > st->ll->len)
        at = st->ll->len;
    loader_error(st->L, st->file, st->ll->lines[at], st->ll->cols[at], "%s", msg);
}

/* The token at i, for messages: at most 40 bytes. */
static int token_width(const logical_line_t *ll, size_t i)
{
    size_t e = scan_token(ll, i, 0);
    return (int)(e - i > 40 ? 40 : e - i);
}

/* ---- rules ---- */

/* Appends a rule and returns its index, or SIZE_MAX when out of memory. */
static size_t rule_new(const stmt_t *st, int kind, uint32_t type, const char *name, size_t name_len)
{
    loader_t *L = st->L;
    nerd_rules_t *set = L->set;
    if (loader_grow(L, (void **)&set->rules, &L->rule_cap, set->rule_count, sizeof(rule_t)) != 0)
        return SIZE_MAX;
    rule_t *r = &set->rules[set->rule_count];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->index = (uint32_t)set->rule_count;
    r->type = type;
    r->phase = (uint32_t)L->current_phase;
    r->name = loader_strndup(L, name, name_len);
    char id[600];
    snprintf(id, sizeof(id), "%s/%s:%u %.*s", L->dirname ? L->dirname : "", st->fname,
             st->ll->lines[0], (int)(name_len > 200 ? 200 : name_len), name);
    r->id = loader_strndup(L, id, strlen(id));
    if (r->name == NULL || r->id == NULL)
        return SIZE_MAX;
    return set->rule_count++;
}

static int parse_int(const char *s, size_t n, int *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n || n - i > 6)
        return -1;
    int v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

static int opt_is(const char *tok, size_t n, const char *key)
{
    size_t k = strlen(key);
    return n >= k && memcmp(tok, key, k) == 0;
}

/* Parses one option token tok[0..n) at position at; returns -1 after reporting an error. */
static int parse_option(const stmt_t *st, size_t at, const char *tok, size_t n, int kind,
                        options_t *o)
{
    loader_t *L = st->L;
    static const char *const kinds[] = {"entity patterns", "relation patterns", "gazetteers and lists"};
    if (n == 6 && memcmp(tok, "nested", 6) == 0) {
        o->nested = 1;
        return 0;
    }
    if (opt_is(tok, n, "priority=")) {
        if (parse_int(tok + 9, n - 9, &o->priority) != 0) {
            stmt_error(st, at, "priority needs a whole number, as in priority=5 (found '%.*s')",
                       (int)n, tok);
            return -1;
        }
        return 0;
    }
    if (opt_is(tok, n, "case=")) {
        const char *v = tok + 5;
        size_t vn = n - 5;
        if (vn == 9 && memcmp(v, "sensitive", 9) == 0)
            o->case_mode = GAZ_CASE_SENSITIVE;
        else if (vn == 11 && memcmp(v, "insensitive", 11) == 0)
            o->case_mode = GAZ_CASE_INSENSITIVE;
        else if (vn == 5 && memcmp(v, "smart", 5) == 0 && kind == OPT_GAZETTEER)
            o->case_mode = GAZ_CASE_SMART;
        else {
            stmt_error(st, at, "case must be %s (found '%.*s')",
                       kind == OPT_GAZETTEER ? "sensitive, insensitive or smart"
                                             : "sensitive or insensitive (smart is only for gazetteers and lists)",
                       (int)n, tok);
            return -1;
        }
        return 0;
    }
    if (opt_is(tok, n, "canonical=") && kind == OPT_ENTITY) {
        o->canonical = tok + 10;
        o->canonical_len = n - 10;
        o->canonical_line = st->ll->lines[at];
        o->canonical_col = st->ll->cols[at];
        for (size_t k = 0; k < o->canonical_len; k++)
            if (!is_ident_char(o->canonical[k]))
                o->canonical_len = 0;
        if (o->canonical_len == 0) {
            stmt_error(st, at, "canonical= needs the name of a group of the pattern, as in canonical=name");
            return -1;
        }
        return 0;
    }
    if (opt_is(tok, n, "speaker=") && kind == OPT_RELATION) {
        if (n - 8 != 8 || memcmp(tok + 8, "previous", 8) != 0) {
            stmt_error(st, at, "the only speaker option is speaker=previous (found '%.*s')", (int)n, tok);
            return -1;
        }
        o->speaker_previous = 1;
        return 0;
    }
    if (opt_is(tok, n, "name=") && kind == OPT_GAZETTEER) {
        o->name = tok + 5;
        o->name_len = n - 5;
        if (o->name_len == 0) {
            stmt_error(st, at, "name= needs a rule name, as in name=countries");
            return -1;
        }
        return 0;
    }
    if (tok[0] == '+') {
        const char *eq = memchr(tok, '=', n);
        if (kind != OPT_RELATION) {
            stmt_error(st, at, "attributes (+key=value) are only allowed on relations");
            return -1;
        }
        if (eq == NULL || eq == tok + 1) {
            stmt_error(st, at, "an attribute is written +key=value (found '%.*s')", (int)n, tok);
            return -1;
        }
        if (loader_grow(L, (void **)&o->attrs, &o->attr_cap, o->attr_count, sizeof(nerd_attr_t)) != 0)
            return -1;
        nerd_attr_t *a = &o->attrs[o->attr_count++];
        a->key = loader_strndup(L, tok + 1, (size_t)(eq - tok - 1));
        a->value = loader_strndup(L, eq + 1, (size_t)(tok + n - eq - 1));
        return 0;
    }
    if (kind == OPT_GAZETTEER)
        stmt_error(st, at, "unknown option '%.*s' for %s (expected case=, priority=, nested or name=)",
                   (int)n, tok, kinds[kind]);
    else
        stmt_error(st, at, "unknown option '%.*s' for %s (expected priority=, nested, case=%s); "
                   "is the ':' before the pattern missing?", (int)n, tok, kinds[kind],
                   kind == OPT_ENTITY ? ", canonical=" : ", speaker=previous, +key=value");
    return -1;
}

/*
 * Parses options from i; for patterns stops after the ':' and returns the pattern start in *i.
 * Returns 0, or -1 after reporting an error.
 */
static int parse_options(const stmt_t *st, size_t *i, int kind, options_t *o)
{
    const logical_line_t *ll = st->ll;
    int patterned = kind != OPT_GAZETTEER;
    int rc = 0;
    for (;;) {
        size_t p = skip_blank(ll, *i);
        if (p >= ll->len) {
            *i = p;
            if (patterned) {
                stmt_error(st, p, "missing ':' between the rule header and its pattern");
                return -1;
            }
            return rc;
        }
        if (patterned && ll->text[p] == ':') {
            *i = p + 1;
            return rc;
        }
        size_t e = scan_token(ll, p, patterned);
        if (parse_option(st, p, ll->text + p, e - p, kind, o) != 0) {
            rc = -1;
            if (patterned) /* a stray pattern: do not report each of its words */
                return -1;
        }
        *i = e;
    }
}

/* ---- statements ---- */

static void stmt_define(const stmt_t *st, size_t i)
{
    loader_t *L = st->L;
    const logical_line_t *ll = st->ll;
    i = skip_blank(ll, i);
    size_t ns = i;
    while (i < ll->len && is_ident_char(ll->text[i]))
        i++;
    if (i == ns) {
        stmt_error(st, ns, "define needs a macro name (letters, digits and _), as in: define NAME = REGEX");
        return;
    }
    size_t ne = i;
    i = skip_blank(ll, i);
    if (i >= ll->len || ll->text[i] != '=') {
        stmt_error(st, i, "missing '=' after the macro name %.*s", (int)(ne - ns), ll->text + ns);
        return;
    }
    i = skip_blank(ll, i + 1);
    if (i >= ll->len) {
        stmt_error(st, i, "the macro %.*s has an empty body", (int)(ne - ns), ll->text + ns);
        return;
    }
    for (size_t m = 0; m < L->macro_count; m++)
        if (strlen(L->macros[m].name) == ne - ns && memcmp(L->macros[m].name, ll->text + ns, ne - ns) == 0) {
            stmt_error(st, ns, "the macro @%.*s is already defined", (int)(ne - ns), ll->text + ns);
            return;
        }
    if (pattern_check_macro_refs(L, st->file, ll, i, L->macro_count) != 0)
        return;
    if (loader_grow(L, (void **)&L->macros, &L->macro_cap, L->macro_count, sizeof(macro_t)) != 0)
        return;
    macro_t *m = &L->macros[L->macro_count];
    m->name = loader_strndup(L, ll->text + ns, ne - ns);
    m->body = loader_strndup(L, ll->text + i, ll->len - i);
    m->body_len = ll->len - i;
    if (m->name && m->body)
        L->macro_count++;
}

static void stmt_phase(const stmt_t *st, size_t i)
{
    loader_t *L = st->L;
    const logical_line_t *ll = st->ll;
    i = skip_blank(ll, i);
    size_t e = scan_name(ll, i);
    if (e == i || skip_blank(ll, e) != ll->len) {
        stmt_error(st, i, "phase needs one name (letters, digits, _ . -), as in: phase names");
        return;
    }
    for (size_t p = 0; p < L->phase_count; p++)
        if (strlen(L->phases[p]) == e - i && memcmp(L->phases[p], ll->text + i, e - i) == 0) {
            L->current_phase = p;
            return;
        }
    /* Rules before the first phase line are in "main", which is phase 0. */
    if (L->phase_count == 0 && L->set->rule_count > 0) {
        if (loader_grow(L, (void **)&L->phases, &L->phase_cap, 0, sizeof(char *)) != 0)
            return;
        L->phases[L->phase_count++] = "main";
        if (e - i == 4 && memcmp(ll->text + i, "main", 4) == 0) {
            L->current_phase = 0;
            return;
        }
    }
    if (loader_grow(L, (void **)&L->phases, &L->phase_cap, L->phase_count, sizeof(char *)) != 0)
        return;
    const char *name = loader_strndup(L, ll->text + i, e - i);
    if (name == NULL)
        return;
    L->phases[L->phase_count] = name;
    L->current_phase = L->phase_count++;
}

/* internal TYPE [TYPE...]: helper types that rules use but results never report.  The types are
 * created here if no rule named them yet. */
static void stmt_internal(const stmt_t *st, size_t i)
{
    loader_t *L = st->L;
    const logical_line_t *ll = st->ll;
    size_t count = 0;
    for (i = skip_blank(ll, i); i < ll->len; i = skip_blank(ll, i)) {
        size_t e = scan_name(ll, i);
        if (e == i) {
            stmt_error(st, i, "internal takes entity type names (letters, digits, _ . -), as in: "
                       "internal FIRSTNAME SURNAME");
            return;
        }
        int t = loader_type(L, ll->text + i, e - i, 1);
        if (t < 0) {
            stmt_error(st, i, "too many entity types (at most %d) at '%.*s'", RULES_MAX_TYPES,
                       (int)(e - i), ll->text + i);
            return;
        }
        L->set->internal_types |= UINT32_C(1) << t;
        count++;
        i = e;
    }
    if (count == 0)
        stmt_error(st, i, "internal needs at least one entity type, as in: internal FIRSTNAME SURNAME");
}

/* Reads a type name at *i for statement keyword kw; returns its length, 0 after an error. */
static size_t read_type(const stmt_t *st, size_t *i, const char *what)
{
    const logical_line_t *ll = st->ll;
    size_t p = skip_blank(ll, *i);
    size_t e = scan_name(ll, p);
    if (e == p) {
        stmt_error(st, p, "missing %s", what);
        return 0;
    }
    *i = p;
    return e - p;
}

static void stmt_pattern(const stmt_t *st, size_t i, int relation)
{
    loader_t *L = st->L;
    const logical_line_t *ll = st->ll;
    size_t tlen = read_type(st, &i, relation ? "relation type after 'relation'" : "entity type after 'entity'");
    if (tlen == 0)
        return;
    size_t tpos = i;
    i += tlen;
    size_t np = skip_blank(ll, i);
    size_t ne = scan_name(ll, np);
    if (ne == np) {
        stmt_error(st, np, "missing rule name after the type, as in: %s",
                   relation ? "relation affiliation appositive : REGEX"
                            : "entity PERSON person.title : REGEX");
        return;
    }
    options_t o;
    memset(&o, 0, sizeof(o));
    o.case_mode = GAZ_CASE_SENSITIVE;
    i = ne;
    int bad = parse_options(st, &i, relation ? OPT_RELATION : OPT_ENTITY, &o);
    size_t ps = skip_blank(ll, i), pe = ll->len;
    if (!bad && ps >= pe) {
        stmt_error(st, ps, "the pattern after ':' is empty");
        bad = 1;
    }
    int type;
    if (relation)
        type = loader_relation_type(L, ll->text + tpos, tlen, 1);
    else {
        type = loader_type(L, ll->text + tpos, tlen, 1);
        if (type < 0 && !L->nomem) {
            stmt_error(st, tpos, "too many entity types: a rule set may have at most %d", RULES_MAX_TYPES);
            bad = 1;
        }
    }
    if (bad || type < 0) {
        free(o.attrs);
        return;
    }
    size_t r = rule_new(st, relation ? RULE_RELATION : RULE_ENTITY, (uint32_t)type, ll->text + np, ne - np);
    if (r == SIZE_MAX) {
        free(o.attrs);
        return;
    }
    rule_t *rule = &L->set->rules[r];
    rule->priority = o.priority;
    rule->nested = o.nested;
    rule->caseless = o.case_mode == GAZ_CASE_INSENSITIVE;
    rule->speaker_previous = o.speaker_previous;
    if (o.attr_count) {
        rule->attrs = nerd_arena_alloc(L->set->pool, o.attr_count * sizeof(nerd_attr_t));
        if (rule->attrs == NULL)
            L->nomem = 1;
        else {
            memcpy(rule->attrs, o.attrs, o.attr_count * sizeof(nerd_attr_t));
            rule->attr_count = o.attr_count;
        }
    }
    free(o.attrs);
    if (loader_grow(L, (void **)&L->pending, &L->pending_cap, L->pending_count, sizeof(pending_pattern_t)) != 0)
        return;
    pending_pattern_t *pp = &L->pending[L->pending_count];
    memset(pp, 0, sizeof(*pp));
    size_t n = pe - ps;
    pp->rule = r;
    pp->file = st->file;
    pp->len = n;
    pp->macro_limit = L->macro_count;
    pp->text = malloc(n + 1);
    pp->lines = malloc((n + 1) * sizeof(uint32_t));
    pp->cols = malloc((n + 1) * sizeof(uint32_t));
    if (pp->text == NULL || pp->lines == NULL || pp->cols == NULL) {
        free(pp->text);
        free(pp->lines);
        free(pp->cols);
        L->nomem = 1;
        return;
    }
    memcpy(pp->text, ll->text + ps, n);
    pp->text[n] = '\0';
    memcpy(pp->lines, ll->lines + ps, (n + 1) * sizeof(uint32_t));
    memcpy(pp->cols, ll->cols + ps, (n + 1) * sizeof(uint32_t));
    if (o.canonical) {
        pp->canonical = loader_strndup(L, o.canonical, o.canonical_len);
        pp->canonical_line = o.canonical_line;
        pp->canonical_col = o.canonical_col;
    }
    L->pending_count++;
}

/* Adds one gazetteer line "canonical | alias | alias" (already known not to be a comment). */
static void gazetteer_line(loader_t *L, uint32_t rule, int case_mode, const char *s, size_t n)
{
    const char *canon = NULL;
    size_t canon_len = 0;
    size_t i = 0;
    while (i <= n) {
        const char *bar = memchr(s + i, '|', n - i);
        size_t e = bar ? (size_t)(bar - s) : n;
        size_t a = i, b = e;
        while (a < b && is_blank(s[a]))
            a++;
        while (b > a && is_blank(s[b - 1]))
            b--;
        if (b > a) {
            if (canon == NULL) {
                canon = s + a;
                canon_len = b - a;
            }
            if (gazetteer_add(L->set->gazetteer, s + a, b - a, case_mode, rule, canon, canon_len) < 0)
                L->nomem = 1;
        }
        i = e + 1;
    }
}

/* Feeds every entry line of buf[0..len) to the gazetteer. */
static void gazetteer_text(loader_t *L, uint32_t rule, int case_mode, const char *buf, size_t len)
{
    /* Size the table once for the whole file: lines and aliases, times the smart spellings,
     * plus the first-token keys. */
    size_t forms = 1;
    for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + len - p))) != NULL; p++)
        forms++;
    for (const char *p = buf; (p = memchr(p, '|', (size_t)(buf + len - p))) != NULL; p++)
        forms++;
    if (case_mode == GAZ_CASE_SMART)
        forms *= 2;
    if (gazetteer_reserve(L->set->gazetteer, case_mode, forms + forms / 2) != 0) {
        L->nomem = 1;
        return;
    }
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - buf) : len;
        size_t a = i;
        while (a < e && is_blank(buf[a]))
            a++;
        if (a < e && buf[a] != '#')
            gazetteer_line(L, rule, case_mode, buf + a, e - a);
        i = e + 1;
    }
}

static int utf8_ok(const char *s, size_t n)
{
    return nerd_utf8_check(s, n, NULL) == 0;
}

static void stmt_gazetteer(const stmt_t *st, size_t i)
{
    loader_t *L = st->L;
    const logical_line_t *ll = st->ll;
    size_t tlen = read_type(st, &i, "entity type after 'gazetteer'");
    if (tlen == 0)
        return;
    size_t tpos = i;
    size_t fp = skip_blank(ll, i + tlen);
    size_t fe = scan_token(ll, fp, 0);
    if (fe == fp) {
        stmt_error(st, fp, "missing file name after the type, as in: gazetteer LOC countries.gaz");
        return;
    }
    options_t o;
    memset(&o, 0, sizeof(o));
    i = fe;
    if (parse_options(st, &i, OPT_GAZETTEER, &o) != 0)
        return;
    int type = loader_type(L, ll->text + tpos, tlen, 1);
    if (type < 0) {
        if (!L->nomem)
            stmt_error(st, tpos, "too many entity types: a rule set may have at most %d", RULES_MAX_TYPES);
        return;
    }
    strbuf_t path;
    strbuf_init(&path);
    strbuf_printf(&path, "%s/%.*s", L->dir, (int)(fe - fp), ll->text + fp);
    size_t len = 0;
    char *buf = path.data ? loader_read_file(path.data, &len) : NULL;
    if (buf == NULL) {
        stmt_error(st, fp, "cannot read the gazetteer file '%.*s' (%s): %s", (int)(fe - fp),
                   ll->text + fp, path.data ? path.data : "", strerror(errno));
        strbuf_free(&path);
        return;
    }
    strbuf_free(&path);
    if (!utf8_ok(buf, len) || memchr(buf, '\0', len) != NULL) {
        stmt_error(st, fp, "the gazetteer file '%.*s' is not valid UTF-8 text", (int)(fe - fp), ll->text + fp);
        free(buf);
        return;
    }
    loader_hash(L, buf, len);
    size_t r = o.name ? rule_new(st, RULE_GAZETTEER, (uint32_t)type, o.name, o.name_len)
                      : rule_new(st, RULE_GAZETTEER, (uint32_t)type, ll->text + fp, fe - fp);
    if (r == SIZE_MAX || gazetteer_adopt(L->set->gazetteer, buf) != 0) {
        if (r == SIZE_MAX)
            free(buf);
        L->nomem = 1;
        return;
    }
    rule_t *rule = &L->set->rules[r];
    rule->priority = o.priority;
    rule->nested = o.nested;
    gazetteer_text(L, (uint32_t)r, o.case_mode, buf, len);
}

static void stmt_list(const stmt_t *st, size_t i, reader_t *rd)
{
    loader_t *L = st->L;
    const logical_line_t *ll = st->ll;
    uint32_t list_line = ll->lines[0], list_col = ll->cols[0];
    size_t tlen = read_type(st, &i, "entity type after 'list'");
    int bad = tlen == 0;
    int type = -1;
    options_t o;
    memset(&o, 0, sizeof(o));
    size_t r = SIZE_MAX;
    if (!bad) {
        size_t tpos = i;
        i += tlen;
        bad = parse_options(st, &i, OPT_GAZETTEER, &o) != 0;
        type = loader_type(L, ll->text + tpos, tlen, 1);
        if (type < 0 && !L->nomem) {
            stmt_error(st, tpos, "too many entity types: a rule set may have at most %d", RULES_MAX_TYPES);
            bad = 1;
        }
    }
    if (!bad) {
        char name[64];
        snprintf(name, sizeof(name), "list.%s", L->set->types[type]);
        r = o.name ? rule_new(st, RULE_GAZETTEER, (uint32_t)type, o.name, o.name_len)
                   : rule_new(st, RULE_GAZETTEER, (uint32_t)type, name, strlen(name));
        if (r != SIZE_MAX) {
            L->set->rules[r].priority = o.priority;
            L->set->rules[r].nested = o.nested;
        }
    }
    /* The statement's own line is about to be overwritten by the reader: keep what we need. */
    logical_line_t entry;
    for (;;) {
        int got = reader_next(rd, &entry);
        if (got < 0) {
            L->nomem = 1;
            return;
        }
        if (got == 0) {
            loader_error(L, st->file, list_line, list_col,
                         "the list has no 'end' line (every 'list' needs an 'end' on a line of its own)");
            return;
        }
        size_t a = skip_blank(&entry, 0);
        if (a >= entry.len || entry.text[a] == '#')
            continue;
        if (entry.len - a == 3 && memcmp(entry.text + a, "end", 3) == 0)
            return;
        if (r == SIZE_MAX)
            continue;
        const char *copy = loader_strndup(L, entry.text + a, entry.len - a);
        if (copy)
            gazetteer_line(L, (uint32_t)r, o.case_mode, copy, entry.len - a);
    }
}

/* ---- tests ---- */

/* Parses a "..." string at *i into the pool; returns NULL after reporting an error. */
static const char *parse_string(const stmt_t *st, size_t *i, size_t *out_len)
{
    const logical_line_t *ll = st->ll;
    size_t p = *i;
    if (p >= ll->len || ll->text[p] != '"') {
        stmt_error(st, p, "expected a quoted text \"...\"");
        return NULL;
    }
    strbuf_t sb;
    strbuf_init(&sb);
    strbuf_append(&sb, "", 0);
    size_t k = p + 1;
    for (; k < ll->len && ll->text[k] != '"'; k++) {
        char c = ll->text[k];
        if (c == '\\' && k + 1 < ll->len) {
            char d = ll->text[++k];
            c = d == 'n' ? '\n' : d == 't' ? '\t' : d;
        }
        strbuf_putc(&sb, c);
    }
    if (k >= ll->len) {
        strbuf_free(&sb);
        stmt_error(st, p, "unterminated text: the closing '\"' is missing");
        return NULL;
    }
    const char *s = loader_strndup(st->L, sb.data ? sb.data : "", sb.len);
    *out_len = sb.len;
    strbuf_free(&sb);
    *i = k + 1;
    return s;
}

static void pending_name(const stmt_t *st, size_t at, const char *name, int relation)
{
    loader_t *L = st->L;
    if (loader_grow(L, (void **)&L->names, &L->name_cap, L->name_count, sizeof(pending_name_t)) != 0)
        return;
    pending_name_t *pn = &L->names[L->name_count++];
    pn->file = st->file;
    pn->line = st->ll->lines[at];
    pn->col = st->ll->cols[at];
    pn->name = name;
    pn->relation = relation;
}

/* Parses one expectation at *i into e; returns -1 after reporting an error. */
static int parse_expect(const stmt_t *st, size_t *i, test_expect_t *e)
{
    loader_t *L = st->L;
    const logical_line_t *ll = st->ll;
    size_t p = *i;
    int neg = ll->text[p] == '!';
    if (neg)
        p = skip_blank(ll, p + 1);
    size_t ne = scan_name(ll, p);
    if (ne == p) {
        stmt_error(st, p, "expected an entity type (PERSON \"...\") or a relation (affiliation person=\"...\")");
        return -1;
    }
    e->type = loader_strndup(L, ll->text + p, ne - p);
    size_t q = skip_blank(ll, ne);
    if (q < ll->len && ll->text[q] == '"') {
        size_t len;
        e->kind = neg ? EXPECT_NO_ENTITY : EXPECT_ENTITY;
        e->text = parse_string(st, &q, &len);
        if (e->text == NULL)
            return -1;
        pending_name(st, p, e->type, 0);
        *i = q;
        return 0;
    }
    if (neg) {
        stmt_error(st, p, "'!' only works on entity expectations, as in !PERSON \"The Times\"");
        return -1;
    }
    e->kind = EXPECT_RELATION;
    pending_name(st, p, e->type, 1);
    size_t cap = 0;
    for (;;) {
        size_t a = skip_blank(ll, q);
        size_t ae = a;
        while (ae < ll->len && is_ident_char(ll->text[ae]))
            ae++;
        if (ae == a || ae >= ll->len || ll->text[ae] != '=')
            break;
        size_t v = ae + 1, len;
        const char *value = parse_string(st, &v, &len);
        if (value == NULL)
            return -1;
        if (loader_grow(L, (void **)&e->args, &cap, e->arg_count, sizeof(test_arg_t)) != 0)
            return -1;
        e->args[e->arg_count].role = loader_strndup(L, ll->text + a, ae - a);
        e->args[e->arg_count++].value = value;
        q = v;
    }
    if (e->arg_count == 0) {
        stmt_error(st, q, "expected the text of an entity (\"...\") or relation arguments (role=\"...\") after %s",
                   e->type ? e->type : "the name");
        return -1;
    }
    /* Keep the arguments in the pool so the set owns one allocation less per test. */
    test_arg_t *args = nerd_arena_alloc(L->set->pool, e->arg_count * sizeof(test_arg_t));
    if (args)
        memcpy(args, e->args, e->arg_count * sizeof(test_arg_t));
    else
        L->nomem = 1;
    free(e->args);
    e->args = args;
    *i = q;
    return 0;
}

static void stmt_test(const stmt_t *st, size_t i)
{
    loader_t *L = st->L;
    const logical_line_t *ll = st->ll;
    nerd_rules_t *set = L->set;
    i = skip_blank(ll, i);
    if (i >= ll->len || ll->text[i] != ':') {
        stmt_error(st, i, "missing ':' after 'test', as in: test: \"TEXT\" => PERSON \"NAME\"");
        return;
    }
    i = skip_blank(ll, i + 1);
    size_t text_len = 0;
    const char *text = parse_string(st, &i, &text_len);
    if (text == NULL)
        return;
    i = skip_blank(ll, i);
    if (i + 1 >= ll->len || ll->text[i] != '=' || ll->text[i + 1] != '>') {
        stmt_error(st, i, "missing '=>' between the test text and what it expects");
        return;
    }
    i += 2;
    test_expect_t *ex = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        i = skip_blank(ll, i);
        while (i < ll->len && (ll->text[i] == ',' || ll->text[i] == ';'))
            i = skip_blank(ll, i + 1);
        if (i >= ll->len)
            break;
        if (loader_grow(L, (void **)&ex, &cap, n, sizeof(test_expect_t)) != 0)
            break;
        memset(&ex[n], 0, sizeof(ex[n]));
        if (parse_expect(st, &i, &ex[n]) != 0) {
            free(ex[n].args);
            free(ex);
            return;
        }
        n++;
    }
    if (n == 0) {
        stmt_error(st, i, "a test needs at least one expectation after '=>'");
        free(ex);
        return;
    }
    rule_test_t *t = NULL;
    if (loader_grow(L, (void **)&set->tests, &L->test_cap, set->test_count, sizeof(rule_test_t)) == 0)
        t = &set->tests[set->test_count];
    test_expect_t *pooled = nerd_arena_alloc(set->pool, n * sizeof(test_expect_t));
    char where[600];
    snprintf(where, sizeof(where), "%s:%u", st->file, ll->lines[0]);
    const char *w = loader_strndup(L, where, strlen(where));
    if (t == NULL || pooled == NULL || w == NULL) {
        L->nomem = 1;
        free(ex);
        return;
    }
    memcpy(pooled, ex, n * sizeof(test_expect_t));
    free(ex);
    t->where = w;
    t->text = text;
    t->text_len = text_len;
    t->expects = pooled;
    t->expect_count = n;
    set->test_count++;
}

/* ---- files ---- */

static int keyword_is(const logical_line_t *ll, size_t s, size_t e, const char *kw)
{
    return e - s == strlen(kw) && memcmp(ll->text + s, kw, e - s) == 0;
}

static void statement(const stmt_t *st, reader_t *rd)
{
    const logical_line_t *ll = st->ll;
    size_t s = skip_blank(ll, 0);
    if (s >= ll->len || ll->text[s] == '#')
        return;
    size_t e = s;
    while (e < ll->len && is_ident_char(ll->text[e]))
        e++;
    if (keyword_is(ll, s, e, "define"))
        stmt_define(st, e);
    else if (keyword_is(ll, s, e, "phase"))
        stmt_phase(st, e);
    else if (keyword_is(ll, s, e, "internal"))
        stmt_internal(st, e);
    else if (keyword_is(ll, s, e, "gazetteer"))
        stmt_gazetteer(st, e);
    else if (keyword_is(ll, s, e, "list"))
        stmt_list(st, e, rd);
    else if (keyword_is(ll, s, e, "entity"))
        stmt_pattern(st, e, 0);
    else if (keyword_is(ll, s, e, "relation"))
        stmt_pattern(st, e, 1);
    else if (keyword_is(ll, s, e, "test"))
        stmt_test(st, e);
    else if (keyword_is(ll, s, e, "end"))
        stmt_error(st, s, "'end' without a 'list' before it");
    else
        stmt_error(st, s, "unknown keyword '%.*s' (a statement starts with define, internal, phase, "
                   "gazetteer, list, entity, relation or test:)", e > s ? (int)(e - s) : token_width(ll, s),
                   ll->text + s);
}

void rules_parse_file(loader_t *L, const char *display, const char *fname, const char *data,
                      size_t len)
{
    const char *nul = memchr(data, '\0', len);
    if (!utf8_ok(data, len) || nul) {
        size_t bad = nul ? (size_t)(nul - data) : 0;
        if (!nul)
            nerd_utf8_check(data, len, &bad);
        uint32_t line = 1, col = 1;
        for (size_t k = 0; k < bad; k++, col++)
            if (data[k] == '\n') {
                line++;
                col = 0;
            }
        loader_error(L, display, line, col, nul ? "the file contains a NUL byte"
                                                 : "the file is not valid UTF-8");
        return;
    }
    reader_t rd;
    memset(&rd, 0, sizeof(rd));
    rd.data = data;
    rd.len = len;
    rd.line = 1;
    rd.L = L;
    strbuf_init(&rd.text);
    const char *stable_fname = loader_strndup(L, fname, strlen(fname));
    logical_line_t ll;
    int got = 0;
    while (stable_fname && (got = reader_next(&rd, &ll)) > 0) {
        stmt_t st = {L, display, stable_fname, &ll};
        statement(&st, &rd);
        if (L->nomem)
            break;
    }
    if (stable_fname && got < 0)
        L->nomem = 1;
    strbuf_free(&rd.text);
    free(rd.lines);
    free(rd.cols);
}
