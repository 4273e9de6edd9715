/*
 * answer: see answer.h. Owns the reading of a model's answer: the
 * chat-completion envelope and the strict validation of the triage object it
 * carries. Pure: json-c only. Must never trust the model: every field is
 * checked for type, domain, length and encoding before it leaves this file,
 * and nothing here repairs an answer (a rejected answer goes back to the
 * model with the error, see prompt.h).
 */
#include "answer.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

/* Room for a quoted model value inside an error message. */
#define SHOW_MAX 64

static const char *const sentiment_names[SENT__COUNT] = {"very_negative", "negative", "neutral",
							 "positive"};
static const char *const urgency_names[URG__COUNT] = {"low", "normal", "high", "critical"};

void answer_init(struct answer *t)
{
	memset(t, 0, sizeof(*t));
	t->sentiment = SENT_NEUTRAL;
	t->urgency = URG_NORMAL;
}

void answer_cleanup(struct answer *t)
{
	if (t == NULL)
		return;
	free(t->category);
	free(t->language);
	free(t->summary);
	free(t->draft_reply);
	answer_init(t);
}

const char *sentiment_name(enum sentiment s)
{
	return (unsigned)s < SENT__COUNT ? sentiment_names[s] : "unknown";
}

const char *urgency_name(enum urgency u)
{
	return (unsigned)u < URG__COUNT ? urgency_names[u] : "unknown";
}

int sentiment_parse(const char *s, enum sentiment *out)
{
	for (size_t i = 0; i < SENT__COUNT; i++) {
		if (strcmp(s, sentiment_names[i]) == 0) {
			*out = (enum sentiment)i;
			return 0;
		}
	}
	return -1;
}

int urgency_parse(const char *s, enum urgency *out)
{
	for (size_t i = 0; i < URG__COUNT; i++) {
		if (strcmp(s, urgency_names[i]) == 0) {
			*out = (enum urgency)i;
			return 0;
		}
	}
	return -1;
}

/*
 * Copy at most SHOW_MAX bytes of s into out for an error message, cut on a
 * UTF-8 boundary and marked with "..." when cut, so one absurd value cannot
 * flood the logs or the stored reason.
 */
static const char *show(char *out, size_t outlen, const char *s)
{
	size_t n = strlen(s);
	int cut = 0;

	if (n > SHOW_MAX) {
		n = SHOW_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		cut = 1;
	}
	if (n + 4 > outlen)
		n = outlen > 4 ? outlen - 4 : 0;
	memcpy(out, s, n);
	if (cut)
		memcpy(out + n, "...", 4);
	else
		out[n] = '\0';
	return out;
}

static const char *type_name(json_object *o)
{
	return json_type_to_name(json_object_get_type(o));
}

/*
 * Parse s[0..len) as one JSON value with UTF-8 validation. Trailing
 * whitespace is fine, anything else after the value is an error. Returns a
 * new reference or NULL with a description in err.
 */
static json_object *parse_json(const char *s, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok = NULL;
	json_object *o = NULL;
	enum json_tokener_error jerr;
	size_t end;

	if (len > INT32_MAX) {
		set_err(err, errlen, "too large");
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL) {
		set_err(err, errlen, "contains a NUL byte");
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		set_err(err, errlen, "unexpected end of input");
		goto fail;
	}
	if (jerr != json_tokener_success) {
		set_err(err, errlen, "%s at offset %zu", json_tokener_error_desc(jerr),
			json_tokener_get_parse_end(tok));
		goto fail;
	}
	end = json_tokener_get_parse_end(tok);
	while (end < len && isspace((unsigned char)s[end]))
		end++;
	if (end < len) {
		set_err(err, errlen, "trailing text at offset %zu", end);
		goto fail;
	}
	json_tokener_free(tok);
	return o;
fail:
	json_object_put(o);
	json_tokener_free(tok);
	return NULL;
}

