/*
 * config.h - the configuration file of `nerd serve --config FILE`.
 *
 * Format (one setting a line):
 *     # a comment                     (also after a value, when preceded by a blank)
 *     in = @tcp://127.0.0.1:5555      key = value; the key is a long option without "--"
 *     rules = "/etc/nerd/rules en"    values may be quoted: "..." (with \" \\ \n \t escapes)
 *     curve-allow = '/etc/nerd/keys'  or '...' (taken literally)
 *     no-drop                         a key alone is a flag
 * Blank lines are ignored; spaces around "=" and at both ends of a line are ignored.
 *
 * The file is turned into command-line arguments ("--key=value", "--flag") placed before the real
 * ones, so the command parses both with its usual getopt_long and flags on the command line win.
 * The parser knows no option names: a key the command does not know is reported by getopt_long.
 */
#ifndef NERD_CONFIG_H
#define NERD_CONFIG_H

#include <stddef.h>

/*
 * Reads path and returns a new malloc'd, NULL-terminated argv: argv[0], then "--key=value" /
 * "--key" for every setting of the file in order, then argv[1..argc) of the caller (so
 * command-line flags come last and win with getopt_long).  A "--config FILE" or "--config=FILE"
 * among the caller's arguments (before any "--") is left out, so the command need not know the
 * option when it parses the result.  *out_argc is set.  Every string is a copy owned by the
 * result.
 *
 * On error returns NULL and writes one sentence into err ("FILE:LINE: what is wrong", or
 * "FILE: cannot open: ..."): an unreadable file, a line that is neither "key = value" nor "key",
 * an empty key, a key that is not made of lowercase letters, digits and "-", a missing value
 * after "=", an unterminated quote, text after a closing quote, or "config" itself.
 */
char **config_expand_args(const char *path, int argc, char **argv, int *out_argc, char *err,
                          size_t errlen);

/* Frees what config_expand_args returned (args may be NULL). */
void config_free_args(char **args, int argc);

#endif /* NERD_CONFIG_H */
