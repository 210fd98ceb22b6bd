/*
 * rules.c - loading a rule set folder into a compiled, shared, reference-counted nerd_rules_t.
 *
 * nerd_rules_load() reads every *.rules file of the folder in name order (rules_parse.c turns
 * each into rules, macros, phases, gazetteer entries and tests), then compiles the patterns
 * (pattern.c) once every entity type is known.  Every problem is collected as a
 * "file:line:col: message" line; a set with any problem is not returned.
 */
#include "rules_load.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#define FNV_OFFSET UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

/* Control bytes that stand for entity types in the masked text: the C0 bytes that no PCRE2
 * class of blanks matches (so not \t \n \v \f \r, which \s and \v match), nor NUL, nor the
 * filler 0x1F.  That leaves 25 bytes for at most 24 types. */
static const unsigned char type_bytes[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                           0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                           0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D};

unsigned char rules_type_byte(size_t t)
{
    return t < sizeof(type_bytes) ? type_bytes[t] : 0;
}

const uint8_t rules_capital_bytes[32] = {   /* 0x01-0x1F, 'A'-'Z', 0xC0-0xFF */
    0xFE, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0x07, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};
_Static_assert(RULES_FILLER_BYTE == 0x1F, "capital_bytes covers the type bytes and the filler");

int rules_starts_at_capitals(const uint8_t start_bytes[32])
{
    for (size_t i = 0; i < sizeof(rules_capital_bytes); i++)
        if (start_bytes[i] & ~rules_capital_bytes[i])
            return 0;
    return 1;
}

/* ---- loader helpers ---- */

void loader_error(loader_t *L, const char *file, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t index = L->file_count;
    for (size_t k = 0; k < L->file_count; k++)
        if (L->files[k] == file || strcmp(L->files[k], file) == 0)
            index = k;
    if (loader_grow(L, (void **)&L->errors, &L->error_cap, L->error_count, sizeof(load_error_t)) != 0)
        return;
    strbuf_t sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "%s:%u:%u: %s\n", file, line, col, msg);
    char *text = strbuf_take(&sb);
    if (text == NULL) {
        L->nomem = 1;
        return;
    }
    load_error_t *e = &L->errors[L->error_count];
    e->file = index;
    e->line = line;
    e->col = col;
    e->seq = L->error_count++;
    e->text = text;
}

static int error_compare(const void *pa, const void *pb)
{
    const load_error_t *a = pa, *b = pb;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Every error, sorted, as one malloc'd text (NULL when out of memory). */
static char *errors_text(loader_t *L)
{
    qsort(L->errors, L->error_count, sizeof(load_error_t), error_compare);
    strbuf_t sb;
    strbuf_init(&sb);
    for (size_t k = 0; k < L->error_count; k++)
        strbuf_puts(&sb, L->errors[k].text);
    return strbuf_take(&sb);
}

char *loader_strndup(loader_t *L, const char *s, size_t n)
{
    char *p = nerd_arena_strndup(L->set->pool, s, n);
    if (p == NULL)
        L->nomem = 1;
    return p;
}

int loader_grow(loader_t *L, void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 16;
    while (c <= n)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (p == NULL) {
        L->nomem = 1;
        return NERD_ENOMEM;
    }
    *arr = p;
    *cap = c;
    return 0;
}

char *loader_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        errno = EISDIR;
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    size_t got = fread(buf, 1, size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != size) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

void loader_hash(loader_t *L, const char *data, size_t len)
{
    uint64_t h = L->hash;
    const unsigned char *s = (const unsigned char *)data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * FNV_PRIME;
    L->hash = h;
}

int loader_type(loader_t *L, const char *name, size_t len, int create)
{
    nerd_rules_t *set = L->set;
    for (size_t i = 0; i < set->type_count; i++)
        if (strlen(set->types[i]) == len && memcmp(set->types[i], name, len) == 0)
            return (int)i;
    if (!create || set->type_count == RULES_MAX_TYPES)
        return -1;
    const char *copy = loader_strndup(L, name, len);
    if (copy == NULL)
        return -1;
    set->types[set->type_count] = copy;
    set->type_byte[set->type_count] = rules_type_byte(set->type_count);
    return (int)set->type_count++;
}

int loader_relation_type(loader_t *L, const char *name, size_t len, int create)
{
    nerd_rules_t *set = L->set;
    for (size_t i = 0; i < set->relation_type_count; i++)
        if (strlen(set->relation_types[i]) == len && memcmp(set->relation_types[i], name, len) == 0)
            return (int)i;
    if (!create)
        return -1;
    /* relation_types lives in the pool: grow by copying (there are only a handful). */
    const char **arr = nerd_arena_alloc(set->pool, (set->relation_type_count + 1) * sizeof(*arr));
    const char *copy = loader_strndup(L, name, len);
    if (arr == NULL || copy == NULL) {
        L->nomem = 1;
        return -1;
    }
    if (set->relation_type_count)
        memcpy(arr, set->relation_types, set->relation_type_count * sizeof(*arr));
    arr[set->relation_type_count] = copy;
    set->relation_types = arr;
    return (int)set->relation_type_count++;
}

/* ---- the set ---- */

static void rules_free(nerd_rules_t *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->rule_count; i++) {
        pcre2_code_free(set->rules[i].code);
        pcre2_code_free(set->rules[i].anchored);
    }
    free(set->rules);
    free(set->tests);
    gazetteer_destroy(&set->gazetteer);
    gate_destroy(&set->gate);
    nerd_arena_destroy(&set->pool);
    free(set);
}

