/*
 * Replay of the fuzzing inputs: every file in tests/fuzz/regress/<harness>/
 * (inputs that once crashed or leaked) and tests/fuzz/corpus/<harness>/ (the
 * seeds) goes through the same entry point as the libFuzzer harness
 * (tests/fuzz/fuzz_<harness>.c, linked here with TRIAGED_FUZZ_REPLAY), so
 * the normal compiler and CI run them without clang. A harness checks its
 * module's contract with FUZZ_CHECK, which aborts: Check reports the signal
 * on the iteration, and the file is named on stderr just before.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

#ifndef TRIAGED_SOURCE_DIR
#error "TRIAGED_SOURCE_DIR must be defined (CMake does it for unit tests)"
#endif
#define FUZZ_DIR TRIAGED_SOURCE_DIR "/tests/fuzz"

typedef int fuzz_one_fn(const uint8_t *data, size_t size);

struct harness {
	const char *name;
	fuzz_one_fn *fn; /* NULL: not built (its module does not exist yet) */
};

static const struct harness harnesses[] = {
    {"ticket", fuzz_ticket_one}, {"triage", fuzz_triage_one},
    {"config", fuzz_config_one}, {"prompt", fuzz_prompt_one},
    {"injection", fuzz_injection_one}, {"draft_check", fuzz_draft_check_one},
#ifdef TRIAGED_FUZZ_HAVE_RULES
    {"rules", fuzz_rules_one},
#else
	{"rules", NULL},
#endif
    {"dialect", fuzz_dialect_one},
#ifdef TRIAGED_FUZZ_HAVE_REDACT
    {"redact", fuzz_redact_one},
#endif
};

struct input {
	char *path;
	const struct harness *h;
};

static struct input *inputs;
static size_t ninputs;
static char list_err[512]; /* set when the directories could not be listed as expected */

static const struct harness *harness_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(harnesses); i++)
		if (strcmp(harnesses[i].name, name) == 0)
			return &harnesses[i];
	return NULL;
}

static int cmp_input(const void *a, const void *b)
{
	return strcmp(((const struct input *)a)->path, ((const struct input *)b)->path);
}

/* Add the regular files of kind/name/ ("regress" or "corpus") for harness h. */
static void list_dir(const char *kind, const char *name, const struct harness *h)
{
	char *dir = xasprintf("%s/%s/%s", FUZZ_DIR, kind, name);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *path;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		inputs = xrealloc(inputs, (ninputs + 1) * sizeof(*inputs));
		inputs[ninputs].path = path;
		inputs[ninputs].h = h;
		ninputs++;
	}
	closedir(d);
	free(dir);
}

/* Every <kind>/<name> directory must name a harness: a typo would silently skip inputs. */
static void check_names(const char *kind)
{
	char *dir = xasprintf("%s/%s", FUZZ_DIR, kind);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL) {
		if (errno != ENOENT || strcmp(kind, "corpus") == 0)
			snprintf(list_err, sizeof(list_err), "%s: %s", dir, strerror(errno));
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && harness_find(de->d_name) == NULL)
			snprintf(list_err, sizeof(list_err), "%s/%s: no harness of that name", dir,
				 de->d_name);
	closedir(d);
	free(dir);
}

static void list_inputs(void)
{
	check_names("regress");
	check_names("corpus");
	for (size_t i = 0; i < ARRAY_SIZE(harnesses); i++) {
		if (harnesses[i].fn == NULL)
			continue;
		list_dir("regress", harnesses[i].name, &harnesses[i]);
		list_dir("corpus", harnesses[i].name, &harnesses[i]);
	}
	if (ninputs > 1)
		qsort(inputs, ninputs, sizeof(*inputs), cmp_input);
}

static void free_inputs(void)
{
	for (size_t i = 0; i < ninputs; i++)
		free(inputs[i].path);
	free(inputs);
}

/* The whole file; *len gets its size. Caller frees. */
static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t n = 0, alloc = 0, got;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	do {
		if (alloc - n < 65536) {
			alloc = alloc ? alloc * 2 : 65536;
			data = xrealloc(data, alloc);
		}
		got = fread(data + n, 1, alloc - n, f);
		n += got;
	} while (got > 0);
	ck_assert_msg(!ferror(f), "%s: read error", path);
	fclose(f);
	*len = n;
	return data;
}

START_TEST(test_listing)
{
	ck_assert_msg(list_err[0] == '\0', "%s", list_err);
}
END_TEST

/* Each built harness has seeds, so a lost corpus directory fails here, not silently. */
START_TEST(test_corpus_present)
{
	const struct harness *h = &harnesses[_i];
	size_t n = 0;

	if (h->fn == NULL)
		return;
	for (size_t i = 0; i < ninputs; i++)
		if (inputs[i].h == h && strstr(inputs[i].path, "/corpus/") != NULL)
			n++;
	ck_assert_msg(n > 0, "tests/fuzz/corpus/%s has no seed files", h->name);
}
END_TEST

START_TEST(test_replay)
{
	const struct input *in = &inputs[_i];
	size_t len;
	uint8_t *data = read_all(in->path, &len);

	/* Named before the call: a crash inside it shows up as a signal in this iteration. */
	fprintf(stderr, "replay %s (%zu bytes)\n", in->path + strlen(FUZZ_DIR) + 1, len);
	/* Exactly len bytes, as libFuzzer passes them: ASan builds see over-reads. */
	ck_assert_int_eq(in->h->fn(data, len), 0);
	free(data);
}
END_TEST

static Suite *fuzz_regress_suite(void)
{
	Suite *s = suite_create("fuzz_regress");
	TCase *tc = tcase_create("replay");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_listing);
	tcase_add_loop_test(tc, test_corpus_present, 0, ARRAY_SIZE(harnesses));
	tcase_add_loop_test(tc, test_replay, 0, ninputs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	list_inputs();
	sr = srunner_create(fuzz_regress_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free_inputs();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
