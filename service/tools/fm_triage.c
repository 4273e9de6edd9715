/*
 * fm_triage: see fm_triage.h. Owns the keyword tables, the triage and
 * summary, the request body's parsing (the ticket in the prompt, the
 * structured-output mode asked for) and the answer's JSON. Must never do
 * I/O, read the clock, or share code with the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <json-c/json.h>

#include "fake_errors.h"

#include "fm_util.h"
#include "fm_server.h"
#include "fm_triage.h"

/* ---------------------------------------------------- deterministic triage */

struct fm_category {
	const char *name;
	const char *about; /* "... contacting us about your <about>." */
	const char *const *kw;
};

static const char *const kw_security[] = {"hacked", "fraud", "unauthori", "stolen", "phishing", "breach", "compromised", NULL};
static const char *const kw_legal[] = {"lawyer", "attorney", "lawsuit", "legal action", "sue ", "gdpr", "court", NULL};
static const char *const kw_cancellation[] = {"cancel", "close my account", "terminate", NULL};
static const char *const kw_billing[] = {"refund", "charge", "charged", "invoice", "bill", "payment", "fee", "overdraft", "interest", NULL};
static const char *const kw_shipping[] = {"deliver", "shipping", "shipment", "package", "tracking", "arrive", NULL};
static const char *const kw_account[] = {"password", "login", "log in", "sign in", "account", "verify", "verification", "pin", "identity", NULL};
static const char *const kw_bug[] = {"error", "crash", "bug", "broken", "not working", "doesn't work", "fails", NULL};
static const char *const kw_technical[] = {"app", "website", "card", "transfer", "atm", "top up", "top-up", NULL};
static const char *const kw_feature[] = {"feature", "would be great", "please add", "suggest", NULL};
static const char *const kw_complaint[] = {"complain", "unacceptable", "terrible", "worst", "disappointed", NULL};
static const char *const kw_question[] = {"how do", "how can", "what is", "can i", "is it possible", "?", NULL};

/* First match wins, in this order. */
static const struct fm_category fm_categories[] = {
	{"security", "account security concern", kw_security},
	{"legal", "legal matter", kw_legal},
	{"cancellation", "cancellation request", kw_cancellation},
	{"billing", "billing question", kw_billing},
	{"shipping", "delivery", kw_shipping},
	{"account", "account access", kw_account},
	{"bug_report", "problem report", kw_bug},
	{"technical", "technical issue", kw_technical},
	{"feature_request", "feature suggestion", kw_feature},
	{"complaint", "complaint", kw_complaint},
	{"product_question", "product question", kw_question},
};

static const char *const kw_very_negative[] = {"terrible", "worst", "furious", "unacceptable", "angry", "scam", "disgusted", "!!!", NULL};
static const char *const kw_negative[] = {"not happy", "disappointed", "frustrated", "annoyed", "still", "again", "never", NULL};
static const char *const kw_positive[] = {"thank", "great", "love", "appreciate", NULL};
static const char *const kw_high[] = {"urgent", "asap", "immediately", "right now", "emergency", "stolen", "locked out", NULL};

static const struct {
	const char *text;
	unsigned flag;
} fm_markers[] = {
	{"[[fake:malformed]]", FM_M_MALFORMED}, {"[[fake:badlabel]]", FM_M_BADLABEL},
	{"[[fake:fence]]", FM_M_FENCE},         {"[[fake:500]]", FM_M_500},
	{"[[fake:lowconf]]", FM_M_LOWCONF},     {"[[fake:critical]]", FM_M_CRITICAL},
	{"[[fake:badrepair]]", FM_M_BADREPAIR}, {"[[fake:hostile_draft]]", FM_M_HOSTILE},
	{"[[fake:leak_prompt]]", FM_M_LEAK},    {"[[fake:echo_pii]]", FM_M_ECHO},
	{"[[fake:400]]", FM_M_400},
};

