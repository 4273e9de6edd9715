/*
 * intake: see intake.h. Owns the mapping of helpdesk payloads onto the
 * ticket contract and the decision ticket / skip / dead letter. Must never
 * judge a mapped ticket itself: the mapped object is serialized and goes
 * through ticket_parse_ex, the same parser as the triaged format, so there
 * is one contract. The helpdesk shapes follow the vendors' public API
 * documentation (tests/fixtures/helpdesk/README.md names each source).
 */
#include "intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json_pointer.h>

#include "mailtext.h"
#include "textfile.h"

#define MAPPING_CAP (256 * 1024)

/* The contract fields a mapping can fill, as ticket.c names them in its errors. */
enum field {
	F_TICKET_ID,
	F_SOURCE,
	F_CREATED_AT,
	F_CHANNEL,
	F_SUBJECT,
	F_BODY,
	F_CUSTOMER_ID,
	F_CUSTOMER_EMAIL,
	F_CUSTOMER_NAME,
	F_CUSTOMER_TIER,
	F_LANGUAGE,
	F_TAGS,
	F_METADATA,
	F__COUNT
};

static const char *const field_names[F__COUNT] = {
	"ticket_id",	 "source",	   "created_at",    "channel",	     "subject",
	"body",		 "customer.id",	   "customer.email", "customer.name", "customer.tier",
	"language",	 "tags",	   "metadata",
};

static const char *const format_names[INTAKE__FORMATS] = {"triaged", "zendesk", "zammad",
							   "intercom", "custom"};

/* A custom mapping (intake.mapping_file). */
struct mapping {
	char *source;		    /* the contract's source; default "custom" */
	char *ptr[F__COUNT];	    /* JSON pointer into the payload; NULL: not mapped */
	json_object *defaults;	    /* field name -> value when the pointer finds nothing */
	json_object *values;	    /* field name -> {given: contract value} */
	int html_body;		    /* body may be HTML */
	char *skip_ptr;		    /* skip unless the value here is one of skip_in */
	json_object *skip_in;
};

struct intake {
	enum intake_format fmt;
	struct ticket_opts opts;
	struct tier_map tiers;
	struct mapping map;
	struct intake_stats st;
};

/* What a helpdesk mapper made of a payload. */
struct mapped {
	json_object *obj;	   /* the contract object */
	const char *from[F__COUNT]; /* the source field each came from, for dead-letter reasons */
	int html;		   /* the body may be HTML */
	const char *skip;	   /* non-NULL: nothing to triage, and why */
	char skipbuf[160];
};

int intake_format_parse(const char *s)
{
	for (int i = 0; s != NULL && i < INTAKE__FORMATS; i++)
		if (strcmp(s, format_names[i]) == 0)
			return i;
	return -1;
}

const char *intake_format_name(enum intake_format f)
{
	return (unsigned)f < INTAKE__FORMATS ? format_names[f] : "unknown";
}

/* ---- building the contract object ---- */

/* Borrowed value at a JSON pointer; NULL when absent or null. */
static json_object *at(json_object *root, const char *ptr)
{
	json_object *v = NULL;

	if (ptr == NULL || json_pointer_get(root, ptr, &v) != 0)
		return NULL;
	return v;
}

/* Put a copy of v at field f ("customer.x" goes into the customer object). */
static void put_field(struct mapped *m, enum field f, json_object *v, const char *from)
{
	const char *name = field_names[f];
	json_object *dst = m->obj;

	if (from != NULL && m->from[f] == NULL)
		m->from[f] = from; /* named in a dead letter even when nothing was there */
	if (v == NULL)
		return;
	if (strncmp(name, "customer.", 9) == 0) {
		json_object *c = NULL;
		if (!json_object_object_get_ex(m->obj, "customer", &c)) {
			c = json_object_new_object();
			json_object_object_add(m->obj, "customer", c);
		}
		dst = c;
		name += 9;
	}
	json_object_object_add(dst, name, v);
	if (from != NULL)
		m->from[f] = from;
}

/* Ids are numbers in some helpdesks: the contract wants text. A new reference or NULL. */
static json_object *as_text(json_object *v)
{
	if (v == NULL)
		return NULL;
	if (json_object_is_type(v, json_type_int))
		return json_object_new_string(json_object_get_string(v));
	return json_object_get(v);
}

