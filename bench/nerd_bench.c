/*
 * nerd_bench.c - engine figures for `make bench`: one thread, no sockets.
 *
 *   nerd_bench RULES_DIR CORPUS.jsonl [SYNTH_DIR]
 *   nerd_bench --engine-only RULES_DIR CORPUS.jsonl
 *
 * Measures, over the corpus (JSON Lines of {"id","text"}):
 *   - rule-set load/compile time: the first load, and the median of three;
 *   - extraction MB/s and documents/s, one thread, and the time per stage (normalise, tokenise,
 *     gazetteer, patterns, link, relations) from the engine's own stage clocks, plus protobuf
 *     encoding of every result (the daemon's codec);
 *   - size scaling: the corpus cut into documents of 1 KiB, 4 KiB, 64 KiB and 1 MiB (2 MiB of
 *     text each), and one document of 4 MiB (the longest the default limits accept): ns per
 *     byte must stay flat (extraction is linear in the text);
 *   - a line of names: one 128 KiB line of made-up names and commas (a list of signatories), a
 *     text where the name rules find a capital at every other word: ns per byte against 4 KiB
 *     documents of the corpus;
 *   - the reference pass: one PCRE2 JIT search for capitalised words (\b\p{Lu}\p{L}*) over the
 *     corpus, the yardstick of issue 5's target (the engine at a third of its speed or better),
 *     so that the target can be checked as a ratio on any machine;
 *   - rule scaling, when SYNTH_DIR is given: SYNTH_DIR/10k, /100k, /1m are copies of the rule set
 *     with a synthetic gazetteer of that many extra entries (bench/run.sh makes them), over the
 *     first 2 MiB of the corpus, each against the default set run over the same text just before.
 *
 * With --engine-only, only the extraction rate (figure "engine"): daemon_bench.py measures it
 * right before each daemon run, so that the two are compared at the same speed of the machine.
 *
 * Prints one JSON object per figure on stdout; bench/run.sh prints the table and keeps the JSON.
 * Links the engine and the daemon's codec and JSON Lines reader, nothing of ZeroMQ.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cli.h"
#include "codec.h"
#include "docsrc.h"
#include "nerd.h"

/* Text per figure of the scaling runs: enough for a steady figure, small enough for `make
 * bench` to stay under two minutes at the engine's speed. */
#define SCALING_BYTES (2u << 20)

typedef struct corpus {
    char **texts;
    size_t *lens;
    size_t count;
    size_t bytes;
} corpus_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "nerd_bench: %s\n", what);
    exit(1);
}

static void corpus_add(corpus_t *c, const char *text, size_t len)
{
    c->texts = realloc(c->texts, (c->count + 1) * sizeof *c->texts);
    c->lens = realloc(c->lens, (c->count + 1) * sizeof *c->lens);
    char *copy = malloc(len + 1);
    if (c->texts == NULL || c->lens == NULL || copy == NULL)
        die("out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    c->texts[c->count] = copy;
    c->lens[c->count] = len;
    c->count++;
    c->bytes += len;
}

static void corpus_free(corpus_t *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->texts[i]);
    free(c->texts);
    free(c->lens);
    memset(c, 0, sizeof *c);
}

static corpus_t corpus_read(const char *path)
{
    corpus_t c = { 0 };
    char *paths[1] = { (char *)(uintptr_t)path };
    docsrc_t *src = docsrc_new(paths, 1, 1);
    docsrc_doc_t doc;
    int rc;

    if (src == NULL)
        die("out of memory");
    while ((rc = docsrc_next(src, &doc)) != 0) {
        if (rc < 0)
            die(doc.error);
        corpus_add(&c, doc.text, doc.text_len);
    }
    docsrc_destroy(&src);
    return c;
}

/* Cuts the corpus into documents of about size bytes (at a blank, so UTF-8 stays whole),
 * repeating it until at least total bytes are made. */
