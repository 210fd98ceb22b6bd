/*
 * test_codec.c - the protobuf codec of the daemon (daemon/codec.c).
 *
 * Results are encoded by codec and decoded back with protobuf-c's own generated code (and its
 * default allocator) so that every field is checked against an independent reader; Documents are
 * built with protobuf-c and decoded by codec.  Malformed frames must come back as "decode" errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "nerd.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

static int setup_arena(void **state)
{
    *state = nerd_arena_new(4096);
    return *state == NULL ? -1 : 0;
}

static int teardown_arena(void **state)
{
    nerd_arena_t *arena = *state;
    nerd_arena_destroy(&arena);
    return 0;
}

/* A result as the engine would give it: two entities, a relation with a context-only speaker. */
static const nerd_entity_t sample_entities[] = {
    { "PERSON", 0, 11, "Lin Zongnan", "Lin Zongnan", "person.rules:3 name" },
    { "ORG", 30, 44, "the university", "National University", "org.rules:9 uni" },
};

static const nerd_arg_t sample_args[] = {
    { "person", 1, 0, 11, "Lin Zongnan", "Lin Zongnan", 0 },
    { "speaker", 0, 0, 0, NULL, "Lin Zongnan", -1 },
    { "content", 1, 50, 61, "\xe2\x80\x9cno\xe2\x80\x9d", NULL, -1 },
};

static const nerd_attr_t sample_attrs[] = {
    { "direct", "true" },
};

static const nerd_relation_t sample_relations[] = {
    { "statement", sample_args, 3, sample_attrs, 1, "statement.rules:20 said" },
};

static const nerd_result_t sample_result = {
    sample_entities, 2, sample_relations, 1,
};

static Nerd__V1__KeyValue **sample_metadata(nerd_arena_t *arena)
{
    Nerd__V1__KeyValue *kv = nerd_arena_alloc(arena, 2 * sizeof *kv);
    Nerd__V1__KeyValue **list = nerd_arena_alloc(arena, 2 * sizeof *list);
    static char k0[] = "source", v0[] = "wire", k1[] = "lang", v1[] = "en";
    nerd__v1__key_value__init(&kv[0]);
    nerd__v1__key_value__init(&kv[1]);
    kv[0].key = k0;
    kv[0].value = v0;
    kv[1].key = k1;
    kv[1].value = v1;
    list[0] = &kv[0];
    list[1] = &kv[1];
    return list;
}

/* ---- Results ------------------------------------------------------------------------------- */

