/*
 * fuzz.h - what every fuzz target in tests/fuzz/ provides.
 *
 * LLVMFuzzerTestOneInput() is called by libFuzzer (`make fuzz`, clang) or by replay.c (`make
 * test`, any compiler) once per input; fuzz_teardown() frees what the target set up, so the replay
 * run can be checked for leaks.
 */
#ifndef NERD_FUZZ_H
#define NERD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_teardown(void);

#endif
