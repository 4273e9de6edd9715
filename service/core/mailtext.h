/*
 * mailtext: text as helpdesks send it, made fit for agents and models.
 * Unicode blankness, control-character stripping, HTML to text, cutting
 * quoted reply chains and signatures, and making an outside string safe for
 * a header. Pure: no I/O, no clock, no logging. Inputs are valid UTF-8
 * unless a function says otherwise; every result is a new string the caller
 * frees with free().
 */
#ifndef TRIAGED_MAILTEXT_H
#define TRIAGED_MAILTEXT_H

#include <stddef.h>

/* Code point of the valid UTF-8 character at s[i]; *n gets its length in bytes. */
unsigned mailtext_cp(const char *s, size_t len, size_t i, size_t *n);
/* Unicode White_Space. */
int mailtext_is_space(unsigned cp);
/* Invisible: a control (Cc) or a format character (Cf: ZWSP, BOM, bidi controls, ...). */
int mailtext_is_invisible(unsigned cp);
/* 1 if s[0..n) is empty or only white space, controls and format characters. */
int mailtext_blank(const char *s, size_t n);

/* C0 controls but TAB, LF, CR; DEL; C1 controls (U+0080..U+009F). */
int mailtext_is_stripped_control(unsigned cp);
/* 1 if s[0..n) holds a character mailtext_strip_controls would remove. */
int mailtext_has_controls(const char *s, size_t n);
/* s without those characters; *outlen gets the new length. */
char *mailtext_strip_controls(const char *s, size_t n, size_t *outlen);

/* 1 if s[0..n) looks like HTML (a known tag such as <p>, <br>, <div>, <html>). */
int mailtext_looks_html(const char *s, size_t n);
/*
 * HTML to plain text: tags stripped, script/style/head dropped, entities
 * decoded, white space collapsed as a browser would, line breaks kept for
 * <br> and block elements; <blockquote> content prefixed with "> " so the
 * quote cutter sees it as quoted.
 */
char *mailtext_html_to_text(const char *s, size_t n, size_t *outlen);

/*
 * The text for the prompt: quoted lines ("> ..."), the reply chain from its
 * header on ("On ... wrote:", "-----Original Message-----", Outlook's
 * From:/Sent: block) and a signature ("-- ", "Sent from my ...") cut, trailing
 * white space trimmed. Never returns a blank text: if cutting would leave
 * nothing, s is returned whole. *outlen gets the new length.
 */
char *mailtext_cut_quoted(const char *s, size_t n, size_t *outlen);

/*
 * Copy an outside string (any bytes, not necessarily UTF-8) into out as valid
 * UTF-8 on one line: invalid bytes become "\xNN", controls "\u00NN" (C0, DEL,
 * C1), backslash "\\". Cut at a character boundary to fit outlen - 1 bytes
 * ("..." marks a cut). Returns the length written.
 */
size_t mailtext_header_safe(const char *s, size_t n, char *out, size_t outlen);

#endif
