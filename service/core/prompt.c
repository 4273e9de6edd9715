/*
 * prompt: see prompt.h. Owns the template file format, placeholder
 * expansion and the chat-completion request body. Pure but for
 * prompt_load(), which reads one file at startup.
 *
 * Must never place ticket text anywhere but through {{ticket}}, and there
 * only as JSON serialized by json-c with "/" escaped, so a body cannot close
 * the <ticket> block or start instructions of its own. Customer e-mail, name,
 * id and metadata are never rendered: the model does not need them.
 *
 * Format details beyond prompt.h (see prompts/README.md):
 * - '#' comment lines, blank lines and the one "version:" line form the
 *   header, before the first section. Inside a section every line is prompt
 *   text, '#' included (Markdown headings stay usable).
 * - A line consisting only of "[word]" starts a section; only [system] and
 *   [user] exist, each exactly once. Both are required, also in repair
 *   prompts (whose [system] is never sent).
 * - Section text has its leading blank lines and trailing whitespace trimmed.
 * - {{ticket}}, {{error}} and {{previous}} are allowed in [user] only: the
 *   system prompt stays the same for every ticket (prefix caching) and never
 *   carries outside text.
 */
#include "prompt.h"

#include "dialect.h"
#include "jsonw.h"
#include "textfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define PROMPT_FILE_MAX (256 * 1024)
#define PROMPT_VERSION_MAX 64

enum section { SEC_NONE, SEC_SYSTEM, SEC_USER };

struct placeholder {
	const char *name;
	int user_only;
};

static const struct placeholder placeholders[] = {
	{"categories", 0},
	{"ticket", 1},
	{"error", 1},
	{"previous", 1},
	{"mini", 1},
};

void prompt_free(struct prompt *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->version);
	free(p->system);
	free(p->user);
	free(p);
}

static const struct placeholder *placeholder_find(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(placeholders); i++)
		if (strlen(placeholders[i].name) == len &&
		    memcmp(placeholders[i].name, name, len) == 0)
			return &placeholders[i];
	return NULL;
}

/* Check the {{...}} on one section line. */
static int check_placeholders(const char *line, size_t len, enum section sec, const char *name,
			      int lineno, char *err, size_t errlen)
{
	const char *p = line, *end = line + len, *open, *close;
	const struct placeholder *ph;

	while ((open = memmem(p, (size_t)(end - p), "{{", 2)) != NULL) {
		close = memmem(open + 2, (size_t)(end - open - 2), "}}", 2);
		if (close == NULL) {
			set_err(err, errlen, "%s:%d: unterminated placeholder", name, lineno);
			return -1;
		}
		ph = placeholder_find(open + 2, (size_t)(close - open - 2));
		if (ph == NULL) {
			set_err(err, errlen, "%s:%d: unknown placeholder {{%.*s}}", name, lineno,
				(int)(close - open - 2), open + 2);
			return -1;
		}
		if (ph->user_only && sec != SEC_USER) {
			set_err(err, errlen, "%s:%d: {{%s}} is only allowed in [user]", name,
				lineno, ph->name);
			return -1;
		}
		p = close + 2;
	}
	return 0;
}

/* "[word]" alone on a line (trailing whitespace allowed): returns word length, else 0. */
static size_t section_header(const char *line, size_t len, const char **word)
{
	size_t i;

	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	if (len < 3 || line[0] != '[' || line[len - 1] != ']')
		return 0;
	for (i = 1; i < len - 1; i++)
		if (!isalpha((unsigned char)line[i]) && line[i] != '_')
			return 0;
	*word = line + 1;
	return len - 2;
}

static int valid_version(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PROMPT_VERSION_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

/* Section text without leading blank lines and trailing whitespace; new string. */
static char *section_text(const char *s, size_t len)
{
	const char *e = s + len, *p = s;

	/* Drop whole leading blank lines but keep the first text line's indentation. */
	for (;;) {
		const char *q = p;
		while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < e && *q == '\n')
			p = q + 1;
		else
			break;
	}
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	return xstrndup(p, (size_t)(e - p));
}