static corpus_t corpus_resize(const corpus_t *in, size_t size, size_t total)
{
    corpus_t out = { 0 };
    char *chunk = malloc(size + 1);
    size_t fill = 0;

    if (chunk == NULL)
        die("out of memory");
    for (size_t i = 0; out.bytes < total; i = (i + 1) % in->count) {
        const char *t = in->texts[i];
        size_t n = in->lens[i], pos = 0;
        while (pos < n && out.bytes < total) {
            size_t take = n - pos < size - fill ? n - pos : size - fill;
            /* Do not split a UTF-8 sequence: back off to a byte that starts a character. */
            while (take > 0 && pos + take < n && ((unsigned char)t[pos + take] & 0xC0) == 0x80)
                take--;
            memcpy(chunk + fill, t + pos, take);
            fill += take;
            pos += take;
            if (fill + 4 >= size || take == 0) {
                corpus_add(&out, chunk, fill);
                fill = 0;
            }
        }
        if (fill < size)
            chunk[fill++] = '\n';
    }
    free(chunk);
    return out;
}

typedef struct run {
    double seconds;
    double encode_seconds;
    size_t failed;
    nerd_stage_times_t stages;
} run_t;

static run_t run_corpus(const nerd_rules_t *rules, const corpus_t *c, int encode)
{
    run_t r = { 0 };
    nerd_worker_t *worker = nerd_worker_new();
    nerd_arena_t *arena = nerd_arena_new(1 << 16);
    nerd_limits_t limits;

    if (worker == NULL || arena == NULL)
        die("out of memory");
    nerd_limits_default(&limits);
    limits.max_bytes = 0;
    limits.time_budget_ms = 0;
    double start = now_s();
    for (size_t i = 0; i < c->count; i++) {
        const nerd_result_t *result;
        if (nerd_extract(worker, rules, c->texts[i], c->lens[i], &limits, &result) != 0) {
            r.failed++;
            continue;
        }
        if (encode) {
            double e0 = now_s();
            codec_result_meta_t meta = { "bench", nerd_rules_version(rules), 0, NULL, 0 };
            uint8_t *bytes;
            size_t len;
            Nerd__V1__Result *msg = codec_result_build(arena, &meta, result);
            if (msg == NULL || codec_result_pack(arena, msg, &bytes, &len) != 0)
                die("encoding failed");
            nerd_arena_reset(arena);
            r.encode_seconds += now_s() - e0;
        }
    }
    r.seconds = now_s() - start;
    nerd_worker_stage_times(worker, &r.stages);
    nerd_arena_destroy(&arena);
    nerd_worker_destroy(&worker);
    return r;
}

static nerd_rules_t *load_rules(const char *dir, double *seconds)
{
    char *errors = NULL;
    double start = now_s();
    nerd_rules_t *rules = nerd_rules_load(dir, &errors);
    *seconds = now_s() - start;
    if (rules == NULL) {
        fprintf(stderr, "nerd_bench: %s:\n%s", dir, errors ? errors : "cannot load\n");
        free(errors);
        exit(1);
    }
    return rules;
}

/* The first documents of c, up to about bytes (a view: the texts are not copied). */
static corpus_t corpus_head(const corpus_t *c, size_t bytes)
{
    corpus_t h = *c;
    h.count = 0;
    h.bytes = 0;
    while (h.count < c->count && h.bytes < bytes)
        h.bytes += c->lens[h.count++];
    return h;
}

/* The engine's extraction rate over c, in MB/s, printed with the time per stage. */
static double print_engine(const nerd_rules_t *rules, const corpus_t *c)
{
    corpus_t warm = corpus_head(c, 256u << 10);
    run_corpus(rules, &warm, 0); /* warm caches and the allocator */
    run_t r = run_corpus(rules, c, 1);
    double extract_s = r.seconds - r.encode_seconds;
    const nerd_stage_times_t *s = &r.stages;

    printf("{\"figure\":\"engine\",\"docs\":%zu,\"mb\":%.3f,\"seconds\":%.4f,"
           "\"mb_per_s\":%.2f,\"docs_per_s\":%.1f,\"failed\":%zu}\n",
           c->count, c->bytes / 1e6, extract_s, c->bytes / 1e6 / extract_s,
           c->count / extract_s, r.failed);
    printf("{\"figure\":\"stages\",\"normalise_ms\":%.2f,\"tokenise_ms\":%.2f,"
           "\"gazetteer_ms\":%.2f,\"patterns_ms\":%.2f,\"link_ms\":%.2f,\"relations_ms\":%.2f,"
           "\"encode_ms\":%.2f}\n",
           s->normalise / 1e6, s->tokenise / 1e6, s->gazetteer / 1e6, s->patterns / 1e6,
           s->link / 1e6, s->relations / 1e6, r.encode_seconds * 1e3);
    return c->bytes / 1e6 / extract_s;
}

