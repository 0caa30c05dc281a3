/* reconcile_text.c — exception sentences (see reconcile_text.h). */
#include "reconcile_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "money.h"
#include "timeutil.h"

const char *rtext_amount(int64_t micros, int minor_units, char buf[RTEXT_AMOUNT_MAX])
{
	char plain[MONEY_FORMAT_MAX];
	size_t len = money_format(micros, minor_units, plain);
	size_t start = plain[0] == '-' ? 1 : 0;
	size_t int_end = start;
	while (int_end < len && plain[int_end] != '.')
		int_end++;
	size_t o = 0;
	if (start)
		buf[o++] = '-';
	for (size_t i = start; i < int_end; i++) {
		size_t left = int_end - i; /* integer digits from here to the point */
		if (i > start && left % 3 == 0)
			buf[o++] = ',';
		buf[o++] = plain[i];
	}
	for (size_t i = int_end; i < len; i++)
		buf[o++] = plain[i];
	ASSERT(o < RTEXT_AMOUNT_MAX);
	buf[o] = '\0';
	return buf;
}

/* A rate is percent × 10^4 (SPEC §3.2): at most 4 fractional digits of a percent. */
const char *rtext_rate(int64_t rate_micros, char buf[RTEXT_AMOUNT_MAX])
{
	int64_t whole = rate_micros / 10000, frac = rate_micros % 10000;
	if (frac < 0)
		frac = -frac;
	if (frac == 0) {
		snprintf(buf, RTEXT_AMOUNT_MAX, "%" PRId64 " %%", whole);
		return buf;
	}
	int digits = 4;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(buf, RTEXT_AMOUNT_MAX, "%s%" PRId64 ".%0*" PRId64 " %%", rate_micros < 0 && whole == 0 ? "-" : "",
		 whole, digits, frac);
	return buf;
}

static int present(const char *s)
{
	return s && *s;
}

static const char *or_none(const char *s)
{
	return present(s) ? s : "(none)";
}

static int64_t magnitude_diff(int64_t a, int64_t b)
{
	__int128 d = (__int128)a - (__int128)b;
	if (d < 0)
		d = -d;
	/* Two amounts below 10^18 micros each: the difference is far inside int64. */
	return d > INT64_MAX ? INT64_MAX : (int64_t)d;
}

static const char *day_text(int32_t day, char out[11])
{
	time_format_day(day, out);
	return out;
}

/* "charge tr-1 of 111122223333 (net 3,041.52 USD, 2026-10-05)". */
static const char *group_head(char *out, size_t size, const struct rtext_group *g)
{
	char net[RTEXT_AMOUNT_MAX], day[11];
	snprintf(out, size, "charge %s of %s (net %s %s, %s)", g->reference, g->recipient_account_id,
		 rtext_amount(g->net_micros, g->minor_units, net), g->currency, day_text(g->date_day, day));
	return out;
}

const char *rtext_no_offer(char *buf, size_t size, const struct rtext_group *g)
{
	char head[RTEXT_MAX];
	snprintf(buf, size,
		 "%s matches no offer: agreement %s, offer %s, product %s with buyer %s in %s found none; it is not allocated",
		 group_head(head, sizeof head, g), or_none(g->agreement_id), or_none(g->offer_id),
		 or_none(g->product_id), or_none(g->buyer_account_id), g->currency);
	return buf;
}

const char *rtext_recipient_not_party(char *buf, size_t size, const struct rtext_group *g, const char *offer_id,
				      const char *isv_account_id, const char *reseller_account_id)
{
	char head[RTEXT_MAX], parties[320];
	if (reseller_account_id && *reseller_account_id)
		snprintf(parties, sizeof parties, "whose parties are ISV %s and reseller %s, but its recipient is neither",
			 or_none(isv_account_id), reseller_account_id);
	else
		snprintf(parties, sizeof parties, "whose one party is ISV %s, but its recipient is another account",
			 or_none(isv_account_id));
	snprintf(buf, size, "%s matches offer %s, %s (one account written in two forms?); it is not allocated",
		 group_head(head, sizeof head, g), offer_id, parties);
	return buf;
}

