/*
 * test_engine.c - unit tests of the extraction engine: arena, UTF-8, tokeniser, gazetteer,
 * and nerd_extract() on the small rule sets under tests/unit/fixtures/ (phases, overlaps,
 * nesting, linking, relations, pronouns, limits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alttrie.h"
#include "callform.h"
#include "extract.h"
#include "gate.h"
#include "gazetteer.h"
#include "nerd.h"
#include "prefilter.h"
#include "token.h"
#include "testlib.h"

static nerd_rules_t *load_fixture(const char *name)
{
    char *errors = NULL;
    nerd_rules_t *r = nerd_rules_load(fixture(name), &errors);
    if (r == NULL)
        fprintf(stderr, "loading %s failed:\n%s", fixture(name), errors ? errors : "(no text)\n");
    free(errors);
    assert_non_null(r);
    return r;
}

/* Loads a rule set of one file holding text (written to a temporary folder, removed again). */
static nerd_rules_t *load_text(const char *text)
{
    char *errors = NULL;
    nerd_rules_t *r = load_rules_text(text, &errors);
    if (r == NULL)
        fprintf(stderr, "loading the rule set failed:\n%s", errors ? errors : "(no text)\n");
    free(errors);
    assert_non_null(r);
    return r;
}
static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const nerd_entity_t *entity_with_text(const nerd_result_t *res, const char *text)
{
    for (size_t k = 0; k < res->entity_count; k++)
        if (strcmp(res->entities[k].text, text) == 0)
            return &res->entities[k];
    return NULL;
}

static const nerd_arg_t *find_arg(const nerd_relation_t *rel, const char *role)
{
    for (size_t a = 0; a < rel->arg_count; a++)
        if (strcmp(rel->args[a].role, role) == 0)
            return &rel->args[a];
    return NULL;
}

static int extract(nerd_worker_t *w, const nerd_rules_t *r, const char *text,
                   const nerd_limits_t *lim, const nerd_result_t **res)
{
    return nerd_extract(w, r, text, strlen(text), lim, res);
}

/* ---- arena ---- */

static void test_arena_alloc_and_reset(void **state)
{
    (void)state;
    nerd_arena_t *a = nerd_arena_new(1024);
    assert_non_null(a);
    assert_int_equal(nerd_arena_used(a), 0);
    char *first = nerd_arena_alloc(a, 10);
    assert_non_null(first);
    memset(first, 'x', 10);
    for (int i = 0; i < 500; i++) {
        void *p = nerd_arena_alloc(a, (size_t)(i % 37) + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        memset(p, 0xAB, (size_t)(i % 37) + 1);
    }
    assert_true(nerd_arena_used(a) > 500);
    /* a big allocation gets its own block and stays intact */
    unsigned char *big = nerd_arena_alloc(a, 100000);
    assert_non_null(big);
    memset(big, 7, 100000);
    char *after = nerd_arena_alloc(a, 16);
    assert_non_null(after);
    assert_int_equal(big[99999], 7);
    assert_memory_equal(first, "xxxxxxxxxx", 10);
    char *s = nerd_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    nerd_arena_reset(a);
    assert_int_equal(nerd_arena_used(a), 0);
    /* the first block is kept: the first allocation lands where it did before */
    assert_ptr_equal(nerd_arena_alloc(a, 10), first);
    nerd_arena_destroy(&a);
    assert_null(a);
    nerd_arena_destroy(&a);
    nerd_arena_destroy(NULL);
}

static void test_errors_names(void **state)
{
    (void)state;
    assert_string_equal(nerd_strerror_name(NERD_OK), "ok");
    assert_string_equal(nerd_strerror_name(NERD_EINVAL), "invalid");
    assert_string_equal(nerd_strerror_name(NERD_ENOMEM), "nomem");
    assert_string_equal(nerd_strerror_name(NERD_EUTF8), "utf8");
    assert_string_equal(nerd_strerror_name(NERD_ETOOBIG), "too_big");
    assert_string_equal(nerd_strerror_name(NERD_EENTITIES), "entities");
    assert_string_equal(nerd_strerror_name(NERD_EMATCHLIMIT), "match_limit");
    assert_string_equal(nerd_strerror_name(NERD_ETIMEOUT), "timeout");
    assert_string_equal(nerd_strerror_name(NERD_ERULES), "rules");
    assert_string_equal(nerd_strerror_name(NERD_EIO), "io");
    assert_non_null(nerd_strerror(-1234));
    assert_string_equal(nerd_strerror_name(-1234), "unknown");
    assert_true(strlen(nerd_strerror(NERD_EUTF8)) > 5);
}

/* ---- UTF-8 ---- */

static void test_utf8_valid(void **state)
{
    (void)state;
    static const char *const good[] = {
        "", "plain ASCII text that is longer than eight bytes", "Z\xC3\xBCrich",
        "\xE5\x8F\xB0\xE5\x8C\x97", "\xF0\x9F\x98\x80 emoji", "\xF4\x8F\xBF\xBF",
        "\xEF\xBB\xBF" "BOM", "\xED\x9F\xBF" /* U+D7FF, just below the surrogates */,
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(nerd_utf8_check(good[i], strlen(good[i]), NULL), 0);
    assert_int_equal(nerd_utf8_check(NULL, 0, NULL), 0);
    /* NUL bytes are valid UTF-8 */
    assert_int_equal(nerd_utf8_check("a\0b", 3, NULL), 0);
}

static void test_utf8_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t bad;
    } cases[] = {
        {"ab\xC0\x80", 2},                    /* overlong NUL */
        {"\xC1\xBF", 0},                      /* overlong 2-byte */
        {"x\xE0\x80\x80", 1},                 /* overlong 3-byte */
        {"\xF0\x80\x80\x80", 0},              /* overlong 4-byte */
        {"abc\xED\xA0\x80", 3},               /* surrogate U+D800 */
        {"\xED\xBF\xBF", 0},                  /* surrogate U+DFFF */
        {"\xF4\x90\x80\x80", 0},              /* above U+10FFFF */
        {"\xF5\x80\x80\x80", 0},              /* invalid lead byte */
        {"\xFF", 0},
        {"ok \x80", 3},                       /* lone continuation */
        {"\xE2\x82", 0},                      /* truncated */
        {"\xE2\x28\xA1", 0},                  /* bad continuation */
        {"0123456789abcdefghij\xC3", 20},     /* after the eight-byte fast path */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t off = 999;
        assert_int_equal(nerd_utf8_check(cases[i].s, strlen(cases[i].s), &off), NERD_EUTF8);
        assert_int_equal(off, cases[i].bad);
    }
    assert_int_equal(nerd_utf8_check(NULL, 3, NULL), NERD_EINVAL);
}

/* ---- tokeniser ---- */

static size_t split(nerd_arena_t *a, const char *text, token_t **toks)
{
    size_t n = 0;
    assert_int_equal(token_split(a, text, strlen(text), toks, &n), 0);
    return n;
}

static void assert_token(const char *text, const token_t *t, const char *want)
{
    assert_int_equal(t->end - t->start, strlen(want));
    assert_memory_equal(text + t->start, want, strlen(want));
}

static void test_tokens_split(void **state)
{
    (void)state;
    nerd_arena_t *a = nerd_arena_new(0);
    token_t *t;
    const char *s1 = "The Party\xE2\x80\x99s Chun-chang, NATO 2024.";
    size_t n = split(a, s1, &t);
    assert_int_equal(n, 11);
    static const char *const want[] = {"The", "Party", "\xE2\x80\x99", "s", "Chun", "-", "chang",
                                       ",", "NATO", "2024", "."};
    for (size_t i = 0; i < n; i++)
        assert_token(s1, &t[i], want[i]);
    assert_true(t[0].flags & TOK_CAP);
    assert_true(t[0].flags & TOK_SPACE_BEFORE);
    assert_false(t[0].flags & TOK_ALLCAPS);
    assert_true(t[2].flags & TOK_PUNCT);
    assert_false(t[2].flags & TOK_SPACE_BEFORE);
    assert_false(t[3].flags & TOK_CAP);
    assert_true(t[8].flags & TOK_ALLCAPS);
    assert_true(t[9].flags & TOK_DIGIT);
    assert_false(t[9].flags & TOK_CAP);
    assert_true(t[10].flags & TOK_PUNCT);
    nerd_arena_destroy(&a);
}

static void test_tokens_unicode_and_lines(void **state)
{
    (void)state;
    nerd_arena_t *a = nerd_arena_new(0);
    token_t *t;
    /* Zürich, Ōsaka (Latin Extended-A capital), a CJK run ended by an ideographic full stop,
     * a no-break space, a line break and a paragraph break */
    const char *s = "Z\xC3\xBCrich \xC5\x8Csaka\xC2\xA0x\n\xE5\x8F\xB0\xE5\x8C\x97\xE3\x80\x82\n\nEnd";
    size_t n = split(a, s, &t);
    assert_int_equal(n, 6);
    assert_token(s, &t[0], "Z\xC3\xBCrich");
    assert_true(t[0].flags & TOK_CAP);
    assert_token(s, &t[1], "\xC5\x8Csaka");
    assert_true(t[1].flags & TOK_CAP);
    assert_token(s, &t[2], "x");
    assert_true(t[2].flags & TOK_SPACE_BEFORE);
    assert_token(s, &t[3], "\xE5\x8F\xB0\xE5\x8C\x97");
    assert_true(t[3].flags & TOK_NEWLINE_BEFORE);
    assert_false(t[3].flags & TOK_PARA_BEFORE);
    assert_true(t[4].flags & TOK_PUNCT);
    assert_token(s, &t[5], "End");
    assert_true(t[5].flags & TOK_PARA_BEFORE);
    /* an empty text has no tokens; a long one grows the array */
    assert_int_equal(split(a, "", &t), 0);
    char *long_text = malloc(40001);
    for (int i = 0; i < 20000; i++) {
        long_text[2 * i] = 'w';
        long_text[2 * i + 1] = ' ';
    }
    long_text[40000] = '\0';
    assert_int_equal(split(a, long_text, &t), 20000);
    assert_int_equal(t[19999].start, 39998);
    free(long_text);
    nerd_arena_destroy(&a);
}

