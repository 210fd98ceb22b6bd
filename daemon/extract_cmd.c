/*
 * extract_cmd.c - `nerd extract`: run the engine over files or JSON Lines and print the
 * evaluation JSON (../shared/eval/README.md), one line per document, in input order.
 *
 * One worker, one output buffer flushed in large writes, inputs read by docsrc with reused
 * buffers: after the first documents nothing is allocated but the engine's arena.  On a
 * terminal, a long run shows its progress on stderr (progress.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "docsrc.h"
#include "json.h"
#include "nerd.h"
#include "progress.h"

#define EXTRACT_FLUSH_AT (256u * 1024u)

static const char extract_usage[] =
    "Usage: nerd extract [--jsonl] [--rules DIR] [--max-bytes N] [--time-budget MS] [--quiet]\n"
    "                    [FILE...]\n"
    "\n"
    "Finds entities and relations in each document and prints one JSON object a line, in input\n"
    "order: {\"id\",\"entities\":[...],\"relations\":[...]} (offsets are UTF-8 byte offsets).\n"
    "A document that fails prints {\"id\",\"error\",\"error_code\"} and the others go on.\n"
    "\n"
    "Input:\n"
    "  FILE...            plain text files, one document each, id = the file name as given;\n"
    "                     no FILE or \"-\" reads stdin (id \"stdin\")\n"
    "  -j, --jsonl        the inputs are JSON Lines: one {\"id\":...,\"text\":...} object a line,\n"
    "                     other keys ignored (gold files can be fed as they are)\n"
    "\n"
    "Options:\n"
    "  -r, --rules DIR    rule set (default: $NERD_RULES, else ../rules/en next to the\n"
    "                     executable, else " NERD_DATADIR "/rules/en)\n"
    "  -m, --max-bytes N  longest text accepted, k/M/G suffixes allowed\n"
    "                     (default 4M; 0 = no limit)\n"
    "  -b, --time-budget MS\n"
    "                     time a document may take (default 2000; 0 = no budget)\n"
    "  -q, --quiet        no progress line (shown on stderr only when it is a terminal:\n"
    "                     documents, MB, MB/s, ETA)\n"
    "      --no-progress  the same\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 all documents done, 1 some failed (or the rules did not load), 2 usage error.\n"
    "\n"
    "Examples:\n"
    "  nerd extract article.txt\n"
    "  nerd extract --jsonl ../shared/eval/seed/gold.jsonl > system.jsonl\n"
    "  echo 'Wang He, a professor, said so.' | nerd extract\n";

typedef struct extract_opts {
    int jsonl;
    const char *rules_dir;
    nerd_limits_t limits;
    int quiet;          /* no progress line */
} extract_opts_t;

static int extract_parse(int argc, char **argv, extract_opts_t *opts)
{
    static const struct option longopts[] = {
        { "jsonl", no_argument, NULL, 'j' },
        { "rules", required_argument, NULL, 'r' },
        { "max-bytes", required_argument, NULL, 'm' },
        { "time-budget", required_argument, NULL, 'b' },
        { "quiet", no_argument, NULL, 'q' },
        { "no-progress", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    nerd_limits_default(&opts->limits);
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":jr:m:b:qh", longopts, NULL)) != -1) {
        uint64_t size;
        switch (opt) {
        case 'j':
            opts->jsonl = 1;
            break;
        case 'r':
            opts->rules_dir = optarg;
            break;
        case 'm':
            if (cli_parse_size(optarg, SIZE_MAX / 4, &size) != 0)
                return cli_usage_error("extract", "--max-bytes: '%s' is not a size", optarg);
            opts->limits.max_bytes = (size_t)size;
            break;
        case 'b': {
            long ms;
            if (cli_parse_long(optarg, 0, 86400000L, &ms) != 0)
                return cli_usage_error("extract", "--time-budget: '%s' is not a number of "
                                       "milliseconds", optarg);
            opts->limits.time_budget_ms = (uint32_t)ms;
            break;
        }
        case 'q':
            opts->quiet = 1;
            break;
        case 'h':
            fputs(extract_usage, stdout);
            return -1;
        default:
            return cli_bad_option("extract", argv, opt);
        }
    }
    return 0;
}

static int extract_flush(buf_t *out, progress_t *progress)
{
    progress_clear(progress);     /* stdout may be the same terminal */
    if (out->len > 0 && fwrite(out->data, 1, out->len, stdout) != out->len)
        return -1;
    buf_clear(out);
    return 0;
}

/* Writes the line for one document into out; returns 0, or 1 when the document failed. */
static int extract_one(nerd_worker_t *worker, const nerd_rules_t *rules,
                       const nerd_limits_t *limits, const docsrc_doc_t *doc, buf_t *out)
{
    if (doc->error != NULL) {
        json_write_error(out, doc->id, doc->id_len, doc->error, doc->error_code);
        return 1;
    }
    const nerd_result_t *result;
    int rc = nerd_extract(worker, rules, doc->text, doc->text_len, limits, &result);
    if (rc != 0) {
        char why[160];
        size_t bad;
        if (rc == NERD_EUTF8 && nerd_utf8_check(doc->text, doc->text_len, &bad) != 0)
            snprintf(why, sizeof why, "%s (at byte %zu)", nerd_strerror(rc), bad);
        else if (rc == NERD_ETOOBIG)
            snprintf(why, sizeof why, "the text is %zu bytes, over the limit of %zu (--max-bytes)",
                     doc->text_len, limits->max_bytes);
        else
            snprintf(why, sizeof why, "%s", nerd_strerror(rc));
        json_write_error(out, doc->id, doc->id_len, why, nerd_strerror_name(rc));
        return 1;
    }
    json_begin_doc(out, doc->id, doc->id_len);
    json_add_result(out, result);
    json_end_doc(out);
    return 0;
}

int extract_main(int argc, char **argv)
{
    extract_opts_t opts;
    memset(&opts, 0, sizeof opts);
    int rc = extract_parse(argc, argv, &opts);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;

    nerd_rules_t *rules = cli_load_rules("extract", cli_rules_dir(opts.rules_dir));
    if (rules == NULL)
        return CLI_FAILED;
    nerd_worker_t *worker = nerd_worker_new();
    docsrc_t *src = docsrc_new(argv + optind, (size_t)(argc - optind), opts.jsonl);
    buf_t out = BUF_INIT;
    progress_t *progress = progress_new("extract", argv + optind, (size_t)(argc - optind),
                                        opts.jsonl, !opts.quiet);
    int status = CLI_OK;
    int write_failed = 0;
    if (worker == NULL || src == NULL) {
        fprintf(stderr, "nerd extract: out of memory\n");
        status = CLI_FAILED;
    } else {
        docsrc_doc_t doc;
        while (docsrc_next(src, &doc) != 0) {
            if (extract_one(worker, rules, &opts.limits, &doc, &out) != 0)
                status = CLI_FAILED;
            progress_update(progress, doc.text_len);
            if (out.len >= EXTRACT_FLUSH_AT && extract_flush(&out, progress) != 0) {
                write_failed = 1;
                break;
            }
        }
    }
    if (write_failed || extract_flush(&out, progress) != 0 || fflush(stdout) != 0) {
        perror("nerd extract: cannot write the output");
        status = CLI_FAILED;
    }
    progress_finish(&progress);
    buf_free(&out);
    docsrc_destroy(&src);
    nerd_worker_destroy(&worker);
    nerd_rules_unref(&rules);
    return status;
}
