/*
 * serve_opts.c - the command line of `nerd serve`: its --help, its options and their checks,
 * and --config FILE (config.h), whose keys are the long option names.
 *
 * serve_opts_parse() fills a serve_opts_t and nothing else: the daemon (serve.c) starts from it.
 */
#include "serve.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "log.h"

static const char serve_usage[] =
    "Usage: nerd serve [OPTIONS]\n"
    "\n"
    "Runs the daemon: receives nerd.v1.Document frames, publishes one nerd.v1.Result for each.\n"
    "\n"
    "Endpoints (ZeroMQ syntax; \"@\" binds, \">\" connects, bare binds; several separated by\n"
    "commas):\n"
    "  -i, --in ENDPOINT      PULL socket for Documents (default @" SERVE_DEFAULT_IN ")\n"
    "  -o, --out ENDPOINT     XPUB socket (SUB clients) for Results (default\n"
    "                         @" SERVE_DEFAULT_OUT "),\n"
    "                         two frames: [topic][Result]; topic \"result\" when status is\n"
    "                         OK, \"error.CODE\" for errors (error.decode, error.utf8,\n"
    "                         error.too_big, ...)\n"
    "  -r, --reply ENDPOINT   also a ROUTER socket answering each Document (from REQ or DEALER\n"
    "                         clients) with its Result on the same socket (default: none)\n"
    "      --out-push ENDPOINT  also a PUSH socket for Results ([topic][Result]); it blocks\n"
    "                         (and so stops the input) while no consumer has room\n"
    "      --control ENDPOINT ROUTER answering \"stats\" with the counters as JSON (`nerd\n"
    "                         stats`; default @tcp://127.0.0.1:5558, \"none\" = off)\n"
    "      --metrics HOST:PORT  HTTP endpoint: GET /metrics (Prometheus), /healthz, /readyz\n"
    "                         (default: none; \":9100\" = 127.0.0.1:9100)\n"
    "\n";

/* In two parts: ISO C promises string literals up to 4095 bytes only. */
static const char serve_usage_more[] =
    "Delivery:\n"
    "      --no-drop          never drop a Result: a subscriber whose queue is full (ZeroMQ's\n"
    "                         high-water mark) makes the daemon wait and stop reading input\n"
    "                         until it catches up (back-pressure to the pushers).  Without\n"
    "                         it a Result that finds a subscriber's queue full is dropped\n"
    "                         (for every subscriber), logged and counted as dropped\n"
    "      --heartbeat-ms N   ZMQ heartbeats on every connection, a dead peer is noticed after\n"
    "                         3N ms (default 5000; 0 = off)\n"
    "\n"
    "Security:\n"
    "      --curve-secret FILE  make every endpoint a CurveZMQ server with this key pair (the\n"
    "                         FILE_secret written by `nerd keygen FILE`)\n"
    "      --curve-allow DIR  admit only clients whose public key is in a key file in DIR;\n"
    "                         refused clients are logged\n"
    "      --user NAME        when started as root: switch to NAME after binding and loading\n"
    "                         the rules (the rules must be readable by NAME for SIGHUP)\n"
    "      --allow-root       run as root without --user (also NERD_ALLOW_ROOT=1)\n"
    "\n"
    "Options:\n"
    "      --config FILE      read options from FILE: \"key = value\" lines, keys are the long\n"
    "                         options without \"--\" (\"no-drop\" alone for a flag), # comments;\n"
    "                         options on the command line win\n"
    "  -R, --rules DIR        rule set (default: $NERD_RULES, else ../rules/en next to the\n"
    "                         executable, else " NERD_DATADIR "/rules/en); SIGHUP reloads it\n"
    "  -t, --threads N        worker threads (default: the number of online cores)\n"
    "  -m, --max-bytes N      longest text accepted, k/M/G suffixes allowed (default 4M;\n"
    "                         0 = no limit); longer ones get an error.too_big Result, frames\n"
    "                         over 2N+64k are refused by ZeroMQ (the sender is disconnected)\n"
    "  -b, --time-budget MS   wall-clock time a document may take per MiB of text (a\n"
    "                         shorter one gets all of it) before it gets an\n"
    "                         error.timeout Result (default 2000; 0 = no budget)\n"
    "      --max-entities N   most entities per document, more gets an error.entities\n"
    "                         Result (default 100000; 0 = no limit)\n"
    "  -q, --quiet            log warnings and errors only\n"
    "  -v, --verbose          log debug messages too\n"
    "  -h, --help             show this help\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop taking input, publish every Result in flight, exit 0 (a second\n"
    "one exits at once, status 1 if documents were lost); SIGHUP reloads the rules (a set that\n"
    "fails to load is logged and the old one keeps serving).  With --no-drop or --out-push,\n"
    "SIGTERM waits until the consumers have taken every Result.  With $NOTIFY_SOCKET set\n"
    "(systemd Type=notify) READY=1, RELOADING=1 and STOPPING=1 are sent.\n"
    "With --threads 1 results come out in input order; with more threads documents may\n"
    "overtake each other.\n"
    "\n"
    "Examples:\n"
    "  nerd serve\n"
    "  nerd serve --threads 4 --reply @tcp://127.0.0.1:5557\n"
    "  nerd serve --in '>tcp://hub:6000' --out '>tcp://hub:6001'   # behind a proxy pair\n"
    "  nerd serve --no-drop --metrics 127.0.0.1:9100\n"
    "  nerd serve --config /etc/nerd/nerd.conf --verbose\n";

