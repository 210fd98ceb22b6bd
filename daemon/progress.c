/*
 * progress.c - the progress line of `nerd extract` and `nerd push` (see progress.h).
 *
 * Cheap enough to call once per document: a monotonic clock read and a comparison, and a redraw
 * four times a second at most.  A run shorter than the first redraw prints nothing at all, so
 * small jobs stay as quiet as before.
 */
#include "progress.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_INTERVAL_NS 250000000LL       /* at most 4 redraws a second */
#define PROGRESS_COUNT_MAX (1LL << 32)         /* larger inputs: no up-front line count */

struct progress {
    char cmd[32];
    long long start_ns;
    long long last_ns;
    uint64_t docs;
    uint64_t bytes;          /* text bytes */
    uint64_t total_docs;     /* 0 = unknown */
    uint64_t total_bytes;    /* plain text: the files' sizes; 0 = unknown */
    int drawn;               /* a line is on the screen */
    int ever_drawn;
};

static long long progress_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Counts the non-blank lines of a regular file (the documents of a JSON Lines file). */
static int progress_count_lines(const char *path, uint64_t *lines)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char chunk[1 << 16];
    size_t n;
    int blank = 1;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        for (size_t i = 0; i < n; i++) {
            char c = chunk[i];
            if (c == '\n') {
                *lines += !blank;
                blank = 1;
            } else if (c != ' ' && c != '\t' && c != '\r') {
                blank = 0;
            }
        }
    }
    *lines += !blank;
    int failed = ferror(f);
    fclose(f);
    return failed ? -1 : 0;
}

/* Works out the totals from the inputs; leaves them 0 when one input's size is unknown. */
static void progress_totals(progress_t *p, char *const *paths, size_t count, int jsonl)
{
    uint64_t bytes = 0, docs = 0;
    struct stat st;
    if (count == 0)
        return;                      /* stdin: unknown */
    for (size_t i = 0; i < count; i++) {
        int is_stdin = strcmp(paths[i], "-") == 0;
        if ((is_stdin ? fstat(STDIN_FILENO, &st) : stat(paths[i], &st)) != 0 ||
            !S_ISREG(st.st_mode))
            return;
        bytes += (uint64_t)st.st_size;
    }
    if (jsonl) {
        if (bytes > (uint64_t)PROGRESS_COUNT_MAX)
            return;
        for (size_t i = 0; i < count; i++)
            if (strcmp(paths[i], "-") == 0 || progress_count_lines(paths[i], &docs) != 0)
                return;
        p->total_docs = docs;
    } else {
        p->total_docs = count;
        p->total_bytes = bytes;
    }
}

progress_t *progress_new(const char *cmd, char *const *paths, size_t count, int jsonl,
                         int enabled)
{
    if (!enabled || !isatty(STDERR_FILENO))
        return NULL;
    progress_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    snprintf(p->cmd, sizeof p->cmd, "%s", cmd);
    progress_totals(p, paths, count, jsonl);
    p->start_ns = progress_now_ns();
    p->last_ns = p->start_ns;
    return p;
}

static void progress_draw(progress_t *p, long long now)
{
    double elapsed = (double)(now - p->start_ns) / 1e9;
    double mb = (double)p->bytes / 1e6;
    double rate = elapsed > 0 ? mb / elapsed : 0;
    char share[64] = "", eta[48] = "";
    double done = -1;
    if (p->total_bytes > 0)
        done = (double)p->bytes / (double)p->total_bytes;
    else if (p->total_docs > 0)
        done = (double)p->docs / (double)p->total_docs;
    if (done >= 0) {
        if (done > 1)
            done = 1;
        snprintf(share, sizeof share, "/%llu (%.0f%%)", (unsigned long long)p->total_docs,
                 done * 100);
        if (done > 0 && done < 1) {
            long left = (long)(elapsed * (1 - done) / done + 0.5);
            snprintf(eta, sizeof eta, ", ETA %ld:%02ld:%02ld", left / 3600, left % 3600 / 60,
                     left % 60);
        }
    }
    char line[256];
    int n = snprintf(line, sizeof line, "\rnerd %s: %llu%s documents, %.1f MB, %.2f MB/s%s\033[K",
                     p->cmd, (unsigned long long)p->docs, share, mb, rate, eta);
    if (n > 0)
        fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, stderr);
    fflush(stderr);
    p->drawn = 1;
    p->ever_drawn = 1;
}

void progress_update(progress_t *p, size_t text_len)
{
    if (p == NULL)
        return;
    p->docs++;
    p->bytes += text_len;
    long long now = progress_now_ns();
    if (now - p->last_ns >= PROGRESS_INTERVAL_NS) {
        p->last_ns = now;
        progress_draw(p, now);
    }
}

void progress_clear(progress_t *p)
{
    if (p == NULL || !p->drawn)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
}

void progress_finish(progress_t **pp)
{
    if (pp == NULL || *pp == NULL)
        return;
    progress_t *p = *pp;
    if (p->ever_drawn) {
        progress_draw(p, progress_now_ns());
        fputc('\n', stderr);
        fflush(stderr);
    }
    free(p);
    *pp = NULL;
}