static void test_result_roundtrip(void **state)
{
    nerd_arena_t *arena = *state;
    codec_result_meta_t meta = { "doc-7", "en@1234abcd", 4321, sample_metadata(arena), 2 };
    Nerd__V1__Result *msg = codec_result_build(arena, &meta, &sample_result);
    assert_non_null(msg);
    uint8_t *bytes;
    size_t len;
    assert_int_equal(codec_result_pack(arena, msg, &bytes, &len), 0);
    assert_true(len > 0);

    /* protobuf-c's own decoder, malloc'd, independent of the arena */
    Nerd__V1__Result *r = nerd__v1__result__unpack(NULL, len, bytes);
    assert_non_null(r);
    assert_string_equal(r->document_id, "doc-7");
    assert_int_equal(r->status, NERD__V1__RESULT__STATUS__OK);
    assert_string_equal(r->error, "");
    assert_string_equal(r->error_code, "");
    assert_string_equal(r->rule_set_version, "en@1234abcd");
    assert_int_equal(r->processing_us, 4321);
    assert_int_equal(r->n_metadata, 2);
    assert_string_equal(r->metadata[0]->key, "source");
    assert_string_equal(r->metadata[0]->value, "wire");
    assert_string_equal(r->metadata[1]->key, "lang");
    assert_string_equal(r->metadata[1]->value, "en");

    assert_int_equal(r->n_entities, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(r->entities[i]->type, sample_entities[i].type);
        assert_int_equal(r->entities[i]->start, sample_entities[i].start);
        assert_int_equal(r->entities[i]->end, sample_entities[i].end);
        assert_string_equal(r->entities[i]->text, sample_entities[i].text);
        assert_string_equal(r->entities[i]->canonical, sample_entities[i].canonical);
        assert_string_equal(r->entities[i]->rule, sample_entities[i].rule);
    }

    assert_int_equal(r->n_relations, 1);
    const Nerd__V1__Relation *rel = r->relations[0];
    assert_string_equal(rel->type, "statement");
    assert_string_equal(rel->rule, "statement.rules:20 said");
    assert_int_equal(rel->n_args, 3);
    assert_string_equal(rel->args[0]->role, "person");
    assert_non_null(rel->args[0]->span);
    assert_int_equal(rel->args[0]->span->start, 0);
    assert_int_equal(rel->args[0]->span->end, 11);
    assert_string_equal(rel->args[0]->span->text, "Lin Zongnan");
    assert_string_equal(rel->args[0]->canonical, "Lin Zongnan");
    assert_int_equal(rel->args[0]->entity, 0);
    assert_string_equal(rel->args[1]->role, "speaker");
    assert_null(rel->args[1]->span);               /* known from context only */
    assert_string_equal(rel->args[1]->canonical, "Lin Zongnan");
    assert_int_equal(rel->args[1]->entity, -1);
    assert_string_equal(rel->args[2]->role, "content");
    assert_non_null(rel->args[2]->span);
    assert_int_equal(rel->args[2]->span->start, 50);
    assert_int_equal(rel->args[2]->span->end, 61);
    assert_string_equal(rel->args[2]->span->text, "\xe2\x80\x9cno\xe2\x80\x9d");
    assert_string_equal(rel->args[2]->canonical, "");
    assert_int_equal(rel->n_attrs, 1);
    assert_string_equal(rel->attrs[0]->key, "direct");
    assert_string_equal(rel->attrs[0]->value, "true");
    nerd__v1__result__free_unpacked(r, NULL);
}

static void test_result_view_roundtrip(void **state)
{
    nerd_arena_t *arena = *state;
    codec_result_meta_t meta = { "v", "ver", 1, NULL, 0 };
    uint8_t *bytes;
    size_t len;
    Nerd__V1__Result *msg = codec_result_build(arena, &meta, &sample_result);
    assert_non_null(msg);
    assert_int_equal(codec_result_pack(arena, msg, &bytes, &len), 0);

    Nerd__V1__Result *back = codec_decode_result(arena, bytes, len);
    assert_non_null(back);
    nerd_result_t view;
    assert_int_equal(codec_result_view(arena, back, &view), 0);
    assert_int_equal(view.entity_count, 2);
    assert_string_equal(view.entities[1].canonical, "National University");
    assert_int_equal(view.entities[1].start, 30);
    assert_int_equal(view.relation_count, 1);
    assert_int_equal(view.relations[0].arg_count, 3);
    assert_true(view.relations[0].args[0].has_span);
    assert_false(view.relations[0].args[1].has_span);
    assert_null(view.relations[0].args[1].text);
    assert_string_equal(view.relations[0].args[1].canonical, "Lin Zongnan");
    assert_null(view.relations[0].args[2].canonical);   /* not an entity */
    assert_int_equal(view.relations[0].attr_count, 1);
    assert_string_equal(view.relations[0].attrs[0].value, "true");

    assert_null(codec_decode_result(arena, "\xff\xff\xff", 3));
}

static void test_empty_result(void **state)
{
    nerd_arena_t *arena = *state;
    static const nerd_result_t empty = { NULL, 0, NULL, 0 };
    codec_result_meta_t meta = { NULL, NULL, 0, NULL, 0 };
    uint8_t *bytes;
    size_t len;
    Nerd__V1__Result *msg = codec_result_build(arena, &meta, &empty);
    assert_non_null(msg);
    assert_int_equal(codec_result_pack(arena, msg, &bytes, &len), 0);
    assert_int_equal(len, 0);   /* proto3: every field at its default */
    Nerd__V1__Result *r = nerd__v1__result__unpack(NULL, len, bytes);
    assert_non_null(r);
    assert_string_equal(r->document_id, "");
    assert_int_equal(r->n_entities, 0);
    nerd__v1__result__free_unpacked(r, NULL);
}

