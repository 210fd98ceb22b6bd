/*
 * fuzz_utf8.c - fuzz target: the UTF-8 and normalisation layer.
 *
 * nerd_utf8_check() must agree with a slow reference decoder written here from the definition
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), and extraction with an empty
 * rule set (normalise and tokenise only) must accept exactly the texts the check accepts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "nerd.h"

static int reference_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t len;
        uint32_t min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static nerd_rules_t *empty_rules;
static nerd_worker_t *worker;
static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const nerd_result_t *result;
    size_t bad = 0;

    if (empty_rules == NULL) {
        char *errors = NULL;
        snprintf(dir, sizeof dir, "/tmp/nerd-fuzz-utf8-XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        empty_rules = nerd_rules_load(dir, &errors);
        free(errors);
        worker = nerd_worker_new();
        if (empty_rules == NULL || worker == NULL)
            abort();
    }
    int valid = nerd_utf8_check((const char *)data, size, &bad) == 0;
    if (valid != reference_valid(data, size))
        abort();
    if (!valid && bad > size)
        abort();
    int rc = nerd_extract(worker, empty_rules, (const char *)data, size, NULL, &result);
    if (valid ? rc != 0 : rc != NERD_EUTF8)
        abort();
    return 0;
}

void fuzz_teardown(void)
{
    nerd_worker_destroy(&worker);
    nerd_rules_unref(&empty_rules);
    rmdir(dir);
}
