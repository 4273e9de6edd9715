/*
 * inject: see inject.h. Owns the list of what looks like an instruction to
 * the model inside customer text. Must never do I/O, read the clock, log or
 * change the text it screens (inject_detect works on its own copy).
 *
 * Detection runs in two steps. normalize() turns the text into tokens
 * (lower-case words and single ASCII punctuation marks, with line
 * positions) and a "squeezed" string (the same characters without any
 * whitespace) while dropping invisible characters, folding look-alikes and
 * decoding text hidden in tag characters. Then three kinds of rules run:
 * word sequences over the tokens (struct phrase), substrings of the
 * squeezed string (role tags, our delimiter, answer JSON), and the count of
 * hidden tag characters.
 *
 * Phrase pattern language (space-separated slots, matched left to right):
 *   a|b|c   one word token equal to a, b or c; "ab*" is a prefix match;
 *           punctuation tokens before a word slot are skipped, so
 *           "ignore... all, previous" matches "ignore all previous"
 *   x?      the slot is optional
 *   :  "    a single-character slot matches that punctuation token exactly
 *   ~N      skip up to N word tokens
 *   ^       the next word is the first word of its line
 *   $       the previous token was the last of its line
 */
#include "inject.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- UTF-8 ---- */

/* Decode one valid sequence at s[0..n): its length (1-4) and *cp; 0 if invalid. */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

static int is_tag(uint32_t cp)
{
	return cp >= 0xE0000 && cp <= 0xE007F;
}

static int invisible(uint32_t cp)
{
	return cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x180E ||
	       (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF ||
	       is_tag(cp) || (cp >= 0xE0100 && cp <= 0xE01EF);
}

size_t text_strip_invisible(char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t r = 0, w = 0;

	while (r < len) {
		uint32_t cp;
		size_t n = utf8_dec(u + r, len - r, &cp);

		if (n == 0)
			n = 1; /* not UTF-8: kept as it is */
		else if (invisible(cp)) {
			r += n;
			continue;
		}
		if (w != r)
			memmove(s + w, s + r, n);
		w += n;
		r += n;
	}
	if (w < len)
		s[w] = '\0';
	return w;
}

/* ---- normalization ---- */

struct tok {
	size_t off, len;     /* the word in norm.w; punctuation tokens have len 1 */
	unsigned char punct; /* the ASCII mark, 0 for a word */
	unsigned char nl;    /* first token of its line */
	unsigned char ls;    /* no word before it on its line */
};

struct norm {
	struct buf w;  /* word bytes, lower case, folded */
	struct buf sq; /* the squeezed text */
	struct tok *tok;
	size_t ntok, atok;
	size_t wstart;	   /* start of the word being read in w, or SIZE_MAX */
	int line_new;	   /* the next token starts a line */
	int line_has_word; /* a word token is already on this line */
	unsigned hidden;   /* tag characters that are not part of a flag emoji */
};

/* Look-alikes of ASCII letters: Cyrillic and Greek. */
static const struct {
	uint32_t cp;
	char c;
} homoglyphs[] = {
	{0x0391, 'a'}, {0x0392, 'b'}, {0x0395, 'e'}, {0x0396, 'z'}, {0x0397, 'h'}, {0x0399, 'i'},
	{0x039A, 'k'}, {0x039C, 'm'}, {0x039D, 'n'}, {0x039F, 'o'}, {0x03A1, 'p'}, {0x03A4, 't'},
	{0x03A5, 'y'}, {0x03A7, 'x'}, {0x03B1, 'a'}, {0x03B5, 'e'}, {0x03B9, 'i'}, {0x03BA, 'k'},
	{0x03BD, 'v'}, {0x03BF, 'o'}, {0x03C1, 'p'}, {0x03C4, 't'}, {0x03C5, 'u'}, {0x03C7, 'x'},
	{0x0405, 's'}, {0x0406, 'i'}, {0x0408, 'j'}, {0x0410, 'a'}, {0x0412, 'b'}, {0x0415, 'e'},
	{0x041A, 'k'}, {0x041C, 'm'}, {0x041D, 'h'}, {0x041E, 'o'}, {0x0420, 'p'}, {0x0421, 'c'},
	{0x0422, 't'}, {0x0423, 'y'}, {0x0425, 'x'}, {0x0430, 'a'}, {0x0435, 'e'}, {0x043E, 'o'},
	{0x0440, 'p'}, {0x0441, 'c'}, {0x0443, 'y'}, {0x0445, 'x'}, {0x0455, 's'}, {0x0456, 'i'},
	{0x0458, 'j'}, {0x0501, 'd'}, {0x051B, 'q'}, {0x051D, 'w'}, {0x0261, 'g'},
};

/* Latin-1 letters U+00C0..U+00FF without their marks (0: not a letter). */
static const char latin1_base[] =
	"aaaaaaaceeeeiiiidnooooo\0ouuuuythsaaaaaaaceeeeiiiidnooooo\0ouuuuyty";

/* Fold cp to an ASCII character if it stands for one, else 0. */
static int fold(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? (int)(cp - 'A' + 'a') : (int)cp;
	if (cp >= 0xC0 && cp <= 0xFF)
		return latin1_base[cp - 0xC0];
	if (cp >= 0xFF01 && cp <= 0xFF5E) /* fullwidth forms */
		return fold(cp - 0xFEE0);
	if (cp >= 0x1D400 && cp <= 0x1D6A3) { /* mathematical bold, italic, script... letters */
		uint32_t k = (cp - 0x1D400) % 52;
		return k < 26 ? (int)('a' + k) : (int)('a' + k - 26);
	}
	if (cp >= 0x1D7CE && cp <= 0x1D7FF)
		return (int)('0' + (cp - 0x1D7CE) % 10);
	if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || cp == 0x2032)
		return '\'';
	if (cp == 0x201C || cp == 0x201D)
		return '"';
	for (size_t i = 0; i < ARRAY_SIZE(homoglyphs); i++)
		if (homoglyphs[i].cp == cp)
			return homoglyphs[i].c;
	return 0;
}