static void check_error_result(nerd_arena_t *arena, int code, const char *message,
                               const char *want_code, const char *want_error)
{
    codec_result_meta_t meta = { "bad-1", "en@v", 7, sample_metadata(arena), 2 };
    Nerd__V1__Result *msg = codec_error_build(arena, &meta, code, message);
    assert_non_null(msg);
    uint8_t *bytes;
    size_t len;
    assert_int_equal(codec_result_pack(arena, msg, &bytes, &len), 0);
    Nerd__V1__Result *r = nerd__v1__result__unpack(NULL, len, bytes);
    assert_non_null(r);
    assert_int_equal(r->status, NERD__V1__RESULT__STATUS__ERROR);
    assert_string_equal(r->document_id, "bad-1");
    assert_string_equal(r->error_code, want_code);
    assert_string_equal(r->error, want_error);
    assert_true(r->error[0] != '\0');
    assert_int_equal(r->n_entities, 0);
    assert_int_equal(r->n_relations, 0);
    assert_string_equal(r->rule_set_version, "en@v");
    assert_int_equal(r->n_metadata, 2);
    nerd__v1__result__free_unpacked(r, NULL);
}

static void test_error_results(void **state)
{
    nerd_arena_t *arena = *state;
    check_error_result(arena, CODEC_EDECODE, "the frame is truncated", "decode",
                       "the frame is truncated");
    check_error_result(arena, CODEC_EDECODE, NULL, "decode", codec_error_text(CODEC_EDECODE));
    check_error_result(arena, CODEC_ERULESET, NULL, "rule_set", codec_error_text(CODEC_ERULESET));
    check_error_result(arena, NERD_EUTF8, "bad byte at 3", nerd_strerror_name(NERD_EUTF8),
                       "bad byte at 3");
    check_error_result(arena, NERD_ETOOBIG, NULL, nerd_strerror_name(NERD_ETOOBIG),
                       nerd_strerror(NERD_ETOOBIG));
    /* a message cut in the middle of a character still goes out as valid UTF-8 */
    check_error_result(arena, CODEC_ERULESET, "rule set 'caf\xc3", "rule_set",
                       "rule set 'caf\xef\xbf\xbd");
    assert_string_equal(codec_error_name(CODEC_EDECODE), "decode");
    assert_string_equal(codec_error_name(NERD_EUTF8), nerd_strerror_name(NERD_EUTF8));
}

/* ---- Documents ----------------------------------------------------------------------------- */

/* Packs a Document built with protobuf-c into a malloc'd buffer. */
static uint8_t *pack_document(const Nerd__V1__Document *doc, size_t *len)
{
    *len = nerd__v1__document__get_packed_size(doc);
    uint8_t *bytes = malloc(*len > 0 ? *len : 1);
    assert_non_null(bytes);
    assert_int_equal(nerd__v1__document__pack(doc, bytes), *len);
    return bytes;
}

static void test_decode_document(void **state)
{
    nerd_arena_t *arena = *state;
    static char id[] = "news-1", text[] = "Wang He, a professor, said so.", rule_set[] = "en";
    static char k[] = "source", v[] = "caf\xc3\xa9";
    Nerd__V1__KeyValue kv;
    Nerd__V1__KeyValue *kvs[1] = { &kv };
    Nerd__V1__Document doc;
    nerd__v1__document__init(&doc);
    nerd__v1__key_value__init(&kv);
    kv.key = k;
    kv.value = v;
    doc.id = id;
    doc.text = text;
    doc.rule_set = rule_set;
    doc.n_metadata = 1;
    doc.metadata = kvs;
    size_t len;
    uint8_t *bytes = pack_document(&doc, &len);

    codec_doc_t out;
    char why[200];
    assert_int_equal(codec_decode_document(arena, bytes, len, &out, why, sizeof why), 0);
    assert_string_equal(out.id, "news-1");
    assert_int_equal(out.text_len, strlen(text));
    assert_memory_equal(out.text, text, out.text_len);
    assert_string_equal(out.rule_set, "en");
    assert_int_equal(out.metadata_count, 1);
    assert_string_equal(out.metadata[0]->key, "source");
    assert_string_equal(out.metadata[0]->value, "caf\xc3\xa9");
    free(bytes);

    /* Everything empty: a zero-length frame is a valid, empty Document. */
    assert_int_equal(codec_decode_document(arena, "", 0, &out, why, sizeof why), 0);
    assert_string_equal(out.id, "");
    assert_int_equal(out.text_len, 0);
    assert_non_null(out.text);
    assert_int_equal(out.metadata_count, 0);
}

