/* meter_daily.h — the daily sums of one metering file's Success records, kept in memory while
 * the file is read (settle.metering_daily, sql/006_metering_daily.sql).
 *
 * When every row of the file is stored (the bulk path of src/ingest.c with no repeated key), the
 * sums the client kept while parsing are exactly what the SQL aggregate over the stored rows
 * would give, and sending ~200k sums costs a fraction of a second where the server's aggregate
 * over 5M rows costs seconds. Otherwise (a repeated key, the staging path, more groups than the
 * cap) ingest discards them and lets SQL sum the rows that won.
 *
 * Memory is bounded: at most METER_DAILY_GROUPS_MAX groups (about 110 bytes each); past that the
 * aggregator stops and says so, and the SQL path takes over. The cap is what keeps an ingest's
 * memory flat in the number of records: groups are streams x days, so a month with many streams
 * reaches it, and then pays the server's aggregate instead of memory. Measured on a 5M-record
 * month (208k groups, load 3-5, two alternating pairs): cap 500,000 -> peak RSS 57 MiB, 42.3 and
 * 22.8 s; cap 65,536 -> 23 MiB, 58.3 and 26.1 s, the same sums (bench/README.md,
 * "bench_metering.sh"). A month of fewer groups (customers x dimensions x days) is unaffected.
 */
#ifndef SETTLE_METER_DAILY_H
#define SETTLE_METER_DAILY_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

#ifndef METER_DAILY_GROUPS_MAX
#define METER_DAILY_GROUPS_MAX 65536
#endif

struct meter_daily;

/* A new, empty aggregator (NULL on out of memory). Freed with meter_daily_free. */
struct meter_daily *meter_daily_new(void);
void meter_daily_free(struct meter_daily *m);

/* One Success record. Text arguments are bytes with lengths (not NUL-terminated); agreement_id
 * absent is passed as length 0. Returns 0, or -1 when the aggregator gave up (too many groups,
 * out of memory, a sum past int64): meter_daily_usable() is false from then on. */
int meter_daily_add(struct meter_daily *m, const char *agreement, size_t agreement_len, const char *customer,
		    size_t customer_len, const char *product_code, size_t product_code_len, const char *dimension,
		    size_t dimension_len, int32_t day, int64_t quantity);

/* Whether every record added so far is in the sums. */
int meter_daily_usable(const struct meter_daily *m);

/* COPYs the sums into settle.metering_daily as file_id's rows (binary COPY, inside the caller's
 * transaction). */
int meter_daily_send(const struct meter_daily *m, struct db *db, int64_t file_id, struct err *e);

#endif