const char *rtext_offer_incomplete(char *buf, size_t size, const struct rtext_group *g, const char *offer_id)
{
	char head[RTEXT_MAX];
	snprintf(buf, size,
		 "%s matches offer %s, a CPPO with no markup stated, and has no cost-of-goods rows to give the ISV's"
		 " wholesale; it is not allocated until the offer file states the markup",
		 group_head(head, sizeof head, g), offer_id);
	return buf;
}

static const char *rule_key(const char *rule)
{
	if (rule && strcmp(rule, "M1") == 0)
		return "agreement";
	if (rule && strcmp(rule, "M2") == 0)
		return "offer id";
	return "product, buyer, currency and date";
}

const char *rtext_ambiguous_offer(char *buf, size_t size, const struct rtext_group *g, const char *rule,
				  size_t candidates)
{
	char head[RTEXT_MAX];
	snprintf(buf, size, "%s matches %zu offers by %s (rule %s); it is not allocated until one offer remains",
		 group_head(head, sizeof head, g), candidates, rule_key(rule), rule ? rule : "-");
	return buf;
}

const char *rtext_currency_mismatch(char *buf, size_t size, const struct rtext_group *g, const char *rule,
				    const char *offer_id, const char *offer_currency)
{
	char head[RTEXT_MAX];
	snprintf(buf, size, "%s is in %s but its offer %s (matched by %s, rule %s) is in %s; it is not allocated",
		 group_head(head, sizeof head, g), g->currency, offer_id, rule_key(rule), rule ? rule : "-",
		 or_none(offer_currency));
	return buf;
}

const char *rtext_offer_expired(char *buf, size_t size, const struct rtext_group *g, const char *rule,
				const char *offer_id, const char *valid_from, const char *valid_until)
{
	char head[RTEXT_MAX];
	snprintf(buf, size, "%s lies outside the validity of its offer %s (%s to %s, matched by %s, rule %s); it is allocated all the same",
		 group_head(head, sizeof head, g), offer_id, present(valid_from) ? valid_from : "open",
		 present(valid_until) ? valid_until : "open", rule_key(rule), rule ? rule : "-");
	return buf;
}

const char *rtext_fee_variance(char *buf, size_t size, int minor_units, int64_t actual_fee_micros,
			       int64_t expected_fee_micros, int64_t rate_micros, int64_t revenue_micros)
{
	char a[RTEXT_AMOUNT_MAX], x[RTEXT_AMOUNT_MAX], r[RTEXT_AMOUNT_MAX], b[RTEXT_AMOUNT_MAX], d[RTEXT_AMOUNT_MAX];
	snprintf(buf, size, "listing fee %s differs from the expected %s (%s of %s) by %s",
		 rtext_amount(actual_fee_micros, minor_units, a), rtext_amount(expected_fee_micros, minor_units, x),
		 rtext_rate(rate_micros, r), rtext_amount(revenue_micros, minor_units, b),
		 rtext_amount(magnitude_diff(actual_fee_micros, expected_fee_micros), minor_units, d));
	return buf;
}

const char *rtext_split_variance(char *buf, size_t size, int minor_units, int64_t isv_revenue_micros,
				 int64_t cogs_micros, const char *isv_account_id)
{
	char a[RTEXT_AMOUNT_MAX], x[RTEXT_AMOUNT_MAX], d[RTEXT_AMOUNT_MAX];
	int64_t paid = cogs_micros == INT64_MIN ? INT64_MAX : -cogs_micros;
	snprintf(buf, size, "the ISV %s's share of revenue %s differs from the %s of cost of goods paid to it by %s",
		 or_none(isv_account_id), rtext_amount(isv_revenue_micros, minor_units, a),
		 rtext_amount(paid, minor_units, x), rtext_amount(magnitude_diff(isv_revenue_micros, paid), minor_units, d));
	return buf;
}

