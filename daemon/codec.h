/*
 * codec.h - protobuf wire format of nerd: decode Documents, encode Results.
 *
 * Wraps the protobuf-c code generated from proto/nerd.proto.  Everything decoded or built here
 * is allocated from a nerd_arena_t (protobuf-c is given an allocator backed by the arena), so a
 * document's memory goes away with nerd_arena_reset() and nothing needs freeing one by one.
 *
 * Every decoded Document is validated before anyone trusts it: the frame must be a well-formed
 * Document, the id, metadata and rule-set name valid UTF-8.  The text is checked later (by the
 * caller / the engine) because an invalid text is its own error reason ("utf8").
 */
#ifndef NERD_CODEC_H
#define NERD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "nerd.h"
#include "nerd.pb-c.h"

/* Daemon-level error codes, next to the engine's NERD_E* ones. */
#define CODEC_EDECODE (-100)     /* the frame is not a valid Document: "decode" */
#define CODEC_ERULESET (-101)    /* the Document names a rule set not served here: "rule_set" */

/* The machine name of code: "decode", "rule_set", else nerd_strerror_name(code). */
const char *codec_error_name(int code);
/* The sentence for code: for the daemon-level codes a generic one, else nerd_strerror(code). */
const char *codec_error_text(int code);

/* A decoded, validated Document.  Every pointer is into the arena and never NULL. */
typedef struct codec_doc {
    const char *id;                    /* NUL-terminated, valid UTF-8 */
    const char *text;                  /* text[0..text_len), NUL-terminated; may hold NUL bytes */
    size_t text_len;
    const char *rule_set;              /* "" = the daemon's rule set */
    Nerd__V1__KeyValue **metadata;     /* valid UTF-8 keys and values */
    size_t metadata_count;
} codec_doc_t;

/*
 * Decodes data[0..len) as a Document into doc, allocating from arena.  Returns 0, or
 * CODEC_EDECODE with a sentence in why (at most whylen bytes).  Even on failure doc->id is set:
 * to the id read from the frame where the bytes allowed it (invalid UTF-8 replaced by U+FFFD),
 * else to "".  The other fields are empty on failure.  NERD_ENOMEM when the arena runs out.
 */
int codec_decode_document(nerd_arena_t *arena, const void *data, size_t len, codec_doc_t *doc,
                          char *why, size_t whylen);

/*
 * Encodes a Document with id[0..id_len) and text[0..text_len) into out, which must hold the
 * returned number of bytes; with out NULL only the size is computed.  Written straight in the wire
 * format rather than through protobuf-c, whose NUL-terminated strings would cut a text at its
 * first NUL byte (and would need a copy of the text).
 */
size_t codec_document_encode(const char *id, size_t id_len, const char *text, size_t text_len,
                             uint8_t *out);

/* What a Result carries besides the extraction itself. */
typedef struct codec_result_meta {
    const char *document_id;           /* NULL = "" */
    const char *rule_set_version;      /* NULL = "" */
    uint64_t processing_us;
    Nerd__V1__KeyValue **metadata;     /* echoed; may be NULL when metadata_count is 0 */
    size_t metadata_count;
} codec_result_meta_t;

/*
 * Builds a status OK Result from an engine result, in arena memory.  Strings are referenced, not
 * copied: result and meta must outlive the returned message.  NULL when the arena runs out.
 */
Nerd__V1__Result *codec_result_build(nerd_arena_t *arena, const codec_result_meta_t *meta,
                                     const nerd_result_t *result);

/*
 * Builds a status ERROR Result: error_code = codec_error_name(code), error = message (NULL = the
 * generic sentence for code), copied with any bytes that are not UTF-8 replaced by U+FFFD.  NULL
 * when the arena runs out.
 */
Nerd__V1__Result *codec_error_build(nerd_arena_t *arena, const codec_result_meta_t *meta,
                                    int code, const char *message);

/* Packs msg into arena memory: *out, *out_len.  Returns 0 or NERD_ENOMEM. */
int codec_result_pack(nerd_arena_t *arena, const Nerd__V1__Result *msg, uint8_t **out,
                      size_t *out_len);

/* Decodes a Result (used by `nerd tail` and the tests).  NULL when it is not a valid Result. */
Nerd__V1__Result *codec_decode_result(nerd_arena_t *arena, const void *data, size_t len);

/*
 * Turns a decoded Result back into the engine's view (so one JSON writer serves both
 * `nerd extract` and `nerd tail`).  An argument without a span gets has_span = 0.  Pointers are
 * into msg and arena.  Returns 0 or NERD_ENOMEM.
 */
int codec_result_view(nerd_arena_t *arena, const Nerd__V1__Result *msg, nerd_result_t *view);

/*
 * Copies s[0..len) into the arena as NUL-terminated valid UTF-8, replacing every ill-formed
 * sequence by U+FFFD.  NULL when the arena runs out.
 */
char *codec_utf8_repair(nerd_arena_t *arena, const char *s, size_t len);

#endif /* NERD_CODEC_H */
