/*
 * rules_load.h - state shared by the modules that load a rule set (rules.c, rules_parse.c,
 * pattern.c).  Nothing here survives loading except what is copied into struct nerd_rules.
 */
#ifndef NERD_RULES_LOAD_H
#define NERD_RULES_LOAD_H

#include "rules.h"

/* One logical line: physical lines joined at trailing backslashes, with the source position of
 * every byte so that errors point at the right place. */
typedef struct logical_line {
    const char *text;
    size_t len;
    const uint32_t *lines, *cols;   /* 1-based, one per byte of text (and one past the end) */
} logical_line_t;

typedef struct macro {
    const char *name;
    const char *body;
    size_t body_len;
} macro_t;

/* A pattern waiting for pass two, when every entity type of the set is known. */
typedef struct pending_pattern {
    size_t rule;
    const char *file;               /* display path for errors */
    char *text;                     /* malloc'd copy of the pattern source */
    size_t len;
    uint32_t *lines, *cols;         /* malloc'd, len + 1 entries */
    size_t macro_limit;             /* macros visible to the pattern */
    const char *canonical;          /* canonical=GROUP, or NULL */
    uint32_t canonical_line, canonical_col;
} pending_pattern_t;

/* A type name used by a test line, checked once every type is known. */
typedef struct pending_name {
    const char *file;
    uint32_t line, col;
    const char *name;
    int relation;                   /* a relation type, else an entity type */
} pending_name_t;

/* One problem found while loading; reported sorted by file, line and column. */
typedef struct load_error {
    size_t file;                    /* index into loader.files */
    uint32_t line, col;
    size_t seq;                     /* order of discovery, the last tie-breaker */
    char *text;                     /* malloc'd "file:line:col: message" */
} load_error_t;

typedef struct loader {
    nerd_rules_t *set;
    const char *dir;                /* as given */
    const char *dirname;            /* last component of dir, for rule ids */
    load_error_t *errors;
    size_t error_count, error_cap;
    const char **files;             /* display paths of the rule files, in load order */
    size_t file_count, file_cap;
    int nomem;
    macro_t *macros;
    size_t macro_count, macro_cap;
    const char **phases;
    size_t phase_count, phase_cap, current_phase;
    size_t rule_cap;
    pending_pattern_t *pending;
    size_t pending_count, pending_cap;
    pending_name_t *names;
    size_t name_count, name_cap;
    size_t test_cap;
    uint64_t hash;                  /* FNV-1a of every file read */
} loader_t;

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void loader_error(loader_t *L, const char *file, uint32_t line, uint32_t col, const char *fmt, ...);
/* Copies s[0..n) into the set's pool; NULL (and L->nomem) when memory runs out. */
char *loader_strndup(loader_t *L, const char *s, size_t n);
/* Grows *arr (of *cap elements of size elem) to hold at least n + 1; 0 or NERD_ENOMEM. */
int loader_grow(loader_t *L, void **arr, size_t *cap, size_t n, size_t elem);
/* Reads a whole file with one fread; returns a malloc'd NUL-terminated buffer or NULL (errno). */
char *loader_read_file(const char *path, size_t *len);
void loader_hash(loader_t *L, const char *data, size_t len);
/* The index of entity type name, adding it when create is set; -1 if unknown or too many. */
int loader_type(loader_t *L, const char *name, size_t len, int create);
int loader_relation_type(loader_t *L, const char *name, size_t len, int create);

/* Parses one rule file (rules_parse.c). */
void rules_parse_file(loader_t *L, const char *display, const char *fname, const char *data,
                      size_t len);
/* Pass two: expands and compiles every pending pattern (pattern.c). */
void pattern_compile_all(loader_t *L);
/* Reports every @NAME in ll->text[from..] that is not among the first macro_limit macros;
 * returns the number of errors (pattern.c). */
int pattern_check_macro_refs(loader_t *L, const char *file, const logical_line_t *ll, size_t from,
                             size_t macro_limit);

#endif
