/*
 * testlib.h - helpers the engine and rule tests share: the fixtures folder, rule sets written
 * to a scratch folder, and finding an entity in a result.  Include after <cmocka.h>; every
 * helper is static inline, so a test file that does not use one pays nothing.
 */
#ifndef NERD_TESTLIB_H
#define NERD_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nerd.h"

/* The fixtures folder beside this file, found whatever the working directory. */
static inline const char *fixture(const char *name)
{
    static char path[1024];
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(path, sizeof(path), "%.*s/fixtures/%s", dir, slash ? file : ".", name);
    return path;
}

/* A rule set folder of a few files under /tmp, removed by scratch_remove(). */
typedef struct scratch {
    char dir[256];
    char files[8][300];
    int nfiles;
} scratch_t;

static inline void scratch_init(scratch_t *s)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->dir, "/tmp/nerd-test-rules-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
}

static inline void scratch_write(scratch_t *s, const char *name, const char *content)
{
    assert_true(s->nfiles < 8);
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    memcpy(s->files[s->nfiles++], path, sizeof(path));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static inline void scratch_remove(scratch_t *s)
{
    for (int i = 0; i < s->nfiles; i++)
        unlink(s->files[i]);
    rmdir(s->dir);
}

/* Loads a set of one file, a.rules, with content; the rules or NULL, and the error text. */
static inline nerd_rules_t *load_rules_text(const char *content, char **errors)
{
    scratch_t s;
    scratch_init(&s);
    scratch_write(&s, "a.rules", content);
    nerd_rules_t *r = nerd_rules_load(s.dir, errors);
    scratch_remove(&s);
    return r;
}

/* The entity of type with exactly text, or NULL. */
static inline const nerd_entity_t *find_entity(const nerd_result_t *res, const char *type,
                                               const char *text)
{
    for (size_t k = 0; k < res->entity_count; k++)
        if (strcmp(res->entities[k].type, type) == 0 && strcmp(res->entities[k].text, text) == 0)
            return &res->entities[k];
    return NULL;
}

#endif
