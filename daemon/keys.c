/*
 * keys.c - read and write CurveZMQ key files (see keys.h for the format).
 *
 * Reading is strict about what matters (the keys must decode and match each other) and lenient
 * about the rest (comments, metadata, other sections), so certificates made by czmq or pyzmq work
 * as they are.  Writing never leaves a half-written or world-readable secret behind: each file is
 * written under a temporary name with its final mode, then linked (no overwrite) or renamed
 * (--force) into place.
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define KEYS_SECRET_SUFFIX "_secret"
#define KEYS_MAX_LINE 4096

/* Overwrites key material in a way the compiler may not drop as a dead store. */
static void keys_wipe(void *p, size_t len)
{
    volatile unsigned char *v = p;
    while (len-- > 0)
        *v++ = 0;
}

/* Whether text is a usable Z85 CURVE key: 40 characters that zmq_z85_decode accepts. */
static int keys_valid_z85(const char *text)
{
    if (strlen(text) != KEYS_Z85_LEN)
        return 0;
    uint8_t bin[32];
    int ok = zmq_z85_decode(bin, text) != NULL;
    keys_wipe(bin, sizeof bin);
    return ok;
}

/* Counts the leading blanks of line. */
static size_t keys_indent(const char *line)
{
    size_t n = 0;
    while (line[n] == ' ' || line[n] == '\t')
        n++;
    return n;
}

/*
 * Parses `name = "value"` (value may also be unquoted or in '...') at p into name and value.
 * Returns 0 or -1 (not such a line).
 */
static int keys_entry(const char *p, char *name, size_t name_cap, char *value, size_t value_cap)
{
    size_t n = 0;
    while (*p != '\0' && *p != '=' && *p != ' ' && *p != '\t' && n + 1 < name_cap)
        name[n++] = *p++;
    name[n] = '\0';
    while (*p == ' ' || *p == '\t')
        p++;
    if (n == 0 || *p != '=')
        return -1;
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    char quote = (*p == '"' || *p == '\'') ? *p++ : 0;
    size_t v = 0;
    while (*p != '\0' && *p != quote && v + 1 < value_cap) {
        if (!quote && (*p == ' ' || *p == '\t'))
            break;
        value[v++] = *p++;
    }
    value[v] = '\0';
    if (quote && *p != quote)
        return -1;
    return 0;
}

/* Reads the lines of f into the two keys; returns 0 or -1 with err. */
static int keys_parse(FILE *f, const char *path, char public_z85[41], char secret_z85[41],
                      char *err, size_t errlen)
{
    char line[KEYS_MAX_LINE];
    size_t lineno = 0;
    int in_curve = 0;
    size_t public_line = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%zu: line too long (is this a key file?)", path, lineno);
            return -1;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        size_t indent = keys_indent(line);
        const char *p = line + indent;
        if (*p == '\0' || *p == '#')
            continue;
        if (indent == 0) {                   /* a section name: "metadata", "curve", ... */
            in_curve = strcmp(p, "curve") == 0;
            continue;
        }
        if (!in_curve)
            continue;                        /* metadata entries and unknown sections */
        char name[64], value[128];
        if (keys_entry(p, name, sizeof name, value, sizeof value) != 0) {
            snprintf(err, errlen, "%s:%zu: expected 'name = \"value\"' in the curve section",
                     path, lineno);
            return -1;
        }
        int is_public = strcmp(name, "public-key") == 0;
        int is_secret = strcmp(name, "secret-key") == 0;
        if (!is_public && !is_secret)
            continue;
        if (!keys_valid_z85(value)) {
            snprintf(err, errlen, "%s:%zu: the %s is not a CURVE key (expected 40 Z85 "
                     "characters in quotes, got %zu characters)", path, lineno, name,
                     strlen(value));
            keys_wipe(value, sizeof value);
            return -1;
        }
        memcpy(is_public ? public_z85 : secret_z85, value, KEYS_Z85_LEN + 1);
        keys_wipe(value, sizeof value);
        if (is_public)
            public_line = lineno;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    if (public_line == 0) {
        snprintf(err, errlen, "%s: no public-key in a 'curve' section (not a key file written "
                 "by nerd keygen, czmq or pyzmq?)", path);
        return -1;
    }
    return 0;
}

/* Checks that secret_z85 is the secret of public_z85; 0 or -1 with err. */
static int keys_check_pair(const char *path, const char *public_z85, const char *secret_z85,
                           char *err, size_t errlen)
{
    char derived[41];
    if (zmq_curve_public(derived, secret_z85) != 0) {
        snprintf(err, errlen, "%s: cannot check the secret key: %s", path, zmq_strerror(errno));
        return -1;
    }
    int same = strcmp(derived, public_z85) == 0;
    keys_wipe(derived, sizeof derived);
    if (!same) {
        snprintf(err, errlen, "%s: the secret-key does not belong to the public-key", path);
        return -1;
    }
    return 0;
}

