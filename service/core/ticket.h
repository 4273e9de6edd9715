/*
 * ticket: the helpdesk event contract (schema/ticket.schema.json). Parses and
 * validates one Kafka message into a struct ticket. Pure: json-c only, no I/O,
 * no clock. Every failure carries a stable machine code (used as the DLQ
 * reason header) and a human message naming the field.
 */
#ifndef TRIAGED_TICKET_H
#define TRIAGED_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"
#include "ticket_time.h"
#include "ticket_utf8.h"

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

/*
 * Lenient optional fields: an unknown or unusable value is kept as given
 * (in ticket.original), mapped to a default, and flagged here.
 */
enum ticket_flag {
	TICKET_F_TIER = 1u << 0,       /* customer.tier not a contract tier: tier_map, else standard */
	TICKET_F_CHANNEL = 1u << 1,    /* channel unknown: other */
	TICKET_F_LANGUAGE = 1u << 2,   /* language not a short string: none */
	TICKET_F_CREATED_AT = 1u << 3, /* created_at not a storable RFC 3339 time: the Kafka time */
	TICKET_F_CONTROLS = 1u << 4,   /* C0/C1 controls stripped from subject, body or customer */
};
#define TICKET_FLAG__COUNT 5
/* "tier", "channel", "language", "created_at", "controls" for bit index i; NULL past the end. */
const char *ticket_flag_name(int i);

/* A helpdesk's own plan names onto contract tiers ("pro=premium, team=standard"). */
#define TIER_MAP_MAX 32
struct tier_map {
	size_t n;
	struct {
		char name[64];
		enum customer_tier tier;
	} e[TIER_MAP_MAX];
};
/* Parse "name=tier, name=tier" (empty: no entries). 0, or -1 with err. */
int tier_map_parse(const char *s, struct tier_map *m, char *err, size_t errlen) WUR;

struct ticket_opts {
	struct ticket_limits lim;
	const struct tier_map *tier_map; /* NULL: none */
	int64_t kafka_ts_ms;		 /* the message's Kafka timestamp; < 0: none */
};
void ticket_opts_default(struct ticket_opts *o);

/* All strings are NUL-terminated, owned by the ticket, valid UTF-8 without NUL. */
struct ticket {
	char *ticket_id;  /* required, 1..max_field_len */
	char *source;     /* default "default" */
	char *created_at; /* the instant in UTC, YYYY-MM-DDTHH:MM:SS[.ffffff]Z, storable by
			   * PostgreSQL; from the Kafka timestamp when flagged; NULL if none */
	enum ticket_channel channel; /* default CH_OTHER */
	char *subject;    /* "" if absent; controls stripped */
	char *body;       /* required, not blank; full text as shown to agents (controls
			   * stripped, HTML turned to text by the helpdesk formats) */
	size_t body_len;
	size_t body_prompt_len; /* bytes of body for the prompt: <= max_body_prompt_len, cut at a UTF-8 boundary */
	int body_truncated;     /* 1 if body_prompt_len < body_len */
	char *customer_id, *customer_email, *customer_name; /* NULL if absent */
	enum customer_tier tier; /* TIER_NONE if absent */
	char *language;          /* hint, NULL if absent */
	json_object *tags;       /* owned reference to an array of strings; NULL if absent */
	/* metadata's JSON text, byte for byte; NULL if absent. Only the text is kept: a
	 * parsed tree costs about 1 KiB a ticket, held while the ticket is in flight */
	char *metadata_json;
	unsigned flags;		 /* enum ticket_flag bits */
	/*
	 * What was given, where it differs from what is stored or needs keeping
	 * beside it: {"created_at": "...", "customer.tier": "pro", "body": ...}.
	 * Strings as given; values of another JSON type as their JSON text.
	 * Owned; NULL when empty.
	 */
	json_object *original;
	/*
	 * The body for the prompt: quoted reply chains and signatures cut
	 * (mailtext_cut_quoted). NULL: the body itself. prompt_cut_bytes is
	 * body_len - prompt_body_len.
	 */
	char *prompt_body;
	size_t prompt_body_len, prompt_cut_bytes;
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
/* ticket_parse with the lenient-field options and the Kafka timestamp. */
enum ticket_err ticket_parse_ex(const char *msg, size_t len, const char *key, size_t keylen,
				const struct ticket_opts *opts, struct ticket **out, char *err,
				size_t errlen) WUR;
void ticket_free(struct ticket *t);

/*
 * Free what only the stored copy of the ticket reads (original, metadata_json)
 * once the claim's row holds it: a ticket parked for a flagship slot keeps
 * only what triage needs. ticket_to_json after this has no metadata or original.
 */
void ticket_drop_stored_only(struct ticket *t);

/* Cut quoted replies and signatures from t->body into t->prompt_body (see mailtext.h). */
void ticket_cut_prompt(struct ticket *t);

/* The ticket as it would be stored, as a new JSON object (check-ticket; caller puts it). */
json_object *ticket_to_json(const struct ticket *t);

/*
 * A dead-letter reason header from any text: valid UTF-8, one line, no
 * control characters, at most outlen - 1 bytes. Returns out.
 */
const char *ticket_reason_safe(const char *s, size_t n, char *out, size_t outlen);
/*
 * The reason for a row PostgreSQL refused, in the contract's words: only the
 * primary message of a libpq error text, never its CONTEXT, QUERY or
 * STATEMENT lines (which hold SQL). Returns out.
 */
const char *ticket_db_reason(const char *pg_err, char *out, size_t outlen);

/* Stable snake_case code for the DLQ header: "too_large", "invalid_utf8", ... */
const char *ticket_err_code(enum ticket_err e);
const char *ticket_channel_name(enum ticket_channel c);
const char *customer_tier_name(enum customer_tier t); /* TIER_NONE -> "none" */
int ticket_channel_parse(const char *s, enum ticket_channel *out) WUR;
int customer_tier_parse(const char *s, enum customer_tier *out) WUR;

#endif
