/*
 * injection: prompt-injection hardening of customer text. Strips invisible and
 * bidi-control characters, and flags text that tries to instruct the model
 * (override its instructions, take a role, reveal the prompt, fake a chat
 * role tag or our </ticket> delimiter, dictate the triage fields). Pure: no
 * I/O, no clock, no globals but const tables.
 *
 * The detector is a screen, not a proof: it runs deterministic phrase rules
 * over a normalized copy of the text and is tuned for few false positives
 * on ordinary complaints. A flagged ticket should still be triaged (the
 * prompt already treats ticket text as data), with the flag recorded and
 * shown to the agent.
 */
#ifndef TRIAGED_INJECTION_H
#define TRIAGED_INJECTION_H

#include <stddef.h>

/*
 * Remove in place, from s[0..len), the code points that are invisible or
 * reorder text: U+00AD soft hyphen, U+034F, U+061C, U+180E, U+200B..U+200F,
 * U+202A..U+202E, U+2060..U+2064, U+2066..U+2069, U+FEFF, the tag
 * characters U+E0000..U+E007F and the variation selectors
 * U+E0100..U+E01EF (both used to smuggle hidden text). Only whole, valid
 * UTF-8 sequences are removed, so valid UTF-8 stays valid; other bytes
 * are kept as they are. Returns the new length; when it is shorter than
 * len, s[new length] is set to '\0'.
 */
size_t injection_strip_invisible(char *s, size_t len);

/*
 * Look for prompt-injection attempts in text[0..len) (need not be
 * NUL-terminated, may contain invisible characters: they are removed on a
 * copy first). Matching is case-insensitive, ignores runs of whitespace
 * and punctuation between words, folds fullwidth forms, common
 * Cyrillic/Greek look-alike letters, mathematical alphanumerics and simple
 * digit leetspeak (1gn0re), and also reads text hidden in tag characters.
 * Returns the number of distinct rules that matched (0: none) and puts
 * their names in why, joined by ", " (e.g. "ignore-instructions, role-tag").
 */
int injection_detect(const char *text, size_t len, char *why, size_t whylen);

#endif
