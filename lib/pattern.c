/*
 * pattern.c - turns rule patterns into compiled PCRE2 code (pass two of loading).
 *
 * Expansion rewrites the two extensions of the rule language into plain PCRE2 syntax:
 *   @MACRO        -> (?:BODY)  with BODY expanded in turn (a macro sees only earlier macros);
 *   {TYPE}        -> (?:\x{TB}\x{1f}*+)   where TB is the type's control byte;
 *   {A|B:name}    -> (?<name>[\x{A}\x{B}]\x{1f}*+)
 * which matches exactly one entity of the masked text (extract.c writes each entity as its type
 * byte followed by filler bytes).  Escapes, \Q..\E, character classes and (?#...) comments are
 * copied untouched.  Every output byte remembers the source line and column it came from, so a
 * PCRE2 compile error points into the rule file, not into the expansion.
 *
 * Expansion and the checks after compiling run in rule order; the PCRE2 compiles in between
 * (with the word-list rewrite of alttrie.h, the repeated groups written once as subroutines by
 * callform.h, the prefilter analyses and JIT) run on one thread
 * per processor, since they are most of the load time, each as soon as its pattern is expanded.
 */
#include "alttrie.h"
#include "callform.h"
#include "prefilter.h"
#include "rules_load.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPAND_MAX_DEPTH 64

typedef struct expander {
    loader_t *L;
    const char *file;
    int check_only;                /* define time: only look for undefined macros */
    int errors;
    strbuf_t out;
    uint32_t *lines, *cols;        /* per output byte */
    size_t map_cap;
} expander_t;

/* Where a piece of source is: its own map, or one fixed position for macro bodies. */
typedef struct source {
    const char *text;
    size_t len;
    const uint32_t *lines, *cols;  /* NULL: every byte is at (line, col) */
    uint32_t line, col;
} source_t;

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static uint32_t src_line(const source_t *s, size_t i)
{
    return s->lines ? s->lines[i] : s->line;
}

static uint32_t src_col(const source_t *s, size_t i)
{
    return s->cols ? s->cols[i] : s->col;
}

static void emit(expander_t *ex, const char *p, size_t n, uint32_t line, uint32_t col, int step)
{
    if (ex->check_only)
        return;
    size_t at = ex->out.len;
    if (at + n + 1 > ex->map_cap) {
        size_t cap = ex->map_cap ? ex->map_cap : 256;
        while (cap < at + n + 1)
            cap *= 2;
        uint32_t *l = realloc(ex->lines, cap * sizeof(uint32_t));
        if (l)
            ex->lines = l;
        uint32_t *c = l ? realloc(ex->cols, cap * sizeof(uint32_t)) : NULL;
        if (c)
            ex->cols = c;
        if (l == NULL || c == NULL) {
            ex->L->nomem = 1;
            return;
        }
        ex->map_cap = cap;
    }
    strbuf_append(&ex->out, p, n);
    if (strbuf_failed(&ex->out)) {
        ex->L->nomem = 1;
        return;
    }
    for (size_t k = 0; k <= n; k++) {
        ex->lines[at + k] = line;
        ex->cols[at + k] = col + (step ? (uint32_t)k : 0);
    }
}

/* Copies source bytes [i, i+n) with their own positions. */
static void copy_src(expander_t *ex, const source_t *s, size_t i, size_t n)
{
    if (ex->check_only || n == 0)
        return;
    if (s->lines == NULL) {
        emit(ex, s->text + i, n, s->line, s->col, 0);
        return;
    }
    /* Positions of a logical line are consecutive within each physical line; copy byte-wise
     * only across a line join. */
    size_t k = 0;
    while (k < n) {
        size_t run = 1;
        while (k + run < n && s->lines[i + k + run] == s->lines[i + k] &&
               s->cols[i + k + run] == s->cols[i + k] + run)
            run++;
        emit(ex, s->text + i + k, run, s->lines[i + k], s->cols[i + k], 1);
        k += run;
    }
}

