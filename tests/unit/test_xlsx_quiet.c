/* test_xlsx_quiet.c — libxlsxwriter's own "[ERROR]" lines do not reach stderr (xlsx_quiet.c);
 * other fortified fprintf calls still print. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "check.h"

/* Runs f with stderr (fd 2) sent to a temporary file; returns what it printed (malloc'ed). */
static char *stderr_of(void (*f)(void))
{
	fflush(stderr);
	FILE *tmp = tmpfile();
	int saved = dup(2);
	dup2(fileno(tmp), 2);
	f();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	long n = ftell(tmp) >= 0 ? (fseek(tmp, 0, SEEK_END), ftell(tmp)) : 0;
	char *out = calloc(1, (size_t)n + 1);
	rewind(tmp);
	if (n > 0 && fread(out, 1, (size_t)n, tmp) != (size_t)n)
		out[0] = '\0';
	fclose(tmp);
	return out;
}

static lxw_error close_result;

static void unwritable_workbook(void)
{
	lxw_workbook *wb = workbook_new("/nonexistent-dir-of-settle-tests/x.xlsx");
	if (wb) {
		workbook_add_worksheet(wb, NULL);
		close_result = workbook_close(wb);
	}
}

TEST(library_errors_are_quiet)
{
	char *got = stderr_of(unwritable_workbook);
	CHECK(close_result != LXW_NO_ERROR);
	CHECK_STR(got, "");
	free(got);
}

int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...);

static void other_line(void)
{
	__fprintf_chk(stderr, 1, "still %s\n", "printed");
}

TEST(other_lines_still_print)
{
	char *got = stderr_of(other_line);
	CHECK_STR(got, "still printed\n");
	free(got);
}

int main(void)
{
	RUN(library_errors_are_quiet);
	RUN(other_lines_still_print);
	return CHECK_EXIT;
}