/* The first redaction placeholder ("[EMAIL_1]", "[ORDER_ID_2]") in text, into out; false if none. */
static bool fm_placeholder(const char *text, char *out, size_t outlen)
{
	for (const char *p = strchr(text, '['); p != NULL; p = strchr(p + 1, '[')) {
		size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"), d;
		if (n < 2 || p[n] != '_')
			continue;
		d = strspn(p + 1 + n, "0123456789");
		if (d == 0 || p[1 + n + d] != ']' || n + d + 3 > outlen)
			continue;
		memcpy(out, p, n + d + 2);
		out[n + d + 2] = '\0';
		return true;
	}
	return false;
}

static bool fm_has(const char *text, size_t len, const char *needle)
{
	return memmem(text, len, needle, strlen(needle)) != NULL;
}

/* How many distinct keywords of kw occur in text. */
static int fm_hits(const char *text, size_t len, const char *const *kw)
{
	int n = 0;

	for (; *kw; kw++)
		if (fm_has(text, len, *kw))
			n++;
	return n;
}

/* Words of 5+ ASCII letters, all upper case ("REFUND"). */
static int fm_shouted_words(const char *text, size_t len)
{
	int n = 0;
	size_t i = 0;

	while (i < len) {
		size_t start = i;
		bool upper = true;
		while (i < len && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) {
			if (text[i] >= 'a')
				upper = false;
			i++;
		}
		if (i - start >= 5 && upper)
			n++;
		if (i == start)
			i++;
	}
	return n;
}

struct fm_triage {
	const char *category;
	const char *about;
	const char *sentiment;
	const char *urgency;
	const char *confidence; /* decimal text, so it serializes exactly */
	double confidence_v;
	char summary[FM_SUMMARY_MAX + 1];
};

/*
 * First sentence of text: up to '.', '!' or '?' followed by a space (or the
 * end), or a blank line, at most FM_SUMMARY_MAX bytes cut on a UTF-8 boundary;
 * control characters become spaces. A fixed text when there is none.
 */
static void fm_summary(const char *text, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;
	bool capped = false;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (o + 1 >= outlen) {
			capped = true;
			break;
		}
		if (c == '\n' && i + 1 < len && text[i + 1] == '\n')
			break;
		out[o++] = c < 0x20 ? ' ' : (char)c;
		if ((c == '.' || c == '!' || c == '?') &&
		    (i + 1 == len || text[i + 1] == ' ' || text[i + 1] == '\n' || text[i + 1] == '\r' || text[i + 1] == '\t'))
			break;
	}
	/* Cut short by the cap inside a character: drop its partial bytes. */
	if (capped && ((unsigned char)text[i] & 0xC0) == 0x80) {
		while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
			o--;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	/* Validators want a non-empty summary even for a ticket without text. */
	if (o == 0)
		snprintf(out, outlen, "No description provided.");
}

/*
 * The triage of a ticket. orig is subject + "\n" + body (original case),
 * lower the same lower-cased, sum_src the text summarized. Pure.
 */
static void fm_triage_compute(const char *orig, const char *lower, size_t len, const char *sum_src, size_t sum_len,
			      unsigned markers, struct fm_triage *t)
{
	int hits = 0;

	t->category = "other";
	t->about = "request";
	for (size_t i = 0; i < FM_ARRAY_SIZE(fm_categories); i++) {
		hits = fm_hits(lower, len, fm_categories[i].kw);
		if (hits > 0) {
			t->category = fm_categories[i].name;
			t->about = fm_categories[i].about;
			break;
		}
	}
	if (hits >= 2) {
		t->confidence = "0.95";
		t->confidence_v = 0.95;
	} else if (hits == 1) {
		t->confidence = "0.8";
		t->confidence_v = 0.8;
	} else {
		t->confidence = "0.35";
		t->confidence_v = 0.35;
	}

	int strong = fm_hits(lower, len, kw_very_negative);
	if (strong >= 2 || fm_shouted_words(orig, len) >= 2)
		t->sentiment = "very_negative";
	else if (strong == 1 || fm_hits(lower, len, kw_negative) > 0)
		t->sentiment = "negative";
	else if (fm_hits(lower, len, kw_positive) > 0)
		t->sentiment = "positive";
	else
		t->sentiment = "neutral";

	bool sec_legal = strcmp(t->category, "security") == 0 || strcmp(t->category, "legal") == 0;
	if (sec_legal || (markers & FM_M_CRITICAL) || fm_has(lower, len, "outage") ||
	    (fm_has(lower, len, "urgent") && fm_has(lower, len, "immediately")))
		t->urgency = "critical";
	else if (fm_hits(lower, len, kw_high) > 0)
		t->urgency = "high";
	else if (strcmp(t->category, "feature_request") == 0 || strcmp(t->category, "product_question") == 0)
		t->urgency = "low";
	else
		t->urgency = "normal";

	if (markers & FM_M_BADLABEL) {
		t->category = "weather";
		t->about = "request";
	}
	if (markers & FM_M_LOWCONF) {
		t->confidence = "0.2";
		t->confidence_v = 0.2;
	}
	fm_summary(sum_src, sum_len, t->summary, sizeof(t->summary));
}

