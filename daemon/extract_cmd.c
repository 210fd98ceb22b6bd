/*
 * extract_cmd.c - `nerd extract`: run the engine over files or JSON Lines and print the
 * evaluation JSON (../shared/eval/README.md), one line per document, in input order.
 *
 * The documents go through in batches: the main thread reads a batch (docsrc), then every
 * thread (the main one too) takes documents from it and writes each one's JSON line into that
 * document's own slot, each thread with its own engine worker; when the batch is done the main
 * thread prints the slots in input order, one large write at a time.  Slot buffers are reused
 * from batch to batch, so after the first batch nothing is allocated but the engines' arenas.
 * On a terminal, a long run shows its progress on stderr (progress.h).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "docsrc.h"
#include "json.h"
#include "nerd.h"
#include "progress.h"

#define EXTRACT_FLUSH_AT (256u * 1024u)
#define EXTRACT_MAX_THREADS 64
#define BATCH_DOCS 256                    /* documents a batch holds at most */
#define BATCH_BYTES (8u * 1024u * 1024u)  /* and text bytes, unless one document is larger */

static const char extract_usage[] =
    "Usage: nerd extract [--jsonl] [--rules DIR] [--max-bytes N] [--time-budget MS]\n"
    "                    [--threads N] [--quiet] [FILE...]\n"
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
    "                     time a document may take per MiB of text, a shorter one\n"
    "                     getting all of it (default 2000; 0 = no budget)\n"
    "  -t, --threads N    documents extracted at once (default: one per processor, at\n"
    "                     most 64); the output order is the input order whatever N is\n"
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
    size_t threads;
} extract_opts_t;

/* One document of a batch: a copy of what docsrc gave, then the line printed for it. */
typedef struct slot {
    buf_t id, text;
    buf_t error;         /* docsrc's error sentence, for an error item */
    const char *error_code;
    int is_error;
    buf_t out;           /* the JSON line */
    int failed;          /* the line reports an error */
} slot_t;

/* The batch being extracted, and what every thread needs to work on it. */
typedef struct batch {
    slot_t slots[BATCH_DOCS];
    size_t count;
    atomic_size_t next;  /* the next slot to take */
    const nerd_rules_t *rules;
    const nerd_limits_t *limits;
    nerd_worker_t *workers[EXTRACT_MAX_THREADS];
} batch_t;

