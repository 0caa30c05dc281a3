/*
 * gen.c — a seeded, deterministic generator of large, realistic settle input feeds (bench only).
 *
 *   cc -std=c17 -O2 -o bench/gen bench/gen.c
 *   bench/gen --seed 42 --events 1000000 --metering 5000000 --period 2026-10 --out DIR
 *
 * writes DIR/offers.csv, offer_dimensions.csv, billing_event.csv, metering.csv and
 * bank_deposits.csv in the formats of SPEC §3, and with --daily-usage 1 also dailyusagefeed.csv (the
 * marketplace's recorded usage, SDDS.md `dailyusagefeed_v1`: per metering stream with an offer and
 * UTC day, the Σ quantity of its Success records, so it matches the metering log exactly and
 * SPEC §4.6's three-way check finds no USAGE_RECORD_MISMATCH). The same arguments give byte-identical files on any
 * machine: one xoshiro256** stream per file family seeded from --seed, per-object decisions by a
 * hash of (seed, object), and integer arithmetic only (amounts are minor units of their currency;
 * rates are percent × 10^4 as in SPEC §3.2). --events 100000 gives the small run for a 100k-vs-1M
 * comparison; the metering volume is independent of --events.
 *
 * The model: one calendar month of a consolidated export of many sellers' feeds.
 * - Parties: ISVs (accounts 4…), resellers (1…), buyers (9…): one buyer per offer, so rule M3
 *   finds exactly one offer.
 * - Offers: CONTRACT offers (events/100, 20..50000): DIRECT 60 %, CPPO MARKUP 28 %, CPPO SHARE 12 %;
 *   1 % expired the month before (their charges still arrive: OFFER_EXPIRED); 8 % list no
 *   listing_fee_pct. USAGE offers (DIRECT 80 %, MARKUP 20 %) get one metering stream per priced
 *   dimension, as many as --metering needs at one record per stream and hour.
 * - A contract charge is one transaction_reference_id of its seller of record (the reseller for
 *   CPPO): SELLER_REV_SHARE B from the buyer, AWS_REV_SHARE −round(B × fee %), sometimes
 *   SELLER_TAX_SHARE and AWS_TAX_SHARE; for CPPO the cost of goods row (charge_side BUYING,
 *   from = reseller, to = ISV) −W, with B = round(W × (1 + markup)) for MARKUP and
 *   W = round(B × isv_share) for SHARE; the ISV's own feed gets +W from the reseller under the same
 *   reference. Every rounding is half-up to the currency's minor unit, done once.
 * - Refunds (3 %): _REFUND rows (parent = the original row) that bring each total to what a charge
 *   of the reduced price would have been, so fee and split checks stay within one minor unit.
 *   FORGIVEN (0.3 %, direct offers): every INVOICED row mirrored by a FORGIVEN row of opposite sign.
 *   BALANCE_ADJUSTMENT: lone rows, 0.1 % of charges. 0.3 % of revenue rows get a second version
 *   (later valid_from and update_date, new payment_due_date, same amount).
 * - Deliberate anomalies per million charges: no offer 1000, currency mismatch 500, fee at a rate
 *   0.5 points off 2000, CPPO cost of goods 1 % off 2000 (of CPPO charges).
 * - Payouts: days 7, 14, 21 and 28, per seller and currency. 88 % of charges are collected 3..12
 *   days after their last row and paid at the next payout day of the month; each of their rows
 *   except the AWS_TAX_SHARE family gets a DISBURSED line of opposite sign, and the DISBURSEMENT row
 *   carries exactly −Σ its lines. 1.5 % of payouts fail (DISBURSEMENT_FAILURE, parent = payout).
 * - Bank deposits: 88 % of payouts by bank_trace_id, 8 % by amount and date (no trace id on either
 *   side), 2.5 % missing, 1.5 % short by a bank fee; none for failed payouts; plus ~1 % unrelated
 *   deposits.
 * - Metering: hourly BatchMeterUsage records per stream, 99.6 % Success; 0.5 % of the streams belong
 *   to no offer. USAGE charges (invoiced on the last day of the month, usage_period = the month)
 *   bill round(Σ Success quantity × unit_price) per dimension; 2 % of the offers under-bill one
 *   dimension by 3 % (METERING_VARIANCE), 1 % are not billed (UNBILLED_USAGE).
 * Output goes through one buffer per file; memory depends on the number of offers and sellers,
 * never on the number of rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define ASSERT(cond)                                                                          \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "gen: assertion failed: %s (%s:%d)\n", #cond, __FILE__, \
				__LINE__);                                                    \
			abort();                                                              \
		}                                                                             \
	} while (0)

#define AMOUNT_MAX INT64_C(1000000000000) /* |amount| bound in minor units: products stay < 2^62 */
#define NO_PARTY UINT32_MAX
#define ACC_NONE UINT64_C(0)
#define ACC_AWS UINT64_C(1)
#define DAY_S INT64_C(86400)
#define OUT_BUF_BYTES ((size_t)1 << 20)
#define ROW_BYTES_MAX ((size_t)2048)
#define CHARGE_ROWS_MAX 48
#define SLOT_N 4

static const int64_t POW10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };
static const int SLOT_DAYS[SLOT_N] = { 7, 14, 21, 28 };

/* ---------------------------------------------------------------- random numbers */

