/*
 * json.h - the JSON nerd prints and the JSON Lines it reads.
 *
 * Writing: one JSON object a line per document, as ../shared/eval/README.md defines it
 * (`nerd extract` and `nerd tail` print the same shape):
 *
 *   {"id":"doc-1","entities":[{"type":"PERSON","start":0,"end":11,"text":"Lin Zongnan",
 *    "canonical":"Lin Zongnan","rule":"person.rules:12 name"}],
 *    "relations":[{"type":"affiliation","args":{"person":{"start":0,"end":11,"text":"...",
 *    "canonical":"..."},"role":{...}},"attrs":{"direct":"true"},"rule":"..."}]}
 *
 * Offsets are UTF-8 byte offsets.  An argument known only from context has no offsets:
 * {"canonical":"..."}.  "attrs" appears only when the relation has attributes.  Strings are
 * escaped per RFC 8259; bytes that are not valid UTF-8 are written as \ufffd so the output is
 * always valid JSON.
 *
 * Reading: a strict JSON parser for one line at a time that keeps only "id" and "text" and
 * checks (then skips) every other key whatever its type.  Lines of only white space are skipped.
 */
#ifndef NERD_JSON_H
#define NERD_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "nerd.h"

/* ---- writing ------------------------------------------------------------------------------ */

/* Appends s[0..len) as a quoted, escaped JSON string.  Returns 0 or -1 (out of memory). */
int json_put_string(buf_t *out, const char *s, size_t len);
/* The same for a NUL-terminated string; NULL is written as "". */
int json_put_cstr(buf_t *out, const char *s);
/* Appends an unsigned integer. */
int json_put_uint(buf_t *out, uint64_t value);

/* Starts a document line: {"id":"..." (the caller then adds keys and ends it). */
int json_begin_doc(buf_t *out, const char *id, size_t id_len);
/* Adds ,"entities":[...],"relations":[...] for result. */
int json_add_result(buf_t *out, const nerd_result_t *result);
/* Adds ,"key":"value". */
int json_add_string(buf_t *out, const char *key, const char *value);
/* Adds ,"key":value. */
int json_add_uint(buf_t *out, const char *key, uint64_t value);
/* Ends the line: }\n. */
int json_end_doc(buf_t *out);

/* A whole error line: {"id":...,"error":message,"error_code":code}\n. */
int json_write_error(buf_t *out, const char *id, size_t id_len, const char *message,
                     const char *code);

/* ---- reading ------------------------------------------------------------------------------ */

/* What one JSON Lines line held.  Owns its buffers; reused from line to line. */
typedef struct json_doc {
    buf_t id;          /* the "id" string decoded (a number keeps its literal text) */
    int has_id;
    buf_t text;        /* the "text" string decoded; may contain NUL bytes (from \u0000) */
    int has_text;
    buf_t scratch;     /* object keys, decoded to be compared */
} json_doc_t;

#define JSON_DOC_INIT { BUF_INIT, 0, BUF_INIT, 0, BUF_INIT }

void json_doc_free(json_doc_t *doc);

/*
 * Parses line[0..len) (without its newline) as one JSON object and keeps "id" and "text".
 * Returns 1 for a document, 0 for a blank line, -1 for an invalid line with a sentence and the
 * byte column in err ("column 17: expected ':' after an object key"), NERD_ENOMEM when memory
 * runs out.  A missing "text", or an "id"/"text" of the wrong type, is an error; a missing "id"
 * is not (has_id = 0).
 */
int json_parse_doc(const char *line, size_t len, json_doc_t *doc, char *err, size_t errlen);

/* Reads a JSON Lines stream line by line with a large buffer. */
typedef struct json_lines json_lines_t;

/* Reads from f (not closed by json_lines); name is used in error messages.  NULL on OOM. */
json_lines_t *json_lines_new(FILE *f, const char *name);
void json_lines_destroy(json_lines_t **reader);

/*
 * Reads the next non-blank line into doc.  Returns 1 for a document, 0 at the end, -1 for an
 * invalid line (err = "NAME:LINE: sentence"; reading may go on with the next line), -2 for a read
 * error or out of memory (err says which; stop).
 */
int json_lines_next(json_lines_t *reader, json_doc_t *doc, char *err, size_t errlen);

/* The 1-based number of the line last returned. */
size_t json_lines_lineno(const json_lines_t *reader);

#endif /* NERD_JSON_H */