const char *rtext_balance_adjustment(char *buf, size_t size, const struct rtext_group *g, int64_t amount_micros,
				     int64_t rows)
{
	char a[RTEXT_AMOUNT_MAX], day[11];
	snprintf(buf, size,
		 "balance adjustment of %s %s on %s of %s (%" PRId64 " row%s, %s) is not allocated; check it against the marketplace's statement",
		 rtext_amount(amount_micros, g->minor_units, a), g->currency, g->reference, g->recipient_account_id,
		 rows, rows == 1 ? "" : "s", day_text(g->date_day, day));
	return buf;
}

const char *rtext_payout_mismatch(char *buf, size_t size, const char *payout_id, const char *currency,
				  int minor_units, int64_t amount_micros, int64_t lines_micros, int64_t lines_n)
{
	char a[RTEXT_AMOUNT_MAX], l[RTEXT_AMOUNT_MAX], d[RTEXT_AMOUNT_MAX];
	int64_t settles = lines_micros == INT64_MIN ? INT64_MAX : -lines_micros;
	snprintf(buf, size, "payout %s of %s %s differs from the %s its %" PRId64 " line%s settle by %s", payout_id,
		 rtext_amount(amount_micros, minor_units, a), currency, rtext_amount(settles, minor_units, l), lines_n,
		 lines_n == 1 ? "" : "s", rtext_amount(magnitude_diff(amount_micros, settles), minor_units, d));
	return buf;
}

const char *rtext_payout_unjoined(char *buf, size_t size, const char *payout_id, const char *currency,
				  int minor_units, int64_t amount_micros, int64_t unjoined_micros, int64_t unjoined_n,
				  int64_t lines_n)
{
	char a[RTEXT_AMOUNT_MAX], u[RTEXT_AMOUNT_MAX];
	snprintf(buf, size,
		 "payout %s of %s %s: %" PRId64 " of its %" PRId64 " line%s (%s) settle%s no known charge: no "
		 "transaction_reference_id, and no parent event that has one",
		 payout_id, rtext_amount(amount_micros, minor_units, a), currency, unjoined_n, lines_n,
		 lines_n == 1 ? "" : "s", rtext_amount(unjoined_micros, minor_units, u), unjoined_n == 1 ? "s" : "");
	return buf;
}

const char *rtext_failure_unjoined(char *buf, size_t size, const char *failure_id, const char *currency,
				   int minor_units, int64_t amount_micros, int64_t unjoined_micros, int64_t unjoined_n,
				   int64_t lines_n)
{
	char a[RTEXT_AMOUNT_MAX], u[RTEXT_AMOUNT_MAX];
	snprintf(buf, size,
		 "payout failure %s of %s %s: %" PRId64 " of its %" PRId64 " reversal line%s (%s) settle%s no known charge:"
		 " no transaction_reference_id, and no parent event that has one; the money it gives back is"
		 " counted against no charge group",
		 failure_id, rtext_amount(amount_micros, minor_units, a), currency, unjoined_n, lines_n,
		 lines_n == 1 ? "" : "s", rtext_amount(unjoined_micros, minor_units, u), unjoined_n == 1 ? "s" : "");
	return buf;
}

const char *rtext_payout_paid_mismatch(char *buf, size_t size, const char *payout_id, const char *paid_currency,
				       int minor_units, int amount_known, int64_t paid_amount_micros,
				       int64_t paid_lines_micros, int64_t lines_n, int64_t missing)
{
	char a[RTEXT_AMOUNT_MAX], l[RTEXT_AMOUNT_MAX], d[RTEXT_AMOUNT_MAX];
	int64_t settles = paid_lines_micros == INT64_MIN ? INT64_MAX : -paid_lines_micros;
	if (!amount_known) {
		snprintf(buf, size, "payout %s is paid in %s but carries no disbursement_amount to check against its %" PRId64
			 " line%s", payout_id, paid_currency, lines_n, lines_n == 1 ? "" : "s");
		return buf;
	}
	if (missing > 0) {
		snprintf(buf, size, "payout %s of %s %s (paid currency) cannot be checked there: %" PRId64 " of its %" PRId64
			 " line%s carry no disbursement_amount in %s", payout_id,
			 rtext_amount(paid_amount_micros, minor_units, a), paid_currency, missing, lines_n,
			 lines_n == 1 ? "" : "s", paid_currency);
		return buf;
	}
	snprintf(buf, size, "payout %s of %s %s (paid currency) differs from the %s its %" PRId64 " line%s settle in %s by %s",
		 payout_id, rtext_amount(paid_amount_micros, minor_units, a), paid_currency,
		 rtext_amount(settles, minor_units, l), lines_n, lines_n == 1 ? "" : "s", paid_currency,
		 rtext_amount(magnitude_diff(paid_amount_micros, settles), minor_units, d));
	return buf;
}