static void put_at(struct mapped *m, enum field f, json_object *root, const char *ptr)
{
	put_field(m, f, as_text(at(root, ptr)), ptr);
}

static void put_str(struct mapped *m, enum field f, const char *s, const char *from)
{
	put_field(m, f, json_object_new_string(s), from);
}

/* A value through a name map {"given": "contract"}; unmapped values pass as given. */
static void put_mapped(struct mapped *m, enum field f, json_object *root, const char *ptr,
		       const char *const (*map)[2], size_t n)
{
	json_object *v = at(root, ptr);
	const char *s;

	if (v == NULL)
		return;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	for (size_t i = 0; s != NULL && i < n; i++) {
		if (strcasecmp(s, map[i][0]) == 0) {
			put_str(m, f, map[i][1], ptr);
			return;
		}
	}
	put_field(m, f, json_object_get(v), ptr); /* ticket.c flags what it does not know */
}

/* Nothing to triage: why, as "what" followed by detail (may be NULL). */
static void skip(struct mapped *m, const char *what, const char *detail)
{
	snprintf(m->skipbuf, sizeof(m->skipbuf), "%s%s", what, detail ? detail : "");
	m->skip = m->skipbuf;
}

static const char *str_at(json_object *root, const char *ptr)
{
	json_object *v = at(root, ptr);
	return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
								    : NULL;
}