enum cclass { C_WORD, C_APOS, C_SPACE, C_NEWLINE, C_PUNCT };

static enum cclass classify(uint32_t cp, int folded)
{
	if (folded) {
		if ((folded >= 'a' && folded <= 'z') || (folded >= '0' && folded <= '9') ||
		    folded == '_')
			return C_WORD;
		if (folded == '\'')
			return C_APOS;
		if (folded == '\n' || folded == '\v' || folded == '\f')
			return C_NEWLINE;
		if (folded == ' ' || folded == '\t' || folded == '\r' || folded < 0x20 ||
		    folded == 0x7F)
			return C_SPACE;
		return C_PUNCT;
	}
	if (cp < 0x80)
		return C_SPACE; /* NUL */
	if (cp == 0x85 || cp == 0x2028 || cp == 0x2029)
		return C_NEWLINE;
	/* Non-ASCII spaces, punctuation and symbols separate words; other letters are words. */
	if ((cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
	    (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE10 && cp <= 0xFE6F) ||
	    (cp >= 0xFF00 && cp <= 0xFF65) || (cp >= 0x1F000 && cp <= 0x1FAFF) || cp == 0xFFFD)
		return C_SPACE;
	return C_WORD;
}

static void append(struct buf *b, const void *p, size_t n)
{
	/* The norm buffers have no cap beyond the input's size (see normalize). */
	if (buf_append(b, p, n) < 0)
		abort();
}

static void push_tok(struct norm *nm, size_t off, size_t len, unsigned char punct)
{
	if (nm->ntok == nm->atok) {
		nm->atok = nm->atok ? nm->atok * 2 : 256;
		nm->tok = xrealloc(nm->tok, nm->atok * sizeof(*nm->tok));
	}
	nm->tok[nm->ntok++] = (struct tok){off, len, punct, (unsigned char)nm->line_new,
					   (unsigned char)!nm->line_has_word};
	nm->line_new = 0;
	if (!punct)
		nm->line_has_word = 1;
}

/* Close the word being read; digits in a word with letters are read as leetspeak. */
static void end_word(struct norm *nm)
{
	static const char leet_from[] = "013457", leet_to[] = "oieast";
	char *p;
	size_t n;
	int letters = 0;

	if (nm->wstart == SIZE_MAX)
		return;
	p = nm->w.data + nm->wstart;
	n = nm->w.len - nm->wstart;
	for (size_t i = 0; i < n; i++)
		letters |= p[i] >= 'a' && p[i] <= 'z';
	for (size_t i = 0; letters && i < n; i++) {
		const char *d = memchr(leet_from, p[i], sizeof(leet_from) - 1);

		if (d)
			p[i] = leet_to[d - leet_from];
	}
	push_tok(nm, nm->wstart, n, 0);
	append(&nm->w, " ", 1);
	nm->wstart = SIZE_MAX;
}

/* Feed one visible code point (its bytes raw[0..rn)). */
static void feed(struct norm *nm, uint32_t cp, const char *raw, size_t rn)
{
	int f = fold(cp);
	char c = (char)f;

	switch (classify(cp, f)) {
	case C_WORD:
		if (nm->wstart == SIZE_MAX)
			nm->wstart = nm->w.len;
		if (f)
			append(&nm->w, &c, 1);
		else
			append(&nm->w, raw, rn);
		if (f)
			append(&nm->sq, &c, 1);
		else
			append(&nm->sq, raw, rn);
		break;
	case C_APOS:
		/* Inside a word it vanishes: "don't" is read as "dont". */
		append(&nm->sq, &c, 1);
		break;
	case C_SPACE:
		end_word(nm);
		break;
	case C_NEWLINE:
		end_word(nm);
		nm->line_new = 1;
		nm->line_has_word = 0;
		break;
	case C_PUNCT:
		end_word(nm);
		push_tok(nm, nm->w.len, 1, (unsigned char)c);
		append(&nm->w, &c, 1);
		append(&nm->w, " ", 1);
		append(&nm->sq, &c, 1);
		break;
	}
}

static void normalize(struct norm *nm, const char *text, size_t len)
{
	const unsigned char *u = (const unsigned char *)text;
	struct buf hidden;
	size_t i = 0;
	int in_flag = 0;

	memset(nm, 0, sizeof(*nm));
	/* Every input byte yields at most two bytes of w and one of sq; the caps can't be hit. */
	buf_init(&nm->w, 2 * len + 16);
	buf_init(&nm->sq, len + 16);
	buf_init(&hidden, len + 16);
	nm->wstart = SIZE_MAX;
	nm->line_new = 1;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_dec(u + i, len - i, &cp);

		if (n == 0) {
			cp = 0xFFFD;
			n = 1;
		}
		if (is_tag(cp)) {
			/* A flag emoji is U+1F3F4 and tags; anything else is hidden text. */
			if (!in_flag && cp >= 0xE0020 && cp <= 0xE007E) {
				char c = (char)(cp - 0xE0000);

				append(&hidden, &c, 1);
				nm->hidden++;
			}
			if (cp == 0xE007F)
				in_flag = 0;
		} else if (!invisible(cp)) {
			in_flag = cp == 0x1F3F4;
			feed(nm, cp, text + i, n);
		}
		i += n;
	}
	/* The hidden text is read as a line of its own. */
	feed(nm, '\n', "\n", 1);
	for (size_t k = 0; k < hidden.len; k++)
		feed(nm, (unsigned char)hidden.data[k], hidden.data + k, 1);
	end_word(nm);
	buf_cleanup(&hidden);
}

