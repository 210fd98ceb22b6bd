/*
 * cli.h - what every nerd command shares: finding the rule set, reading numbers from options,
 * reporting usage errors the same way, and the entry points of the commands.
 */
#ifndef NERD_CLI_H
#define NERD_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* Where the default rule pack is installed ("make install" puts it under $(PREFIX)/share/nerd). */
#ifndef NERD_DATADIR
#define NERD_DATADIR "/usr/local/share/nerd"
#endif

/*
 * Sets glibc's malloc up for loading rule sets (once, at the start of main; nothing elsewhere).
 * A load compiles a few hundred large patterns on several threads, each leaving big temporary
 * blocks (PCRE2's work space, the analyses' sets) that glibc by default hands back to the system
 * as soon as they are freed and must then take again as fresh pages: half the page faults of a
 * load, a tenth of its time.  Blocks up to 4 MB come from the heap, and up to 32 MB freed at its
 * top stay there; the loader gives it all back when it is done (malloc_trim in lib/rules.c).
 */
void cli_tune_malloc(void);

/* Exit statuses of every command. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

/*
 * The rule directory to use: option (--rules) if not NULL, else $NERD_RULES, else
 * <directory of the executable>/../rules/en when it exists (the in-tree build/nerd finds the
 * repository's pack), else NERD_DATADIR "/rules/en".  Returns a static buffer.
 */
const char *cli_rules_dir(const char *option);

/*
 * Loads the rule set in dir, printing each error on stderr as "nerd CMD: file:line:col: ..." if
 * it fails (cmd names the command).  Returns the set or NULL.
 */
struct nerd_rules;
struct nerd_rules *cli_load_rules(const char *cmd, const char *dir);

/*
 * Parses a byte count: digits with an optional k, M or G suffix (powers of 1024).  Returns 0, or
 * -1 when text is not such a number or exceeds max.
 */
int cli_parse_size(const char *text, uint64_t max, uint64_t *value);

/* Parses a decimal integer in [min, max].  Returns 0 or -1. */
int cli_parse_long(const char *text, long min, long max, long *value);

/*
 * Prints "nerd CMD: MESSAGE" and "Try 'nerd CMD --help'." on stderr; returns CLI_USAGE so a
 * command can `return cli_usage_error(...)`.
 */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message getopt_long gives no words for: an unknown option or one missing its argument. */
int cli_bad_option(const char *cmd, char *const argv[], int opt);

/* The commands: each takes its own argv (argv[0] = the command name) and returns an exit status. */
int serve_main(int argc, char **argv);
int extract_main(int argc, char **argv);
int push_main(int argc, char **argv);
int tail_main(int argc, char **argv);
int rules_main(int argc, char **argv);

#endif /* NERD_CLI_H */
