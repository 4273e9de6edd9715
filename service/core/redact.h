/*
 * redact: PII redaction before any model call. Replaces e-mail addresses,
 * phone numbers, payment card numbers, IBANs and configured patterns (order
 * ids, account numbers) by stable placeholders such as [EMAIL_1] or
 * [ORDER_ID_2], and keeps the originals in a map so that a model's draft can
 * be shown to an agent with the values put back. Pure: POSIX regex and json-c,
 * no I/O, no clock, no globals.
 *
 * What each built-in detector takes (the precise rules are in redact.c):
 *   CARD   13-19 digits, Luhn-valid, starting with 2-6 (the payment networks'
 *          issuer ranges: Visa, Mastercard, Amex, Discover, JCB, UnionPay,
 *          Maestro, Mir), either unbroken or in groups of 2-8 digits
 *          separated by one space or one dash (the same one throughout).
 *          A number written like a card (starting with 2-6; unbroken,
 *          4-4-4-4, 4-6-5) whose check digit is wrong is left alone as a
 *          whole.
 *   IBAN   two letters, two check digits, then letters/digits, unbroken or in
 *          groups of four separated by one space; the mod-97 check must give
 *          1, and for the countries in a length table the length must match.
 *          An IBAN-shaped token of a listed country with a bad checksum is
 *          left alone as a whole (no card or phone is cut out of it).
 *   EMAIL  local@domain.tld: a dot in the domain and a final label of two or
 *          more ASCII letters (or "xn--..."); "user@localhost" and "me@home"
 *          are not taken. Latin letters U+00C0..U+024F count as letters.
 *   PHONE  7-15 digits; "+" international numbers (8-15 digits) with spaces,
 *          dashes, dots and parenthesised groups; national numbers in groups
 *          ("(555) 123-4567", "020 7946 0958", "06 12 34 56 78"); unbroken
 *          national numbers only with 00 + country code or a trunk 0 + area
 *          code (10-12 digits), or after a phone word ("call", "tel",
 *          "mobile", ...). Not taken: dates (2024-11-05, 05.11.2024), IPv4
 *          addresses, lists of years, ZIP+4 codes, amounts (after or before
 *          a currency sign or code, thousands groups, decimals: 1,234.56,
 *          524.9996), numbers glued to letters or after "#" (ticket ids like
 *          #1234567), bare digit strings such as order numbers.
 *   custom POSIX extended regular expressions, case-insensitive, "." not
 *          matching a newline; a match is widened to whole UTF-8 characters.
 * Text that already looks like a placeholder ("[EMAIL_1]" typed by the
 * customer) is itself replaced ([LITERAL_1]), so restoring a draft can never
 * substitute a value the customer did not write there.
 *
 * Callers strip invisible characters first (injection_strip_invisible() in
 * injection.h): one inside a value ("john<U+200B>@example.com") hides it from
 * the detectors, which read ASCII.
 *
 * Order, first claim wins: literal placeholders, IBAN, card, e-mail, custom
 * patterns (in the order added), phone. Card comes before phone so a card
 * number is masked as a card even when it also looks like a phone number.
 */
#ifndef TRIAGED_REDACT_H
#define TRIAGED_REDACT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

#define REDACT_LABEL_MAX 32    /* bytes of a label such as ORDER_ID */
#define REDACT_MAX_PATTERNS 32 /* custom patterns per redactor */
#define REDACT_MAX_VALUE 256   /* bytes of one custom match; longer fails the call */
#define REDACT_MAP_MAX 10000   /* distinct values per map */

/*
 * An unbroken 10-digit number with one leading 0 ("0412345678") is an
 * Australian mobile and, as often, a bank or booking reference. PHONE (the
 * default) redacts it: a reference sent to the model as [PHONE_1] costs
 * little, a mobile number sent as written is a leak. KEEP leaves it, unless
 * a phone word ("call", "mobile", ...) comes just before it. Grouped forms
 * ("0412 345 678") and 11-12 digits are phones either way.
 */
enum redact_lead0 {
	REDACT_LEAD0_PHONE,
	REDACT_LEAD0_KEEP,
};

enum redact_kind {
	REDACT_EMAIL,
	REDACT_PHONE,
	REDACT_CARD,
	REDACT_IBAN,
	REDACT_CUSTOM,
	REDACT_LITERAL, /* a placeholder look-alike typed by the customer */
	REDACT__COUNT,
};

