/*
 * rules_cmd.c - `nerd rules check|test|profile`: the rule writer's tools.
 *
 * check loads and compiles a rule set and prints every problem as file:line:col; test also runs
 * the `test:` examples written next to the rules; profile runs the set over some text and
 * prints what each rule cost (nerd_worker_profile()), the most expensive first.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "docsrc.h"
#include "nerd.h"

static const char rules_usage[] =
    "Usage: nerd rules check [DIR]\n"
    "       nerd rules test [DIR]\n"
    "       nerd rules profile [--jsonl] [--top N] DIR FILE...\n"
    "\n"
    "  check   load and compile the rule set in DIR: prints \"DIR: OK, N rules, version V\", or\n"
    "          every problem as file:line:col: message (exit 1)\n"
    "  test    also run every `test: \"TEXT\" => EXPECT` line of the set: prints each failure\n"
    "          with file:line, then \"N tests, M failed\" (exit 1 if any failed)\n"
    "  profile extract every document of FILE... (\"-\" = stdin) with the set in DIR, then print\n"
    "          the rules that cost the most: milliseconds, share of all rule time, PCRE2 calls\n"
    "\n"
    "DIR defaults to $NERD_RULES, else ../rules/en next to the executable, else\n"
    NERD_DATADIR "/rules/en.\n"
    "\n"
    "Options:\n"
    "  -v, --verbose   (test) also list the tests that pass\n"
    "  -j, --jsonl     (profile) the inputs are JSON Lines {\"id\":...,\"text\":...}\n"
    "  -n, --top N     (profile) print the N most expensive rules (default 25; 0 = all)\n"
    "  -h, --help      show this help\n"
    "\n"
    "Examples:\n"
    "  nerd rules check rules/en\n"
    "  nerd rules test rules/en\n"
    "  nerd rules profile --jsonl rules/en ../shared/bench/bbc-news.jsonl\n";

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

/* Loads the rule set in dir, or prints why it cannot be loaded and returns NULL. */
static nerd_rules_t *rules_load(const char *dir)
{
    char *errors = NULL;
    nerd_rules_t *rules = nerd_rules_load(dir, &errors);
    if (rules == NULL)
        rules_print_errors(dir, errors);
    free(errors);
    return rules;
}

static int rules_check(const char *dir, int run_tests, int verbose)
{
    nerd_rules_t *rules = rules_load(dir);
    if (rules == NULL)
        return CLI_FAILED;
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

/* Extracts every document of src with profiling on; returns the number that failed. */
static size_t rules_profile_run(const nerd_rules_t *rules, nerd_worker_t *worker, docsrc_t *src,
                                size_t *docs, size_t *bytes)
{
    size_t failed = 0;
    docsrc_doc_t doc;
    int got;
    while ((got = docsrc_next(src, &doc)) != 0) {
        const nerd_result_t *result;
        if (got < 0 || nerd_extract(worker, rules, doc.text, doc.text_len, NULL, &result) != 0)
            failed++;
        (*docs)++;
        *bytes += doc.text_len;
    }
    return failed;
}

static int rules_profile(const char *dir, char **files, size_t nfiles, int jsonl, long top)
{
    nerd_rules_t *rules = rules_load(dir);
    if (rules == NULL)
        return CLI_FAILED;
    size_t cap = nerd_rules_count(rules);
    nerd_worker_t *worker = nerd_worker_new();
    docsrc_t *src = docsrc_new(files, nfiles, jsonl);
    nerd_rule_cost_t *costs = calloc(cap ? cap : 1, sizeof(*costs));
    int status = CLI_FAILED;
    if (worker == NULL || src == NULL || costs == NULL || nerd_worker_profile(worker, 1) != 0) {
        fprintf(stderr, "nerd rules: out of memory\n");
    } else {
        size_t docs = 0, bytes = 0;
        size_t failed = rules_profile_run(rules, worker, src, &docs, &bytes);
        size_t n = nerd_worker_rule_costs(worker, rules, costs, cap);
        uint64_t total = 0;
        for (size_t k = 0; k < n; k++)
            total += costs[k].ns;
        printf("%s: %zu documents (%zu failed), %.2f MB, %.1f ms in %zu rules\n", dir, docs, failed,
               bytes / 1e6, total / 1e6, n);
        printf("%10s %6s %10s  %s\n", "ms", "share", "calls", "rule");
        for (size_t k = 0; k < n && (top == 0 || k < (size_t)top); k++)
            printf("%10.1f %5.1f%% %10llu  %s\n", costs[k].ns / 1e6,
                   total ? 100.0 * (double)costs[k].ns / (double)total : 0.0,
                   (unsigned long long)costs[k].calls, costs[k].rule);
        status = failed ? CLI_FAILED : CLI_OK;
    }
    free(costs);
    docsrc_destroy(&src);
    nerd_worker_destroy(&worker);
    nerd_rules_unref(&rules);
    return status;
}

int rules_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "jsonl", no_argument, NULL, 'j' },
        { "top", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int verbose = 0, jsonl = 0, opt;
    long top = 25;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":vjn:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'v':
            verbose = 1;
            break;
        case 'j':
            jsonl = 1;
            break;
        case 'n':
            if (cli_parse_long(optarg, 0, 1000000L, &top) != 0)
                return cli_usage_error("rules", "--top: '%s' is not a count", optarg);
            break;
        case 'h':
            fputs(rules_usage, stdout);
            return CLI_OK;
        default:
            return cli_bad_option("rules", argv, opt);
        }
    }
    if (optind >= argc)
        return cli_usage_error("rules", "say what to do: check, test or profile");
    const char *action = argv[optind];
    if (strcmp(action, "profile") == 0) {
        if (argc - optind < 3)
            return cli_usage_error("rules", "profile wants a rule directory and some text: "
                                   "nerd rules profile DIR FILE...");
        return rules_profile(argv[optind + 1], argv + optind + 2, (size_t)(argc - optind - 2),
                             jsonl, top);
    }
    if (strcmp(action, "check") != 0 && strcmp(action, "test") != 0)
        return cli_usage_error("rules", "unknown action '%s' (check, test or profile)", action);
    if (argc - optind > 2)
        return cli_usage_error("rules", "one rule directory at most");
    const char *dir = cli_rules_dir(argc - optind == 2 ? argv[optind + 1] : NULL);
    return rules_check(dir, strcmp(action, "test") == 0, verbose);
}
