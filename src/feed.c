/* feed.c — the feed kinds of SPEC §3 as tables, and row validation (see feed.h).
 *
 * Each kind is one table of columns: header name, target column, type, flags. The same table
 * binds headers, validates rows, and (in ingest.c) names the COPY columns, so a column cannot be
 * validated one way and stored another.
 */
#include "feed.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "currency.h"
#include "money.h"
#include "timeutil.h"

/* ---------------------------------------------------------------------------------------------
 * The kinds
 */

/* SPEC §3.1 */
static const char *const be_actions[] = { "INVOICED", "FORGIVEN", "DISBURSED", "COLLECTED", NULL };
static const char *const be_types[] = {
	"SELLER_REV_SHARE", "SELLER_REV_SHARE_REFUND", "SELLER_REV_SHARE_CREDIT",
	"AWS_REV_SHARE", "AWS_REV_SHARE_REFUND", "AWS_REV_SHARE_CREDIT",
	"SELLER_TAX_SHARE", "SELLER_TAX_SHARE_REFUND", "SELLER_TAX_SHARE_CREDIT",
	"AWS_TAX_SHARE", "AWS_TAX_SHARE_REFUND", "AWS_TAX_SHARE_CREDIT",
	"OTHER_SELLER_TAX_SHARE", "OTHER_SELLER_TAX_SHARE_REFUND", "OTHER_SELLER_TAX_SHARE_CREDIT",
	"BALANCE_ADJUSTMENT", "DISBURSEMENT", "DISBURSEMENT_FAILURE", "AWS_INFRA_SHARE", NULL,
};
/* SPEC §3.2 */
static const char *const offer_pricing[] = { "CONTRACT", "USAGE", NULL };
static const char *const offer_splits[] = { "DIRECT", "MARKUP", "SHARE", NULL };
/* SPEC §3.4 */
static const char *const metering_statuses[] = { "Success", "CustomerNotSubscribed", "DuplicateRecord",
						 "Unprocessed", NULL };

#define PCT_100_E4 INT64_C(1000000)     /* 100 % as percent × 10^4 */
#define PCT_MARKUP_MAX_E4 INT64_C(10000000) /* 1000 %: a markup beyond is a typo, not a price */
#define FEED_QUANTITY_MAX INT64_C(2147483647)

#define T(n) { n, n, FEED_TEXT, 0, NULL, NULL, 0 }
#define TR(n) { n, n, FEED_TEXT, FEED_REQUIRED, NULL, NULL, 0 }
#define TS(n) { n, n, FEED_TIMESTAMP, 0, NULL, NULL, 0 }
/* a required column that also identifies the kind of a header (FEED_DETECT) */
#define TK(n) { n, n, FEED_TEXT, FEED_REQUIRED | FEED_DETECT, NULL, NULL, 0 }
/* an optional column that identifies the kind of a header */
#define TD(n) { n, n, FEED_TEXT, FEED_DETECT, NULL, NULL, 0 }
#define MONEY(n) { n, n "_micros", FEED_MONEY, 0, NULL, NULL, 0 }
#define CUR(n) { n, n, FEED_CURRENCY, 0, NULL, NULL, 0 }
/* SDDS.md: every feed carries its history columns (the version rule of SPEC §3.1) */
#define HISTORY TS("valid_from"), TS("insert_date"), TS("update_date"), TS("delete_date")

/* SPEC §3.1: a DISBURSED row without invoice_date is dated by valid_from, else insert_date. */
static const char *const be_date_sources[] = { "valid_from", "insert_date", NULL };

static const struct feed_column billing_event_cols[] = {
	{ "recipient_account_id", "recipient_account_id", FEED_TEXT, FEED_RECIPIENT, NULL, NULL, 0 },
	TK("billing_event_id"),
	{ "action", "action", FEED_ENUM, FEED_REQUIRED, be_actions, NULL, 0 },
	{ "transaction_type", "transaction_type", FEED_ENUM, FEED_REQUIRED, be_types, NULL, 0 },
	{ "amount", "amount_micros", FEED_MONEY, FEED_REQUIRED, NULL, NULL, 0 },
	{ "currency", "currency", FEED_CURRENCY, FEED_REQUIRED, NULL, NULL, 0 },
	/* may be empty on DISBURSED rows: rule_billing_event */
	{ "invoice_date", "invoice_date", FEED_TIMESTAMP, FEED_IN_HEADER, NULL, NULL, 0 },
	T("transaction_reference_id"), /* required for INVOICED/FORGIVEN: rule_billing_event */
	TS("valid_from"),
	TS("insert_date"),
	TS("update_date"),
	TS("delete_date"),
	T("from_account_id"),
	T("to_account_id"),
	T("end_user_account_id"),
	T("product_id"),
	T("agreement_id"),
	T("offer_id"),
	T("parent_billing_event_id"),
	T("disbursement_billing_event_id"),
	T("balance_impacting"),
	TS("payment_due_date"),
	TS("usage_period_start_date"),
	TS("usage_period_end_date"),
	T("invoice_id"),
	T("line_item_id"),
	T("invoice_variant"),
	T("buyer_invoice_id"),
	T("charge_variant"),
	T("charge_side"),
	T("billing_address_id"),
	T("bank_trace_id"),
	T("disbursement_reference_number"),
	T("broker_id"),
	TS("action_date"),
	T("buyer_transaction_reference_id"),
	TS("buyer_invoice_date"),
	T("buyer_line_item_id"),
	MONEY("disbursement_amount"),
	CUR("disbursement_currency"),
	T("catalog"),
	T("data_catalog"),
	/* which column dated a DISBURSED row without invoice_date ("valid_from", "insert_date"), or
	 * NULL: invoice_date is the file's own */
	{ "invoice_date_source", "invoice_date_source", FEED_TEXT, FEED_DERIVED, be_date_sources, NULL, 0 },
};

/* settle's own offer file is told from the offer feeds by the columns only it has. */
#define OFFER_OWN(n, db, type, flags, max) { n, db, type, (flags) | FEED_DETECT_ANY, NULL, NULL, max }

/* SPEC §3.2 (version 2): the file completes the terms the feeds derive, so only a key is
 * required — offer_id, or resale_authorization_id for a row that applies to every offer of that
 * authorization (rule_offer); an offer only this file knows needs isv_account_id, currency and
 * split_basis, which reconcile checks (OFFER_INCOMPLETE, sql/016). */
static const struct feed_column offer_cols[] = {
	T("offer_id"),
	T("agreement_id"),
	T("product_id"),
	T("product_code"),
	T("buyer_account_id"),
	OFFER_OWN("isv_account_id", "isv_account_id", FEED_TEXT, 0, 0),
	OFFER_OWN("reseller_account_id", "reseller_account_id", FEED_TEXT, 0, 0),
	OFFER_OWN("resale_authorization_id", "resale_authorization_id", FEED_TEXT, 0, 0),
	{ "currency", "currency", FEED_CURRENCY, 0, NULL, NULL, 0 },
	/* empty: the feeds tell (a usage-based pricing term), else CONTRACT (sql/016) */
	{ "pricing_model", "pricing_model", FEED_ENUM, 0, offer_pricing, NULL, 0 },
	{ "split_basis", "split_basis", FEED_ENUM, FEED_DETECT_ANY, offer_splits, NULL, 0 },
	OFFER_OWN("markup_pct", "markup_rate_micros", FEED_PCT, 0, PCT_MARKUP_MAX_E4),
	OFFER_OWN("isv_share_pct", "isv_share_rate_micros", FEED_PCT, 0, PCT_100_E4),
	OFFER_OWN("listing_fee_pct", "listing_fee_rate_micros", FEED_PCT, 0, PCT_100_E4),
	{ "valid_from", "valid_from", FEED_DATE, 0, NULL, NULL, 0 },
	{ "valid_until", "valid_until", FEED_DATE, 0, NULL, NULL, 0 },
};

static const struct feed_column offer_dimension_cols[] = {
	TK("offer_id"),
	{ "dimension", "dimension", FEED_TEXT, FEED_REQUIRED | FEED_DETECT_ANY, NULL, NULL, 0 },
	{ "unit_price", "unit_price_micros", FEED_PRICE, FEED_REQUIRED | FEED_DETECT_ANY, NULL, NULL, 0 },
};

