/*
 * config.c - read a `nerd serve --config FILE` and turn it into command-line arguments
 * (see config.h for the format).
 *
 * Strict on purpose: an operator's typo ("thread = 4", "in: tcp://...", a stray quote) is
 * reported with FILE:LINE at start-up instead of being half-understood.  Whether a key is a real
 * option is left to the command's getopt_long, which already knows the list.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing array of owned strings (the argv being built). */
typedef struct config_args {
    char **items;
    int count;
    int cap;
} config_args_t;

static int config_push(config_args_t *args, char *s)
{
    if (s == NULL)
        return -1;
    if (args->count + 2 > args->cap) {
        int cap = args->cap > 0 ? args->cap * 2 : 16;
        char **items = realloc(args->items, (size_t)cap * sizeof *items);
        if (items == NULL) {
            free(s);
            return -1;
        }
        args->items = items;
        args->cap = cap;
    }
    args->items[args->count++] = s;
    args->items[args->count] = NULL;
    return 0;
}

static char *config_strdup(const char *s)
{
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    if (copy != NULL)
        memcpy(copy, s, len + 1);
    return copy;
}

static int config_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int config_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/*
 * Parses the value that starts at p (after "=" and blanks) into out (at least strlen(p) + 1
 * bytes).  Returns 0, or -1 with the problem in why.
 */
static int config_value(const char *p, char *out, const char **why)
{
    size_t n = 0;
    if (*p == '"' || *p == '\'') {
        char quote = *p++;
        for (;;) {
            if (*p == '\0') {
                *why = quote == '"' ? "unterminated \"...\" value" : "unterminated '...' value";
                return -1;
            }
            if (*p == quote) {
                p++;
                break;
            }
            if (quote == '"' && *p == '\\') {
                p++;
                switch (*p) {
                case '"': case '\\': case '\'': out[n++] = *p; break;
                case 'n': out[n++] = '\n'; break;
                case 't': out[n++] = '\t'; break;
                default:
                    *why = "unknown escape in a \"...\" value (use \\\" \\\\ \\n \\t)";
                    return -1;
                }
                p++;
                continue;
            }
            out[n++] = *p++;
        }
        while (config_is_blank(*p))
            p++;
        if (*p != '\0' && *p != '#') {
            *why = "text after the closing quote";
            return -1;
        }
        out[n] = '\0';
        return 0;
    }
    /* Unquoted: up to the end of the line or a " #" comment, trailing blanks removed. */
    while (*p != '\0') {
        if (*p == '#' && n > 0 && config_is_blank(out[n - 1]))
            break;
        out[n++] = *p++;
    }
    while (n > 0 && config_is_blank(out[n - 1]))
        n--;
    out[n] = '\0';
    if (n == 0) {
        *why = "missing value after '=' (write key = value, or the key alone for a flag)";
        return -1;
    }
    return 0;
}

/*
 * Turns one line (NUL-terminated, newline removed) into an argument pushed onto args, or nothing
 * for a blank or comment line.  Returns 0, -1 with why set (syntax), or -2 (out of memory).
 */
static int config_line(char *line, config_args_t *args, const char **why)
{
    char *p = line;
    while (config_is_blank(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    if (*p == '=') {
        *why = "empty key before '='";
        return -1;
    }
    if (*p == '-') {
        *why = "a key is written without the leading dashes (e.g. \"threads = 4\")";
        return -1;
    }
    const char *key = p;
    while (config_key_char(*p))
        p++;
    size_t key_len = (size_t)(p - key);
    if (key_len == 0 || (*p != '\0' && *p != '=' && *p != '#' && !config_is_blank(*p))) {
        *why = "expected 'key = value' or 'key' (keys are lowercase letters, digits and '-')";
        return -1;
    }
    while (config_is_blank(*p))
        p++;
    if (key_len == 6 && memcmp(key, "config", 6) == 0) {
        *why = "'config' cannot be set in a configuration file";
        return -1;
    }
    if (*p == '\0' || *p == '#') {          /* a flag */
        char *arg = malloc(key_len + 3);
        if (arg == NULL)
            return -2;
        memcpy(arg, "--", 2);
        memcpy(arg + 2, key, key_len);
        arg[key_len + 2] = '\0';
        return config_push(args, arg) == 0 ? 0 : -2;
    }
    if (*p != '=') {
        *why = "expected '=' after the key (or the key alone for a flag)";
        return -1;
    }
    p++;
    while (config_is_blank(*p))
        p++;
    if (*p == '\0' || *p == '#') {
        *why = "missing value after '=' (write key = value, or the key alone for a flag)";
        return -1;
    }
    size_t rest = strlen(p);
    char *arg = malloc(key_len + 3 + rest + 1);
    if (arg == NULL)
        return -2;
    memcpy(arg, "--", 2);
    memcpy(arg + 2, key, key_len);
    arg[key_len + 2] = '=';
    if (config_value(p, arg + key_len + 3, why) != 0) {
        free(arg);
        return -1;
    }
    return config_push(args, arg) == 0 ? 0 : -2;
}

/* Reads every line of f into args.  Returns 0 or -1 with err written. */
static int config_read(FILE *f, const char *path, config_args_t *args, char *err, size_t errlen)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lineno = 0;
    int rc = 0;
    errno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            snprintf(err, errlen, "%s:%zu: NUL byte in the line (is this a text file?)", path,
                     lineno);
            rc = -1;
            break;
        }
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        char *start = line;
        if (lineno == 1 && memcmp(start, "\xEF\xBB\xBF", 3) == 0)   /* a UTF-8 BOM */
            start += 3;
        const char *why = NULL;
        int lrc = config_line(start, args, &why);
        if (lrc == -1) {
            snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
            rc = -1;
            break;
        }
        if (lrc == -2) {
            snprintf(err, errlen, "%s:%zu: out of memory", path, lineno);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno != 0 ? errno : EIO));
        rc = -1;
    }
    free(line);
    return rc;
}

char **config_expand_args(const char *path, int argc, char **argv, int *out_argc, char *err,
                          size_t errlen)
{
    config_args_t args = { NULL, 0, 0 };
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    int ok = config_push(&args, config_strdup(argc > 0 && argv[0] != NULL ? argv[0] : "nerd"))
             == 0;
    if (!ok)
        snprintf(err, errlen, "%s: out of memory", path);
    else
        ok = config_read(f, path, &args, err, errlen) == 0;
    fclose(f);
    int options_done = 0;
    for (int i = 1; ok && i < argc; i++) {
        if (!options_done && strcmp(argv[i], "--") == 0) {
            options_done = 1;
        } else if (!options_done && strcmp(argv[i], "--config") == 0) {
            i++;          /* and its FILE */
            continue;
        } else if (!options_done && strncmp(argv[i], "--config=", 9) == 0) {
            continue;
        }
        if (config_push(&args, config_strdup(argv[i])) != 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            ok = 0;
        }
    }
    if (!ok) {
        config_free_args(args.items, args.count);
        return NULL;
    }
    *out_argc = args.count;
    return args.items;
}

void config_free_args(char **args, int argc)
{
    if (args == NULL)
        return;
    for (int i = 0; i < argc; i++)
        free(args[i]);
    free(args);
}