static void expand(expander_t *ex, const source_t *s, size_t macro_limit, int depth);

static void expand_macro(expander_t *ex, const source_t *s, size_t at, size_t name_end,
                         size_t macro_limit, int depth)
{
    loader_t *L = ex->L;
    const char *name = s->text + at + 1;
    size_t n = name_end - at - 1;
    size_t m = macro_limit;
    while (m > 0) {
        m--;
        if (strlen(L->macros[m].name) == n && memcmp(L->macros[m].name, name, n) == 0)
            goto found;
    }
    loader_error(L, ex->file, src_line(s, at), src_col(s, at),
                 "undefined macro @%.*s (define it with 'define %.*s = REGEX' before it is used)",
                 (int)n, name, (int)n, name);
    ex->errors++;
    return;
found:
    if (ex->check_only)
        return;
    if (depth >= EXPAND_MAX_DEPTH) {
        loader_error(L, ex->file, src_line(s, at), src_col(s, at), "macros nest too deeply at @%.*s",
                     (int)n, name);
        ex->errors++;
        return;
    }
    uint32_t line = src_line(s, at), col = src_col(s, at);
    source_t body = {L->macros[m].body, L->macros[m].body_len, NULL, NULL, line, col};
    emit(ex, "(?:", 3, line, col, 0);
    expand(ex, &body, m, depth + 1);
    emit(ex, ")", 1, line, col, 0);
}

/* Expands {TYPE}, {A|B}, {ANY}, {TYPE:name} at s->text[at] up to the closing brace at close. */
static void expand_type_ref(expander_t *ex, const source_t *s, size_t at, size_t close)
{
    loader_t *L = ex->L;
    nerd_rules_t *set = L->set;
    uint32_t line = src_line(s, at), col = src_col(s, at);
    const char *p = s->text + at + 1, *end = s->text + close;
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *types_end = colon ? colon : end;
    unsigned char bytes[RULES_MAX_TYPES];
    size_t nbytes = 0;
    int bad = 0;
    const char *q = p;
    while (q <= types_end) {
        const char *bar = memchr(q, '|', (size_t)(types_end - q));
        const char *e = bar ? bar : types_end;
        size_t n = (size_t)(e - q);
        if (n == 3 && memcmp(q, "ANY", 3) == 0) {
            for (size_t t = 0; t < set->type_count && nbytes < RULES_MAX_TYPES; t++)
                bytes[nbytes++] = set->type_byte[t];
        } else {
            int t = loader_type(L, q, n, 0);
            if (t < 0) {
                strbuf_t known;
                strbuf_init(&known);
                for (size_t k = 0; k < set->type_count; k++)
                    strbuf_printf(&known, "%s%s", k ? ", " : "", set->types[k]);
                size_t off = (size_t)(q - s->text);
                loader_error(L, ex->file, src_line(s, off), src_col(s, off),
                             "unknown entity type '%.*s' in {...} (types of this set: %s)", (int)n,
                             q, known.data ? known.data : "none");
                strbuf_free(&known);
                bad = 1;
            } else if (nbytes < RULES_MAX_TYPES) {
                bytes[nbytes++] = set->type_byte[t];
            }
        }
        if (bar == NULL)
            break;
        q = bar + 1;
    }
    size_t gl = colon ? (size_t)(end - colon - 1) : 0;
    if (colon) {
        int ok = gl > 0 && !(colon[1] >= '0' && colon[1] <= '9');
        for (size_t k = 0; k < gl; k++)
            ok = ok && is_ident_char(colon[1 + k]);
        if (!ok) {
            size_t off = (size_t)(colon - s->text);
            loader_error(L, ex->file, src_line(s, off), src_col(s, off),
                         "bad group name in {%.*s}: write {TYPE:name} with a name of letters, digits and _",
                         (int)(end - p), p);
            bad = 1;
        }
    }
    if (bad) {
        ex->errors++;
        return;
    }
    char buf[64];
    if (colon) {
        emit(ex, "(?<", 3, line, col, 0);
        emit(ex, colon + 1, gl, line, col, 0);
        emit(ex, ">", 1, line, col, 0);
    } else {
        emit(ex, "(?:", 3, line, col, 0);
    }
    if (nbytes == 0) {
        emit(ex, "(?!)", 4, line, col, 0); /* {ANY} in a set without types matches nothing */
    } else {
        if (nbytes > 1)
            emit(ex, "[", 1, line, col, 0);
        for (size_t k = 0; k < nbytes; k++) {
            int n = snprintf(buf, sizeof(buf), "\\x{%02x}", bytes[k]);
            emit(ex, buf, (size_t)n, line, col, 0);
        }
        if (nbytes > 1)
            emit(ex, "]", 1, line, col, 0);
    }
    emit(ex, "\\x{1f}*+)", 9, line, col, 0);
}

