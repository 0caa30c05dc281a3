/* test_report.c — the report model without a database: CSV cells (quoting, formula guard),
 * money in its currency's form, the listings table against SPEC §8, periods and run.csv parsing. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "report_listing.h"
#include "report_csv.h"
#include "report_set.h"

/* The bytes report_csv_put writes for s. */
static const char *cell(const char *s, int guard)
{
	static char out[256];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	report_csv_put(f, s, guard);
	fclose(f);
	snprintf(out, sizeof out, "%s", buf ? buf : "");
	free(buf);
	return out;
}

TEST(csv_plain_cells_are_not_quoted)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "" }, { "tr-1", "tr-1" }, { "444455556666", "444455556666" },
		{ "a b", "a b" }, { " lead", " lead" }, { "ünïcödé", "ünïcödé" }, { "x'y", "x'y" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(cell(cases[i].in, 1), cases[i].out);
	CHECK_STR(cell(NULL, 1), "");
}

TEST(csv_quotes_only_when_needed)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "a,b", "\"a,b\"" }, { "say \"hi\"", "\"say \"\"hi\"\"\"" }, { "two\nlines", "\"two\nlines\"" },
		{ "cr\rhere", "\"cr\rhere\"" }, { "\"", "\"\"\"\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(cell(cases[i].in, 1), cases[i].out);
}

