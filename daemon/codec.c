/*
 * codec.c - Documents in, Results out, in the protobuf format of proto/nerd.proto.
 *
 * Decoding runs protobuf-c with an allocator backed by the caller's arena, then validates what it
 * got.  Before that, a small scan of the top-level wire format finds the id (so that even a frame
 * protobuf-c rejects can be answered with its document id) and the true length of the text
 * (protobuf-c hands strings out NUL-terminated; a text with a NUL byte inside keeps its length).
 *
 * Encoding builds the generated structs in the arena, pointing at the engine's strings, and packs
 * them; nothing is copied that does not have to be.
 */
#include "codec.h"

#include <stdio.h>
#include <string.h>

#include "uchar.h"

/* protobuf-c's structs take char *; we never write through these pointers. */
static char codec_empty[] = "";

static char *codec_str(const char *s)
{
    return s != NULL ? (char *)(uintptr_t)s : codec_empty;
}

const char *codec_error_name(int code)
{
    switch (code) {
    case CODEC_EDECODE: return "decode";
    case CODEC_ERULESET: return "rule_set";
    default: return nerd_strerror_name(code);
    }
}

const char *codec_error_text(int code)
{
    switch (code) {
    case CODEC_EDECODE: return "the frame is not a valid nerd.v1.Document";
    case CODEC_ERULESET: return "the document asks for a rule set this daemon does not serve";
    default: return nerd_strerror(code);
    }
}

/* ---- arena allocator for protobuf-c ------------------------------------------------------ */

static void *codec_arena_alloc(void *data, size_t size)
{
    return nerd_arena_alloc(data, size > 0 ? size : 1);
}

static void codec_arena_free(void *data, void *pointer)
{
    /* Arena memory is released all at once by nerd_arena_reset(). */
    (void)data;
    (void)pointer;
}

static void codec_allocator(ProtobufCAllocator *allocator, nerd_arena_t *arena)
{
    allocator->alloc = codec_arena_alloc;
    allocator->free = codec_arena_free;
    allocator->allocator_data = arena;
}

/* ---- top-level wire scan ----------------------------------------------------------------- */

typedef struct codec_scan {
    const uint8_t *id;        /* last field 1 (length-delimited), or NULL */
    size_t id_len;
    int have_text;
    size_t text_len;          /* length of the last field 2 */
} codec_scan_t;

/* Reads a varint at p[0..len); returns the bytes used, or 0 when it is truncated or too long. */
static size_t codec_varint(const uint8_t *p, size_t len, uint64_t *value)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            *value = v;
            return i + 1;
        }
    }
    return 0;
}

/* Walks the top-level fields of data.  Returns 0, or -1 at the first malformed field. */
static int codec_scan_wire(const uint8_t *data, size_t len, codec_scan_t *scan)
{
    size_t pos = 0;
    memset(scan, 0, sizeof *scan);
    while (pos < len) {
        uint64_t tag, value;
        size_t n = codec_varint(data + pos, len - pos, &tag);
        if (n == 0 || (tag >> 3) == 0)
            return -1;
        pos += n;
        switch (tag & 7) {
        case 0:
            n = codec_varint(data + pos, len - pos, &value);
            if (n == 0)
                return -1;
            pos += n;
            break;
        case 1:
            if (len - pos < 8)
                return -1;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4)
                return -1;
            pos += 4;
            break;
        case 2:
            n = codec_varint(data + pos, len - pos, &value);
            if (n == 0 || value > len - pos - n)
                return -1;
            pos += n;
            if ((tag >> 3) == 1) {
                scan->id = data + pos;
                scan->id_len = (size_t)value;
            } else if ((tag >> 3) == 2) {
                scan->have_text = 1;
                scan->text_len = (size_t)value;
            }
            pos += (size_t)value;
            break;
        default:
            return -1;  /* groups (3, 4) have no place in a proto3 Document; 6, 7 do not exist */
        }
    }
    return 0;
}

/* ---- decoding ----------------------------------------------------------------------------- */