static int true_at(json_object *root, const char *ptr)
{
	json_object *v = at(root, ptr);
	return v != NULL && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* ---- Zendesk: webhook ticket events, zen:event-type:ticket.* ---- */

static const char *const zendesk_channels[][2] = {
	{"email", "email"},	 {"web", "web"},	      {"web_form", "web"},
	{"web_widget", "web"},	 {"chat", "chat"},	      {"native_messaging", "chat"},
	{"voice", "phone"},	 {"twitter", "social"},	      {"facebook", "social"},
	{"instagram_dm", "social"}, {"whatsapp", "social"},	      {"api", "api"},
	{"web_service", "api"},	 {"mobile_sdk", "other"},     {"mobile", "other"},
};

static void map_zendesk(json_object *root, struct mapped *m)
{
	const char *type = str_at(root, "/type");
	json_object *meta;

	if (type == NULL || strncmp(type, "zen:event-type:ticket.", 22) != 0) {
		skip(m, "zendesk: not a ticket event: ", type ? type : "(no type)");
		return;
	}
	if (strcmp(type, "zen:event-type:ticket.created") == 0) {
		put_at(m, F_BODY, root, "/detail/description");
	} else if (strcmp(type, "zen:event-type:ticket.comment_added") == 0) {
		/* a customer's follow-up is an update; agents' and private comments are not */
		if (at(root, "/event/comment/is_public") != NULL &&
		    !true_at(root, "/event/comment/is_public")) {
			skip(m, "zendesk: private comment", NULL);
			return;
		}
		if (true_at(root, "/event/comment/author/is_staff")) {
			skip(m, "zendesk: comment by an agent", NULL);
			return;
		}
		put_at(m, F_BODY, root, "/event/comment/body");
		put_at(m, F_CUSTOMER_NAME, root, "/event/comment/author/name");
	} else {
		skip(m, "zendesk: nothing to triage in ", type + 15);
		return;
	}
	m->html = 1;
	put_at(m, F_TICKET_ID, root, "/detail/id");
	put_str(m, F_SOURCE, "zendesk", NULL);
	put_at(m, F_CREATED_AT, root, "/detail/created_at");
	put_mapped(m, F_CHANNEL, root, "/detail/via/channel", zendesk_channels,
		   ARRAY_SIZE(zendesk_channels));
	put_at(m, F_SUBJECT, root, "/detail/subject");
	put_at(m, F_CUSTOMER_ID, root, "/detail/requester_id");
	put_at(m, F_TAGS, root, "/detail/tags");
	meta = json_object_new_object();
	json_object_object_add(meta, "event_id", as_text(at(root, "/id")));
	json_object_object_add(meta, "event_type", json_object_new_string(type));
	json_object_object_add(meta, "priority", as_text(at(root, "/detail/priority")));
	json_object_object_add(meta, "status", as_text(at(root, "/detail/status")));
	json_object_object_add(meta, "comment_id", as_text(at(root, "/event/comment/id")));
	put_field(m, F_METADATA, meta, NULL);
}

/* ---- Zammad: trigger webhook, ticket plus article ---- */

static const char *const zammad_channels[][2] = {
	{"email", "email"}, {"web", "web"},		{"phone", "phone"},
	{"chat", "chat"},   {"twitter status", "social"}, {"twitter direct-message", "social"},
	{"facebook feed post", "social"}, {"telegram personal-message", "social"},
	{"sms", "other"},   {"note", "other"},
};

static void map_zammad(json_object *root, struct mapped *m)
{
	const char *sender = str_at(root, "/article/sender");
	const char *ctype = str_at(root, "/article/content_type");
	const char *first = str_at(root, "/ticket/customer/firstname");
	const char *last = str_at(root, "/ticket/customer/lastname");
	json_object *meta;

	if (at(root, "/ticket") == NULL) {
		skip(m, "zammad: no ticket in the payload", NULL);
		return;
	}
	if (at(root, "/article") == NULL) {
		skip(m, "zammad: no article (a ticket change without a message)", NULL);
		return;
	}
	if (true_at(root, "/article/internal")) {
		skip(m, "zammad: internal article", NULL);
		return;
	}
	if (sender != NULL && strcmp(sender, "Customer") != 0) {
		skip(m, "zammad: article not by the customer but by ", sender);
		return;
	}
	m->html = ctype != NULL && strcasecmp(ctype, "text/html") == 0;
	put_at(m, F_TICKET_ID, root, "/ticket/id");
	put_str(m, F_SOURCE, "zammad", NULL);
	put_at(m, F_CREATED_AT, root, "/ticket/created_at");
	put_mapped(m, F_CHANNEL, root, "/article/type", zammad_channels,
		   ARRAY_SIZE(zammad_channels));
	put_at(m, F_SUBJECT, root, "/ticket/title");
	put_at(m, F_BODY, root, "/article/body");
	put_at(m, F_CUSTOMER_ID, root, "/ticket/customer/id");
	put_at(m, F_CUSTOMER_EMAIL, root, "/ticket/customer/email");
	if (first != NULL || last != NULL) {
		char name[512];
		snprintf(name, sizeof(name), "%s%s%s", first ? first : "", first && last ? " " : "",
			 last ? last : "");
		put_str(m, F_CUSTOMER_NAME, name, "/ticket/customer/firstname");
	}
	put_at(m, F_TAGS, root, "/ticket/tags");
	meta = json_object_new_object();
	json_object_object_add(meta, "number", as_text(at(root, "/ticket/number")));
	json_object_object_add(meta, "priority", as_text(at(root, "/ticket/priority")));
	json_object_object_add(meta, "state", as_text(at(root, "/ticket/state")));
	json_object_object_add(meta, "group", as_text(at(root, "/ticket/group")));
	json_object_object_add(meta, "article_id", as_text(at(root, "/article/id")));
	put_field(m, F_METADATA, meta, NULL);
}

/* ---- Intercom: conversation webhooks (notification_event) ---- */

static const char *const intercom_channels[][2] = {
	{"conversation", "chat"}, {"email", "email"},	 {"facebook", "social"},
	{"twitter", "social"},	  {"phone_call", "phone"}, {"push", "other"},
	{"instagram", "social"},  {"whatsapp", "social"},  {"sms", "other"},
};

static int intercom_user(const char *type)
{
	return type != NULL &&
	       (strcmp(type, "user") == 0 || strcmp(type, "lead") == 0 ||
		strcmp(type, "contact") == 0);
}

static void map_intercom(json_object *root, struct mapped *m)
{
	const char *topic = str_at(root, "/topic");
	char author[96] = "/data/item/source/author";
	json_object *meta, *item = at(root, "/data/item"), *tags, *names;
	json_object *created;
	char ptr[160];

	if (topic == NULL || item == NULL) {
		skip(m, "intercom: not a conversation notification", NULL);
		return;
	}
	if (strcmp(topic, "conversation.user.created") == 0) {
		put_at(m, F_BODY, root, "/data/item/source/body");
	} else if (strcmp(topic, "conversation.user.replied") == 0) {
		/* the customer's newest comment among the parts sent with the event */
		json_object *parts = at(root, "/data/item/conversation_parts/conversation_parts");
		int found = -1;
		for (int i = parts ? (int)json_object_array_length(parts) - 1 : -1; i >= 0; i--) {
			snprintf(ptr, sizeof(ptr),
				 "/data/item/conversation_parts/conversation_parts/%d/author/type",
				 i);
			if (intercom_user(str_at(root, ptr))) {
				found = i;
				break;
			}
		}
		if (found < 0) {
			skip(m, "intercom: a reply without a customer part", NULL);
			return;
		}
		snprintf(ptr, sizeof(ptr), "/data/item/conversation_parts/conversation_parts/%d/body",
			 found);
		put_field(m, F_BODY, as_text(at(root, ptr)), "/data/item/conversation_parts");
		snprintf(author, sizeof(author),
			 "/data/item/conversation_parts/conversation_parts/%d/author", found);
	} else {
		skip(m, "intercom: nothing to triage in ", topic);
		return;
	}
	m->html = 1;
	put_at(m, F_TICKET_ID, root, "/data/item/id");
	put_str(m, F_SOURCE, "intercom", NULL);
	created = at(root, "/data/item/created_at");
	if (created != NULL && json_object_is_type(created, json_type_int)) {
		char ts[32];
		/* Unix seconds in Intercom; out of range stays as given (ticket.c flags it) */
		if (rfc3339_from_ms(json_object_get_int64(created) * 1000, ts) == 0)
			put_str(m, F_CREATED_AT, ts, "/data/item/created_at");
		else
			put_field(m, F_CREATED_AT, json_object_get(created), "/data/item/created_at");
	} else {
		put_at(m, F_CREATED_AT, root, "/data/item/created_at");
	}
	put_mapped(m, F_CHANNEL, root, "/data/item/source/type", intercom_channels,
		   ARRAY_SIZE(intercom_channels));
	put_at(m, F_SUBJECT, root, "/data/item/source/subject");
	snprintf(ptr, sizeof(ptr), "%s/id", author);
	put_field(m, F_CUSTOMER_ID, as_text(at(root, ptr)), "author.id");
	snprintf(ptr, sizeof(ptr), "%s/email", author);
	put_field(m, F_CUSTOMER_EMAIL, as_text(at(root, ptr)), "author.email");
	snprintf(ptr, sizeof(ptr), "%s/name", author);
	put_field(m, F_CUSTOMER_NAME, as_text(at(root, ptr)), "author.name");
	tags = at(root, "/data/item/tags/tags");
	if (tags != NULL && json_object_is_type(tags, json_type_array)) {
		names = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(tags); i++) {
			json_object *n = NULL;
			if (json_object_object_get_ex(json_object_array_get_idx(tags, i), "name",
						      &n))
				json_object_array_add(names, json_object_get(n));
		}
		put_field(m, F_TAGS, names, "/data/item/tags/tags");
	}
	meta = json_object_new_object();
	json_object_object_add(meta, "notification_id", as_text(at(root, "/id")));
	json_object_object_add(meta, "topic", json_object_new_string(topic));
	json_object_object_add(meta, "state", as_text(at(root, "/data/item/state")));
	put_field(m, F_METADATA, meta, NULL);
}

