/*
 * test_config.c - the `nerd serve --config FILE` reader (daemon/config.c).
 *
 * The file becomes "--key=value" / "--flag" arguments placed before the command line's own, so
 * getopt_long lets the command line win; every syntax error is reported as FILE:LINE: sentence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* Writes text into a fresh temporary file; its path goes into path (at least 64 bytes). */
static void write_file(char *path, const char *text)
{
    snprintf(path, 64, "/tmp/nerd-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Expands text with the given command line and checks the result against want (NULL-ended). */
static void expect_args(const char *text, int argc, char **argv, const char *const *want)
{
    char path[64], err[256] = "";
    write_file(path, text);
    int out_argc = -1;
    char **args = config_expand_args(path, argc, argv, &out_argc, err, sizeof err);
    unlink(path);
    if (args == NULL)
        fail_msg("unexpected error: %s", err);
    int n = 0;
    while (want[n] != NULL)
        n++;
    assert_int_equal(out_argc, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(args[i], want[i]);
    assert_null(args[n]);
    config_free_args(args, out_argc);
}

/* Expands text and checks it fails with "PATH:LINE: ..." containing fragment. */
static void expect_error(const char *text, int line, const char *fragment)
{
    char path[64], err[256] = "";
    write_file(path, text);
    char *argv[] = { "serve", NULL };
    int out_argc = -1;
    char **args = config_expand_args(path, 1, argv, &out_argc, err, sizeof err);
    unlink(path);
    if (args != NULL) {
        config_free_args(args, out_argc);
        fail_msg("no error for %s", text);
    }
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, fragment) == NULL)
        fail_msg("error '%s' does not start with '%s' or lacks '%s'", err, prefix, fragment);
}

static void test_settings_and_flags(void **state)
{
    (void)state;
    char *argv[] = { "serve", NULL };
    const char *const want[] = { "serve", "--in=@tcp://127.0.0.1:5555", "--threads=4",
                                 "--no-drop", "--rules=/etc/nerd/rules/en", NULL };
    expect_args("# nerd configuration\n"
                "\n"
                "in = @tcp://127.0.0.1:5555\n"
                "   threads=4   \n"
                "no-drop\n"
                "\t# indented comment\n"
                "rules = /etc/nerd/rules/en   # where the pack lives\n",
                1, argv, want);
}

static void test_command_line_comes_last(void **state)
{
    (void)state;
    char *argv[] = { "serve", "--config", "ignored", "--threads", "8", "--config=x", "-q", NULL };
    const char *const want[] = { "serve", "--threads=2", "--threads", "8", "-q", NULL };
    expect_args("threads = 2\n", 7, argv, want);
}

static void test_after_double_dash_kept(void **state)
{
    (void)state;
    char *argv[] = { "serve", "--", "--config", NULL };
    const char *const want[] = { "serve", "--", "--config", NULL };
    expect_args("", 3, argv, want);
}

static void test_quoted_values(void **state)
{
    (void)state;
    char *argv[] = { "serve", NULL };
    const char *const want[] = { "serve", "--rules=/srv/my rules # not a comment",
                                 "--user=it's", "--curve-allow=C:\\keys", "--metrics=",
                                 "--reply=a\"b\\c\td", "--in=x", NULL };
    expect_args("rules = \"/srv/my rules # not a comment\"\n"
                "user = \"it's\"\n"
                "curve-allow = 'C:\\keys'\n"
                "metrics = \"\"\n"
                "reply = \"a\\\"b\\\\c\\td\"   # escapes\n"
                "in = x\r\n",
                1, argv, want);
}

static void test_bom_and_no_final_newline(void **state)
{
    (void)state;
    char *argv[] = { "serve", NULL };
    const char *const want[] = { "serve", "--quiet", "--threads=3", NULL };
    expect_args("\xEF\xBB\xBFquiet\nthreads = 3", 1, argv, want);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("threads = 2\n= 4\n", 2, "empty key");
    expect_error("  = x\n", 1, "empty key");
    expect_error("in: tcp://x\n", 1, "expected 'key = value'");
    expect_error("# ok\nthreads four = 4\n", 2, "expected '='");
    expect_error("Threads = 4\n", 1, "lowercase");
    expect_error("--threads = 4\n", 1, "without the leading dashes");
    expect_error("threads =\n", 1, "missing value");
    expect_error("threads =    # nothing\n", 1, "missing value");
    expect_error("rules = \"/srv/rules\n", 1, "unterminated");
    expect_error("rules = '/srv/rules\n", 1, "unterminated");
    expect_error("\n\nrules = \"/srv\" extra\n", 3, "after the closing quote");
    expect_error("rules = \"a\\qb\"\n", 1, "unknown escape");
    expect_error("config = other.conf\n", 1, "'config'");
}

static void test_nul_byte(void **state)
{
    (void)state;
    char path[64] = "/tmp/nerd-test-config-XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "in = a\0b\n", 9), 9);
    close(fd);
    char *argv[] = { "serve", NULL };
    int n;
    assert_null(config_expand_args(path, 1, argv, &n, err, sizeof err));
    unlink(path);
    assert_non_null(strstr(err, ":1: NUL byte"));
}

static void test_missing_file(void **state)
{
    (void)state;
    char err[256];
    char *argv[] = { "serve", NULL };
    int n;
    assert_null(config_expand_args("/nonexistent/nerd.conf", 1, argv, &n, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/nerd.conf: cannot open"));
    config_free_args(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_and_flags),
        cmocka_unit_test(test_command_line_comes_last),
        cmocka_unit_test(test_after_double_dash_kept),
        cmocka_unit_test(test_quoted_values),
        cmocka_unit_test(test_bom_and_no_final_newline),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
