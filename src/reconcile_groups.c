/* reconcile_groups.c — the charge groups of a period (SPEC §4.1–4.3, the disbursement status of
 * §4.5 and the aging of §4.8), in one streamed pass.
 *
 * One query streams, in byte order of (recipient, reference, currency) and then by day, every
 * INVOICED/FORGIVEN row and every DISBURSED line of each reference that has a row in the period
 * (or a revenue row whose usage period starts in it, for SPEC §4.6). Per reference, the stream
 * gives the remainder and payout history over everything ingested up to as-of (§4.5), and cuts its
 * INVOICED/FORGIVEN rows into charge groups by invoice month (§4.1). When a reference ends, each of
 * its groups of the period is matched, allocated and checked; groups of other months only
 * contribute their usage billing. Memory holds one reference at a time.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reconcile_int.h"
#include "reconcile_text.h"
#include "timeutil.h"

/* Every INVOICED/FORGIVEN row and every DISBURSED line, each reference's rows together and by
 * day. C keeps the references with an INVOICED/FORGIVEN row in the period or a revenue row whose
 * usage starts in it, and skips the others when they end: no join or window (the rows of other
 * months are read either way: billing_event_asof reads all of them). The order of the references
 * themselves does not matter (every result is a sum, a minimum or a stored row that reports
 * order), only that each one's rows come together and by day: RC_GROUP_ORDER.
 *
 * No ORDER BY: rc_be was written in that order by one CREATE TABLE AS in this transaction, and a
 * temporary table is read by a plain sequential scan (no parallel or synchronized scans of local
 * buffers), which returns the rows as they were written. Sorting them again cost a second per
 * period on a million events (1.8 s against 0.8 s for the stream). SQL does not promise that
 * order, so rc_groups_run checks it row by row and fails the run if it is ever broken. */
#define GROUPS_COLUMNS \
	ASOF_BE_RECIPIENT ", " ASOF_BE_TREF ", " ASOF_BE_CURRENCY ", " ASOF_BE_ACTION ", " ASOF_BE_TYPE ", " \
	ASOF_BE_SIDE ", " ASOF_BE_AMOUNT ", " ASOF_BE_DAY ", " ASOF_BE_USAGE_DAY ", " ASOF_BE_AGREEMENT ", " \
	ASOF_BE_OFFER ", " ASOF_BE_PRODUCT ", " ASOF_BE_FROM ", " ASOF_BE_DISB_ID ", " ASOF_BE_GH
#define GROUPS_ROWS \
	"(" ASOF_BE_ACTION " IN ('INVOICED', 'FORGIVEN')" \
	" OR (" ASOF_BE_ACTION " = 'DISBURSED' AND " ASOF_BE_TYPE " NOT IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')))"
/* GR(X): rc_be's column X (asof.h) under the alias r */
#define GR(col) "r." ASOF_BE_##col
/* an INVOICED/FORGIVEN row of r whose day or usage day is in the period p */
#define GROUPS_IN_PERIOD \
	"(" GR(DAY) " >= p.p0 AND " GR(DAY) " < p.p1) OR (" GR(USAGE_DAY) " >= p.p0 AND " GR(USAGE_DAY) " < p.p1)"
static const char groups_sql[] =
	"COPY (SELECT " GROUPS_COLUMNS " FROM pg_temp.rc_be WHERE " GROUPS_ROWS ") TO STDOUT";
/* groups_sql when rc_be is the incremental path's view of settle.rc_be_cache (asof_events_sorted):
 * its rows are in no order, so this stream sorts them (only the columns it reads, once per
 * period that streams everything, instead of every column of the month before any reader). */
static const char groups_sorted_sql[] =
	"COPY (SELECT " GROUPS_COLUMNS " FROM pg_temp.rc_be WHERE " GROUPS_ROWS " ORDER BY " RC_GROUP_ORDER ") TO STDOUT";

/* groups_sql for a period that holds few of the events: only the references with an
 * INVOICED/FORGIVEN row whose day or usage day is in the period, which is every reference C would
 * keep (a superset: C still checks that a usage row is revenue). A hash semi-join on the reference
 * costs twice the plain stream when most references qualify (the month being closed), and a tenth
 * of it when few do (the new month of a nightly run, or a late correction). */
static const char groups_period_sql[] =
	"COPY ("
	" SELECT " GROUPS_COLUMNS " FROM pg_temp.rc_be"
	" WHERE " GROUPS_ROWS
	"   AND (" ASOF_BE_RECIPIENT ", " ASOF_BE_TREF ", " ASOF_BE_CURRENCY ") IN ("
	"       SELECT " GR(RECIPIENT) ", " GR(TREF) ", " GR(CURRENCY) " FROM pg_temp.rc_be r CROSS JOIN pg_temp.rc_param p"
	"       WHERE " GR(ACTION) " IN ('INVOICED', 'FORGIVEN')"
	"         AND (" GROUPS_IN_PERIOD "))"
	" ORDER BY " RC_GROUP_ORDER
	") TO STDOUT";