static void test_tokens_case_mapping(void **state)
{
    (void)state;
    assert_int_equal(token_char_lower('A'), 'a');
    assert_int_equal(token_char_lower(0xC9), 0xE9);      /* É -> é */
    assert_int_equal(token_char_upper(0xE9), 0xC9);
    assert_int_equal(token_char_lower(0x014C), 0x014D);  /* Ō -> ō */
    assert_int_equal(token_char_upper(0x014D), 0x014C);
    assert_int_equal(token_char_lower(0x0416), 0x0436);  /* Ж -> ж */
    assert_int_equal(token_char_upper(0x00D7), 0x00D7);  /* × has no case */
    assert_int_equal(token_char_class(0x3002), CHAR_PUNCT);
    assert_int_equal(token_char_class(0x00A0), CHAR_SPACE);
    assert_int_equal(token_char_class(0x4E2D), CHAR_LETTER);
}

/* ---- gazetteer ---- */

typedef struct hits {
    size_t count;
    size_t tok[16], ntok[16];
    char canon[16][64];
} hits_t;

static int collect(void *ctx, size_t tok, size_t ntok, const gazetteer_value_t *v)
{
    hits_t *h = ctx;
    if (h->count < 16) {
        h->tok[h->count] = tok;
        h->ntok[h->count] = ntok;
        snprintf(h->canon[h->count], 64, "%.*s", (int)v->canonical_len, v->canonical);
    }
    h->count++;
    return 0;
}

static hits_t lookup(const gazetteer_t *g, nerd_arena_t *a, const char *text)
{
    hits_t h;
    memset(&h, 0, sizeof(h));
    token_t *t;
    size_t n = split(a, text, &t);
    assert_int_equal(gazetteer_lookup(g, text, t, n, collect, &h), 0);
    return h;
}

static void test_gazetteer_modes(void **state)
{
    (void)state;
    gazetteer_t *g = gazetteer_new();
    nerd_arena_t *a = nerd_arena_new(0);
    const char *canon = "Chinese Communist Party";
    assert_int_equal(gazetteer_add(g, canon, strlen(canon), GAZ_CASE_SENSITIVE, 1, canon, strlen(canon)), 0);
    assert_int_equal(gazetteer_add(g, "CCP", 3, GAZ_CASE_SENSITIVE, 1, canon, strlen(canon)), 0);
    assert_int_equal(gazetteer_add(g, "new york", 8, GAZ_CASE_SMART, 2, "New York", 8), 0);
    assert_int_equal(gazetteer_add(g, "Xinhua", 6, GAZ_CASE_INSENSITIVE, 3, "Xinhua", 6), 0);
    /* nine tokens: longer than any n-gram the lookup tries, so skipped */
    assert_int_equal(gazetteer_add(g, "a b c d e f g h i", 17, GAZ_CASE_SENSITIVE, 4, "x", 1), 1);

    hits_t h = lookup(g, a, "The Chinese Communist Party (CCP) and the chinese communist party.");
    assert_int_equal(h.count, 2);
    assert_int_equal(h.tok[0], 1);
    assert_int_equal(h.ntok[0], 3);
    assert_string_equal(h.canon[1], canon);

    h = lookup(g, a, "new york, NEW YORK, New York, New york");
    assert_int_equal(h.count, 3); /* as written, all caps, title case; not "New york" */
    assert_string_equal(h.canon[2], "New York");

    h = lookup(g, a, "XINHUA xinhua XinHua Xinhuanet");
    assert_int_equal(h.count, 3);
    /* the same answers through the first-token filter */
    assert_int_equal(gazetteer_freeze(g), 0);
    h = lookup(g, a, "XINHUA xinhua the Chinese Communist Party, NEW YORK, New york");
    assert_int_equal(h.count, 4);
    /* a prefix alone is no hit */
    h = lookup(g, a, "Chinese Communist rally");
    assert_int_equal(h.count, 0);
    assert_int_equal(gazetteer_size(g), 6); /* CCP phrases 2, smart spellings 3, folded 1 */
    gazetteer_destroy(&g);
    assert_null(g);
    nerd_arena_destroy(&a);
}

static void test_gazetteer_nested_phrases(void **state)
{
    (void)state;
    gazetteer_t *g = gazetteer_new();
    nerd_arena_t *a = nerd_arena_new(0);
    assert_int_equal(gazetteer_add(g, "Taiwan", 6, GAZ_CASE_SENSITIVE, 1, "Taiwan", 6), 0);
    assert_int_equal(gazetteer_add(g, "National Taiwan University", 26, GAZ_CASE_SENSITIVE, 2,
                                   "NTU", 3), 0);
    hits_t h = lookup(g, a, "at National Taiwan University");
    /* both the long phrase and the word inside it are reported: resolution picks later */
    assert_int_equal(h.count, 2);
    assert_string_equal(h.canon[0], "NTU");
    assert_int_equal(h.ntok[0], 3);
    assert_string_equal(h.canon[1], "Taiwan");
    gazetteer_destroy(&g);
    nerd_arena_destroy(&a);
}


/* ---- prefilter ---- */

static int first_bytes(const char *pattern, int caseless, uint8_t bm[32])
{
    return prefilter_first_bytes(pattern, strlen(pattern), caseless, bm);
}

