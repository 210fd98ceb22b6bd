/*
 * fuzz_rules.c - fuzz target: the rule-file parser and compiler.
 *
 * The bytes become the one rule file of a fresh rule set (plus a gazetteer file the rules may
 * name), which nerd_rules_load() must either compile or reject with errors, never crash, hang or
 * leak.  A set that compiles is also run once over a short text and its inline tests, since
 * hostile patterns must be stopped by the match limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "nerd.h"

static char dir[64];

static void write_file(const char *name, const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char text[] = "Mr. Lin Zongnan, a professor at the State Institute, said on "
                               "March 3 that \"it works,\" he added.";
    char *errors = NULL;
    const nerd_result_t *result;

    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/nerd-fuzz-rules-XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        write_file("list.gaz", (const uint8_t *)"Alpha Beta | AB\nGamma\n", 22);
    }
    write_file("a.rules", data, size);
    nerd_rules_t *rules = nerd_rules_load(dir, &errors);
    free(errors);
    if (rules != NULL) {
        nerd_worker_t *worker = nerd_worker_new();
        if (worker == NULL)
            abort();
        (void)nerd_extract(worker, rules, text, sizeof text - 1, NULL, &result);
        (void)nerd_rules_run_tests(rules, worker, NULL, NULL);
        nerd_worker_destroy(&worker);
        nerd_rules_unref(&rules);
    }
    return 0;
}

void fuzz_teardown(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/a.rules", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/list.gaz", dir);
    unlink(path);
    rmdir(dir);
}
