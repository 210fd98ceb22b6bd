/*
 * docsrc.c - iterate over the documents named on a command line (see docsrc.h).
 *
 * Plain files are read whole with large freads into one reused buffer; JSON Lines go through
 * json_lines, which also reuses its buffers, so a long run allocates only while the largest
 * document so far grows.
 */
#include "docsrc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "nerd.h"

struct docsrc {
    char *const *paths;
    size_t count;
    int use_stdin;           /* no paths: read stdin once */
    int jsonl;
    size_t next;             /* index of the next path to open */
    FILE *f;                 /* the JSON Lines file being read, or NULL */
    const char *name;        /* its name as given */
    json_lines_t *lines;
    json_doc_t jdoc;
    buf_t text;              /* a plain file's contents */
    buf_t id;                /* ids made up here */
    char error[512];
};

docsrc_t *docsrc_new(char *const *paths, size_t count, int jsonl)
{
    static const json_doc_t jdoc_init = JSON_DOC_INIT;
    docsrc_t *src = calloc(1, sizeof *src);
    if (src == NULL)
        return NULL;
    src->paths = paths;
    src->count = count;
    src->use_stdin = count == 0;
    src->jsonl = jsonl;
    src->jdoc = jdoc_init;
    return src;
}

static void docsrc_close_file(docsrc_t *src)
{
    json_lines_destroy(&src->lines);
    if (src->f != NULL && src->f != stdin)
        fclose(src->f);
    src->f = NULL;
}

void docsrc_destroy(docsrc_t **src)
{
    if (src == NULL || *src == NULL)
        return;
    docsrc_close_file(*src);
    json_doc_free(&(*src)->jdoc);
    buf_free(&(*src)->text);
    buf_free(&(*src)->id);
    free(*src);
    *src = NULL;
}

/* Takes the next input name; NULL when none is left. */
static const char *docsrc_next_name(docsrc_t *src)
{
    if (src->use_stdin) {
        src->use_stdin = 0;
        src->count = 0;
        return "-";
    }
    if (src->next >= src->count)
        return NULL;
    return src->paths[src->next++];
}

static FILE *docsrc_open(const char *name)
{
    return strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
}

static int docsrc_error(docsrc_t *src, docsrc_doc_t *doc, const char *id, const char *code)
{
    buf_clear(&src->id);
    if (buf_puts(&src->id, id) != 0)
        src->id.len = 0;
    doc->id = src->id.data != NULL ? src->id.data : "";
    doc->id_len = src->id.len;
    doc->text = "";
    doc->text_len = 0;
    doc->error = src->error;
    doc->error_code = code;
    return -1;
}

/* Reads a whole plain-text input as one document. */
static int docsrc_plain(docsrc_t *src, const char *name, docsrc_doc_t *doc)
{
    const char *id = strcmp(name, "-") == 0 ? "stdin" : name;
    FILE *f = docsrc_open(name);
    if (f == NULL) {
        snprintf(src->error, sizeof src->error, "cannot open %s: %s", name, strerror(errno));
        return docsrc_error(src, doc, id, nerd_strerror_name(NERD_EIO));
    }
    buf_clear(&src->text);
    int failed = 0;
    for (;;) {
        if (buf_reserve(&src->text, 1u << 20) != 0) {
            snprintf(src->error, sizeof src->error, "%s: out of memory", name);
            failed = 1;
            break;
        }
        size_t got = fread(src->text.data + src->text.len, 1,
                           src->text.cap - src->text.len - 1, f);
        src->text.len += got;
        src->text.data[src->text.len] = '\0';
        if (got == 0) {
            if (ferror(f)) {
                snprintf(src->error, sizeof src->error, "cannot read %s: %s", name,
                         strerror(errno));
                failed = 1;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (failed)
        return docsrc_error(src, doc, id, nerd_strerror_name(NERD_EIO));
    buf_clear(&src->id);
    if (buf_puts(&src->id, id) != 0) {
        snprintf(src->error, sizeof src->error, "out of memory");
        return docsrc_error(src, doc, id, nerd_strerror_name(NERD_ENOMEM));
    }
    doc->id = src->id.data;
    doc->id_len = src->id.len;
    doc->text = src->text.data;
    doc->text_len = src->text.len;
    doc->error = NULL;
    doc->error_code = NULL;
    return 1;
}

/* Returns the next line of the open JSON Lines file; 0 when the file is done. */
static int docsrc_jsonl_line(docsrc_t *src, docsrc_doc_t *doc)
{
    int rc = json_lines_next(src->lines, &src->jdoc, src->error, sizeof src->error);
    if (rc == 0)
        return 0;
    char where[300];
    snprintf(where, sizeof where, "%s:%zu", src->name, json_lines_lineno(src->lines));
    if (rc < 0) {
        if (rc == -2)
            docsrc_close_file(src);  /* cannot go on with this file */
        return docsrc_error(src, doc, where, "json");
    }
    if (!src->jdoc.has_id) {
        buf_clear(&src->jdoc.id);
        if (buf_puts(&src->jdoc.id, where) != 0) {
            snprintf(src->error, sizeof src->error, "out of memory");
            return docsrc_error(src, doc, where, nerd_strerror_name(NERD_ENOMEM));
        }
    }
    doc->id = src->jdoc.id.data != NULL ? src->jdoc.id.data : "";
    doc->id_len = src->jdoc.id.len;
    doc->text = src->jdoc.text.data != NULL ? src->jdoc.text.data : "";
    doc->text_len = src->jdoc.text.len;
    doc->error = NULL;
    doc->error_code = NULL;
    return 1;
}

int docsrc_next(docsrc_t *src, docsrc_doc_t *doc)
{
    for (;;) {
        if (src->lines != NULL) {
            int rc = docsrc_jsonl_line(src, doc);
            if (rc != 0)
                return rc;
            docsrc_close_file(src);
        }
        const char *name = docsrc_next_name(src);
        if (name == NULL)
            return 0;
        if (!src->jsonl)
            return docsrc_plain(src, name, doc);
        src->f = docsrc_open(name);
        src->name = strcmp(name, "-") == 0 ? "stdin" : name;
        if (src->f == NULL) {
            snprintf(src->error, sizeof src->error, "cannot open %s: %s", name, strerror(errno));
            return docsrc_error(src, doc, name, nerd_strerror_name(NERD_EIO));
        }
        src->lines = json_lines_new(src->f, src->name);
        if (src->lines == NULL) {
            docsrc_close_file(src);
            snprintf(src->error, sizeof src->error, "out of memory");
            return docsrc_error(src, doc, name, nerd_strerror_name(NERD_ENOMEM));
        }
    }
}
