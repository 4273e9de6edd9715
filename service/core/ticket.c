/*
 * ticket: see ticket.h. Owns the helpdesk event contract: what a valid
 * message is, and a field-named reason when it is not. The strict look at
 * the raw JSON text is in ticket_json.c, UTF-8 in ticket_utf8.c, RFC 3339
 * dates in ticket_time.c. Must never do I/O, read the clock or log: the
 * caller decides what a bad ticket costs.
 *
 * A message passes four gates before any field is read: its size (checked
 * before parsing), raw UTF-8, JSON syntax (json-c, strict mode), then a
 * second look at the raw text (ticket_json.c) for what json-c 0.16 accepts or
 * silently rewrites: it decodes "\u0000" into a string (and truncates member
 * names at it), turns lone surrogate escapes into U+FFFD, and even in strict
 * mode accepts single-quoted names, raw control characters in strings, NaN,
 * Infinity, "1." and "-01", which would come back out of json-c as invalid
 * JSON when metadata is stored or rendered.
 */
#include "ticket.h"

#include "mailtext.h"
#include "ticket_json.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LANGUAGE_MAX_LEN 35 /* bytes; long enough for any BCP 47 tag in use */
/* json-c counts the innermost value as a level too (see TICKET_SCAN_DEPTH). */
#define TOKENER_DEPTH (TICKET_SCAN_DEPTH + 1)

static const char *const channel_names[CH__COUNT] = {
	[CH_EMAIL] = "email",	[CH_CHAT] = "chat", [CH_WEB] = "web",	  [CH_PHONE] = "phone",
	[CH_SOCIAL] = "social", [CH_API] = "api",   [CH_OTHER] = "other",
};

static const char *const tier_names[TIER__COUNT] = {
	[TIER_NONE] = "none",
	[TIER_FREE] = "free",
	[TIER_STANDARD] = "standard",
	[TIER_PREMIUM] = "premium",
	[TIER_ENTERPRISE] = "enterprise",
};

static const char *const err_codes[] = {
	[TICKET_OK] = "ok",
	[TICKET_E_TOO_LARGE] = "too_large",
	[TICKET_E_UTF8] = "invalid_utf8",
	[TICKET_E_JSON] = "invalid_json",
	[TICKET_E_MISSING] = "missing_field",
	[TICKET_E_TYPE] = "wrong_type",
	[TICKET_E_VALUE] = "invalid_value",
	[TICKET_E_KEY_MISMATCH] = "key_mismatch",
};

static const char *const flag_names[TICKET_FLAG__COUNT] = {"tier", "channel", "language",
								 "created_at", "controls"};

const char *ticket_flag_name(int i)
{
	return i >= 0 && i < TICKET_FLAG__COUNT ? flag_names[i] : NULL;
}

void ticket_opts_default(struct ticket_opts *o)
{
	ticket_limits_default(&o->lim);
	o->tier_map = NULL;
	o->kafka_ts_ms = -1;
}

int tier_map_parse(const char *s, struct tier_map *m, char *err, size_t errlen)
{
	const char *p = s ? s : "";

	m->n = 0;
	while (*p != '\0') {
		const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p), *eq;
		char item[160], *name, *tier;
		size_t il = (size_t)(end - p);

		if (il >= sizeof(item)) {
			set_err(err, errlen, "tier map entry '%.40s...' is too long", p);
			return -1;
		}
		memcpy(item, p, il);
		item[il] = '\0';
		p = comma ? comma + 1 : end;
		name = str_trim(item);
		if (*name == '\0')
			continue;
		eq = strchr(name, '=');
		if (eq == NULL) {
			set_err(err, errlen, "tier map entry '%s' is not name=tier", name);
			return -1;
		}
		tier = str_trim(name + (eq - name) + 1);
		name[eq - name] = '\0';
		name = str_trim(name);
		if (*name == '\0' || strlen(name) >= sizeof(m->e[0].name)) {
			set_err(err, errlen, "tier map entry '%s=%s': the name must be 1..63 bytes",
				name, tier);
			return -1;
		}
		if (m->n == TIER_MAP_MAX) {
			set_err(err, errlen, "tier map: more than %d entries", TIER_MAP_MAX);
			return -1;
		}
		if (customer_tier_parse(tier, &m->e[m->n].tier) < 0) {
			set_err(err, errlen,
				"tier map entry '%s=%s': '%s' is not one of free, standard, premium, "
				"enterprise",
				name, tier, tier);
			return -1;
		}
		strlcpy_t(m->e[m->n].name, name, sizeof(m->e[0].name));
		m->n++;
	}
	return 0;
}

