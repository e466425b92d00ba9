// SPDX-License-Identifier: MIT
/*
 * size.c - sizes with units, both ways: "4G" and "512M" on the command line,
 * "4.00 GiB" in reports.
 *
 * Units are binary (K = 1024), as with dd(1) and fallocate(1), and may be
 * followed by "iB" or "B".  A size is a whole number: "1.5G" is refused
 * rather than rounded, so that a typo never turns into a surprising size.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char units[] = "KMGTPE";

/* Returns the power of 1024 a suffix stands for, or -1 for a bad suffix. */
static int size_suffix(const char *s)
{
	const char *u;

	if (!*s)
		return 0;
	if ((*s == 'b' || *s == 'B') && !s[1])
		return 0;
	u = strchr(units, toupper((unsigned char)*s));
	if (!u)
		return -1;
	s++;
	if (!*s || !strcmp(s, "B") || !strcmp(s, "iB") || !strcmp(s, "ib"))
		return (int)(u - units) + 1;
	return -1;
}

/**
 * size_parse() - reads a size such as "4G", "512M", "4096" or "1GiB".
 * @s: the text.
 * @size: set to the size in bytes on success.
 *
 * Return: 0, -EINVAL for text that is not a size, -ERANGE for a size that
 * does not fit in a size_t.
 */
int size_parse(const char *s, size_t *size)
{
	unsigned long long v;
	char *end;
	int shift;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	shift = size_suffix(end);
	if (shift < 0)
		return -EINVAL;
	while (shift--) {
		if (v > SIZE_MAX / 1024)
			return -ERANGE;
		v *= 1024;
	}
	if (v > SIZE_MAX)
		return -ERANGE;
	*size = v;
	return 0;
}

/**
 * size_format() - writes @bytes for people: "512 B", "1.50 MiB", "4.00 GiB".
 * @bytes: the size.
 * @buf: where to write.
 * @len: room in @buf.
 */
void size_format(size_t bytes, char *buf, size_t len)
{
	double v = bytes;
	int i = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%zu B", bytes);
		return;
	}
	while (v >= 1024 && units[i + 1]) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, "%.2f %ciB", v, units[i]);
}