/* ---- custom: a mapping file ---- */

static void map_custom(const struct mapping *mp, json_object *root, struct mapped *m)
{
	if (mp->skip_ptr != NULL) {
		json_object *v = at(root, mp->skip_ptr);
		const char *s = v ? json_object_get_string(v) : NULL;
		int keep = 0;
		for (size_t i = 0; s != NULL && i < json_object_array_length(mp->skip_in); i++)
			if (strcmp(s, json_object_get_string(json_object_array_get_idx(mp->skip_in, i))) == 0)
				keep = 1;
		if (!keep) {
			skip(m, "custom: not one of the events to triage: ", mp->skip_ptr);
			return;
		}
	}
	m->html = mp->html_body;
	put_str(m, F_SOURCE, mp->source, NULL);
	for (int f = 0; f < F__COUNT; f++) {
		json_object *v = mp->ptr[f] ? at(root, mp->ptr[f]) : NULL, *vmap = NULL, *to = NULL;
		const char *from = mp->ptr[f];

		if (v == NULL && json_object_object_get_ex(mp->defaults, field_names[f], &v)) {
			from = "default";
		}
		if (v == NULL) {
			put_field(m, (enum field)f, NULL, from);
			continue;
		}
		if (json_object_object_get_ex(mp->values, field_names[f], &vmap) &&
		    json_object_object_get_ex(vmap, json_object_get_string(v), &to))
			v = to;
		put_field(m, (enum field)f, f == F_TAGS || f == F_METADATA ? json_object_get(v)
									   : as_text(v),
			  from);
	}
}