void ticket_limits_default(struct ticket_limits *l)
{
	l->max_message_bytes = 256 * 1024;
	l->max_body_prompt_len = 16 * 1024;
	l->max_field_len = 256;
	l->max_subject_len = 1024;
	l->max_tags = 64;
}

const char *ticket_err_code(enum ticket_err e)
{
	return (unsigned)e < ARRAY_SIZE(err_codes) ? err_codes[e] : "unknown";
}

const char *ticket_channel_name(enum ticket_channel c)
{
	return (unsigned)c < CH__COUNT ? channel_names[c] : "unknown";
}

const char *customer_tier_name(enum customer_tier t)
{
	return (unsigned)t < TIER__COUNT ? tier_names[t] : "unknown";
}

int ticket_channel_parse(const char *s, enum ticket_channel *out)
{
	for (size_t i = 0; s != NULL && i < CH__COUNT; i++) {
		if (strcmp(s, channel_names[i]) == 0) {
			*out = (enum ticket_channel)i;
			return 0;
		}
	}
	return -1;
}

/* Only the contract's values: "none" is the name of an absent tier, not a tier. */
int customer_tier_parse(const char *s, enum customer_tier *out)
{
	for (size_t i = TIER_FREE; s != NULL && i < TIER__COUNT; i++) {
		if (strcmp(s, tier_names[i]) == 0) {
			*out = (enum customer_tier)i;
			return 0;
		}
	}
	return -1;
}

/* ---- fields ---- */

/* Borrowed member; NULL when absent or JSON null (null means absent). */
static json_object *member(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* An optional string member, borrowed; *out is NULL when absent. */
static enum ticket_err get_str(json_object *obj, const char *key, const char *path, size_t maxlen,
			       const char **out, size_t *outlen, char *err, size_t errlen)
{
	json_object *v = member(obj, key);
	size_t n;

	*out = NULL;
	*outlen = 0;
	if (v == NULL)
		return TICKET_OK;
	if (!json_object_is_type(v, json_type_string)) {
		set_err(err, errlen, "%s: expected string, got %s", path, ticket_json_type_label(v));
		return TICKET_E_TYPE;
	}
	n = (size_t)json_object_get_string_len(v);
	if (n > maxlen) {
		set_err(err, errlen, "%s: %zu bytes exceeds the %zu-byte limit", path, n, maxlen);
		return TICKET_E_VALUE;
	}
	*out = json_object_get_string(v);
	*outlen = n;
	return TICKET_OK;
}

/* C0, DEL and C1 (U+0080..U+009F, which UTF-8 encodes as C2 80..C2 9F). */
static int has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F)
			return 1;
		if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9F)
			return 1;
	}
	return 0;
}

/* Keep what was given under path in t->original: a string as is, anything else as its JSON text. */
static void keep_original(struct ticket *t, const char *path, json_object *v, const char *msg,
			  const struct ticket_spans *sp, enum ticket_member m)
{
	json_object *o;

	if (json_object_is_type(v, json_type_string))
		o = json_object_new_string_len(json_object_get_string(v),
					       json_object_get_string_len(v));
	else
		o = json_object_new_string_len(msg + sp->start[m],
					       (int)(sp->end[m] - sp->start[m]));
	if (t->original == NULL)
		t->original = json_object_new_object();
	json_object_object_add(t->original, path, o);
}

/*
 * Text shown to agents and to the model: C0/C1 controls (but TAB, LF, CR)
 * stripped, the original kept and the ticket flagged. Returns a new string.
 */
static char *shown_text(struct ticket *t, const char *path, const char *s, size_t n,
			size_t *outlen)
{
	if (!mailtext_has_controls(s, n)) {
		*outlen = n;
		return xstrndup(s, n);
	}
	if (t->original == NULL)
		t->original = json_object_new_object();
	json_object_object_add(t->original, path, json_object_new_string_len(s, (int)n));
	t->flags |= TICKET_F_CONTROLS;
	return mailtext_strip_controls(s, n, outlen);
}

static void parse_channel(json_object *root, const char *msg, const struct ticket_spans *sp,
			  struct ticket *t)
{
	json_object *v = member(root, "channel");

	t->channel = CH_OTHER;
	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_string) &&
	    ticket_channel_parse(json_object_get_string(v), &t->channel) == 0)
		return;
	t->channel = CH_OTHER;
	t->flags |= TICKET_F_CHANNEL;
	keep_original(t, "channel", v, msg, sp, TICKET_M_CHANNEL);
}

