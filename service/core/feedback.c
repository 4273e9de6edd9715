/*
 * feedback: helpdesk events -> triaged_feedback items (see feedback.h).
 * Owns the knowledge of which helpdesk event means "an agent answered" or
 * "an agent changed a field"; never decides what that means for the review
 * (the SQL function does, as the review functions would).
 */
#include "feedback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailtext.h"

#define REPLY_CAP 20000 /* review_approve's cap on a reply, in characters (bytes here) */

static void skip(struct feedback_result *r, const char *why, const char *what)
{
	r->outcome = FEEDBACK_SKIP;
	snprintf(r->reason, sizeof(r->reason), "%s%s", why, what ? what : "");
}

/* The value at a JSON pointer (borrowed), NULL when absent. */
static json_object *at(json_object *root, const char *ptr)
{
	json_object *v = NULL;
	if (json_pointer_get(root, ptr, &v) != 0)
		return NULL;
	return v;
}

/* A string or number at ptr as text (borrowed from json-c), NULL when absent or other. */
static const char *text_at(json_object *root, const char *ptr)
{
	json_object *v = at(root, ptr);
	if (v == NULL)
		return NULL;
	switch (json_object_get_type(v)) {
	case json_type_string:
	case json_type_int:
		return json_object_get_string(v);
	default:
		return NULL;
	}
}

static int true_at(json_object *root, const char *ptr)
{
	json_object *v = at(root, ptr);
	return v != NULL && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static json_object *new_item(const char *source, const char *event_id, const char *ticket_id,
			     const char *kind, const char *agent)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "source", json_object_new_string(source));
	json_object_object_add(o, "event_id", json_object_new_string(event_id));
	json_object_object_add(o, "ticket_id", json_object_new_string(ticket_id));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	if (agent != NULL && agent[0] != '\0')
		json_object_object_add(o, "agent", json_object_new_string(agent));
	return o;
}

/* The reply as the customer got it: HTML turned to text; over the cap: skipped. */
static int add_reply(struct feedback_result *r, json_object *item, const char *body)
{
	size_t n = strlen(body), outlen = 0;
	char *text = NULL;

	if (mailtext_looks_html(body, n))
		text = mailtext_html_to_text(body, n, &outlen);
	else
		text = strdup(body);
	if (text == NULL || mailtext_blank(text, strlen(text))) {
		free(text);
		skip(r, "reply without text", NULL);
		return -1;
	}
	if (strlen(text) > REPLY_CAP) {
		free(text);
		skip(r, "reply over 20000 bytes", NULL);
		return -1;
	}
	json_object_object_add(item, "reply", json_object_new_string(text));
	free(text);
	return 0;
}

static void emit(struct feedback_result *r, json_object *item)
{
	r->outcome = FEEDBACK_ITEM;
	r->item = item;
}

static void add_field(json_object *item, const char *field, const char *value)
{
	json_object *fields;
	if (!json_object_object_get_ex(item, "fields", &fields)) {
		fields = json_object_new_object();
		json_object_object_add(item, "fields", fields);
	}
	json_object_object_add(fields, field, json_object_new_string(value));
}

/* ---- triaged's own feedback format ---- */

static void map_triaged(json_object *root, struct feedback_result *r)
{
	const char *eid = text_at(root, "/event_id"), *tid = text_at(root, "/ticket_id");
	const char *kind = text_at(root, "/kind"), *src = text_at(root, "/source");
	json_object *item, *fields;

	if (eid == NULL || eid[0] == '\0' || tid == NULL || tid[0] == '\0') {
		skip(r, "no event_id or ticket_id", NULL);
		return;
	}
	if (kind == NULL || (strcmp(kind, "reply") != 0 && strcmp(kind, "fields") != 0)) {
		skip(r, "kind is not reply or fields", NULL);
		return;
	}
	item = new_item(src && src[0] ? src : "default", eid, tid, kind, text_at(root, "/agent"));
	if (strcmp(kind, "reply") == 0) {
		const char *body = text_at(root, "/reply");
		if (body == NULL || add_reply(r, item, body) < 0) {
			if (body == NULL)
				skip(r, "reply missing", NULL);
			json_object_put(item);
			return;
		}
	} else {
		static const char *const names[] = {"category", "urgency", "sentiment"};
		fields = at(root, "/fields");
		for (size_t i = 0; fields && i < sizeof(names) / sizeof(names[0]); i++) {
			json_object *v;
			if (json_object_object_get_ex(fields, names[i], &v) &&
			    json_object_is_type(v, json_type_string))
				add_field(item, names[i], json_object_get_string(v));
		}
		if (!json_object_object_get_ex(item, "fields", &fields)) {
			skip(r, "no field to correct", NULL);
			json_object_put(item);
			return;
		}
	}
	emit(r, item);
}

