/*
 * serve_stats.c - the daemon's counters as reports: latency and rate windows, the JSON answer of
 * the control socket (`nerd stats`) and Prometheus' text format (GET /metrics).
 *
 * The main thread owns serve_stats_t and is the only caller; the HTTP thread gets the text by
 * asking the main thread over the control socket, so nothing here needs a lock.
 */
#include "serve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json.h"

uint64_t serve_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t serve_now_ms(void)
{
    return serve_now_us() / 1000u;
}

void serve_stats_record(serve_stats_t *stats, uint64_t latency_us, uint64_t now_ms)
{
    stats->latency_us[stats->latency_next] =
        latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
    stats->latency_next = (stats->latency_next + 1) % SERVE_LATENCY_SAMPLES;
    if (stats->latency_count < SERVE_LATENCY_SAMPLES)
        stats->latency_count++;
    /* Seconds are counted from 1 so that a zeroed slot never looks current. */
    uint64_t second = now_ms / 1000u + 1;
    size_t slot = (size_t)(second % SERVE_RATE_SECONDS);
    if (stats->rate_second[slot] != second) {
        stats->rate_second[slot] = second;
        stats->rate_count[slot] = 0;
    }
    stats->rate_count[slot]++;
}

double serve_stats_rate(const serve_stats_t *stats, uint64_t now_ms)
{
    uint64_t second = now_ms / 1000u + 1;
    uint64_t total = 0;
    for (size_t i = 0; i < SERVE_RATE_SECONDS; i++)
        if (stats->rate_second[i] + SERVE_RATE_SECONDS > second && stats->rate_second[i] <= second)
            total += stats->rate_count[i];
    /* A daemon up for less than a minute divides by its uptime, not by 60. */
    double window = stats->uptime_s > 0 && stats->uptime_s < SERVE_RATE_SECONDS
                        ? stats->uptime_s
                        : (double)SERVE_RATE_SECONDS;
    return window > 0 ? (double)total / window : 0.0;
}

static int serve_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

double serve_stats_latency_ms(const serve_stats_t *stats, double q)
{
    size_t n = stats->latency_count;
    if (n == 0)
        return 0.0;
    uint32_t sorted[SERVE_LATENCY_SAMPLES];
    memcpy(sorted, stats->latency_us, n * sizeof sorted[0]);
    qsort(sorted, n, sizeof sorted[0], serve_cmp_u32);
    /* Nearest rank: the smallest sample with at least q of the samples at or below it. */
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1] / 1000.0;
}

