/* version.h — settle's version: in run.csv and the workbook (report_set.c), in the digest of
 * the current-versions query (asof.c), in settle.run and `settle --version`.
 *
 * Its own header, at the base, so that the engines read it without settle.h, which is the
 * commands' header (struct settle_ctx, cmd_*) above them.
 */
#ifndef SETTLE_VERSION_H
#define SETTLE_VERSION_H

#define SETTLE_VERSION "0.1.0"

#endif
