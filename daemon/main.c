/*
 * main.c - the nerd command: a thin shell that picks the subcommand.
 *
 * Each subcommand lives in its own file (serve.c, extract_cmd.c, push_cmd.c, tail_cmd.c,
 * rules_cmd.c, and the operator tools of tools.h: stats_cmd.c, proxy_cmd.c, keygen_cmd.c) and
 * parses its own options; this file only dispatches and prints the overview.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nerd.h"
#include "tools.h"

static const char main_usage[] =
    "Usage: nerd COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "nerd finds named entities (PERSON, ORG, LOC, DATE, ROLE) and relations (affiliation,\n"
    "statement) in text with a rule set, as a ZeroMQ daemon or from the command line.\n"
    "\n"
    "Commands:\n"
    "  serve              run the daemon: Documents in on PULL, Results out on PUB\n"
    "  extract [FILE...]  extract from text files or JSON Lines, print JSON Lines\n"
    "  push [FILE...]     send documents to a running daemon\n"
    "  tail               subscribe to a daemon's results and print them as JSON Lines\n"
    "  rules check DIR    load and compile a rule set, report every error\n"
    "  rules test DIR     run the examples (test: lines) of a rule set\n"
    "  stats              ask a running daemon for its counters (control socket)\n"
    "  proxy              ZeroMQ streamer/forwarder to put several daemons behind one stream\n"
    "  keygen FILE        write a CURVE key pair (FILE, FILE_secret) for --curve-secret/allow\n"
    "\n"
    "Options:\n"
    "  -h, --help         show this help; `nerd COMMAND --help` explains a command\n"
    "  -V, --version      show the version\n"
    "\n"
    "The rule set is --rules DIR, else $NERD_RULES, else ../rules/en next to the executable,\n"
    "else " NERD_DATADIR "/rules/en.\n"
    "\n"
    "Examples:\n"
    "  nerd serve --threads 4\n"
    "  nerd push article.txt && nerd tail --count 1\n"
    "  nerd extract --jsonl gold.jsonl > system.jsonl\n";

typedef struct main_command {
    const char *name;
    int (*run)(int argc, char **argv);
} main_command_t;

static const main_command_t main_commands[] = {
    { "serve", serve_main },
    { "extract", extract_main },
    { "push", push_main },
    { "tail", tail_main },
    { "rules", rules_main },
    { "proxy", proxy_main },
    { "keygen", keygen_main },
    { "stats", stats_main },
};

int main(int argc, char **argv)
{
    /* A closed pipe (stdout to `head`, a peer gone) must be an error return, not a death. */
    signal(SIGPIPE, SIG_IGN);
    cli_tune_malloc();

    if (argc < 2) {
        fputs(main_usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("nerd %s\n", NERD_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof main_commands / sizeof main_commands[0]; i++)
        if (strcmp(cmd, main_commands[i].name) == 0)
            return main_commands[i].run(argc - 1, argv + 1);
    if (cmd[0] == '-')
        fprintf(stderr, "nerd: unknown option '%s'\nTry 'nerd --help'.\n", cmd);
    else
        fprintf(stderr, "nerd: unknown command '%s'\nTry 'nerd --help'.\n", cmd);
    return CLI_USAGE;
}