/* 1-based line of the first occurrence of "name" in text (0 if none). */
static int line_of(const char *text, const char *name)
{
	char q[80];
	const char *p;
	int line = 1;

	snprintf(q, sizeof(q), "\"%s\"", name);
	p = strstr(text, q);
	if (p == NULL)
		return 0;
	for (const char *c = text; c < p; c++)
		line += *c == '\n';
	return line;
}

static int field_index(const char *name)
{
	for (int f = 0; f < F__COUNT; f++)
		if (strcmp(name, field_names[f]) == 0)
			return f;
	return -1;
}

static void mapping_cleanup(struct mapping *mp)
{
	free(mp->source);
	for (int f = 0; f < F__COUNT; f++)
		free(mp->ptr[f]);
	json_object_put(mp->defaults);
	json_object_put(mp->values);
	free(mp->skip_ptr);
	json_object_put(mp->skip_in);
	memset(mp, 0, sizeof(*mp));
}

#define MAPERR(key, ...)                                                                       \
	do {                                                                                   \
		char m_[256];                                                                  \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                                         \
		set_err(err, errlen, "%s:%d: %s", name, line_of(text, key), m_);               \
		goto fail;                                                                     \
	} while (0)

/*
 * {"source": "freshdesk", "fields": {"ticket_id": "/pointer", ...},
 *  "defaults": {"channel": "email"}, "values": {"customer.tier": {"Gold": "enterprise"}},
 *  "html_body": true, "skip_unless": {"pointer": "/event", "in": ["created"]}}
 */