static void parse_tier(json_object *c, const char *msg, const struct ticket_spans *sp,
		       const struct ticket_opts *opts, struct ticket *t)
{
	json_object *v = member(c, "tier");
	const char *s;

	if (v == NULL)
		return;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (s != NULL && customer_tier_parse(s, &t->tier) == 0)
		return;
	t->tier = TIER_STANDARD;
	for (size_t i = 0; s != NULL && opts->tier_map != NULL && i < opts->tier_map->n; i++) {
		if (strcasecmp(s, opts->tier_map->e[i].name) == 0) {
			t->tier = opts->tier_map->e[i].tier;
			break;
		}
	}
	t->flags |= TICKET_F_TIER;
	keep_original(t, "customer.tier", v, msg, sp, TICKET_M_C_TIER);
}

static enum ticket_err parse_customer(json_object *root, const char *msg,
				      const struct ticket_spans *sp, const struct ticket_opts *opts,
				      struct ticket *t, char *err, size_t errlen)
{
	const struct {
		const char *key, *path;
		char **dst;
	} fields[] = {
		{"id", "customer.id", &t->customer_id},
		{"email", "customer.email", &t->customer_email},
		{"name", "customer.name", &t->customer_name},
	};
	json_object *c = member(root, "customer");
	enum ticket_err rc;
	const char *s;
	size_t n;

	if (c == NULL)
		return TICKET_OK;
	if (!json_object_is_type(c, json_type_object)) {
		set_err(err, errlen, "customer: expected object, got %s", ticket_json_type_label(c));
		return TICKET_E_TYPE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		rc = get_str(c, fields[i].key, fields[i].path, opts->lim.max_field_len, &s, &n, err,
			     errlen);
		if (rc != TICKET_OK)
			return rc;
		if (s != NULL)
			*fields[i].dst = shown_text(t, fields[i].path, s, n, &n);
	}
	parse_tier(c, msg, sp, opts, t);
	return TICKET_OK;
}

static enum ticket_err parse_tags(json_object *root, const struct ticket_limits *lim,
				  struct ticket *t, char *err, size_t errlen)
{
	json_object *tags = member(root, "tags");
	size_t count;

	if (tags == NULL)
		return TICKET_OK;
	if (!json_object_is_type(tags, json_type_array)) {
		set_err(err, errlen, "tags: expected array, got %s", ticket_json_type_label(tags));
		return TICKET_E_TYPE;
	}
	count = json_object_array_length(tags);
	if (count > lim->max_tags) {
		set_err(err, errlen, "tags: %zu entries exceeds the %zu-entry limit", count,
			lim->max_tags);
		return TICKET_E_VALUE;
	}
	for (size_t i = 0; i < count; i++) {
		json_object *tag = json_object_array_get_idx(tags, i);
		size_t n;

		if (!json_object_is_type(tag, json_type_string)) {
			set_err(err, errlen, "tags[%zu]: expected string, got %s", i,
				ticket_json_type_label(tag));
			return TICKET_E_TYPE;
		}
		n = (size_t)json_object_get_string_len(tag);
		if (n > lim->max_field_len) {
			set_err(err, errlen, "tags[%zu]: %zu bytes exceeds the %zu-byte limit", i,
				n, lim->max_field_len);
			return TICKET_E_VALUE;
		}
	}
	t->tags = json_object_get(tags);
	return TICKET_OK;
}

/*
 * created_at: kept as given beside the instant when the two differ (an offset,
 * a fraction written otherwise); one PostgreSQL cannot hold is flagged.
 */
static void parse_created_at(json_object *root, const char *msg, const struct ticket_spans *sp,
			     const struct ticket_opts *opts, struct ticket *t)
{
	json_object *v = member(root, "created_at");
	char utc[32];

	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_string) &&
	    rfc3339_to_utc(json_object_get_string(v), utc) == 0) {
		if (strcmp(json_object_get_string(v), utc) != 0)
			keep_original(t, "created_at", v, msg, sp, TICKET_M_CREATED_AT);
		t->created_at = xstrdup(utc);
		return;
	}
	keep_original(t, "created_at", v, msg, sp, TICKET_M_CREATED_AT);
	t->flags |= TICKET_F_CREATED_AT;
	if (opts->kafka_ts_ms >= 0 && rfc3339_from_ms(opts->kafka_ts_ms, utc) == 0)
		t->created_at = xstrdup(utc);
}