const char *rtext_disbursement_failed(char *buf, size_t size, const char *payout_id, const char *currency,
				      int minor_units, int64_t amount_micros, int32_t day, const char *failure_id,
				      const char *link, int64_t lines_n, int reversal)
{
	char a[RTEXT_AMOUNT_MAX], dd[11];
	const char *how = !link ? "" : strcmp(link, "PARENT") == 0 ? ", which names it as parent"
				 : strcmp(link, "TRACE_ID") == 0 ? ", by its bank trace id"
								 : ", by its amount";
	int one = lines_n == 1;
	snprintf(buf, size, "payout %s of %s %s on %s failed (%s%s); its %" PRId64 " line%s %s", payout_id,
		 rtext_amount(amount_micros, minor_units, a), currency, day_text(day, dd), or_none(failure_id), how,
		 lines_n, one ? "" : "s",
		 reversal ? (one ? "counts, and so does the failure's reversal line that gives it back"
				 : "count, and so do the failure's reversal lines that give them back")
			  : (one ? "counts as not disbursed" : "count as not disbursed"));
	return buf;
}

const char *rtext_failure_unlinked(char *buf, size_t size, const char *failure_id, const char *currency,
				   int minor_units, int64_t amount_micros, int32_t day, const char *parent_id,
				   int64_t reversal_lines_n)
{
	char a[RTEXT_AMOUNT_MAX], dd[11], parent[160], lines[96];
	if (reversal_lines_n == 0)
		snprintf(lines, sizeof lines, "it has no reversal lines");
	else
		snprintf(lines, sizeof lines, "its %" PRId64 " reversal line%s count%s as %s stand%s", reversal_lines_n,
			 reversal_lines_n == 1 ? "" : "s", reversal_lines_n == 1 ? "s" : "", reversal_lines_n == 1 ? "it" : "they",
			 reversal_lines_n == 1 ? "s" : "");
	if (parent_id && *parent_id)
		snprintf(parent, sizeof parent, "its parent %s is no payout of this recipient and currency, ", parent_id);
	else
		parent[0] = '\0';
	snprintf(buf, size,
		 "payout failure %s of %s %s on %s undoes no payout: %sno payout has its bank trace id or an amount it"
		 " cancels on or before it; %s",
		 failure_id, rtext_amount(amount_micros, minor_units, a), currency, day_text(day, dd), parent, lines);
	return buf;
}

const char *rtext_deposit_missing(char *buf, size_t size, const char *payout_id, const char *currency,
				  int minor_units, int64_t amount_micros, int32_t day, int64_t days_since,
				  const char *bank_trace_id, size_t candidates)
{
	char a[RTEXT_AMOUNT_MAX], dd[11], why[128];
	if (candidates > 1)
		snprintf(why, sizeof why, "; %zu deposits of that amount could match, so none was chosen", candidates);
	else
		why[0] = '\0';
	snprintf(buf, size, "payout %s of %s %s on %s (bank trace id %s) has no bank deposit %" PRId64 " days later%s",
		 payout_id, rtext_amount(amount_micros, minor_units, a), currency, day_text(day, dd),
		 or_none(bank_trace_id), days_since, why);
	return buf;
}

