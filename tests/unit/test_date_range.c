/* test_date_range.c — the plausible range of dates and timestamps (docs/ingest.md): a valid but
 * absurd date is BAD_DATE at ingest, in every date and timestamp column of every kind, so that it
 * can never reach reconcile; open-end columns (an offer's valid_until) may lie far ahead. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "feed.h"

/* Header + one row: "OK", or "CODE column", with the sentence in detail. */
static void verdict(const char *data, char *out, size_t cap, char *detail, size_t dcap)
{
	FILE *f = fmemopen((void *)data, strlen(data), "rb");
	struct csv_in *r = csv_in_new(f);
	struct csv_in_record rec;
	struct err e;
	static struct feed_header h;
	struct feed_value vals[FEED_COLUMNS_MAX];
	struct feed_reject rej = { 0 };
	detail[0] = '\0';
	if (csv_in_next(r, &rec, &e) != CSV_IN_RECORD || feed_header_bind(&h, NULL, &rec, NULL, &rej) < 0) {
		snprintf(out, cap, "HEADER");
	} else {
		csv_in_set_fields_max(r, h.nfields + 1);
		if (csv_in_next(r, &rec, &e) != CSV_IN_RECORD)
			snprintf(out, cap, "NO ROW");
		else if (feed_row_validate(&h, &rec, vals, &rej) < 0) {
			snprintf(out, cap, "%s %s", rej.code, rej.column ? rej.column : "-");
			snprintf(detail, dcap, "%s", rej.detail);
		} else
			snprintf(out, cap, "OK");
	}
	csv_in_free(r);
	fclose(f);
}

#define BE_HDR "billing_event_id,recipient_account_id,action,transaction_type,amount,currency,invoice_date,transaction_reference_id,delete_date\n"
#define BE(date, del) BE_HDR "e1,111122223333,INVOICED,SELLER_REV_SHARE,1,USD," date ",tr-1," del "\n"
#define MT(ts) "metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,status\nm1," ts ",900000000001,pc1,api,1,Success\n"
#define DP(d) "deposit_id,account_id,value_date,amount,currency,bank_trace_id\nd1,123456789012," d ",1,USD,t\n"
#define OF(from, until) "offer_id,isv_account_id,currency,split_basis,valid_from,valid_until\no1,444455556666,USD,DIRECT," from "," until "\n"

static const struct {
	const char *name, *data, *want;
} cases[] = {
	{ "first_plausible_day", BE("2000-01-01", ""), "OK" },
	{ "last_plausible_instant", BE("2100-12-31T23:59:59Z", ""), "OK" },
	{ "before_range", BE("1999-12-31T23:59:59Z", ""), "BAD_DATE invoice_date" },
	{ "after_range", BE("2101-01-01", ""), "BAD_DATE invoice_date" },
	{ "year_9999", BE("9999-12-31", ""), "BAD_DATE invoice_date" },
	{ "offset_moves_it_out", BE("2100-12-31T23:30:00-01:00", ""), "BAD_DATE invoice_date" },
	{ "offset_moves_it_in", BE("1999-12-31T23:30:00-01:00", ""), "OK" },
	{ "optional_timestamp_too", BE("2026-10-05", "9999-12-31T00:00:00Z"), "BAD_DATE delete_date" },
	{ "metering_timestamp", MT("9999-12-31T23:00:00Z"), "BAD_DATE timestamp" },
	{ "metering_epoch", MT("1970-01-01T00:00:00Z"), "BAD_DATE timestamp" },
	{ "deposit_value_date", DP("9999-12-31"), "BAD_DATE value_date" },
	{ "deposit_ok", DP("2026-10-20"), "OK" },
	{ "offer_open_end", OF("2026-01-01", "9999-12-31"), "OK" },
	{ "offer_open_end_still_not_before_2000", OF("2026-01-01", "1900-01-01"), "BAD_DATE valid_until" },
	{ "offer_valid_from_bounded", OF("9999-01-01", "9999-12-31"), "BAD_DATE valid_from" },
};

TEST(table)
{
	char got[128], detail[FEED_DETAIL_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		verdict(cases[i].data, got, sizeof got, detail, sizeof detail);
		if (strcmp(got, cases[i].want) != 0) {
			printf("  %s: got \"%s\" (%s), want \"%s\"\n", cases[i].name, got, detail, cases[i].want);
			check_failed_++;
		}
	}
}

TEST(message)
{
	char got[128], detail[FEED_DETAIL_MAX];
	verdict(BE("9999-12-31", ""), got, sizeof got, detail, sizeof detail);
	CHECK_STR(detail, "\"9999-12-31\" is outside the plausible range of dates (2000-01-01 to 2100-12-31)");
}

int main(void)
{
	RUN(table);
	RUN(message);
	return CHECK_EXIT;
}