/* ---- Zendesk: ticket events ---- */

static const char *zendesk_urgency(const char *p)
{
	static const char *const map[][2] = {
	    {"LOW", "low"}, {"NORMAL", "normal"}, {"HIGH", "high"}, {"URGENT", "critical"}};
	for (size_t i = 0; p && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(p, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

static void map_zendesk(json_object *root, struct feedback_result *r)
{
	const char *type = text_at(root, "/type"), *eid = text_at(root, "/id");
	const char *tid = text_at(root, "/detail/id");
	json_object *item;

	if (type == NULL || strncmp(type, "zen:event-type:ticket.", 22) != 0) {
		skip(r, "zendesk: not a ticket event", NULL);
		return;
	}
	if (eid == NULL || tid == NULL) {
		skip(r, "zendesk: no event id or ticket id", NULL);
		return;
	}
	type += 22;
	if (strcmp(type, "comment_added") == 0) {
		const char *body = text_at(root, "/event/comment/body");
		if (!true_at(root, "/event/comment/author/is_staff")) {
			skip(r, "zendesk: comment by the customer", NULL);
			return;
		}
		if (!true_at(root, "/event/comment/is_public")) {
			skip(r, "zendesk: internal note", NULL);
			return;
		}
		if (body == NULL) {
			skip(r, "zendesk: comment without body", NULL);
			return;
		}
		item = new_item("zendesk", eid, tid, "reply",
				text_at(root, "/event/comment/author/name"));
		if (add_reply(r, item, body) < 0) {
			json_object_put(item);
			return;
		}
		emit(r, item);
	} else if (strcmp(type, "priority_changed") == 0) {
		const char *u = zendesk_urgency(text_at(root, "/event/current"));
		if (u == NULL) {
			skip(r, "zendesk: priority removed or unknown", NULL);
			return;
		}
		item = new_item("zendesk", eid, tid, "fields", text_at(root, "/detail/actor_id"));
		add_field(item, "urgency", u);
		emit(r, item);
	} else if (strcmp(type, "tags_changed") == 0) {
		json_object *added = at(root, "/event/tags_added");
		const char *cat = NULL;
		for (size_t i = 0; added && json_object_is_type(added, json_type_array) &&
				   i < json_object_array_length(added);
		     i++) {
			const char *tag =
			    json_object_get_string(json_object_array_get_idx(added, i));
			if (tag && strncmp(tag, "category:", 9) == 0 && tag[9] != '\0')
				cat = tag + 9;
		}
		if (cat == NULL) {
			skip(r, "zendesk: no category tag added", NULL);
			return;
		}
		item = new_item("zendesk", eid, tid, "fields", text_at(root, "/detail/actor_id"));
		add_field(item, "category", cat);
		emit(r, item);
	} else {
		skip(r, "zendesk: nothing to learn from ticket.", type);
	}
}

/* ---- Zammad: trigger webhook ---- */

static void map_zammad(json_object *root, struct feedback_result *r)
{
	const char *tid = text_at(root, "/ticket/id"), *sender = text_at(root, "/article/sender");
	json_object *item;
	char eid[128];

	if (tid == NULL) {
		skip(r, "zammad: no ticket in the payload", NULL);
		return;
	}
	if (at(root, "/article") == NULL) {
		const char *prio = text_at(root, "/ticket/priority"), *u = NULL;
		const char *upd = text_at(root, "/ticket/updated_at");
		if (prio && strstr(prio, "low"))
			u = "low";
		else if (prio && strstr(prio, "normal"))
			u = "normal";
		else if (prio && strstr(prio, "high"))
			u = "high";
		if (u == NULL || upd == NULL) {
			skip(r, "zammad: ticket change without a priority", NULL);
			return;
		}
		snprintf(eid, sizeof(eid), "ticket:%s:%s", tid, upd);
		item = new_item("zammad", eid, tid, "fields", text_at(root, "/ticket/updated_by"));
		add_field(item, "urgency", u);
		emit(r, item);
		return;
	}
	if (sender == NULL || strcmp(sender, "Agent") != 0) {
		skip(r, "zammad: article not by an agent", NULL);
		return;
	}
	if (true_at(root, "/article/internal")) {
		skip(r, "zammad: internal note", NULL);
		return;
	}
	if (text_at(root, "/article/id") == NULL || text_at(root, "/article/body") == NULL) {
		skip(r, "zammad: article without id or body", NULL);
		return;
	}
	snprintf(eid, sizeof(eid), "article:%s", text_at(root, "/article/id"));
	item = new_item("zammad", eid, tid, "reply", text_at(root, "/article/from"));
	if (add_reply(r, item, text_at(root, "/article/body")) < 0) {
		json_object_put(item);
		return;
	}
	emit(r, item);
}

/* ---- Intercom: conversation notifications ---- */

static void map_intercom(json_object *root, struct feedback_result *r)
{
	const char *topic = text_at(root, "/topic"), *eid = text_at(root, "/id");
	const char *tid = text_at(root, "/data/item/id");
	json_object *item, *parts;

	if (topic == NULL || eid == NULL || tid == NULL) {
		skip(r, "intercom: not a conversation notification", NULL);
		return;
	}
	if (strcmp(topic, "conversation.admin.replied") == 0) {
		json_object *last = NULL;
		char ptr[96];
		parts = at(root, "/data/item/conversation_parts/conversation_parts");
		for (size_t i = 0; parts && json_object_is_type(parts, json_type_array) &&
				   i < json_object_array_length(parts);
		     i++) {
			json_object *p = json_object_array_get_idx(parts, i);
			const char *pt = text_at(p, "/part_type"), *au = text_at(p, "/author/type");
			if (pt && strcmp(pt, "comment") == 0 && au && strcmp(au, "admin") == 0)
				last = p;
		}
		if (last == NULL || text_at(last, "/body") == NULL) {
			skip(r, "intercom: no admin comment in the reply", NULL);
			return;
		}
		snprintf(ptr, sizeof(ptr), "%s", "/author/name");
		item = new_item("intercom", eid, tid, "reply", text_at(last, ptr));
		if (add_reply(r, item, text_at(last, "/body")) < 0) {
			json_object_put(item);
			return;
		}
		emit(r, item);
	} else if (strcmp(topic, "conversation.priority.updated") == 0) {
		const char *p = text_at(root, "/data/item/priority");
		if (p == NULL) {
			skip(r, "intercom: no priority", NULL);
			return;
		}
		item = new_item("intercom", eid, tid, "fields", NULL);
		add_field(item, "urgency", strcmp(p, "priority") == 0 ? "high" : "normal");
		emit(r, item);
	} else {
		skip(r, "intercom: nothing to learn from ", topic);
	}
}

void feedback_map(enum intake_format f, const char *msg, size_t len, struct feedback_result *r)
{
	json_tokener *tok;
	json_object *root;

	memset(r, 0, sizeof(*r));
	if (msg == NULL) {
		skip(r, "tombstone", NULL);
		return;
	}
	tok = json_tokener_new_ex(32);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, msg, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		json_tokener_free(tok);
		skip(r, "not a JSON object", NULL);
		return;
	}
	json_tokener_free(tok);
	switch (f) {
	case INTAKE_ZENDESK:
		map_zendesk(root, r);
		break;
	case INTAKE_ZAMMAD:
		map_zammad(root, r);
		break;
	case INTAKE_INTERCOM:
		map_intercom(root, r);
		break;
	default: /* triaged, and custom (its mapping file describes tickets, not feedback) */
		map_triaged(root, r);
		break;
	}
	json_object_put(root);
}