/* The triage as the JSON text the model would answer. Returns a new string; caller frees. */
static char *fm_triage_json(const struct fm_triage *t)
{
	struct json_object *o = jx(json_object_new_object());
	char reply[256];

	snprintf(reply, sizeof(reply),
		 "Hello, thank you for contacting us about your %s. We have received your message and a member of "
		 "our support team will follow up shortly. Kind regards, the Support Team",
		 t->about);
	jadd(o, "category", jx(json_object_new_string(t->category)));
	jadd(o, "sentiment", jx(json_object_new_string(t->sentiment)));
	jadd(o, "urgency", jx(json_object_new_string(t->urgency)));
	jadd(o, "confidence", jx(json_object_new_double_s(t->confidence_v, t->confidence)));
	jadd(o, "language", jx(json_object_new_string("en")));
	jadd(o, "summary", jx(json_object_new_string(t->summary)));
	jadd(o, "draft_reply", jx(json_object_new_string(reply)));
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	if (!s)
		fm_oom();
	return s;
}

/* ------------------------------------------------------ request parsing */


void fm_call_cleanup(struct fm_call *c)
{
	json_object_put(c->root);
	json_object_put(c->ticket);
	memset(c, 0, sizeof(*c));
}

/* Parse exactly one JSON value from data (surrounding white space allowed). Returns a new reference or NULL. */
struct json_object *fm_parse_json(struct fm_server *srv, const char *data, size_t len)
{
	struct json_object *o;

	if (len > (size_t)INT32_MAX)
		return NULL;
	json_tokener_reset(srv->tok);
	o = json_tokener_parse_ex(srv->tok, data, (int)len);
	if (!o || json_tokener_get_error(srv->tok) != json_tokener_success)
		goto fail;
	for (size_t i = json_tokener_get_parse_end(srv->tok); i < len; i++)
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n')
			goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static const char *fm_memrmem(const char *hay, size_t len, const char *needle)
{
	size_t nlen = strlen(needle);
	const char *last = NULL, *p = hay;

	while ((p = memmem(p, len - (size_t)(p - hay), needle, nlen)) != NULL) {
		last = p;
		p++;
	}
	return last;
}

/*
 * The ticket in one user message: the text between a "<ticket>" and the last
 * "</ticket>". Instructions may mention the markers before the real ticket, so
 * each "<ticket>" is tried in turn and the first that opens a JSON object wins;
 * if none does, the text after the last "<ticket>" is used raw. Returns false
 * when the message has no markers.
 */
static bool fm_find_ticket(struct fm_server *srv, const char *text, size_t len, struct fm_call *c)
{
	static const char tag[] = "<ticket>";
	const char *end = fm_memrmem(text, len, "</ticket>");
	const char *p = text, *last = NULL;

	if (!end)
		return false;
	while ((p = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1)) != NULL) {
		const char *s = p + sizeof(tag) - 1;
		struct json_object *o = fm_parse_json(srv, s, (size_t)(end - s));
		if (o && json_object_is_type(o, json_type_object)) {
			c->ticket = o;
			c->seg = s;
			c->seglen = (size_t)(end - s);
			return true;
		}
		json_object_put(o);
		last = s;
		p = s;
	}
	if (!last)
		return false;
	c->seg = last;
	c->seglen = (size_t)(end - last);
	return true;
}