char *codec_utf8_repair(nerd_arena_t *arena, const char *s, size_t len)
{
    /* Each bad byte becomes 3 bytes of U+FFFD at worst. */
    char *out = nerd_arena_alloc(arena, len * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = uchar_decode(p + i, len - i, &cp);
        if (n == 0 || cp == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += n > 0 ? n : 1;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

static int codec_utf8_ok(const char *s)
{
    return nerd_utf8_check(s, strlen(s), NULL) == 0;
}

static int codec_fail(codec_doc_t *doc, char *why, size_t whylen, const char *sentence)
{
    snprintf(why, whylen, "%s", sentence);
    doc->text = codec_empty;
    doc->text_len = 0;
    doc->rule_set = codec_empty;
    doc->metadata = NULL;
    doc->metadata_count = 0;
    return CODEC_EDECODE;
}

int codec_decode_document(nerd_arena_t *arena, const void *data, size_t len, codec_doc_t *doc,
                          char *why, size_t whylen)
{
    codec_scan_t scan;
    int scan_rc = codec_scan_wire(data, len, &scan);

    doc->id = codec_empty;
    if (scan.id != NULL) {
        doc->id = codec_utf8_repair(arena, (const char *)scan.id, scan.id_len);
        if (doc->id == NULL)
            return NERD_ENOMEM;
    }
    if (scan_rc != 0)
        return codec_fail(doc, why, whylen, "the frame is not a valid protobuf message");

    ProtobufCAllocator allocator;
    codec_allocator(&allocator, arena);
    Nerd__V1__Document *msg = nerd__v1__document__unpack(&allocator, len, data);
    if (msg == NULL)
        return codec_fail(doc, why, whylen, "the frame is not a valid nerd.v1.Document");

    if (scan.id != NULL && (strlen(msg->id) != scan.id_len || !codec_utf8_ok(msg->id)))
        return codec_fail(doc, why, whylen, "the document id is not valid UTF-8 text");
    if (!codec_utf8_ok(msg->rule_set))
        return codec_fail(doc, why, whylen, "the rule_set name is not valid UTF-8");
    for (size_t i = 0; i < msg->n_metadata; i++) {
        const Nerd__V1__KeyValue *kv = msg->metadata[i];
        if (!codec_utf8_ok(kv->key) || !codec_utf8_ok(kv->value))
            return codec_fail(doc, why, whylen, "a metadata key or value is not valid UTF-8");
    }
    doc->id = msg->id;
    doc->text = msg->text;
    doc->text_len = scan.have_text ? scan.text_len : 0;
    doc->rule_set = msg->rule_set;
    doc->metadata = msg->metadata;
    doc->metadata_count = msg->n_metadata;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    return 0;
}

/* ---- encoding Documents ------------------------------------------------------------------ */

static size_t codec_put_varint(uint64_t value, uint8_t *out)
{
    size_t n = 0;
    do {
        uint8_t byte = value & 0x7f;
        value >>= 7;
        if (value != 0)
            byte |= 0x80;
        if (out != NULL)
            out[n] = byte;
        n++;
    } while (value != 0);
    return n;
}

/* Writes field (wire type 2) with data[0..len); proto3 leaves empty strings out. */
static size_t codec_put_bytes(unsigned field, const char *data, size_t len, uint8_t *out)
{
    if (len == 0)
        return 0;
    size_t n = codec_put_varint((uint64_t)field << 3 | 2, out);
    n += codec_put_varint(len, out != NULL ? out + n : NULL);
    if (out != NULL)
        memcpy(out + n, data, len);
    return n + len;
}

size_t codec_document_encode(const char *id, size_t id_len, const char *text, size_t text_len,
                             uint8_t *out)
{
    size_t n = codec_put_bytes(1, id, id_len, out);
    n += codec_put_bytes(2, text, text_len, out != NULL ? out + n : NULL);
    return n;
}

/* ---- encoding Results -------------------------------------------------------------------- */

static void *codec_array(nerd_arena_t *arena, size_t count, size_t size)
{
    if (count == 0)
        return NULL;
    if (count > SIZE_MAX / size)
        return NULL;
    return nerd_arena_alloc(arena, count * size);
}

static Nerd__V1__Result *codec_result_new(nerd_arena_t *arena, const codec_result_meta_t *meta)
{
    Nerd__V1__Result *msg = nerd_arena_alloc(arena, sizeof *msg);
    if (msg == NULL)
        return NULL;
    nerd__v1__result__init(msg);
    msg->document_id = codec_str(meta->document_id);
    msg->rule_set_version = codec_str(meta->rule_set_version);
    msg->processing_us = meta->processing_us;
    msg->n_metadata = meta->metadata != NULL ? meta->metadata_count : 0;
    msg->metadata = meta->metadata;
    return msg;
}

static int codec_build_entities(nerd_arena_t *arena, Nerd__V1__Result *msg,
                                const nerd_result_t *result)
{
    size_t n = result->entity_count;
    if (n == 0)
        return 0;
    Nerd__V1__Entity *items = codec_array(arena, n, sizeof *items);
    Nerd__V1__Entity **ptrs = codec_array(arena, n, sizeof *ptrs);
    if (items == NULL || ptrs == NULL)
        return NERD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const nerd_entity_t *e = &result->entities[i];
        nerd__v1__entity__init(&items[i]);
        items[i].type = codec_str(e->type);
        items[i].start = e->start;
        items[i].end = e->end;
        items[i].text = codec_str(e->text);
        items[i].canonical = codec_str(e->canonical);
        items[i].rule = codec_str(e->rule);
        ptrs[i] = &items[i];
    }
    msg->entities = ptrs;
    msg->n_entities = n;
    return 0;
}

static int codec_build_args(nerd_arena_t *arena, Nerd__V1__Relation *out,
                            const nerd_relation_t *rel)
{
    size_t n = rel->arg_count;
    if (n == 0)
        return 0;
    Nerd__V1__Argument *items = codec_array(arena, n, sizeof *items);
    Nerd__V1__Argument **ptrs = codec_array(arena, n, sizeof *ptrs);
    if (items == NULL || ptrs == NULL)
        return NERD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const nerd_arg_t *a = &rel->args[i];
        nerd__v1__argument__init(&items[i]);
        items[i].role = codec_str(a->role);
        items[i].canonical = codec_str(a->canonical);
        items[i].entity = a->entity;
        if (a->has_span) {
            Nerd__V1__Span *span = nerd_arena_alloc(arena, sizeof *span);
            if (span == NULL)
                return NERD_ENOMEM;
            nerd__v1__span__init(span);
            span->start = a->start;
            span->end = a->end;
            span->text = codec_str(a->text);
            items[i].span = span;
        }
        ptrs[i] = &items[i];
    }
    out->args = ptrs;
    out->n_args = n;
    return 0;
}

static int codec_build_attrs(nerd_arena_t *arena, Nerd__V1__Relation *out,
                             const nerd_relation_t *rel)
{
    size_t n = rel->attr_count;
    if (n == 0)
        return 0;
    Nerd__V1__KeyValue *items = codec_array(arena, n, sizeof *items);
    Nerd__V1__KeyValue **ptrs = codec_array(arena, n, sizeof *ptrs);
    if (items == NULL || ptrs == NULL)
        return NERD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        nerd__v1__key_value__init(&items[i]);
        items[i].key = codec_str(rel->attrs[i].key);
        items[i].value = codec_str(rel->attrs[i].value);
        ptrs[i] = &items[i];
    }
    out->attrs = ptrs;
    out->n_attrs = n;
    return 0;
}

