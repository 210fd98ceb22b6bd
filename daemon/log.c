/*
 * log.c - one line per event on stderr, with a level and a rate limiter keyed by reason.
 *
 * Lines are formatted into a stack buffer and written with a single write(2), so that lines from
 * several threads never interleave.  Control characters in a message (a document id may contain
 * anything) are replaced by spaces so that one event stays one line.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_RATE_WINDOW_S 10
#define LOG_RATE_KEYS 64

static volatile int log_level = LOG_LEVEL_INFO;

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };

typedef struct log_rate_slot {
    char key[48];
    time_t last_logged;     /* monotonic seconds of the last line written for this key */
    unsigned long suppressed;
} log_rate_slot_t;

static pthread_mutex_t log_rate_lock = PTHREAD_MUTEX_INITIALIZER;
static log_rate_slot_t log_rate_slots[LOG_RATE_KEYS];
static size_t log_rate_used;

void log_set_level(enum log_level level)
{
    log_level = (int)level;
}

enum log_level log_get_level(void)
{
    return (enum log_level)log_level;
}

/* Formats and writes one line; suffix (may be NULL) is appended after the message. */
static void log_write(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int head = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02dZ nerd[%ld] %s: ",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, (long)getpid(), log_level_names[level]);
    if (head < 0)
        return;
    size_t len = (size_t)head;
    /* Leave room for the suffix and the newline. */
    size_t room = sizeof line - len - 80;
    int n = vsnprintf(line + len, room, fmt, ap);
    if (n < 0)
        n = 0;
    size_t body = (size_t)n < room ? (size_t)n : room - 1;
    for (size_t i = len; i < len + body; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = ' ';
    len += body;
    if ((size_t)n >= room && len >= 3)
        memcpy(line + len - 3, "...", 3);
    if (suffix != NULL) {
        int s = snprintf(line + len, sizeof line - len - 1, "%s", suffix);
        if (s > 0)
            len += (size_t)s < sizeof line - len - 1 ? (size_t)s : sizeof line - len - 2;
    }
    line[len++] = '\n';
    /* A short write to stderr cannot be helped and must not stop the daemon. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

#define LOG_DEFINE(name, level)                    \
    void name(const char *fmt, ...)                \
    {                                              \
        if ((int)(level) > log_level)              \
            return;                                \
        va_list ap;                                \
        va_start(ap, fmt);                         \
        log_write(level, NULL, fmt, ap);           \
        va_end(ap);                                \
    }

LOG_DEFINE(log_error, LOG_LEVEL_ERROR)
LOG_DEFINE(log_warn, LOG_LEVEL_WARN)
LOG_DEFINE(log_info, LOG_LEVEL_INFO)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG)

/* Finds or claims the slot for key; the last slot is shared once the table is full. */
static log_rate_slot_t *log_rate_slot(const char *key)
{
    for (size_t i = 0; i < log_rate_used; i++)
        if (strncmp(log_rate_slots[i].key, key, sizeof log_rate_slots[i].key - 1) == 0)
            return &log_rate_slots[i];
    if (log_rate_used == LOG_RATE_KEYS)
        return &log_rate_slots[LOG_RATE_KEYS - 1];
    log_rate_slot_t *slot = &log_rate_slots[log_rate_used++];
    snprintf(slot->key, sizeof slot->key, "%s", key);
    slot->last_logged = -LOG_RATE_WINDOW_S - 1;
    slot->suppressed = 0;
    return slot;
}

void log_ratelimited(enum log_level level, const char *key, const char *fmt, ...)
{
    if ((int)level > log_level)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    unsigned long suppressed;
    pthread_mutex_lock(&log_rate_lock);
    log_rate_slot_t *slot = log_rate_slot(key != NULL ? key : "");
    if (now.tv_sec - slot->last_logged < LOG_RATE_WINDOW_S) {
        slot->suppressed++;
        pthread_mutex_unlock(&log_rate_lock);
        return;
    }
    suppressed = slot->suppressed;
    slot->suppressed = 0;
    slot->last_logged = now.tv_sec;
    pthread_mutex_unlock(&log_rate_lock);

    char suffix[64];
    if (suppressed > 0)
        snprintf(suffix, sizeof suffix, " (%lu more since)", suppressed);
    va_list ap;
    va_start(ap, fmt);
    log_write(level, suppressed > 0 ? suffix : NULL, fmt, ap);
    va_end(ap);
}