static int name_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Lists the *.rules files of L->dir in name order into *names (malloc'd strings). */
static size_t list_rule_files(loader_t *L, char ***names)
{
    *names = NULL;
    DIR *d = opendir(L->dir);
    if (d == NULL) {
        loader_error(L, L->dir, 0, 0, "cannot open the rule set folder: %s", strerror(errno));
        return 0;
    }
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".rules"))
            continue;
        char *copy = strdup(e->d_name);
        if (copy == NULL || loader_grow(L, (void **)names, &cap, n, sizeof(char *)) != 0) {
            free(copy);
            L->nomem = 1;
            break;
        }
        (*names)[n++] = copy;
    }
    closedir(d);
    if (n > 1)
        qsort(*names, n, sizeof(char *), name_compare);
    /* A folder without rule files is an empty set, valid: it finds nothing. */
    return n;
}

static void load_files(loader_t *L)
{
    char **names;
    size_t n = list_rule_files(L, &names);
    for (size_t i = 0; i < n; i++) {
        strbuf_t path;
        strbuf_init(&path);
        strbuf_printf(&path, "%s/%s", L->dir, names[i]);
        const char *display = path.data ? loader_strndup(L, path.data, path.len) : NULL;
        size_t len = 0;
        char *data = display ? loader_read_file(display, &len) : NULL;
        if (display == NULL) {
            L->nomem = 1;
        } else if (data == NULL) {
            loader_error(L, display, 0, 0, "cannot read the file: %s", strerror(errno));
        } else {
            if (loader_grow(L, (void **)&L->files, &L->file_cap, L->file_count, sizeof(char *)) == 0)
                L->files[L->file_count++] = display;
            loader_hash(L, names[i], strlen(names[i]));
            loader_hash(L, data, len);
            rules_parse_file(L, display, names[i], data, len);
        }
        free(data);
        strbuf_free(&path);
        free(names[i]);
    }
    free(names);
}

static const char *last_component(loader_t *L, const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    return loader_strndup(L, dir + start, len - start);
}

static void finish_set(loader_t *L)
{
    nerd_rules_t *set = L->set;
    if (gazetteer_freeze(set->gazetteer) != 0)
        L->nomem = 1;
    set->phase_count = L->phase_count ? L->phase_count : 1;
    set->person_type = loader_type(L, "PERSON", 6, 0);
    set->org_type = loader_type(L, "ORG", 3, 0);
    set->pron_type = loader_type(L, "PRON", 4, 0);
    set->loc_type = loader_type(L, "LOC", 3, 0);
    char version[512];
    snprintf(version, sizeof(version), "%s@%08x", L->dirname ? L->dirname : "",
             (unsigned)((L->hash >> 32) ^ L->hash));
    set->version = loader_strndup(L, version, strlen(version));
}

static void loader_free(loader_t *L)
{
    for (size_t i = 0; i < L->pending_count; i++) {
        free(L->pending[i].text);
        free(L->pending[i].lines);
        free(L->pending[i].cols);
    }
    free(L->pending);
    free(L->macros);
    free(L->phases);
    free(L->names);
    for (size_t k = 0; k < L->error_count; k++)
        free(L->errors[k].text);
    free(L->errors);
    free(L->files);
}

/* Loading leaves megabytes of freed scratch (pattern expansions with their source maps, the
 * analyses of prefilter.c) in the heap; a long-running daemon reloads now and then, so hand it
 * back to the system where the C library can. */
static void release_scratch(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

nerd_rules_t *nerd_rules_load(const char *dir, char **errors)
{
    if (errors)
        *errors = NULL;
    if (dir == NULL)
        return NULL;
    loader_t L;
    memset(&L, 0, sizeof(L));
    L.dir = dir;
    L.hash = FNV_OFFSET;
    nerd_rules_t *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return NULL;
    atomic_init(&set->refs, 1);
    set->pool = nerd_arena_new(64 * 1024);
    set->gazetteer = gazetteer_new();
    L.set = set;
    if (set->pool == NULL || set->gazetteer == NULL) {
        rules_free(set);
        return NULL;
    }
    L.dirname = last_component(&L, dir);
    load_files(&L);
    if (!L.nomem)
        pattern_compile_all(&L);
    if (!L.nomem)
        finish_set(&L);
    if (L.nomem && errors)
        *errors = strdup("out of memory while loading the rule set\n");
    if (L.error_count || L.nomem) {
        if (errors && !L.nomem)
            *errors = errors_text(&L);
        loader_free(&L);
        rules_free(set);
        return NULL;
    }
    loader_free(&L);
    release_scratch();
    return set;
}

nerd_rules_t *nerd_rules_ref(nerd_rules_t *rules)
{
    if (rules)
        atomic_fetch_add_explicit(&rules->refs, 1, memory_order_relaxed);
    return rules;
}

void nerd_rules_unref(nerd_rules_t **rules)
{
    if (rules == NULL || *rules == NULL)
        return;
    /* acq_rel: the thread that frees must see every other thread's last use of the set. */
    if (atomic_fetch_sub_explicit(&(*rules)->refs, 1, memory_order_acq_rel) == 1)
        rules_free(*rules);
    *rules = NULL;
}

const char *nerd_rules_version(const nerd_rules_t *rules)
{
    return rules && rules->version ? rules->version : "";
}

size_t nerd_rules_count(const nerd_rules_t *rules)
{
    return rules ? rules->rule_count : 0;
}
