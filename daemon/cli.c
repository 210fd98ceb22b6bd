/*
 * cli.c - helpers every nerd command uses (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nerd.h"

static int cli_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_rules_dir(const char *option)
{
    static char dir[PATH_MAX];
    if (option != NULL && option[0] != '\0')
        return option;
    const char *env = getenv("NERD_RULES");
    if (env != NULL && env[0] != '\0')
        return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            char candidate[PATH_MAX];
            int len = snprintf(candidate, sizeof candidate, "%s/../rules/en", exe);
            if (len > 0 && (size_t)len < sizeof candidate && cli_is_dir(candidate)) {
                /* Shown in logs: "/src/nerd/rules/en" reads better than ".../build/../rules/en". */
                if (realpath(candidate, dir) == NULL)
                    snprintf(dir, sizeof dir, "%s", candidate);
                return dir;
            }
        }
    }
    snprintf(dir, sizeof dir, "%s/rules/en", NERD_DATADIR);
    return dir;
}

struct nerd_rules *cli_load_rules(const char *cmd, const char *dir)
{
    char *errors = NULL;
    nerd_rules_t *rules = nerd_rules_load(dir, &errors);
    if (rules != NULL)
        return rules;
    fprintf(stderr, "nerd %s: cannot load the rules in %s\n", cmd, dir);
    if (errors != NULL) {
        for (char *line = strtok(errors, "\n"); line != NULL; line = strtok(NULL, "\n"))
            fprintf(stderr, "nerd %s: %s\n", cmd, line);
    }
    free(errors);
    return NULL;
}

int cli_parse_size(const char *text, uint64_t max, uint64_t *value)
{
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return -1;
    }
    if (*end == 'i' || *end == 'B')   /* accept "4MiB", "4MB" and "4Mi" for the same thing */
        end++;
    if (*end == 'B')
        end++;
    if (*end != '\0')
        return -1;
    if (v > (max >> shift))
        return -1;
    *value = (uint64_t)v << shift;
    return 0;
}

int cli_parse_long(const char *text, long min, long max, long *value)
{
    if (text == NULL || text[0] == '\0')
        return -1;
    errno = 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "nerd %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'nerd %s --help'.\n", cmd);
    return CLI_USAGE;
}

int cli_bad_option(const char *cmd, char *const argv[], int opt)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (opt == ':')
        return cli_usage_error(cmd, "option '%s' needs a value", arg);
    if (optopt != 0 && optopt != '?')
        return cli_usage_error(cmd, "unknown option '-%c'", optopt);
    return cli_usage_error(cmd, "unknown option '%s'", arg);
}

void cli_tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    mallopt(M_TOP_PAD, 4 << 20);
#endif
}
