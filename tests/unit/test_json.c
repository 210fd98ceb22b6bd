/*
 * test_json.c - JSON output and the JSON Lines reader of the daemon (daemon/json.c).
 *
 * Output: escaping (quotes, backslashes, control characters, non-ASCII, bytes that are not
 * UTF-8) and the exact line printed for a result.  Input: escapes, surrogate pairs, keys of every
 * JSON type skipped, invalid lines reported with their column and line number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

/* ---- writing ------------------------------------------------------------------------------- */

static void expect_escaped(const char *in, size_t len, const char *want)
{
    buf_t out = BUF_INIT;
    assert_int_equal(json_put_string(&out, in, len), 0);
    assert_string_equal(out.data, want);
    buf_free(&out);
}

static void test_escape(void **state)
{
    (void)state;
    expect_escaped("", 0, "\"\"");
    expect_escaped("plain text", 10, "\"plain text\"");
    expect_escaped("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
    expect_escaped("a\\b/c", 5, "\"a\\\\b/c\"");
    expect_escaped("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    expect_escaped("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    expect_escaped("a\0b", 3, "\"a\\u0000b\"");
    /* non-ASCII passes through as UTF-8 */
    expect_escaped("caf\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d \xf0\x9f\x98\x80", 18,
                   "\"caf\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d \xf0\x9f\x98\x80\"");
    /* bytes that are not UTF-8 become U+FFFD escapes, so the line stays valid JSON */
    expect_escaped("a\xff" "b", 3, "\"a\\ufffdb\"");
    expect_escaped("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
    expect_escaped("\xe2\x80", 2, "\"\\ufffd\\ufffd\"");
    expect_escaped("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");

    buf_t out = BUF_INIT;
    assert_int_equal(json_put_cstr(&out, NULL), 0);
    assert_string_equal(out.data, "\"\"");
    buf_clear(&out);
    assert_int_equal(json_put_uint(&out, 0), 0);
    assert_int_equal(json_put_uint(&out, 18446744073709551615u), 0);
    assert_string_equal(out.data, "018446744073709551615");
    buf_free(&out);
}

static void test_result_line(void **state)
{
    (void)state;
    static const nerd_entity_t entities[] = {
        { "PERSON", 0, 11, "Lin Zongnan", "Lin Zongnan", "rules/en/person.rules:12 name" },
        { "ORG", 15, 21, "\"Acme\"", "Acme", "org.rules:3" },
    };
    static const nerd_arg_t args[] = {
        { "speaker", 0, 0, 0, NULL, "Lin Zongnan", -1 },
        { "content", 1, 30, 40, "it is\nfine", NULL, -1 },
        { "person", 1, 0, 11, "Lin Zongnan", "Lin Zongnan", 0 },
    };
    static const nerd_attr_t attrs[] = { { "direct", "false" } };
    static const nerd_relation_t relations[] = {
        { "statement", args, 3, attrs, 1, "statement.rules:5 said" },
        { "affiliation", args + 2, 1, NULL, 0, "aff.rules:1" },
    };
    static const nerd_result_t result = { entities, 2, relations, 2 };
    buf_t out = BUF_INIT;
    assert_int_equal(json_begin_doc(&out, "doc-1", 5), 0);
    assert_int_equal(json_add_result(&out, &result), 0);
    assert_int_equal(json_end_doc(&out), 0);
    assert_string_equal(out.data,
        "{\"id\":\"doc-1\",\"entities\":["
        "{\"type\":\"PERSON\",\"start\":0,\"end\":11,\"text\":\"Lin Zongnan\","
        "\"canonical\":\"Lin Zongnan\",\"rule\":\"rules/en/person.rules:12 name\"},"
        "{\"type\":\"ORG\",\"start\":15,\"end\":21,\"text\":\"\\\"Acme\\\"\","
        "\"canonical\":\"Acme\",\"rule\":\"org.rules:3\"}],"
        "\"relations\":["
        "{\"type\":\"statement\",\"args\":{"
        "\"speaker\":{\"canonical\":\"Lin Zongnan\"},"
        "\"content\":{\"start\":30,\"end\":40,\"text\":\"it is\\nfine\"},"
        "\"person\":{\"start\":0,\"end\":11,\"text\":\"Lin Zongnan\",\"canonical\":\"Lin Zongnan\"}},"
        "\"attrs\":{\"direct\":\"false\"},\"rule\":\"statement.rules:5 said\"},"
        "{\"type\":\"affiliation\",\"args\":{"
        "\"person\":{\"start\":0,\"end\":11,\"text\":\"Lin Zongnan\",\"canonical\":\"Lin Zongnan\"}},"
        "\"rule\":\"aff.rules:1\"}]}\n");

    /* nothing found */
    static const nerd_result_t empty = { NULL, 0, NULL, 0 };
    buf_clear(&out);
    json_begin_doc(&out, "e", 1);
    json_add_result(&out, &empty);
    json_add_string(&out, "status", "ok");
    json_add_uint(&out, "processing_us", 12);
    json_end_doc(&out);
    assert_string_equal(out.data, "{\"id\":\"e\",\"entities\":[],\"relations\":[],"
                                  "\"status\":\"ok\",\"processing_us\":12}\n");
    buf_free(&out);
}

static void test_error_line(void **state)
{
    (void)state;
    buf_t out = BUF_INIT;
    assert_int_equal(json_write_error(&out, "in.jsonl:3", 10, "column 5: bad \"x\"", "json"), 0);
    assert_string_equal(out.data, "{\"id\":\"in.jsonl:3\",\"error\":\"column 5: bad \\\"x\\\"\","
                                  "\"error_code\":\"json\"}\n");
    buf_free(&out);
}

/* ---- reading one line ---------------------------------------------------------------------- */

static int parse(json_doc_t *doc, const char *line, char *err, size_t errlen)
{
    return json_parse_doc(line, strlen(line), doc, err, errlen);
}

static void test_parse_simple(void **state)
{
    (void)state;
    json_doc_t doc = JSON_DOC_INIT;
    char err[200];
    assert_int_equal(parse(&doc, "{\"id\":\"d1\",\"text\":\"Wang He spoke.\"}", err, sizeof err), 1);
    assert_true(doc.has_id);
    assert_string_equal(doc.id.data, "d1");
    assert_true(doc.has_text);
    assert_string_equal(doc.text.data, "Wang He spoke.");

    /* white space everywhere, keys in any order, a CR before the newline */
    assert_int_equal(parse(&doc, " { \"text\" : \"t\" ,\t\"id\" : \"x\" } \r", err, sizeof err), 1);
    assert_string_equal(doc.id.data, "x");
    assert_string_equal(doc.text.data, "t");

    /* a numeric id keeps its literal text; no id at all is allowed */
    assert_int_equal(parse(&doc, "{\"id\": -12.5e3, \"text\": \"\"}", err, sizeof err), 1);
    assert_string_equal(doc.id.data, "-12.5e3");
    assert_int_equal(doc.text.len, 0);
    assert_int_equal(parse(&doc, "{\"text\": \"no id\"}", err, sizeof err), 1);
    assert_false(doc.has_id);

    /* the last of two equal keys wins, as in most parsers */
    assert_int_equal(parse(&doc, "{\"id\":\"a\",\"text\":\"1\",\"text\":\"2\"}", err, sizeof err), 1);
    assert_string_equal(doc.text.data, "2");

    /* blank lines are skipped */
    assert_int_equal(parse(&doc, "", err, sizeof err), 0);
    assert_int_equal(parse(&doc, "  \t\r", err, sizeof err), 0);
    json_doc_free(&doc);
}

static void test_parse_escapes(void **state)
{
    (void)state;
    json_doc_t doc = JSON_DOC_INIT;
    char err[200];
    assert_int_equal(parse(&doc, "{\"id\":\"e\\\"1\\\\\",\"text\":"
                                 "\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t end\"}", err, sizeof err), 1);
    assert_string_equal(doc.id.data, "e\"1\\");
    assert_string_equal(doc.text.data, "q\" b\\ s/ \b\f\n\r\t end");

    /* \u escapes: one, two and three UTF-8 bytes, upper and lower case hex */
    assert_int_equal(parse(&doc, "{\"text\":\"\\u0041\\u00e9\\u00E9\\u201cx\\u201D\"}", err,
                           sizeof err), 1);
    assert_string_equal(doc.text.data, "A\xc3\xa9\xc3\xa9\xe2\x80\x9cx\xe2\x80\x9d");

    /* a surrogate pair is one code point, four UTF-8 bytes */
    assert_int_equal(parse(&doc, "{\"text\":\"smile \\ud83d\\ude00!\"}", err, sizeof err), 1);
    assert_string_equal(doc.text.data, "smile \xf0\x9f\x98\x80!");
    assert_int_equal(parse(&doc, "{\"text\":\"\\uD834\\uDD1E\"}", err, sizeof err), 1);
    assert_string_equal(doc.text.data, "\xf0\x9d\x84\x9e");

    /* \u0000 is a NUL byte inside the text, kept with its length */
    assert_int_equal(parse(&doc, "{\"text\":\"a\\u0000b\"}", err, sizeof err), 1);
    assert_int_equal(doc.text.len, 3);
    assert_memory_equal(doc.text.data, "a\0b", 3);

    /* raw UTF-8 passes through untouched */
    assert_int_equal(parse(&doc, "{\"text\":\"\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80\"}", err,
                           sizeof err), 1);
    assert_string_equal(doc.text.data, "\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80");
    json_doc_free(&doc);
}

static void test_parse_skips_other_keys(void **state)
{
    (void)state;
    json_doc_t doc = JSON_DOC_INIT;
    char err[200];
    const char *line =
        "{\"n\":0,\"f\":-1.5E+10,\"t\":true,\"no\":false,\"nil\":null,\"s\":\"x\\u00e9\\n\","
        "\"id\":\"gold-7\",\"empty\":{},\"arr\":[],"
        "\"entities\":[{\"start\":0,\"end\":4,\"type\":\"LOC\",\"text\":\"Chin\\\"a\"},[1,[2,{}]]],"
        "\"nested\":{\"a\":{\"b\":[true,null,\"}\"]}},\"text\":\"body\",\"z\":[\"]\",\"{\"]}";
    assert_int_equal(parse(&doc, line, err, sizeof err), 1);
    assert_string_equal(doc.id.data, "gold-7");
    assert_string_equal(doc.text.data, "body");
    json_doc_free(&doc);
}

static void expect_invalid(const char *line, const char *fragment)
{
    json_doc_t doc = JSON_DOC_INIT;
    char err[200] = "";
    assert_int_equal(json_parse_doc(line, strlen(line), &doc, err, sizeof err), -1);
    if (strstr(err, "column ") != err || strstr(err, fragment) == NULL)
        fail_msg("line %s: error '%s' should start with 'column' and mention '%s'", line, err,
                 fragment);
    json_doc_free(&doc);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    expect_invalid("[\"id\",\"text\"]", "one JSON object");
    expect_invalid("\"just a string\"", "one JSON object");
    expect_invalid("{\"id\":\"a\"}", "no \"text\"");
    expect_invalid("{\"id\":\"a\",\"text\":5}", "\"text\" must be a string");
    expect_invalid("{\"id\":[1],\"text\":\"x\"}", "\"id\" must be");
    expect_invalid("{\"id\":\"a\",\"text\":\"x\"} trailing", "after the object");
    expect_invalid("{\"id\":\"a\",\"text\":\"x\"}{}", "after the object");
    expect_invalid("{\"id\":\"a\",\"text\":\"x\",}", "string key");
    expect_invalid("{\"id\" \"a\",\"text\":\"x\"}", "':'");
    expect_invalid("{\"id\":\"a\" \"text\":\"x\"}", "','");
    expect_invalid("{\"text\":\"unterminated}", "unterminated");
    expect_invalid("{\"text\":\"bad \\x escape\"}", "invalid escape");
    expect_invalid("{\"text\":\"short \\u12\"}", "four hex digits");
    expect_invalid("{\"text\":\"raw\ttab\"}", "control character");
    expect_invalid("{\"text\":\"lone \\ud83d here\"}", "surrogate");
    expect_invalid("{\"text\":\"lone \\ude00 here\"}", "lone low surrogate");
    expect_invalid("{\"text\":\"pair \\ud83d\\u0041\"}", "not a low surrogate");
    expect_invalid("{\"text\":\"x\",\"n\":01}", "','");
    expect_invalid("{\"text\":\"x\",\"n\":1.}", "digits expected");
    expect_invalid("{\"text\":\"x\",\"n\":-}", "invalid number");
    expect_invalid("{\"text\":\"x\",\"b\":tru}", "unexpected character");
    expect_invalid("{\"text\":\"x\",\"a\":[1,2}", "']'");
    expect_invalid("{\"text\":\"x\",\"o\":{\"k\":1]}", "'}'");
    expect_invalid("{\"text\":\"x\",\"a\":", "end of line");
    expect_invalid("{\"text\":\"x\"", "'}'");

    /* nesting deeper than the limit is refused, not a stack overflow */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 32);
    assert_non_null(deep);
    strcpy(deep, "{\"text\":\"x\",\"d\":");
    size_t len = strlen(deep);
    memset(deep + len, '[', depth);
    memset(deep + len + depth, ']', depth);
    strcpy(deep + len + 2 * depth, "}");
    expect_invalid(deep, "nested deeper");
    free(deep);

    /* the column points at the problem (1-based bytes) */
    json_doc_t doc = JSON_DOC_INIT;
    char err[200];
    assert_int_equal(parse(&doc, "{\"text\":\"x\",\"b\":nope}", err, sizeof err), -1);
    assert_non_null(strstr(err, "column 17:"));
    json_doc_free(&doc);
}

/* ---- reading a stream ---------------------------------------------------------------------- */

static FILE *stream_of(const char *data, size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    rewind(f);
    return f;
}

static void test_lines_stream(void **state)
{
    (void)state;
    static const char data[] =
        "{\"id\":\"a\",\"text\":\"one\"}\n"
        "\n"
        "{\"id\":\"b\",\"text\":}\n"
        "{\"id\":\"c\",\"text\":\"three\"}\r\n"
        "{\"text\":\"no newline at the end\"}";
    FILE *f = stream_of(data, sizeof data - 1);
    json_lines_t *lines = json_lines_new(f, "in.jsonl");
    assert_non_null(lines);
    json_doc_t doc = JSON_DOC_INIT;
    char err[300];

    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 1);
    assert_string_equal(doc.id.data, "a");
    assert_string_equal(doc.text.data, "one");
    assert_int_equal(json_lines_lineno(lines), 1);

    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), -1);
    assert_int_equal(json_lines_lineno(lines), 3);
    assert_non_null(strstr(err, "in.jsonl:3: column "));

    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 1);
    assert_string_equal(doc.id.data, "c");
    assert_string_equal(doc.text.data, "three");

    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 1);
    assert_false(doc.has_id);
    assert_string_equal(doc.text.data, "no newline at the end");
    assert_int_equal(json_lines_lineno(lines), 5);

    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 0);
    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 0);
    json_lines_destroy(&lines);
    assert_null(lines);
    json_lines_destroy(&lines);
    json_doc_free(&doc);
    fclose(f);
}