static int codec_build_relations(nerd_arena_t *arena, Nerd__V1__Result *msg,
                                 const nerd_result_t *result)
{
    size_t n = result->relation_count;
    if (n == 0)
        return 0;
    Nerd__V1__Relation *items = codec_array(arena, n, sizeof *items);
    Nerd__V1__Relation **ptrs = codec_array(arena, n, sizeof *ptrs);
    if (items == NULL || ptrs == NULL)
        return NERD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const nerd_relation_t *r = &result->relations[i];
        nerd__v1__relation__init(&items[i]);
        items[i].type = codec_str(r->type);
        items[i].rule = codec_str(r->rule);
        if (codec_build_args(arena, &items[i], r) != 0 ||
            codec_build_attrs(arena, &items[i], r) != 0)
            return NERD_ENOMEM;
        ptrs[i] = &items[i];
    }
    msg->relations = ptrs;
    msg->n_relations = n;
    return 0;
}

Nerd__V1__Result *codec_result_build(nerd_arena_t *arena, const codec_result_meta_t *meta,
                                     const nerd_result_t *result)
{
    Nerd__V1__Result *msg = codec_result_new(arena, meta);
    if (msg == NULL)
        return NULL;
    msg->status = NERD__V1__RESULT__STATUS__OK;
    if (result != NULL && (codec_build_entities(arena, msg, result) != 0 ||
                           codec_build_relations(arena, msg, result) != 0))
        return NULL;
    return msg;
}