static void parse_language(json_object *root, const char *msg, const struct ticket_spans *sp,
			   struct ticket *t)
{
	json_object *v = member(root, "language");
	const char *s;
	size_t n;

	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		if (n <= LANGUAGE_MAX_LEN && !mailtext_blank(s, n) && !has_control(s, n)) {
			t->language = xstrndup(s, n);
			return;
		}
	}
	t->flags |= TICKET_F_LANGUAGE;
	keep_original(t, "language", v, msg, sp, TICKET_M_LANGUAGE);
}

static enum ticket_err parse_fields(json_object *root, const char *msg,
				    const struct ticket_spans *sp, const char *key, size_t keylen,
				    const struct ticket_opts *opts, struct ticket *t, char *err,
				    size_t errlen)
{
	const struct ticket_limits *lim = &opts->lim;
	char e1[TICKET_ECHO_MAX + 4], e2[TICKET_ECHO_MAX + 4];
	json_object *meta;
	enum ticket_err rc;
	const char *s;
	size_t n;

	rc = get_str(root, "ticket_id", "ticket_id", lim->max_field_len, &s, &n, err, errlen);
	if (rc != TICKET_OK)
		return rc;
	if (s == NULL || mailtext_blank(s, n)) {
		set_err(err, errlen, "ticket_id: %s", s == NULL ? "required" : "must not be blank");
		return TICKET_E_MISSING;
	}
	if (has_control(s, n)) {
		set_err(err, errlen, "ticket_id: contains a control character");
		return TICKET_E_VALUE;
	}
	t->ticket_id = xstrndup(s, n);
	/* The key decides the partition: a different one means the message was misrouted. */
	if (key != NULL && keylen > 0 && (keylen != n || memcmp(key, s, n) != 0)) {
		set_err(err, errlen, "ticket_id: '%s' does not match the Kafka key '%s'",
			ticket_json_echo(e1, s, n), ticket_json_echo(e2, key, keylen));
		return TICKET_E_KEY_MISMATCH;
	}

	rc = get_str(root, "source", "source", lim->max_field_len, &s, &n, err, errlen);
	if (rc != TICKET_OK)
		return rc;
	if (s != NULL && n == 0) {
		set_err(err, errlen, "source: must not be empty");
		return TICKET_E_VALUE;
	}
	if (s != NULL && has_control(s, n)) {
		set_err(err, errlen, "source: contains a control character");
		return TICKET_E_VALUE;
	}
	/* part of the ticket's identity: a blank one would be a different ticket nobody can read */
	if (s != NULL && mailtext_blank(s, n)) {
		set_err(err, errlen, "source: must not be blank");
		return TICKET_E_VALUE;
	}
	t->source = s != NULL ? xstrndup(s, n) : xstrdup("default");

	parse_created_at(root, msg, sp, opts, t);
	parse_channel(root, msg, sp, t);

	rc = get_str(root, "subject", "subject", lim->max_subject_len, &s, &n, err, errlen);
	if (rc != TICKET_OK)
		return rc;
	t->subject = s != NULL ? shown_text(t, "subject", s, n, &n) : xstrdup("");

	/* The body has no limit of its own: the message cap bounds it. */
	rc = get_str(root, "body", "body", SIZE_MAX, &s, &n, err, errlen);
	if (rc != TICKET_OK)
		return rc;
	if (s == NULL || mailtext_blank(s, n)) {
		set_err(err, errlen, "body: %s", s == NULL ? "required" : "must not be blank");
		return TICKET_E_MISSING;
	}
	t->body = shown_text(t, "body", s, n, &t->body_len);
	t->body_prompt_len = utf8_cut(t->body, t->body_len, lim->max_body_prompt_len);
	t->body_truncated = t->body_prompt_len < t->body_len;

	rc = parse_customer(root, msg, sp, opts, t, err, errlen);
	if (rc != TICKET_OK)
		return rc;

	parse_language(root, msg, sp, t);

	rc = parse_tags(root, lim, t, err, errlen);
	if (rc != TICKET_OK)
		return rc;

	meta = member(root, "metadata");
	if (meta != NULL && !json_object_is_type(meta, json_type_object)) {
		set_err(err, errlen, "metadata: expected object, got %s", ticket_json_type_label(meta));
		return TICKET_E_TYPE;
	}
	if (meta != NULL) {
		/* jsonb's numeric holds any JSON number exactly; json-c's int64 and double do not */
		t->metadata_json = xstrndup(msg + sp->start[TICKET_M_METADATA],
					    sp->end[TICKET_M_METADATA] - sp->start[TICKET_M_METADATA]);
	}
	return TICKET_OK;
}