static const struct feed_column metering_cols[] = {
	TK("metering_record_id"),
	{ "timestamp", "usage_hour", FEED_TIMESTAMP, FEED_REQUIRED, NULL, NULL, 0 },
	TR("customer_aws_account_id"),
	TR("product_code"),
	TR("dimension"),
	{ "quantity", "quantity", FEED_QUANTITY, FEED_REQUIRED, NULL, NULL, 0 },
	{ "status", "status", FEED_ENUM, 0, metering_statuses, "Success", 0 },
	T("license_arn"),
	T("agreement_id"),
	TS("submitted_at"),
};

static const struct feed_column bank_deposit_cols[] = {
	TR("account_id"),
	TK("deposit_id"),
	{ "value_date", "value_date", FEED_DATE, FEED_REQUIRED, NULL, NULL, 0 },
	{ "amount", "amount_micros", FEED_MONEY, FEED_REQUIRED, NULL, NULL, 0 },
	{ "currency", "currency", FEED_CURRENCY, FEED_REQUIRED, NULL, NULL, 0 },
	T("bank_trace_id"),
	T("reference"),
};

/* The SDDS feeds of SPEC §3.6, with the column sets of SDDS.md. Key columns are required and
 * identify the kind (with a second column where the key alone is shared with another feed);
 * amounts are micros (SPEC §2), rates and quantities exact decimals, JSON is checked and stored
 * as jsonb. Text the marketplace may extend (statuses, term types, target types) is kept as it
 * is: settle validates what it computes with. */

static const struct feed_column account_cols[] = {
	TK("account_id"),
	TD("aws_account_id"), /* 12 digits, or fewer when a tool lost the leading zeros: sql/009 */
	T("encrypted_account_id"),
	T("mailing_address_id"),
	T("tax_address_id"),
	T("tax_registration_number"),
	T("tax_legal_name"),
	T("catalog"),
	HISTORY,
};

static const struct feed_column agreement_cols[] = {
	TK("agreement_id"),
	T("offer_id"),
	TD("proposer_account_id"),
	TD("acceptor_account_id"),
	TS("start_time"),
	TS("end_time"),
	TS("acceptance_time"),
	T("intent"),
	T("preceding_agreement_id"),
	T("status"),
	T("status_reason_code"),
	CUR("currency_code"),
	MONEY("estimated_agreement_value"),
	T("offer_set_id"),
	T("catalog"),
	HISTORY,
};

static const struct feed_column agreement_term_cols[] = {
	TK("agreement_id"),
	TK("term_id"),
	T("term_type"),
	{ "term_configuration", "term_configuration", FEED_JSON, 0, NULL, NULL, 0 },
	HISTORY,
};

static const struct feed_column sdds_offer_cols[] = {
	TK("offer_id"),
	TK("offer_revision"),
	T("name"),
	TS("expiration_date"),
	T("opportunity_name"),
	T("opportunity_description"),
	TD("seller_account_id"),
	T("opportunity_id"), /* the resale authorization of a CPPO */
	T("recipient_account_id"),
	T("catalog"),
	HISTORY,
};

static const struct feed_column offer_product_cols[] = {
	TK("offer_id"),
	TK("offer_revision"),
	TK("product_id"),
	HISTORY,
};

static const struct feed_column offer_target_cols[] = {
	TK("offer_target_id"),
	T("offer_id"),
	T("offer_revision"),
	T("target_type"),
	T("polarity"),
	T("value"),
	T("catalog"),
	HISTORY,
};

static const struct feed_column product_cols[] = {
	TK("product_id"),
	TD("manufacturer_account_id"),
	T("product_code"),
	T("title"),
	T("catalog"),
	HISTORY,
};

static const struct feed_column legacy_id_mapping_cols[] = {
	TK("mapping_type"),
	TK("legacy_id"),
	TK("new_id"),
	HISTORY,
};

static const struct feed_column tax_item_cols[] = {
	TK("tax_item_id"),
	T("invoice_id"),
	T("line_item_id"),
	T("customer_bill_id"),
	T("product_id"),
	TS("invoice_date"),
	T("transaction_reference_id"),
	T("transaction_type_code"),
	T("tax_liable_party"),
	T("tax_type_code"),
	T("taxed_jurisdiction"),
	{ "tax_jurisdiction_rate", "tax_jurisdiction_rate", FEED_DECIMAL, 0, NULL, NULL, 0 },
	MONEY("tax_amount"),
	CUR("tax_currency"),
	T("taxed_customer_account_id"),
	T("taxed_customer_country"),
	T("taxed_customer_state_or_region"),
	T("taxed_customer_city"),
	T("taxed_customer_postal_code"),
	T("product_tax_code"),
	T("display_price_taxability_type"),
	TS("date_used_for_tax_calculation"),
	T("jurisdiction_level"),
	T("tax_location_code_taxed_jurisdiction"),
	T("tax_calculation_reason_code"),
	T("customer_exemption_certificate_id"),
	T("customer_exemption_certificate_id_domain"),
	T("customer_exemption_certificate_level"),
	T("customer_exemption_code"),
	T("customer_exemption_domain"),
	HISTORY,
};

static const struct feed_column daily_usage_cols[] = {
	TK("usage_feed_id"),
	TS("usage_date"),
	T("recipient_account_id"),
	T("payer_account_id"),
	T("end_user_account_id"),
	T("product_id"),
	T("offer_id"),
	T("agreement_id"),
	T("dimension_key"),
	T("usage_unit"),
	{ "usage_quantity", "usage_quantity", FEED_DECIMAL, 0, NULL, NULL, 0 },
	T("region"),
	T("charge_item_description"),
	CUR("pricing_currency"),
	MONEY("usage_rate_per_unit_in_pricing_currency"),
	MONEY("estimated_revenue_in_pricing_currency"),
	T("catalog"),
	HISTORY,
};

static int rule_billing_event(struct feed_value *vals, struct feed_reject *rej);
static int rule_offer(struct feed_value *vals, struct feed_reject *rej);

#define COLS(a) a, sizeof a / sizeof a[0]

const struct feed_kind feed_kinds[FEED_KINDS_N] = {
	{ FEED_BILLING_EVENT, "billing_event", "billingeventfeed_v1", "settle.billing_event", COLS(billing_event_cols),
	  NULL, rule_billing_event },
	{ FEED_OFFER, "offer", NULL, "settle.offer", COLS(offer_cols), NULL, rule_offer },
	{ FEED_OFFER_DIMENSION, "offer_dimension", NULL, "settle.offer_dimension", COLS(offer_dimension_cols), NULL,
	  NULL },
	{ FEED_METERING, "metering", NULL, "settle.metering", COLS(metering_cols), "metering_record_id", NULL },
	{ FEED_BANK_DEPOSIT, "bank_deposit", NULL, "settle.bank_deposit", COLS(bank_deposit_cols), "deposit_id", NULL },
	{ FEED_ACCOUNT, "accountfeed_v1", NULL, "settle.sdds_account", COLS(account_cols), NULL, NULL },
	{ FEED_AGREEMENT, "agreementfeed_v1", NULL, "settle.sdds_agreement", COLS(agreement_cols), NULL, NULL },
	{ FEED_AGREEMENT_TERM, "agreementtermfeed_v1", NULL, "settle.sdds_agreement_term", COLS(agreement_term_cols),
	  NULL, NULL },
	{ FEED_SDDS_OFFER, "offerfeed_v1", NULL, "settle.sdds_offer", COLS(sdds_offer_cols), NULL, NULL },
	{ FEED_OFFER_PRODUCT, "offerproductfeed_v1", NULL, "settle.sdds_offer_product", COLS(offer_product_cols), NULL,
	  NULL },
	{ FEED_OFFER_TARGET, "offertargetfeed_v1", NULL, "settle.sdds_offer_target", COLS(offer_target_cols), NULL,
	  NULL },
	{ FEED_PRODUCT, "productfeed_v1", NULL, "settle.sdds_product", COLS(product_cols), NULL, NULL },
	{ FEED_LEGACY_ID_MAPPING, "legacyidmappingfeed_v1", NULL, "settle.sdds_legacy_id_mapping",
	  COLS(legacy_id_mapping_cols), NULL, NULL },
	{ FEED_TAX_ITEM, "taxitemfeed_v1", NULL, "settle.sdds_tax_item", COLS(tax_item_cols), NULL, NULL },
	{ FEED_DAILY_USAGE, "dailyusagefeed_v1", NULL, "settle.sdds_daily_usage", COLS(daily_usage_cols), NULL, NULL },
};