static void test_lines_long(void **state)
{
    (void)state;
    /* Lines longer than the read chunk (1 MiB) and many short ones around them. */
    size_t big = 3 * 1024 * 1024 + 17;
    buf_t data = BUF_INIT;
    for (int i = 0; i < 1000; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "{\"id\":\"s%d\",\"text\":\"short %d\"}\n", i, i);
        assert_int_equal(buf_append(&data, line, (size_t)n), 0);
    }
    assert_int_equal(buf_puts(&data, "{\"id\":\"big\",\"text\":\""), 0);
    assert_int_equal(buf_reserve(&data, big), 0);
    memset(data.data + data.len, 'w', big);
    data.len += big;
    assert_int_equal(buf_puts(&data, "\"}\n{\"id\":\"after\",\"text\":\"end\"}\n"), 0);

    FILE *f = stream_of(data.data, data.len);
    json_lines_t *lines = json_lines_new(f, "long.jsonl");
    json_doc_t doc = JSON_DOC_INIT;
    char err[300];
    for (int i = 0; i < 1000; i++) {
        char want[32];
        snprintf(want, sizeof want, "s%d", i);
        assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 1);
        assert_string_equal(doc.id.data, want);
    }
    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 1);
    assert_string_equal(doc.id.data, "big");
    assert_int_equal(doc.text.len, big);
    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 1);
    assert_string_equal(doc.id.data, "after");
    assert_int_equal(json_lines_lineno(lines), 1002);
    assert_int_equal(json_lines_next(lines, &doc, err, sizeof err), 0);
    json_lines_destroy(&lines);
    json_doc_free(&doc);
    buf_free(&data);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_result_line),
        cmocka_unit_test(test_error_line),
        cmocka_unit_test(test_parse_simple),
        cmocka_unit_test(test_parse_escapes),
        cmocka_unit_test(test_parse_skips_other_keys),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_lines_stream),
        cmocka_unit_test(test_lines_long),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
