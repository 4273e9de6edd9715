/*
 * feedback: one helpdesk event from feedback.topic in, at most one feedback
 * item out: what an agent did in the helpdesk, in the shape the SQL
 * function triaged_feedback(jsonb) takes (schema/functions/
 * triaged_feedback.sql). Pure: json-c and mailtext only, no I/O, no clock.
 *
 *   kind "reply":  a public reply an agent sent (it becomes accepted /
 *                  edited / replaced against the draft, in SQL)
 *   kind "fields": labels the agent changed (urgency from the helpdesk's
 *                  priority, category from a "category:<name>" tag)
 * Each item carries the helpdesk's own event identity (event_id), which
 * makes a redelivery a no-op in the database.
 *
 * Formats (intake.format, the same names as the intake):
 *   triaged   {"event_id", "ticket_id", "source"?, "kind", "agent"?,
 *              "reply" | "fields": {"category"?, "urgency"?, "sentiment"?}}
 *   zendesk   zen:event-type:ticket.comment_added by staff, public (reply);
 *             ticket.priority_changed (urgency: LOW low, NORMAL normal,
 *             HIGH high, URGENT critical); ticket.tags_changed with a tag
 *             "category:<name>" added (category)
 *   zammad    trigger webhook whose article is by an Agent, not internal
 *             (reply); the ticket's priority ("1 low", "2 normal", "3 high")
 *             when the article is absent (fields, keyed by updated_at)
 *   intercom  conversation.admin.replied (reply: the last admin part);
 *             conversation.priority.updated (priority -> high, else normal)
 * Anything else is skipped with a reason (counted by the caller).
 */
#ifndef TRIAGED_FEEDBACK_H
#define TRIAGED_FEEDBACK_H

#include <stddef.h>

#include <json-c/json.h>

#include "intake.h"

enum feedback_outcome { FEEDBACK_ITEM, FEEDBACK_SKIP };

struct feedback_result {
	enum feedback_outcome outcome;
	json_object *item; /* FEEDBACK_ITEM: a new reference, the caller's (json_object_put) */
	char reason[256];  /* FEEDBACK_SKIP: why */
};

/* Map one message (msg NULL: a tombstone, skipped). Fills *r; never fails otherwise. */
void feedback_map(enum intake_format f, const char *msg, size_t len, struct feedback_result *r);

#endif
