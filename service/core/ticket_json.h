/*
 * ticket_json: the strict scan of a message's raw JSON text and the raw
 * spans of the contract members, for ticket.c's parser only (callers use
 * ticket.h). Must never do I/O, read the clock or log.
 */
#ifndef TRIAGED_TICKET_JSON_H
#define TRIAGED_TICKET_JSON_H

#include <stddef.h>

#include <json-c/json.h>

#include "ticket.h"

#define TICKET_ECHO_MAX 64  /* bytes of an offending value quoted back in err */
#define TICKET_PATH_LEN 256 /* a field path in err: "metadata.a.b[3]" */
/*
 * "Nesting at most 32 deep": 32 containers, one in the other, with a value in
 * the innermost. The scan counts containers; json-c counts the innermost
 * value as a level too, so its tokener gets one more.
 */
#define TICKET_SCAN_DEPTH 32

/*
 * The contract's member names, top level then customer. The raw text is
 * walked once more (it passed json-c and strict_scan, so it is well formed)
 * to find what json-c hides: a duplicate name (json-c keeps the last one)
 * and the exact bytes of a value (metadata is kept byte for byte).
 */
enum ticket_member {
	TICKET_M_TICKET_ID,
	TICKET_M_SOURCE,
	TICKET_M_CREATED_AT,
	TICKET_M_CHANNEL,
	TICKET_M_SUBJECT,
	TICKET_M_BODY,
	TICKET_M_CUSTOMER,
	TICKET_M_LANGUAGE,
	TICKET_M_TAGS,
	TICKET_M_METADATA,
	TICKET_M__TOP,
	TICKET_M_C_ID = TICKET_M__TOP,
	TICKET_M_C_EMAIL,
	TICKET_M_C_NAME,
	TICKET_M_C_TIER,
	TICKET_M__COUNT
};

struct ticket_spans {
	size_t start[TICKET_M__COUNT], end[TICKET_M__COUNT];
	unsigned seen;
};

/*
 * Copy at most TICKET_ECHO_MAX bytes of an outside value into out (TICKET_ECHO_MAX + 4
 * bytes) for an error message, cut at a character boundary, with control
 * characters, quotes and backslashes replaced by '?' so err stays one
 * printable line.
 */
const char *ticket_json_echo(char out[static TICKET_ECHO_MAX + 4], const char *s, size_t n);
/* JSON type names as a producer knows them (json-c says "int" and "double"). */
const char *ticket_json_type_label(json_object *v);
/*
 * Second pass over text json-c already accepted (so the structure is sound):
 * hold it to RFC 8259 and reject the escapes json-c would decode into
 * something other than what was sent. Also catches NUL anywhere, including
 * in member names, which json-c silently truncates.
 */
enum ticket_err ticket_json_strict_scan(const char *s, size_t len, char *err, size_t errlen);
enum ticket_err ticket_json_check_decoded_fields(json_object *root, char *err, size_t errlen);
enum ticket_err ticket_json_find_members(const char *s, size_t len, struct ticket_spans *sp,
					 char *err, size_t errlen);

#endif
