/*
 * redact_detect: the detectors of redact_text other than phone numbers.
 * Each marks the ranges it finds in sc's claim mask and span list (first
 * claim wins: redact.c calls them in the order of redact.h). Must never do
 * I/O, read the clock or log.
 */
#ifndef TRIAGED_REDACT_DETECT_H
#define TRIAGED_REDACT_DETECT_H

#include <stddef.h>

#include "redact_scan.h"

/* Text already shaped like a placeholder ("[EMAIL_1]"), redacted as a literal so restore cannot mix
 * it up with ours. */
void redact_detect_literal(struct redact_scan *sc);
/* IBANs (country length and ISO 13616 mod-97 checked), compact or in groups. */
void redact_detect_iban(struct redact_scan *sc);
/* Payment cards: 13-19 digits written as cards are, Luhn checked. */
void redact_detect_card(struct redact_scan *sc);
/* E-mail addresses, quoted locals and Unicode domains included. */
void redact_detect_email(struct redact_scan *sc);
/*
 * Matches of the custom pattern p (widened to character boundaries), as
 * spans of label. Returns 0, or -1 with err when the regex fails.
 */
int redact_detect_custom(struct redact_scan *sc, const struct redact_pattern *p, int label,
			 char *err, size_t errlen);
/* IPv4 addresses, with a port or a prefix length: 10.148.36.167:8080, 192.168.0.0/16. */
void redact_detect_ipv4(struct redact_scan *sc);
/*
 * Parcel tracking numbers: UPS "1Z" and 16 letters or digits (compact or
 * grouped by spaces); USPS 20-22 digits starting 91-95 or 70, compact or in
 * groups of four.
 */
void redact_detect_tracking(struct redact_scan *sc);

#endif
