/* xlsx_quiet.c — libxlsxwriter's own stderr lines, kept out of settle's messages.
 *
 * libxlsxwriter (1.1.x) prints "[ERROR][file.c:123]: ..." and "[WARNING]: ..." lines to stderr
 * before it returns the error code, and has no option to stop it. settle reports every such
 * failure itself, in its own style (report_xlsx.c: `could not write "x.xlsx": No space left on
 * device`), so the library's line is a second, differently formatted message for one problem.
 *
 * The library is built with _FORTIFY_SOURCE: every one of those lines goes through
 * __fprintf_chk(stderr, ...), and settle's own code (not fortified) calls none. Defining it here
 * interposes it for the shared library (the executable's symbol comes first); lines that start
 * with libxlsxwriter's tags are dropped, everything else is printed as glibc would. Set
 * SETTLE_XLSX_MESSAGES=1 to see them anyway (debugging).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap);
int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...);

static int xlsx_quiet_is_library_line(FILE *fp, const char *fmt)
{
	if (fp != stderr || !fmt)
		return 0;
	if (strncmp(fmt, "[ERROR]", 7) != 0 && strncmp(fmt, "[WARNING]", 9) != 0)
		return 0;
	const char *show = getenv("SETTLE_XLSX_MESSAGES");
	return !(show && *show && strcmp(show, "0") != 0);
}

int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...)
{
	if (xlsx_quiet_is_library_line(fp, fmt))
		return 0;
	va_list ap;
	va_start(ap, fmt);
	int n = __vfprintf_chk(fp, flag, fmt, ap);
	va_end(ap);
	return n;
}