/* Occurrences replaced by one redact_text() call (not distinct values). */
struct redact_stats {
	unsigned email, phone, card, iban, custom, literal;
};

struct redact_entry {
	char *placeholder; /* "[EMAIL_1]", owned */
	char *value;	   /* the original text, owned */
	enum redact_kind kind;
};

/*
 * The placeholder <-> original pairs of one ticket. Pass the same map to
 * every redact_text() call of a ticket (subject, then body) so that the same
 * value gets the same placeholder everywhere. A value is the exact bytes
 * found: "4111 1111 1111 1111" and "4111-1111-1111-1111" are two values, so
 * that restoring gives back exactly what the customer wrote. Numbers count
 * per label from 1 in order of first appearance.
 * The map holds the customer's personal data: never log it.
 */
struct redact_map {
	struct redact_entry *entries; /* n entries in order of creation */
	size_t n;
	/* private */
	size_t alloc;
	uint32_t *by_value, *by_ph; /* open addressing: entry index + 1, 0 empty */
	size_t nslots;
	struct redact_counter *counters; /* last number used per label */
	size_t ncounters;
};

void redact_map_init(struct redact_map *m);
void redact_map_cleanup(struct redact_map *m);
/* The original behind a placeholder ("[EMAIL_1]"), borrowed; NULL if unknown. */
const char *redact_map_lookup(const struct redact_map *m, const char *placeholder);

/*
 * Returns a new reference (caller puts it) to an array of
 * {"placeholder": "[EMAIL_1]", "value": "...", "kind": "email"} in creation
 * order. kind is one of email, phone, card, iban, custom, literal.
 */
json_object *redact_map_to_json(const struct redact_map *m);
/*
 * Fill an empty, initialized map from an array made by redact_map_to_json
 * (arr is borrowed). Every element is checked: placeholder syntax, known
 * kind, string value, no duplicate placeholder or value. Returns 0, or -1
 * with err and the map left empty.
 */
int redact_map_from_json(struct redact_map *m, json_object *arr, char *err, size_t errlen) WUR;

struct redactor;

/* A redactor with the built-in detectors and no custom pattern; redactor_free() it. */
struct redactor *redactor_new(void);
void redactor_free(struct redactor *r);
/* Set the leading-0 10-digit choice (config key redact.leading_zero_10). */
void redactor_set_lead0(struct redactor *r, enum redact_lead0 mode);

/*
 * Add a configured pattern. label is [A-Z][A-Z0-9_]*, at most
 * REDACT_LABEL_MAX bytes, not ending in "_", not a built-in label (EMAIL,
 * PHONE, CARD, IBAN, LITERAL); several patterns may share a label (and its
 * numbering). posix_ere is compiled case-insensitive and must not match the
 * empty string. Returns 0, or -1 with err ("ORDER_ID: ...").
 */
int redactor_add_pattern(struct redactor *r, const char *label, const char *posix_ere, char *err,
			 size_t errlen) WUR;

/*
 * Redact text[0..len): returns a new NUL-terminated string (caller frees)
 * with every detected value replaced by its placeholder, new values added
 * to map, and *stats (may be NULL) set to this call's counts. The output is
 * capped at len * 2 + 1 KiB bytes.
 * Returns NULL with err, the map unchanged, when the text is not valid UTF-8
 * or contains a NUL byte, a custom match is longer than REDACT_MAX_VALUE,
 * the map would exceed REDACT_MAP_MAX values, or the output its cap. Callers
 * must then not send the text to a model.
 */
char *redact_text(const struct redactor *r, const char *text, size_t len, struct redact_map *map,
		  struct redact_stats *stats, char *err, size_t errlen) WUR;

/*
 * Put the originals back: every placeholder of map found in text is
 * replaced by its value, in one pass (a restored value is never scanned
 * again); unknown placeholders stay as written. Returns a new string (caller
 * frees), or NULL with err when the result would exceed max_len bytes.
 * restore(redact(x)) == x for any x redact_text() accepts.
 */
char *redact_restore(const struct redact_map *m, const char *text, size_t max_len, char *err,
		     size_t errlen) WUR;

const char *redact_kind_name(enum redact_kind k);

/*
 * Length of the placeholder-shaped token at s[0..n) ("[" [A-Z][A-Z0-9_]* "_"
 * digits "]", e.g. "[ORDER_ID_12]"), or 0 if s does not start with one.
 */
size_t redact_placeholder_len(const char *s, size_t n);

#endif
