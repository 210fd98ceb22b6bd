/*
 * test_rules.c - unit tests of rule set loading: statements, macros, {TYPE} references, line
 * continuation, error messages with file:line:col, versions and reference counts, large
 * gazetteers, and the inline test runner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nerd.h"
#include "testlib.h"

/* Asserts that content fails to load with an error at "a.rules:line:col: " mentioning what. */
static void expect_error(const char *content, int line, int col, const char *what)
{
    char *errors = NULL;
    nerd_rules_t *r = load_rules_text(content, &errors);
    assert_null(r);
    assert_non_null(errors);
    char where[64];
    snprintf(where, sizeof(where), "/a.rules:%d:%d: ", line, col);
    if (strstr(errors, where) == NULL || strstr(errors, what) == NULL)
        fprintf(stderr, "expected %s ... %s in:\n%s", where, what, errors);
    assert_non_null(strstr(errors, where));
    assert_non_null(strstr(errors, what));
    free(errors);
}

/* ---- loading ---- */

static void test_rules_load_version_refs(void **state)
{
    (void)state;
    char *errors = (char *)"sentinel";
    nerd_rules_t *r = nerd_rules_load(fixture("basic"), &errors);
    assert_non_null(r);
    assert_null(errors);
    const char *v = nerd_rules_version(r);
    assert_int_equal(strncmp(v, "basic@", 6), 0);
    assert_int_equal(strlen(v), 6 + 8);
    for (int i = 6; i < 14; i++)
        assert_non_null(strchr("0123456789abcdef", v[i]));
    /* 3 lists + 1 gazetteer + 4 entity patterns + 2 relations */
    assert_int_equal(nerd_rules_count(r), 10);
    /* the same content gives the same version */
    nerd_rules_t *again = nerd_rules_load(fixture("basic"), NULL);
    assert_string_equal(nerd_rules_version(again), v);
    nerd_rules_unref(&again);
    assert_null(again);
    nerd_rules_t *ref = nerd_rules_ref(r);
    assert_ptr_equal(ref, r);
    nerd_rules_unref(&ref);
    assert_null(ref);
    assert_string_equal(nerd_rules_version(r), v); /* still alive: one reference left */
    nerd_rules_unref(&r);
    assert_null(r);
    nerd_rules_unref(&r);
    nerd_rules_unref(NULL);
    assert_null(nerd_rules_ref(NULL));
    assert_string_equal(nerd_rules_version(NULL), "");
    assert_int_equal(nerd_rules_count(NULL), 0);
}

static void test_rules_missing_folder(void **state)
{
    (void)state;
    char *errors = NULL;
    assert_null(nerd_rules_load("/nonexistent/nerd-rules", &errors));
    assert_non_null(errors);
    assert_non_null(strstr(errors, "/nonexistent/nerd-rules"));
    free(errors);
    scratch_t s;
    scratch_init(&s);
    scratch_write(&s, "README", "not a rule file\n");
    /* a folder without rule files is an empty set: it loads and finds nothing */
    nerd_rules_t *empty = nerd_rules_load(s.dir, &errors);
    assert_non_null(empty);
    assert_null(errors);
    assert_int_equal(nerd_rules_count(empty), 0);
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(nerd_extract(w, empty, "Some text.", 10, NULL, &res), 0);
    assert_int_equal(res->entity_count, 0);
    assert_int_equal(nerd_rules_run_tests(empty, w, NULL, NULL), 0);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&empty);
    scratch_remove(&s);
    assert_null(nerd_rules_load(NULL, NULL));
}

static void test_rules_version_changes_with_content(void **state)
{
    (void)state;
    char v1[128], v2[128];
    nerd_rules_t *r = load_rules_text("entity X x : abc\n", NULL);
    assert_non_null(r);
    snprintf(v1, sizeof(v1), "%s", nerd_rules_version(r));
    nerd_rules_unref(&r);
    r = load_rules_text("entity X x : abd\n", NULL);
    assert_non_null(r);
    snprintf(v2, sizeof(v2), "%s", nerd_rules_version(r));
    nerd_rules_unref(&r);
    assert_string_not_equal(v1, v2);
}

/* ---- errors: every message carries file:line:col ---- */

