/*
 * fuzz_callform.c - fuzz target: the call form of a pattern (lib/callform.c).
 *
 * The input is a pattern.  Rewritten with groups of any size called as subroutines (the loader
 * only calls big ones), it must find exactly what the pattern as written finds in a few texts:
 * the same matches, the same groups.  A call form that PCRE2 does not compile is allowed (the
 * loader then compiles the pattern as written); one that compiles and matches differently is a
 * bug, and so is any memory error in the rewrite.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "callform.h"
#include "fuzz.h"

#define MAX_PATTERN 4096
#define MIN_GROUP 6

static const char *const texts[] = {
    "Ann said, \"the dam is full\" and Bob told us: said told said. x1 x22 x333",
    "aaaa bbbb abab (a) [b] {c} said-told  said\ntold\n\n“quoted” ’s Zoë naïve 42 4.2",
    "",
};

static pcre2_code *compile(const char *p, size_t len)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)p, len, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (code != NULL)
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    return code;
}

/* The next match of code in text from pos: its return code, its groups in ov (2 * n). */
static int next_match(const pcre2_code *code, const char *text, size_t pos, pcre2_match_data *md,
                      pcre2_match_context *mc, PCRE2_SIZE *ov, uint32_t n)
{
    int rc = pcre2_match(code, (PCRE2_SPTR)text, strlen(text), pos, 0, md, mc);
    const PCRE2_SIZE *got = pcre2_get_ovector_pointer(md);
    for (uint32_t k = 0; k < 2 * n; k++)
        ov[k] = rc >= 0 ? got[k] : 0;
    return rc;
}

/* Both patterns over one text: every match the same, until either hits a limit. */
static void compare(const pcre2_code *a, const pcre2_code *b, uint32_t groups, const char *text,
                    pcre2_match_data *md, pcre2_match_context *mc)
{
    PCRE2_SIZE ova[2 * 64], ovb[2 * 64];
    uint32_t n = groups + 1 < 64 ? groups + 1 : 64;
    size_t len = strlen(text);
    for (size_t pos = 0; pos <= len;) {
        int ra = next_match(a, text, pos, md, mc, ova, n);
        int rb = next_match(b, text, pos, md, mc, ovb, n);
        if ((ra < 0 && ra != PCRE2_ERROR_NOMATCH) || (rb < 0 && rb != PCRE2_ERROR_NOMATCH))
            return;   /* a limit: the call form may spend more of it */
        if (ra != rb || memcmp(ova, ovb, 2 * n * sizeof(PCRE2_SIZE)) != 0) {
            fprintf(stderr, "call form differs on \"%s\" at %zu: rc %d / %d\n", text, pos, ra, rb);
            abort();
        }
        if (ra < 0)
            return;
        size_t next = ova[1] > ova[0] ? ova[1] : ova[1] + 1;
        while (next < len && ((unsigned char)text[next] & 0xC0) == 0x80)
            next++;
        pos = next;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_PATTERN)
        return 0;
    const char *pattern = (const char *)data;
    size_t n, added;
    char *calls = callform_rewrite(pattern, size, NULL, MIN_GROUP, &n, &added);
    if (calls == NULL)
        return 0;
    pcre2_code *plain = compile(pattern, size);
    pcre2_code *called = plain ? compile(calls, n) : NULL;
    if (called != NULL) {
        uint32_t groups = 0, called_groups = 0;
        pcre2_pattern_info(plain, PCRE2_INFO_CAPTURECOUNT, &groups);
        pcre2_pattern_info(called, PCRE2_INFO_CAPTURECOUNT, &called_groups);
        if (called_groups != groups + added) {
            fprintf(stderr, "call form has %u groups, not %u + %zu\n", called_groups, groups, added);
            abort();
        }
        pcre2_match_data *md = pcre2_match_data_create(called_groups + 1, NULL);
        pcre2_match_context *mc = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(mc, 20000);
        pcre2_set_depth_limit(mc, 2000);
        for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
            compare(plain, called, groups, texts[t], md, mc);
        pcre2_match_context_free(mc);
        pcre2_match_data_free(md);
    }
    pcre2_code_free(called);
    pcre2_code_free(plain);
    free(calls);
    return 0;
}

void fuzz_teardown(void)
{
}