/* Long options without a short form. */
enum {
    SERVE_OPT_NO_DROP = 256, SERVE_OPT_OUT_PUSH, SERVE_OPT_HEARTBEAT, SERVE_OPT_CONTROL,
    SERVE_OPT_METRICS, SERVE_OPT_CURVE_SECRET, SERVE_OPT_CURVE_ALLOW, SERVE_OPT_USER,
    SERVE_OPT_ALLOW_ROOT, SERVE_OPT_MAX_ENTITIES
};

static int serve_parse_option(int opt, char **argv, serve_opts_t *opts)
{
    long value;
    uint64_t size;
    switch (opt) {
    case 'i': opts->in = optarg; break;
    case 'o': opts->out = optarg; break;
    case 'r': opts->reply = optarg; break;
    case 'R': opts->rules_dir = optarg; break;
    case 't':
        if (cli_parse_long(optarg, 1, 256, &value) != 0)
            return cli_usage_error("serve", "--threads: '%s' is not a number from 1 to 256",
                                   optarg);
        opts->threads = (int)value;
        break;
    case 'm':
        /* Bounded so that 2N + 64 KiB still fits ZMQ_MAXMSGSIZE's int64. */
        if (cli_parse_size(optarg, (uint64_t)1 << 40, &size) != 0)
            return cli_usage_error("serve", "--max-bytes: '%s' is not a size (e.g. 4M)", optarg);
        opts->max_bytes = (size_t)size;
        break;
    case 'b':
        if (cli_parse_long(optarg, 0, 86400000L, &opts->time_budget_ms) != 0)
            return cli_usage_error("serve", "--time-budget: '%s' is not a number of "
                                   "milliseconds", optarg);
        break;
    case SERVE_OPT_MAX_ENTITIES:
        if (cli_parse_long(optarg, 0, 100000000L, &opts->max_entities) != 0)
            return cli_usage_error("serve", "--max-entities: '%s' is not a number from 0 to "
                                   "100000000", optarg);
        break;
    case SERVE_OPT_HEARTBEAT:
        /* ZMQ_HEARTBEAT_TTL (3N) is limited to 6553599 ms. */
        if (cli_parse_long(optarg, 0, 2000000L, &opts->heartbeat_ms) != 0)
            return cli_usage_error("serve", "--heartbeat-ms: '%s' is not a number of "
                                   "milliseconds from 0 to 2000000", optarg);
        break;
    case SERVE_OPT_NO_DROP: opts->no_drop = 1; break;
    case SERVE_OPT_OUT_PUSH: opts->out_push = optarg; break;
    case SERVE_OPT_CONTROL:
        opts->control = strcmp(optarg, "none") == 0 || optarg[0] == '\0' ? NULL : optarg;
        opts->control_given = 1;
        break;
    case SERVE_OPT_METRICS: opts->metrics = optarg; break;
    case SERVE_OPT_CURVE_SECRET: opts->curve_secret = optarg; break;
    case SERVE_OPT_CURVE_ALLOW: opts->curve_allow = optarg; break;
    case SERVE_OPT_USER: opts->user = optarg; break;
    case SERVE_OPT_ALLOW_ROOT: opts->allow_root = 1; break;
    case 'q': log_set_level(LOG_LEVEL_WARN); break;
    case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
    case 'h':
        fputs(serve_usage, stdout);
        fputs(serve_usage_more, stdout);
        return -1;
    default:
        return cli_bad_option("serve", argv, opt);
    }
    return 0;
}

