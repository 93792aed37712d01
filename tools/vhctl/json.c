// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl --json: a small streaming JSON writer (one document on stdout). Keys and strings are
 * escaped (RFC 8259 §7); numbers that are not finite are written as null.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "vhctl.h"

static void indent(struct vhctl_json *j)
{
	fputc('\n', j->f);
	for (unsigned i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

void vhctl_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Comma, newline and indentation before a member or element, then "key": when there is one. */
static void member(struct vhctl_json *j, const char *key)
{
	if (j->depth && j->count[j->depth - 1]++)
		fputc(',', j->f);
	if (j->depth)
		indent(j);
	if (key) {
		vhctl_json_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void open_(struct vhctl_json *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->f);
	if (j->depth < VHCTL_JSON_DEPTH)
		j->count[j->depth] = 0;
	j->depth++;
}

static void close_(struct vhctl_json *j, char c)
{
	bool empty = !j->count[j->depth - 1];

	j->depth--;
	if (!empty)
		indent(j);
	fputc(c, j->f);
	if (!j->depth)
		fputc('\n', j->f);
}

void vhctl_json_begin(struct vhctl_json *j, const char *key)
{
	open_(j, key, '{');
}

void vhctl_json_end(struct vhctl_json *j)
{
	close_(j, '}');
}

void vhctl_json_begin_array(struct vhctl_json *j, const char *key)
{
	open_(j, key, '[');
}

void vhctl_json_end_array(struct vhctl_json *j)
{
	close_(j, ']');
}

void vhctl_json_str(struct vhctl_json *j, const char *key, const char *v)
{
	member(j, key);
	if (v)
		vhctl_json_string(j->f, v);
	else
		fputs("null", j->f);
}

void vhctl_json_u64(struct vhctl_json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void vhctl_json_hex(struct vhctl_json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->f, "\"0x%016" PRIx64 "\"", v);
}

void vhctl_json_double(struct vhctl_json *j, const char *key, double v)
{
	member(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.3f", v);
	else
		fputs("null", j->f);
}

void vhctl_json_bool(struct vhctl_json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}