TEST(csv_formula_guard_on_text)
{
	/* SPEC §8: = + - @ TAB CR at the start of a text cell get a leading apostrophe. */
	static const struct { const char *in, *out; } cases[] = {
		{ "=SUM(A1:A9)", "'=SUM(A1:A9)" }, { "+4", "'+4" }, { "-tr", "'-tr" }, { "@cmd", "'@cmd" },
		{ "\tx", "'\tx" }, { "\rx", "\"'\rx\"" }, { "=a,b", "\"'=a,b\"" },
		{ "=\"x\"", "\"'=\"\"x\"\"\"" }, { "a=b", "a=b" }, { "'=x", "'=x" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(cell(cases[i].in, 1), cases[i].out);
}

TEST(csv_amounts_are_never_guarded)
{
	CHECK_STR(cell("-0.000001", 0), "-0.000001");
	CHECK_STR(cell("-203.787037", 0), "-203.787037");
	CHECK_STR(cell("-5", 0), "-5");
}

TEST(money_in_the_rows_currency)
{
	static const struct { const char *micros, *cur, *out; } cases[] = {
		{ "44018100000", "USD", "44018.10" }, { "1426512500", "USD", "1426.5125" },
		{ "-1", "USD", "-0.000001" }, { "0", "USD", "0.00" }, { "1200000000", "JPY", "1200" },
		{ "1500000", "KWD", "1.500" }, { "-203787037", "USD", "-203.787037" },
		{ "1234567", NULL, "1.234567" }, { "2000000", NULL, "2" }, { "2000000", "XXX", "2" },
		{ "-9223372036854775808", "USD", "-9223372036854.775808" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[MONEY_FORMAT_MAX];
		struct err e = { 0 };
		REQUIRE(report_format_money(cases[i].micros, cases[i].cur, buf, &e) > 0);
		CHECK_STR(buf, cases[i].out);
	}
}

TEST(money_out_of_range_is_an_error)
{
	static const char *const bad[] = { "9223372036854775808", "12.5", "", "1e6", "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char buf[MONEY_FORMAT_MAX];
		struct err e = { 0 };
		CHECK(report_format_money(bad[i], "USD", buf, &e) < 0);
		CHECK(e.msg[0] != '\0');
	}
}

static const struct report_listing *by_csv(const char *name)
{
	for (size_t i = 0; i < report_listings_n; i++)
		if (report_listings[i].csv_name && strcmp(report_listings[i].csv_name, name) == 0)
			return &report_listings[i];
	return NULL;
}

static const char *header(const struct report_listing *l)
{
	static char out[1024];
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < l->ncols; i++)
		used += (size_t)snprintf(out + used, sizeof out - used, "%s%s", i ? "," : "", l->cols[i].name);
	return out;
}

TEST(listings_have_the_spec_columns)
{
	/* SPEC §8, exactly. */
	const struct report_listing *l;
	REQUIRE((l = by_csv("allocations.csv")) != NULL);
	CHECK_STR(header(l), "period,recipient_account_id,transaction_reference_id,agreement_id,offer_id,match_rule,"
			     "currency,party_role,party_account_id,revenue,listing_fee,seller_tax,net");
	REQUIRE((l = by_csv("payouts.csv")) != NULL);
	CHECK_STR(header(l), "period,party_role,party_account_id,currency,revenue,listing_fee,seller_tax,net,"
			     "net_payable,rounding");
	REQUIRE((l = by_csv("exceptions.csv")) != NULL);
	CHECK_STR(header(l), "period,code,reference,recipient_account_id,agreement_id,offer_id,currency,expected,"
			     "actual,difference,detail");
	REQUIRE((l = by_csv("rejected.csv")) != NULL);
	CHECK_STR(header(l), "file,line,column,code,detail");
	CHECK(by_csv("disbursements.csv") && by_csv("aging.csv") && by_csv("metering.csv"));
	/* Issue 6 (docs/insights.md): the columns of settle.insight_usage and settle.insight_timing. */
	REQUIRE((l = by_csv("insights.csv")) != NULL);
	CHECK_STR(header(l), "period,customer_aws_account_id,product_code,dimension,agreement_id,offer_id,status,"
			     "history_points,history_days,history_median,history_mad,band_low,band_high,period_points,"
			     "observed_min,observed_max,anomalies,max_score,note,source");
	REQUIRE((l = by_csv("payment_timing.csv")) != NULL);
	CHECK_STR(header(l), "period,measure,recipient_account_id,currency,samples,mean_days,median_days,p90_days,"
			     "min_days,max_days");
}

TEST(insight_data_are_well_formed)
{
	for (size_t i = 0; i < REPORT_INSIGHT_DATA_N; i++) {
		const struct report_listing *l = &report_insight_data[i];
		CHECK(l->csv_name == NULL && l->sheet_name != NULL);
		CHECK(l->ncols > 0 && l->ncols <= REPORT_COLS_MAX);
		CHECK(strstr(l->sql, "$1::bigint") && strstr(l->sql, "$2::text") && strstr(l->sql, " ORDER BY "));
		for (size_t c = 0; c < l->ncols; c++)
			CHECK(l->cols[c].type != REPORT_MONEY); /* insights never carry money */
	}
}

TEST(decimals_parse_to_the_nearest_double)
{
	static const struct {
		const char *text;
		double want;
	} ok[] = {
		{ "0", 0.0 },          { "34.0", 34.0 },        { "108.5", 108.5 },   { "-2.5", -2.5 },
		{ "0.1", 0.1 },        { "24.7", 24.7 },        { "35.2", 35.2 },     { "-0.0", 0.0 },
		{ "007.50", 7.5 },     { "123456789012345", 123456789012345.0 },   { "0.000000000000000000001", 1e-21 },
		{ "530.0", 530.0 },    { "99999999999.9", 99999999999.9 },
	};
	static const char *const bad[] = { "", "-", ".5", "5.", "1e3", "+1", " 1", "1 ", "1,5", "0x10", "NaN",
					   "1234567890123456", "0.00000000000000000000001", "--1", "1.2.3" };
	struct err e = { 0 };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		double d = -1;
		CHECK(report_parse_decimal(ok[i].text, &d, &e) == 0);
		CHECK(d == ok[i].want); /* the compiler's decimal literal is the nearest double too */
		CHECK(!signbit(d) || ok[i].want < 0);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		double d;
		CHECK(report_parse_decimal(bad[i], &d, &e) < 0);
	}
}

TEST(listings_are_well_formed)
{
	CHECK_I64(report_listings_n, REPORT_LISTINGS_N);
	static const char *const sheets[] = { "Summary", "Payouts", "Allocations", "Exceptions", "Disbursements",
					      "Aging", "Metering", "Tax", "Rejected", "Insights", "Payment timing",
					      "Tax by jurisdiction", "Charge groups" };
	REQUIRE(report_listings_n == sizeof sheets / sizeof sheets[0]);
	for (size_t i = 0; i < report_listings_n; i++) {
		const struct report_listing *l = &report_listings[i];
		CHECK_STR(l->sheet_name, sheets[i]);
		CHECK(l->ncols > 0 && l->ncols <= REPORT_COLS_MAX);
		/* Parameters used, a total order, byte-order collation for text. */
		CHECK(strstr(l->sql, "$1::bigint") && strstr(l->sql, "$2::text"));
		CHECK(strstr(l->sql, " ORDER BY ") && strstr(l->sql, "COLLATE \"C\""));
		for (size_t c = 0; c < l->ncols; c++) {
			CHECK(l->cols[c].name && *l->cols[c].name);
			if (l->cols[c].type != REPORT_MONEY)
				continue;
			/* Every amount knows the column of its currency; a paid amount (Disbursements,
			 * SPEC v2 §4.5) the paid currency's. */
			int cc = l->cols[c].currency_col;
			REQUIRE(cc >= 0 && (size_t)cc < l->ncols);
			CHECK_STR(l->cols[cc].name, strncmp(l->cols[c].name, "paid_", 5) == 0 ? "paid_currency" : "currency");
			CHECK(l->cols[cc].type == REPORT_TEXT);
		}
	}
}

TEST(period_is_exactly_yyyy_mm)
{
	int32_t p;
	struct err e = { 0 };
	CHECK(report_parse_period("2026-10", &p, &e) == 0);
	CHECK_I64(p, 2026 * 12 + 9);
	static const char *const bad[] = { "2026-1", "2026-13", "2026-00", "26-10", "2026-10-01", "2026-10/..",
					   "../etc", "", "2026_10", " 2026-10" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e.exit_code = 0;
		CHECK(report_parse_period(bad[i], &p, &e) < 0);
		CHECK_I64(e.exit_code, EXIT_USAGE);
	}
}

/* Writes text to a temporary file and parses it as run.csv. */
static int runfile(const char *text, struct report_runfile *rf, struct err *e)
{
	char path[] = "/tmp/settle-test-runcsv-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	int rc = report_runfile_read(path, rf, e);
	unlink(path);
	return rc;
}

static const char run_ok[] =
	"key,value\n"
	"settle_version,0.1.0\n"
	"period,2026-10\n"
	"as_of,2026-11-01T02:00:00.123456Z\n"
	"schema_version,4\n"
	"config.rounding,half_even\n"
	"config.deposit_window_days,7\n"
	"config.tolerance.JPY,2\n"
	"inputs,1\n"
	"input.1.name,\"'=odd,name.csv\"\n"
	"input.1.sha256,0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

TEST(runfile_round_trip)
{
	struct report_runfile rf;
	struct err e = { 0 };
	REQUIRE(runfile(run_ok, &rf, &e) == 0);
	CHECK_I64(rf.period, 2026 * 12 + 9);
	CHECK_I64(rf.as_of_us, INT64_C(1793498400123456));
	CHECK_STR(rf.settle_version, "0.1.0");
	CHECK_I64(rf.schema_version, 4);
	CHECK(rf.cfg.rounding == MONEY_HALF_EVEN);
	CHECK_I64(rf.cfg.deposit_window_days, 7);
	CHECK_I64(rf.cfg.deposit_missing_days, 10); /* not in the file: the built-in default */
	CHECK_I64(config_tolerance_micros(&rf.cfg, "JPY"), 2000000);
	CHECK_I64(rf.inputs_n, 1);
	if (rf.inputs_n == 1)
		CHECK_STR(rf.inputs_sha256[0], "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	report_runfile_release(&rf);
}

TEST(runfile_rejections)
{
	static const char *const bad[] = {
		"",                                                           /* no header */
		"key,value\nperiod,2026-10\nas_of,2026-11-01\n",              /* no version */
		"key,value\nsettle_version,1\nperiod,2026-13\nas_of,2026-11-01\n",
		"key,value\nsettle_version,1\nperiod,2026-10\nas_of,yesterday\n",
		"key,value\nsettle_version,1\nperiod,2026-10\nas_of,2026-11-01\nconfig.nope,1\n",
		"key,value\nsettle_version,1\nperiod,2026-10\nas_of,2026-11-01\nconfig.rounding,up\n",
		"key,value\nsettle_version,1\nperiod,2026-10\nas_of,2026-11-01\nthree,fields,here\n",
		"key,value\nsettle_version,1\nperiod,2026-10\nas_of,2026-11-01\n\"open,quote\n",
		"key,value\nsettle_version,1\nperiod,2026-10\nas_of,2026-11-01\ninput.1.sha256,xyz\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct report_runfile rf;
		struct err e = { 0 };
		if (runfile(bad[i], &rf, &e) == 0) {
			printf("  accepted bad run.csv #%zu\n", i);
			check_failed_++;
			report_runfile_release(&rf);
			continue;
		}
		CHECK_I64(e.exit_code, EXIT_USAGE);
	}
}

int main(void)
{
	RUN(csv_plain_cells_are_not_quoted);
	RUN(csv_quotes_only_when_needed);
	RUN(csv_formula_guard_on_text);
	RUN(csv_amounts_are_never_guarded);
	RUN(money_in_the_rows_currency);
	RUN(money_out_of_range_is_an_error);
	RUN(listings_have_the_spec_columns);
	RUN(listings_are_well_formed);
	RUN(insight_data_are_well_formed);
	RUN(decimals_parse_to_the_nearest_double);
	RUN(period_is_exactly_yyyy_mm);
	RUN(runfile_round_trip);
	RUN(runfile_rejections);
	return CHECK_EXIT;
}