static void norm_cleanup(struct norm *nm)
{
	buf_cleanup(&nm->w);
	buf_cleanup(&nm->sq);
	free(nm->tok);
}

/* ---- phrase matching ---- */

/* Index of the first word token at or after ti (ntok if none). */
static size_t next_word(const struct norm *nm, size_t ti)
{
	while (ti < nm->ntok && nm->tok[ti].punct)
		ti++;
	return ti;
}

static int is_mark(const char *a, size_t an)
{
	return an == 1 && !((a[0] >= 'a' && a[0] <= 'z') || (a[0] >= '0' && a[0] <= '9'));
}

/* Does the word alternative a[0..an) ("word" or "prefix*") match word token ti? */
static int word_match(const struct norm *nm, size_t ti, const char *a, size_t an)
{
	const struct tok *t = &nm->tok[ti];
	const char *w = nm->w.data + t->off;

	if (a[an - 1] == '*')
		return t->len >= an - 1 && memcmp(w, a, an - 1) == 0;
	return t->len == an && memcmp(w, a, an) == 0;
}

/* Match pattern pat from token ti on (see the pattern language at the top). */
static int phrase_match(const struct norm *nm, const char *pat, size_t ti)
{
	const char *slot, *next;
	size_t sn;
	int optional;

	while (*pat == ' ')
		pat++;
	if (*pat == '\0')
		return 1;
	slot = pat;
	next = strchr(pat, ' ');
	if (next == NULL)
		next = pat + strlen(pat);
	sn = (size_t)(next - slot);
	optional = sn > 1 && slot[sn - 1] == '?';
	if (optional) {
		sn--;
		if (phrase_match(nm, next, ti))
			return 1;
	}
	if (sn == 1 && slot[0] == '^') {
		size_t w = next_word(nm, ti);
		return w < nm->ntok && nm->tok[w].ls && phrase_match(nm, next, ti);
	}
	if (sn == 1 && slot[0] == '$')
		return (ti == nm->ntok || nm->tok[ti].nl) && phrase_match(nm, next, ti);
	if (sn == 2 && slot[0] == '~') {
		for (int k = 0; k <= slot[1] - '0'; k++) {
			if (phrase_match(nm, next, ti))
				return 1;
			ti = next_word(nm, ti);
			if (ti == nm->ntok)
				return 0;
			ti++;
		}
		return 0;
	}
	/* A word alternative skips punctuation first; a punctuation mark does not. */
	for (const char *a = slot; a < slot + sn;) {
		const char *bar = memchr(a, '|', (size_t)(slot + sn - a));
		size_t an = bar ? (size_t)(bar - a) : (size_t)(slot + sn - a), w;

		if (an > 0 && is_mark(a, an)) {
			if (ti < nm->ntok && nm->tok[ti].punct == (unsigned char)a[0] &&
			    phrase_match(nm, next, ti + 1))
				return 1;
		} else if (an > 0) {
			w = next_word(nm, ti);
			if (w < nm->ntok && word_match(nm, w, a, an) &&
			    phrase_match(nm, next, w + 1))
				return 1;
		}
		a += an + 1;
	}
	return 0;
}