/* Fill c from a request body. Returns 0, or -1 with err (a 400). */
int fm_call_parse(struct fm_server *srv, const char *body, size_t len, struct fm_call *c, char *err, size_t errlen)
{
	struct json_object *msgs, *v;
	size_t n;
	const char *last_user = NULL;
	size_t last_user_len = 0;
	bool found = false;

	c->root = fm_parse_json(srv, body, len);
	if (!c->root || !json_object_is_type(c->root, json_type_object)) {
		snprintf(err, errlen, "request body is not a JSON object");
		return -1;
	}
	if (json_object_object_get_ex(c->root, "model", &v) && json_object_is_type(v, json_type_string))
		c->model = json_object_get_string(v);
	else
		c->model = "fake-model";
	if (!json_object_object_get_ex(c->root, "messages", &msgs) || !json_object_is_type(msgs, json_type_array) ||
	    json_object_array_length(msgs) == 0) {
		snprintf(err, errlen, "'messages' must be a non-empty array");
		return -1;
	}
	n = json_object_array_length(msgs);
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(msgs, i), *role, *content;
		if (!json_object_is_type(m, json_type_object) || !json_object_object_get_ex(m, "role", &role) ||
		    !json_object_is_type(role, json_type_string))
			continue;
		const char *r = json_object_get_string(role);
		if (strcmp(r, "assistant") == 0)
			c->repair = true;
		if (!json_object_object_get_ex(m, "content", &content) || !json_object_is_type(content, json_type_string))
			continue;
		c->prompt_bytes += (size_t)json_object_get_string_len(content);
		if (strcmp(r, "user") == 0) {
			last_user = json_object_get_string(content);
			last_user_len = (size_t)json_object_get_string_len(content);
		}
	}
	if (!last_user) {
		snprintf(err, errlen, "'messages' has no user message with string content");
		return -1;
	}
	/* The ticket is in the last user message; in a repair it may be in an earlier one. */
	for (size_t i = n; i-- > 0 && !found;) {
		struct json_object *m = json_object_array_get_idx(msgs, i), *role, *content;
		if (json_object_is_type(m, json_type_object) && json_object_object_get_ex(m, "role", &role) &&
		    json_object_is_type(role, json_type_string) && strcmp(json_object_get_string(role), "user") == 0 &&
		    json_object_object_get_ex(m, "content", &content) &&
		    json_object_is_type(content, json_type_string))
			found = fm_find_ticket(srv, json_object_get_string(content),
					       (size_t)json_object_get_string_len(content), c);
	}
	if (!found) {
		c->seg = last_user;
		c->seglen = last_user_len;
	}
	if (c->ticket && json_object_object_get_ex(c->ticket, "ticket_id", &v) &&
	    !json_object_is_type(v, json_type_null) && !json_object_is_type(v, json_type_object) &&
	    !json_object_is_type(v, json_type_array))
		c->ticket_id = json_object_get_string(v);
	for (size_t i = 0; i < FM_ARRAY_SIZE(fm_markers); i++)
		if (fm_has(c->seg, c->seglen, fm_markers[i].text))
			c->markers |= fm_markers[i].flag;
	/* [[fake:mini_malformed]]: a model whose name contains "mini" never answers
	 * validly (not even a repair); a bigger model does. For escalation tests. */
	if (fm_has(c->seg, c->seglen, "[[fake:mini_malformed]]") && strstr(c->model, "mini"))
		c->markers |= FM_M_MALFORMED | FM_M_BADREPAIR;
	c->errors = srv->errors;
	return 0;
}

static const char *fm_ticket_field(struct json_object *ticket, const char *key, size_t *len)
{
	struct json_object *v;

	if (ticket && json_object_object_get_ex(ticket, key, &v) && json_object_is_type(v, json_type_string)) {
		*len = (size_t)json_object_get_string_len(v);
		return json_object_get_string(v);
	}
	*len = 0;
	return "";
}

