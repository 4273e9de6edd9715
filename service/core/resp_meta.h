/*
 * resp_meta: what a model call keeps from its response's headers besides the
 * rate limits (dialect_ratelimit_header): how long the provider asks to wait
 * (retry-after-ms, x-ms-retry-after-ms, Retry-After) and its id of the
 * exchange (x-request-id, request-id, apim-request-id). Pure: one header line
 * in, the struct updated; the clock comes in as an argument.
 */
#ifndef TRIAGED_RESP_META_H
#define TRIAGED_RESP_META_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest provider request id kept, with its NUL (a longer one is cut). */
#define RESP_REQUEST_ID_MAX 96

struct resp_meta {
	/* where the wait came from: 0 none, 1 Retry-After (whole seconds or a date),
	 * 2 x-ms-retry-after-ms, 3 retry-after-ms; a header of a higher rank wins, in
	 * either order (OpenAI's, Anthropic's and Azure's SDKs read the milliseconds
	 * first, retry-after-ms before x-ms-retry-after-ms); of a header repeated, the
	 * first that parses */
	int retry_rank;
	uint32_t retry_after_ms;
	/* the provider's id: 0 none, 1 x-request-id (OpenAI's, Azure's and most),
	 * 2 request-id (Anthropic's), 3 apim-request-id (Azure API Management's);
	 * a lower rank wins, and of a header repeated, the first. Printable ASCII
	 * only ('?' for anything else) */
	int id_rank;
	char request_id[RESP_REQUEST_ID_MAX];
};

enum resp_line { RESP_OTHER, RESP_STATUS, RESP_TAKEN };

void resp_meta_reset(struct resp_meta *m);

/*
 * One header line as libcurl hands it ("Name: value\r\n", or a status line
 * "HTTP/..."), n bytes, not NUL-terminated. A status line starts a new
 * response (a 1xx before the final one): m is reset and RESP_STATUS returned,
 * so the caller resets what it keeps too. RESP_TAKEN: one of m's headers
 * (kept if it parses and outranks what m has); RESP_OTHER: none of them.
 * now: for a Retry-After date.
 */
enum resp_line resp_meta_header(struct resp_meta *m, const char *line, size_t n, time_t now);

#endif