/* ---- rules ---- */

#define VERB_IGNORE "ignore|disregard|forget|override|bypass|skip"
#define ROLE                                                                                       \
	"ai|assistant|chatbot|bot|llm|gpt|chatgpt|dan|jailbroken|unrestricted|unfiltered|"         \
	"uncensored|hacker|linux|terminal|persona"
#define INSTR                                                                                      \
	"instruction*|prompt*|rule*|direction*|guideline*|command*|directive*|context|"            \
	"programming|constraint*|guardrail*"

struct phrase {
	const char *name;
	const char *pat;
};

static const struct phrase phrases[] = {
	/* "ignore all previous instructions", "disregard the above rules" */
	{"ignore-instructions", VERB_IGNORE
	 " all|any|every? of? the|these|those|its? previous|prior|above|earlier|"
	 "preceding|foregoing|former|original|initial|old|existing|system|default ~1 " INSTR},
	{"ignore-instructions", VERB_IGNORE
	 " all? of? your system|developer|hidden|initial|original|previous|current|safety? "
	 "prompt*|instruction*|programming|guideline*|directive*|training|guardrail*"},
	{"ignore-instructions",
	 VERB_IGNORE " the system|developer|hidden|safety prompt*|instruction*|"
		     "message|guideline*|rule*|guardrail*"},
	{"ignore-instructions", VERB_IGNORE " everything|anything above|before|previously|earlier"},
	{"ignore-instructions",
	 VERB_IGNORE " everything|all|anything you|youve were|have|been? told|taught|instructed"},
	{"ignore-instructions",
	 "do|dont|stop|never|quit not? follow*|obey*|following|obeying "
	 "your|the|any|all? previous|prior|original|system|initial|above " INSTR},
	{"ignore-instructions",
	 "do|dont|stop|never|quit not? follow*|obey*|following|obeying your instruction*|prompt*|"
	 "guideline*|programming|training"},
	/* roles */
	{"role-change", "you|youre are? now|henceforth a|an|my|the? ~1 " ROLE},
	{"role-change", "you|youre are? now in|entering ~1 mode"},
	{"role-change", "from now on you|youre are|will? be? a|an|my|the? ~1 " ROLE},
	{"role-change", "you|youre are? no longer bound|restricted|limited|constrained|censored"},
	{"role-change", "you|youre are? no longer a|an " ROLE},
	{"role-change", "your new|real|actual|true|updated task|role|goal|objective|prompt|persona "
			"is|are|:|now"},
	{"act-as", "act|behave|roleplay|respond|answer|reply|talk|speak|pose as|like "
		   "a|an|my|the|your? " ROLE},
	{"act-as", "role play as|like? a|an|my|the|your? " ROLE},
	{"act-as", "act|behave as|like if|though you|youre are|were? a|an|the? " ROLE},
	{"act-as", "pretend|imagine to? be|that? you|youre? are? a|an|my|the? " ROLE},
	{"act-as", "dan|god|jailbreak|unrestricted|unfiltered|evil mode"},
	{"act-as",
	 "enable|activate|enter|switch to? dan|god|jailbreak|unrestricted|unfiltered|evil mode"},
	{"act-as", "do anything now"},
	{"act-as", "respond|answer|reply|talk|speak without any? restrictions|filters|limitations|"
		   "censorship|guidelines|guardrails"},
	/* the prompt itself */
	{"system-prompt", "system prompt|prompts"},
	{"system-prompt",
	 "initial|original|hidden|secret|developer|internal|confidential prompt|prompts"},
	{"system-prompt", "hidden|secret|developer|confidential instruction*"},
	{"reveal-prompt", "reveal|print|show|display|output|repeat|tell|give|share|leak|dump|write|"
			  "list|recite|spell|"
			  "paste|provide|send me|us? your|the|all? "
			  "system|initial|original|hidden|secret|full|entire|"
			  "exact|complete|developer|first? prompt|prompts"},
	{"reveal-prompt",
	 "reveal|print|output|repeat|dump|recite|leak|paste|spell me|us? your|the|all? "
	 "initial|original|hidden|secret|developer|above|previous|first|full|exact|"
	 "system instruction*|rules|guidelines|message*|text|words"},
	{"reveal-prompt",
	 "tell|show|give|share|send me|us? your system|initial|original|hidden|secret|"
	 "developer instruction*|rules|guidelines|configuration"},
	{"reveal-prompt", "repeat|print|output|recite the|all? text|words|everything above|before"},
	/* fake structure */
	{"begin-system", "begin|end|start system|admin|developer prompt|message|instruction*|"
			 "override|block|section?"},
	{"role-label", "^ assistant|chatbot|ai|bot|gpt|chatgpt|llm :"},
	{"role-label",
	 "^ system|developer|admin|administrator|root|sudo : ~2 you|ignore|disregard|"
	 "forget|override|new|from|always|never|respond|reply|answer|classify|set|output|"
	 "reveal|print|do"},
	{"role-label", "# system|instruction|instructions|assistant|prompt :? $"},
	{"role-label", "# system|instruction|instructions|assistant|prompt :"},
	{"system-override", "system|admin|administrator|developer|root override"},
	{"system-override", "new|updated|revised|real|actual|true|additional system "
			    "instruction*|prompt*|rules|message"},
	/* dictating the answer */
	{"output-format",
	 "respond|reply|answer|output|return|print|say only|just|exclusively with|:"},
	{"output-format", "respond|reply|answer|output|return with only|just|exclusively"},
	{"output-format", "output|print|say|repeat exactly|verbatim"},
	{"output-format", "output|print|return|say|write the following json|text|string|words"},
	{"set-field",
	 "set|change|make|update|assign|put|force|lower|downgrade|upgrade|raise the|this|its|your|"
	 "my? ticket|tickets? category|urgency|priority|sentiment|confidence|severity|"
	 "classification to|as|at|:|="},
	{"set-field",
	 "classify|categorize|categorise|label|triage this|the? ticket|message|request|"
	 "email|complaint|case? as|under"},
	{"set-field", "urgency|sentiment|confidence :|="},
	/* talking to the model */
	{"address-model",
	 "note|notes|message|instruction*|attention|reminder|memo to|for the|this? "
	 "ai|assistant|model|llm|chatbot|gpt|chatgpt|claude|gemini|copilot|bot|"
	 "classifier"},
	{"address-model", "ai|assistant|model|llm|chatbot|bot must|should|shall now? ignore|"
			  "disregard|forget|override|reveal|classify|set|output|print|comply|obey"},
	{"address-model", "if you are|youre an|a? ai|llm|gpt|chatgpt|assistant|chatbot|bot ~2 "
			  "ignore|disregard|forget|set|classify|output|print|reveal|include|mark"},
};

