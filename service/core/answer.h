/*
 * answer: the model's answer. Parses an OpenAI-compatible chat-completion
 * response envelope and validates the triage JSON it carries, strictly and
 * locally. Pure: json-c only.
 */
#ifndef TRIAGED_ANSWER_H
#define TRIAGED_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

enum sentiment { SENT_VERY_NEGATIVE, SENT_NEGATIVE, SENT_NEUTRAL, SENT_POSITIVE, SENT__COUNT };
enum urgency { URG_LOW, URG_NORMAL, URG_HIGH, URG_CRITICAL, URG__COUNT };

struct taxonomy {
	const char *const *categories; /* borrowed */
	size_t ncategories;
};

struct llm_usage {
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int64_t cached_tokens; /* usage.prompt_tokens_details.cached_tokens, 0 if absent */
	/* usage.completion_tokens_details.reasoning_tokens, 0 if absent: part of
	 * completion_tokens (billed as output), kept apart to show what thinking costs */
	int64_t reasoning_tokens;
};

#define ANSWER_MAX_SUMMARY 512
#define ANSWER_MAX_DRAFT 8192
#define ANSWER_MAX_LANGUAGE 35

struct answer {
	char *category; /* one of the taxonomy, owned */
	enum sentiment sentiment;
	enum urgency urgency;
	double confidence; /* 0..1 */
	char *language;    /* owned; BCP 47-ish, 2..35 chars */
	char *summary;     /* owned; one line (newlines are rejected) */
	char *draft_reply; /* owned */
};

void answer_init(struct answer *t);
void answer_cleanup(struct answer *t);

/*
 * Parse a chat-completion response body. On success returns 0, *content is a
 * new string with choices[0].message.content (caller frees) and usage is
 * filled (zeros where absent). On failure returns -1, err says why
 * ("no choices", "finish_reason=length", "content is not a string", ...).
 * An API error object ({"error":{...}}) is a failure with its message.
 */
int answer_parse_completion(const char *body, size_t len, char **content, struct llm_usage *usage,
			    char *err, size_t errlen) WUR;

/*
 * Validate the assistant content as a triage answer: optional surrounding
 * whitespace and one ``` or ```json code fence are tolerated; everything else
 * must be exactly one JSON object with category (in tax), sentiment, urgency,
 * confidence (number 0..1), language, summary, draft_reply; unknown extra
 * fields are ignored. On success returns 0 and fills *out (cleanup with
 * triage_cleanup). On failure returns -1 and err names the field
 * ("category: 'foo' is not in the taxonomy").
 */
int answer_validate(const char *content, const struct taxonomy *tax, struct answer *out, char *err,
		    size_t errlen) WUR;

const char *sentiment_name(enum sentiment s);
const char *urgency_name(enum urgency u);
int sentiment_parse(const char *s, enum sentiment *out) WUR;
int urgency_parse(const char *s, enum urgency *out) WUR;

#endif