_Static_assert(sizeof billing_event_cols / sizeof billing_event_cols[0] <= FEED_COLUMNS_MAX,
	       "FEED_COLUMNS_MAX too small");
_Static_assert(sizeof tax_item_cols / sizeof tax_item_cols[0] <= FEED_COLUMNS_MAX, "FEED_COLUMNS_MAX too small");

const struct feed_kind *feed_kind_by_name(const char *name)
{
	for (size_t i = 0; i < FEED_KINDS_N; i++) {
		ASSERT(feed_kinds[i].id == (enum feed_kind_id)i && feed_kinds[i].ncols <= FEED_COLUMNS_MAX);
		if (strcmp(feed_kinds[i].name, name) == 0 || (feed_kinds[i].alias && strcmp(feed_kinds[i].alias, name) == 0))
			return &feed_kinds[i];
	}
	return NULL;
}

const char *feed_kind_names(void)
{
	static char names[1024];
	if (names[0])
		return names;
	size_t used = 0;
	for (size_t i = 0; i < FEED_KINDS_N; i++) {
		const struct feed_kind *k = &feed_kinds[i];
		int n = k->alias ? snprintf(names + used, sizeof names - used, "%s%s (%s)", i ? ", " : "", k->name, k->alias)
				 : snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", k->name);
		ASSERT(n > 0 && (size_t)n < sizeof names - used);
		used += (size_t)n;
	}
	return names;
}

int feed_kind_has_recipient(const struct feed_kind *k)
{
	for (size_t c = 0; c < k->ncols; c++)
		if (k->cols[c].flags & FEED_RECIPIENT)
			return 1;
	return 0;
}

enum feed_sql feed_column_sql(const struct feed_column *c)
{
	switch (c->type) {
	case FEED_TEXT:
	case FEED_ENUM:
	case FEED_CURRENCY:
		return FEED_SQL_TEXT;
	case FEED_MONEY:
	case FEED_PRICE:
	case FEED_PCT:
	case FEED_QUANTITY:
		return FEED_SQL_INT8;
	case FEED_TIMESTAMP:
		return FEED_SQL_TIMESTAMPTZ;
	case FEED_DATE:
		return FEED_SQL_DATE;
	case FEED_DECIMAL:
		return FEED_SQL_NUMERIC;
	case FEED_JSON:
		return FEED_SQL_JSONB;
	}
	ASSERT(0);
	return FEED_SQL_TEXT;
}

/* ---------------------------------------------------------------------------------------------
 * Bytes: UTF-8, quoting for messages
 */

enum bytes_problem { BYTES_OK = 0, BYTES_NUL, BYTES_BAD_UTF8 };

/* One pass over a field for both byte-level checks: a NUL byte (nul_counts) and UTF-8 validity
 * (no overlongs, no surrogates, at most U+10FFFF). *at is the offset of the first problem. */
static enum bytes_problem bytes_check(const char *s, size_t len, int nul_counts, size_t *at)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		/* ASCII without NUL, 8 bytes at a time: most feed text is exactly that. */
		if (len - i >= 8) {
			uint64_t v;
			memcpy(&v, p + i, 8);
			uint64_t zero = (v - UINT64_C(0x0101010101010101)) & ~v & UINT64_C(0x8080808080808080);
			if (((v & UINT64_C(0x8080808080808080)) | zero) == 0) {
				i += 8;
				continue;
			}
		}
		unsigned char c = p[i];
		if (c < 0x80) {
			if (c == 0 && nul_counts) {
				*at = i;
				return BYTES_NUL;
			}
			i++;
			continue;
		}
		size_t n;
		uint32_t cp, min;
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1, cp = c & 0x1Fu, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2, cp = c & 0x0Fu, min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3, cp = c & 0x07u, min = 0x10000;
		} else {
			*at = i;
			return BYTES_BAD_UTF8;
		}
		int bad = len - i <= n;
		for (size_t k = 1; !bad && k <= n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				bad = 1;
			cp = cp << 6 | (p[i + k] & 0x3Fu);
		}
		if (bad || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
			*at = i;
			return BYTES_BAD_UTF8;
		}
		i += n + 1;
	}
	return BYTES_OK;
}

long feed_utf8_invalid_at(const char *s, size_t len)
{
	size_t at;
	return bytes_check(s, len, 0, &at) == BYTES_OK ? -1 : (long)at;
}