struct needle {
	const char *name;
	const char *text; /* in the squeezed text: lower case, no whitespace */
};

static const struct needle needles[] = {
	{"role-tag", "<|im_start|>"},
	{"role-tag", "<|im_end|>"},
	{"role-tag", "<|system|>"},
	{"role-tag", "<|assistant|>"},
	{"role-tag", "<|user|>"},
	{"role-tag", "<|endoftext|>"},
	{"role-tag", "<|eot_id|>"},
	{"role-tag", "<|start_header_id|>"},
	{"role-tag", "<|begin_of_text|>"},
	{"role-tag", "<system>"},
	{"role-tag", "</system>"},
	{"role-tag", "<assistant>"},
	{"role-tag", "</assistant>"},
	{"role-tag", "<instructions>"},
	{"role-tag", "</instructions>"},
	{"role-tag", "[system]"},
	{"role-tag", "[/system]"},
	{"role-tag", "[inst]"},
	{"role-tag", "[/inst]"},
	{"role-tag", "<<sys>>"},
	{"role-tag", "<</sys>>"},
	{"role-tag", "[assistant]"},
	{"role-tag", "[systemmessage]"},
	{"ticket-delimiter", "</ticket>"},
	{"ticket-delimiter", "<ticket>"},
	{"answer-json", "\"category\":"},
	{"answer-json", "\"urgency\":"},
	{"answer-json", "\"sentiment\":"},
	{"answer-json", "\"confidence\":"},
	{"answer-json", "\"draft_reply\":"},
};