/* Length of the escape starting at s[i] == '\\'. */
static size_t escape_length(const char *t, size_t i, size_t len)
{
    if (i + 1 >= len)
        return 1;
    char d = t[i + 1];
    if (d == 'Q') {
        for (size_t k = i + 2; k + 1 < len; k++)
            if (t[k] == '\\' && t[k + 1] == 'E')
                return k + 2 - i;
        return len - i;
    }
    if (strchr("pPxoNgk", d) && i + 2 < len && (t[i + 2] == '{' || t[i + 2] == '<')) {
        char close = t[i + 2] == '{' ? '}' : '>';
        for (size_t k = i + 3; k < len; k++)
            if (t[k] == close)
                return k + 1 - i;
        return len - i;
    }
    return 2;
}

static void expand(expander_t *ex, const source_t *s, size_t macro_limit, int depth)
{
    const char *t = s->text;
    size_t len = s->len, i = 0, lit = 0;
    int in_class = 0;
    while (i < len) {
        char c = t[i];
        size_t n = 1;
        if (c == '\\') {
            n = escape_length(t, i, len);
        } else if (in_class) {
            if (c == '[' && i + 1 < len && t[i + 1] == ':') {
                const char *e = strstr(t + i, ":]");
                n = e && (size_t)(e - t) < len ? (size_t)(e - t) + 2 - i : 1;
            } else if (c == ']' && in_class > 1) {
                in_class = 0;
            } else {
                in_class = 2;
            }
        } else if (c == '[') {
            in_class = 1;
            if (i + 1 < len && t[i + 1] == '^')
                n = 2;
        } else if (c == '(' && i + 2 < len && t[i + 1] == '?' && t[i + 2] == '#') {
            const char *e = memchr(t + i, ')', len - i);
            n = e ? (size_t)(e - t) + 1 - i : len - i;
        } else if (c == '@' && i + 1 < len && (is_alpha(t[i + 1]) || t[i + 1] == '_')) {
            size_t e = i + 1;
            while (e < len && is_ident_char(t[e]))
                e++;
            copy_src(ex, s, lit, i - lit);
            expand_macro(ex, s, i, e, macro_limit, depth);
            i = lit = e;
            continue;
        } else if (c == '{' && i + 1 < len && is_alpha(t[i + 1]) && !ex->check_only) {
            const char *close = memchr(t + i, '}', len - i);
            if (close == NULL) {
                loader_error(ex->L, ex->file, src_line(s, i), src_col(s, i),
                             "unterminated entity reference: '{' without its '}'");
                ex->errors++;
                return;
            }
            copy_src(ex, s, lit, i - lit);
            expand_type_ref(ex, s, i, (size_t)(close - t));
            i = lit = (size_t)(close - t) + 1;
            continue;
        }
        if (in_class == 1 && c != '[')
            in_class = 2;
        i += n;
    }
    copy_src(ex, s, lit, len - lit);
}

int pattern_check_macro_refs(loader_t *L, const char *file, const logical_line_t *ll, size_t from,
                             size_t macro_limit)
{
    expander_t ex;
    memset(&ex, 0, sizeof(ex));
    ex.L = L;
    ex.file = file;
    ex.check_only = 1;
    source_t s = {ll->text + from, ll->len - from, ll->lines + from, ll->cols + from, 0, 0};
    expand(&ex, &s, macro_limit, 0);
    return ex.errors;
}

