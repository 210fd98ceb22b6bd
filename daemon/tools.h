/*
 * tools.h - entry points of the operator tools: `nerd keygen`, `nerd proxy`, `nerd stats`.
 *
 * Kept apart from cli.h (owned with main.c by the daemon's core) so the tools can be added without
 * touching it; main.c includes this header and lists the three commands in its dispatch table.
 * Each takes its own argv (argv[0] = the command name) and returns a CLI_* exit status.
 */
#ifndef NERD_TOOLS_H
#define NERD_TOOLS_H

/* keygen_cmd.c: writes a CURVE key pair (FILE public, FILE_secret secret). */
int keygen_main(int argc, char **argv);

/* proxy_cmd.c: ZeroMQ streamer (PULL->PUSH) and/or forwarder (XSUB->XPUB) for scale-out. */
int proxy_main(int argc, char **argv);

/* stats_cmd.c: asks a running daemon's control socket for its counters. */
int stats_main(int argc, char **argv);

#endif /* NERD_TOOLS_H */