/* Whether the period's references are few enough for groups_period_sql: fewer than half of the
 * INVOICED/FORGIVEN rows fall in it. Counting is a scan of rc_be (0.15 s for 1M events), worth it
 * only when rc_be serves several periods (nightly); a single period's run streams everything. */
static int groups_few(struct rc *rc, int *few, struct err *e)
{
	*few = 0;
	if (!rc->be_shared)
		return 0;
	double t0 = log_clock();
	int rc_code = db_query_bool(rc->db,
			     "SELECT count(*) FILTER (WHERE " GROUPS_IN_PERIOD ") * 2 < count(*)"
			     " FROM pg_temp.rc_be r CROSS JOIN pg_temp.rc_param p"
			     " WHERE " GR(ACTION) " IN ('INVOICED', 'FORGIVEN')",
			     0, NULL, few, e);
	/* SETTLE_RECONCILE_TIMING: the count's cost, and which stream it chose (tests read this) */
	log_phase("reconcile", rc->period_text, *few ? "count: own references" : "count: all references", t0);
	return rc_code;
}

enum {
	F_RECIPIENT, F_TREF, F_CURRENCY, F_ACTION, F_TYPE, F_SIDE, F_AMOUNT, F_DAY, F_USAGE_DAY, F_AGREEMENT,
	F_OFFER, F_PRODUCT, F_FROM, F_DISB_ID, F_GH, F_N
};

/* One charge group being summed (SPEC §4.1). */
struct grp {
	int32_t period;
	int32_t min_day;
	int64_t revenue, cogs, fee, seller_tax, aws_tax, other_tax, infra, balance_adj;
	int64_t balance_adj_rows;
	int64_t rows;                                    /* INVOICED/FORGIVEN rows */
	struct rio_str agreement, offer, product, buyer; /* smallest non-empty so far ("" = none) */
	int64_t usage_billed, usage_rows;                /* revenue rows whose usage starts in the period */
};

/* One reference (recipient, transaction_reference_id, currency) being read. */
struct ref {
	struct rio_str recipient, tref, currency;
	int active;
	int64_t remainder;         /* SPEC §4.5 */
	int64_t paid;              /* the DISBURSED lines in the remainder (counted as §4.5 says) */
	int any_line;              /* a DISBURSED line row touches it */
	int has_last;              /* the latest payout or failure touching it: (day, id) */
	int32_t last_day;
	struct rio_str last_id;
	int last_failed;           /* ... is a failure or a failed payout */
	int relevant;              /* a row in the period, or usage in it (else skipped) */
	int overflow;              /* a sum of its rows overflowed: an error if it is relevant */
	struct grp *g;
	size_t gn, gcap;
};

static void ref_free(struct ref *r)
{
	rio_str_free(&r->recipient);
	rio_str_free(&r->tref);
	rio_str_free(&r->currency);
	rio_str_free(&r->last_id);
	for (size_t i = 0; i < r->gcap; i++) {
		rio_str_free(&r->g[i].agreement);
		rio_str_free(&r->g[i].offer);
		rio_str_free(&r->g[i].product);
		rio_str_free(&r->g[i].buyer);
	}
	free(r->g);
}

static int ref_start(struct ref *r, const char *const *f, struct err *e)
{
	if (rio_str_set(&r->recipient, f[F_RECIPIENT], e) < 0 || rio_str_set(&r->tref, f[F_TREF], e) < 0 ||
	    rio_str_set(&r->currency, f[F_CURRENCY], e) < 0)
		return -1;
	r->active = 1;
	r->remainder = 0;
	r->paid = 0;
	r->any_line = 0;
	r->has_last = 0;
	r->last_failed = 0;
	r->relevant = 0;
	r->overflow = 0;
	r->gn = 0;
	return 0;
}

static int ref_same(const struct ref *r, const char *const *f)
{
	return r->active && strcmp(r->recipient.s, f[F_RECIPIENT]) == 0 && strcmp(r->tref.s, f[F_TREF]) == 0 &&
	       strcmp(r->currency.s, f[F_CURRENCY]) == 0;
}