/*
 * The alternatives of a pattern's first slot, when it is a plain word or
 * mark slot: tokens that match none of them are skipped without calling
 * phrase_match (most tokens). Returns their number, 0 if the slot is
 * optional, anchored or skipping (then every token is tried).
 */
#define FIRST_MAX 48

struct first {
	const char *a;
	size_t n;
};

static size_t first_slot(const char *pat, struct first *f)
{
	size_t sn = strcspn(pat, " "), nf = 0;

	if (sn == 0 || pat[sn - 1] == '?' || pat[0] == '^' || pat[0] == '$' || pat[0] == '~')
		return 0;
	for (size_t i = 0; i < sn;) {
		size_t an = strcspn(pat + i, "| ");

		if (nf == FIRST_MAX)
			return 0;
		f[nf++] = (struct first){pat + i, an};
		i += an + 1;
	}
	return nf;
}

static int first_match(const struct norm *nm, size_t ti, const struct first *f, size_t nf)
{
	const struct tok *t = &nm->tok[ti];

	for (size_t k = 0; k < nf; k++) {
		if (is_mark(f[k].a, f[k].n)) {
			if (t->punct == (unsigned char)f[k].a[0])
				return 1;
		} else if (!t->punct && nm->w.data[t->off] == f[k].a[0] &&
			   word_match(nm, ti, f[k].a, f[k].n)) {
			return 1;
		}
	}
	return 0;
}