enum ticket_err ticket_parse(const char *msg, size_t len, const char *key, size_t keylen,
			     const struct ticket_limits *lim, struct ticket **out, char *err,
			     size_t errlen)
{
	struct ticket_opts o;

	ticket_opts_default(&o);
	if (lim != NULL)
		o.lim = *lim;
	return ticket_parse_ex(msg, len, key, keylen, &o, out, err, errlen);
}

enum ticket_err ticket_parse_ex(const char *msg, size_t len, const char *key, size_t keylen,
				const struct ticket_opts *opts, struct ticket **out, char *err,
				size_t errlen)
{
	struct ticket_opts defaults;
	const struct ticket_limits *lim;
	struct ticket_spans sp;
	struct json_tokener *tok = NULL;
	json_object *root = NULL;
	struct ticket *t = NULL;
	enum json_tokener_error je;
	enum ticket_err rc;
	size_t bad;

	*out = NULL;
	if (opts == NULL) {
		ticket_opts_default(&defaults);
		opts = &defaults;
	}
	lim = &opts->lim;
	if (msg == NULL)
		len = 0; /* a tombstone */
	if (len > lim->max_message_bytes || len > INT_MAX) {
		set_err(err, errlen, "message: %zu bytes exceeds the %zu-byte limit", len,
			lim->max_message_bytes < INT_MAX ? lim->max_message_bytes
							 : (size_t)INT_MAX);
		rc = TICKET_E_TOO_LARGE;
		goto out;
	}
	if (len == 0) {
		set_err(err, errlen, "message: empty");
		rc = TICKET_E_JSON;
		goto out;
	}
	bad = ticket_utf8_valid_prefix(msg, len);
	if (bad != len) {
		set_err(err, errlen, "message: invalid UTF-8 at byte %zu", bad);
		rc = TICKET_E_UTF8;
		goto out;
	}

	/*
	 * JSON_TOKENER_VALIDATE_UTF8 is left out on purpose: the check above is
	 * stricter (json-c 0.16 lets overlongs and encoded surrogates through).
	 */
	tok = json_tokener_new_ex(TOKENER_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, msg, (int)len);
	je = json_tokener_get_error(tok);
	if (je == json_tokener_continue) {
		/*
		 * An object ends at its '}', so this is a truncated message or a
		 * top-level scalar ("42"), which json-c completes only when it
		 * sees the end: a NUL byte says so.
		 */
		root = json_tokener_parse_ex(tok, "", 1);
		je = json_tokener_get_error(tok);
		if (je == json_tokener_success) {
			set_err(err, errlen, "message: expected a JSON object, got %s",
				ticket_json_type_label(root));
			rc = TICKET_E_JSON;
			goto out;
		}
		je = json_tokener_continue;
	}
	if (je != json_tokener_success) {
		if (je == json_tokener_continue)
			set_err(err, errlen, "message: unexpected end of input");
		else
			set_err(err, errlen, "message: %s at byte %zu", json_tokener_error_desc(je),
				json_tokener_get_parse_end(tok));
		rc = TICKET_E_JSON;
		goto out;
	}
	/* json-c stops at a NUL byte and leaves what follows a complete value unread. */
	if (json_tokener_get_parse_end(tok) != len) {
		set_err(err, errlen, "message: unexpected data after the JSON value at byte %zu",
			json_tokener_get_parse_end(tok));
		rc = TICKET_E_JSON;
		goto out;
	}
	/* A top-level "null" parses to root == NULL with success: json_type_label says "null". */
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		set_err(err, errlen, "message: expected a JSON object, got %s",
			ticket_json_type_label(root));
		rc = TICKET_E_JSON;
		goto out;
	}
	rc = ticket_json_strict_scan(msg, len, err, errlen);
	if (rc != TICKET_OK)
		goto out;
	rc = ticket_json_check_decoded_fields(root, err, errlen);
	if (rc != TICKET_OK)
		goto out;
	rc = ticket_json_find_members(msg, len, &sp, err, errlen);
	if (rc != TICKET_OK)
		goto out;

	t = xcalloc(1, sizeof(*t));
	rc = parse_fields(root, msg, &sp, key, keylen, opts, t, err, errlen);
	if (rc != TICKET_OK)
		goto out;
	*out = t;
	t = NULL;
out:
	ticket_free(t);
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

