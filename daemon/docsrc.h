/*
 * docsrc.h - the documents given on a command line: plain text files or JSON Lines, or stdin.
 *
 * Shared by `nerd extract` and `nerd push`, so both read their input the same way:
 *   - plain text: each FILE is one document whose id is the file name as given; "-" (or no FILE
 *     at all) is stdin, with id "stdin";
 *   - JSON Lines (--jsonl): each non-blank line is {"id": ..., "text": ..., ...}; other keys are
 *     ignored; a line without "id" gets "NAME:LINE".
 * Problems with one input (a file that cannot be read, a line that is not valid JSON) are returned
 * as an error item and reading goes on with the next one.
 */
#ifndef NERD_DOCSRC_H
#define NERD_DOCSRC_H

#include <stddef.h>

typedef struct docsrc docsrc_t;

/* One document, or one error item.  Valid until the next docsrc_next(). */
typedef struct docsrc_doc {
    const char *id;          /* NUL-terminated */
    size_t id_len;
    const char *text;        /* text[0..text_len), may contain NUL bytes */
    size_t text_len;
    const char *error;       /* for an error item: the sentence; else NULL */
    const char *error_code;  /* for an error item: "io" or "json" */
} docsrc_doc_t;

/* Reads paths[0..count) (count 0 = stdin) as plain text or, if jsonl, JSON Lines.  NULL on OOM. */
docsrc_t *docsrc_new(char *const *paths, size_t count, int jsonl);
void docsrc_destroy(docsrc_t **src);

/* Next document: 1, or 0 at the end, or -1 for an error item (doc->error says what). */
int docsrc_next(docsrc_t *src, docsrc_doc_t *doc);

#endif /* NERD_DOCSRC_H */