static void test_prefilter_first_bytes(void **state)
{
    (void)state;
    uint8_t bm[32];
    assert_int_equal(first_bytes("\\p{Lu}\\w+", 0, bm), 1);
    assert_true(prefilter_has(bm, 'A'));
    assert_true(prefilter_has(bm, 0xC3));   /* a non-ASCII capital may start it */
    assert_false(prefilter_has(bm, 'a'));
    assert_false(prefilter_has(bm, ' '));
    assert_false(prefilter_has(bm, 0x80));  /* never a continuation byte */
    /* zero-width items are skipped, alternatives are joined */
    assert_int_equal(first_bytes("(?<![\\p{L}.])\\b(?=\\p{Lu})(?:Foo|\\d+|\\x{03}\\x{1f}*+)bar", 0, bm), 1);
    assert_true(prefilter_has(bm, 'F'));
    assert_true(prefilter_has(bm, '7'));
    assert_true(prefilter_has(bm, 0x03));
    assert_false(prefilter_has(bm, 'b'));
    assert_false(prefilter_has(bm, 'A'));
    /* an optional first item lets the next one start the match */
    assert_int_equal(first_bytes("(?:the\\s+)?[XY]z", 0, bm), 1);
    assert_true(prefilter_has(bm, 't') && prefilter_has(bm, 'X') && prefilter_has(bm, 'Y'));
    assert_false(prefilter_has(bm, 'z'));
    /* case-insensitive letters give both cases */
    assert_int_equal(first_bytes("abc", 1, bm), 1);
    assert_true(prefilter_has(bm, 'a') && prefilter_has(bm, 'A'));
    assert_int_equal(first_bytes("(?i)q", 0, bm), 1);
    assert_true(prefilter_has(bm, 'Q'));
    /* a non-ASCII literal gives its lead byte */
    assert_int_equal(first_bytes("[\"\xE2\x80\x9C]x", 0, bm), 1);
    assert_true(prefilter_has(bm, '"') && prefilter_has(bm, 0xE2));
    assert_false(prefilter_has(bm, 0xC3));
    /* patterns that may start anywhere */
    assert_int_equal(first_bytes("a*", 0, bm), 0);
    assert_int_equal(first_bytes(".x", 0, bm), 0);
    assert_int_equal(first_bytes("[^a]x", 0, bm), 0);
    assert_int_equal(first_bytes("x|", 0, bm), 0);
    assert_int_equal(first_bytes("\\Wx", 0, bm), 0);
    assert_int_equal(first_bytes("(*SKIP)x", 0, bm), 0);
    assert_int_equal(first_bytes("(?x) a", 0, bm), 0);
    /* what follows the first required item does not matter, even if unknown */
    assert_int_equal(first_bytes("Q.*[^)]\\W(?:a|)", 0, bm), 1);
    assert_true(prefilter_has(bm, 'Q'));
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The words one of which every match of pattern contains, sorted and joined by '|' into out
 * ("" when none is known). */
static const char *required(const char *pattern, char *out, size_t cap)
{
    prefilter_set_t *set = malloc(sizeof(*set));
    assert_non_null(set);
    out[0] = '\0';
    if (prefilter_required_set(pattern, strlen(pattern), set)) {
        char words[PREFILTER_SET_MAX][PREFILTER_SET_LEN + 1];
        const char *sorted[PREFILTER_SET_MAX];
        for (size_t k = 0; k < set->count; k++) {
            memcpy(words[k], set->text[k], set->len[k]);
            words[k][set->len[k]] = '\0';
            sorted[k] = words[k];
        }
        qsort(sorted, set->count, sizeof(sorted[0]), by_string);
        for (size_t k = 0; k < set->count; k++) {
            if (k > 0)
                strncat(out, "|", cap - strlen(out) - 1);
            strncat(out, sorted[k], cap - strlen(out) - 1);
        }
    }
    free(set);
    return out;
}

static void test_prefilter_required_set(void **state)
{
    (void)state;
    char w[512];
    assert_string_equal(required("(?<span>\\p{Lu}\\w+)\\s+contributed\\s+to\\b", w, sizeof(w)),
                        "contributed");
    assert_string_equal(required("\\p{Lu}\\w+\\s+(?:said|told)\\b", w, sizeof(w)), "said|told");
    /* a word list after alttrie.c made it a trie, and letters in lower case */
    assert_string_equal(required("(?:S(?:aid|ays)|told)", w, sizeof(w)), "said|says|told");
    assert_string_equal(required("x(?:foo)?barre", w, sizeof(w)), "xbarre|xfoobarre");
    assert_string_equal(required("\xE2\x80\x9Cquoted", w, sizeof(w)), "\xE2\x80\x9Cquoted");
    /* a condition is either branch: the words around it still count */
    assert_string_equal(required("\\A(?(?=)|)(?:\\w+\\s)??said\\b", w, sizeof(w)), "said");
    /* nothing every match must consume: lookarounds do not count, a branch without words
     * spoils the set, and words shorter than three bytes are no use */
    assert_string_equal(required("(?=.*needle)\\w+", w, sizeof(w)), "");
    assert_string_equal(required("(?!never)\\w+", w, sizeof(w)), "");
    assert_string_equal(required("said|\\w+", w, sizeof(w)), "");
    assert_string_equal(required("ab", w, sizeof(w)), "");
    assert_string_equal(required("a\\x{03}\\x{1f}*+b", w, sizeof(w)), "");
}

/* A set of one word, for gate_build(). */
static void one_word(prefilter_set_t *set, const char *word)
{
    memset(set, 0, sizeof(*set));
    set->count = 1;
    set->len[0] = (uint8_t)strlen(word);
    memcpy(set->text[0], word, strlen(word));
}

/* Merging masked ranges into a capital list gives the list a new pass over the text would:
 * random texts of capitals and other bytes, random (overlapping, unordered) masks. */
static void test_caps_merge_as_new_pass(void **state)
{
    (void)state;
    enum { LEN = 200 };
    srand(7);
    for (int round = 0; round < 500; round++) {
        char cap[LEN];
        uint32_t caps[LEN], out[2 * LEN + 8], ranges[2 * 8];
        size_t count = 0;
        for (uint32_t i = 0; i < LEN; i++) {
            cap[i] = rand() % 5 == 0;
            if (cap[i])
                caps[count++] = i;
        }
        size_t k = (size_t)(rand() % 8), total = count;
        for (size_t r = 0; r < k; r++) {
            uint32_t a = (uint32_t)(rand() % LEN), n = (uint32_t)(rand() % 12);
            ranges[2 * r] = a;
            ranges[2 * r + 1] = a + n > LEN ? LEN : a + n;
            total += ranges[2 * r + 1] - a;
            memset(cap + a, 1, ranges[2 * r + 1] - a);
        }
        assert_true(total <= sizeof(out) / sizeof(out[0]));
        size_t n = extract_caps_merge(caps, count, ranges, k, out);
        size_t expect = 0;
        for (uint32_t i = 0; i < LEN; i++)
            if (cap[i]) {
                assert_true(expect < n);
                assert_int_equal(out[expect], i);
                expect++;
            }
        assert_int_equal(n, expect);
    }
}

static void test_gate_paragraphs_and_last_words(void **state)
{
    (void)state;
    prefilter_set_t *sets = malloc(2 * sizeof(*sets));
    assert_non_null(sets);
    one_word(&sets[0], "said");
    one_word(&sets[1], "born");
    const prefilter_set_t *list[2] = {&sets[0], &sets[1]};
    gate_t *gate = gate_build(list, 2);
    assert_non_null(gate);
    nerd_arena_t *arena = nerd_arena_new(0);
    assert_non_null(arena);
    /* lines: 0 "Lee said so.", 1 "Ann SAID it", 2 "", 3 " \t", 4 "Born here, said Kim.", 5 "End" */
    const char *text = "Lee said so.\nAnn SAID it\n\n \t\nBorn here, said Kim.\nEnd";
    gate_doc_t doc;
    assert_int_equal(gate_scan(gate, arena, text, strlen(text), &doc), 0);
    /* only the lines with words are kept: 0, 1 and 4 */
    assert_int_equal(doc.line_count, 3);
    assert_int_equal(doc.lines[2].start, 29);
    assert_int_equal(doc.paragraph_count, 2);
    /* the second paragraph starts where the first ended: its blank lines are its own */
    assert_int_equal(doc.paragraphs[0].start, 0);
    assert_int_equal(doc.paragraphs[0].end, 24);
    assert_int_equal(doc.paragraphs[1].start, 24);
    assert_int_equal(doc.paragraphs[1].end, strlen(text));
    assert_int_equal(doc.paragraphs[1].first, 2);
    assert_int_equal(doc.paragraphs[1].last, 2);
    assert_true(gate_has(doc.paragraphs[0].rules, 0));
    assert_false(gate_has(doc.paragraphs[0].rules, 1));
    assert_true(gate_has(doc.paragraphs[1].rules, 0) && gate_has(doc.paragraphs[1].rules, 1));
    /* the last word of a bit ends at the offset of its last byte, case folded */
    assert_int_equal(gate_last_word(&doc, &doc.paragraphs[0], 0), 20);   /* "SAID" */
    assert_int_equal(gate_last_word(&doc, &doc.lines[0], 0), 7);         /* "said" */
    assert_int_equal(gate_last_word(&doc, &doc.paragraphs[1], 1), 32);   /* "Born" */
    assert_int_equal(gate_last_word(&doc, &doc.paragraphs[1], 0), 43);   /* "said" */
    /* a paragraph without words is not kept, but the next one still starts where it ended */
    const char *gap = "said\n\nnothing here\n\nborn";
    assert_int_equal(gate_scan(gate, arena, gap, strlen(gap), &doc), 0);
    assert_int_equal(doc.line_count, 2);
    assert_int_equal(doc.paragraph_count, 2);
    assert_int_equal(doc.paragraphs[1].start, 18);
    assert_true(gate_has(doc.paragraphs[1].rules, 1) && !gate_has(doc.paragraphs[1].rules, 0));
    /* bare line feeds keep nothing */
    char *feeds = malloc(100000);
    assert_non_null(feeds);
    memset(feeds, '\n', 100000);
    assert_int_equal(gate_scan(gate, arena, feeds, 100000, &doc), 0);
    assert_int_equal(doc.line_count, 0);
    assert_int_equal(doc.paragraph_count, 0);
    assert_non_null(doc.lines);
    assert_false(gate_has(doc.any, 0) || gate_has(doc.any, 1));
    free(feeds);
    /* a word with a line feed in it ends on a line shorter than itself: that line is kept */
    one_word(&sets[1], "ay:\nab");
    gate_t *feed_gate = gate_build(list, 2);
    assert_non_null(feed_gate);
    const char *split = "ay:\nab\nay:\nab\nsaid";
    assert_int_equal(gate_scan(feed_gate, arena, split, strlen(split), &doc), 0);
    assert_int_equal(doc.line_count, 3);
    assert_int_equal(doc.lines[0].start, 4);
    assert_true(gate_has(doc.lines[0].rules, 1) && gate_has(doc.lines[1].rules, 1));
    gate_destroy(&feed_gate);
    nerd_arena_destroy(&arena);
    gate_destroy(&gate);
    free(sets);
}

/* A rule that may cross lines finds matches across the lines of a paragraph, started before
 * its last word, but none that reaches the word it consumes across a blank line. */
static void test_extract_paragraph_bounds(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("entity PERSON p : (?<span>\\p{Lu}\\p{Ll}+)\\s+(?:[a-z]+\\s+)?said\\b\n");
    nerd_worker_t *w = nerd_worker_new();
    assert_non_null(w);
    const nerd_result_t *res = NULL;
    assert_int_equal(extract(w, r, "First Lee\nsaid so. Then Kim quietly said it.", NULL, &res), 0);
    assert_non_null(find_entity(res, "PERSON", "Lee"));
    assert_non_null(find_entity(res, "PERSON", "Kim"));
    assert_int_equal(extract(w, r, "First Lee\n\nsaid so.", NULL, &res), 0);
    assert_null(find_entity(res, "PERSON", "Lee"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* Where a match may start, by the bytes before it. */
static int prev_allows(const char *pattern, int word_first, const char *text, size_t pos)
{
    prefilter_prev_t *prev = malloc(sizeof(*prev));
    assert_non_null(prev);
    prefilter_prev_bytes(pattern, strlen(pattern), 0, word_first, prev);
    int ok = prefilter_prev_allows(prev, (const unsigned char *)text, pos);
    free(prev);
    return ok;
}

static void test_prefilter_prev_bytes(void **state)
{
    (void)state;
    const char *sstart = "(?:^|(?<=[.!?]\\s)|(?<=\\n))\\p{Lu}\\w+";
    const char *text = "Ann met Bob. Cai left\nDee";
    assert_true(prev_allows(sstart, 0, text, 0));            /* the start */
    assert_false(prev_allows(sstart, 0, text, 8));           /* "Bob" after a blank only */
    assert_true(prev_allows(sstart, 0, text, 13));           /* "Cai" after ". " */
    assert_true(prev_allows(sstart, 0, text, 22));           /* "Dee" after a line break */
    /* \b before a word: not right after a letter, where the match starts with a word byte */
    assert_false(prev_allows("\\b(?:one|two)\\s+days", 1, "anyone two", 3));
    assert_true(prev_allows("\\b(?:one|two)\\s+days", 1, "anyone two", 7));
    assert_true(prev_allows("\\b(?:one|two)\\s+days", 0, "anyone two", 3));
    /* a negative lookbehind of letters; an optional one constrains nothing */
    assert_false(prev_allows("(?<![\\p{L}'-])\\p{Lu}\\w+", 0, "McDonald", 2));
    assert_true(prev_allows("(?<![\\p{L}'-])\\p{Lu}\\w+", 0, "(Donald", 1));
    assert_true(prev_allows("(?:(?<=\\n))?\\p{Lu}\\w+", 0, "xDonald", 1));
    /* what is not worked out allows everything */
    assert_true(prev_allows("(?<=(?:ab|cd))x", 0, "ab x", 3));
    assert_true(prev_allows("x", 0, "ab x", 3));
}

/* ---- extraction ---- */

/* Every match (start, end and groups) of pattern in text, as "s-e/g1s-g1e...;" lines. */
static void all_matches(const char *pattern, size_t plen, const char *text, char *out, size_t cap)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, plen, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    assert_non_null(code);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    size_t n = 0, len = strlen(text);
    out[0] = '\0';
    for (size_t pos = 0; pos <= len;) {
        int rc = pcre2_match(code, (PCRE2_SPTR)text, len, pos, 0, md, NULL);
        if (rc < 0)
            break;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        for (int g = 0; g < rc && n + 32 < cap; g++)
            n += (size_t)snprintf(out + n, cap - n, "%d-%d/", (int)ov[2 * g], (int)ov[2 * g + 1]);
        if (n + 2 < cap)
            out[n++] = ';', out[n] = '\0';
        pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
}

/* Word lists rewritten as tries find exactly what the lists found, first match included. */
static void test_alttrie_same_matches(void **state)
{
    (void)state;
    static const char *const patterns[] = {
        "\\b(?:said|says|told|tells|added|sources?|spokesm[ae]n|went\\s+on|went\\s+to)\\b",
        "(?:Jr|Sr|II|III|IV|The|A|An|And|Al)\\b",
        "(?:a|an|and|ant|)x?",
        "(?:an|a)(?:nd|n)?",
        "(?i:one|two|three|ONE)\\s+days",
        "(?:the|The|THE)\\s+(\\w+)",
        "(?<=\\bhe\\s|\\bshe\\s)(?:said|says|added)",
        "(?:x|y|z)+(?:ab|abc|abd)??c",
        "(?:(?:a|b|c)\\s+){0,2}(?:said|told)",
        "(?:wh(?:o|at)|which|when|where)\\b",
        "(?:it|its|it's|it\\.)",
    };
    static const char *const text =
        "The spokesman said it. Sources say THE spokesmen told it, it's true: he said, she added. "
        "One days ago and two  days an ant andx annd abc xyzabcc Al Anderson, III and Jr. who? "
        "What went on went to which when where it. a b said";
    char plain[4096], fast[4096];
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        size_t n;
        char *t = alttrie_rewrite(patterns[i], strlen(patterns[i]), &n);
        all_matches(patterns[i], strlen(patterns[i]), text, plain, sizeof(plain));
        all_matches(t ? t : patterns[i], t ? n : strlen(patterns[i]), text, fast, sizeof(fast));
        if (strcmp(plain, fast) != 0)
            fprintf(stderr, "%s -> %s\n%s\n%s\n", patterns[i], t ? t : "(same)", plain, fast);
        assert_string_equal(plain, fast);
        free(t);
    }
    /* a list is rewritten; a lookbehind is left alone */
    size_t n;
    char *t = alttrie_rewrite("(?:said|says|sources)", 21, &n);
    assert_non_null(t);
    assert_string_equal(t, "(?:s(?:a(?:id|ys)|ources))");
    free(t);
    assert_null(alttrie_rewrite("(?<=said|says|sources)x", 23, &n));
}

/* A list of words long enough for callform.c to call it: "said|says|told|w100|...". */
static void word_list(char *out, size_t cap, const char *prefix)
{
    size_t n = (size_t)snprintf(out, cap, "(?:said|says|told");
    for (int i = 100; i < 220 && n + 16 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "|%s%d", prefix, i);
    snprintf(out + n, cap - n, ")");
}

/* A list of words that share few letters (its trie is as long as the list): "said|says|told|
 * qhxv|...", long enough for callform.c to call it. */
static void scattered_list(char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "(?:said|says|told");
    uint32_t seed = 12345;
    for (int i = 0; i < 150 && n + 8 < cap; i++) {
        out[n++] = '|';
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            out[n++] = (char)('a' + (seed >> 16) % 26);
        }
    }
    snprintf(out + n, cap - n, ")");
}

/* Patterns whose big groups are written once and called find exactly what they found before,
 * the groups of each match included; what a call would change is left in place. */
static void test_callform_same_matches(void **state)
{
    (void)state;
    char list[2048], pattern[8192];
    word_list(list, sizeof(list), "w");
    const char *shapes[] = {
        "%s\\s+%s%.0s",                               /* a macro used twice */
        "(?:%s[ ,]+){0,3}(?:told|w150)%.0s%.0s",      /* a group copied three times */
        "(?<a>%s)\\s+(?<b>%s)%.0s",                   /* captures around the groups */
        "(?<=%s )%s[ ,]+%s",                          /* a lookbehind's copy stays */
        "(?<=%s )(?:%s|w101)(?=[ ,]+%s)",             /* one copy outside lookarounds */
    };
    static const char *const text =
        "w101 said, w102 w219 told w150 and x150 w120 said w133; says w100 x101 w101 told w150 "
        "told told w150 w199 w101 x219 said";
    char plain[4096], calls[4096];
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        snprintf(pattern, sizeof(pattern), shapes[i], list, list, list);
        size_t n, added;
        char *c = callform_rewrite(pattern, strlen(pattern), NULL, CALLFORM_MIN_GROUP, &n, &added);
        all_matches(pattern, strlen(pattern), text, plain, sizeof(plain));
        assert_true(strchr(plain, ';') != NULL);   /* the text has matches to compare */
        if (i == 4) {
            assert_null(c);
            continue;
        }
        assert_non_null(c);
        assert_true(added >= 1 && strstr(c, "(?&_c0)") != NULL);
        all_matches(c, n, text, calls, sizeof(calls));
        if (strcmp(plain, calls) != 0)
            fprintf(stderr, "%s\n->\n%s\n%s\n%s\n", pattern, c, plain, calls);
        assert_string_equal(plain, calls);
        free(c);
    }
    /* inline options, relative references and small groups are not rewritten */
    size_t n, added;
    snprintf(pattern, sizeof(pattern), "(?i)%s %s", list, list);
    assert_null(callform_rewrite(pattern, strlen(pattern), NULL, CALLFORM_MIN_GROUP, &n, &added));
    snprintf(pattern, sizeof(pattern), "(\\w+) %s %s \\g{-1}", list, list);
    assert_null(callform_rewrite(pattern, strlen(pattern), NULL, CALLFORM_MIN_GROUP, &n, &added));
    /* a group with a capture inside stays where it is, in both places */
    snprintf(pattern, sizeof(pattern), "(?:(\\w+) %s) (?:(\\w+) %s)", list, list);
    char *c = callform_rewrite(pattern, strlen(pattern), NULL, CALLFORM_MIN_GROUP, &n, &added);
    assert_non_null(c);
    assert_true(strncmp(c, "(?:(\\w+) (?&_c0)) (?:(\\w+) (?&_c0))(?(DEFINE)(?<_c0>", 48) == 0);
    free(c);
    assert_null(callform_rewrite("(?:said|told) (?:said|told)", 27, NULL, CALLFORM_MIN_GROUP, &n, &added));
    assert_int_equal(added, 0);
}

