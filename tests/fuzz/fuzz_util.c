/*
 * fuzz_util: helpers shared by the harnesses and the replay suite. Linked
 * into every harness and into test_fuzz_regress.
 */
#include "fuzz.h"

#include <string.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);

	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
