/*
 * ticket_utf8: UTF-8 validation and cutting on character boundaries, for
 * the ticket contract and every module that checks or cuts outside text.
 * Must never allocate, do I/O, read the clock or log.
 */
#ifndef TRIAGED_TICKET_UTF8_H
#define TRIAGED_TICKET_UTF8_H

#include <stddef.h>

/* Length of the longest valid prefix of s[0..len), per Unicode table 3-7: len when all is valid. */
size_t ticket_utf8_valid_prefix(const char *s, size_t len);
/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int utf8_valid(const char *s, size_t len);
/* Largest n <= max such that s[0..n) ends on a UTF-8 character boundary. */
size_t utf8_cut(const char *s, size_t len, size_t max);

#endif
