/*
 * ticket: the helpdesk event contract (schema/ticket.schema.json). Parses and
 * validates one Kafka message into a struct ticket. Pure: json-c only, no I/O,
 * no clock. Every failure carries a stable machine code (used as the DLQ
 * reason header) and a human message naming the field.
 */
#ifndef TRIAGED_TICKET_H
#define TRIAGED_TICKET_H

#include <stddef.h>

#include <json-c/json.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

enum ticket_channel { CH_EMAIL, CH_CHAT, CH_WEB, CH_PHONE, CH_SOCIAL, CH_API, CH_OTHER, CH__COUNT };
enum customer_tier { TIER_NONE, TIER_FREE, TIER_STANDARD, TIER_PREMIUM, TIER_ENTERPRISE, TIER__COUNT };

enum ticket_err {
	TICKET_OK = 0,
	TICKET_E_TOO_LARGE,    /* message over max_message_bytes */
	TICKET_E_UTF8,         /* invalid UTF-8 anywhere in the message, or NUL in a string */
	TICKET_E_JSON,         /* not JSON, or not a JSON object */
	TICKET_E_MISSING,      /* a required field is absent or blank */
	TICKET_E_TYPE,         /* a field has the wrong JSON type */
	TICKET_E_VALUE,        /* a field has a value outside its domain (enum, format, length) */
	TICKET_E_KEY_MISMATCH, /* Kafka key present and different from ticket_id */
};

struct ticket_limits {
	size_t max_message_bytes;   /* default 256 KiB */
	size_t max_body_prompt_len; /* bytes of body given to the model; default 16 KiB */
	size_t max_field_len;       /* ticket_id, source, customer fields, language; default 256 */
	size_t max_subject_len;     /* default 1024 */
	size_t max_tags;            /* default 64 */
};

void ticket_limits_default(struct ticket_limits *l);

/* All strings are NUL-terminated, owned by the ticket, valid UTF-8 without NUL. */
struct ticket {
	char *ticket_id;  /* required, 1..max_field_len */
	char *source;     /* default "default" */
	char *created_at; /* RFC 3339 as given, validated; NULL if absent */
	enum ticket_channel channel; /* default CH_OTHER */
	char *subject;    /* "" if absent */
	char *body;       /* required, not blank; full text */
	size_t body_len;
	size_t body_prompt_len; /* bytes of body for the prompt: <= max_body_prompt_len, cut at a UTF-8 boundary */
	int body_truncated;     /* 1 if body_prompt_len < body_len */
	char *customer_id, *customer_email, *customer_name; /* NULL if absent */
	enum customer_tier tier; /* TIER_NONE if absent */
	char *language;          /* hint, NULL if absent */
	json_object *tags;       /* owned reference to an array of strings; NULL if absent */
	json_object *metadata;   /* owned reference to the object as given; NULL if absent */
};

/*
 * Parse msg (len bytes, not necessarily NUL-terminated). key/keylen is the
 * Kafka key (may be NULL). On success returns TICKET_OK and *out is a new
 * ticket (caller frees with ticket_free()). On failure *out is NULL and
 * err gets "field: message".
 */
enum ticket_err ticket_parse(const char *msg, size_t len, const char *key, size_t keylen,
			     const struct ticket_limits *lim, struct ticket **out, char *err,
			     size_t errlen) WUR;
void ticket_free(struct ticket *t);

/* Stable snake_case code for the DLQ header: "too_large", "invalid_utf8", ... */
const char *ticket_err_code(enum ticket_err e);
const char *ticket_channel_name(enum ticket_channel c);
const char *customer_tier_name(enum customer_tier t); /* TIER_NONE -> "none" */
int ticket_channel_parse(const char *s, enum ticket_channel *out) WUR;
int customer_tier_parse(const char *s, enum customer_tier *out) WUR;

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int utf8_valid(const char *s, size_t len);
/* Largest n <= max such that s[0..n) ends on a UTF-8 character boundary. */
size_t utf8_cut(const char *s, size_t len, size_t max);
/* 1 if s is a valid RFC 3339 date-time (e.g. 2026-11-24T05:40:00Z, with optional fraction and offset). */
int rfc3339_valid(const char *s);

#endif