/* Add name to the list of matched rules unless it is there; returns 1 if added. */
static int note_rule(const char **seen, size_t *nseen, size_t max, const char *name)
{
	for (size_t i = 0; i < *nseen; i++)
		if (strcmp(seen[i], name) == 0)
			return 0;
	if (*nseen < max)
		seen[(*nseen)++] = name;
	return 1;
}

int inject_detect(const char *text, size_t len, char *why, size_t whylen)
{
	const char *seen[ARRAY_SIZE(phrases) + ARRAY_SIZE(needles) + 1];
	size_t nseen = 0;
	struct norm nm;
	struct buf reason;

	normalize(&nm, text, len);
	for (size_t r = 0; r < ARRAY_SIZE(phrases); r++) {
		struct first f[FIRST_MAX];
		size_t nf = first_slot(phrases[r].pat, f);

		for (size_t ti = 0; ti < nm.ntok; ti++) {
			if (nf > 0 && !first_match(&nm, ti, f, nf))
				continue;
			if (phrase_match(&nm, phrases[r].pat, ti)) {
				note_rule(seen, &nseen, ARRAY_SIZE(seen), phrases[r].name);
				break;
			}
		}
	}
	for (size_t k = 0; k < ARRAY_SIZE(needles); k++)
		if (nm.sq.len &&
		    memmem(nm.sq.data, nm.sq.len, needles[k].text, strlen(needles[k].text)) != NULL)
			note_rule(seen, &nseen, ARRAY_SIZE(seen), needles[k].name);
	if (nm.hidden > 0)
		note_rule(seen, &nseen, ARRAY_SIZE(seen), "hidden-text");
	/*
	 * A right-to-left or left-to-right override (U+202E, U+202D) makes text
	 * read differently from how it is stored: support tickets have no use
	 * for it (right-to-left languages need only marks and embeddings).
	 */
	if (memmem(text, len, "\xe2\x80\xae", 3) != NULL || memmem(text, len, "\xe2\x80\xad", 3) != NULL)
		note_rule(seen, &nseen, ARRAY_SIZE(seen), "bidi-override");
	norm_cleanup(&nm);

	if (why != NULL && whylen > 0) {
		/* Rule names are short ASCII: cutting the list with strlcpy_t is safe. */
		buf_init(&reason, 4096);
		why[0] = '\0';
		for (size_t i = 0; i < nseen; i++)
			if (buf_appendf(&reason, "%s%s", i ? ", " : "", seen[i]) < 0)
				break;
		if (reason.data)
			strlcpy_t(why, reason.data, whylen);
		buf_cleanup(&reason);
	}
	return (int)nseen;
}