/* usage counters are advisory: a missing or odd one counts as 0. */
static int64_t usage_int(json_object *parent, const char *key)
{
	json_object *v;
	int64_t n;

	if (parent == NULL || !json_object_object_get_ex(parent, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	n = json_object_get_int64(v);
	return n > 0 ? n : 0;
}

static void parse_usage(json_object *root, struct llm_usage *usage)
{
	json_object *u = NULL, *details = NULL;

	memset(usage, 0, sizeof(*usage));
	if (!json_object_object_get_ex(root, "usage", &u) ||
	    !json_object_is_type(u, json_type_object))
		return;
	usage->prompt_tokens = usage_int(u, "prompt_tokens");
	usage->completion_tokens = usage_int(u, "completion_tokens");
	if (json_object_object_get_ex(u, "prompt_tokens_details", &details) &&
	    json_object_is_type(details, json_type_object))
		usage->cached_tokens = usage_int(details, "cached_tokens");
	if (json_object_object_get_ex(u, "completion_tokens_details", &details) &&
	    json_object_is_type(details, json_type_object))
		usage->reasoning_tokens = usage_int(details, "reasoning_tokens");
	/* OpenAI counts reasoning inside completion_tokens; Gemini's compatible
	 * endpoint reports thoughts apart (total = prompt + completion + reasoning).
	 * Normalise to OpenAI's meaning so that pricing completion_tokens as
	 * output pays for the thinking too. */
	if (usage->reasoning_tokens > 0 &&
	    usage_int(u, "total_tokens") ==
		    usage->prompt_tokens + usage->completion_tokens + usage->reasoning_tokens)
		usage->completion_tokens += usage->reasoning_tokens;
}

/* {"error":{"message":"..."}} (OpenAI, Azure, vLLM) or {"error":"..."} (some local servers). */
static int api_error(json_object *root, char *err, size_t errlen)
{
	json_object *e, *m;

	if (!json_object_object_get_ex(root, "error", &e) || json_object_is_type(e, json_type_null))
		return 0;
	if (json_object_is_type(e, json_type_string))
		set_err(err, errlen, "model API error: %s", json_object_get_string(e));
	else if (json_object_is_type(e, json_type_object) &&
		 json_object_object_get_ex(e, "message", &m) &&
		 json_object_is_type(m, json_type_string))
		set_err(err, errlen, "model API error: %s", json_object_get_string(m));
	else
		set_err(err, errlen, "model API error without a message");
	return 1;
}

int answer_parse_completion(const char *body, size_t len, char **content, struct llm_usage *usage,
			    char *err, size_t errlen)
{
	json_object *root = NULL, *choices, *choice, *msg, *fr, *c, *refusal;
	char jerr[128];
	const char *s;
	int rc = -1;

	*content = NULL;
	memset(usage, 0, sizeof(*usage));
	root = parse_json(body, len, jerr, sizeof(jerr));
	if (root == NULL) {
		set_err(err, errlen, "response is not JSON: %s", jerr);
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		set_err(err, errlen, "response is not a JSON object");
		goto out;
	}
	if (api_error(root, err, errlen))
		goto out;
	parse_usage(root, usage);
	if (!json_object_object_get_ex(root, "choices", &choices) ||
	    !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) == 0) {
		set_err(err, errlen, "no choices");
		goto out;
	}
	choice = json_object_array_get_idx(choices, 0);
	if (!json_object_is_type(choice, json_type_object)) {
		set_err(err, errlen, "choices[0] is not an object");
		goto out;
	}
	if (json_object_object_get_ex(choice, "finish_reason", &fr) &&
	    json_object_is_type(fr, json_type_string)) {
		s = json_object_get_string(fr);
		/* A cut answer may still parse (a truncated draft inside valid JSON is rare but
		 * possible with a fence), so length is a failure whatever the content says. */
		if (strcmp(s, "length") == 0) {
			set_err(err, errlen, "answer truncated (finish_reason=length)");
			goto out;
		}
		if (strcmp(s, "content_filter") == 0) {
			set_err(err, errlen, "answer blocked (finish_reason=content_filter)");
			goto out;
		}
	}
	if (!json_object_object_get_ex(choice, "message", &msg) ||
	    !json_object_is_type(msg, json_type_object)) {
		set_err(err, errlen, "choices[0] has no message");
		goto out;
	}
	if (!json_object_object_get_ex(msg, "content", &c) ||
	    json_object_is_type(c, json_type_null)) {
		/* Structured-output refusals come as message.refusal with content null. */
		if (json_object_object_get_ex(msg, "refusal", &refusal) &&
		    json_object_is_type(refusal, json_type_string))
			set_err(err, errlen, "model refused: %s", json_object_get_string(refusal));
		else
			set_err(err, errlen, "content is null");
		goto out;
	}
	if (!json_object_is_type(c, json_type_string)) {
		set_err(err, errlen, "content is not a string");
		goto out;
	}
	s = json_object_get_string(c);
	if (strlen(s) != (size_t)json_object_get_string_len(c)) {
		set_err(err, errlen, "content contains a NUL character");
		goto out;
	}
	*content = xstrdup(s);
	rc = 0;
out:
	json_object_put(root);
	if (rc != 0)
		memset(usage, 0, sizeof(*usage));
	return rc;
}

/*
 * Find the JSON text inside content: surrounding whitespace and one
 * ``` or ```json fence are tolerated. Sets *start and *len; returns -1 with err when
 * a fence is opened and not closed or has an unexpected info string.
 */
static int unwrap(const char *content, const char **start, size_t *len, char *err, size_t errlen)
{
	const char *s = content, *e = content + strlen(content);

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if ((size_t)(e - s) >= 3 && memcmp(s, "```", 3) == 0) {
		s += 3;
		if ((size_t)(e - s) >= 4 && strncasecmp(s, "json", 4) == 0)
			s += 4;
		/* The info string must be empty or "json": ```python is not an answer. */
		if (s < e && !isspace((unsigned char)*s) && *s != '{') {
			set_err(err, errlen, "answer is not a JSON object: unexpected code fence");
			return -1;
		}
		if ((size_t)(e - s) < 3 || memcmp(e - 3, "```", 3) != 0) {
			set_err(err, errlen,
				"answer is not a JSON object: code fence is not closed");
			return -1;
		}
		e -= 3;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
	}
	*start = s;
	*len = (size_t)(e - s);
	return 0;
}

/*
 * Fetch a required string member. Returns the borrowed string or NULL with
 * err "<key>: missing" / "<key>: expected a string, got <type>" / NUL.
 */
static const char *get_string(json_object *root, const char *key, char *err, size_t errlen)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(root, key, &v)) {
		set_err(err, errlen, "%s: missing", key);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		set_err(err, errlen, "%s: expected a string, got %s", key, type_name(v));
		return NULL;
	}
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		set_err(err, errlen, "%s: contains a NUL character", key);
		return NULL;
	}
	return s;
}