char *feed_quote(const char *value, size_t len, char *out, size_t cap)
{
	ASSERT(cap >= FEED_QUOTE_MAX * 4 + 8);
	size_t take = len, o = 0;
	int cut = 0;
	if (take > FEED_QUOTE_MAX) {
		take = FEED_QUOTE_MAX;
		/* never split a UTF-8 sequence */
		while (take > 0 && ((unsigned char)value[take] & 0xC0) == 0x80)
			take--;
		cut = 1;
	}
	out[o++] = '"';
	for (size_t i = 0; i < take; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c < 0x20 || c == 0x7F)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
		else
			out[o++] = (char)c;
	}
	out[o++] = '"';
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static int feed_reject_set(struct feed_reject *rej, const char *code, const char *column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int feed_reject_set(struct feed_reject *rej, const char *code, const char *column, const char *fmt, ...)
{
	rej->code = code;
	rej->column = column;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rej->detail, sizeof rej->detail, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Header
 */

static int field_is(const struct csv_in_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->len == n && memcmp(f->ptr, name, n) == 0;
}

static int header_has(const struct csv_in_record *h, const char *name)
{
	for (size_t i = 0; i < h->nstored; i++)
		if (field_is(&h->fields[i], name))
			return 1;
	return 0;
}

/* What a header lacks to fit kind k: 0 when it fits, else the number of missing FEED_DETECT
 * columns (+1 when none of the kind's FEED_DETECT_ANY columns is there); *near counts the
 * recognition columns it has, for naming the kinds it comes closest to. */
static size_t kind_lacks(const struct feed_kind *k, const struct csv_in_record *header, size_t *near)
{
	size_t lacks = 0, any = 0, any_found = 0;
	*near = 0;
	for (size_t c = 0; c < k->ncols; c++) {
		const struct feed_column *col = &k->cols[c];
		if (!(col->flags & (FEED_DETECT | FEED_DETECT_ANY)))
			continue;
		int has = header_has(header, col->name);
		*near += (size_t)has;
		if (col->flags & FEED_DETECT)
			lacks += (size_t)!has;
		else {
			any++;
			any_found += (size_t)has;
		}
	}
	return lacks + (any && !any_found);
}

size_t feed_kind_fits(const struct csv_in_record *header, const struct feed_kind **fits, size_t cap)
{
	size_t n = 0, near;
	for (size_t i = 0; i < FEED_KINDS_N; i++) {
		if (kind_lacks(&feed_kinds[i], header, &near) != 0)
			continue;
		if (n < cap)
			fits[n] = &feed_kinds[i];
		n++;
	}
	return n;
}

const struct feed_kind *feed_kind_detect(const struct csv_in_record *header)
{
	const struct feed_kind *fit;
	return feed_kind_fits(header, &fit, 1) == 1 ? fit : NULL;
}

/* Appends ", " (unless first) and the text to buf, cut short with "..." when it does not fit. */
static void list_add(char *buf, size_t cap, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void list_add(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
	if (*used + 4 >= cap)
		return;
	if (*used) {
		int n = snprintf(buf + *used, cap - *used, ", ");
		*used += (size_t)n;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, cap - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *used - 4) {
		snprintf(buf + cap - 4, 4, "...");
		*used = cap - 1;
		return;
	}
	*used += (size_t)n;
}

/* The columns of k that tell its kind, for a message: "\"a\" and \"b\"" plus "and one of ...". */
static void kind_signature(const struct feed_kind *k, char *buf, size_t cap)
{
	size_t used = 0;
	char any[FEED_DETAIL_MAX / 4] = "";
	size_t any_used = 0;
	buf[0] = '\0';
	for (size_t c = 0; c < k->ncols; c++) {
		if (k->cols[c].flags & FEED_DETECT)
			list_add(buf, cap, &used, "%s", k->cols[c].name);
		else if (k->cols[c].flags & FEED_DETECT_ANY)
			list_add(any, sizeof any, &any_used, "%s", k->cols[c].name);
	}
	if (any_used)
		snprintf(buf + used, cap - used, "%sone of %s", used ? " and " : "", any);
}

/* SPEC §3: never guessed. Several fits: named. None: the kinds with most of their recognising
 * columns in the header are named with what they lack. */
static int kind_unknown(const struct csv_in_record *header, struct feed_reject *rej)
{
	const struct feed_kind *fits[FEED_KINDS_N];
	size_t n = feed_kind_fits(header, fits, FEED_KINDS_N);
	char list[FEED_DETAIL_MAX / 2] = "";
	size_t used = 0;
	ASSERT(n != 1);
	if (n > 1) {
		for (size_t i = 0; i < n; i++)
			list_add(list, sizeof list, &used, "%s", fits[i]->name);
		return feed_reject_set(rej, FEED_AMBIGUOUS_KIND, NULL,
				       "cannot tell the kind of the file from its header: it fits %zu kinds (%s); "
				       FEED_HINT_KIND,
				       n, list);
	}
	size_t best = 0, near;
	for (size_t i = 0; i < FEED_KINDS_N; i++) {
		kind_lacks(&feed_kinds[i], header, &near);
		best = near > best ? near : best;
	}
	if (best == 0)
		return feed_reject_set(rej, FEED_MISSING_COLUMN, NULL,
				       "cannot tell the kind of the file from its header: it has none of the "
				       "columns that identify a kind (billing_event_id, metering_record_id, deposit_id, "
				       "offer_id, account_id, agreement_id, ...); " FEED_HINT_KIND);
	for (size_t i = 0; i < FEED_KINDS_N; i++) {
		char sig[FEED_DETAIL_MAX / 4];
		kind_lacks(&feed_kinds[i], header, &near);
		if (near != best)
			continue;
		kind_signature(&feed_kinds[i], sig, sizeof sig);
		list_add(list, sizeof list, &used, "%s (needs %s)", feed_kinds[i].name, sig);
	}
	return feed_reject_set(rej, FEED_MISSING_COLUMN, NULL,
			       "cannot tell the kind of the file from its header: it fits no kind; it could be %s; "
			       FEED_HINT_KIND,
			       list);
}

/* The index of the column named name in k (a constant of the tables: it exists). */
static int col_index(const struct feed_kind *k, const char *name)
{
	for (size_t c = 0; c < k->ncols; c++)
		if (strcmp(k->cols[c].name, name) == 0)
			return (int)c;
	ASSERT(0);
	return -1;
}

static int kind_column(const struct feed_kind *k, const struct csv_in_field *f)
{
	for (size_t c = 0; c < k->ncols; c++)
		if (!(k->cols[c].flags & FEED_DERIVED) && field_is(f, k->cols[c].name))
			return (int)c;
	return -1;
}

static void header_note_unknown(struct feed_header *h, const struct csv_in_field *f)
{
	char q[FEED_QUOTE_MAX * 4 + 8];
	size_t used = strlen(h->unknown_list);
	h->unknown_n++;
	if (used >= sizeof h->unknown_list - 4)
		return; /* already cut short with "..." */
	feed_quote(f->ptr, f->len, q, sizeof q);
	size_t room = sizeof h->unknown_list - used;
	int n = snprintf(h->unknown_list + used, room, "%s%s", used ? ", " : "", q);
	if (n < 0 || (size_t)n >= room - 4)
		snprintf(h->unknown_list + (sizeof h->unknown_list - 4), 4, "...");
}

/* The header itself must be clean text: the kind and every column are decided from it. */
static int header_field_check(const struct csv_in_field *f, size_t i, struct feed_reject *rej)
{
	if (f->too_long)
		return feed_reject_set(rej, FEED_FIELD_TOO_LONG, NULL,
				       "header column %zu is longer than %zu bytes", i + 1, CSV_IN_FIELD_MAX);
	size_t at;
	switch (bytes_check(f->ptr, f->len, 1, &at)) {
	case BYTES_OK:
		return 0;
	case BYTES_NUL:
		return feed_reject_set(rej, FEED_NUL_BYTE, NULL, "header column %zu contains a NUL byte", i + 1);
	case BYTES_BAD_UTF8:
		break;
	}
	return feed_reject_set(rej, FEED_BAD_UTF8, NULL, "the header is not valid UTF-8 (column %zu, byte %zu)",
			       i + 1, at + 1);
}

static int header_missing(struct feed_header *h, struct feed_reject *rej)
{
	const struct feed_kind *k = h->kind;
	char list[FEED_DETAIL_MAX / 2] = "";
	size_t used = 0, missing = 0;
	const char *first = NULL;
	int recipient_missing = 0;
	for (size_t c = 0; c < k->ncols; c++) {
		const struct feed_column *col = &k->cols[c];
		int needed = (col->flags & (FEED_REQUIRED | FEED_IN_HEADER)) || ((col->flags & FEED_RECIPIENT) && !h->recipient);
		if (!needed || h->present[c] >= 0)
			continue;
		if (!first)
			first = col->name;
		if (col->flags & FEED_RECIPIENT)
			recipient_missing = 1;
		missing++;
		int n = snprintf(list + used, sizeof list - used, "%s\"%s\"", used ? ", " : "", col->name);
		if (n > 0 && (size_t)n < sizeof list - used)
			used += (size_t)n;
	}
	/* SPEC §3.2: an offer row is keyed by offer_id or resale_authorization_id, so its header
	 * needs one of them (a file of another kind given --kind offer is rejected whole). */
	if (!missing && k->id == FEED_OFFER && h->present[col_index(k, "offer_id")] < 0 &&
	    h->present[col_index(k, "resale_authorization_id")] < 0)
		return feed_reject_set(rej, FEED_MISSING_COLUMN, "offer_id",
				       "the offer header lacks the required column \"offer_id\" (or \"resale_authorization_id\")");
	if (!missing)
		return 0;
	return feed_reject_set(rej, FEED_MISSING_COLUMN, first, "the %s header lacks the required column%s %s%s",
			       k->name, missing > 1 ? "s" : "", list,
			       recipient_missing ? " (" FEED_HINT_RECIPIENT ")" : "");
}

int feed_header_bind(struct feed_header *h, const struct feed_kind *kind, const struct csv_in_record *header,
		     const char *recipient, struct feed_reject *rej)
{
	memset(h, 0, sizeof *h);
	h->recipient = recipient && *recipient ? recipient : NULL;
	if (header->nfields > header->nstored || header->nfields > CSV_IN_FIELDS_MAX)
		return feed_reject_set(rej, FEED_BAD_CSV, NULL, "the header has more than %zu columns",
				       CSV_IN_FIELDS_MAX);
	for (size_t i = 0; i < header->nfields; i++)
		if (header_field_check(&header->fields[i], i, rej) < 0)
			return -1;
	if (!kind)
		kind = feed_kind_detect(header);
	if (!kind)
		return kind_unknown(header, rej);
	h->kind = kind;
	ASSERT(kind->ncols <= FEED_COLUMNS_MAX);
	h->nfields = header->nfields;
	for (size_t c = 0; c < FEED_COLUMNS_MAX; c++)
		h->present[c] = -1;
	for (size_t i = 0; i < header->nfields; i++) {
		const struct csv_in_field *f = &header->fields[i];
		int c = kind_column(kind, f);
		h->map[i] = c;
		if (c < 0) {
			header_note_unknown(h, f);
			continue;
		}
		if (h->present[c] >= 0)
			return feed_reject_set(rej, FEED_BAD_CSV, kind->cols[c].name,
					       "column \"%s\" appears twice in the header (columns %d and %zu)",
					       kind->cols[c].name, h->present[c] + 1, i + 1);
		h->present[c] = (int)i;
	}
	if (header_missing(h, rej) < 0)
		return -1;
	for (size_t c = 0; c < kind->ncols; c++) {
		const struct feed_column *col = &kind->cols[c];
		h->sent[c] = h->present[c] >= 0 || col->default_value || ((col->flags & FEED_RECIPIENT) && h->recipient);
		for (size_t v = 0; (col->flags & FEED_DERIVED) && col->values[v]; v++)
			h->sent[c] |= h->present[col_index(kind, col->values[v])] >= 0;
		h->sent_n += (size_t)h->sent[c];
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Fields
 */

#define QUOTE_CAP (FEED_QUOTE_MAX * 4 + 8)

static int field_enum(const struct feed_column *col, const struct csv_in_field *f, struct feed_value *v,
		      struct feed_reject *rej)
{
	for (size_t i = 0; col->values[i]; i++)
		if (field_is(f, col->values[i])) {
			v->ptr = col->values[i];
			return 0;
		}
	char q[QUOTE_CAP], allowed[FEED_DETAIL_MAX / 2 + 64];
	size_t used = 0;
	for (size_t i = 0; col->values[i]; i++) {
		int n = snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "", col->values[i]);
		if (n > 0 && (size_t)n < sizeof allowed - used)
			used += (size_t)n;
	}
	return feed_reject_set(rej, FEED_BAD_ENUM, col->name, "%s is not one of %s",
			       feed_quote(f->ptr, f->len, q, sizeof q), allowed);
}

static int field_money(const struct feed_column *col, const struct csv_in_field *f, struct feed_value *v,
		       struct feed_reject *rej)
{
	char q[QUOTE_CAP];
	enum money_status st = money_parse(f->ptr, f->len, &v->i64);
	if (st == MONEY_OK) {
		if (col->type == FEED_PRICE && v->i64 < 0)
			return feed_reject_set(rej, FEED_AMOUNT_RANGE, col->name, "%s must not be negative",
					       feed_quote(f->ptr, f->len, q, sizeof q));
		return 0;
	}
	const char *code = st == MONEY_BAD_AMOUNT  ? FEED_BAD_AMOUNT
			   : st == MONEY_PRECISION ? FEED_AMOUNT_PRECISION
						   : FEED_AMOUNT_RANGE;
	return feed_reject_set(rej, code, col->name, "%s %s", feed_quote(f->ptr, f->len, q, sizeof q),
			       money_status_text(st));
}

static int field_pct(const struct feed_column *col, const struct csv_in_field *f, struct feed_value *v,
		     struct feed_reject *rej)
{
	char q[QUOTE_CAP];
	enum money_status st = money_parse_pct(f->ptr, f->len, col->pct_max_e4, &v->i64);
	if (st == MONEY_OK)
		return 0;
	feed_quote(f->ptr, f->len, q, sizeof q);
	int64_t max_pct = col->pct_max_e4 / 10000;
	if (st == MONEY_BAD_AMOUNT && f->len > 1 && f->ptr[0] == '-'
	    && money_parse(f->ptr, f->len, &(int64_t){ 0 }) != MONEY_BAD_AMOUNT)
		return feed_reject_set(rej, FEED_BAD_PERCENT, col->name,
				       "%s is negative (a percentage here is between 0 and %" PRId64 ")", q, max_pct);
	if (st == MONEY_BAD_AMOUNT)
		return feed_reject_set(rej, FEED_BAD_PERCENT, col->name,
				       "%s is not a decimal number (a percentage like 8 or 3.5, without %%)", q);
	if (st == MONEY_PRECISION)
		return feed_reject_set(rej, FEED_BAD_PERCENT, col->name, "%s has more than 4 decimal places", q);
	return feed_reject_set(rej, FEED_BAD_PERCENT, col->name, "%s is out of range (0 to %" PRId64 ")", q,
			       max_pct);
}

/* The plausible range of every date and timestamp (docs/ingest.md): UTC days 2000-01-01 up to
 * 2100-12-31. A valid but absurd date (9999-12-31) would otherwise be stored for good and make
 * every later reconcile of its period fail; the marketplace began in 2012 (back-filled rows sit in
 * year=2010 folders but carry their real dates). Columns that mark an open end (an agreement's
 * end_time, an offer's expiration or valid_until) may lie up to 9999-12-31: they are compared,
 * never turned into a period. */
#define FEED_DAY_PLAUSIBLE_MIN 10957 /* 2000-01-01 */
#define FEED_DAY_PLAUSIBLE_END 47847 /* 2101-01-01, exclusive */

static int field_time_open_end(const char *name)
{
	static const char *const open_end[] = { "end_time", "valid_until", "valid_to", "expiration_date" };
	for (size_t i = 0; i < sizeof open_end / sizeof open_end[0]; i++)
		if (strcmp(name, open_end[i]) == 0)
			return 1;
	return 0;
}

static int field_time(const struct feed_column *col, const struct csv_in_field *f, struct feed_value *v,
		      struct feed_reject *rej)
{
	char q[QUOTE_CAP];
	int64_t us;
	if (time_parse(f->ptr, f->len, &us) != 0 && time_has_sub_micro(f->ptr, f->len))
		return feed_reject_set(rej, FEED_BAD_DATE, col->name,
				       "%s has a fraction of a second below a microsecond: settle keeps "
				       "instants to the microsecond and never rounds one",
				       feed_quote(f->ptr, f->len, q, sizeof q));
	if (time_parse(f->ptr, f->len, &us) != 0)
		return feed_reject_set(rej, FEED_BAD_DATE, col->name,
				       "%s is not a valid ISO 8601 date or timestamp (like 2026-10-03 or "
				       "2026-10-03T12:00:00Z)",
				       feed_quote(f->ptr, f->len, q, sizeof q));
	int32_t day = time_day_of(us);
	if (day < FEED_DAY_PLAUSIBLE_MIN || (day >= FEED_DAY_PLAUSIBLE_END && !field_time_open_end(col->name)))
		return feed_reject_set(rej, FEED_BAD_DATE, col->name,
				       "%s is outside the plausible range of dates (2000-01-01 to 2100-12-31%s)",
				       feed_quote(f->ptr, f->len, q, sizeof q),
				       field_time_open_end(col->name) ? " or later" : "");
	/* SPEC §4.2 compares UTC calendar days: a date column keeps the UTC day of the instant. */
	v->i64 = col->type == FEED_DATE ? (int64_t)day : us;
	return 0;
}

static int field_quantity(const struct feed_column *col, const struct csv_in_field *f, struct feed_value *v,
			  struct feed_reject *rej)
{
	char q[QUOTE_CAP];
	int64_t n = 0;
	int over = 0;
	for (size_t i = 0; i < f->len; i++) {
		char c = f->ptr[i];
		if (c < '0' || c > '9')
			return feed_reject_set(rej, FEED_BAD_AMOUNT, col->name,
					       "%s is not a whole number (0 to %" PRId64 ")",
					       feed_quote(f->ptr, f->len, q, sizeof q), FEED_QUANTITY_MAX);
		if (!over) {
			n = n * 10 + (c - '0');
			over = n > FEED_QUANTITY_MAX;
		}
	}
	if (over)
		return feed_reject_set(rej, FEED_AMOUNT_RANGE, col->name, "%s is out of range (0 to %" PRId64 ")",
				       feed_quote(f->ptr, f->len, q, sizeof q), FEED_QUANTITY_MAX);
	v->i64 = n;
	return 0;
}

/* An exact decimal: the money grammar of SPEC §2 (-?[0-9]+(\.[0-9]+)?) without its scale limit,
 * at most FEED_DECIMAL_DIGITS_MAX digits; stored as numeric exactly as written. */
static int field_decimal(const struct feed_column *col, const struct csv_in_field *f, struct feed_reject *rej)
{
	char q[QUOTE_CAP];
	size_t i = f->len > 0 && f->ptr[0] == '-', digits = 0, int_digits = 0, frac_digits = 0;
	int dot = 0;
	for (; i < f->len; i++) {
		char c = f->ptr[i];
		if (c >= '0' && c <= '9') {
			digits++;
			if (dot)
				frac_digits++;
			else
				int_digits++;
		} else if (c == '.' && !dot) {
			dot = 1;
		} else {
			break;
		}
	}
	if (i != f->len || int_digits == 0 || (dot && frac_digits == 0))
		return feed_reject_set(rej, FEED_BAD_AMOUNT, col->name, "%s is not a decimal number",
				       feed_quote(f->ptr, f->len, q, sizeof q));
	if (digits > FEED_DECIMAL_DIGITS_MAX)
		return feed_reject_set(rej, FEED_AMOUNT_RANGE, col->name, "%s has more than %d digits",
				       feed_quote(f->ptr, f->len, q, sizeof q), FEED_DECIMAL_DIGITS_MAX);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * JSON (agreement terms): a strict RFC 8259 checker, so that a bad document is one quarantined
 * row (BAD_JSON, with its byte) instead of a COPY that PostgreSQL aborts for the whole file. It
 * accepts exactly what jsonb accepts: no \u0000 (jsonb cannot store it), a \uD800-\uDBFF escape
 * only followed by a \uDC00-\uDFFF one, numbers that fit numeric.
 */

struct json_in {
	const char *s;
	size_t len, at;
	const char *why;
};

static int json_fail(struct json_in *j, const char *why)
{
	if (!j->why)
		j->why = why;
	return -1;
}

static void json_space(struct json_in *j)
{
	while (j->at < j->len && (j->s[j->at] == ' ' || j->s[j->at] == '\t' || j->s[j->at] == '\n' || j->s[j->at] == '\r'))
		j->at++;
}

static int json_literal(struct json_in *j, const char *word)
{
	size_t n = strlen(word);
	if (j->len - j->at < n || memcmp(j->s + j->at, word, n) != 0)
		return json_fail(j, "not a JSON value");
	j->at += n;
	return 0;
}

static int json_hex4(struct json_in *j, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++, j->at++) {
		if (j->at >= j->len)
			return json_fail(j, "the document ends inside a \\u escape");
		char c = j->s[j->at];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16u;
		if (d == 16)
			return json_fail(j, "a \\u escape needs 4 hexadecimal digits");
		v = v * 16 + d;
	}
	*out = v;
	return 0;
}

static int json_string(struct json_in *j)
{
	ASSERT(j->s[j->at] == '"');
	j->at++;
	while (j->at < j->len) {
		unsigned char c = (unsigned char)j->s[j->at];
		if (c == '"') {
			j->at++;
			return 0;
		}
		if (c < 0x20)
			return json_fail(j, "a control character in a string must be escaped");
		if (c != '\\') {
			j->at++;
			continue;
		}
		if (++j->at >= j->len)
			break;
		c = (unsigned char)j->s[j->at];
		if (strchr("\"\\/bfnrt", c) && c) {
			j->at++;
			continue;
		}
		if (c != 'u')
			return json_fail(j, "not a JSON escape");
		j->at++;
		unsigned u;
		size_t esc = j->at - 2;
		if (json_hex4(j, &u) < 0)
			return -1;
		if (u == 0) {
			j->at = esc;
			return json_fail(j, "\\u0000 cannot be stored (PostgreSQL's jsonb)");
		}
		if (u >= 0xDC00 && u <= 0xDFFF) {
			j->at = esc;
			return json_fail(j, "a low surrogate escape without a high one before it");
		}
		if (u >= 0xD800 && u <= 0xDBFF) {
			unsigned lo = 0;
			if (j->len - j->at < 2 || j->s[j->at] != '\\' || j->s[j->at + 1] != 'u') {
				j->at = esc;
				return json_fail(j, "a high surrogate escape without a low one after it");
			}
			j->at += 2;
			if (json_hex4(j, &lo) < 0)
				return -1;
			if (lo < 0xDC00 || lo > 0xDFFF) {
				j->at = esc;
				return json_fail(j, "a high surrogate escape without a low one after it");
			}
		}
	}
	return json_fail(j, "the document ends inside a string");
}

/* RFC 8259 number; also within what numeric reads (exponent magnitude, digits after the point). */
static int json_number(struct json_in *j)
{
	size_t start = j->at, frac = 0;
	long exp = 0;
	if (j->at < j->len && j->s[j->at] == '-')
		j->at++;
	if (j->at >= j->len || j->s[j->at] < '0' || j->s[j->at] > '9')
		return json_fail(j, "not a JSON value");
	if (j->s[j->at] == '0')
		j->at++;
	else
		while (j->at < j->len && j->s[j->at] >= '0' && j->s[j->at] <= '9')
			j->at++;
	if (j->at < j->len && j->s[j->at] == '.') {
		j->at++;
		while (j->at < j->len && j->s[j->at] >= '0' && j->s[j->at] <= '9') {
			j->at++;
			frac++;
		}
		if (frac == 0)
			return json_fail(j, "a number needs digits after its decimal point");
	}
	if (j->at < j->len && (j->s[j->at] == 'e' || j->s[j->at] == 'E')) {
		j->at++;
		int neg = 0;
		if (j->at < j->len && (j->s[j->at] == '+' || j->s[j->at] == '-'))
			neg = j->s[j->at++] == '-';
		size_t d = 0;
		while (j->at < j->len && j->s[j->at] >= '0' && j->s[j->at] <= '9') {
			if (exp < 100000)
				exp = exp * 10 + (j->s[j->at] - '0');
			j->at++;
			d++;
		}
		if (d == 0)
			return json_fail(j, "a number needs digits in its exponent");
		exp = neg ? -exp : exp;
	}
	if (exp > 1000 || exp < -1000 || (long)frac - exp > 16383) {
		j->at = start;
		return json_fail(j, "a number out of the range PostgreSQL's numeric holds");
	}
	return 0;
}

static int json_value(struct json_in *j, int depth)
{
	json_space(j);
	if (j->at >= j->len)
		return json_fail(j, "the document ends where a value is expected");
	char c = j->s[j->at];
	if (c == '"')
		return json_string(j);
	if (c == 't')
		return json_literal(j, "true");
	if (c == 'f')
		return json_literal(j, "false");
	if (c == 'n')
		return json_literal(j, "null");
	if (c != '[' && c != '{')
		return json_number(j);
	if (depth >= FEED_JSON_DEPTH_MAX)
		return json_fail(j, "nested too deeply");
	char close = c == '[' ? ']' : '}';
	j->at++;
	json_space(j);
	if (j->at < j->len && j->s[j->at] == close) {
		j->at++;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			json_space(j);
			if (j->at >= j->len || j->s[j->at] != '"')
				return json_fail(j, "an object key must be a string");
			if (json_string(j) < 0)
				return -1;
			json_space(j);
			if (j->at >= j->len || j->s[j->at] != ':')
				return json_fail(j, "an object key must be followed by \":\"");
			j->at++;
		}
		if (json_value(j, depth + 1) < 0)
			return -1;
		json_space(j);
		if (j->at >= j->len)
			return json_fail(j, "the document ends inside an array or object");
		if (j->s[j->at] == close) {
			j->at++;
			return 0;
		}
		if (j->s[j->at] != ',')
			return json_fail(j, close == ']' ? "expected \",\" or \"]\"" : "expected \",\" or \"}\"");
		j->at++;
	}
}

long feed_json_invalid_at(const char *s, size_t len, const char **why)
{
	struct json_in j = { s, len, 0, NULL };
	if (json_value(&j, 0) == 0) {
		json_space(&j);
		if (j.at == len)
			return -1;
		json_fail(&j, "text after the JSON value");
	}
	*why = j.why;
	return (long)j.at;
}

static int field_json(const struct feed_column *col, const struct csv_in_field *f, struct feed_reject *rej)
{
	const char *why = NULL;
	long at = feed_json_invalid_at(f->ptr, f->len, &why);
	if (at < 0)
		return 0;
	return feed_reject_set(rej, FEED_BAD_JSON, col->name, "is not valid JSON at byte %ld: %s", at + 1, why);
}

/* The types worth remembering: their parse costs more than a compare, and values repeat. */
static int cacheable(enum feed_type t)
{
	return t == FEED_ENUM || t == FEED_CURRENCY || t == FEED_TIMESTAMP || t == FEED_DATE;
}

/* Parses one non-empty, clean field by its type. */
static int field_parse(const struct feed_column *col, const struct csv_in_field *f, struct feed_value *v,
		       struct feed_reject *rej)
{
	char q[QUOTE_CAP];
	v->present = 1;
	v->ptr = f->ptr;
	v->len = f->len;
	switch (col->type) {
	case FEED_TEXT:
		return 0;
	case FEED_ENUM:
		return field_enum(col, f, v, rej);
	case FEED_CURRENCY:
		if (currency_minor_units(f->ptr, f->len) >= 0)
			return 0;
		return feed_reject_set(rej, FEED_BAD_CURRENCY, col->name, "%s is not a currency settle knows (%s)",
				       feed_quote(f->ptr, f->len, q, sizeof q), currency_known_list());
	case FEED_MONEY:
	case FEED_PRICE:
		return field_money(col, f, v, rej);
	case FEED_PCT:
		return field_pct(col, f, v, rej);
	case FEED_TIMESTAMP:
	case FEED_DATE:
		return field_time(col, f, v, rej);
	case FEED_QUANTITY:
		return field_quantity(col, f, v, rej);
	case FEED_DECIMAL:
		return field_decimal(col, f, rej);
	case FEED_JSON:
		return field_json(col, f, rej);
	}
	ASSERT(0);
	return -1;
}

/* field_parse through the column's cache: the same bytes as the last valid value of the column
 * give the same value (parsing is a pure function of the bytes). f is not empty. */
static int field_typed(const struct feed_column *col, const struct csv_in_field *f, struct feed_value *v,
		       struct feed_cache *cache, struct feed_reject *rej)
{
	if (!cacheable(col->type) || f->len > FEED_CACHE_BYTES)
		return field_parse(col, f, v, rej);
	if (cache->len == f->len && memcmp(cache->bytes, f->ptr, f->len) == 0) {
		*v = cache->value;
		if (col->type != FEED_ENUM) /* an enum points at its static name; the rest into the row */
			v->ptr = f->ptr;
		return 0;
	}
	if (field_parse(col, f, v, rej) < 0)
		return -1;
	cache->len = f->len;
	memcpy(cache->bytes, f->ptr, f->len);
	cache->value = *v;
	return 0;
}

/* Order of checks: bytes first (length, NUL, UTF-8: nothing else can be said about such a value,
 * nor quoted), then emptiness, then the type. */
static int field_validate(const struct feed_header *h, const struct feed_column *col,
			  const struct csv_in_field *f, int plain_ascii, struct feed_value *v,
			  struct feed_cache *cache, struct feed_reject *rej)
{
	size_t at;
	if (f->too_long)
		return feed_reject_set(rej, FEED_FIELD_TOO_LONG, col->name, "is longer than %zu bytes",
				       CSV_IN_FIELD_MAX);
	switch (plain_ascii ? BYTES_OK : bytes_check(f->ptr, f->len, 1, &at)) {
	case BYTES_OK:
		break;
	case BYTES_NUL:
		return feed_reject_set(rej, FEED_NUL_BYTE, col->name, "contains a NUL byte (byte %zu)", at + 1);
	case BYTES_BAD_UTF8:
		return feed_reject_set(rej, FEED_BAD_UTF8, col->name, "is not valid UTF-8 (byte %zu)", at + 1);
	}
	if (f->len == 0) {
		/* SPEC §3: an empty field is NULL. */
		if (col->default_value)
			*v = (struct feed_value){ 1, col->default_value, strlen(col->default_value), 0 };
		else if ((col->flags & FEED_RECIPIENT) && h->recipient)
			*v = (struct feed_value){ 1, h->recipient, strlen(h->recipient), 0 };
		else if (col->flags & FEED_RECIPIENT)
			return feed_reject_set(rej, FEED_MISSING_REQUIRED, col->name,
					       "required field is empty (or name the file's recipient with "
					       "--recipient)");
		else if (col->flags & FEED_REQUIRED)
			return feed_reject_set(rej, FEED_MISSING_REQUIRED, col->name, "required field is empty");
		else
			*v = (struct feed_value){ 0, NULL, 0, 0 };
		return 0;
	}
	return field_typed(col, f, v, cache, rej);
}

/* ---------------------------------------------------------------------------------------------
 * Rules across fields
 */

/* Column positions the rules below use, looked up once (the tables are constant). */
static struct {
	int ready;
	int be_action, be_reference, be_date, be_date_source, be_valid_from, be_insert_date;
	int of_basis, of_reseller, of_markup, of_share, of_from, of_until, of_id, of_ra;
} ix;

static void ix_init(void)
{
	if (ix.ready)
		return;
	const struct feed_kind *be = &feed_kinds[FEED_BILLING_EVENT], *of = &feed_kinds[FEED_OFFER];
	ix.be_action = col_index(be, "action");
	ix.be_reference = col_index(be, "transaction_reference_id");
	ix.be_date = col_index(be, "invoice_date");
	ix.be_date_source = col_index(be, "invoice_date_source");
	ix.be_valid_from = col_index(be, "valid_from");
	ix.be_insert_date = col_index(be, "insert_date");
	ix.of_basis = col_index(of, "split_basis");
	ix.of_id = col_index(of, "offer_id");
	ix.of_ra = col_index(of, "resale_authorization_id");
	ix.of_reseller = col_index(of, "reseller_account_id");
	ix.of_markup = col_index(of, "markup_pct");
	ix.of_share = col_index(of, "isv_share_pct");
	ix.of_from = col_index(of, "valid_from");
	ix.of_until = col_index(of, "valid_until");
	ix.ready = 1;
}

static int value_is(const struct feed_value *v, const char *s)
{
	return v->present && v->len == strlen(s) && memcmp(v->ptr, s, v->len) == 0;
}

/* SPEC §3.1: INVOICED and FORGIVEN rows need their charge's transaction_reference_id; every row
 * but a DISBURSED one needs its invoice_date. A DISBURSED row without one (the marketplace's own
 * payout rows) is dated by its valid_from, else its insert_date: that instant is stored as its
 * invoice_date, which every later step reads, and invoice_date_source names the column it came
 * from, so the stored row still tells what the file said (docs/ingest.md). */
static int rule_billing_event(struct feed_value *vals, struct feed_reject *rej)
{
	ix_init();
	const struct feed_value *action = &vals[ix.be_action];
	if ((value_is(action, "INVOICED") || value_is(action, "FORGIVEN")) && !vals[ix.be_reference].present)
		return feed_reject_set(rej, FEED_MISSING_REQUIRED, "transaction_reference_id",
				       "required field is empty (action %.*s needs the charge's reference)",
				       (int)action->len, action->ptr);
	if (vals[ix.be_date].present)
		return 0;
	if (!value_is(action, "DISBURSED"))
		return feed_reject_set(rej, FEED_MISSING_REQUIRED, "invoice_date", "required field is empty");
	static const char from_valid[] = "valid_from", from_insert[] = "insert_date";
	if (vals[ix.be_valid_from].present) {
		vals[ix.be_date] = vals[ix.be_valid_from];
		vals[ix.be_date_source] = (struct feed_value){ 1, from_valid, sizeof from_valid - 1, 0 };
	} else if (vals[ix.be_insert_date].present) {
		vals[ix.be_date] = vals[ix.be_insert_date];
		vals[ix.be_date_source] = (struct feed_value){ 1, from_insert, sizeof from_insert - 1, 0 };
	} else {
		return feed_reject_set(rej, FEED_MISSING_REQUIRED, "invoice_date",
				       "required field is empty (a DISBURSED row without one is dated by its valid_from "
				       "or insert_date, and this row has neither)");
	}
	return 0;
}

/* SPEC §3.2 split rules, with what each basis needs and what would contradict it:
 *   DIRECT: no reseller, no markup_pct, no isv_share_pct;
 *   MARKUP: reseller and markup_pct, no isv_share_pct;
 *   SHARE:  reseller and isv_share_pct, no markup_pct.
 * A field that contradicts the basis is CONFLICTING_FIELDS: settle does not guess which is wrong. */
static int rule_offer(struct feed_value *vals, struct feed_reject *rej)
{
	ix_init();
	const struct feed_value *basis = &vals[ix.of_basis];
	int reseller = vals[ix.of_reseller].present;
	int markup = vals[ix.of_markup].present;
	int share = vals[ix.of_share].present;
	const char *b = basis->ptr;
	if (!vals[ix.of_id].present && !vals[ix.of_ra].present)
		return feed_reject_set(rej, FEED_MISSING_REQUIRED, "offer_id",
				       "required field is empty (a row without offer_id needs resale_authorization_id)");
	if (!basis->present) {
		/* the feeds tell the basis (DIRECT, or MARKUP for a CPPO); a rate alone completes it */
		if (markup && share)
			return feed_reject_set(rej, FEED_CONFLICTING_FIELDS, "isv_share_pct",
					       "must be empty when markup_pct is set");
	} else if (value_is(basis, "DIRECT")) {
		if (reseller)
			return feed_reject_set(rej, FEED_CONFLICTING_FIELDS, "reseller_account_id",
					       "must be empty for split_basis DIRECT");
		if (markup)
			return feed_reject_set(rej, FEED_CONFLICTING_FIELDS, "markup_pct",
					       "must be empty for split_basis DIRECT");
		if (share)
			return feed_reject_set(rej, FEED_CONFLICTING_FIELDS, "isv_share_pct",
					       "must be empty for split_basis DIRECT");
	} else {
		int is_markup = value_is(basis, "MARKUP");
		/* The reseller may be left to the feeds (the offer's seller of record); an offer for
		 * which nobody names one is OFFER_INCOMPLETE at reconcile (sql/016). */
		(void)b;
		if (is_markup && !markup)
			return feed_reject_set(rej, FEED_MISSING_REQUIRED, "markup_pct",
					       "required field is empty (split_basis MARKUP)");
		if (is_markup && share)
			return feed_reject_set(rej, FEED_CONFLICTING_FIELDS, "isv_share_pct",
					       "must be empty for split_basis MARKUP");
		if (!is_markup && !share)
			return feed_reject_set(rej, FEED_MISSING_REQUIRED, "isv_share_pct",
					       "required field is empty (split_basis SHARE)");
		if (!is_markup && markup)
			return feed_reject_set(rej, FEED_CONFLICTING_FIELDS, "markup_pct",
					       "must be empty for split_basis SHARE");
	}
	const struct feed_value *from = &vals[ix.of_from];
	const struct feed_value *until = &vals[ix.of_until];
	if (from->present && until->present && until->i64 < from->i64) {
		char q1[QUOTE_CAP], q2[QUOTE_CAP];
		return feed_reject_set(rej, FEED_BAD_DATE, "valid_until", "%s is before valid_from %s",
				       feed_quote(until->ptr, until->len, q1, sizeof q1),
				       feed_quote(from->ptr, from->len, q2, sizeof q2));
	}
	return 0;
}

int feed_row_validate(struct feed_header *h, const struct csv_in_record *rec, struct feed_value *vals,
		      struct feed_reject *rej)
{
	const struct feed_kind *k = h->kind;
	if (rec->nfields != h->nfields)
		return feed_reject_set(rej, FEED_FIELD_COUNT, NULL, "the record has %zu field%s, the header has %zu",
				       rec->nfields, rec->nfields == 1 ? "" : "s", h->nfields);
	ASSERT(rec->nstored == rec->nfields);
	/* Columns the file does not have: their default, --recipient, or NULL. */
	for (size_t c = 0; c < k->ncols; c++) {
		if (h->present[c] >= 0)
			continue;
		const struct feed_column *col = &k->cols[c];
		if (col->default_value)
			vals[c] = (struct feed_value){ 1, col->default_value, strlen(col->default_value), 0 };
		else if ((col->flags & FEED_RECIPIENT) && h->recipient)
			vals[c] = (struct feed_value){ 1, h->recipient, strlen(h->recipient), 0 };
		else
			vals[c] = (struct feed_value){ 0, NULL, 0, 0 };
	}
	for (size_t i = 0; i < h->nfields; i++) {
		int c = h->map[i];
		if (c >= 0
		    && field_validate(h, &k->cols[c], &rec->fields[i], rec->plain_ascii, &vals[c], &h->cache[c], rej) < 0)
			return -1;
	}
	return k->rule ? k->rule(vals, rej) : 0;
}

/* ---------------------------------------------------------------------------------------------
 * COPY
 */

void feed_copy_columns(const struct feed_header *h, char *buf, size_t cap)
{
	const struct feed_kind *k = h->kind;
	int n = snprintf(buf, cap, "file_id, line");
	ASSERT(n > 0 && (size_t)n < cap);
	size_t used = (size_t)n;
	for (size_t c = 0; c < k->ncols; c++) {
		if (!h->sent[c])
			continue;
		n = snprintf(buf + used, cap - used, ", %s", k->cols[c].db_name);
		ASSERT(n > 0 && (size_t)n < cap - used);
		used += (size_t)n;
	}
}

/* numeric's binary form (PostgreSQL's numeric_send): int16 ndigits, int16 weight (of the first
 * base-10000 digit), uint16 sign, int16 dscale (decimal digits after the point, as written), then
 * the base-10000 digits, leading and trailing zero digits dropped. text is a FEED_DECIMAL. */
static void copy_out_numeric(struct copy_out *c, const char *text, size_t len)
{
	enum { GROUPS_MAX = FEED_DECIMAL_DIGITS_MAX / 4 + 3 };
	uint16_t groups[GROUPS_MAX];
	size_t i = 0, n = 0;
	int neg = len > 0 && text[0] == '-';
	i = (size_t)neg;
	size_t dot = i;
	while (dot < len && text[dot] != '.')
		dot++;
	size_t int_digits = dot - i, frac_digits = dot < len ? len - dot - 1 : 0;
	ASSERT(int_digits > 0 && int_digits + frac_digits <= FEED_DECIMAL_DIGITS_MAX);
	/* integer part in groups aligned on the point: the first group takes the remainder */
	size_t first = int_digits % 4 ? int_digits % 4 : 4, k = i;
	int weight = (int)((int_digits + 3) / 4) - 1;
	for (size_t take = first; k < dot; take = 4) {
		uint16_t v = 0;
		for (size_t d = 0; d < take; d++)
			v = (uint16_t)(v * 10 + (text[k++] - '0'));
		groups[n++] = v;
	}
	for (k = dot + 1; k < len;) {
		uint16_t v = 0;
		for (size_t d = 0; d < 4; d++)
			v = (uint16_t)(v * 10 + (k < len ? text[k++] - '0' : 0));
		groups[n++] = v;
	}
	ASSERT(n <= GROUPS_MAX);
	size_t lead = 0;
	while (lead < n && groups[lead] == 0)
		lead++;
	while (n > lead && groups[n - 1] == 0)
		n--;
	size_t ndigits = n - lead;
	weight -= (int)lead;
	if (ndigits == 0) { /* zero: no digits, weight 0, positive ("-0" is 0, SPEC §2) */
		weight = 0;
		neg = 0;
	}
	char *p = copy_out_room(c, 4 + 8 + 2 * ndigits);
	copy_out_be32(p, (uint32_t)(8 + 2 * ndigits));
	p[4] = (char)(ndigits >> 8), p[5] = (char)ndigits;
	p[6] = (char)((uint16_t)weight >> 8), p[7] = (char)(uint16_t)weight;
	p[8] = neg ? 0x40 : 0, p[9] = 0;
	p[10] = (char)(frac_digits >> 8), p[11] = (char)frac_digits;
	for (size_t g = 0; g < ndigits; g++) {
		p[12 + 2 * g] = (char)(groups[lead + g] >> 8);
		p[13 + 2 * g] = (char)groups[lead + g];
	}
}

/* jsonb's binary form (jsonb_send): the version byte 1, then the JSON text. */
static void copy_out_jsonb(struct copy_out *c, const char *text, size_t len)
{
	char *p = copy_out_room(c, 5 + len);
	copy_out_be32(p, (uint32_t)(1 + len));
	p[4] = 1;
	memcpy(p + 5, text, len);
}

void feed_row_encode(const struct feed_header *h, int64_t file_id, int64_t line, const struct feed_value *vals,
		     struct copy_out *out)
{
	const struct feed_kind *k = h->kind;
	copy_out_tuple(out, 2 + (int)h->sent_n);
	copy_out_int8(out, file_id);
	copy_out_int8(out, line);
	for (size_t i = 0; i < k->ncols; i++) {
		const struct feed_value *v = &vals[i];
		if (!h->sent[i])
			continue;
		if (!v->present) {
			copy_out_null(out);
			continue;
		}
		switch (feed_column_sql(&k->cols[i])) {
		case FEED_SQL_TEXT:
			copy_out_text(out, v->ptr, v->len);
			break;
		case FEED_SQL_INT8:
			copy_out_int8(out, v->i64);
			break;
		case FEED_SQL_TIMESTAMPTZ:
			copy_out_timestamptz(out, v->i64);
			break;
		case FEED_SQL_DATE:
			copy_out_date(out, v->i64);
			break;
		case FEED_SQL_NUMERIC:
			copy_out_numeric(out, v->ptr, v->len);
			break;
		case FEED_SQL_JSONB:
			copy_out_jsonb(out, v->ptr, v->len);
			break;
		}
	}
}
