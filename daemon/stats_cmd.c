/*
 * stats_cmd.c - `nerd stats`: ask a running daemon for its counters over its control socket.
 *
 * The daemon (`nerd serve --control EP`) answers the one-frame request "stats" with one JSON
 * object (the keys are listed in the usage text below).  A REQ socket with a receive timeout and
 * no linger makes "no daemon there" a clean error after --timeout instead of a hang.
 *
 * The reply is printed as is with --json; otherwise it is read with a small scanner that knows
 * just enough JSON for one object of numbers, strings and one level of nested objects, and shown
 * as a table.  Keys this version does not know are listed at the end, so a newer daemon's extra
 * counters are not hidden.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "endpoint.h"
#include "keys.h"
#include "tools.h"

#define STATS_DEFAULT_CONTROL "tcp://127.0.0.1:5558"
#define STATS_DEFAULT_TIMEOUT_MS 2000
#define STATS_MAX_FIELDS 128
#define STATS_MAX_REPLY (1u << 20)

static const char stats_usage[] =
    "Usage: nerd stats [--control ENDPOINT] [--json] [--timeout MS]\n"
    "                  [--curve-server FILE --curve-key FILE]\n"
    "\n"
    "Asks a running `nerd serve` for its counters over its control socket and prints them:\n"
    "documents received, published, replied, dropped, in flight; errors by reason; results per\n"
    "second over the last minute; latency p50/p99; the rule set's version and load time; uptime.\n"
    "\n"
    "Options:\n"
    "  -c, --control ENDPOINT  the daemon's control socket (default " STATS_DEFAULT_CONTROL ",\n"
    "                          connected)\n"
    "  -j, --json              print the daemon's JSON object as is (one line)\n"
    "  -T, --timeout MS        give up when no answer comes within MS milliseconds\n"
    "                          (default 2000)\n"
    KEYS_CLIENT_USAGE
    "  -h, --help              show this help\n"
    "\n"
    "Exit status: 0, 1 no daemon answered (or it answered with an error), 2 usage error.\n"
    "\n"
    "Examples:\n"
    "  nerd stats\n"
    "  nerd stats --json --control tcp://10.0.0.5:5558 | jq .rate_1m\n";

typedef struct stats_opts {
    const char *control;
    int json;
    long timeout_ms;
    keys_client_t curve;    /* --curve-server, --curve-key */
} stats_opts_t;

/* One scalar of the reply: key ("errors.decode" for a nested one) and its text. */
typedef struct stats_field {
    char key[160];
    char value[192];
    int is_string;
    int shown;
} stats_field_t;

typedef struct stats_reply {
    stats_field_t fields[STATS_MAX_FIELDS];
    size_t count;
} stats_reply_t;

