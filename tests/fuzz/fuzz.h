/*
 * fuzz: the entry points shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c,
 * built with clang when TRIAGED_FUZZ=ON) and the replay suite
 * (tests/unit/test_fuzz_regress.c, built with the normal compiler), so the
 * regression inputs and the seed corpora run through exactly the code the
 * fuzzer ran. Each fuzz_<name>_one() takes the raw input, must not leak, and
 * abort()s through FUZZ_CHECK when a contract invariant does not hold.
 */
#ifndef TRIAGED_FUZZ_H
#define TRIAGED_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A violated invariant is a finding: say which, then crash so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__,      \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated copy of data[0..size) for APIs that take a C string; caller frees. */
char *fuzz_cstr(const uint8_t *data, size_t size);

int fuzz_ticket_one(const uint8_t *data, size_t size);
int fuzz_triage_one(const uint8_t *data, size_t size);
int fuzz_config_one(const uint8_t *data, size_t size);
int fuzz_prompt_one(const uint8_t *data, size_t size);
int fuzz_rules_one(const uint8_t *data, size_t size);
int fuzz_dialect_one(const uint8_t *data, size_t size);
int fuzz_injection_one(const uint8_t *data, size_t size);
int fuzz_draft_check_one(const uint8_t *data, size_t size);
int fuzz_redact_one(const uint8_t *data, size_t size);

/* libFuzzer's entry point, defined by each harness unless TRIAGED_FUZZ_REPLAY is set. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