/* Fills rule->groups with the named groups numbered up to last: the pattern's own, not the
 * subroutines its call form adds after them.  In group number order. */
static int collect_groups(loader_t *L, rule_t *rule, uint32_t last)
{
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(rule->code, PCRE2_INFO_NAMECOUNT, &count);
    if (count == 0)
        return 0;
    pcre2_pattern_info(rule->code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(rule->code, PCRE2_INFO_NAMETABLE, &table);
    rule->groups = nerd_arena_alloc(L->set->pool, count * sizeof(rule_group_t));
    if (rule->groups == NULL) {
        L->nomem = 1;
        return -1;
    }
    for (uint32_t k = 0; k < count; k++) {
        PCRE2_SPTR e = table + (size_t)k * entry_size;
        rule_group_t g = {(const char *)(e + 2), (uint32_t)((e[0] << 8) | e[1])};
        if (g.number > last)
            continue;
        /* insertion by number: the table is sorted by name */
        size_t at = rule->group_count;
        while (at > 0 && rule->groups[at - 1].number > g.number) {
            rule->groups[at] = rule->groups[at - 1];
            at--;
        }
        rule->groups[at] = g;
        rule->group_count++;
    }
    return 0;
}

/* Whether prev allows few places in ASCII text: every condition names a line break, or a
 * blank after a few punctuation marks, not just any blank or any non-letter (PCRE2's own scan
 * is cheaper than an anchored call at every word). */
static int prev_is_narrow(const prefilter_prev_t *prev)
{
    for (int k = 0; k < prev->count; k++) {
        size_t n1 = 0, n2 = 0;
        for (unsigned b = 0; b < 0x80; b++) {
            n1 += prefilter_has(prev->b1[k], (unsigned char)b);
            n2 += prefilter_has(prev->b2[k], (unsigned char)b);
        }
        if (n1 > 2 && n2 > 16)
            return 0;
    }
    return prev->count > 0;
}

static unsigned bitmap_count(const uint8_t *bitmap)
{
    unsigned n = 0;
    for (unsigned b = 0; b < 256; b++)
        n += prefilter_has(bitmap, (unsigned char)b);
    return n;
}

/*
 * When PCRE2 found no quick way to the start of a match but the pattern can only start with
 * some bytes, or only after some bytes (a lookbehind, \b), keeps an anchored copy to try at
 * those places only (see extract_run_pattern()).
 */
static void add_prefilter(rule_t *rule, const char *text, size_t len, const char *compiled,
                          size_t compiled_len, uint32_t opts)
{
    uint32_t first_type = 0;
    const uint8_t *bitmap = NULL;
    pcre2_pattern_info(rule->code, PCRE2_INFO_FIRSTCODETYPE, &first_type);
    pcre2_pattern_info(rule->code, PCRE2_INFO_FIRSTBITMAP, &bitmap);
    if (first_type != 0)
        return;   /* PCRE2 jumps to the first character itself */
    if (bitmap != NULL && bitmap_count(bitmap) > 128)
        bitmap = NULL;   /* a lookahead's first bytes ("(?=[^,]{1,60},)"): no skipping at all */
    int caseless = (opts & PCRE2_CASELESS) != 0;
    uint8_t start_bytes[32];   /* the bytes a match can start with (prefilter.h) */
    int prev = prefilter_prev_bytes(text, len, caseless, 0, &rule->prev);
    prev |= prefilter_prev_bytes(text, len, caseless, 1, &rule->prev_word);
    if (bitmap != NULL) {
        /* PCRE2 knows the first bytes but would still try after any byte: worth an anchored
         * copy only where few places qualify (a line start, a sentence start) */
        if (!prev || !prev_is_narrow(&rule->prev_word))
            return;
        memcpy(start_bytes, bitmap, sizeof(start_bytes));
    } else {
        int first = prefilter_first_bytes(text, len, caseless, start_bytes);
        if (!first)
            memset(start_bytes, 0xFF, sizeof(start_bytes));
        if (!first && !prev)
            return;
    }
    int err;
    PCRE2_SIZE off;
    /* no start-up optimisation: for an anchored attempt it would only look for a required
     * character, scanning the rest of the window at every attempt (most of the cost of a failing
     * attempt); the pattern has no backtracking verbs, whose outcome it could change */
    rule->anchored = pcre2_compile((PCRE2_SPTR)compiled, compiled_len,
                                   opts | PCRE2_ANCHORED | PCRE2_NO_START_OPTIMIZE, &err, &off, NULL);
    if (rule->anchored) {
        rule->anchored_jit = pcre2_jit_compile(rule->anchored, PCRE2_JIT_COMPLETE) == 0;
        rule->at_capitals = rules_starts_at_capitals(start_bytes);
        for (unsigned b = 0; b < 256; b++)
            rule->start_table[b] = (uint8_t)prefilter_has(start_bytes, (unsigned char)b);
    }
}

/*
 * One pattern on its way through pass two.  Expansion and the final checks touch the loader
 * (macros, errors, the set's pool) and run in order; the PCRE2 compile and JIT in between touch
 * only this job and its rule, and run on several threads (they are most of the load time).
 */
typedef struct compile_job {
    rule_t *rule;
    expander_t ex;                 /* the expansion, with its source map for errors */
    char *fast;                    /* the expansion with its word lists as tries, or NULL */
    size_t fast_len;
    size_t subroutines;            /* named groups the call form added (callform.h) */
    size_t text_len;               /* the expansion's length, kept when its text is freed */
    int ok;                        /* expansion succeeded: compile it */
    int err;                       /* PCRE2 error code when rule->code stays NULL */
    PCRE2_SIZE off;
    prefilter_set_t *words;        /* what every match contains (gate.h), or NULL */
} compile_job_t;

/* What a compile thread remembers from one pattern to the next: the word lists and groups that
 * macros repeat (alttrie.h, prefilter.h).  Either may be NULL (then it is worked out again). */
typedef struct compile_memo {
    memo_t *tries;
    memo_t *sets;
} compile_memo_t;

static void compile_memo_init(compile_memo_t *memo)
{
    memo->tries = memo_new();
    memo->sets = memo_new();
}

static void compile_memo_free(compile_memo_t *memo)
{
    memo_destroy(&memo->tries);
    memo_destroy(&memo->sets);
}

static void expand_job(loader_t *L, pending_pattern_t *pp, compile_job_t *job)
{
    job->rule = &L->set->rules[pp->rule];
    job->rule->gate_bit = -1;
    job->ex.L = L;
    job->ex.file = pp->file;
    strbuf_init(&job->ex.out);
    source_t s = {pp->text, pp->len, pp->lines, pp->cols, 0, 0};
    expand(&job->ex, &s, pp->macro_limit, 0);
    if (job->ex.errors || L->nomem)
        return;
    job->ok = 1;
}

/* The words one of which every match contains, for the gate, and whether a match stays on one
 * line.  ends: prefilter_group_ends() of text, or NULL. */
static void add_gate_words(compile_job_t *job, const char *text, size_t len,
                           const uint32_t *ends, memo_t *memo)
{
    rule_t *rule = job->rule;
    rule->single_line = !prefilter_may_cross_lines(text, len);
    rule->gate_caseless = rule->caseless || strstr(text, "(?i") != NULL;
    job->words = malloc(sizeof(*job->words));
    if (job->words != NULL && !prefilter_required_set_with(memo, text, len, ends, job->words)) {
        free(job->words);
        job->words = NULL;
    }
}

/* The form of the tried text that PCRE2 compiles: with its repeated groups as subroutines
 * (callform.h), or NULL when that does not compile or there is none. */
static char *compile_call_form(compile_job_t *job, const char *text, size_t len,
                               const uint32_t *ends, uint32_t opts, size_t *call_len)
{
    char *calls = callform_rewrite(text, len, ends, CALLFORM_MIN_GROUP, call_len,
                                   &job->subroutines);
    if (calls == NULL)
        return NULL;
    job->rule->code = pcre2_compile((PCRE2_SPTR)calls, *call_len, opts, &job->err, &job->off, NULL);
    if (job->rule->code == NULL) {
        free(calls);
        job->subroutines = 0;
        return NULL;
    }
    return calls;
}

/* The PCRE2 part: the tried form when it compiles (in its call form when that compiles), else
 * the pattern as written (whose error offsets point into the rule file); then the prefilter,
 * the anchored copy and JIT.  The analyses read the tried form, whose groups are all in place. */
static void compile_job(compile_job_t *job, compile_memo_t *memo)
{
    rule_t *rule = job->rule;
    /* the search form may be held to one line of the text (pcre2_set_offset_limit, gate.h) */
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_USE_OFFSET_LIMIT |
                    (rule->caseless ? PCRE2_CASELESS : 0);
    const char *text = job->ex.out.data ? job->ex.out.data : "";
    size_t text_len = job->ex.out.len;
    char *calls = NULL;
    size_t call_len = 0;
    uint32_t *ends = NULL;   /* the tried form's groups, for the call form and the gate words */
    job->fast_len = text_len;
    job->fast = alttrie_rewrite_with(memo->tries, text, text_len, &job->fast_len);
    if (job->fast != NULL) {
        ends = prefilter_group_ends(job->fast, job->fast_len);
        calls = compile_call_form(job, job->fast, job->fast_len, ends, opts, &call_len);
        if (rule->code == NULL)
            rule->code = pcre2_compile((PCRE2_SPTR)job->fast, job->fast_len, opts, &job->err,
                                       &job->off, NULL);
        if (rule->code != NULL) {
            text = job->fast;
            text_len = job->fast_len;
        }
    }
    if (rule->code == NULL)
        rule->code = pcre2_compile((PCRE2_SPTR)text, text_len, opts, &job->err, &job->off, NULL);
    if (rule->code != NULL) {
        add_prefilter(rule, text, text_len, calls ? calls : text, calls ? call_len : text_len,
                      opts & ~(uint32_t)PCRE2_USE_OFFSET_LIMIT);
        add_gate_words(job, text, text_len, text == job->fast ? ends : NULL, memo->sets);
        /* a rule with an anchored copy never runs its search form: JIT compile only what runs */
        if (rule->anchored == NULL)
            rule->jit = pcre2_jit_compile(rule->code, PCRE2_JIT_COMPLETE) == 0;
    }
    free(calls);
    free(ends);
}

static void report_compile_error(loader_t *L, pending_pattern_t *pp, compile_job_t *job)
{
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(job->err, msg, sizeof(msg));
    size_t off = job->off > job->text_len ? job->text_len : job->off;
    uint32_t line = job->ex.lines ? job->ex.lines[off] : pp->lines[0];
    uint32_t col = job->ex.cols ? job->ex.cols[off] : pp->cols[0];
    const char *name = job->rule->name;
    if (job->err == PCRE2_ERROR_PATTERN_TOO_LARGE)
        loader_error(L, pp->file, line, col,
                     "the pattern of %s does not compile: %s (its compiled form passes "
                     "PCRE2's 64 KB limit: a group repeated {n,m} is copied m times and a "
                     "@MACRO at every use; %zu bytes after macro expansion)", name,
                     (const char *)msg, job->text_len);
    else
        loader_error(L, pp->file, line, col, "the pattern of %s does not compile: %s", name,
                     (const char *)msg);
}

/* What the set learns from a compiled pattern: capture count, groups, span and canonical. */
static void finish_job(loader_t *L, pending_pattern_t *pp, compile_job_t *job)
{
    rule_t *rule = job->rule;
    if (!job->ok)
        return;
    if (rule->code == NULL) {
        report_compile_error(L, pp, job);
        return;
    }
    uint32_t captures = 0;
    pcre2_pattern_info(rule->code, PCRE2_INFO_CAPTURECOUNT, &captures);
    if (captures > L->set->max_captures)
        L->set->max_captures = captures;
    if (collect_groups(L, rule, captures - (uint32_t)job->subroutines) != 0)
        return;
    int span = pcre2_substring_number_from_name(rule->code, (PCRE2_SPTR) "span");
    rule->span_group = span > 0 ? (uint32_t)span : 0;
    if (pp->canonical) {
        int g = pcre2_substring_number_from_name(rule->code, (PCRE2_SPTR)pp->canonical);
        if (g <= 0)
            loader_error(L, pp->file, pp->canonical_line, pp->canonical_col,
                         "canonical=%s names no group of the pattern: add (?<%s>...) to it",
                         pp->canonical, pp->canonical);
        else
            rule->canonical_group = (uint32_t)g;
    }
    if (rule->kind == RULE_RELATION && rule->group_count == 0)
        loader_error(L, pp->file, pp->lines[0], pp->cols[0],
                     "the relation %s has no named group: its arguments are written (?<role>...) "
                     "or {TYPE:role}", rule->name);
}

/* Frees what the job held for compiling and reporting; its words stay for the gate. */
static void free_job_text(compile_job_t *job)
{
    free(job->fast);
    strbuf_free(&job->ex.out);
    free(job->ex.lines);
    free(job->ex.cols);
    job->fast = NULL;
    job->ex.lines = job->ex.cols = NULL;
}

/* Compiles an expanded job and frees its texts at once; the source map stays only when the
 * pattern did not compile (report_compile_error() needs it).  memo: the calling thread's. */
static void run_job(compile_job_t *job, compile_memo_t *memo)
{
    if (!job->ok)
        return;
    compile_job(job, memo);
    job->text_len = job->ex.out.len;
    if (job->rule->code != NULL) {
        free_job_text(job);
        return;
    }
    free(job->fast);
    job->fast = NULL;
    strbuf_free(&job->ex.out);
}

/*
 * The loader's thread expands the jobs in rule order (expansion touches the loader) while the
 * compile threads take each job as soon as it is expanded: no processor waits for the others
 * between groups of jobs.  Expanding is much faster than compiling, so the loader's thread
 * compiles too whenever COMPILE_AHEAD expanded jobs wait, which bounds the expansions (with a
 * source position per byte, several times the pattern's size) held at once.
 */
#define COMPILE_AHEAD 48

typedef struct compile_pool {
    compile_job_t *jobs;
    size_t count;
    size_t expanded;               /* jobs[0..expanded) may be compiled */
    size_t next;                   /* the next job to compile */
    pthread_mutex_t lock;          /* guards expanded and next */
    pthread_cond_t more;           /* expanded grew */
} compile_pool_t;

/* The index of the next expanded job, now taken; count when there is none.  With wait set, it
 * waits for the loader's thread while jobs remain to be expanded. */
static size_t take_job(compile_pool_t *pool, int wait)
{
    pthread_mutex_lock(&pool->lock);
    while (wait && pool->next == pool->expanded && pool->expanded < pool->count)
        pthread_cond_wait(&pool->more, &pool->lock);
    size_t k = pool->next < pool->expanded ? pool->next++ : pool->count;
    pthread_mutex_unlock(&pool->lock);
    return k;
}

/* Makes jobs[0..expanded) available; returns how many of them wait to be taken. */
static size_t publish(compile_pool_t *pool, size_t expanded)
{
    pthread_mutex_lock(&pool->lock);
    pool->expanded = expanded;
    size_t waiting = pool->expanded - pool->next;
    pthread_cond_broadcast(&pool->more);
    pthread_mutex_unlock(&pool->lock);
    return waiting;
}

/* Compiles jobs until none is left to take. */
static void compile_until_done(compile_pool_t *pool, compile_memo_t *memo)
{
    for (size_t k; (k = take_job(pool, 1)) < pool->count;)
        run_job(&pool->jobs[k], memo);
}

/* A compile thread, with its own memo. */
static void *compile_worker(void *arg)
{
    compile_memo_t memo;
    compile_memo_init(&memo);
    compile_until_done(arg, &memo);
    compile_memo_free(&memo);
    return NULL;
}

#define COMPILE_MAX_THREADS 8

/* Starts a compile thread per further processor (up to 8 in all with the loader's thread),
 * as many as can be started; returns their number. */
static size_t start_workers(compile_pool_t *pool, pthread_t *threads)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t extra = cpus > 1 ? (size_t)cpus - 1 : 0;
    if (extra > COMPILE_MAX_THREADS - 1)
        extra = COMPILE_MAX_THREADS - 1;
    if (extra > pool->count / 8)
        extra = pool->count / 8;   /* a handful of patterns is not worth a thread */
    size_t started = 0;
    while (started < extra && pthread_create(&threads[started], NULL, compile_worker, pool) == 0)
        started++;
    return started;
}