/* The group of a month within the reference; rows come by day, so it is the last one or new. */
static struct grp *ref_group(struct ref *r, int32_t period, int32_t day, struct err *e)
{
	if (r->gn > 0 && r->g[r->gn - 1].period == period)
		return &r->g[r->gn - 1];
	if (r->gn == r->gcap) {
		size_t cap = r->gcap ? r->gcap * 2 : 4;
		struct grp *g = realloc(r->g, cap * sizeof *g);
		if (!g) {
			err_set(e, EXIT_FAILED, "out of memory");
			return NULL;
		}
		memset(g + r->gcap, 0, (cap - r->gcap) * sizeof *g);
		r->g = g;
		r->gcap = cap;
	}
	struct grp *g = &r->g[r->gn++];
	/* A slot is reused from reference to reference: keep its string buffers (emptied), reset the
	 * rest. */
	struct rio_str keep[4] = { g->agreement, g->offer, g->product, g->buyer };
	memset(g, 0, sizeof *g);
	struct rio_str *strs[4] = { &g->agreement, &g->offer, &g->product, &g->buyer };
	for (int i = 0; i < 4; i++) {
		*strs[i] = keep[i];
		if (rio_str_set(strs[i], "", e) < 0)
			return NULL;
	}
	g->period = period;
	g->min_day = day;
	return g;
}

/* Adds v to *sum. An overflow is an error of the reference's period, not of every period that
 * reads its rows: the stream brings every row of a reference that has one in the period or
 * before it (its remainder, SPEC §4.5), so failing here would fail each later month for a sum
 * that belongs to an earlier one. It is marked and raised by ref_finish once the reference
 * proves relevant to the period (the sums are not used otherwise). */
static void add(int64_t *sum, int64_t v, struct ref *r)
{
	if (money_add(*sum, v, sum) != MONEY_OK)
		r->overflow = 1;
}

/* An INVOICED or FORGIVEN row (SPEC §4.1; §4.5 for the remainder). */
static int row_charge(struct rc *rc, struct ref *r, const char *const *f, int64_t amount, int32_t day,
		      struct err *e)
{
	ASSERT(r->active && ref_same(r, f));
	enum match_family fam = match_family_of(f[F_TYPE], f[F_SIDE]);
	/* SPEC §4.5: the remainder counts every type except the AWS_TAX_SHARE family. */
	if (fam != MATCH_FAM_AWS_TAX)
		add(&r->remainder, amount, r);
	if (day >= rc->period_first_day && day < rc->period_end_day)
		r->relevant = 1;
	struct grp *g = ref_group(r, period_of_us(time_day_start_us(day)), day, e);
	if (!g)
		return -1;
	g->rows++;
	if (day < g->min_day)
		g->min_day = day;
	int64_t *sum = NULL;
	switch (fam) {
	case MATCH_FAM_REVENUE: sum = &g->revenue; break;
	case MATCH_FAM_COGS: sum = &g->cogs; break;
	case MATCH_FAM_LISTING_FEE: sum = &g->fee; break;
	case MATCH_FAM_SELLER_TAX: sum = &g->seller_tax; break;
	case MATCH_FAM_AWS_TAX: sum = &g->aws_tax; break;
	case MATCH_FAM_OTHER_TAX: sum = &g->other_tax; break;
	case MATCH_FAM_INFRA: sum = &g->infra; break;
	case MATCH_FAM_BALANCE_ADJ: sum = &g->balance_adj; g->balance_adj_rows++; break;
	default: break; /* DISBURSEMENT types invoiced: in the remainder only (ingest never loads them) */
	}
	if (sum)
		add(sum, amount, r);
	/* SPEC §4.2: "the smallest non-empty value (byte order) among its rows". */
	if (rio_str_keep_smallest(&g->agreement, f[F_AGREEMENT], e) < 0 ||
	    rio_str_keep_smallest(&g->offer, f[F_OFFER], e) < 0 ||
	    rio_str_keep_smallest(&g->product, f[F_PRODUCT], e) < 0)
		return -1;
	if (fam == MATCH_FAM_REVENUE) {
		/* SPEC §4.2: the buyer is the smallest from_account_id of the revenue rows. */
		if (rio_str_keep_smallest(&g->buyer, f[F_FROM], e) < 0)
			return -1;
		int32_t usage_day;
		if (f[F_USAGE_DAY] && rio_i32(f[F_USAGE_DAY], &usage_day) == 0 && usage_day >= rc->period_first_day &&
		    usage_day < rc->period_end_day) {
			add(&g->usage_billed, amount, r);
			g->usage_rows++;
			r->relevant = 1;
		}
	}
	return 0;
}

/* A payout or failure (day, billing_event_id) touches the reference: keep the latest, by date
 * then id in byte order (SPEC §4.5), and whether it is a failure or a failed payout. */
static int ref_touch(struct ref *r, int32_t day, const char *id, int failed, struct err *e)
{
	if (r->has_last && (day < r->last_day || (day == r->last_day && strcmp(id, r->last_id.s) <= 0)))
		return 0;
	if (rio_str_set(&r->last_id, id, e) < 0)
		return -1;
	r->has_last = 1;
	r->last_day = day;
	r->last_failed = failed;
	return 0;
}

/* A DISBURSED line row (SPEC §4.5). It counts as it stands — a payout's line, or a failure's
 * reversal line — except a line of a failed payout whose failure has no reversal lines of its own
 * (older feeds: the failure alone says the line was not paid). A line naming neither a payout nor a
 * failure ingested so far still counts; it has no date to touch the reference with. */