static void test_document_encode(void **state)
{
    nerd_arena_t *arena = *state;
    static const char text[] = "before\0after \xe2\x80\x94 end";
    size_t text_len = sizeof text - 1;
    size_t size = codec_document_encode("nul-doc", 7, text, text_len, NULL);
    uint8_t *bytes = malloc(size);
    assert_non_null(bytes);
    assert_int_equal(codec_document_encode("nul-doc", 7, text, text_len, bytes), size);

    /* protobuf-c reads it as a Document (its strings stop at the NUL: the reason for the scan) */
    Nerd__V1__Document *pc = nerd__v1__document__unpack(NULL, size, bytes);
    assert_non_null(pc);
    assert_string_equal(pc->id, "nul-doc");
    assert_string_equal(pc->text, "before");
    nerd__v1__document__free_unpacked(pc, NULL);

    codec_doc_t out;
    char why[200];
    assert_int_equal(codec_decode_document(arena, bytes, size, &out, why, sizeof why), 0);
    assert_string_equal(out.id, "nul-doc");
    assert_int_equal(out.text_len, text_len);
    assert_memory_equal(out.text, text, text_len);
    free(bytes);

    /* A long text needs a multi-byte length varint. */
    size_t big_len = 300000;
    char *big = malloc(big_len);
    assert_non_null(big);
    memset(big, 'x', big_len);
    size = codec_document_encode("big", 3, big, big_len, NULL);
    bytes = malloc(size);
    assert_non_null(bytes);
    codec_document_encode("big", 3, big, big_len, bytes);
    assert_int_equal(codec_decode_document(arena, bytes, size, &out, why, sizeof why), 0);
    assert_int_equal(out.text_len, big_len);
    free(bytes);
    free(big);
}

static void test_decode_invalid_text_utf8_is_not_a_decode_error(void **state)
{
    /* The text is checked later (error code "utf8"), so the Document itself decodes. */
    nerd_arena_t *arena = *state;
    static const uint8_t frame[] = "\x0a\x03" "abc" "\x12\x04" "a\xff\xfe" "b";
    codec_doc_t out;
    char why[200];
    assert_int_equal(codec_decode_document(arena, frame, sizeof frame - 1, &out, why, sizeof why),
                     0);
    assert_string_equal(out.id, "abc");
    assert_int_equal(out.text_len, 4);
    assert_int_equal(nerd_utf8_check(out.text, out.text_len, NULL), NERD_EUTF8);
}

static void expect_decode_error(nerd_arena_t *arena, const void *frame, size_t len,
                                const char *want_id)
{
    codec_doc_t out;
    char why[200] = "";
    assert_int_equal(codec_decode_document(arena, frame, len, &out, why, sizeof why),
                     CODEC_EDECODE);
    assert_true(why[0] != '\0');
    assert_non_null(out.id);
    assert_string_equal(out.id, want_id);
    assert_non_null(out.text);
    assert_int_equal(out.text_len, 0);
    assert_int_equal(out.metadata_count, 0);
}

