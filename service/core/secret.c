/*
 * secret: see secret.h. Startup only (blocking file reads).
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int secret_read_file(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	struct stat st;
	char buf[4096];
	ssize_t n;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = -1;

	if (outlen)
		out[0] = '\0';
	if (fd < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		set_err(err, errlen, "%s: readable or writable by group or others (mode %03o); "
				     "chmod 600 it",
			path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	str_trim(buf);
	len = strlen(buf);
	if (len == 0) {
		set_err(err, errlen, "%s: empty", path);
		goto out;
	}
	if (len + 1 > outlen) {
		set_err(err, errlen, "%s: key longer than %zu bytes", path, outlen ? outlen - 1 : 0);
		goto out;
	}
	memcpy(out, buf, len + 1);
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}
