/*
 * rules_cmd.c - `nerd rules check DIR` and `nerd rules test DIR`: the rule writer's tools.
 *
 * check loads and compiles a rule set and prints every problem as file:line:col; test also runs
 * the `test:` examples written next to the rules.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nerd.h"

static const char rules_usage[] =
    "Usage: nerd rules check [DIR]\n"
    "       nerd rules test [DIR]\n"
    "\n"
    "  check   load and compile the rule set in DIR: prints \"DIR: OK, N rules, version V\", or\n"
    "          every problem as file:line:col: message (exit 1)\n"
    "  test    also run every `test: \"TEXT\" => EXPECT` line of the set: prints each failure\n"
    "          with file:line, then \"N tests, M failed\" (exit 1 if any failed)\n"
    "\n"
    "DIR defaults to $NERD_RULES, else ../rules/en next to the executable, else\n"
    NERD_DATADIR "/rules/en.\n"
    "\n"
    "Options:\n"
    "  -v, --verbose   (test) also list the tests that pass\n"
    "  -h, --help      show this help\n"
    "\n"
    "Examples:\n"
    "  nerd rules check rules/en\n"
    "  nerd rules test rules/en\n";

typedef struct rules_test_ctx {
    int verbose;
    size_t run;
    size_t failed;
} rules_test_ctx_t;

static void rules_report(void *data, const char *where, int passed, const char *detail)
{
    rules_test_ctx_t *ctx = data;
    ctx->run++;
    if (!passed) {
        ctx->failed++;
        printf("%s: FAIL: %s\n", where != NULL ? where : "?", detail != NULL ? detail : "");
    } else if (ctx->verbose) {
        printf("%s: ok\n", where != NULL ? where : "?");
    }
}

/* Prints the load errors, one per line, as they come from the engine. */
static void rules_print_errors(const char *dir, char *errors)
{
    if (errors == NULL || errors[0] == '\0') {
        printf("%s: the rule set could not be loaded\n", dir);
        return;
    }
    fputs(errors, stdout);
    if (errors[strlen(errors) - 1] != '\n')
        putchar('\n');
}

static int rules_check(const char *dir, int run_tests, int verbose)
{
    char *errors = NULL;
    nerd_rules_t *rules = nerd_rules_load(dir, &errors);
    if (rules == NULL) {
        rules_print_errors(dir, errors);
        free(errors);
        return CLI_FAILED;
    }
    free(errors);
    if (!run_tests) {
        printf("%s: OK, %zu rules, version %s\n", dir, nerd_rules_count(rules),
               nerd_rules_version(rules));
        nerd_rules_unref(&rules);
        return CLI_OK;
    }
    nerd_worker_t *worker = nerd_worker_new();
    if (worker == NULL) {
        fprintf(stderr, "nerd rules: out of memory\n");
        nerd_rules_unref(&rules);
        return CLI_FAILED;
    }
    rules_test_ctx_t ctx = { verbose, 0, 0 };
    int rc = nerd_rules_run_tests(rules, worker, rules_report, &ctx);
    int status = CLI_OK;
    if (rc < 0) {
        printf("%s: the tests could not run: %s\n", dir, nerd_strerror(rc));
        status = CLI_FAILED;
    } else {
        printf("%zu tests, %d failed\n", ctx.run, rc);
        if (rc > 0)
            status = CLI_FAILED;
    }
    nerd_worker_destroy(&worker);
    nerd_rules_unref(&rules);
    return status;
}

int rules_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int verbose = 0, opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'v':
            verbose = 1;
            break;
        case 'h':
            fputs(rules_usage, stdout);
            return CLI_OK;
        default:
            return cli_bad_option("rules", argv, opt);
        }
    }
    if (optind >= argc)
        return cli_usage_error("rules", "say what to do: check or test");
    const char *action = argv[optind];
    if (strcmp(action, "check") != 0 && strcmp(action, "test") != 0)
        return cli_usage_error("rules", "unknown action '%s' (check or test)", action);
    if (argc - optind > 2)
        return cli_usage_error("rules", "one rule directory at most");
    const char *dir = cli_rules_dir(argc - optind == 2 ? argv[optind + 1] : NULL);
    return rules_check(dir, strcmp(action, "test") == 0, verbose);
}
