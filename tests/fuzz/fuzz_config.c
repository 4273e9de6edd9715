/*
 * fuzz_config: libFuzzer harness for the configuration parser
 * (service/core/config.h). The input up to its first NUL byte is the ini text;
 * whatever follows, split at NUL bytes, is an environment array
 * ("NAME=value" strings) applied on top, as config_load_text does with a
 * real environment. A loaded configuration is validated and dumped (to
 * /dev/null, and to memory to check that the dump reads back as the same
 * configuration); config_mask_conninfo() gets the input text too. Must not
 * leak.
 */
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define FUZZ_ENV_MAX 16

static FILE *devnull(void)
{
	static FILE *f;

	if (f == NULL) {
		f = fopen("/dev/null", "w");
		FUZZ_CHECK(f != NULL);
	}
	return f;
}

/* config_dump into a new string; caller frees. */
static char *dump_to_string(const struct config *c)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	FUZZ_CHECK(f != NULL);
	config_dump(c, f);
	FUZZ_CHECK(fclose(f) == 0);
	return s;
}

/*
 * Load a dump into a fresh configuration and dump that (caller frees). The
 * dump must load, and nothing in it may read back as a comment or a section
 * header: the kafka properties and categories are all still there.
 */
static char *reload_dump(const char *dump, const struct config *from)
{
	struct config again;
	char err[1024] = "", *d;
	int rc;

	config_init(&again);
	rc = config_load_text(&again, dump, "dump.ini", NULL, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "dump does not load: %s\n--- dump ---\n%s", err, dump);
	FUZZ_CHECK(rc == 0);
	if (from != NULL) {
		FUZZ_CHECK(again.nkafka == from->nkafka);
		FUZZ_CHECK(again.ncategories == from->ncategories);
	}
	d = dump_to_string(&again);
	config_cleanup(&again);
	return d;
}

/*
 * "Print the effective configuration as ini": the dump loads back, and from
 * the first reload on it is a fixed point. (Not from the original: masking
 * may rewrite an unparseable conninfo tail once, e.g. "password=******".)
 */
static void check_dump_reloads(const struct config *c)
{
	char *d1 = dump_to_string(c), *d2 = reload_dump(d1, c), *d3 = reload_dump(d2, NULL);

	if (strcmp(d2, d3) != 0)
		fprintf(stderr, "--- dump of the dump ---\n%s--- and again ---\n%s", d2, d3);
	FUZZ_CHECK(strcmp(d2, d3) == 0);
	free(d3);
	free(d2);
	free(d1);
}

static void check_loaded(const struct config *c)
{
	char err[1024] = "";

	if (config_validate(c, err, sizeof(err)) != 0)
		FUZZ_CHECK(err[0] != '\0');
	config_dump(c, devnull());
	check_dump_reloads(c);
}

int fuzz_config_one(const uint8_t *data, size_t size)
{
	char *copy = fuzz_cstr(data, size), *envp[FUZZ_ENV_MAX + 1], *masked;
	size_t textlen = strlen(copy), nenv = 0;
	struct config c;
	char err[1024] = "";

	/* The bytes after the text: NUL-separated environment entries (fuzz_cstr ends them). */
	for (size_t i = textlen + 1; i < size && nenv < FUZZ_ENV_MAX; i += strlen(copy + i) + 1)
		envp[nenv++] = copy + i;
	envp[nenv] = NULL;

	config_init(&c);
	if (config_load_text(&c, copy, "fuzz.ini", NULL, err, sizeof(err)) == 0) {
		check_loaded(&c);
		if (nenv > 0) {
			if (config_load_env(&c, envp, err, sizeof(err)) == 0)
				check_loaded(&c);
			else
				FUZZ_CHECK(strncmp(err, "env ", 4) == 0);
		}
	} else {
		FUZZ_CHECK(strncmp(err, "fuzz.ini:", 9) == 0);
	}
	config_cleanup(&c);
	/* Cleanup leaves an empty struct; a second cleanup is harmless. */
	config_cleanup(&c);

	masked = config_mask_conninfo(copy);
	FUZZ_CHECK(masked != NULL);
	free(masked);
	free(copy);
	return 0;
}

#ifndef TRIAGED_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_config_one(data, size);
}
#endif