static void test_decode_garbage(void **state)
{
    nerd_arena_t *arena = *state;
    /* plain text: 'n' = field 13, wire type 6, which does not exist */
    expect_decode_error(arena, "not a protobuf", 14, "");
    /* a varint that never ends */
    expect_decode_error(arena, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11, "");
    /* field number 0 */
    expect_decode_error(arena, "\x02\x01x", 3, "");
    /* a group (wire type 3) */
    expect_decode_error(arena, "\x0b\x0c", 2, "");
    /* the id reads fine, then the text claims 64 bytes and has 9: the id is kept */
    expect_decode_error(arena, "\x0a\x05" "bad-1" "\x12\x40" "cut short", 18, "bad-1");
    /* a length that runs past the end, first thing */
    expect_decode_error(arena, "\x0a\x64only-three-bytes", 18, "");
    /* field 1 (id) sent as a varint: right field number, wrong wire type */
    expect_decode_error(arena, "\x08\x01", 2, "");
    /* metadata (field 3) that is not a KeyValue inside */
    expect_decode_error(arena, "\x0a\x01" "m" "\x1a\x02\xff\xff", 7, "m");

    /* random bytes never crash and either decode or fail cleanly */
    srand(12345);
    for (int round = 0; round < 2000; round++) {
        uint8_t frame[64];
        size_t len = (size_t)(rand() % (int)sizeof frame);
        for (size_t i = 0; i < len; i++)
            frame[i] = (uint8_t)rand();
        codec_doc_t out;
        char why[200];
        int rc = codec_decode_document(arena, frame, len, &out, why, sizeof why);
        assert_true(rc == 0 || rc == CODEC_EDECODE);
        assert_non_null(out.id);
        assert_int_equal(nerd_utf8_check(out.id, strlen(out.id), NULL), 0);
        nerd_arena_reset(arena);
    }
}

static void test_decode_bad_utf8_id_and_metadata(void **state)
{
    nerd_arena_t *arena = *state;
    /* id "a\xffb": decode error, and the id shown is repaired to valid UTF-8 */
    codec_doc_t out;
    char why[200];
    static const uint8_t bad_id[] = "\x0a\x03" "a\xff" "b" "\x12\x02" "hi";
    assert_int_equal(codec_decode_document(arena, bad_id, sizeof bad_id - 1, &out, why, sizeof why),
                     CODEC_EDECODE);
    assert_string_equal(out.id, "a\xef\xbf\xbd" "b");
    assert_non_null(strstr(why, "UTF-8"));

    /* metadata value "\xc3\x28" is not UTF-8 */
    static const uint8_t bad_meta[] = "\x0a\x02" "ok" "\x1a\x07" "\x0a\x01" "k" "\x12\x02" "\xc3\x28";
    assert_int_equal(codec_decode_document(arena, bad_meta, sizeof bad_meta - 1, &out, why,
                                           sizeof why), CODEC_EDECODE);
    assert_string_equal(out.id, "ok");
    assert_non_null(strstr(why, "metadata"));
}

static void test_utf8_repair(void **state)
{
    nerd_arena_t *arena = *state;
    assert_string_equal(codec_utf8_repair(arena, "plain", 5), "plain");
    assert_string_equal(codec_utf8_repair(arena, "\xc3\xa9t\xc3\xa9", 5), "\xc3\xa9t\xc3\xa9");
    /* overlong '/', a lone continuation byte, a surrogate, a truncated sequence, a NUL */
    assert_string_equal(codec_utf8_repair(arena, "\xc0\xaf", 2), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(codec_utf8_repair(arena, "x\x80y", 3), "x\xef\xbf\xbdy");
    assert_string_equal(codec_utf8_repair(arena, "\xed\xa0\x80", 3),
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(codec_utf8_repair(arena, "ab\xe2\x80", 4), "ab\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(codec_utf8_repair(arena, "a\0b", 3), "a\xef\xbf\xbd" "b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_result_roundtrip, setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_result_view_roundtrip, setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_empty_result, setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_error_results, setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_decode_document, setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_document_encode, setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_decode_invalid_text_utf8_is_not_a_decode_error,
                                        setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_decode_garbage, setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_decode_bad_utf8_id_and_metadata, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_utf8_repair, setup_arena, teardown_arena),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
