/*
 * push_cmd.c - `nerd push`: send documents to a running daemon's input socket.
 *
 * A PUSH socket connects (by default) to the daemon's PULL; each document is one frame holding a
 * nerd.v1.Document.  ZMQ_IMMEDIATE makes a send wait for a live connection instead of queueing
 * for a daemon that is not there, so a wrong endpoint ends in an error after --timeout rather
 * than a hang.  At exit the socket lingers until every frame is handed to the network (or
 * --timeout runs out), so `nerd push FILE && ...` does not lose the tail of a batch.
 *
 * On a terminal, a long batch shows its progress on stderr (progress.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "codec.h"
#include "docsrc.h"
#include "endpoint.h"
#include "keys.h"
#include "progress.h"

#define PUSH_DEFAULT_TO "tcp://127.0.0.1:5555"
#define PUSH_DEFAULT_TIMEOUT_MS 30000

static const char push_usage[] =
    "Usage: nerd push [--to ENDPOINT] [--jsonl] [--timeout MS] [--quiet]\n"
    "                 [--curve-server FILE --curve-key FILE] [FILE...]\n"
    "\n"
    "Sends each document to a nerd daemon as a nerd.v1.Document (one ZeroMQ frame); the results\n"
    "come out of the daemon's PUB socket (see `nerd tail`).\n"
    "\n"
    "Input:\n"
    "  FILE...              plain text files, one document each, id = the file name as given;\n"
    "                       no FILE or \"-\" reads stdin (id \"stdin\")\n"
    "  -j, --jsonl          the inputs are JSON Lines: {\"id\":...,\"text\":...} a line\n"
    "\n"
    "Options:\n"
    "  -t, --to ENDPOINT    the daemon's input (default " PUSH_DEFAULT_TO ", connected;\n"
    "                       \"@tcp://...\" binds instead; several separated by commas)\n"
    "  -T, --timeout MS     give up when no daemon takes a document for MS milliseconds, and\n"
    "                       wait at most that long for delivery at exit (default 30000;\n"
    "                       0 = wait as long as it takes)\n"
    "  -v, --verbose        say how many documents were sent\n"
    "  -q, --quiet          no progress line (shown on stderr only when it is a terminal:\n"
    "                       documents, MB, MB/s, ETA)\n"
    "      --no-progress    the same\n"
    KEYS_CLIENT_USAGE
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 all sent, 1 an input could not be read or a send failed, 2 usage error.\n"
    "\n"
    "Examples:\n"
    "  nerd push article.txt\n"
    "  nerd push --jsonl --to tcp://10.0.0.5:5555 news.jsonl\n";

typedef struct push_opts {
    const char *to;
    int jsonl;
    int timeout_ms;     /* -1 = forever (--timeout 0) */
    int verbose;
    int quiet;          /* no progress line */
    keys_client_t curve;    /* --curve-server, --curve-key */
} push_opts_t;

static int push_parse(int argc, char **argv, push_opts_t *opts)
{
    static const struct option longopts[] = {
        { "to", required_argument, NULL, 't' },
        { "jsonl", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 'T' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "no-progress", no_argument, NULL, 'q' },
        KEYS_CLIENT_OPTIONS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    opts->to = PUSH_DEFAULT_TO;
    opts->timeout_ms = PUSH_DEFAULT_TIMEOUT_MS;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":t:jT:vqh", longopts, NULL)) != -1) {
        long value;
        switch (opt) {
        case 't':
            opts->to = optarg;
            break;
        case 'j':
            opts->jsonl = 1;
            break;
        case 'T':
            if (cli_parse_long(optarg, 0, 86400000L, &value) != 0)
                return cli_usage_error("push", "--timeout: '%s' is not a number of milliseconds",
                                       optarg);
            opts->timeout_ms = value > 0 ? (int)value : -1;
            break;
        case 'v':
            opts->verbose = 1;
            break;
        case 'q':
            opts->quiet = 1;
            break;
        case 'h':
            fputs(push_usage, stdout);
            return -1;
        default:
            if (keys_client_option(&opts->curve, opt, optarg))
                break;
            return cli_bad_option("push", argv, opt);
        }
    }
    return 0;
}

/* Sends one document; returns 0 or -1 (errno from ZeroMQ). */
static int push_send(void *socket, const docsrc_doc_t *doc)
{
    size_t size = codec_document_encode(doc->id, doc->id_len, doc->text, doc->text_len, NULL);
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, size) != 0)
        return -1;
    codec_document_encode(doc->id, doc->id_len, doc->text, doc->text_len, zmq_msg_data(&msg));
    if (zmq_msg_send(&msg, socket, 0) < 0) {
        int saved = errno;
        zmq_msg_close(&msg);
        errno = saved;
        return -1;
    }
    return 0;
}

/* Sends every document of src; returns the exit status. */
static int push_all(void *socket, docsrc_t *src, const push_opts_t *opts, progress_t *progress)
{
    int status = CLI_OK;
    size_t sent = 0;
    docsrc_doc_t doc;
    int rc;
    while ((rc = docsrc_next(src, &doc)) != 0) {
        if (rc < 0) {
            progress_clear(progress);
            fprintf(stderr, "nerd push: %s\n", doc.error);
            status = CLI_FAILED;
            continue;
        }
        if (push_send(socket, &doc) != 0) {
            const char *why = errno == EAGAIN
                                  ? "no daemon took it within --timeout (is one running there?)"
                                  : zmq_strerror(errno);
            progress_clear(progress);
            fprintf(stderr, "nerd push: cannot send %s: %s\n", doc.id, why);
            status = CLI_FAILED;
            break;
        }
        sent++;
        progress_update(progress, doc.text_len);
    }
    progress_finish(&progress);
    if (opts->verbose)
        fprintf(stderr, "nerd push: sent %zu documents to %s\n", sent, opts->to);
    return status;
}

int push_main(int argc, char **argv)
{
    push_opts_t opts;
    memset(&opts, 0, sizeof opts);
    int rc = push_parse(argc, argv, &opts);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    endpoint_list_t endpoints;
    char err[512];
    if (endpoint_parse(opts.to, 0, &endpoints, err, sizeof err) != 0)
        return cli_usage_error("push", "--to: %s", err);

    docsrc_t *src = docsrc_new(argv + optind, (size_t)(argc - optind), opts.jsonl);
    void *ctx = zmq_ctx_new();
    void *socket = ctx != NULL ? zmq_socket(ctx, ZMQ_PUSH) : NULL;
    int status = CLI_FAILED;
    if (src == NULL || socket == NULL) {
        fprintf(stderr, "nerd push: cannot start: %s\n", zmq_strerror(errno));
    } else {
        zmq_setsockopt(socket, ZMQ_LINGER, &opts.timeout_ms, sizeof opts.timeout_ms);
        zmq_setsockopt(socket, ZMQ_SNDTIMEO, &opts.timeout_ms, sizeof opts.timeout_ms);
        int immediate = 1;
        zmq_setsockopt(socket, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
        if (keys_curve_client(socket, &opts.curve, err, sizeof err) != 0 ||
            endpoint_attach(socket, &endpoints, err, sizeof err) != 0)
            fprintf(stderr, "nerd push: %s\n", err);
        else
            status = push_all(socket, src, &opts,
                              progress_new("push", argv + optind, (size_t)(argc - optind),
                                           opts.jsonl, !opts.quiet));
    }
    if (socket != NULL)
        zmq_close(socket);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    docsrc_destroy(&src);
    return status;
}