static void test_rules_error_messages(void **state)
{
    (void)state;
    expect_error("frobnicate PERSON x : y\n", 1, 1, "unknown keyword 'frobnicate'");
    expect_error("\n\n   entity PERSON p : @NOPE\\s+x\n", 3, 22, "undefined macro @NOPE");
    expect_error("define A = x\ndefine B = @A @C\n", 2, 15, "undefined macro @C");
    expect_error("define A = x\ndefine A = y\n", 2, 8, "already defined");
    expect_error("entity PERSON p : {NOSUCH}\\s+x\n", 1, 20, "unknown entity type 'NOSUCH'");
    expect_error("entity PERSON p : {PERSON:}x\n", 1, 26, "bad group name");
    expect_error("entity PERSON p (?<span>x)\n", 1, 17, "is the ':' before the pattern missing?");
    expect_error("entity PERSON p priority=2\n", 1, 27, "missing ':'");
    expect_error("entity PERSON p priority=high : x\n", 1, 17, "priority needs a whole number");
    expect_error("entity PERSON p case=smart : x\n", 1, 17, "case must be");
    expect_error("entity PERSON p +k=v : x\n", 1, 17, "only allowed on relations");
    expect_error("entity PERSON p canonical=nope : (?<name>x)\n", 1, 17, "canonical=nope names no group");
    expect_error("entity PERSON : x\n", 1, 15, "missing rule name");
    expect_error("entity PERSON p :   \n", 1, 18, "empty");
    expect_error("relation rel r speaker=next : (?<a>x)\n", 1, 16, "speaker=previous");
    expect_error("relation rel r : x\n", 1, 18, "has no named group");
    expect_error("list ORG\n  Acme\n", 1, 1, "no 'end' line");
    expect_error("end\n", 1, 1, "'end' without a 'list'");
    expect_error("gazetteer LOC nowhere.gaz\n", 1, 15, "cannot read the gazetteer file 'nowhere.gaz'");
    expect_error("gazetteer LOC\n", 1, 14, "missing file name");
    expect_error("internal\n", 1, 9, "internal needs at least one entity type");
    expect_error("internal A $B\n", 1, 12, "internal takes entity type names");
    expect_error("gazetteer LOC x.gaz frob=1\n", 1, 21, "unknown option 'frob=1'");
    expect_error("phase\n", 1, 6, "phase needs one name");
    expect_error("test \"x\" => LOC \"x\"\n", 1, 6, "missing ':' after 'test'");
    expect_error("list LOC\nParis\nend\ntest: \"x\" LOC \"x\"\n", 4, 11, "missing '=>'");
    expect_error("list LOC\nParis\nend\ntest: \"x\" =>\n", 4, 13, "at least one expectation");
    expect_error("list LOC\nParis\nend\ntest: \"unterminated => LOC x\n", 4, 7, "unterminated text");
    expect_error("list LOC\nParis\nend\ntest: \"x\" => CITY \"x\"\n", 4, 14, "no rule of the set produces");
    expect_error("list LOC\nParis\nend\ntest: \"x\" => located place=\"x\"\n", 4, 14, "a relation 'located'");
}

static void test_rules_pcre2_error_columns(void **state)
{
    (void)state;
    /* the unmatched parenthesis is reported where PCRE2 notices it: the end of the pattern */
    expect_error("entity PERSON p : ab(cd\n", 1, 24, "does not compile: missing closing parenthesis");
    /* a quantifier error in the middle points into the middle */
    expect_error("entity PERSON p : abc{3,1}def\n", 1, 26, "does not compile");
    /* on a continued line the column is on the physical line that holds the error */
    expect_error("entity PERSON p : abc\\\n    x{3,1}y\n", 2, 10, "does not compile");
    /* an error inside a macro is reported at the macro's use */
    expect_error("define BAD = a{3,1}\nentity PERSON p : xx@BAD\n", 2, 21, "does not compile");
}