struct rng {
	uint64_t s[4];
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A decision about one object that does not depend on generation order. */
static uint64_t hash3(uint64_t seed, uint64_t salt, uint64_t key)
{
	return mix64(seed ^ mix64(salt ^ mix64(key)));
}

static void rng_init(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ mix64(stream + 1);
	for (int i = 0; i < 4; i++) {
		x += UINT64_C(0x9e3779b97f4a7c15);
		r->s[i] = mix64(x);
	}
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [lo, hi]; the modulo bias does not matter for a bench. */
static int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
	ASSERT(lo <= hi);
	return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* True with probability ppm / 10^6. */
static int rng_ppm(struct rng *r, uint32_t ppm)
{
	return rng_next(r) % 1000000u < ppm;
}

#define PICK(r, table) ((table)[rng_range((r), 0, (int64_t)(sizeof(table) / sizeof((table)[0])) - 1)])

/* ---------------------------------------------------------------- money */

struct currency {
	const char *code;
	int digits;           /* ISO 4217 minor units */
	int64_t per_usd_pct;  /* price level: units of this currency per 100 USD */
	uint32_t weight_ppm;  /* share of offers */
};

static const struct currency CURRENCIES[] = {
	{ "USD", 2, 100, 800000 }, { "EUR", 2, 92, 70000 },   { "GBP", 2, 79, 50000 },
	{ "AUD", 2, 152, 30000 },  { "JPY", 0, 15000, 35000 }, { "KWD", 3, 31, 15000 },
};
#define CUR_N ((int)(sizeof(CURRENCIES) / sizeof(CURRENCIES[0])))

/* round(num / den), half away from zero (SPEC §2 half_up), den > 0. */
static int64_t div_round(int64_t num, int64_t den)
{
	ASSERT(den > 0);
	int64_t a = num < 0 ? -num : num;
	int64_t q = a / den;
	if ((a % den) * 2 >= den)
		q++;
	return num < 0 ? -q : q;
}

/* amount × pct / 100, with pct_e4 = pct × 10^4, rounded half-up to the amount's unit. */
static int64_t mul_pct(int64_t amount, int64_t pct_e4)
{
	ASSERT(amount > -AMOUNT_MAX && amount < AMOUNT_MAX);
	ASSERT(pct_e4 >= 0 && pct_e4 <= 2000000);
	return div_round(amount * pct_e4, 1000000);
}

/* ---------------------------------------------------------------- calendar (UTC, proleptic) */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* ---------------------------------------------------------------- buffered output */

struct out {
	FILE *f;
	char path[4096];
	char *buf;
	size_t len;
	uint64_t rows; /* data rows, header excluded */
};

static void die_io(const struct out *o, const char *what)
{
	fprintf(stderr, "gen: could not %s file \"%s\": %s\n", what, o->path, strerror(errno));
	exit(1);
}

static void out_open(struct out *o, const char *dir, const char *name, const char *header)
{
	memset(o, 0, sizeof *o);
	if (snprintf(o->path, sizeof o->path, "%s/%s", dir, name) >= (int)sizeof o->path) {
		fprintf(stderr, "gen: output directory name is too long\n");
		exit(2);
	}
	o->buf = malloc(OUT_BUF_BYTES);
	if (!o->buf) {
		fprintf(stderr, "gen: out of memory\n");
		exit(1);
	}
	o->f = fopen(o->path, "wb");
	if (!o->f)
		die_io(o, "create");
	size_t n = strlen(header);
	memcpy(o->buf, header, n);
	o->buf[n] = '\n';
	o->len = n + 1;
}

static void out_flush(struct out *o)
{
	if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
		die_io(o, "write");
	o->len = 0;
}

/* Makes room for one row; every row is shorter than ROW_BYTES_MAX (asserted by put_mem). */
static void out_row_begin(struct out *o)
{
	if (o->len + ROW_BYTES_MAX > OUT_BUF_BYTES)
		out_flush(o);
}

static void put_mem(struct out *o, const char *s, size_t n)
{
	ASSERT(o->len + n <= OUT_BUF_BYTES);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_ch(struct out *o, char c)
{
	ASSERT(o->len < OUT_BUF_BYTES);
	o->buf[o->len++] = c;
}

static void put_str(struct out *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

static void out_row_end(struct out *o)
{
	put_ch(o, '\n');
	o->rows++;
}

static void out_close(struct out *o)
{
	out_flush(o);
	if (fflush(o->f) != 0)
		die_io(o, "write");
	if (fclose(o->f) != 0)
		die_io(o, "close");
	free(o->buf);
	o->buf = NULL;
}

/* v in decimal, zero-padded to width digits (0: no padding). */
static void put_u64w(struct out *o, uint64_t v, int width)
{
	char t[24];
	int n = 0;
	do {
		t[23 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width && n < 24)
		t[23 - n++] = '0';
	put_mem(o, t + 24 - n, (size_t)n);
}

static void put_u64(struct out *o, uint64_t v)
{
	put_u64w(o, v, 0);
}

/* An identifier: prefix and a zero-padded number ("be-000000042"). */
static void put_id(struct out *o, const char *prefix, uint64_t n, int width)
{
	put_str(o, prefix);
	put_u64w(o, n, width);
}

/* minor units as a plain decimal with exactly the currency's digits (SPEC §2 formatting). */
static void put_amount(struct out *o, int64_t minor, int digits)
{
	uint64_t a = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
	if (minor < 0)
		put_ch(o, '-');
	put_u64(o, a / (uint64_t)POW10[digits]);
	if (digits > 0) {
		put_ch(o, '.');
		put_u64w(o, a % (uint64_t)POW10[digits], digits);
	}
}

/* A fraction with frac_digits digits, trailing zeros dropped down to keep_digits. */
static void put_fixed(struct out *o, int64_t v, int frac_digits, int keep_digits)
{
	ASSERT(v >= 0);
	int64_t p = POW10[frac_digits];
	put_u64(o, (uint64_t)(v / p));
	int64_t frac = v % p;
	int n = frac_digits;
	while (n > keep_digits && frac % 10 == 0) {
		frac /= 10;
		n--;
	}
	if (n > 0) {
		put_ch(o, '.');
		put_u64w(o, (uint64_t)frac, n);
	}
}

static void put_pct(struct out *o, int32_t pct_e4)
{
	put_fixed(o, pct_e4, 4, 0);
}

static void put_day(struct out *o, int64_t t)
{
	int64_t y;
	int m, d;
	civil_from_days(t >= 0 ? t / DAY_S : (t - DAY_S + 1) / DAY_S, &y, &m, &d);
	put_u64w(o, (uint64_t)y, 4);
	put_ch(o, '-');
	put_u64w(o, (uint64_t)m, 2);
	put_ch(o, '-');
	put_u64w(o, (uint64_t)d, 2);
}

/* An instant as 2026-10-05T14:23:11Z; a negative instant is an empty field. */
static void put_ts(struct out *o, int64_t t)
{
	if (t < 0)
		return;
	int64_t s = t % DAY_S;
	put_day(o, t);
	put_ch(o, 'T');
	put_u64w(o, (uint64_t)(s / 3600), 2);
	put_ch(o, ':');
	put_u64w(o, (uint64_t)(s / 60 % 60), 2);
	put_ch(o, ':');
	put_u64w(o, (uint64_t)(s % 60), 2);
	put_ch(o, 'Z');
}

static void put_acc(struct out *o, uint64_t acc)
{
	if (acc == ACC_AWS)
		put_str(o, "AWS");
	else if (acc != ACC_NONE)
		put_u64w(o, acc, 12);
}

/* ---------------------------------------------------------------- the model */

enum split { SPLIT_DIRECT, SPLIT_MARKUP, SPLIT_SHARE };
static const char *const SPLIT_NAMES[] = { "DIRECT", "MARKUP", "SHARE" };

struct dimension {
	const char *name;
	int64_t price_lo_micros, price_hi_micros; /* USD per unit */
	int64_t qty_lo, qty_hi;                   /* typical quantity per hour */
};

static const struct dimension DIMENSIONS[] = {
	{ "api_calls", 100, 2000, 500, 50000 },
	{ "gb_processed", 10000, 250000, 1, 400 },
	{ "host_hours", 50000, 2000000, 1, 40 },
	{ "active_users", 20000, 500000, 1, 300 },
};
#define DIM_N ((int)(sizeof(DIMENSIONS) / sizeof(DIMENSIONS[0])))

static const int32_t FEE_DIRECT_E4[] = { 30000, 30000, 30000, 15000, 25000, 11250, 37500, 200000 };
static const int32_t FEE_CPPO_E4[] = { 30000, 15000, 25000, 5000 };
static const int32_t MARKUP_E4[] = { 80000, 50000, 100000, 125000, 150000, 35000, 200000 };
static const int32_t SHARE_E4[] = { 700000, 750000, 800000, 850000, 900000, 625000 };
static const int32_t SELLER_TAX_E4[] = { 40000, 60000, 72500, 82500, 100000 };
static const int32_t AWS_TAX_E4[] = { 60000, 70000, 82500, 86250, 200000 };

struct offer {
	uint32_t isv, reseller;      /* party indexes; reseller NO_PARTY for DIRECT */
	uint32_t product, buyer;     /* product and buyer indexes */
	int32_t fee_e4, split_e4;    /* listing fee rate; markup or ISV share (pct × 10^4) */
	int64_t from_ts, until_ts;   /* validity, first and last day */
	uint32_t stream0;            /* USAGE: first metering stream */
	uint8_t cur, split, usage, ndims, fee_listed, expired;
};

struct stream {                  /* one (customer, product, dimension) metering series */
	uint32_t offer;              /* NO_PARTY: a customer no offer claims */
	uint32_t customer, product;
	int64_t price_micros;        /* in the offer's currency */
	int64_t qty_hi;
	int64_t qty_success;         /* Σ quantity of Success records, filled by metering_write */
	uint8_t dim, has_agreement;
};

struct payout {
	int64_t amount; /* −Σ lines */
	uint32_t lines;
};

struct gen {
	uint64_t seed, events, metering;
	int64_t month_start, month_end; /* instants: first second of the month and of the next */
	int ndays;
	uint32_t n_isv, n_res, n_offers, n_contract, n_streams;
	struct offer *offers;
	struct stream *streams;
	struct payout *payouts;
	int64_t *daily;                 /* --daily-usage: Σ Success quantity per stream × day */
	int daily_usage;
	uint32_t n_payouts_used;
	uint64_t next_event, next_ref;
	struct out ev;
	struct rng r;
};

static uint64_t party_account(const struct gen *g, uint32_t party)
{
	if (party < g->n_isv)
		return UINT64_C(400000000000) + (uint64_t)party * 7919 + 1031;
	return UINT64_C(100000000000) + (uint64_t)(party - g->n_isv) * 7919 + 2053;
}

static uint64_t buyer_account(uint32_t buyer)
{
	return UINT64_C(900000000000) + (uint64_t)buyer * 7919 + 17;
}

static uint32_t offer_seller(const struct offer *o)
{
	return o->reseller != NO_PARTY ? o->reseller : o->isv;
}

static int pick_currency(struct rng *r)
{
	uint64_t roll = rng_next(r) % 1000000u;
	for (int i = 0; i < CUR_N; i++) {
		if (roll < CURRENCIES[i].weight_ppm)
			return i;
		roll -= CURRENCIES[i].weight_ppm;
	}
	return 0;
}

/* A contract price in minor units: by decade from 100 to 10^6 USD-equivalent, 60 % whole units. */
static int64_t price_contract(struct rng *r, int cur)
{
	static const int64_t lo[] = { 100, 1000, 10000, 100000 };
	int64_t roll = rng_range(r, 0, 99);
	int k = roll < 40 ? 0 : roll < 75 ? 1 : roll < 95 ? 2 : 3;
	const struct currency *c = &CURRENCIES[cur];
	int64_t units = rng_range(r, lo[k], lo[k] * 10 - 1) * c->per_usd_pct / 100;
	int64_t minor = (units < 1 ? 1 : units) * POW10[c->digits];
	if (rng_range(r, 0, 99) >= 60)
		minor += rng_range(r, 0, POW10[c->digits] - 1);
	return minor;
}

/* Terms common to contract and usage offers; the split is drawn by the caller's mix. */
static void offer_terms(struct gen *g, struct rng *r, struct offer *o, uint32_t index, int split)
{
	int64_t start_day = g->month_start / DAY_S;
	memset(o, 0, sizeof *o);
	o->isv = (uint32_t)rng_range(r, 0, g->n_isv - 1);
	o->product = o->isv * 4 + (uint32_t)rng_range(r, 0, 3);
	o->buyer = index;
	o->cur = (uint8_t)pick_currency(r);
	o->split = (uint8_t)split;
	o->reseller = NO_PARTY;
	o->fee_e4 = PICK(r, FEE_DIRECT_E4);
	if (split != SPLIT_DIRECT) {
		o->reseller = g->n_isv + (uint32_t)rng_range(r, 0, g->n_res - 1);
		o->fee_e4 = PICK(r, FEE_CPPO_E4);
		o->split_e4 = split == SPLIT_MARKUP ? PICK(r, MARKUP_E4) : PICK(r, SHARE_E4);
	}
	o->fee_listed = !rng_ppm(r, 80000);
	o->from_ts = (start_day - rng_range(r, 30, 540)) * DAY_S;
	o->until_ts = (g->month_end / DAY_S + rng_range(r, 30, 720)) * DAY_S;
}

static void offers_make(struct gen *g)
{
	struct rng r;
	rng_init(&r, g->seed, 1);
	for (uint32_t i = 0; i < g->n_contract; i++) {
		int64_t roll = rng_range(&r, 0, 99);
		struct offer *o = &g->offers[i];
		offer_terms(g, &r, o, i, roll < 60 ? SPLIT_DIRECT : roll < 88 ? SPLIT_MARKUP : SPLIT_SHARE);
		if (rng_ppm(&r, 10000)) { /* expired last month; its charges still arrive */
			o->expired = 1;
			o->until_ts = g->month_start - DAY_S;
		}
	}
	/* USAGE offers, then streams no offer claims (0.5 %): USAGE_WITHOUT_OFFER */
	uint32_t s = 0, orphans = g->n_streams / 200, i = g->n_contract;
	while (s < g->n_streams - orphans) {
		struct offer *o = &g->offers[i];
		offer_terms(g, &r, o, i, rng_ppm(&r, 200000) ? SPLIT_MARKUP : SPLIT_DIRECT);
		o->usage = 1;
		o->stream0 = s;
		int first = (int)rng_range(&r, 0, DIM_N - 1);
		o->ndims = (uint8_t)rng_range(&r, 1, 3);
		if (o->ndims > g->n_streams - orphans - s)
			o->ndims = (uint8_t)(g->n_streams - orphans - s);
		for (int k = 0; k < o->ndims; k++, s++) {
			struct stream *st = &g->streams[s];
			const struct dimension *d = &DIMENSIONS[(first + k) % DIM_N];
			int64_t usd = rng_range(&r, d->price_lo_micros, d->price_hi_micros) / 10 * 10;
			st->offer = i;
			st->customer = o->buyer;
			st->product = o->product;
			st->dim = (uint8_t)((first + k) % DIM_N);
			st->price_micros = usd * CURRENCIES[o->cur].per_usd_pct / 100;
			st->qty_hi = rng_range(&r, d->qty_lo, d->qty_hi) * 2;
			st->has_agreement = (uint8_t)rng_ppm(&r, 600000);
		}
		i++;
	}
	g->n_offers = i;
	for (; s < g->n_streams; s++) {
		struct stream *st = &g->streams[s];
		st->offer = NO_PARTY;
		st->customer = g->n_offers + s;
		st->product = (uint32_t)rng_range(&r, 0, g->n_isv * 4 - 1);
		st->dim = (uint8_t)rng_range(&r, 0, DIM_N - 1);
		st->qty_hi = 100;
	}
}

static void offers_write(struct gen *g, const char *dir)
{
	struct out o;
	out_open(&o, dir, "offers.csv",
		 "offer_id,agreement_id,product_id,product_code,buyer_account_id,isv_account_id,"
		 "reseller_account_id,resale_authorization_id,currency,pricing_model,split_basis,"
		 "markup_pct,isv_share_pct,listing_fee_pct,valid_from,valid_until");
	for (uint32_t i = 0; i < g->n_offers; i++) {
		const struct offer *f = &g->offers[i];
		out_row_begin(&o);
		put_id(&o, "offer-", i, 6);
		put_id(&o, ",agmt-", i, 6);
		put_id(&o, ",prod-", f->product, 5);
		put_id(&o, ",pc", f->product, 5);
		put_ch(&o, ',');
		put_acc(&o, buyer_account(f->buyer));
		put_ch(&o, ',');
		put_acc(&o, party_account(g, f->isv));
		put_ch(&o, ',');
		if (f->reseller != NO_PARTY) {
			put_acc(&o, party_account(g, f->reseller));
			put_id(&o, ",resaleauth-", i, 6);
		} else {
			put_ch(&o, ',');
		}
		put_ch(&o, ',');
		put_str(&o, CURRENCIES[f->cur].code);
		put_str(&o, f->usage ? ",USAGE," : ",CONTRACT,");
		put_str(&o, SPLIT_NAMES[f->split]);
		put_ch(&o, ',');
		if (f->split == SPLIT_MARKUP)
			put_pct(&o, f->split_e4);
		put_ch(&o, ',');
		if (f->split == SPLIT_SHARE)
			put_pct(&o, f->split_e4);
		put_ch(&o, ',');
		if (f->fee_listed)
			put_pct(&o, f->fee_e4);
		put_ch(&o, ',');
		put_day(&o, f->from_ts);
		put_ch(&o, ',');
		put_day(&o, f->until_ts);
		out_row_end(&o);
	}
	out_close(&o);
}

static void dimensions_write(struct gen *g, const char *dir)
{
	struct out o;
	out_open(&o, dir, "offer_dimensions.csv", "offer_id,dimension,unit_price");
	for (uint32_t i = 0; i < g->n_streams; i++) {
		const struct stream *st = &g->streams[i];
		if (st->offer == NO_PARTY)
			continue;
		out_row_begin(&o);
		put_id(&o, "offer-", st->offer, 6);
		put_ch(&o, ',');
		put_str(&o, DIMENSIONS[st->dim].name);
		put_ch(&o, ',');
		put_fixed(&o, st->price_micros, 6, CURRENCIES[g->offers[st->offer].cur].digits);
		out_row_end(&o);
	}
	out_close(&o);
}

/* ---------------------------------------------------------------- metering */

static const char *metering_status(struct rng *r)
{
	uint64_t roll = rng_next(r) % 1000000u;
	if (roll < 996000)
		return "Success";
	if (roll < 998000)
		return "DuplicateRecord";
	return roll < 999000 ? "CustomerNotSubscribed" : "Unprocessed";
}

static void metering_row(struct gen *g, struct out *o, struct rng *r, struct stream *st,
			 int64_t hour_ts, uint64_t n)
{
	int64_t q = rng_range(r, 0, st->qty_hi);
	const char *status = metering_status(r);
	out_row_begin(o);
	put_str(o, "mr-");
	uint64_t h = hash3(g->seed, 3, n); /* a bijection of n: unique ids */
	static const char hex[] = "0123456789abcdef";
	for (int k = 60; k >= 0; k -= 4)
		put_ch(o, hex[(h >> k) & 15]);
	put_ch(o, ',');
	put_ts(o, hour_ts);
	put_ch(o, ',');
	put_acc(o, buyer_account(st->customer));
	put_id(o, ",pc", st->product, 5);
	put_ch(o, ',');
	put_str(o, DIMENSIONS[st->dim].name);
	put_ch(o, ',');
	put_u64(o, (uint64_t)q);
	put_ch(o, ',');
	put_str(o, status);
	put_ch(o, ',');
	if (st->has_agreement)
		put_id(o, "agmt-", st->offer, 6);
	put_ch(o, ',');
	put_ts(o, hour_ts + 3600 + rng_range(r, 0, 1799));
	out_row_end(o);
	if (status[0] == 'S') {
		st->qty_success += q;
		if (g->daily)
			g->daily[(size_t)(st - g->streams) * (size_t)g->ndays +
				 (size_t)((hour_ts - g->month_start) / DAY_S)] += q;
	}
}

/* Hour by hour, every stream emits `per` records until --metering rows are written. */
static void metering_write(struct gen *g, const char *dir)
{
	struct out o;
	struct rng r;
	rng_init(&r, g->seed, 2);
	out_open(&o, dir, "metering.csv",
		 "metering_record_id,timestamp,customer_aws_account_id,product_code,dimension,quantity,"
		 "status,agreement_id,submitted_at");
	uint64_t hours = (uint64_t)g->ndays * 24, n = 0;
	uint64_t per = g->n_streams ? (g->metering + hours * g->n_streams - 1) / (hours * g->n_streams) : 0;
	for (uint64_t h = 0; h < hours && n < g->metering; h++)
		for (uint32_t s = 0; s < g->n_streams && n < g->metering; s++)
			for (uint64_t k = 0; k < per && n < g->metering; k++, n++)
				metering_row(g, &o, &r, &g->streams[s], g->month_start + (int64_t)h * 3600, n);
	out_close(&o);
}

/* The marketplace's daily usage feed (SDDS.md dailyusagefeed_v1): one row per stream with an offer
 * and day with Success usage, recorded by the seller of record; delivered the next day. */
static void daily_usage_write(struct gen *g, const char *dir)
{
	struct out o;
	out_open(&o, dir, "dailyusagefeed.csv",
		 "usage_feed_id,usage_date,recipient_account_id,payer_account_id,end_user_account_id,"
		 "product_id,offer_id,agreement_id,dimension_key,usage_unit,usage_quantity,region,"
		 "charge_item_description,pricing_currency,usage_rate_per_unit_in_pricing_currency,"
		 "estimated_revenue_in_pricing_currency,catalog,valid_from,insert_date,update_date,delete_date");
	uint64_t n = 0;
	for (uint32_t s = 0; s < g->n_streams; s++) {
		const struct stream *st = &g->streams[s];
		if (st->offer == NO_PARTY)
			continue; /* no offer: the marketplace records nothing */
		const struct offer *f = &g->offers[st->offer];
		for (int d = 0; d < g->ndays; d++) {
			int64_t q = g->daily[(size_t)s * (size_t)g->ndays + (size_t)d];
			if (q == 0)
				continue;
			int64_t day_ts = g->month_start + (int64_t)d * DAY_S;
			out_row_begin(&o);
			put_id(&o, "uf-", ++n, 10);
			put_ch(&o, ',');
			put_ts(&o, day_ts);
			put_ch(&o, ',');
			put_acc(&o, party_account(g, offer_seller(f)));
			put_ch(&o, ',');
			put_acc(&o, buyer_account(st->customer));
			put_ch(&o, ',');
			put_acc(&o, buyer_account(st->customer));
			put_id(&o, ",prod-", st->product, 5);
			put_id(&o, ",offer-", st->offer, 6);
			put_id(&o, ",agmt-", st->offer, 6);
			put_ch(&o, ',');
			put_str(&o, DIMENSIONS[st->dim].name);
			put_str(&o, ",Units,");
			put_u64(&o, (uint64_t)q);
			put_str(&o, ",us-east-1,");
			put_str(&o, DIMENSIONS[st->dim].name);
			put_str(&o, " usage,");
			put_str(&o, CURRENCIES[f->cur].code);
			put_ch(&o, ',');
			put_fixed(&o, st->price_micros, 6, CURRENCIES[f->cur].digits);
			put_ch(&o, ',');
			put_fixed(&o, q * st->price_micros, 6, CURRENCIES[f->cur].digits);
			put_str(&o, ",AWSMarketplace,");
			put_ts(&o, day_ts + DAY_S + 3600);
			put_ch(&o, ',');
			put_ts(&o, day_ts + DAY_S + 3600);
			put_str(&o, ",,");
			out_row_end(&o);
		}
	}
	out_close(&o);
}

/* ---------------------------------------------------------------- billing events */

enum action { ACT_INVOICED, ACT_FORGIVEN, ACT_DISBURSED };
static const char *const ACTION_NAMES[] = { "INVOICED", "FORGIVEN", "DISBURSED" };

enum ttype {
	TT_REV, TT_FEE, TT_TAX, TT_AWS_TAX, /* + TT_REFUND for the _REFUND types */
	TT_REFUND = 4,
	TT_BALANCE_ADJUSTMENT = 8, TT_DISBURSEMENT, TT_DISBURSEMENT_FAILURE
};
static const char *const TTYPE_NAMES[] = {
	"SELLER_REV_SHARE", "AWS_REV_SHARE", "SELLER_TAX_SHARE", "AWS_TAX_SHARE",
	"SELLER_REV_SHARE_REFUND", "AWS_REV_SHARE_REFUND", "SELLER_TAX_SHARE_REFUND",
	"AWS_TAX_SHARE_REFUND", "BALANCE_ADJUSTMENT", "DISBURSEMENT", "DISBURSEMENT_FAILURE",
};

enum terms { TERMS_NONE, TERMS_MATCH, TERMS_FULL };

struct row {
	const char *id_prefix, *parent_prefix;
	uint64_t id, parent;          /* parent 0: none */
	int64_t amount;               /* minor units of cur */
	int64_t invoice_ts, valid_ts, update_ts, due_ts; /* −1: empty */
	uint64_t recipient, from, to, end_user, trace;
	int64_t payout;               /* disbursement_billing_event_id as a payout index; −1 none */
	uint32_t party;               /* recipient as a party index */
	uint8_t cur, action, type, buying, terms, usage, invoice, version2;
};

/* The strings a charge's rows share, and its rows until written. */
struct charge {
	uint64_t ref;
	const char *ref_prefix;
	char agmt[24], offer[24], product[24];      /* as the seller of record's rows carry them */
	char agmt_full[24], offer_full[24];         /* as the ISV's side carries them */
	uint8_t cur;
	struct row rows[CHARGE_ROWS_MAX];
	int n;
};

/* What one charge (or its state after a refund) amounts to. */
struct amounts {
	int64_t b, f, t, x, w; /* revenue, listing fee, seller tax, marketplace tax, wholesale */
};

enum slot { SLOT_REV, SLOT_BUY, SLOT_FEE, SLOT_TAX, SLOT_XTAX, SLOT_ISV, SLOT_COUNT };

static struct row *charge_add(struct gen *g, struct charge *c, uint32_t party, int action,
			      int type, int64_t amount, int64_t ts)
{
	ASSERT(c->n < CHARGE_ROWS_MAX);
	ASSERT(amount > -AMOUNT_MAX && amount < AMOUNT_MAX);
	struct row *w = &c->rows[c->n++];
	memset(w, 0, sizeof *w);
	w->id_prefix = "be-";
	w->id = ++g->next_event;
	w->party = party;
	w->recipient = party_account(g, party);
	w->action = (uint8_t)action;
	w->type = (uint8_t)type;
	w->amount = amount;
	w->cur = c->cur;
	w->invoice_ts = ts;
	w->valid_ts = ts + 3 * 3600;
	w->update_ts = -1;
	w->due_ts = action == ACT_INVOICED ? ts + 30 * DAY_S : -1;
	w->payout = -1;
	return w;
}

/* The rows of amounts a: the charge types (refund 0) or their _REFUND types (refund 1), with
 * parents from orig[]; zero amounts make no row. Cost of goods and the ISV's side for CPPO. */
static void charge_add_set(struct gen *g, struct charge *c, const struct offer *o, int action,
			   int refund, const struct amounts *a, int64_t ts, uint64_t orig[SLOT_COUNT],
			   uint64_t buyer)
{
	static const int slot_type[SLOT_COUNT] = { TT_REV, TT_REV, TT_FEE, TT_TAX, TT_AWS_TAX, TT_REV };
	const int64_t amount[SLOT_COUNT] = { a->b, -a->w, a->f, a->t, a->x, a->w };
	uint32_t sor = offer_seller(o);
	for (int s = 0; s < SLOT_COUNT; s++) {
		if (amount[s] == 0)
			continue;
		int type = slot_type[s] + (refund ? TT_REFUND : 0);
		struct row *w = charge_add(g, c, s == SLOT_ISV ? o->isv : sor, action, type, amount[s], ts);
		w->terms = s == SLOT_ISV ? TERMS_FULL : TERMS_MATCH;
		w->from = s == SLOT_BUY || s == SLOT_ISV ? party_account(g, o->reseller)
			: s == SLOT_FEE ? party_account(g, sor) : buyer;
		w->to = s == SLOT_BUY || s == SLOT_ISV ? party_account(g, o->isv)
			: s == SLOT_FEE ? ACC_AWS : party_account(g, sor);
		w->end_user = s == SLOT_REV ? buyer : ACC_NONE;
		w->buying = s == SLOT_BUY;
		w->invoice = s == SLOT_REV || s == SLOT_TAX || s == SLOT_XTAX;
		if (orig[s] && (refund || action == ACT_FORGIVEN)) {
			w->parent_prefix = "be-";
			w->parent = orig[s];
		} else if (!refund && action == ACT_INVOICED) {
			orig[s] = w->id;
		}
	}
}

/* The amounts of a charge of buyer price b: fee and taxes rounded once, wholesale by the split. */
static struct amounts amounts_of(const struct offer *o, int64_t b, int32_t fee_e4, int32_t stax_e4,
				 int32_t xtax_e4)
{
	struct amounts a = { .b = b };
	a.f = -mul_pct(b, fee_e4);
	a.t = mul_pct(b, stax_e4);
	a.x = mul_pct(b, xtax_e4);
	if (o->split == SPLIT_MARKUP) /* b = W × (1 + markup) → W = b / (1 + markup) */
		a.w = div_round(b * 1000000, 1000000 + o->split_e4);
	else if (o->split == SPLIT_SHARE)
		a.w = mul_pct(b, o->split_e4);
	return a;
}

static struct amounts amounts_sub(const struct amounts *x, const struct amounts *y)
{
	struct amounts d = { x->b - y->b, x->f - y->f, x->t - y->t, x->x - y->x, x->w - y->w };
	return d;
}

static void charge_init(struct gen *g, struct charge *c, const struct offer *o, uint32_t index,
			int mode)
{
	c->n = 0;
	c->ref = ++g->next_ref;
	c->ref_prefix = "tr-";
	c->cur = o->cur;
	snprintf(c->agmt_full, sizeof c->agmt_full, "agmt-%06" PRIu32, index);
	snprintf(c->offer_full, sizeof c->offer_full, "offer-%06" PRIu32, index);
	snprintf(c->product, sizeof c->product, "prod-%05" PRIu32, o->product);
	c->agmt[0] = c->offer[0] = '\0';
	if (mode == 1) /* M1 */
		memcpy(c->agmt, c->agmt_full, sizeof c->agmt);
	if (mode <= 2) /* M2 (and M1 rows carry the offer too) */
		memcpy(c->offer, c->offer_full, sizeof c->offer);
	if (mode == 0) { /* NO_OFFER: an agreement, offer and product settle has never seen */
		snprintf(c->agmt, sizeof c->agmt, "agmt-x%07" PRIu64, c->ref);
		snprintf(c->offer, sizeof c->offer, "offer-x%07" PRIu64, c->ref);
		snprintf(c->product, sizeof c->product, "prod-x%07" PRIu64, c->ref);
		memcpy(c->agmt_full, c->agmt, sizeof c->agmt);
		memcpy(c->offer_full, c->offer, sizeof c->offer);
	}
}

static struct payout *payout_slot(struct gen *g, uint32_t party, int cur, int slot, int64_t *index)
{
	*index = ((int64_t)party * CUR_N + cur) * SLOT_N + slot;
	struct payout *p = &g->payouts[*index];
	if (p->lines == 0)
		g->n_payouts_used++;
	return p;
}

static int64_t slot_ts(const struct gen *g, int slot)
{
	return g->month_start + (SLOT_DAYS[slot] - 1) * DAY_S + 6 * 3600;
}

/* Pays the charge's rows at the first payout day on or after collect_ts, if the month has one. */
static void charge_disburse(struct gen *g, struct charge *c, int64_t collect_ts)
{
	int slot = 0;
	while (slot < SLOT_N && slot_ts(g, slot) < collect_ts)
		slot++;
	if (slot == SLOT_N)
		return;
	int n = c->n;
	for (int i = 0; i < n; i++) {
		const struct row w = c->rows[i];
		if (w.action == ACT_DISBURSED || w.version2 || w.type % TT_REFUND == TT_AWS_TAX)
			continue;
		int64_t index;
		struct payout *p = payout_slot(g, w.party, w.cur, slot, &index);
		struct row *l = charge_add(g, c, w.party, ACT_DISBURSED, w.type, -w.amount, slot_ts(g, slot));
		l->valid_ts = l->invoice_ts;
		l->buying = w.buying;
		l->payout = index;
		p->amount += w.amount; /* the payout is −Σ lines */
		p->lines++;
	}
}

static void row_write(struct gen *g, const struct charge *c, const struct row *w)
{
	struct out *o = &g->ev;
	out_row_begin(o);
	put_id(o, w->id_prefix, w->id, 9);
	put_ch(o, ',');
	put_acc(o, w->recipient);
	put_ch(o, ',');
	put_ts(o, w->valid_ts);
	put_ch(o, ',');
	put_ts(o, w->valid_ts);
	put_ch(o, ',');
	put_ts(o, w->update_ts);
	put_ch(o, ',');
	put_acc(o, w->from);
	put_ch(o, ',');
	put_acc(o, w->to);
	put_ch(o, ',');
	put_acc(o, w->end_user);
	put_ch(o, ',');
	if (c && w->terms != TERMS_NONE) {
		int full = w->terms == TERMS_FULL;
		put_str(o, c->product);
		put_ch(o, ',');
		put_str(o, full ? c->agmt_full : c->agmt);
		put_ch(o, ',');
		put_str(o, full ? c->offer_full : c->offer);
	} else {
		put_str(o, ",,");
	}
	put_ch(o, ',');
	put_str(o, ACTION_NAMES[w->action]);
	put_ch(o, ',');
	put_str(o, TTYPE_NAMES[w->type]);
	put_ch(o, ',');
	if (w->parent)
		put_id(o, w->parent_prefix, w->parent, 9);
	put_ch(o, ',');
	if (w->payout >= 0)
		put_id(o, "dsb-", (uint64_t)w->payout, 9);
	put_str(o, w->type % TT_REFUND == TT_AWS_TAX && w->type < TT_BALANCE_ADJUSTMENT ? ",0," : ",1,");
	put_amount(o, w->amount, CURRENCIES[w->cur].digits);
	put_ch(o, ',');
	put_str(o, CURRENCIES[w->cur].code);
	put_ch(o, ',');
	put_ts(o, w->invoice_ts);
	put_ch(o, ',');
	put_ts(o, w->due_ts);
	put_ch(o, ',');
	if (w->usage) {
		put_ts(o, g->month_start);
		put_ch(o, ',');
		put_ts(o, g->month_end - 1);
	} else {
		put_ch(o, ',');
	}
	put_ch(o, ',');
	if (c && w->invoice)
		put_id(o, "inv-", c->ref, 9);
	put_str(o, w->buying ? ",BUYING," : ",,");
	if (c) {
		put_str(o, c->ref_prefix);
		put_u64w(o, c->ref, 9);
	}
	put_ch(o, ',');
	if (w->trace)
		put_id(o, "TRC", w->trace, 10);
	out_row_end(o);
}

static void charge_write(struct gen *g, const struct charge *c)
{
	for (int i = 0; i < c->n; i++)
		row_write(g, c, &c->rows[i]);
}

/* 0.3 % of revenue rows get a corrected second version: same id and amount, later valid_from. */
static void maybe_version(struct charge *c, struct rng *r)
{
	if (!rng_ppm(r, 3000) || c->n == 0 || c->rows[0].type != TT_REV)
		return;
	ASSERT(c->n < CHARGE_ROWS_MAX);
	struct row *v = &c->rows[c->n++];
	*v = c->rows[0];
	v->valid_ts += rng_range(r, 1, 5) * DAY_S;
	v->update_ts = v->valid_ts;
	v->due_ts += 15 * DAY_S;
	v->version2 = 1;
}

/* Which offer rule the rows let settle use: 1 M1, 2 M2, 3 M3; 0 no offer at all. */
static int match_mode(struct rng *r, const struct offer *o)
{
	if (rng_ppm(r, 1000))
		return 0;
	if (o->expired)
		return 1;
	int64_t roll = rng_range(r, 0, 99);
	return roll < 92 ? 1 : roll < 96 ? 2 : 3;
}

static void charge_contract(struct gen *g)
{
	struct rng *r = &g->r;
	uint32_t index = (uint32_t)rng_range(r, 0, g->n_contract - 1);
	const struct offer *o = &g->offers[index];
	struct charge c;
	charge_init(g, &c, o, index, match_mode(r, o));
	if (rng_ppm(r, 500)) /* CURRENCY_MISMATCH: billed in another currency than the offer's */
		c.cur = (uint8_t)((o->cur + 1) % CUR_N);
	int64_t day = rng_range(r, 0, g->ndays - 1);
	int64_t ts = g->month_start + day * DAY_S + rng_range(r, 0, DAY_S - 1);
	int64_t b = price_contract(r, c.cur);
	if (o->split == SPLIT_MARKUP) /* the ISV's wholesale is the round price */
		b = mul_pct(b, 1000000 + o->split_e4);
	int32_t fee_e4 = o->fee_e4 + (rng_ppm(r, 2000) ? 5000 : 0); /* FEE_VARIANCE when off */
	int32_t stax_e4 = rng_ppm(r, 250000) ? PICK(r, SELLER_TAX_E4) : 0;
	int32_t xtax_e4 = rng_ppm(r, 550000) ? PICK(r, AWS_TAX_E4) : 0;
	struct amounts a0 = amounts_of(o, b, fee_e4, stax_e4, xtax_e4);
	int split_off = o->split != SPLIT_DIRECT && rng_ppm(r, 2000); /* SPLIT_VARIANCE */
	if (split_off)
		a0.w += mul_pct(a0.w, 10000);
	uint64_t buyer = buyer_account(o->buyer);
	uint64_t orig[SLOT_COUNT] = { 0 };
	charge_add_set(g, &c, o, ACT_INVOICED, 0, &a0, ts, orig, buyer);
	maybe_version(&c, r);
	int64_t last_ts = ts;
	int collectable = 1;
	if (!split_off && rng_ppm(r, 30000)) { /* refund: part (75 %) or all of the price */
		int64_t b1 = rng_ppm(r, 750000) ? b - mul_pct(b, rng_range(r, 5, 60) * 10000) : 0;
		struct amounts a1 = amounts_of(o, b1, fee_e4, stax_e4, xtax_e4);
		struct amounts d = amounts_sub(&a1, &a0);
		last_ts = ts + rng_range(r, 1, 9) * DAY_S;
		if (last_ts >= g->month_end)
			last_ts = g->month_end - 3600;
		charge_add_set(g, &c, o, ACT_INVOICED, 1, &d, last_ts, orig, buyer);
		collectable = b1 != 0; /* a full refund leaves nothing to pay out */
	} else if (o->split == SPLIT_DIRECT && rng_ppm(r, 3000)) { /* forgiven: nothing to pay */
		struct amounts zero = { 0 };
		struct amounts d = amounts_sub(&zero, &a0);
		last_ts = ts + rng_range(r, 1, 20) * DAY_S;
		charge_add_set(g, &c, o, ACT_FORGIVEN, 0, &d, last_ts, orig, buyer);
		collectable = 0;
	}
	if (collectable && rng_ppm(r, 880000))
		charge_disburse(g, &c, last_ts + rng_range(r, 3, 12) * DAY_S);
	charge_write(g, &c);
}

/* A lone BALANCE_ADJUSTMENT from the marketplace for some seller: reported, never allocated. */
static void charge_balance_adjustment(struct gen *g)
{
	struct rng *r = &g->r;
	struct charge c;
	memset(&c, 0, sizeof c);
	c.ref = ++g->next_ref;
	c.ref_prefix = "ba-";
	c.cur = (uint8_t)pick_currency(r);
	uint32_t party = (uint32_t)rng_range(r, 0, g->n_isv + g->n_res - 1);
	int64_t minor = rng_range(r, 1, 500) * POW10[CURRENCIES[c.cur].digits];
	int64_t ts = g->month_start + rng_range(r, 0, g->ndays * DAY_S - 1);
	struct row *w = charge_add(g, &c, party, ACT_INVOICED, TT_BALANCE_ADJUSTMENT,
				   rng_ppm(r, 500000) ? minor : -minor, ts);
	w->from = ACC_AWS;
	w->to = w->recipient;
	charge_write(g, &c);
}

/* One usage charge per billed USAGE offer: a revenue row per dimension, fee and taxes on the
 * total; invoiced on the month's last day for the whole month (usage_period_*). */
static void charge_usage(struct gen *g, uint32_t index)
{
	struct rng *r = &g->r;
	const struct offer *o = &g->offers[index];
	uint64_t h = hash3(g->seed, 4, index) % 1000;
	if (h < 10) /* UNBILLED_USAGE */
		return;
	struct charge c;
	charge_init(g, &c, o, index, 1);
	c.ref_prefix = "tu-";
	int64_t ts = g->month_end - 2 * 3600;
	int64_t b = 0, unit = POW10[6 - CURRENCIES[o->cur].digits];
	uint64_t buyer = buyer_account(o->buyer);
	for (int k = 0; k < o->ndims; k++) {
		const struct stream *st = &g->streams[o->stream0 + k];
		ASSERT(st->qty_success < INT64_C(4000000000000000000) / (st->price_micros + 1));
		int64_t amt = div_round(st->qty_success * st->price_micros, unit);
		if (k == 0 && h < 30) /* METERING_VARIANCE: billed from a snapshot missing 3 % */
			amt -= mul_pct(amt, 30000);
		if (amt == 0)
			continue;
		struct row *w = charge_add(g, &c, offer_seller(o), ACT_INVOICED, TT_REV, amt, ts);
		w->terms = TERMS_MATCH;
		w->from = buyer;
		w->to = w->recipient;
		w->end_user = buyer;
		w->usage = 1;
		w->invoice = 1;
		b += amt;
	}
	if (b == 0)
		return;
	int32_t stax_e4 = rng_ppm(r, 250000) ? PICK(r, SELLER_TAX_E4) : 0;
	int32_t xtax_e4 = rng_ppm(r, 550000) ? PICK(r, AWS_TAX_E4) : 0;
	struct amounts a = amounts_of(o, b, o->fee_e4, stax_e4, xtax_e4);
	a.b = 0; /* the revenue rows are above, one per dimension */
	uint64_t orig[SLOT_COUNT] = { 0 };
	charge_add_set(g, &c, o, ACT_INVOICED, 0, &a, ts, orig, buyer);
	for (int i = 0; i < c.n; i++) /* the seller of record's rows; the ISV's side is not usage */
		c.rows[i].usage = c.rows[i].party == offer_seller(o);
	charge_write(g, &c);
}

/* Payouts, their failures and the bank statement, after every line is known. */
static void payouts_write(struct gen *g, const char *dir)
{
	struct out dep;
	out_open(&dep, dir, "bank_deposits.csv",
		 "deposit_id,account_id,value_date,amount,currency,bank_trace_id,reference");
	uint32_t parties = g->n_isv + g->n_res;
	uint64_t n_dep = 0;
	for (int64_t i = 0; i < (int64_t)parties * CUR_N * SLOT_N; i++) {
		const struct payout *p = &g->payouts[i];
		if (p->lines == 0)
			continue;
		uint32_t party = (uint32_t)(i / (CUR_N * SLOT_N));
		int cur = (int)(i / SLOT_N % CUR_N), digits = CURRENCIES[cur].digits;
		uint64_t h = hash3(g->seed, 5, (uint64_t)i);
		int failed = h % 1000 < 15, mode = (int)((h >> 10) % 1000);
		uint64_t trace = mode < 880 || mode >= 960 ? hash3(g->seed, 6, (uint64_t)i) % 10000000000u : 0;
		struct charge c = { .cur = (uint8_t)cur };
		int64_t ts = slot_ts(g, (int)(i % SLOT_N));
		struct row *w = charge_add(g, &c, party, ACT_DISBURSED, TT_DISBURSEMENT, p->amount, ts);
		w->id_prefix = "dsb-";
		w->id = (uint64_t)i;
		w->from = ACC_AWS;
		w->trace = trace;
		if (failed) {
			w = charge_add(g, &c, party, ACT_DISBURSED, TT_DISBURSEMENT_FAILURE, -p->amount, ts + 2 * DAY_S);
			w->id_prefix = "dsf-";
			w->id = (uint64_t)i;
			w->parent_prefix = "dsb-";
			w->parent = (uint64_t)i;
			w->from = ACC_AWS;
		}
		for (int k = 0; k < c.n; k++)
			row_write(g, NULL, &c.rows[k]);
		if (failed || p->amount <= 0 || (mode >= 960 && mode < 985)) /* DEPOSIT_MISSING */
			continue;
		int64_t fee = mode >= 985 ? 15 * CURRENCIES[cur].per_usd_pct / 100 * POW10[digits] : 0;
		out_row_begin(&dep);
		put_id(&dep, "dep-", ++n_dep, 8);
		put_ch(&dep, ',');
		put_acc(&dep, party_account(g, party));
		put_ch(&dep, ',');
		put_day(&dep, ts + (int64_t)(h >> 20) % 3 * DAY_S + DAY_S);
		put_ch(&dep, ',');
		put_amount(&dep, p->amount > fee ? p->amount - fee : p->amount, digits);
		put_ch(&dep, ',');
		put_str(&dep, CURRENCIES[cur].code);
		put_ch(&dep, ',');
		if (trace)
			put_id(&dep, "TRC", trace, 10);
		put_str(&dep, trace ? ",AWS MARKETPLACE DISBURSEMENT" : ",AWS EMEA SARL MKTPL");
		out_row_end(&dep);
	}
	/* Bank lines no payout explains: interest, customer wires (DEPOSIT_UNMATCHED). */
	struct rng r;
	rng_init(&r, g->seed, 7);
	for (uint32_t k = 0; k < (g->n_payouts_used + 99) / 100; k++) {
		int cur = pick_currency(&r);
		out_row_begin(&dep);
		put_id(&dep, "dep-", ++n_dep, 8);
		put_ch(&dep, ',');
		put_acc(&dep, party_account(g, (uint32_t)rng_range(&r, 0, parties - 1)));
		put_ch(&dep, ',');
		put_day(&dep, g->month_start + rng_range(&r, 0, g->ndays - 1) * DAY_S);
		put_ch(&dep, ',');
		put_amount(&dep, rng_range(&r, 1, 5000000) * POW10[CURRENCIES[cur].digits] / 100, CURRENCIES[cur].digits);
		put_ch(&dep, ',');
		put_str(&dep, CURRENCIES[cur].code);
		put_str(&dep, rng_ppm(&r, 500000) ? ",,INTEREST CREDIT" : ",,INCOMING WIRE CUSTOMER");
		out_row_end(&dep);
	}
	out_close(&dep);
}

static void billing_write(struct gen *g, const char *dir)
{
	rng_init(&g->r, g->seed, 4);
	out_open(&g->ev, dir, "billing_event.csv",
		 "billing_event_id,recipient_account_id,valid_from,insert_date,update_date,"
		 "from_account_id,to_account_id,end_user_account_id,product_id,agreement_id,offer_id,"
		 "action,transaction_type,parent_billing_event_id,disbursement_billing_event_id,"
		 "balance_impacting,amount,currency,invoice_date,payment_due_date,"
		 "usage_period_start_date,usage_period_end_date,invoice_id,charge_side,"
		 "transaction_reference_id,bank_trace_id");
	for (uint32_t i = g->n_contract; i < g->n_offers; i++)
		charge_usage(g, i);
	/* contract charges until the rows, with the payouts still to come, reach --events */
	while (g->ev.rows + g->n_payouts_used + g->n_payouts_used / 64 < g->events) {
		if (rng_ppm(&g->r, 1000))
			charge_balance_adjustment(g);
		else
			charge_contract(g);
	}
	payouts_write(g, dir);
	out_close(&g->ev);
}

/* ---------------------------------------------------------------- command line */

static void usage(FILE *f)
{
	fprintf(f, "usage: gen --seed N --events N --metering N --period YYYY-MM --out DIR [--daily-usage 1]\n"
		   "  writes DIR/offers.csv, offer_dimensions.csv, billing_event.csv, metering.csv,\n"
		   "  bank_deposits.csv (and with --daily-usage 1 dailyusagefeed.csv, the marketplace's\n"
		   "  recorded usage matching the metering log); same arguments, same bytes\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_period(const char *s, int *year, int *month)
{
	if (!s || strlen(s) != 7 || s[4] != '-')
		return -1;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return -1;
	*year = atoi(s);
	*month = (s[5] - '0') * 10 + (s[6] - '0');
	return *year >= 1971 && *month >= 1 && *month <= 12 ? 0 : -1;
}

static void gen_size(struct gen *g)
{
	uint64_t contract = g->events / 100;
	g->n_contract = (uint32_t)(contract < 20 ? 20 : contract > 50000 ? 50000 : contract);
	uint64_t hours = (uint64_t)g->ndays * 24;
	uint64_t streams = (g->metering + hours - 1) / hours;
	g->n_streams = (uint32_t)(streams > 60000 ? 60000 : streams);
	uint32_t n = (g->n_contract + g->n_streams / 2) / 25;
	g->n_isv = n < 3 ? 3 : n > 5000 ? 5000 : n;
	g->n_res = g->n_isv / 5 < 2 ? 2 : g->n_isv / 5;
	g->offers = calloc((size_t)g->n_contract + g->n_streams + 1, sizeof *g->offers);
	g->streams = calloc((size_t)g->n_streams + 1, sizeof *g->streams);
	g->payouts = calloc((size_t)(g->n_isv + g->n_res) * CUR_N * SLOT_N, sizeof *g->payouts);
	if (!g->offers || !g->streams || !g->payouts) {
		fprintf(stderr, "gen: out of memory\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct gen g = { .seed = 42, .events = 1000000, .metering = 5000000 };
	const char *out_dir = NULL, *period = "2026-10";
	for (int i = 1; i < argc; i += 2) { /* every option takes one value */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--seed")) {
			bad = parse_u64(v, UINT64_MAX, &g.seed);
		} else if (!strcmp(a, "--events")) {
			bad = parse_u64(v, UINT64_C(1000000000), &g.events);
		} else if (!strcmp(a, "--metering")) {
			bad = parse_u64(v, UINT64_C(2000000000), &g.metering);
		} else if (!strcmp(a, "--period")) {
			period = v;
		} else if (!strcmp(a, "--out")) {
			out_dir = v;
		} else if (!strcmp(a, "--daily-usage")) {
			uint64_t on;
			bad = parse_u64(v, 1, &on);
			g.daily_usage = !bad && on;
		} else {
			fprintf(stderr, "gen: unknown option \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
		if (bad || !v) {
			fprintf(stderr, "gen: option \"%s\" needs a valid value\n", a);
			return 2;
		}
	}
	int year, month;
	if (!out_dir || parse_period(period, &year, &month) != 0) {
		usage(stderr);
		return 2;
	}
	if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "gen: could not create directory \"%s\": %s\n", out_dir, strerror(errno));
		return 1;
	}
	g.month_start = days_from_civil(year, month, 1) * DAY_S;
	g.month_end = days_from_civil(month == 12 ? year + 1 : year, month % 12 + 1, 1) * DAY_S;
	g.ndays = (int)((g.month_end - g.month_start) / DAY_S);
	gen_size(&g);
	offers_make(&g);
	offers_write(&g, out_dir);
	dimensions_write(&g, out_dir);
	if (g.daily_usage) {
		g.daily = calloc((size_t)g.n_streams * (size_t)g.ndays + 1, sizeof *g.daily);
		if (!g.daily) {
			fprintf(stderr, "gen: out of memory\n");
			return 1;
		}
	}
	metering_write(&g, out_dir);
	if (g.daily)
		daily_usage_write(&g, out_dir);
	billing_write(&g, out_dir);
	fprintf(stderr, "gen: %" PRIu32 " offers (%" PRIu32 " usage), %" PRIu32 " sellers, %" PRIu64
		" billing events, %" PRIu32 " payouts, %" PRIu64 " metering records\n",
		g.n_offers, g.n_offers - g.n_contract, g.n_isv + g.n_res, g.ev.rows, g.n_payouts_used,
		g.metering);
	free(g.daily);
	free(g.offers);
	free(g.streams);
	free(g.payouts);
	return 0;
}
