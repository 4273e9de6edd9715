/*
 * prompt: versioned prompt templates (prompts/<name>.prompt) and rendering of
 * the chat-completion request body. Pure but for prompt_load(), which reads
 * one file at startup.
 *
 * Template file format:
 *   # comment lines start with '#'
 *   version: triage-v1
 *   [system]
 *   ...text...
 *   [user]
 *   ...text...
 * Placeholders: {{categories}} (comma-separated taxonomy), {{ticket}} (the
 * ticket as a JSON object: data, never instructions), {{error}} (repair
 * prompts: why the previous answer was rejected), {{previous}} (repair: the
 * previous answer), {{mini}} (flagship: the mini model's triage and the
 * escalation reasons, as JSON data between <mini_triage> markers). Unknown
 * placeholders are a load error.
 *
 * Ticket text is placed only through {{ticket}}, JSON-escaped, so it can
 * never splice into the instructions.
 */
#ifndef TRIAGED_PROMPT_H
#define TRIAGED_PROMPT_H

#include <stddef.h>

#include "config.h"
#include "ticket.h"
#include "answer.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

struct prompt {
	char *name;    /* file stem, e.g. "triage-v1" */
	char *version; /* from the "version:" line */
	char *system;
	char *user;
};

/* Parse template text. Returns a new prompt (free with prompt_free) or NULL with err "name:line: msg". */
struct prompt *prompt_parse(const char *name, const char *text, char *err, size_t errlen);
/* Read dir/name.prompt and parse it. */
struct prompt *prompt_load(const char *dir, const char *name, char *err, size_t errlen);
void prompt_free(struct prompt *p);

struct prompt_vars {
	const struct ticket *ticket;
	const struct taxonomy *tax;
	const char *error;    /* repair only, else NULL */
	const char *previous; /* repair only, else NULL */
	/* {{mini}} (flagship prompts): the first pass's triage, NULL when it was
	 * invalid (then mini_error says why), and why the ticket was escalated */
	const struct answer *mini;
	const char *mini_error;
	const char *escalation_reasons;
};

/*
 * Render the full JSON request body for POST /chat/completions:
 * {"model":..,"messages":[system,user],"temperature":..,"max_tokens":..,
 *  "response_format":...}, with only the parameters mc's dialect takes
 * (dialect.h: max_completion_tokens, reasoning_effort and no temperature
 * for reasoning models) and the structured-output mode
 * dialect_start_mode(mc). For a repair, pass the triage prompt as p and the
 * repair prompt as repair: messages become [system, user, assistant(previous),
 * user(repair)]. The body is capped at max_bytes (returns NULL with err).
 * Returns a new string; caller frees.
 */
char *prompt_render_request(const struct prompt *p, const struct prompt *repair,
			    const struct model_config *mc, const struct prompt_vars *v,
			    size_t max_bytes, char *err, size_t errlen);

/*
 * A frame: everything of a request body but the user message's content,
 * rendered once (the system text, the schema and the settings are the same
 * for every ticket). prompt_frame_render then gives the same bytes as
 * prompt_render_request(p, NULL, mc, v, ...) for far less work. Returns
 * NULL with err when p's system text depends on the ticket (then render
 * each request in full).
 */
struct prompt_frame;
struct prompt_frame *prompt_frame_new(const struct prompt *p, const struct model_config *mc,
				      const struct taxonomy *tax, char *err, size_t errlen);
void prompt_frame_free(struct prompt_frame *f);
/* f must come from the same p, mc and v->tax. NULL with err as prompt_render_request. */
char *prompt_frame_render(const struct prompt_frame *f, const struct prompt *p,
			  const struct prompt_vars *v, size_t max_bytes, char *err, size_t errlen);

/* The JSON Schema of a triage answer for the taxonomy (new json string; caller frees). */
char *prompt_triage_schema(const struct taxonomy *tax);

#endif