static int row_line(struct rc *rc, struct ref *r, const char *const *f, int64_t amount, struct err *e)
{
	ASSERT(r->active && ref_same(r, f) && strcmp(f[F_ACTION], "DISBURSED") == 0);
	size_t i;
	int counts = 1;
	r->any_line = 1;
	if (f[F_DISB_ID] && rc_payout_find(rc, r->recipient.s, f[F_DISB_ID], &i) == 0) {
		const struct disburse_payout *p = &rc->payouts[i];
		counts = disburse_lines_count(p, rc->failures);
		if (ref_touch(r, p->day, p->payout_id, p->failed, e) < 0)
			return -1;
		if (p->failed) {
			/* the failure that undoes it touches the reference too */
			const struct disburse_failure *x = &rc->failures[p->failure];
			ASSERT(x->link != DISBURSE_LINK_NONE && x->payout == i);
			if (ref_touch(r, x->day, x->failure_id, 1, e) < 0)
				return -1;
		}
	} else if (f[F_DISB_ID] && rc_failure_find(rc, r->recipient.s, f[F_DISB_ID], &i) == 0) {
		const struct disburse_failure *x = &rc->failures[i];
		ASSERT(x->has_reversal_lines);
		if (ref_touch(r, x->day, x->failure_id, 1, e) < 0)
			return -1;
	}
	if (counts) {
		add(&r->remainder, amount, r);
		add(&r->paid, amount, r);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * A finished group of the period
 */

struct gctx {
	const struct ref *r;
	const struct grp *g;
	const char *disposition;
	struct match_result m;
	const struct match_offer *o; /* the matched offer (MATCHED or CURRENCY_MISMATCH) */
	int sor;                     /* the recipient is the offer's seller of record */
	enum alloc_view view;        /* MATCHED: whose feed the group is (SPEC §4.3) */
	int material;                /* B, F or T is not zero */
	int minor;
	int64_t tol;
	int64_t net;                 /* B + F + T */
	struct rtext_group t;
};

static int group_exception(struct rc *rc, const struct gctx *c, const char *code, int has_expected,
			   int64_t expected, int has_actual, int64_t actual, const char *detail, struct err *e)
{
	struct rc_exception x = {
		.code = code,
		.reference = c->r->tref.s,
		.recipient_account_id = c->r->recipient.s,
		.agreement_id = c->g->agreement.s,
		.offer_id = c->o ? c->o->offer_id : c->g->offer.s,
		.currency = c->r->currency.s,
		.has_expected = has_expected,
		.expected_micros = expected,
		.has_actual = has_actual,
		.actual_micros = actual,
		.detail = detail,
	};
	return rc_exception_add(rc, &x, e);
}

/* SPEC §3.2: an offer whose terms conflict or are incomplete, once per period and offer (the
 * reference is the offer), when a group with something to allocate matches it: the groups are
 * not allocated (disposition OFFER_UNUSABLE) and this row says why. */
static int offer_problem_exception(struct rc *rc, const struct gctx *c, struct err *e)
{
	ASSERT(c->m.status == MATCH_MATCHED && c->o->problem_code);
	if (rc->offer_reported[c->m.offer])
		return 0;
	rc->offer_reported[c->m.offer] = 1;
	char buf[RTEXT_MAX];
	snprintf(buf, sizeof buf, "%s %s: %s; its charges (first %s of %s) are not allocated",
		 strcmp(c->o->problem_code, "OFFER_TERMS_CONFLICT") == 0 ? "the terms of offer" : "offer",
		 c->o->offer_id, c->o->problem_detail, c->r->tref.s, c->r->recipient.s);
	struct rc_exception x = {
		.code = c->o->problem_code,
		.reference = c->o->offer_id,
		.recipient_account_id = c->r->recipient.s,
		.agreement_id = c->o->agreement_id,
		.offer_id = c->o->offer_id,
		.currency = c->r->currency.s,
		.has_actual = 1,
		.actual_micros = c->net,
		.detail = buf,
	};
	return rc_exception_add(rc, &x, e);
}

/* SPEC §4.2 exceptions. A group with nothing to allocate (B = F = T = 0) raises none: nothing is
 * left unallocated by its match (docs/reconcile.md). */
static int group_match_exceptions(struct rc *rc, struct gctx *c, struct err *e)
{
	char buf[RTEXT_MAX];
	const char *rule = match_rule_name(c->m.rule);
	if (!c->material)
		return 0;
	switch (c->m.status) {
	case MATCH_NO_OFFER:
		return group_exception(rc, c, "NO_OFFER", 0, 0, 1, c->net, rtext_no_offer(buf, sizeof buf, &c->t), e);
	case MATCH_AMBIGUOUS_OFFER:
		return group_exception(rc, c, "AMBIGUOUS_OFFER", 0, 0, 1, c->net,
				       rtext_ambiguous_offer(buf, sizeof buf, &c->t, rule, c->m.candidates), e);
	case MATCH_CURRENCY_MISMATCH:
		return group_exception(rc, c, "CURRENCY_MISMATCH", 0, 0, 1, c->net,
				       rtext_currency_mismatch(buf, sizeof buf, &c->t, rule, c->o->offer_id, c->o->currency),
				       e);
	case MATCH_MATCHED:
		break;
	}
	if (c->o->problem_code)
		return offer_problem_exception(rc, c, e);
	if (!c->m.expired)
		return 0;
	char from[11], until[11];
	if (c->o->has_valid_from)
		time_format_day(c->o->valid_from_day, from);
	if (c->o->has_valid_until)
		time_format_day(c->o->valid_until_day, until);
	return group_exception(rc, c, "OFFER_EXPIRED", 0, 0, 1, c->net,
			       rtext_offer_expired(buf, sizeof buf, &c->t, rule, c->o->offer_id,
						   c->o->has_valid_from ? from : NULL, c->o->has_valid_until ? until : NULL),
			       e);
}

/* One allocation row per party, and the party's payout statement (SPEC §4.4: via another
 * recipient's feed when the party is not the group's recipient). */
static int group_parts_out(struct rc *rc, const struct gctx *c, const struct alloc_result *res, struct err *e)
{
	for (size_t p = 0; p < res->n; p++) {
		struct rio_out *o = &rc->out_alloc;
		rio_int(o, rc->run_id);
		rio_text(o, rc->period_text);
		rio_text(o, c->r->recipient.s);
		rio_text(o, c->r->tref.s);
		rio_text(o, c->r->currency.s);
		rio_int(o, (int64_t)p);
		rio_text(o, rc_nullif(c->g->agreement.s));
		rio_text(o, c->o->offer_id);
		rio_text(o, match_rule_name(c->m.rule));
		rio_text(o, alloc_role_name(res->roles[p]));
		rio_text(o, res->accounts[p]);
		rio_int(o, res->parts[p].revenue_micros);
		rio_int(o, res->parts[p].listing_fee_micros);
		rio_int(o, res->parts[p].seller_tax_micros);
		rio_int(o, res->parts[p].net_micros);
		rio_end_row(o);
		int via = strcmp(res->accounts[p], c->r->recipient.s) != 0;
		if (rc_statement_add(rc, res->accounts[p], res->roles[p], c->o->currency, via, &res->parts[p], e) < 0)
			return -1;
	}
	return 0;
}

/* SPEC §4.3 checks of an allocated group: FEE_VARIANCE (groups of the seller of record: the fee
 * rate is the seller of record's), SPLIT_VARIANCE (cost of goods against the split's ISV part). */
static int group_checks(struct rc *rc, const struct gctx *c, const struct alloc_split *split, struct err *e)
{
	char buf[RTEXT_MAX];
	if (c->view == ALLOC_VIEW_SELLER_OF_RECORD && c->o->has_listing_fee_rate) {
		int64_t expected;
		if (alloc_expected_fee(c->g->revenue, c->o->listing_fee_rate_micros, rc->cfg->rounding, &expected) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "charge %s of %s: the expected listing fee overflows", c->r->tref.s,
				       c->r->recipient.s);
		if (alloc_differs(c->g->fee, expected, c->tol) &&
		    group_exception(rc, c, "FEE_VARIANCE", 1, expected, 1, c->g->fee,
				    rtext_fee_variance(buf, sizeof buf, c->minor, c->g->fee, expected,
						       c->o->listing_fee_rate_micros, c->g->revenue),
				    e) < 0)
			return -1;
	}
	/* SPLIT_VARIANCE: the reseller's cost of goods (−C) against what the markup or share says the
	 * ISV's part of B is; only when that markup or share is known. */
	int64_t by_weights, paid;
	if (c->g->cogs == 0 || !alloc_isv_by_weights(split, c->g->revenue, &by_weights))
		return 0;
	if (money_neg(c->g->cogs, &paid) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "charge %s: the cost of goods overflows", c->r->tref.s);
	if (alloc_differs(paid, by_weights, c->tol) &&
	    group_exception(rc, c, "SPLIT_VARIANCE", 1, paid, 1, by_weights,
			    rtext_split_variance(buf, sizeof buf, c->minor, by_weights, c->g->cogs, split->accounts[0]), e) < 0)
		return -1;
	return 0;
}

/* SPEC §4.3: a matched group with something to allocate, from its recipient's point of view.
 * Sets c->disposition: ALLOCATED, or OFFER_INCOMPLETE (unknown markup, no cost of goods). */
static int group_allocate(struct rc *rc, struct gctx *c, struct err *e)
{
	ASSERT(c->m.status == MATCH_MATCHED && c->material && c->view != ALLOC_VIEW_NOT_PARTY);
	ASSERT(c->sor == (c->view == ALLOC_VIEW_SELLER_OF_RECORD));
	struct alloc_split split;
	struct alloc_result res;
	const struct alloc_totals totals = { c->g->revenue, c->g->fee, c->g->seller_tax, c->g->cogs };
	int outcome;
	if (alloc_split_of(c->o, &split, e) < 0 || (outcome = alloc_group(&split, c->view, &totals, &res, e)) < 0)
		return err_prefix(e, "charge %s of %s", c->r->tref.s, c->r->recipient.s);
	if (outcome == ALLOC_INCOMPLETE) {
		char buf[RTEXT_MAX];
		c->disposition = "OFFER_INCOMPLETE";
		/* SPEC §4.7: the OFFER_ codes name the offer. */
		struct rc_exception x = {
			.code = "OFFER_INCOMPLETE",
			.reference = c->o->offer_id,
			.recipient_account_id = c->r->recipient.s,
			.agreement_id = c->g->agreement.s,
			.offer_id = c->o->offer_id,
			.currency = c->r->currency.s,
			.has_actual = 1,
			.actual_micros = c->net,
			.detail = rtext_offer_incomplete(buf, sizeof buf, &c->t, c->o->offer_id),
		};
		return rc_exception_add(rc, &x, e);
	}
	c->disposition = "ALLOCATED";
	if (group_parts_out(rc, c, &res, e) < 0)
		return -1;
	rc->summary.allocated++;
	return group_checks(rc, c, &split, e);
}

static void group_row(struct rc *rc, const struct gctx *c, enum disburse_status st)
{
	const struct grp *g = c->g;
	struct rio_out *o = &rc->out_group;
	char day[11];
	time_format_day(g->min_day, day);
	rio_int(o, rc->run_id);
	rio_text(o, rc->period_text);
	rio_text(o, c->r->recipient.s);
	rio_text(o, c->r->tref.s);
	rio_text(o, c->r->currency.s);
	rio_text(o, rc_nullif(g->agreement.s));
	rio_text(o, rc_nullif(g->offer.s));
	rio_text(o, rc_nullif(g->product.s));
	rio_text(o, rc_nullif(g->buyer.s));
	rio_text(o, day);
	rio_int(o, g->revenue);
	rio_int(o, g->cogs);
	rio_int(o, g->fee);
	rio_int(o, g->seller_tax);
	rio_int(o, g->aws_tax);
	rio_int(o, g->other_tax);
	rio_int(o, g->infra);
	rio_int(o, g->balance_adj);
	rio_int(o, g->rows);
	rio_text(o, match_status_name(c->m.status));
	rio_text(o, match_rule_name(c->m.rule));
	rio_text(o, c->o ? c->o->offer_id : NULL);
	if (c->m.status == MATCH_MATCHED)
		rio_bool(o, c->sor);
	else
		rio_null(o);
	rio_bool(o, strcmp(c->disposition, "ALLOCATED") == 0);
	rio_text(o, c->disposition);
	rio_bool(o, c->m.status == MATCH_MATCHED && c->m.expired);
	rio_text(o, disburse_status_name(st));
	rio_int(o, c->r->remainder);
	/* the remainder's lines, so that the workbook can say what of it was paid and what other
	 * months' charges of the reference carried in (docs/workbook.md "Still owed") */
	rio_int(o, c->r->paid);
	rio_end_row(o);
}

/* SPEC §4.8: days since the group's (earliest) invoice date, at as-of. */
static void group_aging(struct rc *rc, const struct gctx *c, enum disburse_status st)
{
	if (!disburse_is_aged(st, c->r->remainder, c->tol))
		return;
	int64_t days = (int64_t)rc->as_of_day - c->g->min_day;
	char day[11];
	time_format_day(c->g->min_day, day);
	struct rio_out *o = &rc->out_aging;
	rio_int(o, rc->run_id);
	rio_text(o, rc->period_text);
	rio_text(o, c->r->recipient.s);
	rio_text(o, c->r->tref.s);
	rio_text(o, c->r->currency.s);
	rio_text(o, day);
	rio_int(o, days);
	rio_text(o, disburse_aging_bucket(days));
	rio_text(o, disburse_status_name(st));
	rio_int(o, c->r->remainder);
	rio_end_row(o);
}

static int group_match(struct rc *rc, const struct ref *r, const struct grp *g, struct gctx *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	c->r = r;
	c->g = g;
	struct match_group mg = { g->agreement.s, g->offer.s, g->product.s, g->buyer.s, r->currency.s, g->min_day };
	match_group(rc->index, &mg, &c->m);
	if (c->m.status == MATCH_MATCHED || c->m.status == MATCH_CURRENCY_MISMATCH)
		c->o = &rc->offers[c->m.offer];
	c->view = c->m.status == MATCH_MATCHED ? alloc_view_of(c->o, r->recipient.s) : ALLOC_VIEW_NOT_PARTY;
	c->sor = c->m.status == MATCH_MATCHED && c->view == ALLOC_VIEW_SELLER_OF_RECORD;
	c->material = g->revenue != 0 || g->fee != 0 || g->seller_tax != 0;
	if (rc_minor_units(r->currency.s, &c->minor, e) < 0 || rc_tolerance(rc, r->currency.s, &c->tol, e) < 0)
		return -1;
	if (money_add(g->revenue, g->fee, &c->net) != MONEY_OK || money_add(c->net, g->seller_tax, &c->net) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "charge %s of %s: the net overflows", r->tref.s, r->recipient.s);
	c->t = (struct rtext_group){ r->recipient.s, r->tref.s, r->currency.s, c->minor, g->min_day, g->agreement.s,
				     g->offer.s, g->product.s, g->buyer.s, c->net };
	return 0;
}

/* SPEC §4.6 billed: revenue rows with usage in the month, of the offer's charge groups — those
 * of its seller of record, and those RECIPIENT_NOT_PARTY of a direct offer (there the one party
 * is the seller of record, typically written in the other id form with no account feed to join
 * them: the usage was billed, and UNBILLED_USAGE would say otherwise). Not the ISV's own feed of
 * a CPPO sale (it would count the same usage twice), nor a CPPO's RECIPIENT_NOT_PARTY group
 * (the reseller's copy or the ISV's: which one, nothing tells). */
static int group_usage(struct rc *rc, const struct gctx *c, struct err *e)
{
	if (c->m.status != MATCH_MATCHED || !c->o->usage || c->g->usage_rows == 0)
		return 0;
	if (!c->sor && !(c->view == ALLOC_VIEW_NOT_PARTY && c->o->reseller_account_id[0] == '\0'))
		return 0;
	struct rc_billed *b = &rc->billed[c->m.offer];
	if (money_add(b->billed_micros, c->g->usage_billed, &b->billed_micros) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the usage billed for offer %s overflows", c->o->offer_id);
	b->rows += c->g->usage_rows;
	return 0;
}

/* SPEC §4.3: a matched group whose recipient is neither the seller of record nor the ISV. */
static int group_not_party(struct rc *rc, const struct gctx *c, struct err *e)
{
	char buf[RTEXT_MAX];
	return group_exception(rc, c, "RECIPIENT_NOT_PARTY", 0, 0, 1, c->net,
			       rtext_recipient_not_party(buf, sizeof buf, &c->t, c->o->offer_id, c->o->isv_account_id,
							 c->o->reseller_account_id),
			       e);
}

static int group_finish(struct rc *rc, const struct ref *r, const struct grp *g, enum disburse_status st,
			struct err *e)
{
	/* A group holds rows of one month, its date the earliest of them. */
	ASSERT(g->rows > 0 && period_of_us(time_day_start_us(g->min_day)) == g->period);
	struct gctx c;
	if (group_match(rc, r, g, &c, e) < 0 || group_usage(rc, &c, e) < 0)
		return -1;
	if (g->period != rc->period)
		return 0; /* another month's group, read for its usage billing only */
	rc->summary.groups++;
	/* What becomes of the group (docs/reconcile.md; balance assertion 5 checks each). */
	if (c.m.status != MATCH_MATCHED)
		c.disposition = c.material ? "UNMATCHED" : "NOTHING_TO_ALLOCATE";
	else if (c.o->problem_code)
		c.disposition = c.material ? "OFFER_UNUSABLE" : "NOTHING_TO_ALLOCATE";
	else if (!c.material)
		c.disposition = "NOTHING_TO_ALLOCATE";
	else if (c.view == ALLOC_VIEW_NOT_PARTY)
		c.disposition = "RECIPIENT_NOT_PARTY";
	if (group_match_exceptions(rc, &c, e) < 0)
		return -1;
	if (!c.disposition && group_allocate(rc, &c, e) < 0)
		return -1;
	if (strcmp(c.disposition, "RECIPIENT_NOT_PARTY") == 0 && group_not_party(rc, &c, e) < 0)
		return -1;
	if (g->balance_adj_rows > 0) {
		char buf[RTEXT_MAX];
		if (group_exception(rc, &c, "BALANCE_ADJUSTMENT", 0, 0, 1, g->balance_adj,
				    rtext_balance_adjustment(buf, sizeof buf, &c.t, g->balance_adj, g->balance_adj_rows),
				    e) < 0)
			return -1;
	}
	ASSERT(c.disposition != NULL);
	/* allocated ⇔ matched with something to allocate and a party as recipient (SPEC §4.3) */
	ASSERT((strcmp(c.disposition, "ALLOCATED") == 0) ==
	       (c.m.status == MATCH_MATCHED && c.material && !c.o->problem_code && c.view != ALLOC_VIEW_NOT_PARTY &&
		strcmp(c.disposition, "OFFER_INCOMPLETE") != 0));
	group_row(rc, &c, st);
	group_aging(rc, &c, st);
	return 0;
}

static int ref_finish(struct rc *rc, struct ref *r, struct err *e)
{
	if (!r->active)
		return 0;
	r->active = 0;
	if (!r->relevant)
		return 0; /* no row in the period, no usage in it: another period's reference */
	if (r->overflow)
		return err_set(e, EXIT_FAILED, "the amounts of reference %s of %s overflow", r->tref.s, r->recipient.s);
	int64_t tol;
	if (rc_tolerance(rc, r->currency.s, &tol, e) < 0)
		return -1;
	enum disburse_status st = disburse_status_of(r->remainder, tol, r->any_line, r->has_last && r->last_failed);
	/* SPEC §4.5's order, restated: FAILED owes money, NOT_DISBURSED has no line, OVER is negative */
	ASSERT(st != DISBURSE_FAILED || r->remainder > tol);
	ASSERT(st != DISBURSE_NOT_DISBURSED || (!r->any_line && r->remainder >= -tol));
	ASSERT(st != DISBURSE_OVER || r->remainder < -tol);
	for (size_t i = 0; i < r->gn; i++)
		if (group_finish(rc, r, &r->g[i], st, e) < 0)
			return -1;
	return 0;
}

/* The last row's place in RC_GROUP_ORDER, to check the stream's order (groups_sql). */
struct stream_order {
	int have;
	int64_t gh;
	int32_t day;
};

/* Whether the row's reference comes after r's, in byte order (RC_GROUP_ORDER's tie-break). */
static int ref_after(const struct ref *r, const char *const *f)
{
	int c = strcmp(f[F_RECIPIENT], r->recipient.s);
	if (c == 0)
		c = strcmp(f[F_TREF], r->tref.s);
	if (c == 0)
		c = strcmp(f[F_CURRENCY], r->currency.s);
	return c > 0;
}

static int row(struct rc *rc, struct ref *r, struct stream_order *o, const char *const *f, struct err *e)
{
	int64_t amount, gh;
	int32_t day;
	if (!f[F_RECIPIENT] || !f[F_TREF] || !f[F_CURRENCY] || !f[F_ACTION] || rio_i64(f[F_AMOUNT], &amount) < 0 ||
	    rio_i32(f[F_DAY], &day) < 0 || !f[F_GH] || rio_i64(f[F_GH], &gh) < 0)
		return err_set(e, EXIT_FAILED, "database: a billing event row lacks a key, amount or date");
	int same = ref_same(r, f);
	/* A reference's rows together and by day, the references in RC_GROUP_ORDER: else a reference
	 * would be cut in two and its groups summed twice, silently. Never seen; fail loudly. */
	if (o->have && !(same ? gh == o->gh && day >= o->day : gh > o->gh || (gh == o->gh && ref_after(r, f))))
		return err_set(e, EXIT_FAILED,
			       "internal error: the billing events of reference %s of %s did not arrive in"
			       " reference and day order; nothing was stored",
			       f[F_TREF], f[F_RECIPIENT]);
	o->have = 1;
	o->gh = gh;
	o->day = day;
	if (!same) {
		if (ref_finish(rc, r, e) < 0 || ref_start(r, f, e) < 0)
			return -1;
	}
	if (strcmp(f[F_ACTION], "DISBURSED") == 0)
		return row_line(rc, r, f, amount, e);
	return row_charge(rc, r, f, amount, day, e);
}

int rc_groups_run(struct rc *rc, struct err *e)
{
	/* The payouts and failures (rc_payouts_load) come first: lines look them up. */
	ASSERT(rc->payouts_n == 0 || rc->payout_slots != NULL);
	ASSERT(rc->failures_n == 0 || rc->failure_by_id != NULL);
	struct rio_in in;
	struct ref r;
	memset(&r, 0, sizeof r);
	int few, sorted = 1;
	if (groups_few(rc, &few, e) < 0 || (!few && asof_events_sorted(rc->db, &sorted, e) < 0) ||
	    rio_in_begin(&in, rc->db, few ? groups_period_sql : sorted ? groups_sql : groups_sorted_sql, e) < 0)
		return -1;
	struct stream_order order = { 0 };
	int st, rc_code = -1;
	while ((st = rio_in_next(&in, F_N, e)) == 1)
		if (row(rc, &r, &order, in.fields, e) < 0)
			goto done;
	if (st < 0 || ref_finish(rc, &r, e) < 0)
		goto done;
	rc_code = 0;
done:
	rio_in_end(&in);
	ref_free(&r);
	return rc_code;
}
