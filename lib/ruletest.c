/*
 * ruletest.c - runs the `test:` lines of a rule set (nerd rules test, make test).
 *
 * Each test extracts its text with the whole set and checks its expectations: an entity of a
 * type with exactly a text, the absence of one, or a relation whose named arguments have the
 * given texts or canonical names.  Entities of internal types count for tests (they are not
 * in the result the daemon reports).  A failing test is reported with what was found instead, so
 * the rule writer sees why without rerunning anything.
 */
#include "extract.h"
#include "strbuf.h"

#include <string.h>

static int entity_found(const nerd_result_t *res, const test_expect_t *e, const char **rule)
{
    for (size_t k = 0; k < res->entity_count; k++) {
        const nerd_entity_t *x = &res->entities[k];
        if (strcmp(x->type, e->type) == 0 && strcmp(x->text, e->text) == 0) {
            if (rule)
                *rule = x->rule;
            return 1;
        }
    }
    return 0;
}

static int arg_matches(const nerd_relation_t *r, const test_arg_t *want)
{
    for (size_t a = 0; a < r->arg_count; a++) {
        const nerd_arg_t *arg = &r->args[a];
        if (strcmp(arg->role, want->role) != 0)
            continue;
        if ((arg->text && strcmp(arg->text, want->value) == 0) ||
            (arg->canonical && strcmp(arg->canonical, want->value) == 0))
            return 1;
    }
    return 0;
}

static int relation_found(const nerd_result_t *res, const test_expect_t *e)
{
    for (size_t k = 0; k < res->relation_count; k++) {
        const nerd_relation_t *r = &res->relations[k];
        if (strcmp(r->type, e->type) != 0)
            continue;
        size_t ok = 0;
        for (size_t a = 0; a < e->arg_count; a++)
            ok += (size_t)arg_matches(r, &e->args[a]);
        if (ok == e->arg_count)
            return 1;
    }
    return 0;
}

static void describe_entities(strbuf_t *sb, const nerd_result_t *res)
{
    strbuf_puts(sb, "; found entities:");
    if (res->entity_count == 0)
        strbuf_puts(sb, " none");
    for (size_t k = 0; k < res->entity_count; k++)
        strbuf_printf(sb, "%s %s \"%s\"", k ? "," : "", res->entities[k].type, res->entities[k].text);
}

static void describe_relations(strbuf_t *sb, const nerd_result_t *res, const char *type)
{
    strbuf_printf(sb, "; found %s relations:", type);
    size_t shown = 0;
    for (size_t k = 0; k < res->relation_count; k++) {
        const nerd_relation_t *r = &res->relations[k];
        if (strcmp(r->type, type) != 0)
            continue;
        strbuf_puts(sb, shown++ ? " |" : "");
        for (size_t a = 0; a < r->arg_count; a++) {
            const nerd_arg_t *arg = &r->args[a];
            strbuf_printf(sb, " %s=\"%s\"", arg->role, arg->text ? arg->text : "");
            if (arg->canonical && (!arg->text || strcmp(arg->canonical, arg->text) != 0))
                strbuf_printf(sb, "(=%s)", arg->canonical);
        }
    }
    if (shown == 0)
        strbuf_puts(sb, " none");
}

/* Checks one expectation; on failure appends why to sb and returns 0. */
static int check_expect(const nerd_result_t *res, const test_expect_t *e, strbuf_t *sb)
{
    const char *rule = NULL;
    switch (e->kind) {
    case EXPECT_ENTITY:
        if (entity_found(res, e, NULL))
            return 1;
        strbuf_printf(sb, "%sexpected %s \"%s\"", sb->len ? "; " : "", e->type, e->text);
        describe_entities(sb, res);
        return 0;
    case EXPECT_NO_ENTITY:
        if (!entity_found(res, e, &rule))
            return 1;
        strbuf_printf(sb, "%sdid not expect %s \"%s\" (made by %s)", sb->len ? "; " : "", e->type,
                      e->text, rule);
        return 0;
    default:
        if (relation_found(res, e))
            return 1;
        strbuf_printf(sb, "%sexpected %s", sb->len ? "; " : "", e->type);
        for (size_t a = 0; a < e->arg_count; a++)
            strbuf_printf(sb, " %s=\"%s\"", e->args[a].role, e->args[a].value);
        describe_relations(sb, res, e->type);
        return 0;
    }
}

int nerd_rules_run_tests(const nerd_rules_t *rules, nerd_worker_t *worker,
                         nerd_test_report_fn *report, void *ctx)
{
    if (rules == NULL || worker == NULL)
        return NERD_EINVAL;
    int failed = 0;
    for (size_t t = 0; t < rules->test_count; t++) {
        const rule_test_t *test = &rules->tests[t];
        const nerd_result_t *res = NULL;
        strbuf_t why;
        strbuf_init(&why);
        int rc = nerd_extract(worker, rules, test->text, test->text_len, NULL, &res);
        int passed = 1;
        if (rc != 0) {
            if (rc == NERD_ENOMEM)
                return rc;
            strbuf_printf(&why, "extraction failed: %s", nerd_strerror(rc));
            passed = 0;
        } else {
            /* tests see the entities of internal types too: they are what helper rules make */
            nerd_result_t all = *res;
            all.entities = worker->all_entities;
            all.entity_count = worker->all_entity_count;
            for (size_t e = 0; e < test->expect_count; e++)
                passed &= check_expect(&all, &test->expects[e], &why);
        }
        if (strbuf_failed(&why)) {
            strbuf_free(&why);
            return NERD_ENOMEM;
        }
        failed += !passed;
        if (report)
            report(ctx, test->where, passed, passed ? "" : (why.data ? why.data : ""));
        strbuf_free(&why);
    }
    return failed;
}
