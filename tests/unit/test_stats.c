/*
 * test_stats.c - unit tests of the daemon's counters and reports (daemon/serve_stats.c): the
 * latency ring and its quantiles, the one-minute rate window, the `stats` JSON of the control
 * socket and the Prometheus text of GET /metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "serve.h"

static serve_stats_t *new_stats(void)
{
    serve_stats_t *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    return st;
}

static void test_stats_latency_quantiles(void **state)
{
    (void)state;
    serve_stats_t *st = new_stats();
    assert_true(serve_stats_latency_ms(st, 0.5) == 0.0);   /* nothing recorded yet */
    for (uint64_t k = 1; k <= 100; k++)
        serve_stats_record(st, k * 1000u, 5000);       /* 1 .. 100 ms */
    assert_true(serve_stats_latency_ms(st, 0.5) == 50.0);
    assert_true(serve_stats_latency_ms(st, 0.99) == 99.0);
    assert_true(serve_stats_latency_ms(st, 1.0) == 100.0);
    free(st);
}

static void test_stats_latency_ring_keeps_the_last(void **state)
{
    (void)state;
    serve_stats_t *st = new_stats();
    for (int k = 0; k < SERVE_LATENCY_SAMPLES; k++)
        serve_stats_record(st, 900000u, 1000);          /* old, slow documents */
    for (int k = 0; k < SERVE_LATENCY_SAMPLES; k++)
        serve_stats_record(st, 2000u, 2000);            /* then as many fast ones */
    assert_int_equal(st->latency_count, SERVE_LATENCY_SAMPLES);
    assert_true(serve_stats_latency_ms(st, 0.99) == 2.0);
    free(st);
}

static void test_stats_rate_window(void **state)
{
    (void)state;
    serve_stats_t *st = new_stats();
    st->uptime_s = 600;
    for (int k = 0; k < 120; k++)
        serve_stats_record(st, 1000u, 10000 + (uint64_t)k * 500);   /* 2 a second for 60 s */
    double rate = serve_stats_rate(st, 10000 + 119 * 500);
    assert_true(rate > 1.9 && rate <= 2.0);
    /* two minutes later every slot is out of the window */
    assert_true(serve_stats_rate(st, 10000 + 119 * 500 + 120000) == 0.0);
    free(st);
}

static void test_stats_json_holds_the_counters(void **state)
{
    (void)state;
    serve_stats_t *st = new_stats();
    st->received = 10;
    st->published = 7;
    st->replied = 2;
    st->in_flight = 1;
    st->errors = 3;
    st->by_reason[0] = 3;
    st->threads = 2;
    snprintf(st->rule_set_version, sizeof st->rule_set_version, "en@\"quoted\"");
    buf_t out = BUF_INIT;
    assert_int_equal(serve_stats_json(st, 1000, &out), 0);
    assert_non_null(strstr(out.data, "\"received\":10,"));
    assert_non_null(strstr(out.data, "\"published\":7,"));
    assert_non_null(strstr(out.data, "\"replied\":2,"));
    assert_non_null(strstr(out.data, "\"in_flight\":1,"));
    assert_non_null(strstr(out.data, "\"errors_total\":3,"));
    assert_non_null(strstr(out.data, "\"decode\":3"));
    assert_non_null(strstr(out.data, "\"rule_set_version\":\"en@\\\"quoted\\\"\""));
    assert_true(out.data[0] == '{' && out.data[out.len - 1] == '}');
    buf_free(&out);
    free(st);
}

static void test_stats_prometheus_text(void **state)
{
    (void)state;
    serve_stats_t *st = new_stats();
    st->received = 42;
    st->by_reason[0] = 5;
    snprintf(st->rule_set_version, sizeof st->rule_set_version, "en@1234\nx");
    serve_stats_record(st, 3000u, 1000);
    buf_t out = BUF_INIT;
    assert_int_equal(serve_stats_prometheus(st, 1000, &out), 0);
    assert_non_null(strstr(out.data, "# TYPE nerd_documents_received_total counter\n"
                                     "nerd_documents_received_total 42\n"));
    assert_non_null(strstr(out.data, "nerd_errors_total{reason=\"decode\"} 5\n"));
    assert_non_null(strstr(out.data, "nerd_latency_seconds{quantile=\"0.5\"} 0.003000\n"));
    /* a newline in a label value is escaped, so every line is still one sample or comment */
    assert_non_null(strstr(out.data, "nerd_rule_set_info{version=\"en@1234\\nx\"} 1\n"));
    for (char *line = strtok(out.data, "\n"); line != NULL; line = strtok(NULL, "\n"))
        assert_true(line[0] == '#' || strncmp(line, "nerd_", 5) == 0);
    buf_free(&out);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_latency_quantiles),
        cmocka_unit_test(test_stats_latency_ring_keeps_the_last),
        cmocka_unit_test(test_stats_rate_window),
        cmocka_unit_test(test_stats_json_holds_the_counters),
        cmocka_unit_test(test_stats_prometheus_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
