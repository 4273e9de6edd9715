/*
 * fuzz_draft_check: libFuzzer harness for the draft policy check
 * (service/core/draft_check.c), which reads drafts written by a model.
 *
 * Input: one byte of options, then the draft, a NUL, the system prompt, a
 * NUL, the category (missing parts are empty). The options pick the link
 * allow list, the refund categories, max_len 0, a NULL prompt or category,
 * and the prompt window (0, 1, 3 or 8 words).
 *
 * Checked, from draft_check.h: the result is 0 or 1 and is 1 exactly when
 * why is not empty; draft_check() and draft_check_ix() with an index built
 * for the policy's window give the same result and the same why;
 * deterministic; a draft that is not valid UTF-8, or too short, or too long
 * is flagged with that reason; a small why is a NUL-terminated prefix of the
 * full one cut on a UTF-8 boundary; when the inputs are valid UTF-8, so is
 * why. Must not leak.
 */
#include <string.h>

#include "draft_check.h"
#include "fuzz.h"
#include "ticket.h"

#define WHY_LEN 8192 /* above the module's 4096-byte reason cap */

static const char *const allow[] = {"example.com", "help.example.com"};
static const char *const refund[] = {"billing", "cancellation"};

/* The next NUL-terminated part of buf[*pos..end), or "" past the end. */
static const char *part(const char *buf, size_t *pos, size_t end)
{
	const char *s = *pos < end ? buf + *pos : "";

	if (*pos < end)
		*pos += strlen(s) + 1;
	return s;
}

int fuzz_draft_check_one(const uint8_t *data, size_t size)
{
	static const size_t windows[] = {0, 1, 3, 8};
	struct draft_policy p;
	struct draft_check_prompt *pp = NULL;
	char *buf, *why = xmalloc(WHY_LEN), *why2 = xmalloc(WHY_LEN), small[12];
	const char *draft, *prompt, *category;
	unsigned opt = size > 0 ? data[0] : 0;
	size_t pos = 0, n, len = size > 0 ? size - 1 : 0;
	int r, r2;

	buf = fuzz_cstr(size > 0 ? data + 1 : data, len);
	draft = part(buf, &pos, len);
	prompt = part(buf, &pos, len);
	category = part(buf, &pos, len);
	n = strlen(draft);

	draft_policy_default(&p);
	if (opt & 1) {
		p.link_allow = allow;
		p.nlink_allow = ARRAY_SIZE(allow);
	}
	if (opt & 2) {
		p.refund_categories = refund;
		p.nrefund_categories = ARRAY_SIZE(refund);
	}
	if (opt & 4)
		p.max_len = 0;
	if (opt & 8)
		prompt = NULL;
	p.prompt_window = windows[(opt >> 4) & 3];
	if (opt & 64)
		category = NULL;

	memset(why, 0x5a, WHY_LEN);
	r = draft_check(&p, draft, category, prompt, why, WHY_LEN);
	FUZZ_CHECK(r == 0 || r == 1);
	FUZZ_CHECK(memchr(why, '\0', WHY_LEN) != NULL);
	FUZZ_CHECK(r == (why[0] != '\0'));

	/* the same through an index built for the policy's window */
	if (prompt != NULL && p.prompt_window > 0)
		pp = draft_check_prompt_new(prompt, p.prompt_window);
	r2 = draft_check_ix(&p, draft, category, pp, why2, WHY_LEN);
	if (r2 != r || strcmp(why, why2) != 0) {
		fprintf(stderr, "draft_check: %d %s\ndraft_check_ix: %d %s\n", r, why, r2, why2);
		FUZZ_CHECK(!"draft_check and draft_check_ix differ");
	}
	/* deterministic, and the index is not changed by a check (a quarter of the inputs) */
	if (size % 4 == 1) {
		r2 = draft_check_ix(&p, draft, category, pp, why2, WHY_LEN);
		FUZZ_CHECK(r2 == r && strcmp(why, why2) == 0);
	}

	/* the reasons the contract names */
	if (!str_blank(draft)) {
		if (!utf8_valid(draft, n))
			FUZZ_CHECK(r == 1 && strncmp(why, "not valid UTF-8", 15) == 0);
		if (n < p.min_len)
			FUZZ_CHECK(r == 1 && strstr(why, "too short: ") != NULL);
		if (p.max_len > 0 && n > p.max_len)
			FUZZ_CHECK(r == 1 && strstr(why, "too long: ") != NULL);
		else
			FUZZ_CHECK(strstr(why, "too long: ") == NULL ||
				   strstr(draft, "too long: ") != NULL);
	} else {
		FUZZ_CHECK(r == 1 && strcmp(why, "blank draft") == 0);
	}
	if (utf8_valid(draft, n) && (prompt == NULL || utf8_valid(prompt, strlen(prompt))) &&
	    (category == NULL || utf8_valid(category, strlen(category))))
		FUZZ_CHECK(utf8_valid(why, strlen(why)));

	/* a small why: a prefix of the full one, cut on a UTF-8 boundary (a quarter) */
	if (size % 4 == 0) {
		memset(small, 0x5a, sizeof(small));
		FUZZ_CHECK(draft_check_ix(&p, draft, category, pp, small, 10) == r);
		FUZZ_CHECK(small[10] == 0x5a && memchr(small, '\0', 10) != NULL);
		FUZZ_CHECK(strncmp(small, why, strlen(small)) == 0);
		FUZZ_CHECK(strlen(small) == utf8_cut(why, strlen(why), 9));
		FUZZ_CHECK(draft_check_ix(&p, draft, category, pp, NULL, 0) == r);
	}

	draft_check_prompt_free(pp);
	free(buf);
	free(why);
	free(why2);
	return 0;
}

#ifndef TRIAGED_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_draft_check_one(data, size);
}
#endif
