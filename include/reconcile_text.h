/* reconcile_text.h — the sentence of every exception (SPEC §4.7), for an accountant to read.
 *
 * Pure: each function writes one line (lower-case start, no final period, like settle's other
 * messages) into buf[size] and returns buf; a sentence too long for buf is cut, never overrun.
 * Amounts are money_format's exact digits with thousands grouped ("1,100.00", "-203.787037");
 * the exception row's amount columns carry the same numbers ungrouped. Differences in sentences
 * are magnitudes ("by 1.50"); the row's difference column keeps the sign (actual − expected).
 */
#ifndef SETTLE_RECONCILE_TEXT_H
#define SETTLE_RECONCILE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define RTEXT_MAX 768
#define RTEXT_AMOUNT_MAX 48

/* money_format with ',' between groups of three integer digits. Returns buf. */
const char *rtext_amount(int64_t micros, int minor_units, char buf[RTEXT_AMOUNT_MAX]);
/* A rate in micros of a fraction as a percentage: 35000 -> "3.5 %", 80000 -> "8 %". Returns buf. */
const char *rtext_rate(int64_t rate_micros, char buf[RTEXT_AMOUNT_MAX]);

/* What the group sentences say about a charge group. Strings may be NULL or "" when absent. */
struct rtext_group {
	const char *recipient_account_id;
	const char *reference;   /* transaction_reference_id */
	const char *currency;
	int minor_units;
	int32_t date_day;        /* earliest invoice date */
	const char *agreement_id;
	const char *offer_id;
	const char *product_id;
	const char *buyer_account_id;
	int64_t net_micros;      /* B + F + T */
};

const char *rtext_no_offer(char *buf, size_t size, const struct rtext_group *g);
const char *rtext_ambiguous_offer(char *buf, size_t size, const struct rtext_group *g, const char *rule,
				  size_t candidates);
const char *rtext_currency_mismatch(char *buf, size_t size, const struct rtext_group *g, const char *rule,
				    const char *offer_id, const char *offer_currency);
/* valid_from/valid_until: NULL when open. */
const char *rtext_offer_expired(char *buf, size_t size, const struct rtext_group *g, const char *rule,
				const char *offer_id, const char *valid_from, const char *valid_until);
/* SPEC §4.3: the recipient is neither the offer's seller of record nor its ISV. */
const char *rtext_recipient_not_party(char *buf, size_t size, const struct rtext_group *g, const char *offer_id,
				      const char *isv_account_id, const char *reseller_account_id);
/* SPEC §4.3: a MARKUP offer without a markup and a group without cost of goods. */
const char *rtext_offer_incomplete(char *buf, size_t size, const struct rtext_group *g, const char *offer_id);
const char *rtext_fee_variance(char *buf, size_t size, int minor_units, int64_t actual_fee_micros,
			       int64_t expected_fee_micros, int64_t rate_micros, int64_t revenue_micros);
const char *rtext_split_variance(char *buf, size_t size, int minor_units, int64_t isv_revenue_micros,
				 int64_t cogs_micros, const char *isv_account_id);
const char *rtext_balance_adjustment(char *buf, size_t size, const struct rtext_group *g, int64_t amount_micros,
				     int64_t rows);

const char *rtext_payout_mismatch(char *buf, size_t size, const char *payout_id, const char *currency,
				  int minor_units, int64_t amount_micros, int64_t lines_micros, int64_t lines_n);
/* SPEC §4.5: a payout that adds up, of which unjoined_n of lines_n lines (Σ unjoined_micros)
 * settle no known charge (no reference, no parent with one). */
const char *rtext_payout_unjoined(char *buf, size_t size, const char *payout_id, const char *currency,
				  int minor_units, int64_t amount_micros, int64_t unjoined_micros, int64_t unjoined_n,
				  int64_t lines_n);
/* SPEC §4.5: a failure of which unjoined_n of its lines_n reversal lines (Σ unjoined_micros) give
 * money back against no known charge. */
const char *rtext_failure_unjoined(char *buf, size_t size, const char *failure_id, const char *currency,
				   int minor_units, int64_t amount_micros, int64_t unjoined_micros, int64_t unjoined_n,
				   int64_t lines_n);
/* SPEC §4.5 in the paid currency: the payout's disbursement_amount (amount_known 0: it has none)
 * against its lines' disbursement_amount; missing lines carry none in that currency. */
const char *rtext_payout_paid_mismatch(char *buf, size_t size, const char *payout_id, const char *paid_currency,
				       int minor_units, int amount_known, int64_t paid_amount_micros,
				       int64_t paid_lines_micros, int64_t lines_n, int64_t missing);
/* link: "PARENT", "TRACE_ID" or "AMOUNT" (how the failure was linked to the payout, SPEC §4.5);
 * reversal: the failure gives the lines back by reversal lines of its own. */
const char *rtext_disbursement_failed(char *buf, size_t size, const char *payout_id, const char *currency,
				      int minor_units, int64_t amount_micros, int32_t day, const char *failure_id,
				      const char *link, int64_t lines_n, int reversal);
/* A DISBURSEMENT_FAILURE that undoes no payout (parent_id: "" when it names none). */
const char *rtext_failure_unlinked(char *buf, size_t size, const char *failure_id, const char *currency,
				   int minor_units, int64_t amount_micros, int32_t day, const char *parent_id,
				   int64_t reversal_lines_n);
const char *rtext_deposit_missing(char *buf, size_t size, const char *payout_id, const char *currency,
				  int minor_units, int64_t amount_micros, int32_t day, int64_t days_since,
				  const char *bank_trace_id, size_t candidates);
const char *rtext_deposit_unmatched(char *buf, size_t size, const char *deposit_id, const char *account_id,
				    const char *currency, int minor_units, int64_t amount_micros, int32_t value_day,
				    const char *bank_trace_id);
const char *rtext_deposit_amount_mismatch(char *buf, size_t size, const char *deposit_id,
					  const char *deposit_currency, int64_t deposit_micros, const char *payout_id,
					  const char *payout_currency, int64_t payout_micros, int minor_units,
					  const char *bank_trace_id);

const char *rtext_metering_variance(char *buf, size_t size, const char *offer_id, const char *month,
				    const char *currency, int minor_units, int64_t expected_micros,
				    int64_t billed_micros);
const char *rtext_unbilled_usage(char *buf, size_t size, const char *offer_id, const char *month,
				 const char *currency, int minor_units, int64_t expected_micros, int lag_days);
/* offers_n: 0 = no offer claims the records, ≥ 2 = several do (none is chosen). */
const char *rtext_usage_without_offer(char *buf, size_t size, const char *customer, const char *product_code,
				      const char *dimension, const char *month, int64_t quantity, int64_t records,
				      size_t offers_n);
const char *rtext_unknown_dimension(char *buf, size_t size, const char *offer_id, const char *dimension,
				    const char *month, int64_t quantity, int64_t records);

#endif
