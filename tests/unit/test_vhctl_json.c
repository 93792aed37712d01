// SPDX-License-Identifier: BSD-3-Clause
/* tools/vhctl/json.c: the exact text of --json documents (nesting, commas, escapes, null). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "vhctl.h"

struct doc {
	char *buf;
	size_t len;
	struct vhctl_json j;
};

static void open_doc(struct doc *d)
{
	d->buf = NULL;
	d->len = 0;
	d->j = (struct vhctl_json){ .f = open_memstream(&d->buf, &d->len) };
	assert_non_null(d->j.f);
}

static void check_doc(struct doc *d, const char *want)
{
	fclose(d->j.f);
	assert_string_equal(d->buf, want);
	free(d->buf);
}

static void test_nesting(void **state)
{
	struct doc d;

	(void)state;
	open_doc(&d);
	vhctl_json_begin(&d.j, NULL);
	vhctl_json_str(&d.j, "device", "net");
	vhctl_json_u64(&d.j, "id", 1);
	vhctl_json_hex(&d.j, "features", 0x774418028ull);
	vhctl_json_begin_array(&d.j, "names");
	vhctl_json_str(&d.j, NULL, "A");
	vhctl_json_str(&d.j, NULL, "B");
	vhctl_json_end_array(&d.j);
	vhctl_json_begin_array(&d.j, "empty");
	vhctl_json_end_array(&d.j);
	vhctl_json_begin(&d.j, "config");
	vhctl_json_bool(&d.j, "link_up", true);
	vhctl_json_double(&d.j, "pps", 1.5);
	vhctl_json_end(&d.j);
	vhctl_json_end(&d.j);
	check_doc(&d, "{\n"
		      "  \"device\": \"net\",\n"
		      "  \"id\": 1,\n"
		      "  \"features\": \"0x0000000774418028\",\n"
		      "  \"names\": [\n"
		      "    \"A\",\n"
		      "    \"B\"\n"
		      "  ],\n"
		      "  \"empty\": [],\n"
		      "  \"config\": {\n"
		      "    \"link_up\": true,\n"
		      "    \"pps\": 1.500\n"
		      "  }\n"
		      "}\n");
}

static void test_escapes_and_null(void **state)
{
	struct doc d;

	(void)state;
	open_doc(&d);
	vhctl_json_begin(&d.j, NULL);
	vhctl_json_str(&d.j, "path", "a\"b\\c\nd\x01");
	vhctl_json_str(&d.j, "none", NULL);
	vhctl_json_double(&d.j, "inf", INFINITY);
	vhctl_json_double(&d.j, "nan", NAN);
	vhctl_json_end(&d.j);
	check_doc(&d, "{\n"
		      "  \"path\": \"a\\\"b\\\\c\\u000ad\\u0001\",\n"
		      "  \"none\": null,\n"
		      "  \"inf\": null,\n"
		      "  \"nan\": null\n"
		      "}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_escapes_and_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