/* Expands every job and compiles them all, on the compile threads and this one. */
static void compile_jobs(loader_t *L, compile_job_t *jobs, size_t n)
{
    compile_pool_t pool = {jobs, n, 0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    pthread_t threads[COMPILE_MAX_THREADS];
    size_t started = start_workers(&pool, threads);
    compile_memo_t memo;
    compile_memo_init(&memo);
    for (size_t k = 0; k < n; k++) {
        if (!L->nomem)
            expand_job(L, &L->pending[k], &jobs[k]);
        if (publish(&pool, k + 1) < COMPILE_AHEAD)
            continue;
        size_t j = take_job(&pool, 0);
        if (j < n)
            run_job(&jobs[j], &memo);
    }
    compile_until_done(&pool, &memo);
    compile_memo_free(&memo);
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    pthread_mutex_destroy(&pool.lock);
    pthread_cond_destroy(&pool.more);
}

/* Checks the type names that test lines use, now that every rule is known. */
static void check_test_names(loader_t *L)
{
    for (size_t k = 0; k < L->name_count; k++) {
        pending_name_t *pn = &L->names[k];
        size_t n = strlen(pn->name);
        int found = pn->relation ? loader_relation_type(L, pn->name, n, 0) >= 0
                                 : loader_type(L, pn->name, n, 0) >= 0;
        if (!found)
            loader_error(L, pn->file, pn->line, pn->col,
                         "the test expects %s '%s', which no rule of the set produces",
                         pn->relation ? "a relation" : "an entity type", pn->name);
    }
}

/* Numbers the rules that have words and builds the gate over them. */
static void build_gate(loader_t *L, compile_job_t *jobs, size_t n)
{
    const prefilter_set_t **sets = malloc((n ? n : 1) * sizeof(*sets));
    if (sets == NULL) {
        L->nomem = 1;
        return;
    }
    size_t count = 0;
    for (size_t k = 0; k < n; k++) {
        jobs[k].rule->gate_bit = -1;
        if (jobs[k].words != NULL && jobs[k].rule->code != NULL) {
            jobs[k].rule->gate_bit = (int)count;
            sets[count++] = jobs[k].words;
        }
    }
    if (count > 0 && (L->set->gate = gate_build(sets, count)) == NULL)
        L->nomem = 1;
    free(sets);
}

void pattern_compile_all(loader_t *L)
{
    size_t n = L->pending_count;
    compile_job_t *jobs = calloc(n ? n : 1, sizeof(*jobs));
    if (jobs == NULL) {
        L->nomem = 1;
        return;
    }
    compile_jobs(L, jobs, n);
    for (size_t k = 0; k < n; k++) {
        if (!L->nomem)
            finish_job(L, &L->pending[k], &jobs[k]);
        free_job_text(&jobs[k]);
    }
    if (!L->nomem && L->error_count == 0)
        build_gate(L, jobs, n);
    for (size_t k = 0; k < n; k++)
        free(jobs[k].words);
    free(jobs);
    check_test_names(L);
}