void ticket_free(struct ticket *t)
{
	if (t == NULL)
		return;
	free(t->ticket_id);
	free(t->source);
	free(t->created_at);
	free(t->subject);
	free(t->body);
	free(t->customer_id);
	free(t->customer_email);
	free(t->customer_name);
	free(t->language);
	json_object_put(t->tags);
	free(t->metadata_json);
	json_object_put(t->original);
	free(t->prompt_body);
	free(t);
}

void ticket_drop_stored_only(struct ticket *t)
{
	free(t->metadata_json);
	t->metadata_json = NULL;
	json_object_put(t->original);
	t->original = NULL;
}

void ticket_cut_prompt(struct ticket *t)
{
	size_t n;
	char *cut = mailtext_cut_quoted(t->body, t->body_len, &n);

	free(t->prompt_body);
	t->prompt_body = NULL;
	t->prompt_body_len = t->body_len;
	t->prompt_cut_bytes = 0;
	if (n >= t->body_len) {
		free(cut);
		return;
	}
	t->prompt_body = cut;
	t->prompt_body_len = n;
	t->prompt_cut_bytes = t->body_len - n;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v != NULL ? json_object_new_string(v) : NULL);
}

/* A json-c value that serializes as the JSON text it holds, byte for byte. */
static int raw_serializer(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	const char *text = json_object_get_userdata(jso);
	return printbuf_memappend(pb, text, (int)strlen(text));
}

static void raw_free(struct json_object *jso, void *userdata)
{
	free(userdata);
}

static json_object *raw_json(const char *text)
{
	json_object *o;

	if (text == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_set_serializer(o, raw_serializer, xstrdup(text), raw_free);
	return o;
}

json_object *ticket_to_json(const struct ticket *t)
{
	json_object *o = json_object_new_object(), *flags = json_object_new_array();

	add_str(o, "source", t->source);
	add_str(o, "ticket_id", t->ticket_id);
	add_str(o, "created_at", t->created_at);
	add_str(o, "channel", ticket_channel_name(t->channel));
	add_str(o, "subject", t->subject);
	json_object_object_add(o, "body", json_object_new_string_len(t->body, (int)t->body_len));
	json_object_object_add(o, "body_truncated", json_object_new_boolean(t->body_truncated));
	add_str(o, "customer_id", t->customer_id);
	add_str(o, "customer_email", t->customer_email);
	add_str(o, "customer_name", t->customer_name);
	add_str(o, "customer_tier", t->tier == TIER_NONE ? NULL : customer_tier_name(t->tier));
	add_str(o, "language", t->language);
	json_object_object_add(o, "tags", json_object_get(t->tags));
	/* the text itself, as the database receives it: not through json-c's numbers */
	json_object_object_add(o, "metadata", raw_json(t->metadata_json));
	for (int i = 0; i < TICKET_FLAG__COUNT; i++)
		if (t->flags & (1u << i))
			json_object_array_add(flags, json_object_new_string(flag_names[i]));
	json_object_object_add(o, "intake_flags", flags);
	json_object_object_add(o, "original", json_object_get(t->original));
	if (t->prompt_body != NULL) {
		json_object_object_add(o, "prompt_body",
				       json_object_new_string_len(t->prompt_body,
								  (int)t->prompt_body_len));
		json_object_object_add(o, "prompt_cut_bytes",
				       json_object_new_int64((int64_t)t->prompt_cut_bytes));
	}
	return o;
}

const char *ticket_reason_safe(const char *s, size_t n, char *out, size_t outlen)
{
	mailtext_header_safe(s ? s : "", s ? n : 0, out, outlen);
	return out;
}

const char *ticket_db_reason(const char *pg_err, char *out, size_t outlen)
{
	const char *p = pg_err ? pg_err : "", *nl;
	char msg[512];
	size_t n;

	if (strncmp(p, "ERROR:", 6) == 0)
		p += 6;
	while (*p == ' ')
		p++;
	/* the primary message is the first line; CONTEXT, QUERY, STATEMENT and LINE follow */
	nl = strchr(p, '\n');
	n = nl ? (size_t)(nl - p) : strlen(p);
	if (n == 0) {
		p = "unknown error";
		n = strlen(p);
	}
	mailtext_header_safe(p, n, msg, sizeof(msg));
	snprintf(out, outlen, "the database refused the ticket's data: %s", msg);
	/* snprintf may cut inside a character: back to a boundary */
	n = strlen(out);
	n = utf8_cut(out, n, n);
	while (n > 0 && !utf8_valid(out, n))
		n--;
	out[n] = '\0';
	return out;
}

