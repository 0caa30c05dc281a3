/* fuzz_feed.c — libFuzzer harness: header detection, binding and row validation of every feed
 * kind (feed.c), and the binary COPY encoding of each accepted row.
 *
 * The first byte picks the kind (0: recognised from the header, as ingest does without --kind;
 * else one of feed_kinds[]) and whether --recipient is given; the rest is the file. Checked
 * besides the sanitizers: detection is stable (binding with the detected kind gives the same
 * kind), a rejection always has a code and a sentence, every byte of an accepted row's values
 * is readable, and its COPY tuple encodes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "pgcopy.h"

static int discard(void *arg, const char *buf, size_t len, struct err *e)
{
	(void)arg, (void)buf, (void)len, (void)e;
	return 0;
}

static void check_reject(const struct feed_reject *rej)
{
	if (!rej->code || !rej->code[0] || !rej->detail[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned pick = data[0] & 0x7f;
	const char *recipient = data[0] & 0x80 ? "111122223333" : NULL;
	const struct feed_kind *kind = pick == 0 ? NULL : &feed_kinds[(pick - 1) % FEED_KINDS_N];
	data++, size--;
	FILE *f = size ? fmemopen((void *)data, size, "rb") : fopen("/dev/null", "rb");
	if (!f)
		abort();
	struct csv_in *r = csv_in_new(f);
	static struct feed_header h, h2;
	struct feed_value vals[FEED_COLUMNS_MAX];
	struct feed_reject rej;
	struct csv_in_record rec;
	struct err e;
	struct copy_out out;
	if (!r || copy_out_init(&out, 1 << 16, discard, NULL) < 0)
		abort();
	if (csv_in_next(r, &rec, &e) != CSV_IN_RECORD)
		goto done;
	const struct feed_kind *detected = feed_kind_detect(&rec);
	memset(&rej, 0, sizeof rej);
	if (feed_header_bind(&h, kind, &rec, recipient, &rej) < 0) {
		check_reject(&rej);
		goto done;
	}
	if (!kind && h.kind != detected)
		abort(); /* binding without a kind is detection */
	if (kind && h.kind != kind)
		abort();
	if (!kind && (feed_header_bind(&h2, detected, &rec, recipient, &rej) < 0 || h2.kind != h.kind))
		abort(); /* and binding with the detected kind agrees */
	csv_in_set_fields_max(r, h.nfields + 1);
	int64_t line = 0;
	copy_out_header(&out);
	while (csv_in_next(r, &rec, &e) == CSV_IN_RECORD) {
		memset(&rej, 0, sizeof rej);
		if (feed_row_validate(&h, &rec, vals, &rej) < 0) {
			check_reject(&rej);
			continue;
		}
		/* Every value's bytes must be readable (ASan checks each one): the record's bytes, a
		 * static (enum, default, --recipient, a normalised form) or the header's own storage. */
		volatile unsigned sum = 0;
		for (size_t c = 0; c < h.kind->ncols; c++)
			for (size_t k = 0; vals[c].present && vals[c].ptr && k < vals[c].len; k++)
				sum += (unsigned char)vals[c].ptr[k];
		(void)sum;
		feed_row_encode(&h, 1, ++line, vals, &out);
	}
	copy_out_trailer(&out);
	if (copy_out_flush(&out, &e) < 0)
		abort();
done:
	copy_out_release(&out);
	csv_in_free(r);
	fclose(f);
	return 0;
}