const char *rtext_deposit_unmatched(char *buf, size_t size, const char *deposit_id, const char *account_id,
				    const char *currency, int minor_units, int64_t amount_micros, int32_t value_day,
				    const char *bank_trace_id)
{
	char a[RTEXT_AMOUNT_MAX], dd[11];
	snprintf(buf, size, "deposit %s of %s %s on %s into the account of %s (bank trace id %s) matches no payout",
		 deposit_id, rtext_amount(amount_micros, minor_units, a), currency, day_text(value_day, dd), account_id,
		 or_none(bank_trace_id));
	return buf;
}

const char *rtext_deposit_amount_mismatch(char *buf, size_t size, const char *deposit_id,
					  const char *deposit_currency, int64_t deposit_micros, const char *payout_id,
					  const char *payout_currency, int64_t payout_micros, int minor_units,
					  const char *bank_trace_id)
{
	char a[RTEXT_AMOUNT_MAX], p[RTEXT_AMOUNT_MAX], d[RTEXT_AMOUNT_MAX];
	if (strcmp(deposit_currency, payout_currency) != 0) {
		snprintf(buf, size, "deposit %s of %s %s (bank trace id %s) is in another currency than payout %s of %s %s",
			 deposit_id, rtext_amount(deposit_micros, minor_units, a), deposit_currency, or_none(bank_trace_id),
			 payout_id, rtext_amount(payout_micros, minor_units, p), payout_currency);
		return buf;
	}
	snprintf(buf, size, "deposit %s of %s %s (bank trace id %s) differs from payout %s of %s by %s", deposit_id,
		 rtext_amount(deposit_micros, minor_units, a), deposit_currency, or_none(bank_trace_id), payout_id,
		 rtext_amount(payout_micros, minor_units, p),
		 rtext_amount(magnitude_diff(deposit_micros, payout_micros), minor_units, d));
	return buf;
}

const char *rtext_metering_variance(char *buf, size_t size, const char *offer_id, const char *month,
				    const char *currency, int minor_units, int64_t expected_micros,
				    int64_t billed_micros)
{
	char x[RTEXT_AMOUNT_MAX], b[RTEXT_AMOUNT_MAX], d[RTEXT_AMOUNT_MAX];
	snprintf(buf, size, "usage of offer %s in %s was billed %s %s but its metering comes to %s, a difference of %s",
		 offer_id, month, rtext_amount(billed_micros, minor_units, b), currency,
		 rtext_amount(expected_micros, minor_units, x),
		 rtext_amount(magnitude_diff(billed_micros, expected_micros), minor_units, d));
	return buf;
}

const char *rtext_unbilled_usage(char *buf, size_t size, const char *offer_id, const char *month,
				 const char *currency, int minor_units, int64_t expected_micros, int lag_days)
{
	char x[RTEXT_AMOUNT_MAX];
	snprintf(buf, size, "usage of offer %s in %s metered at %s %s is not billed more than %d days after the end of the month",
		 offer_id, month, rtext_amount(expected_micros, minor_units, x), currency, lag_days);
	return buf;
}

const char *rtext_usage_without_offer(char *buf, size_t size, const char *customer, const char *product_code,
				      const char *dimension, const char *month, int64_t quantity, int64_t records,
				      size_t offers_n)
{
	snprintf(buf, size, "%" PRId64 " metering record%s of customer %s for product code %s, dimension %s in %s (quantity %" PRId64 ") %s",
		 records, records == 1 ? "" : "s", customer, product_code, dimension, month, quantity,
		 offers_n > 1 ? "could belong to several usage offers, so none is chosen" : "belong to no usage offer");
	return buf;
}

const char *rtext_unknown_dimension(char *buf, size_t size, const char *offer_id, const char *dimension,
				    const char *month, int64_t quantity, int64_t records)
{
	snprintf(buf, size, "offer %s has no price for dimension %s, metered %" PRId64 " units in %s (%" PRId64 " record%s)",
		 offer_id, dimension, quantity, month, records, records == 1 ? "" : "s");
	return buf;
}
