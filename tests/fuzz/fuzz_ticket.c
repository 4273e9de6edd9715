/*
 * fuzz_ticket: libFuzzer harness for ticket_parse() (service/core/ticket.h), the
 * parser every Kafka message goes through. The input is the message as
 * received (not NUL-terminated: ASan sees any read past its end). It is
 * parsed with the default limits without a key, with a key made of its first
 * bytes, and, when it parses, with its own ticket_id as the key; each result
 * is checked against the contract in ticket.h. The UTF-8 and RFC 3339
 * helpers get the same input. Must not leak.
 */
#include <string.h>

#include "fuzz.h"
#include "ticket.h"
#include "ticket_json.h"

/* The promises of ticket.h about a parsed ticket. */
static void check_ticket(const struct ticket *t, const struct ticket_limits *lim)
{
	enum ticket_channel ch;
	enum customer_tier tier;
	const char *name;

	FUZZ_CHECK(t->ticket_id != NULL && t->ticket_id[0] != '\0');
	FUZZ_CHECK(strlen(t->ticket_id) <= lim->max_field_len);
	FUZZ_CHECK(utf8_valid(t->ticket_id, strlen(t->ticket_id)));
	FUZZ_CHECK(t->source != NULL && t->source[0] != '\0');
	FUZZ_CHECK(strlen(t->source) <= lim->max_field_len);
	FUZZ_CHECK(t->subject != NULL && strlen(t->subject) <= lim->max_subject_len);
	FUZZ_CHECK(utf8_valid(t->subject, strlen(t->subject)));
	FUZZ_CHECK(t->body != NULL && strlen(t->body) == t->body_len && t->body_len > 0);
	FUZZ_CHECK(utf8_valid(t->body, t->body_len));
	FUZZ_CHECK(t->body_prompt_len <= t->body_len);
	FUZZ_CHECK(t->body_prompt_len <= lim->max_body_prompt_len);
	FUZZ_CHECK(t->body_truncated == (t->body_prompt_len < t->body_len));
	/* The prompt gets body[0..body_prompt_len): it must end on a character boundary. */
	FUZZ_CHECK(utf8_valid(t->body, t->body_prompt_len));
	if (t->created_at != NULL)
		FUZZ_CHECK(rfc3339_valid(t->created_at));
	for (char *const *s = &t->customer_id; s <= &t->customer_name; s++)
		if (*s != NULL)
			FUZZ_CHECK(strlen(*s) <= lim->max_field_len && utf8_valid(*s, strlen(*s)));
	if (t->language != NULL)
		FUZZ_CHECK(utf8_valid(t->language, strlen(t->language)));
	if (t->tags != NULL) {
		FUZZ_CHECK(json_object_is_type(t->tags, json_type_array));
		FUZZ_CHECK(json_object_array_length(t->tags) <= lim->max_tags);
		for (size_t i = 0; i < json_object_array_length(t->tags); i++)
			FUZZ_CHECK(json_object_is_type(json_object_array_get_idx(t->tags, i),
						       json_type_string));
	}
	if (t->metadata_json != NULL) {
		/* Metadata is stored as its JSON text: it must parse back to an object. */
		struct json_tokener *tok = json_tokener_new_ex(TICKET_SCAN_DEPTH + 1);
		json_object *m;
		FUZZ_CHECK(tok != NULL);
		m = json_tokener_parse_ex(tok, t->metadata_json, (int)strlen(t->metadata_json));
		FUZZ_CHECK(m != NULL && json_object_is_type(m, json_type_object));
		json_object_put(m);
		json_tokener_free(tok);
	}

	/* The names round-trip through their parsers. */
	name = ticket_channel_name(t->channel);
	FUZZ_CHECK(ticket_channel_parse(name, &ch) == 0 && ch == t->channel);
	name = customer_tier_name(t->tier);
	if (t->tier == TIER_NONE)
		FUZZ_CHECK(strcmp(name, "none") == 0 && customer_tier_parse(name, &tier) < 0);
	else
		FUZZ_CHECK(customer_tier_parse(name, &tier) == 0 && tier == t->tier);
}

static enum ticket_err parse_checked(const uint8_t *data, size_t size, const char *key,
				     size_t keylen, const struct ticket_limits *lim,
				     struct ticket **t)
{
	char err[512] = "";
	enum ticket_err rc;

	rc = ticket_parse((const char *)data, size, key, keylen, lim, t, err, sizeof(err));
	if (rc == TICKET_OK) {
		FUZZ_CHECK(*t != NULL);
		check_ticket(*t, lim);
	} else {
		FUZZ_CHECK(*t == NULL);
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(strcmp(ticket_err_code(rc), "unknown") != 0);
	}
	return rc;
}

static void fuzz_helpers(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t max = size > 0 ? data[0] % (size + 1) : 0, n;
	char *c;

	n = utf8_cut(s, size, max);
	FUZZ_CHECK(n <= max && n <= size);
	if (utf8_valid(s, size))
		FUZZ_CHECK(utf8_valid(s, n));
	c = fuzz_cstr(data, size);
	(void)rfc3339_valid(c);
	free(c);
}

int fuzz_ticket_one(const uint8_t *data, size_t size)
{
	struct ticket_limits lim;
	struct ticket *t = NULL, *k = NULL;
	enum ticket_err rc, krc;
	size_t keylen;

	ticket_limits_default(&lim);
	fuzz_helpers(data, size);

	/* No key (a tombstone-free, keyless producer). */
	rc = parse_checked(data, size, NULL, 0, &lim, &t);

	/* A key from the first bytes: if the message parses with it, the key is the id. */
	keylen = size > 0 ? data[0] % 32 : 0;
	if (keylen > size)
		keylen = size;
	krc = parse_checked(data, size, (const char *)data, keylen, &lim, &k);
	if (krc == TICKET_OK) {
		FUZZ_CHECK(rc == TICKET_OK);
		FUZZ_CHECK(keylen == 0 || (strlen(k->ticket_id) == keylen &&
					   memcmp(k->ticket_id, data, keylen) == 0));
	} else if (krc != TICKET_E_KEY_MISMATCH) {
		/* A key only ever adds the mismatch error: every other verdict is the same. */
		FUZZ_CHECK(krc == rc);
	}
	ticket_free(k);
	k = NULL;

	/* Its own id as key: the routing check must accept it. */
	if (t != NULL) {
		krc = parse_checked(data, size, t->ticket_id, strlen(t->ticket_id), &lim, &k);
		FUZZ_CHECK(krc == TICKET_OK);
		FUZZ_CHECK(strcmp(k->ticket_id, t->ticket_id) == 0);
		FUZZ_CHECK(strcmp(k->body, t->body) == 0);
		ticket_free(k);
	}

	/* The names of every value, including out-of-range ones, are never NULL. */
	for (int i = -1; i <= CH__COUNT; i++)
		FUZZ_CHECK(ticket_channel_name((enum ticket_channel)i) != NULL);
	for (int i = -1; i <= TIER__COUNT; i++)
		FUZZ_CHECK(customer_tier_name((enum customer_tier)i) != NULL);
	FUZZ_CHECK(ticket_err_code(rc) != NULL);

	ticket_free(t);
	return 0;
}

#ifndef TRIAGED_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_ticket_one(data, size);
}
#endif