static int stats_parse_opts(int argc, char **argv, stats_opts_t *opts)
{
    static const struct option longopts[] = {
        { "control", required_argument, NULL, 'c' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 'T' },
        KEYS_CLIENT_OPTIONS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    opts->control = STATS_DEFAULT_CONTROL;
    opts->timeout_ms = STATS_DEFAULT_TIMEOUT_MS;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":c:jT:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            opts->control = optarg;
            break;
        case 'j':
            opts->json = 1;
            break;
        case 'T':
            if (cli_parse_long(optarg, 1, 3600000L, &opts->timeout_ms) != 0)
                return cli_usage_error("stats", "--timeout: '%s' is not a number of "
                                       "milliseconds (1 or more)", optarg);
            break;
        case 'h':
            fputs(stats_usage, stdout);
            return -1;
        default:
            if (keys_client_option(&opts->curve, opt, optarg))
                break;
            return cli_bad_option("stats", argv, opt);
        }
    }
    if (optind < argc)
        return cli_usage_error("stats", "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* ---- a small JSON scanner for the reply ---------------------------------------------------- */

typedef struct stats_scan {
    const char *p, *end;
} stats_scan_t;

static void stats_ws(stats_scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Reads a JSON string into out (escapes other than \" \\ \/ kept as written); 0 or -1. */
static int stats_string(stats_scan_t *s, char *out, size_t cap)
{
    if (s->p >= s->end || *s->p != '"')
        return -1;
    s->p++;
    size_t n = 0;
    while (s->p < s->end && *s->p != '"') {
        char c = *s->p++;
        if (c == '\\' && s->p < s->end) {
            char e = *s->p++;
            if (e != '"' && e != '\\' && e != '/' && n + 1 < cap)
                out[n++] = '\\';
            c = e;
        }
        if (n + 1 < cap)
            out[n++] = c;
    }
    if (s->p >= s->end)
        return -1;
    s->p++;
    out[n] = '\0';
    return 0;
}

/* Reads a number, true/false/null as text into out; 0 or -1. */
static int stats_bare(stats_scan_t *s, char *out, size_t cap)
{
    size_t n = 0;
    while (s->p < s->end && strchr(",}] \t\r\n", *s->p) == NULL) {
        if (n + 1 < cap)
            out[n++] = *s->p;
        s->p++;
    }
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* Skips an array or object (brackets balanced, strings respected): a shape the table does not
 * show, kept only in --json.  0 or -1. */
static int stats_skip(stats_scan_t *s)
{
    int depth = 0;
    do {
        if (s->p >= s->end)
            return -1;
        char c = *s->p;
        if (c == '"') {
            char scratch[8];
            if (stats_string(s, scratch, sizeof scratch) != 0)
                return -1;
            continue;
        }
        if (c == '[' || c == '{')
            depth++;
        else if (c == ']' || c == '}')
            depth--;
        s->p++;
    } while (depth > 0);
    return 0;
}

/* Parses an object whose keys get prefix; nested objects one level deep (deeper ones and arrays
 * are skipped).  0 or -1. */
static int stats_object(stats_scan_t *s, const char *prefix, stats_reply_t *reply, int depth)
{
    stats_ws(s);
    if (s->p >= s->end || *s->p != '{')
        return -1;
    s->p++;
    stats_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        char key[64];
        stats_ws(s);
        if (stats_string(s, key, sizeof key) != 0)
            return -1;
        stats_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        stats_ws(s);
        if (s->p >= s->end)
            return -1;
        char full[160];
        snprintf(full, sizeof full, "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", key);
        if (*s->p == '{' && depth == 0) {
            if (stats_object(s, full, reply, depth + 1) != 0)
                return -1;
        } else if (*s->p == '{' || *s->p == '[') {
            if (stats_skip(s) != 0)
                return -1;
        } else {
            stats_field_t scratch;
            stats_field_t *f = reply->count < STATS_MAX_FIELDS ? &reply->fields[reply->count]
                                                               : &scratch;
            memset(f, 0, sizeof *f);
            snprintf(f->key, sizeof f->key, "%s", full);
            f->is_string = *s->p == '"';
            if ((f->is_string ? stats_string(s, f->value, sizeof f->value)
                              : stats_bare(s, f->value, sizeof f->value)) != 0)
                return -1;
            if (f != &scratch)
                reply->count++;
        }
        stats_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

/* The field named key (marked shown), or NULL. */
static stats_field_t *stats_get(stats_reply_t *reply, const char *key)
{
    for (size_t i = 0; i < reply->count; i++)
        if (strcmp(reply->fields[i].key, key) == 0) {
            reply->fields[i].shown = 1;
            return &reply->fields[i];
        }
    return NULL;
}

static const char *stats_value(stats_reply_t *reply, const char *key)
{
    stats_field_t *f = stats_get(reply, key);
    return f != NULL ? f->value : "?";
}

/* ---- the table ----------------------------------------------------------------------------- */

static void stats_row(const char *label, const char *value)
{
    printf("  %-16s %s\n", label, value);
}

static void stats_count_row(stats_reply_t *reply, const char *label, const char *key)
{
    stats_field_t *f = stats_get(reply, key);
    if (f != NULL)
        stats_row(label, f->value);
}

static void stats_uptime(double seconds, char *out, size_t cap)
{
    if (seconds < 0)
        seconds = 0;
    unsigned long s = (unsigned long)seconds;
    if (s >= 86400)
        snprintf(out, cap, "%lud %02luh %02lum %02lus", s / 86400, s % 86400 / 3600,
                 s % 3600 / 60, s % 60);
    else if (s >= 3600)
        snprintf(out, cap, "%luh %02lum %02lus", s / 3600, s % 3600 / 60, s % 60);
    else if (s >= 60)
        snprintf(out, cap, "%lum %02lus", s / 60, s % 60);
    else
        snprintf(out, cap, "%.1fs", seconds);
}

static void stats_print_table(stats_reply_t *reply, const char *control)
{
    char line[512];
    stats_field_t *version = stats_get(reply, "version");
    stats_field_t *threads = stats_get(reply, "threads");
    snprintf(line, sizeof line, "%s (nerd %s, %s threads)", control,
             version != NULL ? version->value : "?", threads != NULL ? threads->value : "?");
    stats_row("daemon", line);
    stats_field_t *uptime = stats_get(reply, "uptime_s");
    if (uptime != NULL) {
        stats_uptime(strtod(uptime->value, NULL), line, sizeof line);
        stats_row("uptime", line);
    }
    printf("documents\n");
    stats_count_row(reply, "received", "received");
    stats_count_row(reply, "published", "published");
    stats_count_row(reply, "replied", "replied");
    stats_count_row(reply, "dropped", "dropped");
    stats_count_row(reply, "in flight", "in_flight");
    stats_count_row(reply, "queue depth", "queue_depth");
    stats_count_row(reply, "unroutable", "unroutable");

    /* errors.*: the total, then the reasons that occurred (all of them are in --json). */
    unsigned long long total = 0;
    size_t used = 0;
    line[0] = '\0';
    for (size_t i = 0; i < reply->count; i++) {
        stats_field_t *f = &reply->fields[i];
        if (strncmp(f->key, "errors.", 7) != 0)
            continue;
        f->shown = 1;
        unsigned long long n = strtoull(f->value, NULL, 10);
        total += n;
        if (n == 0)
            continue;
        int w = snprintf(line + used, sizeof line - used, "%s%s %s", used > 0 ? ", " : "",
                         f->key + 7, f->value);
        if (w > 0 && (size_t)w < sizeof line - used)
            used += (size_t)w;
    }
    stats_get(reply, "errors_total");
    printf("errors\n");
    char number[32];
    snprintf(number, sizeof number, "%llu", total);
    stats_row("total", number);
    if (used > 0)
        stats_row("by reason", line);

    printf("performance\n");
    snprintf(line, sizeof line, "%s results/s", stats_value(reply, "rate_1m"));
    stats_row("rate (last min)", line);
    snprintf(line, sizeof line, "p50 %s ms, p99 %s ms", stats_value(reply, "latency_p50_ms"),
             stats_value(reply, "latency_p99_ms"));
    stats_row("latency", line);

    printf("rule set\n");
    stats_count_row(reply, "version", "rule_set_version");
    stats_field_t *loaded = stats_get(reply, "rule_set_loaded_at");
    stats_field_t *load_ms = stats_get(reply, "rule_set_load_ms");
    if (loaded != NULL || load_ms != NULL) {
        snprintf(line, sizeof line, "%s (took %s ms)", loaded != NULL ? loaded->value : "?",
                 load_ms != NULL ? load_ms->value : "?");
        stats_row("loaded", line);
    }
    stats_field_t *reloads = stats_get(reply, "reloads");
    stats_field_t *failures = stats_get(reply, "reload_failures");
    if (reloads != NULL) {
        snprintf(line, sizeof line, "%s (%s failed)", reloads->value,
                 failures != NULL ? failures->value : "?");
        stats_row("reloads", line);
    }

    int header = 0;
    for (size_t i = 0; i < reply->count; i++) {
        if (reply->fields[i].shown)
            continue;
        if (!header)
            printf("other\n");
        header = 1;
        stats_row(reply->fields[i].key, reply->fields[i].value);
    }
}

/* ---- the request --------------------------------------------------------------------------- */

/* Sends "stats" and receives the reply into *reply (malloc'd, NUL-terminated).  0 or -1. */
static int stats_request(void *socket, const stats_opts_t *opts, char **reply, size_t *len)
{
    if (zmq_send(socket, "stats", 5, 0) != 5) {
        fprintf(stderr, "nerd stats: cannot send the request to %s: %s\n", opts->control,
                errno == EAGAIN ? "no daemon there" : zmq_strerror(errno));
        return -1;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, 0) < 0) {
        if (errno == EAGAIN)
            fprintf(stderr, "nerd stats: no answer from %s within %ld ms (is `nerd serve` "
                    "running there with --control?)\n", opts->control, opts->timeout_ms);
        else
            fprintf(stderr, "nerd stats: %s\n", zmq_strerror(errno));
        zmq_msg_close(&msg);
        return -1;
    }
    size_t size = zmq_msg_size(&msg);
    if (size > STATS_MAX_REPLY) {
        fprintf(stderr, "nerd stats: the answer from %s is too large (%zu bytes)\n",
                opts->control, size);
        zmq_msg_close(&msg);
        return -1;
    }
    *reply = malloc(size + 1);
    if (*reply == NULL) {
        fprintf(stderr, "nerd stats: out of memory\n");
        zmq_msg_close(&msg);
        return -1;
    }
    memcpy(*reply, zmq_msg_data(&msg), size);
    (*reply)[size] = '\0';
    *len = size;
    zmq_msg_close(&msg);
    return 0;
}

/* Prints the reply as asked; returns the exit status. */
static int stats_show(const char *text, size_t len, const stats_opts_t *opts)
{
    stats_reply_t *reply = calloc(1, sizeof *reply);
    if (reply == NULL) {
        fprintf(stderr, "nerd stats: out of memory\n");
        return CLI_FAILED;
    }
    stats_scan_t scan = { text, text + len };
    int parsed = stats_object(&scan, "", reply, 0) == 0;
    int status = CLI_OK;
    stats_field_t *error = parsed ? stats_get(reply, "error") : NULL;
    if (error != NULL) {
        fprintf(stderr, "nerd stats: the daemon at %s answered: %s\n", opts->control,
                error->value);
        status = CLI_FAILED;
    } else if (opts->json) {
        /* As is, even if this scanner does not understand it: machines may. */
        fwrite(text, 1, len, stdout);
        if (len == 0 || text[len - 1] != '\n')
            putchar('\n');
    } else if (!parsed) {
        fprintf(stderr, "nerd stats: the answer from %s is not a JSON object: %.200s\n",
                opts->control, text);
        status = CLI_FAILED;
    } else {
        stats_print_table(reply, opts->control);
    }
    free(reply);
    if (fflush(stdout) != 0) {
        perror("nerd stats: cannot write the output");
        status = CLI_FAILED;
    }
    return status;
}

int stats_main(int argc, char **argv)
{
    stats_opts_t opts;
    memset(&opts, 0, sizeof opts);
    int rc = stats_parse_opts(argc, argv, &opts);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    endpoint_list_t endpoints;
    char err[512];
    if (endpoint_parse(opts.control, 0, &endpoints, err, sizeof err) != 0)
        return cli_usage_error("stats", "--control: %s", err);

    void *ctx = zmq_ctx_new();
    void *socket = ctx != NULL ? zmq_socket(ctx, ZMQ_REQ) : NULL;
    int status = CLI_FAILED;
    char *reply = NULL;
    size_t len = 0;
    if (socket == NULL) {
        fprintf(stderr, "nerd stats: cannot start: %s\n", zmq_strerror(errno));
    } else {
        int linger = 0;
        int timeout = (int)opts.timeout_ms;
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        zmq_setsockopt(socket, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
        if (keys_curve_client(socket, &opts.curve, err, sizeof err) != 0 ||
            endpoint_attach(socket, &endpoints, err, sizeof err) != 0)
            fprintf(stderr, "nerd stats: %s\n", err);
        else if (stats_request(socket, &opts, &reply, &len) == 0)
            status = stats_show(reply, len, &opts);
    }
    free(reply);
    if (socket != NULL)
        zmq_close(socket);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    return status;
}