int keys_read(const char *path, char public_z85[41], char secret_z85[41], char *err,
              size_t errlen)
{
    public_z85[0] = '\0';
    secret_z85[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int rc = keys_parse(f, path, public_z85, secret_z85, err, errlen);
    fclose(f);
    if (rc == 0 && secret_z85[0] != '\0')
        rc = keys_check_pair(path, public_z85, secret_z85, err, errlen);
    if (rc != 0) {
        keys_wipe(secret_z85, 41);
        public_z85[0] = '\0';
    }
    return rc;
}

/* The text of a key file; secret_z85 NULL for the public one.  Returns the length or -1. */
static int keys_format(char *out, size_t cap, const char *public_z85, const char *secret_z85)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(when, sizeof when, "?");
    const char *banner = secret_z85 != NULL
        ? "#   ZeroMQ CURVE **Secret** Certificate\n"
          "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
        : "#   ZeroMQ CURVE Public Certificate\n"
          "#   Exchange securely, or use a secure mechanism to verify the contents\n"
          "#   of this file after exchange.\n";
    int n = snprintf(out, cap,
                     "#   ****  Generated on %s by nerd keygen  ****\n"
                     "%s"
                     "\n"
                     "metadata\n"
                     "curve\n"
                     "    public-key = \"%s\"\n"
                     "%s%s%s",
                     when, banner, public_z85,
                     secret_z85 != NULL ? "    secret-key = \"" : "",
                     secret_z85 != NULL ? secret_z85 : "",
                     secret_z85 != NULL ? "\"\n" : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/*
 * Writes text to path with mode: into a temporary file next to it, then link() (fails if path
 * exists) or, with force, rename().  0 or -1 with err.
 */
static int keys_write_file(const char *path, const char *text, size_t len, mode_t mode,
                           int force, char *err, size_t errlen)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = 0;
    const char *what = "write";
    if (fchmod(fd, mode) != 0) {
        rc = -1;
        what = "set the mode of";
    }
    for (size_t done = 0; rc == 0 && done < len;) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = -1;
            break;
        }
        done += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0) {
        if (force ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
            rc = -1;
            saved = errno;
        }
        if (!force)
            unlink(tmp);
    } else {
        unlink(tmp);
    }
    if (rc != 0) {
        if (saved == EEXIST)
            snprintf(err, errlen, "%s exists (use --force to replace it)", path);
        else
            snprintf(err, errlen, "cannot %s %s: %s", what, path, strerror(saved));
    }
    free(tmp);
    return rc;
}

int keys_write(const char *path, int force, char public_z85[41], char *err, size_t errlen)
{
    size_t plen = strlen(path);
    if (plen == 0) {
        snprintf(err, errlen, "empty file name");
        return -1;
    }
    char *secret_path = malloc(plen + sizeof KEYS_SECRET_SUFFIX);
    if (secret_path == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(secret_path, path, plen);
    memcpy(secret_path + plen, KEYS_SECRET_SUFFIX, sizeof KEYS_SECRET_SUFFIX);

    int rc = -1;
    struct stat st;
    char pub[41], sec[41];
    char text[1024];
    memset(sec, 0, sizeof sec);
    if (!force && (lstat(path, &st) == 0 || lstat(secret_path, &st) == 0)) {
        snprintf(err, errlen, "%s exists (use --force to replace it)",
                 lstat(path, &st) == 0 ? path : secret_path);
    } else if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot generate a CURVE key pair: %s (was libzmq built with "
                 "CURVE support?)", zmq_strerror(errno));
    } else {
        /* The secret first: a crash in between leaves no public key whose secret is lost. */
        int n = keys_format(text, sizeof text, pub, sec);
        if (n > 0 && keys_write_file(secret_path, text, (size_t)n, 0600, force, err, errlen) == 0) {
            keys_wipe(text, sizeof text);
            n = keys_format(text, sizeof text, pub, NULL);
            if (n > 0 && keys_write_file(path, text, (size_t)n, 0644, force, err, errlen) == 0)
                rc = 0;
            else if (!force)
                unlink(secret_path);       /* do not leave a lone secret behind */
        }
        if (n <= 0)
            snprintf(err, errlen, "internal error formatting the key file");
    }
    if (rc == 0 && public_z85 != NULL)
        memcpy(public_z85, pub, sizeof pub);
    keys_wipe(text, sizeof text);
    keys_wipe(sec, sizeof sec);
    free(secret_path);
    return rc;
}

int keys_generate(const char *path, char *err, size_t errlen)
{
    return keys_write(path, 0, NULL, err, errlen);
}

int keys_client_option(keys_client_t *client, int opt, const char *arg)
{
    if (opt == KEYS_OPT_CURVE_SERVER)
        client->server_file = arg;
    else if (opt == KEYS_OPT_CURVE_KEY)
        client->key_file = arg;
    else
        return 0;
    return 1;
}

int keys_curve_client(void *socket, const keys_client_t *client, char *err, size_t errlen)
{
    const char *server_file = client->server_file, *key_file = client->key_file;
    if (server_file == NULL && key_file == NULL)
        return 0;
    if (server_file == NULL || key_file == NULL) {
        snprintf(err, errlen, "--curve-server and --curve-key go together: give both");
        return -1;
    }
    char server[41], unused[41], public_z85[41], secret_z85[41];
    if (keys_read(server_file, server, unused, err, errlen) != 0 ||
        keys_read(key_file, public_z85, secret_z85, err, errlen) != 0)
        return -1;
    if (secret_z85[0] == '\0') {
        snprintf(err, errlen, "%s holds no secret key: --curve-key wants the FILE_secret that "
                 "`nerd keygen FILE` wrote", key_file);
        return -1;
    }
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server, KEYS_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, public_z85, KEYS_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret_z85, KEYS_Z85_LEN + 1) != 0) {
        snprintf(err, errlen, "cannot use CurveZMQ: %s (is libzmq built with CURVE?)",
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}