/* The triage content for a parsed call. Returns a new string; caller frees. */
char *fm_call_answer(const struct fm_call *c, bool force_malformed)
{
	struct fm_triage t;
	size_t slen, blen, len;
	const char *subject, *body, *sum_src;
	size_t sum_len;
	char *orig = NULL, *lower = NULL, *out = NULL, *json = NULL;

	if (c->ticket) {
		subject = fm_ticket_field(c->ticket, "subject", &slen);
		body = fm_ticket_field(c->ticket, "body", &blen);
	} else {
		subject = "";
		slen = 0;
		body = c->seg;
		blen = c->seglen;
	}
	len = slen + 1 + blen;
	orig = fm_xmalloc(len + 1);
	lower = fm_xmalloc(len + 1);
	memcpy(orig, subject, slen);
	orig[slen] = '\n';
	memcpy(orig + slen + 1, body, blen);
	orig[len] = '\0';
	for (size_t i = 0; i < len; i++)
		lower[i] = (orig[i] >= 'A' && orig[i] <= 'Z') ? (char)(orig[i] + 32) : orig[i];
	lower[len] = '\0';

	sum_src = body;
	sum_len = blen;
	if (strspn(body, " \t\r\n") == blen) {
		sum_src = subject;
		sum_len = slen;
	}
	fm_triage_compute(orig, lower, len, sum_src, sum_len, c->markers, &t);
	/* The error model: the truth is the gold label of the text if known, else the keyword triage. */
	struct fe_answer fe;
	if (c->errors && !(c->markers & (FM_M_BADLABEL | FM_M_LOWCONF))) {
		const char *truth = fe_model_gold(c->errors, body, blen);
		fe_model_answer(c->errors, c->model, body, blen, truth ? truth : t.category, &fe);
		t.category = fe.category;
		t.about = "request";
		for (size_t i = 0; i < FM_ARRAY_SIZE(fm_categories); i++)
			if (strcmp(fm_categories[i].name, fe.category) == 0)
				t.about = fm_categories[i].about;
		t.confidence = fe.confidence_s;
		t.confidence_v = fe.confidence;
	}

	if (force_malformed) {
		if (asprintf(&out, "Sure! The category is %s.", t.category) < 0)
			fm_oom();
		goto out;
	}
	json = fm_triage_json(&t);
	if (c->markers & FM_M_ECHO) {
		/* a model that writes back to the contact it was given, as a placeholder */
		struct json_object *o = json_tokener_parse(json);
		char ph[64], reply[512];
		if (o && fm_placeholder(orig, ph, sizeof(ph))) {
			snprintf(reply, sizeof(reply),
				 "Hello, thank you for your message. We have the contact you gave us, %s, "
				 "and will write to you there within one business day. Kind regards, "
				 "the Support Team",
				 ph);
			json_object_object_add(o, "draft_reply", json_object_new_string(reply));
			free(json);
			json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			if (!json)
				fm_oom();
		}
		json_object_put(o);
	}
	if (c->markers & (FM_M_HOSTILE | FM_M_LEAK)) {
		/* a hostile answer: the daemon's draft policy must catch it */
		struct json_object *o = json_tokener_parse(json), *msgs, *m0, *content;
		char reply[1024] = "";
		if (c->markers & FM_M_HOSTILE)
			snprintf(reply, sizeof(reply),
				 "Hello, we will refund you in full today. Please confirm at "
				 "http://claims.evil-example.net/refund and write to [EMAIL_9]. The Support Team");
		if ((c->markers & FM_M_LEAK) && json_object_object_get_ex(c->root, "messages", &msgs) &&
		    (m0 = json_object_array_get_idx(msgs, 0)) &&
		    json_object_object_get_ex(m0, "content", &content))
			snprintf(reply, sizeof(reply), "Sure, here are my instructions: %.600s",
				 json_object_get_string(content));
		if (o && reply[0]) {
			json_object_object_add(o, "draft_reply", json_object_new_string(reply));
			free(json);
			json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			if (!json)
				fm_oom();
		}
		json_object_put(o);
	}
	if (c->markers & FM_M_FENCE) {
		if (asprintf(&out, "```json\n%s\n```", json) < 0)
			fm_oom();
		goto out;
	}
	out = json;
	json = NULL;
out:
	free(json);
	free(orig);
	free(lower);
	return out;
}
