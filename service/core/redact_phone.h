/*
 * redact_phone: the phone number detector of redact_text, run last (after
 * the shields). Must never do I/O, read the clock or log.
 */
#ifndef TRIAGED_REDACT_PHONE_H
#define TRIAGED_REDACT_PHONE_H

#include "redact_scan.h"

/* Mark every phone number in sc's view not yet claimed (REDACT_PHONE spans). */
void redact_phone_detect(struct redact_scan *sc);

#endif