static int serve_parse(int argc, char **argv, serve_opts_t *opts)
{
    static const struct option longopts[] = {
        { "in", required_argument, NULL, 'i' },
        { "out", required_argument, NULL, 'o' },
        { "reply", required_argument, NULL, 'r' },
        { "rules", required_argument, NULL, 'R' },
        { "threads", required_argument, NULL, 't' },
        { "max-bytes", required_argument, NULL, 'm' },
        { "time-budget", required_argument, NULL, 'b' },
        { "max-entities", required_argument, NULL, SERVE_OPT_MAX_ENTITIES },
        { "no-drop", no_argument, NULL, SERVE_OPT_NO_DROP },
        { "out-push", required_argument, NULL, SERVE_OPT_OUT_PUSH },
        { "heartbeat-ms", required_argument, NULL, SERVE_OPT_HEARTBEAT },
        { "control", required_argument, NULL, SERVE_OPT_CONTROL },
        { "metrics", required_argument, NULL, SERVE_OPT_METRICS },
        { "curve-secret", required_argument, NULL, SERVE_OPT_CURVE_SECRET },
        { "curve-allow", required_argument, NULL, SERVE_OPT_CURVE_ALLOW },
        { "user", required_argument, NULL, SERVE_OPT_USER },
        { "allow-root", no_argument, NULL, SERVE_OPT_ALLOW_ROOT },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opts->in = SERVE_DEFAULT_IN;
    opts->out = SERVE_DEFAULT_OUT;
    opts->threads = cores > 0 ? (int)(cores < 256 ? cores : 256) : 1;
    opts->max_bytes = SERVE_DEFAULT_MAX_BYTES;
    opts->time_budget_ms = -1;
    opts->max_entities = -1;
    opts->heartbeat_ms = SERVE_DEFAULT_HEARTBEAT_MS;
    opts->control = SERVE_DEFAULT_CONTROL;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":i:o:r:R:t:m:b:qvh", longopts, NULL)) != -1) {
        int rc = serve_parse_option(opt, argv, opts);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (opts->curve_allow != NULL && opts->curve_secret == NULL)
        return cli_usage_error("serve", "--curve-allow needs --curve-secret");
    return 0;
}

/* The FILE of "--config FILE" / "--config=FILE" (before a "--"), or NULL. */
static const char *serve_config_path(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return NULL;
        if (strcmp(argv[i], "--config") == 0)
            return i + 1 < argc ? argv[i + 1] : "";
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

/* Parses argv, reading --config FILE first if it is given.  0, -1 (--help) or an exit status;
 * *expanded is the argv to free with config_free_args. */
int serve_opts_parse(int argc, char **argv, serve_opts_t *opts, char ***expanded,
                     int *expanded_argc)
{
    const char *config = serve_config_path(argc, argv);
    if (config == NULL)
        return serve_parse(argc, argv, opts);
    if (config[0] == '\0')
        return cli_usage_error("serve", "option '--config' needs a value");
    char err[512];
    *expanded = config_expand_args(config, argc, argv, expanded_argc, err, sizeof err);
    if (*expanded == NULL)
        return cli_usage_error("serve", "--config: %s", err);
    return serve_parse(*expanded_argc, *expanded, opts);
}