/* Seconds for one pass of code over every text of c, counting the matches into *found. */
static double scan_corpus(const pcre2_code *code, pcre2_match_data *md, const corpus_t *c,
                          size_t *found)
{
    double start = now_s();
    *found = 0;
    for (size_t i = 0; i < c->count; i++) {
        PCRE2_SIZE pos = 0;
        while (pcre2_jit_match(code, (PCRE2_SPTR)c->texts[i], c->lens[i], pos, 0, md, NULL) >= 0) {
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            ++*found;
            pos = ov[1];   /* a match is never empty: it holds a capital */
        }
    }
    return now_s() - start;
}

/* The reference pass (see the top of the file): its MB/s, the fastest of three, and the
 * engine's rate as a share of it. */
static void print_reference_pass(const corpus_t *c, double engine_mb_per_s)
{
    static const char pattern[] = "\\b\\p{Lu}\\p{L}*";
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (code == NULL || pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0)
        die("cannot JIT-compile the reference pattern");
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    if (md == NULL)
        die("out of memory");
    size_t found = 0;
    double best = 0;
    for (int k = 0; k < 3; k++) {
        double s = scan_corpus(code, md, c, &found);
        if (k == 0 || s < best)
            best = s;
    }
    double mb_per_s = c->bytes / 1e6 / best;
    printf("{\"figure\":\"reference_pass\",\"matches\":%zu,\"mb_per_s\":%.1f,"
           "\"engine_share\":%.3f,\"target_share\":0.333}\n",
           found, mb_per_s, engine_mb_per_s / mb_per_s);
    pcre2_match_data_free(md);
    pcre2_code_free(code);
}

static void print_size_scaling(const nerd_rules_t *rules, const corpus_t *c)
{
    static const size_t sizes[] = { 1024, 4096, 65536, 1048576, 4194304 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        corpus_t sized = corpus_resize(c, sizes[i], sizes[i] > SCALING_BYTES ? sizes[i]
                                                                             : SCALING_BYTES);
        corpus_t warm = corpus_head(&sized, 256u << 10);
        run_corpus(rules, &warm, 0);
        run_t r = run_corpus(rules, &sized, 0);
        printf("{\"figure\":\"size_scaling\",\"doc_bytes\":%zu,\"docs\":%zu,\"ns_per_byte\":%.2f,"
               "\"mb_per_s\":%.2f,\"failed\":%zu}\n",
               sizes[i], sized.count, r.seconds * 1e9 / sized.bytes,
               sized.bytes / 1e6 / r.seconds, r.failed);
        corpus_free(&sized);
    }
}

/* One line of made-up "Given Surname, " pairs, about bytes long. */
static corpus_t name_line(size_t bytes)
{
    static const char *const given[] = { "Tam", "Jo", "Asha", "Pelham", "Olo", "Mara", "Ivo" };
    static const char *const family[] = { "Brogan", "Okafor", "Ostrova", "Cullano", "Lindqvist" };
    char *text = malloc(bytes + 64);
    size_t n = 0;
    if (text == NULL)
        die("out of memory");
    for (size_t i = 0; n < bytes; i++)
        n += (size_t)snprintf(text + n, 64, "%s %s, ", given[i % 7], family[(i / 7) % 5]);
    corpus_t c = { 0 };
    corpus_add(&c, text, n);
    free(text);
    return c;
}

