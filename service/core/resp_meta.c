/*
 * resp_meta: see resp_meta.h.
 */
#include "resp_meta.h"

#include <string.h>
#include <strings.h>

#include "backoff.h"

static const struct {
	const char *name; /* with its colon */
	int rank;
} waits[] = {{"retry-after-ms:", 3}, {"x-ms-retry-after-ms:", 2}, {"retry-after:", 1}},
  ids[] = {{"x-request-id:", 1}, {"request-id:", 2}, {"apim-request-id:", 3}};

/* The longest value looked at: more than any wait or id needs. */
#define RESP_VALUE_MAX 255

void resp_meta_reset(struct resp_meta *m)
{
	memset(m, 0, sizeof(*m));
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The value after a name of k bytes, without the white space around it: [*s, *e). */
static void value_of(const char *line, size_t n, size_t k, const char **s, const char **e)
{
	const char *p = line + k, *q = line + n;
	while (p < q && is_ws((unsigned char)*p))
		p++;
	while (q > p && is_ws((unsigned char)q[-1]))
		q--;
	*s = p;
	*e = q;
}

enum resp_line resp_meta_header(struct resp_meta *m, const char *line, size_t n, time_t now)
{
	const char *s, *e;

	if (n >= 5 && strncasecmp(line, "HTTP/", 5) == 0) {
		resp_meta_reset(m); /* a new response: its own headers */
		return RESP_STATUS;
	}
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		size_t k = strlen(ids[i].name), o = 0;
		if (n <= k || strncasecmp(line, ids[i].name, k) != 0)
			continue;
		value_of(line, n, k, &s, &e);
		if (s == e || (m->id_rank != 0 && m->id_rank <= ids[i].rank))
			return RESP_TAKEN;
		/* printable ASCII only, cut to fit: it goes to a column and to a support case */
		for (; s < e && o + 1 < sizeof(m->request_id); s++) {
			unsigned char ch = (unsigned char)*s;
			m->request_id[o++] = ch > ' ' && ch < 0x7f ? (char)ch : '?';
		}
		m->request_id[o] = '\0';
		m->id_rank = ids[i].rank;
		return RESP_TAKEN;
	}
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		size_t k = strlen(waits[i].name);
		char v[RESP_VALUE_MAX + 1];
		uint32_t ms;
		int rc;
		if (n <= k || strncasecmp(line, waits[i].name, k) != 0)
			continue;
		value_of(line, n, k, &s, &e);
		/* the first of a rank counts, as for the ids; a NUL inside is no value */
		if ((size_t)(e - s) > RESP_VALUE_MAX || m->retry_rank >= waits[i].rank ||
		    memchr(s, '\0', (size_t)(e - s)) != NULL)
			return RESP_TAKEN;
		memcpy(v, s, (size_t)(e - s));
		v[e - s] = '\0';
		rc = waits[i].rank == 1 ? backoff_parse_retry_after(v, now, &ms)
					: backoff_parse_retry_after_ms(v, &ms);
		if (rc == 0) {
			m->retry_rank = waits[i].rank;
			m->retry_after_ms = ms;
		}
		return RESP_TAKEN;
	}
	return RESP_OTHER;
}