/* A relation whose macro is called as a subroutine still has exactly its own arguments. */
static void test_callform_rule_groups(void **state)
{
    (void)state;
    char list[2048], rules[8192];
    scattered_list(list, sizeof(list));
    snprintf(rules, sizeof(rules),
             "define CUE = %s\n"
             "relation statement st.cue : (?:@CUE[ \\t]+)?(?<speaker>\\p{Lu}\\p{Ll}+) "
             "(?<cue>@CUE),? (?<content>[^.]+)\\.\n", list);
    nerd_rules_t *r = load_text(rules);
    uint32_t captures = 0;   /* the three arguments and the subroutine */
    pcre2_pattern_info(r->rules[0].code, PCRE2_INFO_CAPTURECOUNT, &captures);
    assert_int_equal(captures, 4);
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Ann said, the dam w150 is full. Bob left.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    const nerd_relation_t *rel = &res->relations[0];
    assert_int_equal(rel->arg_count, 3);
    assert_string_equal(find_arg(rel, "speaker")->text, "Ann");
    assert_string_equal(find_arg(rel, "cue")->text, "said");
    assert_string_equal(find_arg(rel, "content")->text, "the dam w150 is full");
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* A memo of word lists and groups met before (one per compile thread) changes no result,
 * whether a pattern meets a list or group for the first time or again. */
static void test_memos_change_nothing(void **state)
{
    (void)state;
    static const char *const patterns[] = {
        "(?:said|says|sources)\\s+(?:said|says|sources)",
        "\\b(?:in|of|near)\\s+(?:said|says|sources)(?=,)",
        "(?:x|(?:said|says|sources))(?:told|tells)",
        "(?<span>\\p{Lu}\\w+)\\s+(?:said|told|added)\\b",
        "(?:(?:said|told|added)|(?:y(?:es|et)))\\s+(?:that|which)",
        "(?:said|told|added)(?:(?:said|told|added)|x){2}",
    };
    memo_t *tries = memo_new();
    memo_t *sets = memo_new();
    assert_non_null(tries);
    assert_non_null(sets);
    prefilter_set_t *plain = malloc(sizeof(*plain)), *memo = malloc(sizeof(*memo));
    assert_non_null(plain);
    assert_non_null(memo);
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
            const char *p = patterns[i];
            size_t n1 = 0, n2 = 0;
            char *a = alttrie_rewrite(p, strlen(p), &n1);
            char *b = alttrie_rewrite_with(tries, p, strlen(p), &n2);
            assert_true((a == NULL) == (b == NULL));
            if (a != NULL) {
                assert_int_equal(n1, n2);
                assert_memory_equal(a, b, n1);
            }
            free(a);
            free(b);
            memset(plain, 0, sizeof(*plain));
            memset(memo, 0, sizeof(*memo));
            int r1 = prefilter_required_set(p, strlen(p), plain);
            int r2 = prefilter_required_set_with(sets, p, strlen(p), NULL, memo);
            assert_int_equal(r1, r2);
            assert_int_equal(plain->count, memo->count);
            for (size_t k = 0; k < plain->count; k++) {
                assert_int_equal(plain->len[k], memo->len[k]);
                assert_memory_equal(plain->text[k], memo->text[k], plain->len[k]);
            }
        }
    free(plain);
    free(memo);
    memo_destroy(&tries);
    memo_destroy(&sets);
    assert_null(tries);
    assert_null(sets);
}

static void test_extract_basic_and_aliases(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("basic");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "She studied at NTU near Taiwan, then TAIWAN, not taiwan.", NULL, &res), 0);
    const nerd_entity_t *e = find_entity(res, "ORG", "NTU");
    assert_non_null(e);
    assert_string_equal(e->canonical, "National Taiwan University");
    assert_int_equal(e->start, 15);
    assert_int_equal(e->end, 18);
    assert_non_null(find_entity(res, "LOC", "Taiwan"));
    assert_non_null(find_entity(res, "LOC", "TAIWAN"));       /* case=smart: all caps */
    assert_null(find_entity(res, "LOC", "taiwan"));           /* ... but not lower case */
    assert_non_null(strstr(e->rule, "basic/20-names.rules:3"));
    /* a phrase glued by a hyphen to a capitalised word is part of a longer name */
    assert_int_equal(extract(w, r, "the Kaohsiung-Taipei line, a pro-Taipei view", NULL, &res), 0);
    assert_int_equal(res->entity_count, 1);
    assert_int_equal(res->entities[0].start, 33);
    /* the longer ORG wins over the LOC inside it, in the same phase */
    assert_int_equal(extract(w, r, "at National Taiwan University", NULL, &res), 0);
    assert_int_equal(res->entity_count, 1);
    assert_string_equal(res->entities[0].type, "ORG");
    nerd_worker_destroy(&w);
    assert_null(w);
    nerd_rules_unref(&r);
}