static int extract_parse(int argc, char **argv, extract_opts_t *opts)
{
    static const struct option longopts[] = {
        { "jsonl", no_argument, NULL, 'j' },
        { "rules", required_argument, NULL, 'r' },
        { "max-bytes", required_argument, NULL, 'm' },
        { "time-budget", required_argument, NULL, 'b' },
        { "threads", required_argument, NULL, 't' },
        { "quiet", no_argument, NULL, 'q' },
        { "no-progress", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    nerd_limits_default(&opts->limits);
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":jr:m:b:t:qh", longopts, NULL)) != -1) {
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
        case 't': {
            long n;
            if (cli_parse_long(optarg, 1, EXTRACT_MAX_THREADS, &n) != 0)
                return cli_usage_error("extract", "--threads: '%s' is not a number from 1 to %d",
                                       optarg, EXTRACT_MAX_THREADS);
            opts->threads = (size_t)n;
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

/* Writes the line for one document into its slot; returns 0, or 1 when the document failed. */
static int extract_one(nerd_worker_t *worker, const nerd_rules_t *rules,
                       const nerd_limits_t *limits, slot_t *slot)
{
    buf_t *out = &slot->out;
    const char *text = slot->text.data ? slot->text.data : "";
    buf_clear(out);
    if (slot->is_error) {
        json_write_error(out, slot->id.data, slot->id.len, slot->error.data, slot->error_code);
        return 1;
    }
    const nerd_result_t *result;
    int rc = nerd_extract(worker, rules, text, slot->text.len, limits, &result);
    if (rc != 0) {
        char why[160];
        size_t bad;
        if (rc == NERD_EUTF8 && nerd_utf8_check(text, slot->text.len, &bad) != 0)
            snprintf(why, sizeof why, "%s (at byte %zu)", nerd_strerror(rc), bad);
        else if (rc == NERD_ETOOBIG)
            snprintf(why, sizeof why, "the text is %zu bytes, over the limit of %zu (--max-bytes)",
                     slot->text.len, limits->max_bytes);
        else
            snprintf(why, sizeof why, "%s", nerd_strerror(rc));
        json_write_error(out, slot->id.data, slot->id.len, why, nerd_strerror_name(rc));
        return 1;
    }
    json_begin_doc(out, slot->id.data, slot->id.len);
    json_add_result(out, result);
    json_end_doc(out);
    return 0;
}

/* Copies what docsrc gave into slot (docsrc reuses its buffers); -1 when memory runs out. */
static int slot_fill(slot_t *slot, const docsrc_doc_t *doc)
{
    buf_clear(&slot->id);
    buf_clear(&slot->text);
    buf_clear(&slot->error);
    slot->is_error = doc->error != NULL;
    slot->error_code = doc->error_code;
    if (buf_append(&slot->id, doc->id, doc->id_len) != 0)
        return -1;
    if (slot->is_error)
        return buf_puts(&slot->error, doc->error);
    return buf_append(&slot->text, doc->text, doc->text_len);
}

static void slot_free(slot_t *slot)
{
    buf_free(&slot->id);
    buf_free(&slot->text);
    buf_free(&slot->error);
    buf_free(&slot->out);
}

/* Reads the next batch; returns its document count (0 at the end), or -1 out of memory. */
static long batch_read(batch_t *b, docsrc_t *src)
{
    size_t bytes = 0;
    docsrc_doc_t doc;
    b->count = 0;
    while (b->count < BATCH_DOCS && (b->count == 0 || bytes < BATCH_BYTES) &&
           docsrc_next(src, &doc) != 0) {
        if (slot_fill(&b->slots[b->count], &doc) != 0)
            return -1;
        bytes += doc.text_len;
        b->count++;
    }
    return (long)b->count;
}

typedef struct batch_thread {
    batch_t *batch;
    size_t index;        /* which engine worker */
} batch_thread_t;

static void *batch_work(void *arg)
{
    batch_thread_t *t = arg;
    batch_t *b = t->batch;
    for (;;) {
        size_t k = atomic_fetch_add(&b->next, 1);
        if (k >= b->count)
            return NULL;
        b->slots[k].failed = extract_one(b->workers[t->index], b->rules, b->limits, &b->slots[k]);
    }
}

/* Extracts every document of the batch on up to threads threads (the caller is one). */
static void batch_extract(batch_t *b, size_t threads)
{
    pthread_t ids[EXTRACT_MAX_THREADS];
    batch_thread_t args[EXTRACT_MAX_THREADS];
    size_t started = 0;
    atomic_store(&b->next, 0);
    if (threads > b->count)
        threads = b->count ? b->count : 1;
    for (size_t t = 0; t < threads; t++)
        args[t] = (batch_thread_t){b, t};
    while (started + 1 < threads &&
           pthread_create(&ids[started], NULL, batch_work, &args[started + 1]) == 0)
        started++;
    batch_work(&args[0]);
    for (size_t t = 0; t < started; t++)
        pthread_join(ids[t], NULL);
}

/* Prints the batch's lines in order; returns 0, or -1 when stdout cannot be written. */
static int batch_print(const batch_t *b, buf_t *out, progress_t *progress, int *failed)
{
    for (size_t k = 0; k < b->count; k++) {
        const slot_t *slot = &b->slots[k];
        if (slot->failed)
            *failed = 1;
        if (buf_append(out, slot->out.data, slot->out.len) != 0)
            return -1;
        progress_update(progress, slot->text.len);
        if (out->len >= EXTRACT_FLUSH_AT && extract_flush(out, progress) != 0)
            return -1;
    }
    return 0;
}

/* The default thread count: one per processor. */
static size_t default_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return 1;
    return cpus > EXTRACT_MAX_THREADS ? EXTRACT_MAX_THREADS : (size_t)cpus;
}

int extract_main(int argc, char **argv)
{
    extract_opts_t opts;
    memset(&opts, 0, sizeof opts);
    int rc = extract_parse(argc, argv, &opts);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    if (opts.threads == 0)
        opts.threads = default_threads();

    nerd_rules_t *rules = cli_load_rules("extract", cli_rules_dir(opts.rules_dir));
    if (rules == NULL)
        return CLI_FAILED;
    batch_t *batch = calloc(1, sizeof(*batch));
    docsrc_t *src = docsrc_new(argv + optind, (size_t)(argc - optind), opts.jsonl);
    buf_t out = BUF_INIT;
    progress_t *progress = progress_new("extract", argv + optind, (size_t)(argc - optind),
                                        opts.jsonl, !opts.quiet);
    int status = CLI_OK, failed = 0, write_failed = 0, nomem = batch == NULL || src == NULL;
    for (size_t t = 0; !nomem && t < opts.threads; t++)
        nomem = (batch->workers[t] = nerd_worker_new()) == NULL;
    if (!nomem) {
        batch->rules = rules;
        batch->limits = &opts.limits;
        long n;
        while ((n = batch_read(batch, src)) > 0) {
            batch_extract(batch, opts.threads);
            if (batch_print(batch, &out, progress, &failed) != 0) {
                write_failed = 1;
                break;
            }
        }
        nomem = n < 0;
    }
    if (nomem) {
        fprintf(stderr, "nerd extract: out of memory\n");
        status = CLI_FAILED;
    }
    if (write_failed || extract_flush(&out, progress) != 0 || fflush(stdout) != 0) {
        perror("nerd extract: cannot write the output");
        status = CLI_FAILED;
    }
    if (failed)
        status = CLI_FAILED;
    progress_finish(&progress);
    buf_free(&out);
    docsrc_destroy(&src);
    if (batch != NULL) {
        for (size_t k = 0; k < BATCH_DOCS; k++)
            slot_free(&batch->slots[k]);
        for (size_t t = 0; t < EXTRACT_MAX_THREADS; t++)
            nerd_worker_destroy(&batch->workers[t]);
        free(batch);
    }
    nerd_rules_unref(&rules);
    return status;
}
