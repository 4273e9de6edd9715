/*
 * textfile: see textfile.h.
 */
#include "textfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

char *textfile_read(const char *path, size_t cap, char *err, size_t errlen)
{
	struct buf b;
	char chunk[8192];
	FILE *f;
	size_t n;

	buf_init(&b, cap);
	if ((f = fopen(path, "r")) == NULL) {
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) < 0) {
			set_err(err, errlen, "%s: larger than %zu bytes", path, cap);
			goto fail;
		}
	}
	if (ferror(f)) {
		set_err(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	if (b.len > 0 && memchr(b.data, '\0', b.len) != NULL) {
		set_err(err, errlen, "%s: contains a NUL byte", path);
		goto fail;
	}
	fclose(f);
	return buf_steal(&b);
fail:
	fclose(f);
	buf_cleanup(&b);
	return NULL;
}