static void test_extract_type_context_across_phases(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("basic");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    /* person.appositive needs a ROLE found in an earlier phase */
    assert_int_equal(extract(w, r, "Lin Zongnan, a professor at the school, spoke.", NULL, &res), 0);
    assert_non_null(find_entity(res, "PERSON", "Lin Zongnan"));
    assert_non_null(find_entity(res, "ROLE", "professor"));
    /* no ROLE after the comma: no PERSON */
    assert_int_equal(extract(w, r, "Lin Zongnan, a walker at the school, spoke.", NULL, &res), 0);
    assert_null(find_entity(res, "PERSON", "Lin Zongnan"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* A rule that starts at an entity found in an earlier phase starts where that entity began,
 * even where the text had a small letter (the places rules may start are found again).  PCRE2
 * has no first bytes for a pattern that may start with \p{Lu}, so both rules are tried at the
 * places the prefilter finds (extract.c's capital list). */
static void test_extract_starts_after_masking(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("phase first\n"
                                "entity PERSON p : (?<![\\p{L}])(?=\\S)\\p{Lu}ed\\b\n"
                                "entity DATE d : \\blast\\s+week\\b\n"
                                "phase second\n"
                                "entity ORG o : (?<![\\p{L}\\d])(?:\\p{Lu}\\.\\s+)?{DATE}\\s+(?<span>Desk)\\b\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Zed wrote it last week Desk news.", NULL, &res), 0);
    assert_non_null(find_entity(res, "PERSON", "Zed"));
    assert_non_null(find_entity(res, "DATE", "last week"));
    assert_non_null(find_entity(res, "ORG", "Desk"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_overlap_order(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Zorblat met Quib at the Grand Mordor Hotel.", NULL, &res), 0);
    /* equal length: higher priority wins */
    assert_non_null(find_entity(res, "HIGH", "Zorblat"));
    assert_null(find_entity(res, "LOW", "Zorblat"));
    /* equal length and priority: the earlier rule wins */
    assert_non_null(find_entity(res, "FIRSTRULE", "Quib"));
    assert_null(find_entity(res, "SECONDRULE", "Quib"));
    /* longest wins even against a higher priority */
    assert_non_null(find_entity(res, "HOTEL", "Grand Mordor Hotel"));
    assert_null(find_entity(res, "HOTEL", "Mordor Hotel"));
    assert_int_equal(res->entity_count, 3);
    for (size_t k = 1; k < res->entity_count; k++)
        assert_true(res->entities[k - 1].start <= res->entities[k].start);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_nested_and_replacement(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Room-12 of Springfield University, Shelbyville County.", NULL, &res), 0);
    /* a nested rule stays inside the longer match (sorted by start, so after it) */
    const nerd_entity_t *code = find_entity(res, "CODE", "Room-12");
    const nerd_entity_t *num = find_entity(res, "NUM", "12");
    assert_non_null(code);
    assert_non_null(num);
    assert_true(num > code);
    /* a later phase covering an earlier LOC replaces it ... */
    assert_non_null(find_entity(res, "ORG", "Springfield University"));
    assert_null(find_entity(res, "LOC", "Springfield"));
    /* ... unless its rule is nested */
    assert_non_null(find_entity(res, "REGION", "Shelbyville County"));
    assert_non_null(find_entity(res, "LOC", "Shelbyville"));
    /* a NUM alone (not inside anything) is found as well */
    assert_int_equal(extract(w, r, "Take 42 apples.", NULL, &res), 0);
    assert_non_null(find_entity(res, "NUM", "42"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_linking(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    const char *text = "Acme Widget Works (AWW) hired Lai Chun-chang. Lai  said AWW grew. "
                       "Earlier, Lai was away.";
    assert_int_equal(extract(w, r, text, NULL, &res), 0);
    size_t aww = 0, lai = 0;
    for (size_t k = 0; k < res->entity_count; k++) {
        const nerd_entity_t *e = &res->entities[k];
        if (strcmp(e->text, "AWW") == 0) {
            assert_string_equal(e->type, "ORG");
            assert_string_equal(e->canonical, "Acme Widget Works");
            aww++;
        }
        if (strcmp(e->text, "Lai") == 0) {
            assert_string_equal(e->type, "PERSON");
            assert_string_equal(e->canonical, "Lai Chun-chang");
            lai++;
        }
    }
    assert_int_equal(aww, 2);
    assert_int_equal(lai, 2);
    /* a bare word before the full name is not linked */
    assert_int_equal(extract(w, r, "Lai came. Then Lai Chun-chang spoke.", NULL, &res), 0);
    assert_null(find_entity(res, "PERSON", "Lai"));
    /* whitespace is normalised in canonical names */
    assert_int_equal(extract(w, r, "and Homer   Simpson\nspoke.", NULL, &res), 0);
    const nerd_entity_t *e = entity_with_text(res, "Homer   Simpson");
    assert_non_null(e);
    assert_string_equal(e->canonical, "Homer Simpson");
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* a one-word place that is a word of a person named earlier is that person */
static void test_extract_link_place_to_person(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("basic");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Kevin Taipei said so. Later Taipei agreed.", NULL, &res), 0);
    const nerd_entity_t *later = find_entity(res, "PERSON", "Taipei");
    assert_non_null(later);
    assert_int_equal(later->start, 28);
    assert_string_equal(later->canonical, "Kevin Taipei");
    assert_null(find_entity(res, "LOC", "Taipei"));
    /* the full name again, its last word a place unit: one mention of the whole name */
    assert_int_equal(extract(w, r, "Kevin Taipei said so. Then Kevin Taipei left.", NULL, &res), 0);
    const nerd_entity_t *again = find_entity(res, "PERSON", "Kevin Taipei");
    assert_non_null(again);
    size_t people = 0;
    for (size_t k = 0; k < res->entity_count; k++) {
        assert_string_not_equal(res->entities[k].type, "LOC");
        if (strcmp(res->entities[k].type, "PERSON") == 0) {
            people++;
            assert_string_equal(res->entities[k].text, "Kevin Taipei");
            assert_string_equal(res->entities[k].canonical, "Kevin Taipei");
        }
    }
    assert_int_equal(people, 2);
    /* with nobody of that name in the document, the place stays a place */
    assert_int_equal(extract(w, r, "Officials in Taipei agreed.", NULL, &res), 0);
    assert_non_null(find_entity(res, "LOC", "Taipei"));
    assert_null(find_entity(res, "PERSON", "Taipei"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/*
 * Short mentions of people: a rule whose canonical group is the name without its title ("Mr.
 * Green" -> "Green") links by the name part, so a titled short mention gets the full name named
 * before, and a titled full name registers its name words, not the title; a particle the full
 * name has before a linked word joins the mention ("De Vos"); words of a headline in capitals
 * link to full names named after them.  The rule set is written to a temporary folder, since it
 * is this test's alone.
 */
static void test_extract_link_mentions(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("entity PERSON person.two : \\b\\p{Lu}\\p{Ll}+ (?:De |van der )?\\p{Lu}\\p{Ll}+(?= met)\n"
          "entity PERSON person.titled canonical=name : "
          "(?<span>(?:Mr\\.|Professor) (?<name>\\p{Lu}\\p{Ll}+(?: \\p{Lu}\\p{Ll}+)?))\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Damon Green met us. Then Mr. Green left.", NULL, &res), 0);
    const nerd_entity_t *later = find_entity(res, "PERSON", "Mr. Green");
    assert_non_null(later);
    assert_string_equal(later->canonical, "Damon Green");
    /* a titled full name registers "Tam" and "Okafor" (not the title); its canonical has none */
    assert_int_equal(extract(w, r, "Professor Tam Okafor spoke. Okafor left.", NULL, &res), 0);
    const nerd_entity_t *full = find_entity(res, "PERSON", "Professor Tam Okafor");
    assert_non_null(full);
    assert_string_equal(full->canonical, "Tam Okafor");
    const nerd_entity_t *bare = find_entity(res, "PERSON", "Okafor");
    assert_non_null(bare);
    assert_string_equal(bare->canonical, "Tam Okafor");
    assert_null(find_entity(res, "PERSON", "Professor"));
    /* the particle before a linked last word belongs to the mention when the full name has it */
    assert_int_equal(extract(w, r, "Pieter De Vos met us. Then De Vos left.", NULL, &res), 0);
    later = find_entity(res, "PERSON", "De Vos");
    assert_non_null(later);
    assert_string_equal(later->canonical, "Pieter De Vos");
    assert_null(find_entity(res, "PERSON", "Vos"));
    assert_int_equal(extract(w, r, "Joost van der Berg met us. Later Van der Berg left.", NULL, &res), 0);
    later = find_entity(res, "PERSON", "Van der Berg");
    assert_non_null(later);
    assert_string_equal(later->canonical, "Joost van der Berg");
    /* words the full name does not have there stay out */
    assert_int_equal(extract(w, r, "Pieter De Vos met us. Then Le Vos left.", NULL, &res), 0);
    assert_non_null(find_entity(res, "PERSON", "Vos"));
    /* a headline in capitals above the story: its words of full names named anywhere */
    assert_int_equal(extract(w, r, "RUGBY - GREEN TO LEAD SIDE\nDamon Green met us.", NULL, &res), 0);
    later = find_entity(res, "PERSON", "GREEN");
    assert_non_null(later);
    assert_string_equal(later->canonical, "Damon Green");
    assert_int_equal(extract(w, r, "TENNIS - DAMON GREEN WINS\nDamon Green met us.", NULL, &res), 0);
    later = find_entity(res, "PERSON", "DAMON GREEN");
    assert_non_null(later);
    assert_string_equal(later->canonical, "Damon Green");
    /* not a word in capitals before ordinary words (a transcript's speaker) */
    assert_int_equal(extract(w, r, "GREEN: Well, yes.\nDamon Green met us.", NULL, &res), 0);
    assert_null(find_entity(res, "PERSON", "GREEN"));
    /* with nobody named before, a titled one-word mention keeps its own name */
    assert_int_equal(extract(w, r, "Mr. Green left.", NULL, &res), 0);
    later = find_entity(res, "PERSON", "Mr. Green");
    assert_non_null(later);
    assert_string_equal(later->canonical, "Green");
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/*
 * Speaker names the relation stage fills in: a one-word PERSON speaker takes the full name of a
 * person named before ("Green" after "Damon Green"), "the board" and "it" take the latest
 * organisation's name, "the old farmer" is resolved as a pronoun, and a pronoun that two
 * statements share ("..., she said. ...") resolves the same way for both.  The rule set is
 * written to a temporary folder, as it is this test's.
 */
static void test_extract_speaker_names(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("list PERSON\n  Damon Green\n  Green\n  Marge Bouvier\n  Homer Simpson\nend\n"
          "list ORG\n  Lakeside Water Board\nend\n"
          "list PRON case=smart\n  she\nend\n"
          "relation statement said : (?<speaker>{PERSON|PRON}|[Tt]he board|[Ii]t|the old farmer|"
          "[Tt]he white paper) "
          "(?<cue>said) (?<content>[^.\"]+)\n"
          "relation statement quote_cue : \"(?<content>[^\"]+)\" {PRON:speaker} (?<cue>said)\\.\n"
          "relation statement cue_quote : {PRON:speaker} (?<cue>said)\\. \\K\"(?<content>[^\"]+)\"\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Damon Green met us. Green said the dam was safe.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    const nerd_arg_t *sp = find_arg(&res->relations[0], "speaker");
    assert_string_equal(sp->text, "Green");
    assert_string_equal(sp->canonical, "Damon Green");
    assert_int_equal(extract(w, r, "The Lakeside Water Board met. The board said the dam was safe. "
                                   "It said more.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 2);
    assert_string_equal(find_arg(&res->relations[0], "speaker")->canonical, "Lakeside Water Board");
    assert_string_equal(find_arg(&res->relations[1], "speaker")->canonical, "Lakeside Water Board");
    /* a description of a person is resolved as a pronoun is */
    assert_int_equal(extract(w, r, "Marge Bouvier met us. Later the old farmer said it was late.",
                             NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_string_equal(find_arg(&res->relations[0], "speaker")->canonical, "Marge Bouvier");
    /* ... but a document is nobody: "the white paper" stays itself */
    assert_int_equal(extract(w, r, "Marge Bouvier met us. The white paper said it was late.",
                             NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_null(find_arg(&res->relations[0], "speaker")->canonical);
    /* nobody named before: the words stay as they are */
    assert_int_equal(extract(w, r, "It said the dam was safe.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    sp = find_arg(&res->relations[0], "speaker");
    assert_string_equal(sp->text, "It");
    assert_null(sp->canonical);
    /* "she" is Marge Bouvier for both statements, not the person named last */
    assert_int_equal(extract(w, r, "Marge Bouvier said hello. Then Homer Simpson came. "
                                   "\"We won\" she said. \"Go home\"", NULL, &res), 0);
    assert_int_equal(res->relation_count, 3);
    for (size_t k = 1; k < 3; k++)
        assert_string_equal(find_arg(&res->relations[k], "speaker")->canonical, "Marge Bouvier");
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/*
 * A statement whose content only stretches another of the same speaker (the other covers at
 * least half of it) is left out; one whose pieces are short, or whose speaker differs, stays.
 * A shorter name ("Paz Akin") and "his" as a speaker take the full name of the person before.
 */
static void test_extract_statement_stretches(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("list PERSON\n  Lorena Paz Akin\n  Paz Akin\n  Tam Brogan\nend\n"
          "relation statement piece : (?<content>\"[^\"]+\") {PERSON:speaker} (?<cue>said)\n"
          "relation statement stretch : (?<content>\"[^\"]+\" {PERSON:speaker} (?<cue>said)\\. \"[^\"]+\")\\K\\s\n"
          "relation statement his : (?<speaker>[Hh]is) (?<cue>claim) that (?<content>[^.]+)\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    /* the first piece is most of the stretch: only the piece */
    assert_int_equal(extract(w, r, "\"The dam is old and will fail soon\" Tam Brogan said. \"Go\"\n",
                             NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_string_equal(res->relations[0].rule + strlen(res->relations[0].rule) - 5, "piece");
    /* short pieces: the stretch stays */
    assert_int_equal(extract(w, r, "\"Old\" Tam Brogan said. \"Go\"\n", NULL, &res), 0);
    assert_int_equal(res->relation_count, 2);
    /* a shorter name and "his" are the person named before */
    assert_int_equal(extract(w, r, "Lorena Paz Akin came. \"Old\" Paz Akin said. His claim that it leaks.",
                             NULL, &res), 0);
    assert_true(res->relation_count >= 2);
    assert_string_equal(find_arg(&res->relations[0], "speaker")->canonical, "Lorena Paz Akin");
    const nerd_arg_t *sp = find_arg(&res->relations[res->relation_count - 1], "speaker");
    assert_string_equal(sp->text, "His");
    assert_string_equal(sp->canonical, "Lorena Paz Akin");
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/*
 * A stretch that names its speaker after the cue ("\"A\" said Lee. \"B\"") is kept and the
 * pieces of the same speaker inside it are left out; with the name before the cue both stay.
 */
static void test_extract_statement_stretch_inverted(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("list PERSON\n  Tam Brogan\nend\n"
          "relation statement piece : (?<content>\"[^\"]+\") (?<cue>said) {PERSON:speaker}\n"
          "relation statement piece2 : (?<content>\"[^\"]+\") {PERSON:speaker} (?<cue>said)\n"
          "relation statement stretch : (?<content>\"[^\"]+\" (?<cue>said) {PERSON:speaker}\\. \"[^\"]+\")\\K\\s\n"
          "relation statement stretch2 : (?<content>\"[^\"]+\" {PERSON:speaker} (?<cue>said)\\. \"[^\"]+\")\\K\\s\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    /* cue before the name: only the stretch */
    assert_int_equal(extract(w, r, "\"Old\" said Tam Brogan. \"Go\"\n", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_string_equal(res->relations[0].rule + strlen(res->relations[0].rule) - 7, "stretch");
    /* name before the cue: the stretch and the piece */
    assert_int_equal(extract(w, r, "\"Old\" Tam Brogan said. \"Go\"\n", NULL, &res), 0);
    assert_int_equal(res->relation_count, 2);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* Another speaker's statement inside a quotation (direct=true) is part of the quoted words. */
static void test_extract_statement_inside_quote(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("list PERSON\n  Tam Brogan\n  Jo Okafor\nend\n"
          "relation statement quote +direct=true : (?<content>\"[^\"]+\") \\K{PERSON:speaker} (?<cue>said)\n"
          "relation statement inner +direct=false : {PERSON:speaker} (?<cue>says) (?<content>[a-z ]+)\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    /* inside the quotation: only the quotation */
    assert_int_equal(extract(w, r, "\"Jo Okafor says the dam is old\" Tam Brogan said.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_string_equal(res->relations[0].rule + strlen(res->relations[0].rule) - 5, "quote");
    /* outside any quotation: reported */
    assert_int_equal(extract(w, r, "Jo Okafor says the dam is old.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* internal types: usable in rules and relations, never reported; their words still link. */
static void test_extract_internal_types(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("internal");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    const char *text = "Damon Green met Okafor. Later Green left.";
    assert_int_equal(extract(w, r, text, NULL, &res), 0);
    for (size_t k = 0; k < res->entity_count; k++) {
        assert_string_not_equal(res->entities[k].type, "GIVEN");
        assert_string_not_equal(res->entities[k].type, "SURNAME");
    }
    const nerd_entity_t *full = find_entity(res, "PERSON", "Damon Green");
    assert_non_null(full);
    /* a word of a name-list unit is still a later short mention of the person */
    const nerd_entity_t *later = find_entity(res, "PERSON", "Green");
    assert_non_null(later);
    assert_int_equal(later->start, 30);
    assert_string_equal(later->canonical, "Damon Green");
    assert_int_equal(res->entity_count, 2);
    assert_int_equal(res->relation_count, 1);
    const nerd_relation_t *rel = &res->relations[0];
    assert_string_equal(rel->type, "meeting");
    int seen = 0;
    for (size_t a = 0; a < rel->arg_count; a++) {
        const nerd_arg_t *arg = &rel->args[a];
        if (strcmp(arg->role, "person") == 0) {
            assert_int_equal(arg->entity, (int32_t)(full - res->entities));
            seen++;
        } else if (strcmp(arg->role, "other") == 0) {
            /* an internal entity: span and canonical kept, no entity index */
            assert_int_equal(arg->entity, -1);
            assert_int_equal(arg->has_span, 1);
            assert_string_equal(arg->text, "Okafor");
            assert_string_equal(arg->canonical, "Okafor");
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    /* inline tests see internal entities */
    assert_int_equal(nerd_rules_run_tests(r, w, NULL, NULL), 0);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_relations(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    const char *text = "Homer Simpson, the mayor of Springfield, left.";
    assert_int_equal(extract(w, r, text, NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    const nerd_relation_t *rel = &res->relations[0];
    assert_string_equal(rel->type, "works_for");
    assert_non_null(strstr(rel->rule, "overlap/main.rules:"));
    const nerd_arg_t *person = find_arg(rel, "person"), *role = find_arg(rel, "role"),
                     *place = find_arg(rel, "place");
    assert_non_null(person);
    assert_non_null(role);
    assert_non_null(place);
    assert_string_equal(person->text, "Homer Simpson");
    assert_string_equal(person->canonical, "Homer Simpson");
    assert_true(person->entity >= 0);
    assert_string_equal(res->entities[person->entity].text, "Homer Simpson");
    assert_string_equal(place->text, "Springfield");
    assert_string_equal(res->entities[place->entity].type, "LOC");
    assert_int_equal(role->start, 19);
    assert_int_equal(role->end, 24);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_pronouns_and_speakers(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    const char *text = "Homer Simpson said taxes will fall.\n\"We are done\"\n"
                       "Then Marge Bouvier arrived. He said more.";
    assert_int_equal(extract(w, r, text, NULL, &res), 0);
    assert_int_equal(res->relation_count, 3);
    const nerd_relation_t *said = &res->relations[0], *quote = &res->relations[1],
                          *pron = &res->relations[2];
    assert_string_equal(find_arg(said, "content")->text, "taxes will fall");
    assert_int_equal(said->attr_count, 1);
    assert_string_equal(said->attrs[0].key, "direct");
    assert_string_equal(said->attrs[0].value, "false");
    /* speaker=previous: the speaker of the statement before, without a span */
    const nerd_arg_t *sp = find_arg(quote, "speaker");
    assert_non_null(sp);
    assert_int_equal(sp->has_span, 0);
    assert_null(sp->text);
    assert_int_equal(sp->entity, -1);
    assert_string_equal(sp->canonical, "Homer Simpson");
    assert_string_equal(quote->attrs[0].value, "true");
    /* the pronoun keeps its span and takes the latest speaker's name */
    sp = find_arg(pron, "speaker");
    assert_string_equal(sp->text, "He");
    assert_int_equal(sp->has_span, 1);
    assert_string_equal(sp->canonical, "Homer Simpson");
    assert_string_equal(res->entities[sp->entity].type, "PRON");
    /* without an earlier speaker, the most recent PERSON */
    assert_int_equal(extract(w, r, "Marge Bouvier met Homer Simpson. She said hello.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_string_equal(find_arg(&res->relations[0], "speaker")->canonical, "Homer Simpson");
    /* an honorific tells the class: "Mr." rules Homer out for "She" */
    assert_int_equal(extract(w, r, "Marge Bouvier met Mr. Homer Simpson. She said hello.", NULL,
                             &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_string_equal(find_arg(&res->relations[0], "speaker")->canonical, "Marge Bouvier");
    /* a person who opens a paragraph after the latest speaker is who "he" means next */
    assert_int_equal(extract(w, r, "Homer Simpson said taxes will fall.\nNed Flanders came too.\n"
                             "He said no.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 2);
    assert_string_equal(find_arg(&res->relations[1], "speaker")->canonical, "Ned Flanders");
    /* ... and a quote with no cue after such a paragraph is that person's */
    assert_int_equal(extract(w, r, "Homer Simpson said taxes will fall.\nNed Flanders came too.\n"
                             "\"Not here\"", NULL, &res), 0);
    assert_int_equal(res->relation_count, 2);
    assert_string_equal(find_arg(&res->relations[1], "speaker")->canonical, "Ned Flanders");
    /* "X said she ..." tells X's class: "he" then skips her */
    assert_int_equal(extract(w, r, "Ned Flanders met Homer Simpson. Marge Bouvier said she left.\n"
                             "He said no.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 2);
    assert_string_equal(find_arg(&res->relations[1], "speaker")->canonical, "Homer Simpson");
    /* the latest speaker is a she: "he" goes back to the latest earlier speaker who is a he,
     * not to the last man mentioned */
    assert_int_equal(extract(w, r, "Homer Simpson said he stayed.\nMarge Bouvier said she left "
                             "with Ned Flanders.\nHe said no.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 3);
    assert_string_equal(find_arg(&res->relations[2], "speaker")->canonical, "Homer Simpson");
    /* a quote with no earlier statement has no speaker: no relation */
    assert_int_equal(extract(w, r, "\"Nobody spoke\"", NULL, &res), 0);
    assert_int_equal(res->relation_count, 0);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_catastrophic_pattern(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("catastrophic");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res = (const nerd_result_t *)1;
    char text[64];
    memset(text, 'a', 40);
    strcpy(text + 40, "b");
    double t0 = now_seconds();
    assert_int_equal(extract(w, r, text, NULL, &res), NERD_EMATCHLIMIT);
    assert_true(now_seconds() - t0 < 5.0);
    assert_null(res);
    /* the worker serves the next document as usual */
    assert_int_equal(extract(w, r, "aaa", NULL, &res), 0);
    assert_int_equal(res->entity_count, 1);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* A one-line text of n bytes: lower-case words, a capitalised one now and then; no digits,
 * full stops or quotation marks, so that every attempt of the linear fixture fails. */
static char *linear_text(size_t n)
{
    static const char *const words[] = {"alpha", "beta", "gamma", "delta", "kappa", "omega"};
    char *t = malloc(n + 1);
    assert_non_null(t);
    size_t o = 0;
    for (unsigned k = 0; o < n; k++) {
        const char *w = k % 37 == 0 ? "Lambda" : words[(k * 7) % 6];
        for (size_t i = 0; w[i] && o < n; i++)
            t[o++] = w[i];
        if (o < n)
            t[o++] = ' ';
    }
    t[n] = '\0';
    return t;
}

/* Pattern work per byte must not grow with the length of the text: measured in PCRE2 calls
 * and in the bytes those calls may examine, so the figure does not depend on the machine. */
static void test_extract_linear_in_text_length(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("linear");
    nerd_worker_t *w = nerd_worker_new();
    nerd_limits_t lim;
    nerd_limits_default(&lim);
    lim.max_bytes = 0;
    lim.time_budget_ms = 0;
    double calls_per_byte[2], window_per_byte[2];
    static const size_t sizes[2] = {64u << 10, 1u << 20};
    for (int s = 0; s < 2; s++) {
        char *text = linear_text(sizes[s]);
        const nerd_result_t *res;
        w->pattern_calls = w->pattern_window_bytes = 0;
        assert_int_equal(nerd_extract(w, r, text, sizes[s], &lim, &res), 0);
        assert_int_equal(res->entity_count, 0);
        calls_per_byte[s] = (double)w->pattern_calls / (double)sizes[s];
        window_per_byte[s] = (double)w->pattern_window_bytes / (double)sizes[s];
        free(text);
    }
    if (window_per_byte[1] > 1.5 * window_per_byte[0] || calls_per_byte[1] > 1.5 * calls_per_byte[0])
        fprintf(stderr, "64 KiB: %.3f calls %.1f bytes per byte; 1 MiB: %.3f calls %.1f bytes\n",
                calls_per_byte[0], window_per_byte[0], calls_per_byte[1], window_per_byte[1]);
    assert_true(window_per_byte[1] <= 1.5 * window_per_byte[0]);
    assert_true(calls_per_byte[1] <= 1.5 * calls_per_byte[0]);
    /* matches are still found far into a long text, across the search windows */
    char *text = linear_text(40000);
    memcpy(text + 30000, " Lambda said ", 13);
    memcpy(text + 35000, " 12/05/2019 ", 12);
    const nerd_result_t *res;
    assert_int_equal(nerd_extract(w, r, text, 40000, &lim, &res), 0);
    /* (the name rule of the fixture is greedy: its match starts at the first capital the
     * window of an attempt lets reach "said", up to EXTRACT_WINDOW bytes before) */
    assert_true(res->entity_count >= 2);
    assert_string_equal(res->entities[0].type, "PERSON");
    assert_int_equal(res->entities[0].end, 30012);
    assert_true(res->entities[0].start + 8192 >= 30012);
    assert_non_null(find_entity(res, "DATE", "12/05/2019"));
    free(text);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_limits(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    nerd_limits_t lim;
    nerd_limits_default(&lim);
    assert_int_equal(lim.max_bytes, 4u << 20);
    assert_int_equal(lim.max_entities, 100000);
    assert_int_equal(lim.match_limit, 1000000);
    assert_int_equal(lim.depth_limit, 10000);
    assert_int_equal(lim.time_budget_ms, 2000);
    /* the time budget is per MiB of text, and a short text gets all of it */
    assert_int_equal(nerd_limits_budget_ms(&lim, 0), 2000);
    assert_int_equal(nerd_limits_budget_ms(&lim, 100000), 2000);
    assert_int_equal(nerd_limits_budget_ms(&lim, 3u << 19), 3000);
    assert_int_equal(nerd_limits_budget_ms(&lim, 4u << 20), 8000);
    lim.time_budget_ms = 0;
    assert_int_equal(nerd_limits_budget_ms(&lim, 4u << 20), 0);
    nerd_limits_default(&lim);
    lim.max_bytes = 10;
    assert_int_equal(extract(w, r, "0123456789", &lim, &res), 0);
    assert_int_equal(extract(w, r, "0123456789A", &lim, &res), NERD_ETOOBIG);
    assert_null(res);
    nerd_limits_default(&lim);
    lim.max_entities = 2;
    assert_int_equal(extract(w, r, "Zorblat and Quib.", &lim, &res), 0);
    assert_int_equal(extract(w, r, "Zorblat and Quib in Springfield.", &lim, &res), NERD_EENTITIES);
    assert_int_equal(extract(w, r, "ok \xC0\x80", NULL, &res), NERD_EUTF8);
    assert_int_equal(nerd_extract(w, r, NULL, 0, NULL, &res), 0);
    assert_int_equal(res->entity_count, 0);
    assert_int_equal(nerd_extract(w, r, NULL, 5, NULL, &res), NERD_EINVAL);
    assert_int_equal(nerd_extract(NULL, r, "x", 1, NULL, &res), NERD_EINVAL);
    assert_int_equal(nerd_extract(w, NULL, "x", 1, NULL, &res), NERD_EINVAL);
    assert_int_equal(nerd_extract(w, r, "x", 1, NULL, NULL), NERD_EINVAL);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_time_budget(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    size_t n = 3u << 20;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i += 3)
        memcpy(text + i, "42 ", 3);
    text[n] = '\0';
    nerd_limits_t lim;
    nerd_limits_default(&lim);
    lim.max_entities = 0;
    lim.time_budget_ms = 1;
    assert_int_equal(nerd_extract(w, r, text, n, &lim, &res), NERD_ETIMEOUT);
    free(text);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_control_bytes_and_stats(void **state)
{
    (void)state;
    nerd_rules_t *r = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    /* control bytes in the input must not be taken for masked entities */
    const char text[] = "\x03\x1f\x01 Zorblat\x1f Springfield\x02";
    assert_int_equal(nerd_extract(w, r, text, sizeof(text) - 1, NULL, &res), 0);
    const nerd_entity_t *z = find_entity(res, "HIGH", "Zorblat");
    assert_non_null(z);
    assert_int_equal(z->start, 4);
    const nerd_entity_t *s = find_entity(res, "LOC", "Springfield");
    assert_non_null(s);
    assert_int_equal(s->start, 13);
    nerd_stage_times_t st;
    nerd_worker_stage_times(w, &st);
    assert_int_equal(st.documents, 1);
    assert_int_equal(st.bytes, sizeof(text) - 1);
    assert_true(st.normalise + st.tokenise + st.gazetteer + st.patterns + st.link + st.relations > 0);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_extract_result_stable_across_rules_unref(void **state)
{
    (void)state;
    /* one worker, two rule sets, alternating: match data grows as needed */
    nerd_rules_t *a = load_fixture("basic"), *b = load_fixture("overlap");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(extract(w, a, "In 1999 Lin Zongnan, a professor at NTU, spoke.", NULL, &res), 0);
        assert_non_null(find_entity(res, "DATE", "1999"));
        assert_int_equal(extract(w, b, "Homer Simpson, the mayor of Springfield, left.", NULL, &res), 0);
        assert_int_equal(res->relation_count, 1);
    }
    nerd_worker_destroy(&w);
    nerd_rules_unref(&a);
    nerd_rules_unref(&b);
}

/* "the" and the plural of a known person's name is the family: a PERSON of its own text. */
static void test_extract_link_family(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("entity PERSON person.two : \\b\\p{Lu}\\p{Ll}+ \\p{Lu}\\p{Ll}+(?= met)\n"
          "entity PERSON person.one : \\b\\p{Lu}\\p{Ll}+(?= spoke)\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Tam Okafor met us. Later the Okafors left.", NULL, &res), 0);
    const nerd_entity_t *fam = find_entity(res, "PERSON", "Okafors");
    assert_non_null(fam);
    assert_string_equal(fam->canonical, "Okafors");
    /* a one-word name counts too */
    assert_int_equal(extract(w, r, "Brogan spoke. It hurt the Brogans a lot.", NULL, &res), 0);
    assert_non_null(find_entity(res, "PERSON", "Brogans"));
    /* not without "the", not a word the text never gave as a name */
    assert_int_equal(extract(w, r, "Tam Okafor met us. Okafors left. The Smiths came.", NULL, &res), 0);
    assert_null(find_entity(res, "PERSON", "Okafors"));
    assert_null(find_entity(res, "PERSON", "Smiths"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* A one-word PERSON (or one that names exactly an ORG of the text) that no full name backs is
 * the organisation when the text names a company with it: "Tarnok" after "Tarnok SA". */
static void test_extract_link_person_to_org(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("entity ORG org.corp : \\b(?:\\p{Lu}\\p{Ll}+ )+(?:SA|Inc)\\b\n"
          "entity PERSON person.two : \\b\\p{Lu}\\p{Ll}+ \\p{Lu}\\p{Ll}+(?= met)\n"
          "entity PERSON person.one : \\b\\p{Lu}\\p{Ll}+(?= said)\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    /* the short name of a company named anywhere in the text, before or after */
    assert_int_equal(extract(w, r, "Tarnok said sales fell. Shares of Tarnok SA slid.", NULL, &res), 0);
    const nerd_entity_t *e = find_entity(res, "ORG", "Tarnok");
    assert_non_null(e);
    assert_string_equal(e->canonical, "Tarnok SA");
    assert_null(find_entity(res, "PERSON", "Tarnok"));
    /* the first word of a longer company name */
    assert_int_equal(extract(w, r, "Kelso Marine Holdings Inc rose. Kelso said it grew.", NULL, &res), 0);
    assert_non_null(find_entity(res, "ORG", "Kelso"));
    /* a person named in full keeps the word */
    assert_int_equal(extract(w, r, "Jo Tarnok met us. Tarnok SA fell. Tarnok said no.", NULL, &res), 0);
    assert_non_null(find_entity(res, "PERSON", "Tarnok"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* Two people of one surname: a later lone surname is the first of them, the one the story is
 * about ("Caleb Okafor ... goalie Martin Okafor ... Okafor said"). */
static void test_extract_link_surname_first_person(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("entity PERSON person.two : \\b\\p{Lu}\\p{Ll}+ \\p{Lu}\\p{Ll}+(?= (?:met|saw))\n"
          "entity PERSON person.one : \\b\\p{Lu}\\p{Ll}+(?= said)\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Caleb Okafor met us. Then Martin Okafor saw it. Okafor said so.", NULL,
                             &res), 0);
    const nerd_entity_t *e = find_entity(res, "PERSON", "Okafor");
    assert_non_null(e);
    assert_string_equal(e->canonical, "Caleb Okafor");
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* Two capitalised words no entity rule took, before a comma and a lower-case word ("Will Brogan,
 * a mechanic"), are the full name a later one-word PERSON "Brogan" stands for; not after an
 * opening word ("But Brogan, ...") and not without the appositive. */
static void test_extract_link_intro_pair(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("entity PERSON person.one : \\b\\p{Lu}\\p{Ll}+(?= said)\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Will Brogan, a mechanic, came.\n\nBrogan said no.", NULL, &res), 0);
    const nerd_entity_t *e = find_entity(res, "PERSON", "Brogan");
    assert_non_null(e);
    assert_string_equal(e->canonical, "Will Brogan");
    assert_int_equal(extract(w, r, "But Brogan, a mechanic, came.\n\nBrogan said no.", NULL, &res), 0);
    assert_string_equal(find_entity(res, "PERSON", "Brogan")->canonical, "Brogan");
    assert_int_equal(extract(w, r, "Will Brogan came.\n\nBrogan said no.", NULL, &res), 0);
    assert_string_equal(find_entity(res, "PERSON", "Brogan")->canonical, "Brogan");
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* An acronym that spells the initials of an organisation of three or more words is that
 * organisation ("LWPB" after "Lakeside Water Protection Board"); not the first word of a longer
 * name ("LWPB Cup"), not two letters. */
static void test_extract_link_initials(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("entity ORG org.board : \\b(?:\\p{Lu}\\p{Ll}+ )+(?:Board|Agency)\\b\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "Then the Lakeside Water Protection Board met. The LWPB said no.", NULL, &res), 0);
    const nerd_entity_t *e = find_entity(res, "ORG", "LWPB");
    assert_non_null(e);
    assert_string_equal(e->canonical, "Lakeside Water Protection Board");
    assert_int_equal(extract(w, r, "Then the Lakeside Water Protection Board met. The LWPB Cup is on.", NULL, &res), 0);
    assert_null(find_entity(res, "ORG", "LWPB"));
    assert_int_equal(extract(w, r, "Then the Lakeside Agency met. The LA said no.", NULL, &res), 0);
    assert_null(find_entity(res, "ORG", "LA"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* A document speaker that names its author in words no entity rule took ("the Civic Forum
 * study", "a study released Monday by Civic Forum") is the author's; a later "the study" is
 * the same author's; a paper that only obtained the document is not its author. */
static void test_extract_document_author_words(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("relation statement said : (?<speaker>[Tt]he Civic Forum study|[Tt]he study|"
          "a study released Monday by Civic Forum|the memo obtained by The Herald) "
          "(?<cue>said) (?<content>[^.\"]+)\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "It rained. The Civic Forum study said rents rose. Later the study said "
                                   "wages fell.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 2);
    assert_string_equal(find_arg(&res->relations[0], "speaker")->canonical, "Civic Forum");
    assert_string_equal(find_arg(&res->relations[1], "speaker")->canonical, "Civic Forum");
    assert_int_equal(extract(w, r, "So a study released Monday by Civic Forum said rents rose.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_string_equal(find_arg(&res->relations[0], "speaker")->canonical, "Civic Forum");
    assert_int_equal(extract(w, r, "So the memo obtained by The Herald said rents rose.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_null(find_arg(&res->relations[0], "speaker")->canonical);
    /* no author named before: "the study" stays itself */
    assert_int_equal(extract(w, r, "It rained. The study said wages fell.", NULL, &res), 0);
    assert_null(find_arg(&res->relations[0], "speaker")->canonical);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* "A spokeswoman for Lee said ..." is the person the text names next as a quotation's speaker
 * ("“...,” said Jo Doe."); with nobody named so, the words stay as they are. */
static void test_extract_spokesperson_named_after(void **state)
{
    (void)state;
    nerd_rules_t *r = load_text("list PERSON\n  Jo Doe\n  Tam Lee\nend\n"
          "relation statement said : (?<speaker>A spokeswoman for the mayor) (?<cue>said) (?<content>[^.\"]+)\n");
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(extract(w, r, "A spokeswoman for the mayor said the dam was safe.\n\n\"It holds,\" said Jo Doe.",
                             NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_string_equal(find_arg(&res->relations[0], "speaker")->canonical, "Jo Doe");
    assert_int_equal(extract(w, r, "A spokeswoman for the mayor said the dam was safe. Then Jo Doe left.", NULL, &res), 0);
    assert_int_equal(res->relation_count, 1);
    assert_null(find_arg(&res->relations[0], "speaker")->canonical);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alloc_and_reset),
        cmocka_unit_test(test_errors_names),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_tokens_split),
        cmocka_unit_test(test_tokens_unicode_and_lines),
        cmocka_unit_test(test_tokens_case_mapping),
        cmocka_unit_test(test_gazetteer_modes),
        cmocka_unit_test(test_gazetteer_nested_phrases),
        cmocka_unit_test(test_prefilter_first_bytes),
        cmocka_unit_test(test_prefilter_required_set),
        cmocka_unit_test(test_memos_change_nothing),
        cmocka_unit_test(test_gate_paragraphs_and_last_words),
        cmocka_unit_test(test_caps_merge_as_new_pass),
        cmocka_unit_test(test_extract_paragraph_bounds),
        cmocka_unit_test(test_prefilter_prev_bytes),
        cmocka_unit_test(test_alttrie_same_matches),
        cmocka_unit_test(test_extract_basic_and_aliases),
        cmocka_unit_test(test_extract_type_context_across_phases),
        cmocka_unit_test(test_extract_starts_after_masking),
        cmocka_unit_test(test_extract_overlap_order),
        cmocka_unit_test(test_extract_nested_and_replacement),
        cmocka_unit_test(test_extract_linking),
        cmocka_unit_test(test_extract_link_mentions),
        cmocka_unit_test(test_extract_internal_types),
        cmocka_unit_test(test_extract_link_place_to_person),
        cmocka_unit_test(test_extract_relations),
        cmocka_unit_test(test_extract_pronouns_and_speakers),
        cmocka_unit_test(test_extract_speaker_names),
        cmocka_unit_test(test_extract_statement_stretches),
        cmocka_unit_test(test_extract_statement_stretch_inverted),
        cmocka_unit_test(test_extract_statement_inside_quote),
        cmocka_unit_test(test_extract_link_surname_first_person),
        cmocka_unit_test(test_extract_link_intro_pair),
        cmocka_unit_test(test_extract_link_initials),
        cmocka_unit_test(test_extract_document_author_words),
        cmocka_unit_test(test_extract_spokesperson_named_after),
        cmocka_unit_test(test_extract_catastrophic_pattern),
        cmocka_unit_test(test_extract_linear_in_text_length),
        cmocka_unit_test(test_extract_limits),
        cmocka_unit_test(test_extract_time_budget),
        cmocka_unit_test(test_extract_control_bytes_and_stats),
        cmocka_unit_test(test_extract_result_stable_across_rules_unref),
        cmocka_unit_test(test_extract_link_family),
        cmocka_unit_test(test_extract_link_person_to_org),
        cmocka_unit_test(test_callform_same_matches),
        cmocka_unit_test(test_callform_rule_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
