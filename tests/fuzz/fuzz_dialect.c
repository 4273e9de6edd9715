/*
 * fuzz_dialect: libFuzzer harness for what providers send back besides the
 * triage (service/core/dialect.h). The input goes, as a raw body, to
 * dialect_parse_error() and dialect_retry_hint(); as a string to
 * dialect_parse_duration() and, as model name and base URL, to
 * dialect_resolve(); and line by line to dialect_ratelimit_header(). Checks
 * the bounds the daemon relies on (fields cut and NUL-terminated, no control
 * characters, delays at most a day). Must not leak.
 */
#include <string.h>

#include "fuzz.h"
#include "dialect.h"

#define DAY_MS 86400000u

static void check_field(const char *f, size_t cap)
{
	size_t n = strnlen(f, cap);
	FUZZ_CHECK(n < cap);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)f[i] >= 0x20);
}

int fuzz_dialect_one(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char *s = fuzz_cstr(data, size), line[64];
	struct provider_error e;
	struct ratelimit rl;
	uint32_t ms = 0;
	const char *p, *nl, *end = body + size;
	enum model_dialect d;

	if (dialect_parse_error(body, size, &e) == 0) {
		check_field(e.message, sizeof(e.message));
		check_field(e.type, sizeof(e.type));
		check_field(e.code, sizeof(e.code));
		check_field(e.param, sizeof(e.param));
		dialect_error_line(400, &e, line, sizeof(line));
		FUZZ_CHECK(strlen(line) < sizeof(line));
		(void)dialect_error_is_response_format(400, &e);
	} else {
		FUZZ_CHECK(e.message[0] == '\0' && e.type[0] == '\0' && e.code[0] == '\0' &&
			   e.param[0] == '\0');
	}
	if (dialect_retry_hint(body, size, &ms) == 0)
		FUZZ_CHECK(ms <= DAY_MS);
	if (dialect_parse_duration(body, size, &ms) == 0)
		FUZZ_CHECK(ms <= DAY_MS);
	memset(&rl, 0, sizeof(rl));
	for (p = body; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		(void)dialect_ratelimit_header(&rl, p, (size_t)(nl - p + (nl < end)));
	}
	FUZZ_CHECK(rl.remaining_requests >= 0 && rl.remaining_tokens >= 0);
	FUZZ_CHECK(rl.limit_requests >= 0 && rl.limit_tokens >= 0);
	FUZZ_CHECK(dialect_ratelimit_wait_ms(&rl) <= DAY_MS);
	d = dialect_resolve(DIALECT_AUTO, s, s);
	FUZZ_CHECK(d != DIALECT_AUTO && (unsigned)d < DIALECT__COUNT);
	(void)dialect_default_effort(s);
	free(s);
	return 0;
}

#ifndef TRIAGED_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_dialect_one(data, size);
}
#endif