static void test_rules_all_errors_collected(void **state)
{
    (void)state;
    char *errors = NULL;
    nerd_rules_t *r = load_rules_text("bogus one\nentity X x : (\nbogus two\nentity Y y : {Z}\n", &errors);
    assert_null(r);
    assert_non_null(errors);
    int lines = 0;
    for (const char *p = errors; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
    assert_non_null(strstr(errors, "a.rules:1:1:"));
    assert_non_null(strstr(errors, "a.rules:2:"));
    assert_non_null(strstr(errors, "a.rules:3:1:"));
    assert_non_null(strstr(errors, "a.rules:4:15:"));
    free(errors);
}

static void test_rules_not_utf8(void **state)
{
    (void)state;
    expect_error("entity X x : abc\nentity Y y : \xC3(\n", 2, 14, "not valid UTF-8");
    /* a NUL byte (found by fuzzing: it cut a gazetteer name down to the folder itself) */
    char *errors = NULL;
    scratch_t s;
    scratch_init(&s);
    char path[300];
    snprintf(path, sizeof(path), "%s/a.rules", s.dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("gazetteer OR \0\0x.gaz\n", 1, 22, f);
    fclose(f);
    memcpy(s.files[s.nfiles++], path, sizeof(path));
    assert_null(nerd_rules_load(s.dir, &errors));
    assert_non_null(strstr(errors, "a.rules:1:14: the file contains a NUL byte"));
    free(errors);
    scratch_remove(&s);
    /* a gazetteer that is a folder */
    expect_error("gazetteer LOC .\n", 1, 15, "cannot read the gazetteer file '.'");
}

/* ---- macros, types, continuation ---- */

static void test_rules_macro_expansion(void **state)
{
    (void)state;
    const char *set =
        "# macros build on earlier macros; escapes and classes are left alone\n"
        "define CAP = \\p{Lu}\\p{Ll}+\n"
        "define TWO = @CAP\\s+@CAP\n"
        "entity PERSON p.two : \\b@TWO\\b\n"
        "entity MAIL m.mail : \\w+\\@\\w+\\.com|[@]home\n"
        "entity NUM n.count : \\d{2,3}\n"
        "test: \"ask Ada Lovelace at ada@calc.com\" => PERSON \"Ada Lovelace\", MAIL \"ada@calc.com\"\n"
        "test: \"a @home 1234\" => MAIL \"@home\" NUM \"123\"\n";
    char *errors = NULL;
    nerd_rules_t *r = load_rules_text(set, &errors);
    if (errors)
        fprintf(stderr, "%s", errors);
    assert_non_null(r);
    nerd_worker_t *w = nerd_worker_new();
    assert_int_equal(nerd_rules_run_tests(r, w, NULL, NULL), 0);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_rules_type_references(void **state)
{
    (void)state;
    const char *set =
        "phase units\n"
        "list CITY\n  Paris\n  Lyon\nend\n"
        "list RIVER\n  Seine\nend\n"
        "phase context\n"
        "# {A|B}, {ANY} and a named reference used as the canonical name\n"
        "entity PAIR pair : {CITY|RIVER}\\s+and\\s+{CITY|RIVER}\n"
        "entity LIST list : {ANY},\\s+{ANY},\\s+{ANY}\n"
        "entity VISIT visit canonical=where : visit(?:ed)?\\s+{CITY:where}\n"
        "test: \"Paris and Seine\" => PAIR \"Paris and Seine\", !CITY \"Paris\"\n"
        "test: \"Lyon, Seine, Paris\" => LIST \"Lyon, Seine, Paris\"\n";
    char *errors = NULL;
    nerd_rules_t *r = load_rules_text(set, &errors);
    if (errors)
        fprintf(stderr, "%s", errors);
    assert_non_null(r);
    nerd_worker_t *w = nerd_worker_new();
    assert_int_equal(nerd_rules_run_tests(r, w, NULL, NULL), 0);
    const nerd_result_t *res;
    const char *text = "They visited  Lyon. Paris alone.";
    assert_int_equal(nerd_extract(w, r, text, strlen(text), NULL, &res), 0);
    const nerd_entity_t *v = find_entity(res, "VISIT", "visited  Lyon");
    assert_non_null(v);
    assert_string_equal(v->canonical, "Lyon");
    /* the covered CITY was replaced by the longer VISIT of the later phase */
    assert_null(find_entity(res, "CITY", "Lyon"));
    assert_non_null(find_entity(res, "CITY", "Paris"));
    /* {CITY} matches a whole entity only: not a word of it, not plain text */
    assert_int_equal(nerd_extract(w, r, "visit Pari", 10, NULL, &res), 0);
    assert_int_equal(res->entity_count, 0);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_rules_line_continuation_and_options(void **state)
{
    (void)state;
    const char *set =
        "entity GREETING g.hello case=insensitive priority=2 : \\bhello\\s+\\\n"
        "      world\\b\n"
        "list ORG case=insensitive name=companies\n"
        "  Acme Corp | Acme\n"
        "  # a comment inside a list\n"
        "\n"
        "end\n"
        "test: \"HELLO World\" => GREETING \"HELLO World\"\n"
        "test: \"we met ACME\" => ORG \"ACME\"\n";
    char *errors = NULL;
    nerd_rules_t *r = load_rules_text(set, &errors);
    if (errors)
        fprintf(stderr, "%s", errors);
    assert_non_null(r);
    nerd_worker_t *w = nerd_worker_new();
    assert_int_equal(nerd_rules_run_tests(r, w, NULL, NULL), 0);
    const nerd_result_t *res;
    assert_int_equal(nerd_extract(w, r, "acme corp", 9, NULL, &res), 0);
    assert_int_equal(res->entity_count, 1);
    assert_string_equal(res->entities[0].canonical, "Acme Corp");
    /* rule ids: "<folder>/<file>:<line> <name>" */
    assert_non_null(strstr(res->entities[0].rule, "/a.rules:3 companies"));
    assert_int_equal(strncmp(res->entities[0].rule, "nerd-test-rules-", 16), 0);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_rules_files_in_name_order(void **state)
{
    (void)state;
    /* macros and phases carry over from file to file, in name order */
    scratch_t s;
    scratch_init(&s);
    scratch_write(&s, "20-second.rules", "phase late\nentity BIG big : {SMALL}\\s+@W\n");
    scratch_write(&s, "10-first.rules", "define W = \\p{L}+\nphase early\nentity SMALL small : \\bsmall\\b\n");
    scratch_write(&s, "places.gaz", "Paris\n");
    char *errors = NULL;
    nerd_rules_t *r = nerd_rules_load(s.dir, &errors);
    if (errors)
        fprintf(stderr, "%s", errors);
    assert_non_null(r);
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    assert_int_equal(nerd_extract(w, r, "a small thing", 13, NULL, &res), 0);
    assert_non_null(find_entity(res, "BIG", "small thing"));
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
    scratch_remove(&s);
}

static void test_rules_big_gazetteer(void **state)
{
    (void)state;
    scratch_t s;
    scratch_init(&s);
    char path[300];
    snprintf(path, sizeof(path), "%s/big.gaz", s.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const int entries = 300000;
    for (int i = 0; i < entries; i++)
        fprintf(f, "Entry Number %d Ltd | EN%d\n", i, i);
    fclose(f);
    memcpy(s.files[s.nfiles++], path, sizeof(path));
    scratch_write(&s, "a.rules", "gazetteer ORG big.gaz case=smart\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *errors = NULL;
    nerd_rules_t *r = nerd_rules_load(s.dir, &errors);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    assert_non_null(r);
    /* a million entries load in about a second; allow sanitizer builds their slowness, and
     * do not time at all under valgrind (which announces itself through LD_PRELOAD) */
    const char *preload = getenv("LD_PRELOAD");
    if (preload == NULL || strstr(preload, "vgpreload") == NULL)
        assert_true(secs < 6.0);
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    const char *text = "Shares of ENTRY NUMBER 299999 LTD and EN17 rose; Entry Number 5 fell.";
    assert_int_equal(nerd_extract(w, r, text, strlen(text), NULL, &res), 0);
    /* all capitals (case=smart) and an alias; a prefix of an entry is no hit */
    assert_int_equal(res->entity_count, 2);
    assert_string_equal(res->entities[0].canonical, "Entry Number 299999 Ltd");
    assert_string_equal(res->entities[1].canonical, "Entry Number 17 Ltd");
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
    scratch_remove(&s);
}


static void test_rules_entities_are_not_blanks(void **state)
{
    (void)state;
    /* twelve types, so that type bytes beyond 0x0A are in use: none may match \\s (an
     * entity of one byte is its type byte alone) */
    char set[2048];
    size_t n = 0;
    n += (size_t)snprintf(set + n, sizeof(set) - n, "phase words\n");
    for (int t = 1; t <= 12; t++)
        n += (size_t)snprintf(set + n, sizeof(set) - n, "list T%d\n  %c\nend\n", t, 'A' + t);
    n += (size_t)snprintf(set + n, sizeof(set) - n,
                          "phase gaps\nentity GAP gap : foo\\s+bar\n"
                          "entity NEXT next : foo\\s+{ANY}\n");
    nerd_rules_t *r = load_rules_text(set, NULL);
    assert_non_null(r);
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    char text[64];
    for (int t = 1; t <= 12; t++) {
        snprintf(text, sizeof(text), "foo %c bar", 'A' + t);
        assert_int_equal(nerd_extract(w, r, text, strlen(text), NULL, &res), 0);
        assert_null(find_entity(res, "GAP", text));
        snprintf(text, sizeof(text), "foo %c", 'A' + t);
        assert_non_null(find_entity(res, "NEXT", text));
    }
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}


/*
 * Loads a one-rule set of pattern (prefixed with prefix) and writes "start-end;" per match to
 * out, or "error N" when extraction fails, or "no set" when the pattern does not compile.
 */
static void spans_of(const char *prefix, const char *pattern, const char *text, char *out, size_t cap)
{
    char set[1024];
    snprintf(set, sizeof(set), "entity X x : %s%s\n", prefix, pattern);
    char *errors = NULL;
    nerd_rules_t *r = load_rules_text(set, &errors);
    free(errors);
    if (r == NULL) {
        snprintf(out, cap, "no set");
        return;
    }
    nerd_worker_t *w = nerd_worker_new();
    const nerd_result_t *res;
    int rc = nerd_extract(w, r, text, strlen(text), NULL, &res);
    size_t n = 0;
    out[0] = '\0';
    if (rc != 0)
        snprintf(out, cap, "error %d", rc);
    for (size_t k = 0; rc == 0 && k < res->entity_count && n + 24 < cap; k++)
        n += (size_t)snprintf(out + n, cap - n, "%u-%u;", res->entities[k].start, res->entities[k].end);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* A random pattern from pieces that exercise the first-byte and required-text analyses. */
static void random_pattern(unsigned *seed, char *out, size_t cap, int depth, int *groups)
{
    static const char *const atoms[] = {
        "\\p{Lu}", "\\p{Ll}", "\\w", "\\s", "\\s", "[A-Z]", "[a-z]", "\\d", "Tam", "said",
        "the", "\"", "\xE2\x80\x9C", ".", "[^ ]", ",", "\\.", "K", "\xC3\x89", "[\"\xE2\x80\x9C]",
        "\\W", "e", "(?i:tam)", "\\x{54}", "[[:alpha:]]", "\\Qa.\\E", "(?:x{0})", "\\S", "\\p{L}",
        "(?:said|told|added)", "[^,\\n]", "[ \\t]", "\\n", "Lee", "(?:Kim|Ann) ", "[Tt]he",
    };
    /* zero-width items take no quantifier */
    static const char *const assertions[] = {
        "\\b", "(?=\\p{Lu})", "(?!the)", "(?<![a-z])", "\\K", "(?i)", "^", "$", "\\B",
    };
    static const char *const quants[] = {"", "", "", "?", "*", "+", "{1,2}", "??", "++"};
    int items = 1 + (int)(rand_r(seed) % 4);
    for (int i = 0; i < items && strlen(out) + 40 < cap; i++) {
        unsigned pick = rand_r(seed) % 8;
        if (pick == 0) {
            strcat(out, assertions[rand_r(seed) % (sizeof(assertions) / sizeof(assertions[0]))]);
            continue;
        }
        if (pick == 1 && depth < 2) {
            if (rand_r(seed) % 2)
                strcat(out, "(?:");
            else
                snprintf(out + strlen(out), cap - strlen(out), "(?<g%d>", ++*groups);
            random_pattern(seed, out, cap, depth + 1, groups);
            if (rand_r(seed) % 2) {
                strcat(out, "|");
                random_pattern(seed, out, cap, depth + 1, groups);
            }
            strcat(out, ")");
        } else {
            strcat(out, atoms[rand_r(seed) % (sizeof(atoms) / sizeof(atoms[0]))]);
        }
        strcat(out, quants[rand_r(seed) % (sizeof(quants) / sizeof(quants[0]))]);
    }
}

static void test_rules_prefilter_changes_nothing(void **state)
{
    (void)state;
    /* Each pattern runs twice: as written (the engine may skip ahead to the bytes a match can
     * start with, or skip the text for lack of a required literal) and behind (?(DEFINE)), which
     * matches nothing, changes nothing and turns every such shortcut off. */
    static const char *const patterns[] = {
        "\\p{Lu}\\p{Ll}+",
        "(?<![\\p{L}'-])\\p{Lu}\\p{Ll}+(?:\\s+\\p{Lu}\\p{Ll}+)*",
        "(?=\\p{Lu})(?!(?:The|A|In)\\b)\\p{Lu}\\w+",
        "\\b(?:the\\s+)?\\p{Lu}\\w*\\s+said",
        "(?:\\d+|one|two)\\s+(?:days|years)(?:\\s+ago)?",
        "[\"\xE2\x80\x9C][^\"\xE2\x80\x9D]+[\"\xE2\x80\x9D]",
        "(?i)zurich|Z\xC3\xBCrich",
        "\\w+@\\w+\\.com",
        "(?:^|\\n)\\s*By\\s+\\p{Lu}\\w+",
        "\\p{Lu}{2,}(?=:)",
        "\\b\\w+(?=,\\s+a\\s)",
        "said\\s+\\K\\p{Lu}\\w+",
        "(?:[A-Z]\\.){2,}",
        "\\$\\d+(?:\\.\\d+)?(?:bn|m)?",
        "(?<q>\\p{Lu})\\w+\\s+\\k<q>\\w+",
        "contributed\\s+to",
        "(\\p{Lu})\\w+\\s+\\1\\w+",
        "\\Q.com\\E\\b",
        "(?i:KIM)\\s+\\w+",
        "(?#a comment)Kane",
        "(?|(Tam)|(Kim))\\s+\\w+",
        "\\d{1,3}(?:,\\d{3})+",
        "(?:\\s|^)Mc\\p{Lu}\\w+",
        "\\P{Ll}\\p{Ll}+",
        "x{0}said",
        "(?i)e\\w+",
        "\\R[A-Z]\\w+",
        "\\x{c9}\\w+",
        "(?:^|(?<=[.!?]\\s)|(?<=[.!?][\"\xE2\x80\x9D]\\s)|(?<=\\n))\\p{Lu}\\w+",
        "(?<=,\\s)(?:the|a|an)\\s+\\w+",
        "(?:^|(?<=\\n))[ \\t]*\\p{Lu}\\w+",
        "(?<![\\p{L}'-])(?:Zoe|Ann|Bob|Kim)\\s+\\p{Lu}\\w+",
        "\\b(?:one|two|3)\\s+days\\b",
        "(?<=\\bsaid\\s)\\p{Lu}\\w+|(?<=\\d\\s)days",
        "\\p{Lu}\\w+[ \\t]+(?:said|told|added)\\b",
        "\\p{Lu}\\w+\\s+(?:said|told|added)\\b",
        "(?:s(?:a(?:id|ys)|tated)|t(?:old|ells))[ ]+\\p{Lu}\\w+",
        "[^,\\n]{1,20}(?:contributed|paid)",
        "(?i)\\bsaid\\b",
        "[^,]{1,20}(?:contributed|paid)",
        "\\p{Lu}\\w+(?:[ ]\\p{Lu}\\w+)?[ ]told\\s\\p{Lu}\\w+",
    };
    /* several lines, some with the words of a pattern and some without, so that the gate
     * (gate.h: rules skipped where their words are not) is tried both ways */
    const char *text = "By Ann Lee\nThe Times said on Monday that Zoe Quinn, a writer, met "
                       "U.S. envoys in Z\xC3\xBCrich and zurich 3 days ago; \xE2\x80\x9CIt works,\xE2\x80\x9D "
                       "said Bob Brown.\nHe paid $4.5bn to ann@acme.com, 1,234,567 times. NOTE: Tam Tull and "
                       "Kim Kane contributed to this.\n\n\"Done\", she said. \xC3\x89lise \xC3\x89vans left.\n"
                       "Ask McDonald or KIM lee, Tam told\nKim. Ann Lee added: two days.\n"
                       "\xE2\x84\xAAIM lee (a Kelvin sign: caseless k) and \xC5\xBF" "aid (a long s).";
    char plain[2048], guarded[2048];
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        spans_of("", patterns[i], text, plain, sizeof(plain));
        spans_of("(?(DEFINE))", patterns[i], text, guarded, sizeof(guarded));
        if (strcmp(plain, guarded) != 0)
            fprintf(stderr, "pattern %s: %s vs %s\n", patterns[i], plain, guarded);
        assert_string_equal(plain, guarded);
        if (plain[0] == 0)
            fprintf(stderr, "pattern %s finds nothing\n", patterns[i]);
        assert_true(plain[0] != 0); /* every pattern finds something in the text */
    }
    /* and random ones */
    unsigned seed = 12345;
    for (int i = 0; i < 300; i++) {
        char pattern[600] = "";
        int groups = 0;
        random_pattern(&seed, pattern, sizeof(pattern) - 100, 0, &groups);
        spans_of("", pattern, text, plain, sizeof(plain));
        spans_of("(?(DEFINE))", pattern, text, guarded, sizeof(guarded));
        if (strcmp(plain, guarded) != 0)
            fprintf(stderr, "pattern %s: %s vs %s\n", pattern, plain, guarded);
        assert_string_equal(plain, guarded);
    }
}

/* ---- profiling ---- */

static void test_rules_profile_costs(void **state)
{
    (void)state;
    nerd_rules_t *r = load_rules_text("entity PERSON cheap : \\bTam\\b\n"
                                "entity DATE idle : \\bNeverSeenWord\\b\n"
                                "entity ORG busy : \\p{Lu}\\w+(?=\\s+said)\n", NULL);
    assert_non_null(r);
    nerd_worker_t *w = nerd_worker_new();
    assert_non_null(w);
    const nerd_result_t *res;
    const char *text = "Tam met Ann. Bob said no. Kim said yes. Tam left.";
    /* off: nothing is counted */
    assert_int_equal(nerd_extract(w, r, text, strlen(text), NULL, &res), 0);
    nerd_rule_cost_t costs[8];
    assert_int_equal(nerd_worker_rule_costs(w, r, costs, 8), 0);
    assert_int_equal(nerd_worker_profile(w, 1), 0);
    for (int k = 0; k < 3; k++)
        assert_int_equal(nerd_extract(w, r, text, strlen(text), NULL, &res), 0);
    size_t n = nerd_worker_rule_costs(w, r, costs, 8);
    /* every rule is listed, most expensive first; the one whose word the text lacks is skipped
     * before any PCRE2 call, the other two made some */
    assert_int_equal(n, 3);
    assert_true(costs[0].ns >= costs[1].ns && costs[1].ns >= costs[2].ns);
    int saw_cheap = 0, saw_busy = 0, saw_idle = 0;
    for (size_t k = 0; k < n; k++) {
        if (strstr(costs[k].rule, " idle") != NULL) {
            saw_idle = 1;
            assert_int_equal(costs[k].calls, 0);
            continue;
        }
        assert_true(costs[k].calls > 0);
        saw_cheap |= strstr(costs[k].rule, " cheap") != NULL;
        saw_busy |= strstr(costs[k].rule, " busy") != NULL;
    }
    assert_true(saw_cheap && saw_busy && saw_idle);
    assert_int_equal(nerd_worker_rule_costs(w, r, costs, 1), 3);   /* cap 1: still says 3 */
    /* turning it on again starts from zero */
    assert_int_equal(nerd_worker_profile(w, 1), 0);
    assert_int_equal(nerd_worker_rule_costs(w, r, costs, 8), 0);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

/* ---- the test runner ---- */

typedef struct report_log {
    int calls, passed, failed;
    char where[8][256];
    char detail[8][512];
} report_log_t;

static void record(void *ctx, const char *where, int passed, const char *detail)
{
    report_log_t *log = ctx;
    if (log->calls < 8) {
        snprintf(log->where[log->calls], 256, "%s", where);
        snprintf(log->detail[log->calls], 512, "%s", detail ? detail : "");
    }
    log->calls++;
    if (passed)
        log->passed++;
    else
        log->failed++;
}

/* Runs the inline tests of r on a fresh worker, each outcome recorded in log; their result. */
static int run_logged(const nerd_rules_t *r, report_log_t *log)
{
    nerd_worker_t *w = nerd_worker_new();
    assert_non_null(w);
    memset(log, 0, sizeof(*log));
    int rc = nerd_rules_run_tests(r, w, record, log);
    nerd_worker_destroy(&w);
    return rc;
}

static void test_rules_runner_pass(void **state)
{
    (void)state;
    nerd_rules_t *r = nerd_rules_load(fixture("basic"), NULL);
    assert_non_null(r);
    report_log_t log;
    assert_int_equal(run_logged(r, &log), 0);
    assert_int_equal(log.calls, 4);
    assert_int_equal(log.passed, 4);
    assert_non_null(strstr(log.where[0], "basic/10-roles.rules:13"));
    nerd_worker_t *w = nerd_worker_new();
    assert_int_equal(nerd_rules_run_tests(NULL, w, NULL, NULL), NERD_EINVAL);
    assert_int_equal(nerd_rules_run_tests(r, NULL, NULL, NULL), NERD_EINVAL);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_rules_runner_fail(void **state)
{
    (void)state;
    nerd_rules_t *r = nerd_rules_load(fixture("failing"), NULL);
    assert_non_null(r);
    report_log_t log;
    assert_int_equal(run_logged(r, &log), 2);
    assert_int_equal(log.calls, 3);
    assert_int_equal(log.passed, 1);
    assert_non_null(strstr(log.where[1], "failing/main.rules:6"));
    assert_non_null(strstr(log.detail[1], "expected LOC \"Shelbyville\""));
    assert_non_null(strstr(log.detail[1], "found entities: none"));
    assert_non_null(strstr(log.where[2], "failing/main.rules:7"));
    assert_non_null(strstr(log.detail[2], "did not expect LOC \"Springfield\""));
    /* without a report function the count is the same */
    nerd_worker_t *w = nerd_worker_new();
    assert_int_equal(nerd_rules_run_tests(r, w, NULL, NULL), 2);
    nerd_worker_destroy(&w);
    nerd_rules_unref(&r);
}

static void test_rules_runner_relations(void **state)
{
    (void)state;
    const char *set =
        "list PERSON\n  Ada Lovelace\nend\nlist PRON case=smart\n  she\nend\n"
        "relation statement said : {PERSON|PRON:speaker}\\s+(?<cue>said)\\s+(?<content>[^.]+)\n"
        "test: \"Ada Lovelace said yes. She said no.\" => statement speaker=\"She\" content=\"no\"\n"
        "test: \"Ada Lovelace said yes. She said no.\" => statement speaker=\"Ada Lovelace\" content=\"no\"\n"
        "test: \"Ada Lovelace said yes.\" => statement speaker=\"Ada Lovelace\" content=\"maybe\"\n";
    nerd_rules_t *r = load_rules_text(set, NULL);
    assert_non_null(r);
    report_log_t log;
    assert_int_equal(run_logged(r, &log), 1);
    assert_int_equal(log.passed, 2);
    assert_non_null(strstr(log.detail[2], "expected statement speaker=\"Ada Lovelace\" content=\"maybe\""));
    assert_non_null(strstr(log.detail[2], "content=\"yes\""));
    nerd_rules_unref(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_load_version_refs),
        cmocka_unit_test(test_rules_missing_folder),
        cmocka_unit_test(test_rules_version_changes_with_content),
        cmocka_unit_test(test_rules_error_messages),
        cmocka_unit_test(test_rules_pcre2_error_columns),
        cmocka_unit_test(test_rules_all_errors_collected),
        cmocka_unit_test(test_rules_not_utf8),
        cmocka_unit_test(test_rules_macro_expansion),
        cmocka_unit_test(test_rules_type_references),
        cmocka_unit_test(test_rules_line_continuation_and_options),
        cmocka_unit_test(test_rules_files_in_name_order),
        cmocka_unit_test(test_rules_big_gazetteer),
        cmocka_unit_test(test_rules_entities_are_not_blanks),
        cmocka_unit_test(test_rules_prefilter_changes_nothing),
        cmocka_unit_test(test_rules_profile_costs),
        cmocka_unit_test(test_rules_runner_pass),
        cmocka_unit_test(test_rules_runner_fail),
        cmocka_unit_test(test_rules_runner_relations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