static void print_name_line(const nerd_rules_t *rules, const corpus_t *c)
{
    corpus_t line = name_line(128u << 10), prose = corpus_resize(c, 4096, SCALING_BYTES);
    run_corpus(rules, &line, 0);
    run_t r = run_corpus(rules, &line, 0);
    run_t p = run_corpus(rules, &prose, 0);
    double ns = r.seconds * 1e9 / line.bytes, prose_ns = p.seconds * 1e9 / prose.bytes;
    printf("{\"figure\":\"name_line\",\"bytes\":%zu,\"ns_per_byte\":%.2f,"
           "\"prose_ns_per_byte\":%.2f,\"ratio\":%.2f,\"failed\":%zu}\n",
           line.bytes, ns, prose_ns, ns / prose_ns, r.failed);
    corpus_free(&line);
    corpus_free(&prose);
}

/* Per-byte cost of rules over part, after a warm-up run. */
static double ns_per_byte(const nerd_rules_t *rules, const corpus_t *part, const corpus_t *warm)
{
    run_corpus(rules, warm, 0);
    run_t r = run_corpus(rules, part, 0);
    return r.seconds * 1e9 / part->bytes;
}

/* Each synthetic set right after the default one over the same text, so that the ratio holds
 * even when the machine's speed drifts during the run. */
static void print_rule_scaling(const nerd_rules_t *defaults, const char *synth_dir,
                               const corpus_t *c)
{
    static const char *const sizes[] = { "10k", "100k", "1m" };
    char dir[4096];
    corpus_t part = corpus_head(c, SCALING_BYTES), warm = corpus_head(c, 256u << 10);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double load_s;
        snprintf(dir, sizeof dir, "%s/%s", synth_dir, sizes[i]);
        nerd_rules_t *rules = load_rules(dir, &load_s);
        double base = ns_per_byte(defaults, &part, &warm);
        double with = ns_per_byte(rules, &part, &warm);
        printf("{\"figure\":\"rule_scaling\",\"extra_entries\":\"%s\",\"load_ms\":%.1f,"
               "\"ns_per_byte\":%.2f,\"mb_per_s\":%.2f,\"default_ns_per_byte\":%.2f,"
               "\"ratio\":%.2f}\n",
               sizes[i], load_s * 1e3, with, 1e3 / with, base, with / base);
        fflush(stdout);
        nerd_rules_unref(&rules);
    }
}

/* The default set's load time: the first load (cold files and heap) and the median of three. */
static nerd_rules_t *print_load(const char *dir)
{
    double first, again[2];
    nerd_rules_t *rules = load_rules(dir, &first);
    for (int k = 0; k < 2; k++) {
        nerd_rules_t *more = load_rules(dir, &again[k]);
        nerd_rules_unref(&more);
    }
    double lo = first < again[0] ? first : again[0], hi = first < again[0] ? again[0] : first;
    double median = again[1] < lo ? lo : again[1] > hi ? hi : again[1];
    printf("{\"figure\":\"rules_load\",\"rules\":%zu,\"ms\":%.1f,\"first_ms\":%.1f}\n",
           nerd_rules_count(rules), median * 1e3, first * 1e3);
    fflush(stdout);
    return rules;
}

int main(int argc, char **argv)
{
    cli_tune_malloc();   /* the nerd command's settings, so that the figures are its own */
    int engine_only = argc > 1 && strcmp(argv[1], "--engine-only") == 0;
    if (engine_only) {
        argc--;
        argv++;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: nerd_bench RULES_DIR CORPUS.jsonl [SYNTH_DIR]\n"
                        "       nerd_bench --engine-only RULES_DIR CORPUS.jsonl\n");
        return 2;
    }
    if (engine_only) {
        double load_s;
        nerd_rules_t *rules = load_rules(argv[1], &load_s);
        corpus_t c = corpus_read(argv[2]);
        print_engine(rules, &c);
        nerd_rules_unref(&rules);
        corpus_free(&c);
        return 0;
    }
    nerd_rules_t *rules = print_load(argv[1]);
    corpus_t c = corpus_read(argv[2]);
    print_reference_pass(&c, print_engine(rules, &c));
    fflush(stdout);
    print_size_scaling(rules, &c);
    print_name_line(rules, &c);
    fflush(stdout);
    if (argc > 3)
        print_rule_scaling(rules, argv[3], &c);
    nerd_rules_unref(&rules);
    corpus_free(&c);
    return 0;
}