static int valid_language(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > ANSWER_MAX_LANGUAGE)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-')
			return 0;
	return 1;
}

/* Non-blank free text of at most max bytes; one line when oneline. */
static int check_text(const char *key, const char *s, size_t max, int oneline, char *err,
		      size_t errlen)
{
	size_t n = strlen(s);

	if (str_blank(s)) {
		set_err(err, errlen, "%s: is blank", key);
		return -1;
	}
	if (n > max) {
		set_err(err, errlen, "%s: %zu bytes exceeds the limit of %zu", key, n, max);
		return -1;
	}
	if (oneline && strpbrk(s, "\r\n") != NULL) {
		set_err(err, errlen, "%s: contains a newline", key);
		return -1;
	}
	return 0;
}

int answer_validate(const char *content, const struct taxonomy *tax, struct answer *out, char *err,
		    size_t errlen)
{
	json_object *root = NULL, *v;
	const char *start, *s;
	char jerr[128], shown[SHOW_MAX + 4];
	size_t len, i;
	double conf;
	int rc = -1;

	answer_init(out);
	if (unwrap(content, &start, &len, err, errlen) < 0)
		goto out;
	if (len == 0) {
		set_err(err, errlen, "answer is not a JSON object: empty answer");
		goto out;
	}
	root = parse_json(start, len, jerr, sizeof(jerr));
	if (root == NULL) {
		set_err(err, errlen, "answer is not a JSON object: %s", jerr);
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		set_err(err, errlen, "answer is not a JSON object: got %s", type_name(root));
		goto out;
	}

	if ((s = get_string(root, "category", err, errlen)) == NULL)
		goto out;
	for (i = 0; i < tax->ncategories; i++)
		if (strcmp(s, tax->categories[i]) == 0)
			break;
	if (i == tax->ncategories) {
		set_err(err, errlen, "category: '%s' is not in the taxonomy",
			show(shown, sizeof(shown), s));
		goto out;
	}
	out->category = xstrdup(s);

	if ((s = get_string(root, "sentiment", err, errlen)) == NULL)
		goto out;
	if (sentiment_parse(s, &out->sentiment) < 0) {
		set_err(err, errlen,
			"sentiment: '%s' is not one of very_negative, negative, neutral, positive",
			show(shown, sizeof(shown), s));
		goto out;
	}

	if ((s = get_string(root, "urgency", err, errlen)) == NULL)
		goto out;
	if (urgency_parse(s, &out->urgency) < 0) {
		set_err(err, errlen, "urgency: '%s' is not one of low, normal, high, critical",
			show(shown, sizeof(shown), s));
		goto out;
	}

	if (!json_object_object_get_ex(root, "confidence", &v)) {
		set_err(err, errlen, "confidence: missing");
		goto out;
	}
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
		set_err(err, errlen, "confidence: expected a number, got %s", type_name(v));
		goto out;
	}
	conf = json_object_get_double(v);
	/* json-c accepts NaN and Infinity literals even in strict mode; !(a <= b) catches NaN. */
	if (!(conf >= 0.0 && conf <= 1.0)) {
		set_err(err, errlen, "confidence: %g is outside [0, 1]", conf);
		goto out;
	}
	out->confidence = conf;

	if ((s = get_string(root, "language", err, errlen)) == NULL)
		goto out;
	if (!valid_language(s)) {
		set_err(err, errlen, "language: '%s' is not a language tag (2-%d of A-Z a-z 0-9 -)",
			show(shown, sizeof(shown), s), ANSWER_MAX_LANGUAGE);
		goto out;
	}
	out->language = xstrdup(s);

	if ((s = get_string(root, "summary", err, errlen)) == NULL)
		goto out;
	if (check_text("summary", s, ANSWER_MAX_SUMMARY, 1, err, errlen) < 0)
		goto out;
	out->summary = xstrdup(s);

	if ((s = get_string(root, "draft_reply", err, errlen)) == NULL)
		goto out;
	if (check_text("draft_reply", s, ANSWER_MAX_DRAFT, 0, err, errlen) < 0)
		goto out;
	out->draft_reply = xstrdup(s);
	rc = 0;
out:
	json_object_put(root);
	if (rc != 0)
		answer_cleanup(out);
	return rc;
}
