/*
 * fuzz_extract.c - fuzz target: a frame off the wire, decoded as a Document, then extracted.
 *
 * The bytes are what a hostile client could send to the daemon's input socket.  They go through
 * the same path as in daemon/serve.c: codec_decode_document() (protobuf-c with the arena
 * allocator), then nerd_extract() with the default rule pack and default limits.  Built with
 * clang's libFuzzer by `make fuzz`, and with the replay main (replay.c) by `make test`, which
 * runs it over every saved input in tests/fuzz/corpus/extract/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec.h"
#include "fuzz.h"
#include "nerd.h"

static nerd_rules_t *rules;
static nerd_worker_t *worker;
static nerd_arena_t *arena;

static void setup(void)
{
    char *errors = NULL;
    const char *dir = getenv("NERD_RULES");
    rules = nerd_rules_load(dir ? dir : "rules/en", &errors);
    if (rules == NULL) {
        fprintf(stderr, "fuzz_extract: cannot load rules (set NERD_RULES):\n%s",
                errors ? errors : "");
        abort();
    }
    worker = nerd_worker_new();
    arena = nerd_arena_new(1 << 16);
    if (worker == NULL || arena == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    codec_doc_t doc;
    char why[256];
    const nerd_result_t *result;

    if (rules == NULL)
        setup();
    if (codec_decode_document(arena, data, size, &doc, why, sizeof why) == 0)
        (void)nerd_extract(worker, rules, doc.text, doc.text_len, NULL, &result);
    /* The raw bytes as a text too: extraction must survive anything, valid UTF-8 or not. */
    (void)nerd_extract(worker, rules, (const char *)data, size, NULL, &result);
    nerd_arena_reset(arena);
    return 0;
}

void fuzz_teardown(void)
{
    nerd_worker_destroy(&worker);
    nerd_arena_destroy(&arena);
    nerd_rules_unref(&rules);
}