/* Appends printf-formatted text; 0 or -1. */
static int serve_printf(buf_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int serve_printf(buf_t *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    return buf_append(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void serve_iso_time(int64_t when, char *out, size_t outlen)
{
    time_t t = (time_t)when;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int serve_stats_json(const serve_stats_t *stats, uint64_t now_ms, buf_t *out)
{
    const serve_stats_t *st = stats;
    int rc = serve_printf(out, "{\"version\":\"%s\",\"uptime_s\":%.1f,\"threads\":%d,"
                          "\"received\":%llu,\"published\":%llu,\"replied\":%llu,"
                          "\"dropped\":%llu,\"errors\":{", NERD_VERSION, st->uptime_s,
                          st->threads, (unsigned long long)st->received,
                          (unsigned long long)st->published, (unsigned long long)st->replied,
                          (unsigned long long)st->dropped);
    for (size_t i = 0; i < SERVE_REASONS && rc == 0; i++)
        rc = serve_printf(out, "%s\"%s\":%llu", i > 0 ? "," : "", serve_reason_name(i),
                          (unsigned long long)st->by_reason[i]);
    char loaded[32];
    serve_iso_time(st->rule_set_loaded_at, loaded, sizeof loaded);
    if (rc == 0)
        rc = serve_printf(out, "},\"errors_total\":%llu,\"unroutable\":%llu,\"in_flight\":%llu,"
                          "\"queue_depth\":%llu,\"rate_1m\":%.3f,\"latency_p50_ms\":%.3f,"
                          "\"latency_p99_ms\":%.3f,\"rule_set_version\":",
                          (unsigned long long)st->errors, (unsigned long long)st->unroutable,
                          (unsigned long long)st->in_flight, (unsigned long long)st->queue_depth,
                          serve_stats_rate(st, now_ms), serve_stats_latency_ms(st, 0.5),
                          serve_stats_latency_ms(st, 0.99));
    if (rc == 0)
        rc = json_put_cstr(out, st->rule_set_version);
    if (rc == 0)
        rc = serve_printf(out, ",\"rule_set_load_ms\":%.1f,\"rule_set_loaded_at\":\"%s\","
                          "\"reloads\":%llu,\"reload_failures\":%llu}", st->rule_set_load_ms,
                          loaded, (unsigned long long)st->reloads,
                          (unsigned long long)st->reload_failures);
    return rc;
}

/* Appends a Prometheus sample with a HELP and TYPE header. */
static int serve_metric(buf_t *out, const char *name, const char *type, const char *help,
                        double value)
{
    return serve_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type,
                        name, value);
}

/* Label values may not hold '"', '\\' or newlines unescaped; a version never should, but... */
static void serve_label_value(const char *in, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; in[i] != '\0' && j + 3 < outlen; i++) {
        char c = in[i];
        if (c == '"' || c == '\\') {
            out[j++] = '\\';
            out[j++] = c;
        } else if (c == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
        } else {
            out[j++] = c;
        }
    }
    out[j] = '\0';
}

int serve_stats_prometheus(const serve_stats_t *stats, uint64_t now_ms, buf_t *out)
{
    const serve_stats_t *st = stats;
    int rc = 0;
    rc |= serve_metric(out, "nerd_documents_received_total", "counter",
                       "Documents taken from the input and reply sockets.", (double)st->received);
    rc |= serve_metric(out, "nerd_results_published_total", "counter",
                       "Results sent on the output sockets.", (double)st->published);
    rc |= serve_metric(out, "nerd_results_replied_total", "counter",
                       "Results sent back on the reply socket.", (double)st->replied);
    rc |= serve_metric(out, "nerd_dropped_total", "counter",
                       "Results dropped because a subscriber's queue was full.",
                       (double)st->dropped);
    rc |= serve_printf(out, "# HELP nerd_errors_total Error results by reason.\n"
                       "# TYPE nerd_errors_total counter\n");
    for (size_t i = 0; i < SERVE_REASONS; i++)
        rc |= serve_printf(out, "nerd_errors_total{reason=\"%s\"} %llu\n", serve_reason_name(i),
                           (unsigned long long)st->by_reason[i]);
    rc |= serve_metric(out, "nerd_in_flight", "gauge",
                       "Documents received whose result is not out yet.", (double)st->in_flight);
    rc |= serve_metric(out, "nerd_queue_depth", "gauge",
                       "Documents waiting for a worker thread.", (double)st->queue_depth);
    rc |= serve_printf(out, "# HELP nerd_latency_seconds Receive-to-publish latency over the "
                       "last %d documents.\n# TYPE nerd_latency_seconds summary\n"
                       "nerd_latency_seconds{quantile=\"0.5\"} %.6f\n"
                       "nerd_latency_seconds{quantile=\"0.99\"} %.6f\n",
                       SERVE_LATENCY_SAMPLES, serve_stats_latency_ms(st, 0.5) / 1000.0,
                       serve_stats_latency_ms(st, 0.99) / 1000.0);
    rc |= serve_metric(out, "nerd_rate_1m", "gauge",
                       "Results per second over the last minute.", serve_stats_rate(st, now_ms));
    char version[128];
    serve_label_value(st->rule_set_version, version, sizeof version);
    rc |= serve_printf(out, "# HELP nerd_rule_set_info The rule set being served.\n"
                       "# TYPE nerd_rule_set_info gauge\nnerd_rule_set_info{version=\"%s\"} 1\n",
                       version);
    rc |= serve_metric(out, "nerd_rule_set_reloads_total", "counter",
                       "Successful rule-set reloads (SIGHUP).", (double)st->reloads);
    rc |= serve_metric(out, "nerd_rule_set_reload_failures_total", "counter",
                       "Rule-set reloads that failed (the old set kept serving).",
                       (double)st->reload_failures);
    rc |= serve_metric(out, "nerd_uptime_seconds", "gauge", "Seconds since the daemon started.",
                       st->uptime_s);
    return rc != 0 ? -1 : 0;
}
