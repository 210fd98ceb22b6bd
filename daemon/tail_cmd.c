/*
 * tail_cmd.c - `nerd tail`: subscribe to a daemon's results and print them as JSON Lines.
 *
 * Each two-frame message [topic][Result] becomes one line in the shape `nerd extract` prints, plus
 * "topic", "status" and, for errors, "error" and "error_code".  Lines are flushed one by one so a
 * pipe sees each result when it arrives.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "buf.h"
#include "cli.h"
#include "codec.h"
#include "endpoint.h"
#include "keys.h"
#include "json.h"

#define TAIL_DEFAULT_FROM "tcp://127.0.0.1:5556"

static const char tail_usage[] =
    "Usage: nerd tail [--from ENDPOINT] [--topic PREFIX] [--count N] [--timeout MS]\n"
    "                 [--curve-server FILE --curve-key FILE]\n"
    "\n"
    "Subscribes to a nerd daemon's results and prints each as one JSON line: the fields of\n"
    "`nerd extract` plus \"topic\", \"status\" (\"ok\" or \"error\"), \"rule_set_version\",\n"
    "\"processing_us\", and \"error\"/\"error_code\" for errors.\n"
    "\n"
    "Topics: \"result\" for a document processed, \"error.CODE\" for one that failed\n"
    "(error.decode, error.utf8, error.too_big, ...).\n"
    "\n"
    "Options:\n"
    "  -f, --from ENDPOINT  the daemon's output (default " TAIL_DEFAULT_FROM ", connected;\n"
    "                       \"@tcp://...\" binds instead; several separated by commas)\n"
    "  -t, --topic PREFIX   only topics starting with PREFIX (default \"\": everything);\n"
    "                       may be given more than once\n"
    "  -n, --count N        exit after N results (default 0: never)\n"
    "  -T, --timeout MS     exit after MS milliseconds in all (default 0: never)\n"
    KEYS_CLIENT_USAGE
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0, or 1 when --timeout ran out before --count results came, 2 usage error.\n"
    "\n"
    "Examples:\n"
    "  nerd tail --count 1\n"
    "  nerd tail --topic error. --from tcp://10.0.0.5:5556\n";

#define TAIL_MAX_TOPICS 16

typedef struct tail_opts {
    const char *from;
    const char *topics[TAIL_MAX_TOPICS];
    size_t topic_count;
    long count;
    long timeout_ms;
    keys_client_t curve;    /* --curve-server, --curve-key */
} tail_opts_t;

static int tail_parse(int argc, char **argv, tail_opts_t *opts)
{
    static const struct option longopts[] = {
        { "from", required_argument, NULL, 'f' },
        { "topic", required_argument, NULL, 't' },
        { "count", required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 'T' },
        KEYS_CLIENT_OPTIONS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    opts->from = TAIL_DEFAULT_FROM;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":f:t:n:T:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            opts->from = optarg;
            break;
        case 't':
            if (opts->topic_count == TAIL_MAX_TOPICS)
                return cli_usage_error("tail", "at most %d --topic options", TAIL_MAX_TOPICS);
            opts->topics[opts->topic_count++] = optarg;
            break;
        case 'n':
            if (cli_parse_long(optarg, 0, 2000000000L, &opts->count) != 0)
                return cli_usage_error("tail", "--count: '%s' is not a count", optarg);
            break;
        case 'T':
            if (cli_parse_long(optarg, 0, 2000000000L, &opts->timeout_ms) != 0)
                return cli_usage_error("tail", "--timeout: '%s' is not a number of milliseconds",
                                       optarg);
            break;
        case 'h':
            fputs(tail_usage, stdout);
            return -1;
        default:
            if (keys_client_option(&opts->curve, opt, optarg))
                break;
            return cli_bad_option("tail", argv, opt);
        }
    }
    if (optind < argc)
        return cli_usage_error("tail", "unexpected argument '%s'", argv[optind]);
    return 0;
}