static struct prompt *parse(const char *name, const char *text, int version_is_name, char *err,
			    size_t errlen)
{
	struct prompt *p = NULL;
	enum section sec = SEC_NONE;
	const char *line = text, *nl, *sec_start = NULL, *word;
	const char *sec_name[] = {"", "system", "user"};
	int lineno = 0, sec_line[3] = {0, 0, 0}, version_line = 0;
	char **target;
	size_t len, wlen;

	if (name == NULL || text == NULL) {
		set_err(err, errlen, "prompt: no name or text");
		return NULL;
	}
	if (!utf8_valid(text, strlen(text))) {
		set_err(err, errlen, "%s: not valid UTF-8", name);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(name);
	while (*line != '\0') {
		lineno++;
		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		wlen = section_header(line, len, &word);
		if (wlen > 0) {
			enum section next;
			if (wlen == 6 && memcmp(word, "system", 6) == 0) {
				next = SEC_SYSTEM;
			} else if (wlen == 4 && memcmp(word, "user", 4) == 0) {
				next = SEC_USER;
			} else {
				set_err(err, errlen, "%s:%d: unknown section [%.*s]", name, lineno,
					(int)wlen, word);
				goto fail;
			}
			if (p->version == NULL) {
				set_err(err, errlen, "%s:%d: missing version: line before [%s]",
					name, lineno, sec_name[next]);
				goto fail;
			}
			if (sec_line[next] != 0) {
				set_err(err, errlen,
					"%s:%d: duplicate [%s] section (first at line %d)", name,
					lineno, sec_name[next], sec_line[next]);
				goto fail;
			}
			if (sec != SEC_NONE) {
				target = sec == SEC_SYSTEM ? &p->system : &p->user;
				*target = section_text(sec_start, (size_t)(line - sec_start));
			}
			sec = next;
			sec_line[sec] = lineno;
			sec_start = nl ? nl + 1 : line + len;
		} else if (sec != SEC_NONE) {
			if (check_placeholders(line, len, sec, name, lineno, err, errlen) < 0)
				goto fail;
		} else {
			const char *s = line, *e = line + len;
			while (s < e && isspace((unsigned char)*s))
				s++;
			if (s == e || *s == '#') {
				/* blank or comment */
			} else if ((size_t)(e - s) >= 8 && memcmp(s, "version:", 8) == 0) {
				char *v;
				if (p->version != NULL) {
					set_err(err, errlen, "%s:%d: duplicate version: line", name,
						lineno);
					goto fail;
				}
				v = str_trim(xstrndup(s + 8, (size_t)(e - s - 8)));
				if (!valid_version(v)) {
					set_err(err, errlen,
						"%s:%d: version '%s' is not 1-%d characters of "
						"A-Z a-z 0-9 - _ .",
						name, lineno, v, PROMPT_VERSION_MAX);
					free(v);
					goto fail;
				}
				p->version = v;
				version_line = lineno;
			} else {
				set_err(err, errlen,
					"%s:%d: expected a comment, version: or a section header",
					name, lineno);
				goto fail;
			}
		}
		line = nl ? nl + 1 : line + len;
	}
	if (lineno == 0)
		lineno = 1;
	if (sec != SEC_NONE) {
		target = sec == SEC_SYSTEM ? &p->system : &p->user;
		*target = section_text(sec_start, (size_t)(line - sec_start));
	}
	if (p->version == NULL) {
		set_err(err, errlen, "%s:%d: missing version: line", name, lineno);
		goto fail;
	}
	for (int s = SEC_SYSTEM; s <= SEC_USER; s++) {
		const char *body = s == SEC_SYSTEM ? p->system : p->user;
		if (sec_line[s] == 0) {
			set_err(err, errlen, "%s:%d: missing [%s] section", name, lineno,
				sec_name[s]);
			goto fail;
		}
		if (*body == '\0') {
			set_err(err, errlen, "%s:%d: [%s] section is empty", name, sec_line[s],
				sec_name[s]);
			goto fail;
		}
	}
	if (version_is_name && strcmp(p->version, name) != 0) {
		/* Results are stored with the version: a copied file that kept its old
		 * version line would mislabel every answer it produces. */
		set_err(err, errlen, "%s:%d: version '%s' does not match the file name", name,
			version_line, p->version);
		goto fail;
	}
	return p;
fail:
	prompt_free(p);
	return NULL;
}

struct prompt *prompt_parse(const char *name, const char *text, char *err, size_t errlen)
{
	return parse(name, text, 0, err, errlen);
}

struct prompt *prompt_load(const char *dir, const char *name, char *err, size_t errlen)
{
	struct prompt *p = NULL;
	char *path = NULL, *text = NULL;

	if (name == NULL || *name == '\0' || strchr(name, '/') != NULL || name[0] == '.') {
		set_err(err, errlen, "prompt name '%s' is not a plain file stem", name ? name : "");
		return NULL;
	}
	path = xasprintf("%s/%s.prompt", dir, name);
	text = textfile_read(path, PROMPT_FILE_MAX, err, errlen);
	if (text != NULL)
		p = parse(name, text, 1, err, errlen);
	free(text);
	free(path);
	return p;
}

/* A JSON double printed with the fewest digits that read back exactly (0.2, not 0.2000...01). */
static json_object *new_double(double d)
{
	char s[32];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	return json_object_new_double_s(d, s);
}

static json_object *new_string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *string_array(const char *const *v, size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* no_bounds: without minimum/maximum (Azure's strict mode refuses them). */
static json_object *schema_object(const struct taxonomy *tax, int no_bounds)
{
	static const char *const fields[] = {"category", "sentiment", "urgency",    "confidence",
					     "language", "summary",   "draft_reply"};
	static const char *const sentiments[] = {"very_negative", "negative", "neutral",
						 "positive"};
	static const char *const urgencies[] = {"low", "normal", "high", "critical"};
	json_object *schema = json_object_new_object(), *props = json_object_new_object(), *f;

	/* Property order is generation order under constrained decoding: labels first. */
	f = json_object_new_object();
	json_object_object_add(f, "type", json_object_new_string("string"));
	json_object_object_add(f, "enum", string_array(tax->categories, tax->ncategories));
	json_object_object_add(props, "category", f);

	f = json_object_new_object();
	json_object_object_add(f, "type", json_object_new_string("string"));
	json_object_object_add(f, "enum", string_array(sentiments, ARRAY_SIZE(sentiments)));
	json_object_object_add(props, "sentiment", f);

	f = json_object_new_object();
	json_object_object_add(f, "type", json_object_new_string("string"));
	json_object_object_add(f, "enum", string_array(urgencies, ARRAY_SIZE(urgencies)));
	json_object_object_add(props, "urgency", f);

	f = json_object_new_object();
	json_object_object_add(f, "type", json_object_new_string("number"));
	if (!no_bounds) {
		json_object_object_add(f, "minimum", json_object_new_int(0));
		json_object_object_add(f, "maximum", json_object_new_int(1));
	}
	json_object_object_add(props, "confidence", f);

	/* Lengths and the language pattern are left to answer_validate(): "maxLength" and
	 * "pattern" support differs between OpenAI strict mode, vLLM and llama.cpp. */
	for (size_t i = 4; i < ARRAY_SIZE(fields); i++) {
		f = json_object_new_object();
		json_object_object_add(f, "type", json_object_new_string("string"));
		json_object_object_add(props, fields[i], f);
	}

	json_object_object_add(schema, "type", json_object_new_string("object"));
	json_object_object_add(schema, "properties", props);
	json_object_object_add(schema, "required", string_array(fields, ARRAY_SIZE(fields)));
	json_object_object_add(schema, "additionalProperties", json_object_new_boolean(0));
	return schema;
}

char *prompt_triage_schema(const struct taxonomy *tax)
{
	json_object *s = schema_object(tax, 0);
	char *out = xstrdup(json_object_to_json_string_ext(
		s, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(s);
	return out;
}

/*
 * The {{ticket}} expansion: "<ticket>\n{json}\n</ticket>". The JSON keeps
 * json-c's "\/" escaping and escapes newlines, so neither "</ticket>" nor a
 * newline from the ticket can appear between the markers.
 */
static int append_ticket(struct buf *b, const struct ticket *t)
{
	json_object *o = json_object_new_object(), *tags;
	size_t blen = t->body ? t->body_len : 0, plen = t->body_prompt_len;
	int rc;

	if (plen > blen)
		plen = blen;
	json_object_object_add(o, "ticket_id", new_string_or_null(t->ticket_id));
	json_object_object_add(o, "channel",
			       json_object_new_string(ticket_channel_name(t->channel)));
	json_object_object_add(o, "customer_tier",
			       json_object_new_string(customer_tier_name(t->tier)));
	json_object_object_add(o, "language_hint", new_string_or_null(t->language));
	json_object_object_add(o, "subject", json_object_new_string(t->subject ? t->subject : ""));
	json_object_object_add(o, "body",
			       json_object_new_string_len(t->body ? t->body : "", (int)plen));
	json_object_object_add(o, "body_truncated",
			       json_object_new_boolean(t->body_truncated || plen < blen));
	/* A shared reference: the ticket's array is only read, and released below. */
	if (t->tags != NULL && json_object_is_type(t->tags, json_type_array))
		tags = json_object_get(t->tags);
	else
		tags = json_object_new_array();
	json_object_object_add(o, "tags", tags);
	if (buf_append(b, "<ticket>\n", 9) < 0)
		rc = -1;
	else
		rc = buf_appendf(b, "%s\n</ticket>",
				 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return rc;
}

static int append_categories(struct buf *b, const struct taxonomy *tax)
{
	for (size_t i = 0; i < tax->ncategories; i++)
		if (buf_appendf(b, "%s%s", i ? ", " : "", tax->categories[i]) < 0)
			return -1;
	return 0;
}

/*
 * The {{mini}} expansion: the first pass's answer as JSON data (the model's
 * own words are data here too), and why the ticket was escalated.
 */
static int append_mini(struct buf *b, const struct prompt_vars *v)
{
	json_object *o = json_object_new_object();
	int rc;
	if (v->mini) {
		json_object_object_add(o, "category", json_object_new_string(v->mini->category));
		json_object_object_add(o, "sentiment",
				       json_object_new_string(sentiment_name(v->mini->sentiment)));
		json_object_object_add(o, "urgency",
				       json_object_new_string(urgency_name(v->mini->urgency)));
		json_object_object_add(o, "confidence", json_object_new_double(v->mini->confidence));
		json_object_object_add(o, "summary", json_object_new_string(v->mini->summary));
		json_object_object_add(o, "draft_reply",
				       json_object_new_string(v->mini->draft_reply));
	} else {
		json_object_object_add(o, "valid", json_object_new_boolean(0));
		json_object_object_add(o, "error",
				       json_object_new_string(v->mini_error ? v->mini_error : ""));
	}
	json_object_object_add(o, "escalation_reasons",
			       json_object_new_string(v->escalation_reasons ? v->escalation_reasons
									    : ""));
	rc = buf_appendf(b, "<mini_triage>\n%s\n</mini_triage>",
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return rc;
}

/*
 * Expand the placeholders of one section into a new string, in one pass:
 * expanded values are never scanned again, so text from a ticket or a model
 * answer cannot smuggle in a placeholder. Returns NULL with err.
 */
static char *expand(const char *tmpl, const struct prompt_vars *v, size_t max_bytes, char *err,
		    size_t errlen)
{
	struct buf b;
	const char *p = tmpl, *open, *close, *name;
	size_t nlen;
	int rc = 0;

	buf_init(&b, max_bytes);
	while (rc == 0 && (open = strstr(p, "{{")) != NULL) {
		close = strstr(open + 2, "}}");
		if (close == NULL)
			break;
		if (buf_append(&b, p, (size_t)(open - p)) < 0) {
			rc = -1;
			break;
		}
		name = open + 2;
		nlen = (size_t)(close - name);
		if (nlen == 10 && memcmp(name, "categories", 10) == 0) {
			if (v->tax == NULL) {
				set_err(err, errlen, "{{categories}} needs a taxonomy");
				goto fail;
			}
			rc = append_categories(&b, v->tax);
		} else if (nlen == 6 && memcmp(name, "ticket", 6) == 0) {
			if (v->ticket == NULL) {
				set_err(err, errlen, "{{ticket}} needs a ticket");
				goto fail;
			}
			rc = append_ticket(&b, v->ticket);
		} else if (nlen == 5 && memcmp(name, "error", 5) == 0) {
			if (v->error == NULL) {
				set_err(err, errlen, "{{error}} needs an error");
				goto fail;
			}
			rc = buf_append(&b, v->error, strlen(v->error));
		} else if (nlen == 8 && memcmp(name, "previous", 8) == 0) {
			if (v->previous == NULL) {
				set_err(err, errlen, "{{previous}} needs a previous answer");
				goto fail;
			}
			rc = buf_append(&b, v->previous, strlen(v->previous));
		} else if (nlen == 4 && memcmp(name, "mini", 4) == 0) {
			rc = append_mini(&b, v);
		} else {
			set_err(err, errlen, "unknown placeholder {{%.*s}}", (int)nlen, name);
			goto fail;
		}
		p = close + 2;
	}
	if (rc == 0)
		rc = buf_append(&b, p, strlen(p));
	if (rc < 0) {
		set_err(err, errlen, "rendered request exceeds %zu bytes", max_bytes);
		goto fail;
	}
	return buf_steal(&b);
fail:
	buf_cleanup(&b);
	return NULL;
}

static int add_message(json_object *messages, const char *role, const char *tmpl,
		       const struct prompt_vars *v, size_t max_bytes, char *err, size_t errlen)
{
	json_object *m;
	char *content = expand(tmpl, v, max_bytes, err, errlen);

	if (content == NULL)
		return -1;
	m = json_object_new_object();
	json_object_object_add(m, "role", json_object_new_string(role));
	json_object_object_add(m, "content", json_object_new_string(content));
	json_object_array_add(messages, m);
	free(content);
	return 0;
}

static json_object *response_format(const struct model_config *mc,
				       const struct dialect_params *dp, const struct taxonomy *tax)
{
	json_object *rf, *js;

	switch (dialect_start_mode(mc)) {
	case RF_JSON_SCHEMA:
		js = json_object_new_object();
		json_object_object_add(js, "name", json_object_new_string("triage"));
		json_object_object_add(js, "strict", json_object_new_boolean(1));
		json_object_object_add(js, "schema", schema_object(tax, dp->schema_no_bounds));
		rf = json_object_new_object();
		json_object_object_add(rf, "type", json_object_new_string("json_schema"));
		json_object_object_add(rf, "json_schema", js);
		return rf;
	case RF_JSON_OBJECT:
		rf = json_object_new_object();
		json_object_object_add(rf, "type", json_object_new_string("json_object"));
		return rf;
	case RF_NONE:
	default:
		return NULL;
	}
}

char *prompt_render_request(const struct prompt *p, const struct prompt *repair,
			    const struct model_config *mc, const struct prompt_vars *v,
			    size_t max_bytes, char *err, size_t errlen)
{
	json_object *req = NULL, *messages, *rf, *m;
	struct dialect_params dp;
	const char *s;
	char *out = NULL;
	size_t len;

	dialect_params_for(mc, &dp);
	if (dialect_start_mode(mc) == RF_JSON_SCHEMA && v->tax == NULL) {
		set_err(err, errlen, "json_schema response format needs a taxonomy");
		goto out;
	}
	if (repair != NULL && v->previous == NULL) {
		set_err(err, errlen, "a repair needs the previous answer");
		goto out;
	}
	req = json_object_new_object();
	json_object_object_add(req, "model", json_object_new_string(mc->model ? mc->model : ""));
	messages = json_object_new_array();
	json_object_object_add(req, "messages", messages);
	if (add_message(messages, "system", p->system, v, max_bytes, err, errlen) < 0 ||
	    add_message(messages, "user", p->user, v, max_bytes, err, errlen) < 0)
		goto out;
	if (repair != NULL) {
		m = json_object_new_object();
		json_object_object_add(m, "role", json_object_new_string("assistant"));
		json_object_object_add(m, "content", json_object_new_string(v->previous));
		json_object_array_add(messages, m);
		if (add_message(messages, "user", repair->user, v, max_bytes, err, errlen) < 0)
			goto out;
	}
	/* only what the dialect's servers accept (dialect.h): a reasoning model
	 * refuses max_tokens and any temperature but its default */
	if (dp.send_temperature)
		json_object_object_add(req, "temperature", new_double(dp.temperature));
	json_object_object_add(req, dp.tokens_key, json_object_new_int64(dp.max_tokens));
	if (dp.reasoning_effort != NULL)
		json_object_object_add(req, "reasoning_effort",
				       json_object_new_string(dp.reasoning_effort));
	if (dp.verbosity != NULL)
		json_object_object_add(req, "verbosity", json_object_new_string(dp.verbosity));
	rf = response_format(mc, &dp, v->tax);
	if (rf != NULL)
		json_object_object_add(req, "response_format", rf);
	s = json_object_to_json_string_ext(req,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	if (len > max_bytes) {
		set_err(err, errlen, "rendered request exceeds %zu bytes", max_bytes);
		goto out;
	}
	out = xstrndup(s, len);
out:
	json_object_put(req);
	return out;
}

/* ---- the per-prompt frame ------------------------------------------------- */

#define FRAME_MARK "\x7f@@triaged-user-content@@\x7f"

struct prompt_frame {
	char *head; /* the request up to the user message's content */
	char *tail; /* after it */
	size_t head_len, tail_len;
};

/* 1 if tmpl has no placeholder but {{categories}}: the same text for every ticket. */
static int static_template(const char *tmpl)
{
	const char *p = tmpl, *open, *close;
	while ((open = strstr(p, "{{")) != NULL && (close = strstr(open + 2, "}}")) != NULL) {
		if (close - open - 2 != 10 || memcmp(open + 2, "categories", 10) != 0)
			return 0;
		p = close + 2;
	}
	return 1;
}

struct prompt_frame *prompt_frame_new(const struct prompt *p, const struct model_config *mc,
				      const struct taxonomy *tax, char *err, size_t errlen)
{
	struct prompt tmp = *p;
	struct prompt_vars v = {.tax = tax};
	struct prompt_frame *f;
	char *s, *m;
	size_t mlen = sizeof(FRAME_MARK) - 1;

	if (!static_template(p->system)) {
		set_err(err, errlen, "the system text of %s depends on the ticket", p->name);
		return NULL;
	}
	tmp.user = (char *)FRAME_MARK;
	s = prompt_render_request(&tmp, NULL, mc, &v, 4u << 20, err, errlen);
	if (s == NULL)
		return NULL;
	m = strstr(s, FRAME_MARK);
	if (m == NULL || strstr(m + mlen, FRAME_MARK) != NULL) {
		set_err(err, errlen, "%s: the frame marker is not found exactly once", p->name);
		free(s);
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->head_len = (size_t)(m - s);
	f->head = xstrndup(s, f->head_len);
	f->tail = xstrdup(m + mlen);
	f->tail_len = strlen(f->tail);
	free(s);
	return f;
}

void prompt_frame_free(struct prompt_frame *f)
{
	if (f == NULL)
		return;
	free(f->head);
	free(f->tail);
	free(f);
}

char *prompt_frame_render(const struct prompt_frame *f, const struct prompt *p,
			  const struct prompt_vars *v, size_t max_bytes, char *err, size_t errlen)
{
	struct buf b;
	char *content = expand(p->user, v, max_bytes, err, errlen);

	if (content == NULL)
		return NULL;
	buf_init(&b, max_bytes);
	if (buf_append(&b, f->head, f->head_len) < 0 ||
	    json_escape_append(&b, content, strlen(content)) < 0 ||
	    buf_append(&b, f->tail, f->tail_len) < 0) {
		set_err(err, errlen, "rendered request exceeds %zu bytes", max_bytes);
		buf_cleanup(&b);
		free(content);
		return NULL;
	}
	free(content);
	/* An exact copy: the buffer grew by doubling and the request lives as long
	 * as its model call (2,048 of them: 8 MB saved at the benchmark's 4 KB). */
	{
		char *out = xstrndup(b.data, b.len);
		buf_cleanup(&b);
		return out;
	}
}