Nerd__V1__Result *codec_error_build(nerd_arena_t *arena, const codec_result_meta_t *meta,
                                    int code, const char *message)
{
    Nerd__V1__Result *msg = codec_result_new(arena, meta);
    if (msg == NULL)
        return NULL;
    msg->status = NERD__V1__RESULT__STATUS__ERROR;
    msg->error_code = codec_str(codec_error_name(code));
    /* A message may quote the client's bytes, or be cut mid-character by snprintf; proto3
     * strings must be UTF-8 or strict decoders (Google's) refuse the whole Result. */
    const char *text = message != NULL ? message : codec_error_text(code);
    msg->error = codec_utf8_repair(arena, text, strlen(text));
    if (msg->error == NULL)
        return NULL;
    return msg;
}

int codec_result_pack(nerd_arena_t *arena, const Nerd__V1__Result *msg, uint8_t **out,
                      size_t *out_len)
{
    size_t size = nerd__v1__result__get_packed_size(msg);
    uint8_t *data = nerd_arena_alloc(arena, size > 0 ? size : 1);
    if (data == NULL)
        return NERD_ENOMEM;
    *out_len = nerd__v1__result__pack(msg, data);
    *out = data;
    return 0;
}

/* ---- decoding Results --------------------------------------------------------------------- */

Nerd__V1__Result *codec_decode_result(nerd_arena_t *arena, const void *data, size_t len)
{
    ProtobufCAllocator allocator;
    codec_allocator(&allocator, arena);
    return nerd__v1__result__unpack(&allocator, len, data);
}

static const char *codec_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static int codec_view_relation(nerd_arena_t *arena, const Nerd__V1__Relation *r,
                               nerd_relation_t *out)
{
    nerd_arg_t *args = codec_array(arena, r->n_args, sizeof *args);
    nerd_attr_t *attrs = codec_array(arena, r->n_attrs, sizeof *attrs);
    if ((r->n_args > 0 && args == NULL) || (r->n_attrs > 0 && attrs == NULL))
        return NERD_ENOMEM;
    for (size_t j = 0; j < r->n_args; j++) {
        const Nerd__V1__Argument *a = r->args[j];
        args[j].role = a->role;
        args[j].has_span = a->span != NULL;
        args[j].start = a->span != NULL ? a->span->start : 0;
        args[j].end = a->span != NULL ? a->span->end : 0;
        args[j].text = a->span != NULL ? a->span->text : NULL;
        args[j].canonical = codec_or_null(a->canonical);
        args[j].entity = a->entity;
    }
    for (size_t j = 0; j < r->n_attrs; j++) {
        attrs[j].key = r->attrs[j]->key;
        attrs[j].value = r->attrs[j]->value;
    }
    out->type = r->type;
    out->args = args;
    out->arg_count = r->n_args;
    out->attrs = attrs;
    out->attr_count = r->n_attrs;
    out->rule = r->rule;
    return 0;
}

int codec_result_view(nerd_arena_t *arena, const Nerd__V1__Result *msg, nerd_result_t *view)
{
    memset(view, 0, sizeof *view);
    nerd_entity_t *entities = codec_array(arena, msg->n_entities, sizeof *entities);
    nerd_relation_t *relations = codec_array(arena, msg->n_relations, sizeof *relations);
    if ((msg->n_entities > 0 && entities == NULL) || (msg->n_relations > 0 && relations == NULL))
        return NERD_ENOMEM;
    for (size_t i = 0; i < msg->n_entities; i++) {
        const Nerd__V1__Entity *e = msg->entities[i];
        entities[i].type = e->type;
        entities[i].start = e->start;
        entities[i].end = e->end;
        entities[i].text = e->text;
        entities[i].canonical = e->canonical;
        entities[i].rule = e->rule;
    }
    for (size_t i = 0; i < msg->n_relations; i++)
        if (codec_view_relation(arena, msg->relations[i], &relations[i]) != 0)
            return NERD_ENOMEM;
    view->entities = entities;
    view->entity_count = msg->n_entities;
    view->relations = relations;
    view->relation_count = msg->n_relations;
    return 0;
}