static int mapping_load(struct mapping *mp, const char *text, const char *name, char *err,
			size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *root, *v;
	enum json_tokener_error je;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)strlen(text));
	je = json_tokener_get_error(tok);

	memset(mp, 0, sizeof(*mp));
	if (je != json_tokener_success || root == NULL ||
	    !json_object_is_type(root, json_type_object)) {
		size_t end = json_tokener_get_parse_end(tok);
		int line = 1;
		for (size_t i = 0; i < end && text[i]; i++)
			line += text[i] == '\n';
		set_err(err, errlen, "%s:%d: %s", name, line,
			je != json_tokener_success ? json_tokener_error_desc(je)
						   : "expected a JSON object");
		json_object_put(root);
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	json_object_object_foreach(root, key, val)
	{
		if (strcmp(key, "source") != 0 && strcmp(key, "fields") != 0 &&
		    strcmp(key, "defaults") != 0 && strcmp(key, "values") != 0 &&
		    strcmp(key, "html_body") != 0 && strcmp(key, "skip_unless") != 0 &&
		    strcmp(key, "comment") != 0)
			MAPERR(key, "unknown key '%s' (source, fields, defaults, values, html_body, "
				    "skip_unless, comment)",
			       key);
		(void)val;
	}
	v = NULL;
	json_object_object_get_ex(root, "source", &v);
	if (v != NULL && (!json_object_is_type(v, json_type_string) ||
			  json_object_get_string_len(v) == 0))
		MAPERR("source", "source must be a non-empty string");
	mp->source = xstrdup(v ? json_object_get_string(v) : "custom");
	if (!json_object_object_get_ex(root, "fields", &v) ||
	    !json_object_is_type(v, json_type_object))
		MAPERR("fields", "'fields' must be an object of contract field -> JSON pointer");
	json_object_object_foreach(v, fk, fv)
	{
		int f = field_index(fk);
		const char *p = json_object_get_string(fv);
		json_object *probe = NULL;
		if (f < 0)
			MAPERR(fk, "'%s' is not a contract field", fk);
		if (!json_object_is_type(fv, json_type_string) || (p[0] != '/' && p[0] != '\0'))
			MAPERR(fk, "%s: expected a JSON pointer such as \"/ticket/id\"", fk);
		/* a syntax check: json_pointer_get reports EINVAL for a bad escape */
		if (json_pointer_get(root, p, &probe) != 0 && errno == EINVAL)
			MAPERR(fk, "%s: '%s' is not a valid JSON pointer", fk, p);
		mp->ptr[f] = xstrdup(p);
	}
	if (mp->ptr[F_TICKET_ID] == NULL)
		MAPERR("fields", "fields must map ticket_id");
	if (mp->ptr[F_BODY] == NULL)
		MAPERR("fields", "fields must map body");
	if (json_object_object_get_ex(root, "defaults", &v)) {
		if (!json_object_is_type(v, json_type_object))
			MAPERR("defaults", "'defaults' must be an object");
		json_object_object_foreach(v, dk, dv)
		{
			if (field_index(dk) < 0)
				MAPERR(dk, "defaults: '%s' is not a contract field", dk);
			(void)dv;
		}
		mp->defaults = json_object_get(v);
	} else {
		mp->defaults = json_object_new_object();
	}
	if (json_object_object_get_ex(root, "values", &v)) {
		if (!json_object_is_type(v, json_type_object))
			MAPERR("values", "'values' must be an object");
		json_object_object_foreach(v, vk, vv)
		{
			if (field_index(vk) < 0)
				MAPERR(vk, "values: '%s' is not a contract field", vk);
			if (!json_object_is_type(vv, json_type_object))
				MAPERR(vk, "values.%s must be an object of given -> contract value",
				       vk);
			json_object_object_foreach(vv, gk, gv)
			{
				if (!json_object_is_type(gv, json_type_string))
					MAPERR(gk, "values.%s.%s must be a string", vk, gk);
			}
		}
		mp->values = json_object_get(v);
	} else {
		mp->values = json_object_new_object();
	}
	if (json_object_object_get_ex(root, "html_body", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			MAPERR("html_body", "html_body must be true or false");
		mp->html_body = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(root, "skip_unless", &v)) {
		json_object *p = NULL, *in = NULL;
		if (!json_object_is_type(v, json_type_object) ||
		    !json_object_object_get_ex(v, "pointer", &p) ||
		    !json_object_is_type(p, json_type_string) ||
		    !json_object_object_get_ex(v, "in", &in) ||
		    !json_object_is_type(in, json_type_array))
			MAPERR("skip_unless",
			       "skip_unless must be {\"pointer\": \"/...\", \"in\": [values]}");
		mp->skip_ptr = xstrdup(json_object_get_string(p));
		mp->skip_in = json_object_get(in);
	}
	json_object_put(root);
	return 0;
fail:
	json_object_put(root);
	mapping_cleanup(mp);
	return -1;
}

/* ---- the intake ---- */

struct intake *intake_new_text(enum intake_format f, const char *mapping_text,
			       const char *mapping_name, const char *tier_map,
			       const struct ticket_limits *lim, char *err, size_t errlen)
{
	struct intake *in = xcalloc(1, sizeof(*in));
	char msg[256];

	in->fmt = f;
	ticket_opts_default(&in->opts);
	if (lim != NULL)
		in->opts.lim = *lim;
	if (tier_map_parse(tier_map, &in->tiers, msg, sizeof(msg)) < 0) {
		set_err(err, errlen, "intake.tier_map: %s", msg);
		goto fail;
	}
	in->opts.tier_map = &in->tiers;
	if (f == INTAKE_CUSTOM) {
		if (mapping_text == NULL) {
			set_err(err, errlen, "intake.format = custom needs intake.mapping_file");
			goto fail;
		}
		if (mapping_load(&in->map, mapping_text, mapping_name ? mapping_name : "mapping",
				 err, errlen) < 0)
			goto fail;
	}
	return in;
fail:
	free(in);
	return NULL;
}

struct intake *intake_new(enum intake_format f, const char *mapping_file, const char *tier_map,
			  const struct ticket_limits *lim, char *err, size_t errlen)
{
	char *text = NULL;
	struct intake *in;

	if (f == INTAKE_CUSTOM && mapping_file != NULL && mapping_file[0] != '\0') {
		text = textfile_read(mapping_file, MAPPING_CAP, err, errlen);
		if (text == NULL)
			return NULL;
	}
	in = intake_new_text(f, text, mapping_file, tier_map, lim, err, errlen);
	free(text);
	return in;
}

void intake_free(struct intake *in)
{
	if (in == NULL)
		return;
	mapping_cleanup(&in->map);
	free(in);
}

const struct intake_stats *intake_stats(const struct intake *in)
{
	return &in->st;
}

static void dead(struct intake_stats *st, struct intake_result *r, enum ticket_err code,
		 const char *reason)
{
	r->outcome = INTAKE_DEAD;
	r->code = code;
	ticket_reason_safe(reason, strlen(reason), r->reason, sizeof(r->reason));
	st->dead++;
}

/* "body: required" -> "body (from /detail/description): required" */
static void name_source(const struct mapped *m, const char *err, char *out, size_t outlen)
{
	const char *colon = strstr(err, ": ");
	size_t n = colon ? (size_t)(colon - err) : 0;

	for (int f = 0; colon != NULL && f < F__COUNT; f++) {
		if (m->from[f] != NULL && strlen(field_names[f]) == n &&
		    strncmp(err, field_names[f], n) == 0) {
			snprintf(out, outlen, "%.*s (from %s)%s", (int)n, err, m->from[f], colon);
			return;
		}
	}
	/* a required field nothing was mapped to */
	if (strncmp(err, "ticket_id: required", 19) == 0 || strncmp(err, "body: required", 14) == 0) {
		snprintf(out, outlen, "%s (nothing in the payload maps to it)", err);
		return;
	}
	snprintf(out, outlen, "%s", err);
}

/* Parse a helpdesk payload (the gates the contract parser would apply to the raw bytes first). */
static json_object *parse_source(const struct intake *in, struct intake_stats *st, const char *msg, size_t len,
				 struct intake_result *r)
{
	struct json_tokener *tok;
	json_object *root;
	char why[128];

	if (len > in->opts.lim.max_message_bytes) {
		snprintf(why, sizeof(why), "message: %zu bytes exceeds the %zu-byte limit", len,
			 in->opts.lim.max_message_bytes);
		dead(st, r, TICKET_E_TOO_LARGE, why);
		return NULL;
	}
	if (!utf8_valid(msg, len)) {
		dead(st, r, TICKET_E_UTF8, "message: invalid UTF-8");
		return NULL;
	}
	tok = json_tokener_new_ex(33);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, msg, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || root == NULL ||
	    !json_object_is_type(root, json_type_object)) {
		snprintf(why, sizeof(why), "message: not a JSON object (%s)",
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(root);
		json_tokener_free(tok);
		dead(st, r, TICKET_E_JSON, why);
		return NULL;
	}
	json_tokener_free(tok);
	return root;
}

/* HTML to text for agents; the HTML kept as given. 0, or -1 when no text is left. */
static int body_from_html(struct ticket *t)
{
	size_t n;
	char *text;

	if (!mailtext_looks_html(t->body, t->body_len))
		return 0;
	text = mailtext_html_to_text(t->body, t->body_len, &n);
	if (mailtext_blank(text, n)) {
		free(text);
		return -1;
	}
	if (t->original == NULL)
		t->original = json_object_new_object();
	if (!json_object_object_get_ex(t->original, "body", NULL))
		json_object_object_add(t->original, "body",
				       json_object_new_string_len(t->body, (int)t->body_len));
	free(t->body);
	t->body = text;
	t->body_len = n;
	return 1;
}

void intake_parse_counted(const struct intake *in, const char *msg, size_t len, const char *key,
			  size_t keylen, int64_t kafka_ts_ms, struct intake_result *r,
			  struct intake_stats *st)
{
	struct ticket_opts o = in->opts;
	struct mapped m;
	json_object *root = NULL;
	char err[512], named[600];
	const char *text = msg;
	size_t textlen = len;
	enum ticket_err rc;
	int html = 0;
	size_t raw_body;

	memset(r, 0, sizeof(*r));
	memset(&m, 0, sizeof(m));
	o.kafka_ts_ms = kafka_ts_ms;
	if (msg == NULL) {
		r->outcome = INTAKE_SKIP;
		r->skip = INTAKE_SKIP_TOMBSTONE;
		snprintf(r->reason, sizeof(r->reason), "tombstone (null value)");
		st->skipped[INTAKE_SKIP_TOMBSTONE]++;
		return;
	}
	if (in->fmt != INTAKE_TRIAGED) {
		root = parse_source(in, st, msg, len, r);
		if (root == NULL)
			return;
		m.obj = json_object_new_object();
		switch (in->fmt) {
		case INTAKE_ZENDESK:
			map_zendesk(root, &m);
			break;
		case INTAKE_ZAMMAD:
			map_zammad(root, &m);
			break;
		case INTAKE_INTERCOM:
			map_intercom(root, &m);
			break;
		default:
			map_custom(&in->map, root, &m);
			break;
		}
		if (m.skip != NULL) {
			r->outcome = INTAKE_SKIP;
			r->skip = INTAKE_SKIP_NOTHING;
			snprintf(r->reason, sizeof(r->reason), "%s", m.skip);
			st->skipped[INTAKE_SKIP_NOTHING]++;
			goto out;
		}
		text = json_object_to_json_string_ext(m.obj, JSON_C_TO_STRING_PLAIN |
								     JSON_C_TO_STRING_NOSLASHESCAPE);
		textlen = strlen(text);
		html = m.html;
		key = NULL; /* helpdesks key their topics as they like */
		keylen = 0;
	}
	err[0] = '\0';
	rc = ticket_parse_ex(text, textlen, key, keylen, &o, &r->t, err, sizeof(err));
	if (rc != TICKET_OK) {
		if (in->fmt != INTAKE_TRIAGED) {
			name_source(&m, err, named, sizeof(named));
			dead(st, r, rc, named);
		} else {
			dead(st, r, rc, err);
		}
		goto out;
	}
	raw_body = r->t->body_len;
	if (html) {
		int h = body_from_html(r->t);
		if (h < 0) {
			ticket_free(r->t);
			r->t = NULL;
			name_source(&m, "body: no text left after the HTML was removed", named,
				    sizeof(named));
			dead(st, r, TICKET_E_MISSING, named);
			goto out;
		}
		st->html_bodies += (uint64_t)h;
		r->t->body_prompt_len = utf8_cut(r->t->body, r->t->body_len,
						 o.lim.max_body_prompt_len);
		r->t->body_truncated = r->t->body_prompt_len < r->t->body_len;
	}
	ticket_cut_prompt(r->t);
	r->outcome = INTAKE_TICKET;
	st->tickets++;
	st->prompt_bytes_in += raw_body; /* the body as the helpdesk sent it */
	st->prompt_bytes_out += r->t->prompt_body_len;
	for (int i = 0; i < TICKET_FLAG__COUNT; i++)
		if (r->t->flags & (1u << i))
			st->flagged[i]++;
out:
	json_object_put(m.obj);
	json_object_put(root);
}

void intake_parse(struct intake *in, const char *msg, size_t len, const char *key, size_t keylen,
		  int64_t kafka_ts_ms, struct intake_result *r)
{
	intake_parse_counted(in, msg, len, key, keylen, kafka_ts_ms, r, &in->st);
}

void intake_stats_add(struct intake *in, const struct intake_stats *d)
{
	in->st.tickets += d->tickets;
	in->st.dead += d->dead;
	for (int i = 0; i < INTAKE_SKIP__COUNT; i++)
		in->st.skipped[i] += d->skipped[i];
	for (int i = 0; i < TICKET_FLAG__COUNT; i++)
		in->st.flagged[i] += d->flagged[i];
	in->st.html_bodies += d->html_bodies;
	in->st.prompt_bytes_in += d->prompt_bytes_in;
	in->st.prompt_bytes_out += d->prompt_bytes_out;
}