static long tail_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes the JSON line for one [topic][Result] message into out; -1 if it is not one. */
static int tail_format(nerd_arena_t *arena, const zmq_msg_t *topic, const zmq_msg_t *body,
                       buf_t *out)
{
    Nerd__V1__Result *msg = codec_decode_result(arena, zmq_msg_data((zmq_msg_t *)(uintptr_t)body),
                                                zmq_msg_size(body));
    nerd_result_t view;
    if (msg == NULL || codec_result_view(arena, msg, &view) != 0)
        return -1;
    int ok = msg->status == NERD__V1__RESULT__STATUS__OK;
    int rc = 0;
    rc |= json_begin_doc(out, msg->document_id, strlen(msg->document_id));
    rc |= buf_append(out, ",\"topic\":", 9);
    rc |= json_put_string(out, zmq_msg_data((zmq_msg_t *)(uintptr_t)topic), zmq_msg_size(topic));
    rc |= json_add_string(out, "status", ok ? "ok" : "error");
    if (!ok) {
        rc |= json_add_string(out, "error", msg->error);
        rc |= json_add_string(out, "error_code", msg->error_code);
    }
    rc |= json_add_result(out, &view);
    rc |= json_add_string(out, "rule_set_version", msg->rule_set_version);
    rc |= json_add_uint(out, "processing_us", msg->processing_us);
    if (msg->n_metadata > 0) {
        rc |= buf_append(out, ",\"metadata\":{", 13);
        for (size_t i = 0; i < msg->n_metadata; i++) {
            if (i > 0)
                rc |= buf_putc(out, ',');
            rc |= json_put_cstr(out, msg->metadata[i]->key);
            rc |= buf_putc(out, ':');
            rc |= json_put_cstr(out, msg->metadata[i]->value);
        }
        rc |= buf_putc(out, '}');
    }
    rc |= json_end_doc(out);
    return rc != 0 ? -1 : 0;
}

/* Receives one message: topic and body (extra frames are dropped).  0, or -1 if malformed. */
static int tail_recv(void *socket, zmq_msg_t *topic, zmq_msg_t *body)
{
    if (zmq_msg_recv(topic, socket, 0) < 0)
        return -1;
    int frames = 1;
    int more = zmq_msg_more(topic);
    while (more) {
        zmq_msg_t *into = frames == 1 ? body : NULL;
        zmq_msg_t extra;
        if (into == NULL) {
            zmq_msg_init(&extra);
            into = &extra;
        }
        if (zmq_msg_recv(into, socket, 0) < 0)
            return -1;
        more = zmq_msg_more(into);
        if (into == &extra)
            zmq_msg_close(&extra);
        frames++;
    }
    return frames == 2 ? 0 : -1;
}

static int tail_loop(void *socket, const tail_opts_t *opts)
{
    nerd_arena_t *arena = nerd_arena_new(64 * 1024);
    buf_t out = BUF_INIT;
    long deadline = opts->timeout_ms > 0 ? tail_now_ms() + opts->timeout_ms : 0;
    long received = 0;
    int status = CLI_OK;
    if (arena == NULL) {
        fprintf(stderr, "nerd tail: out of memory\n");
        return CLI_FAILED;
    }
    while (opts->count == 0 || received < opts->count) {
        long wait = -1;
        if (deadline != 0) {
            wait = deadline - tail_now_ms();
            if (wait <= 0) {
                if (opts->count > 0)
                    status = CLI_FAILED;
                break;
            }
        }
        zmq_pollitem_t item = { socket, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll(&item, 1, wait);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            fprintf(stderr, "nerd tail: %s\n", zmq_strerror(errno));
            status = CLI_FAILED;
            break;
        }
        if (rc == 0)
            continue;
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        buf_clear(&out);
        if (tail_recv(socket, &topic, &body) != 0 || tail_format(arena, &topic, &body, &out) != 0)
            fprintf(stderr, "nerd tail: skipped a message that is not [topic][nerd.v1.Result]\n");
        else
            received++;
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        nerd_arena_reset(arena);
        if (out.len > 0 &&
            (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0)) {
            perror("nerd tail: cannot write the output");
            status = CLI_FAILED;
            break;
        }
    }
    buf_free(&out);
    nerd_arena_destroy(&arena);
    return status;
}

int tail_main(int argc, char **argv)
{
    tail_opts_t opts;
    memset(&opts, 0, sizeof opts);
    int rc = tail_parse(argc, argv, &opts);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    endpoint_list_t endpoints;
    char err[512];
    if (endpoint_parse(opts.from, 0, &endpoints, err, sizeof err) != 0)
        return cli_usage_error("tail", "--from: %s", err);

    void *ctx = zmq_ctx_new();
    void *socket = ctx != NULL ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    int status = CLI_FAILED;
    if (socket == NULL) {
        fprintf(stderr, "nerd tail: cannot start: %s\n", zmq_strerror(errno));
    } else {
        int linger = 0;
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
        if (opts.topic_count == 0)
            zmq_setsockopt(socket, ZMQ_SUBSCRIBE, "", 0);
        for (size_t i = 0; i < opts.topic_count; i++)
            zmq_setsockopt(socket, ZMQ_SUBSCRIBE, opts.topics[i], strlen(opts.topics[i]));
        if (keys_curve_client(socket, &opts.curve, err, sizeof err) != 0 ||
            endpoint_attach(socket, &endpoints, err, sizeof err) != 0)
            fprintf(stderr, "nerd tail: %s\n", err);
        else
            status = tail_loop(socket, &opts);
    }
    if (socket != NULL)
        zmq_close(socket);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    return status;
}
