/*
 * Unit tests for service/core/mailtext.c: Unicode blankness, control
 * stripping, HTML to text, cutting quoted replies and signatures, and
 * header-safe copies. Table-driven.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mailtext.h"
#include "xmem.h"

#define J_(s) s, sizeof(s) - 1

static const struct blank_case {
	const char *s;
	int blank;
} blank_cases[] = {
	{"", 1},
	{" \t\r\n\v\f", 1},
	{"\xc2\xa0", 1},	     /* NBSP */
	{"\xe3\x80\x80", 1},	     /* U+3000 */
	{"\xe2\x80\x8b", 1},	     /* ZWSP */
	{"\xef\xbb\xbf", 1},	     /* BOM */
	{"\xe2\x80\xa8\xe2\x80\xa9", 1}, /* line and paragraph separators */
	{"\x1b\x01", 1},	     /* controls only */
	{"\xc2\x85", 1},	     /* NEL */
	{"\xe2\x81\xa0\xc2\xad", 1}, /* word joiner, soft hyphen */
	{"a", 0},
	{" \xc2\xa0x", 0},
	{"\xc3\xa9", 0},
	{"\xf0\x9f\x98\x80", 0},
	{"\xe3\x81\x82", 0}, /* hiragana a */
};

START_TEST(test_blank)
{
	const struct blank_case *c = &blank_cases[_i];
	ck_assert_msg(mailtext_blank(c->s, strlen(c->s)) == c->blank, "case %d", _i);
}
END_TEST

START_TEST(test_strip_controls)
{
	static const char in[] = "a\x1b[31mb\tc\nd\re\x7f\xc2\x85\xc2\xa0" "f\x01";
	size_t n;
	char *out = mailtext_strip_controls(in, sizeof(in) - 1, &n);

	ck_assert_str_eq(out, "a[31mb\tc\nd\re\xc2\xa0" "f");
	ck_assert_uint_eq(n, strlen(out));
	ck_assert(mailtext_has_controls(in, sizeof(in) - 1));
	ck_assert(!mailtext_has_controls(out, n));
	free(out);
}
END_TEST

static const struct html_case {
	const char *in, *out;
} html_cases[] = {
	{"<p>Hello</p><p>World</p>", "Hello\n\nWorld"},
	{"Line one<br>Line two<br/>Line three", "Line one\nLine two\nLine three"},
	{"<div>a</div><div>b</div>", "a\nb"},
	{"Fish &amp; chips &lt;3 &quot;x&quot; &#233;&#xE9; &euro;5&nbsp;ok", "Fish & chips <3 \"x\" \xc3\xa9\xc3\xa9 \xe2\x82\xac" "5 ok"},
	{"<b>bold</b>   and\n\n  <i>spaced</i>", "bold and spaced"},
	{"<style>p{color:red}</style><script>alert(1)</script>visible", "visible"},
	{"<!-- hidden -->shown", "shown"},
	{"<p>Me</p><blockquote><p>quoted</p></blockquote>", "Me\n\n> quoted"},
	{"a < b and c > d", "a < b and c > d"},
	{"<a href=\"x>y\">link</a>", "link"},
	{"&unknown; &#0; &", "&unknown; \xef\xbf\xbd &"},
};

START_TEST(test_html)
{
	const struct html_case *c = &html_cases[_i];
	size_t n;
	char *out = mailtext_html_to_text(c->in, strlen(c->in), &n);
	ck_assert_msg(strcmp(out, c->out) == 0, "case %d: '%s', want '%s'", _i, out, c->out);
	ck_assert_uint_eq(n, strlen(out));
	free(out);
}
END_TEST

START_TEST(test_looks_html)
{
	ck_assert(mailtext_looks_html(J_("<p>x</p>")));
	ck_assert(mailtext_looks_html(J_("hi<BR>there")));
	ck_assert(!mailtext_looks_html(J_("if a<b then")));
	ck_assert(!mailtext_looks_html(J_("plain text")));
}
END_TEST

static const struct cut_case {
	const char *in, *out;
} cut_cases[] = {
	{"Thanks!\n\nOn Mon, 3 Jun 2024 at 10:00, Ann <a@b.c> wrote:\n> hi\n> there", "Thanks!"},
	{"Thanks!\nOn Mon, 3 Jun 2024 at 10:00, Ann Long-Name\n<ann@example.com> wrote:\n> hi",
	 "Thanks!"},
	{"New info.\n\n-----Original Message-----\nFrom: X\nSent: now\n\nold", "New info."},
	{"Cancel it.\n\n________________________________\nFrom: Support\nSent: Monday\nTo: me\n\nold",
	 "Cancel it."},
	{"Please help.\n-- \nJo\nACME Ltd", "Please help."},
	{"Please help.\n\nSent from my iPhone", "Please help."},
	{"Top\n> quoted inline\nbottom", "Top\nbottom"},
	{"Am 02.02.2025 um 17:03 schrieb Shop:\n> x", "Am 02.02.2025 um 17:03 schrieb Shop:\n> x"},
	{"Danke.\nAm 02.02.2025 um 17:03 schrieb Shop:\n> x", "Danke."},
	{"No quotes here.\nFrom: the start, this is text.", "No quotes here.\nFrom: the start, this is text."},
	{"> only a quote", "> only a quote"}, /* nothing would be left: kept whole */
	{"a\r\nb\r\n\r\nOn Tue, X wrote:\r\n> y", "a\nb"},
};

START_TEST(test_cut_quoted)
{
	const struct cut_case *c = &cut_cases[_i];
	size_t n;
	char *out = mailtext_cut_quoted(c->in, strlen(c->in), &n);
	ck_assert_msg(strcmp(out, c->out) == 0, "case %d: '%s', want '%s'", _i, out, c->out);
	ck_assert_uint_eq(n, strlen(out));
	free(out);
}
END_TEST

START_TEST(test_header_safe)
{
	char out[16];

	ck_assert_uint_eq(mailtext_header_safe("ok", 2, out, sizeof(out)), 2);
	ck_assert_str_eq(out, "ok");
	mailtext_header_safe("\xff" "a\x1b", 3, out, sizeof(out));
	ck_assert_str_eq(out, "\\xFFa\\u001B");
	/* cut at a character boundary with a mark; always NUL-terminated */
	mailtext_header_safe("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 16, out,
			     sizeof(out));
	ck_assert_str_eq(out, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...");
	ck_assert_uint_eq(mailtext_header_safe("abc", 3, out, 1), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mailtext");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_blank, 0, (int)ARRAY_SIZE(blank_cases));
	tcase_add_test(tc, test_strip_controls);
	tcase_add_loop_test(tc, test_html, 0, (int)ARRAY_SIZE(html_cases));
	tcase_add_test(tc, test_looks_html);
	tcase_add_loop_test(tc, test_cut_quoted, 0, (int)ARRAY_SIZE(cut_cases));
	tcase_add_test(tc, test_header_safe);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
