/*
 * test_keys.c - CurveZMQ key files (daemon/keys.c): generate and read back, the modes of the
 * files, refusing to overwrite, files in czmq/pyzmq's layout, and malformed files rejected with
 * an error that names the file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "keys.h"

typedef struct keys_dir {
    char dir[64];
    char pub[128];
    char sec[160];
} keys_dir_t;

static int setup(void **state)
{
    keys_dir_t *k = calloc(1, sizeof *k);
    if (k == NULL)
        return -1;
    snprintf(k->dir, sizeof k->dir, "/tmp/nerd-test-keys-XXXXXX");
    if (mkdtemp(k->dir) == NULL)
        return -1;
    snprintf(k->pub, sizeof k->pub, "%s/server.key", k->dir);
    snprintf(k->sec, sizeof k->sec, "%s/server.key_secret", k->dir);
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    keys_dir_t *k = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", k->dir);
    int rc = system(cmd);
    free(k);
    return rc == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_round_trip(void **state)
{
    keys_dir_t *k = *state;
    char err[256] = "";
    char pub_new[41];
    assert_int_equal(keys_write(k->pub, 0, pub_new, err, sizeof err), 0);

    struct stat st;
    assert_int_equal(stat(k->pub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(k->sec, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    char pub[41], sec[41];
    assert_int_equal(keys_read(k->pub, pub, sec, err, sizeof err), 0);
    assert_string_equal(pub, pub_new);
    assert_int_equal(sec[0], '\0');          /* the public file holds no secret */
    assert_int_equal(strlen(pub), KEYS_Z85_LEN);

    char pub2[41], sec2[41];
    assert_int_equal(keys_read(k->sec, pub2, sec2, err, sizeof err), 0);
    assert_string_equal(pub2, pub);
    assert_int_equal(strlen(sec2), KEYS_Z85_LEN);
    char derived[41];
    assert_int_equal(zmq_curve_public(derived, sec2), 0);
    assert_string_equal(derived, pub);
}

static void test_no_overwrite_unless_forced(void **state)
{
    keys_dir_t *k = *state;
    char err[256] = "";
    assert_int_equal(keys_generate(k->pub, err, sizeof err), 0);
    char before[41], sec[41];
    assert_int_equal(keys_read(k->pub, before, sec, err, sizeof err), 0);

    assert_int_equal(keys_generate(k->pub, err, sizeof err), -1);
    assert_non_null(strstr(err, "exists"));
    assert_non_null(strstr(err, "--force"));

    /* Only the secret left over: still refused, and the public file is not created. */
    unlink(k->pub);
    assert_int_equal(keys_generate(k->pub, err, sizeof err), -1);
    assert_non_null(strstr(err, "server.key_secret exists"));
    assert_int_equal(access(k->pub, F_OK), -1);

    char after[41];
    assert_int_equal(keys_write(k->pub, 1, after, err, sizeof err), 0);
    char reread[41];
    assert_int_equal(keys_read(k->sec, reread, sec, err, sizeof err), 0);
    assert_string_equal(reread, after);
    assert_string_not_equal(after, before);
    struct stat st;
    assert_int_equal(stat(k->sec, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_reads_other_tools_layout(void **state)
{
    keys_dir_t *k = *state;
    char pub[41], sec[41], err[256];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    char text[1024];
    /* As pyzmq writes it, with metadata entries and an extra section. */
    snprintf(text, sizeof text,
             "#   ****  Generated on 2026-01-01 by pyzmq  ****\n"
             "#   ZeroMQ CURVE **Secret** Certificate\n"
             "\n"
             "metadata\n"
             "    name = \"worker-7\"\n"
             "    email = 'ops@example.org'\n"
             "other\n"
             "    public-key = \"not looked at\"\n"
             "curve\n"
             "    public-key = \"%s\"\r\n"
             "    secret-key = '%s'\n", pub, sec);
    write_text(k->sec, text);
    char rpub[41], rsec[41];
    assert_int_equal(keys_read(k->sec, rpub, rsec, err, sizeof err), 0);
    assert_string_equal(rpub, pub);
    assert_string_equal(rsec, sec);
}

/* Writes text to the public path and checks keys_read fails with fragment in the error. */
static void expect_bad(keys_dir_t *k, const char *text, const char *fragment)
{
    write_text(k->pub, text);
    char pub[41], sec[41], err[256] = "";
    assert_int_equal(keys_read(k->pub, pub, sec, err, sizeof err), -1);
    if (strstr(err, fragment) == NULL || strstr(err, k->pub) == NULL)
        fail_msg("error '%s' lacks '%s' or the file name", err, fragment);
    assert_int_equal(pub[0], '\0');
    assert_int_equal(sec[0], '\0');
}

static void test_malformed(void **state)
{
    keys_dir_t *k = *state;
    char pub[41], sec[41], other_pub[41], other_sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_int_equal(zmq_curve_keypair(other_pub, other_sec), 0);
    char text[1024];

    expect_bad(k, "", "no public-key");
    expect_bad(k, "metadata\ncurve\n", "no public-key");
    expect_bad(k, "metadata\n    public-key = \"x\"\n", "no public-key");
    expect_bad(k, "curve\n    public-key = \"tooshort\"\n", ":2: the public-key is not a CURVE key");
    /* 40 characters, but '~' and ',' are not Z85. */
    expect_bad(k, "curve\n    public-key = \"~~~~~~~~~~,,,,,,,,,,~~~~~~~~~~,,,,,,,,,,\"\n",
               ":2: the public-key is not a CURVE key");
    expect_bad(k, "curve\n    public-key \"abc\"\n", ":2: expected 'name = \"value\"'");
    expect_bad(k, "curve\n    public-key = \"unterminated\n", ":2: expected");
    snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n    secret-key = \"%.39s\"\n",
             pub, sec);
    expect_bad(k, text, ":3: the secret-key is not a CURVE key");
    snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             pub, other_sec);
    expect_bad(k, text, "does not belong to the public-key");

    char err[256];
    assert_int_equal(keys_read("/nonexistent/key", pub, sec, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/key: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_overwrite_unless_forced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_other_tools_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
