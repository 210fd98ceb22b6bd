/*
 * keygen_cmd.c - `nerd keygen FILE`: write a CurveZMQ key pair for `nerd serve --curve-secret`
 * and for clients listed in `--curve-allow DIR` (the files are described in keys.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "keys.h"
#include "tools.h"

static const char keygen_usage[] =
    "Usage: nerd keygen [--force] FILE\n"
    "\n"
    "Generates a CurveZMQ key pair and writes it in the certificate format of ZeroMQ's tools\n"
    "(czmq, pyzmq's zmq.auth):\n"
    "  FILE          the public key (mode 0644): give it to the peers that must trust you, or\n"
    "                put a client's in the daemon's --curve-allow directory\n"
    "  FILE_secret   the public and the secret key (mode 0600): the daemon's --curve-secret,\n"
    "                or the client's own key; keep it private\n"
    "Prints the public key (Z85) on stdout.\n"
    "\n"
    "Options:\n"
    "  -f, --force   replace existing files (otherwise an existing FILE or FILE_secret is an\n"
    "                error and nothing is written)\n"
    "  -h, --help    show this help\n"
    "\n"
    "Exit status: 0 written, 1 could not write, 2 usage error.\n"
    "\n"
    "Examples:\n"
    "  nerd keygen /etc/nerd/server.key\n"
    "  nerd keygen client1.key && cp client1.key /etc/nerd/clients/\n";

int keygen_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int force = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":fh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            force = 1;
            break;
        case 'h':
            fputs(keygen_usage, stdout);
            return CLI_OK;
        default:
            return cli_bad_option("keygen", argv, opt);
        }
    }
    if (optind >= argc)
        return cli_usage_error("keygen", "missing FILE (where to write the public key)");
    if (optind + 1 < argc)
        return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind + 1]);
    char public_z85[41];
    char err[512];
    if (keys_write(argv[optind], force, public_z85, err, sizeof err) != 0) {
        fprintf(stderr, "nerd keygen: %s\n", err);
        return CLI_FAILED;
    }
    printf("%s\n", public_z85);
    return CLI_OK;
}
