/*
 * log.h - the daemon's one logging module.
 *
 * Every event is one line on stderr: "2026-11-29T08:00:00Z nerd[PID] info: message".  The engine
 * never logs; only daemon/ code calls these.  Thread-safe: each line goes out in one write(2).
 */
#ifndef NERD_LOG_H
#define NERD_LOG_H

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3
};

/* Sets the most verbose level written (default INFO): --quiet = WARN, --verbose = DEBUG. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);

/*
 * Logs at level, at most once per 10 seconds per key (the reason, e.g. "utf8"): the first
 * occurrence is written, later ones within the window are counted, and the next line written for
 * that key ends with "(N more since)".  key is copied; up to 64 distinct keys are tracked (more
 * share one slot).
 */
void log_ratelimited(enum log_level level, const char *key, const char *fmt, ...) LOG_PRINTF(3, 4);

#endif /* NERD_LOG_H */
