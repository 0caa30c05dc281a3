/* report_xlsx_restatement.h — the Restatement sheet of a P.restated workbook (SPEC §6.1, §8);
 * private to the workbook writer (report_xlsx.c), implemented by report_xlsx_restatement.c.
 *
 * One row per currency and measure of the restatement (close.h): Currency, Measure, Closed, Now,
 * Difference, the difference a live formula (=Now-Closed) whose cached value is exact; money in
 * the currency's minor units. The sheet comes last and names the period, the as-of of the close
 * and the as-of of the figures now. Added by report_xlsx_start when its input has a restatement.
 */
#ifndef SETTLE_REPORT_XLSX_RESTATEMENT_H
#define SETTLE_REPORT_XLSX_RESTATEMENT_H

#include <stdint.h>
#include <xlsxwriter.h>

#include "close.h"
#include "err.h"

int report_xlsx_restatement(lxw_workbook *wb, const char *period, int64_t as_of_us, const struct close_view *cv,
			    struct err *e);

#endif
