/* fuzz_csv_in.c — libFuzzer harness: csv_in reads the same records whatever path it takes.
 *
 * The input's first byte picks a chunk size and a read size; the rest is the file. It is read
 * three ways: (1) as ingest does, with the quote-free fast path; (2) through libcsv only; (3)
 * with the fast path, tiny chunks (4..67 bytes: every line longer than the chunk is sliced) and
 * a stream whose reads return 1..8 bytes. The three renderings (every record's lines, field
 * count, fields with their too-long marks, then EOF / INVALID with line and sentence) must be
 * byte-identical; any difference aborts. Memory and UB errors are the sanitizers'. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_in.h"

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *s, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap - b->len < n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

__attribute__((format(printf, 2, 3))) static void putf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[96];
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n);
}

/* A read-only stream over memory whose reads return at most `step` bytes. */
struct mem {
	const uint8_t *data;
	size_t size, pos, step;
};

static ssize_t mem_read(void *cookie, char *out, size_t n)
{
	struct mem *m = cookie;
	size_t left = m->size - m->pos;
	if (n > m->step)
		n = m->step;
	if (n > left)
		n = left;
	memcpy(out, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static void render(const uint8_t *data, size_t size, int libcsv_only, size_t chunk, size_t step, struct buf *b)
{
	struct mem m = { data, size, 0, step };
	cookie_io_functions_t io = { .read = mem_read };
	FILE *f = fopencookie(&m, "r", io);
	if (!f)
		abort();
	if (step < 4096)
		setvbuf(f, NULL, _IONBF, 0); /* short reads reach csv_in as they are */
	struct csv_in *r = csv_in_new(f);
	if (!r)
		abort();
	csv_in_set_libcsv_only(r, libcsv_only);
	if (chunk)
		csv_in_set_chunk_max(r, chunk);
	struct csv_in_record rec;
	struct err e;
	enum csv_in_status st;
	while ((st = csv_in_next(r, &rec, &e)) == CSV_IN_RECORD) {
		putf(b, "L%lld-%lld", (long long)rec.line, (long long)rec.line_end);
		putf(b, " t%d n%zu:", rec.terminated, rec.nfields);
		if (rec.nstored != (rec.nfields < CSV_IN_FIELDS_MAX ? rec.nfields : CSV_IN_FIELDS_MAX))
			abort();
		for (size_t i = 0; i < rec.nstored; i++) {
			const struct csv_in_field *fl = &rec.fields[i];
			if (fl->too_long && fl->len != 0)
				abort();
			if (!fl->too_long && fl->len > CSV_IN_FIELD_MAX)
				abort();
			putf(b, "[%d:%zu]", fl->too_long, fl->len);
			put(b, fl->ptr, fl->len);
		}
		put(b, "\n", 1);
	}
	if (st == CSV_IN_INVALID) {
		putf(b, "INVALID@%lld ", (long long)csv_in_invalid_line(r));
		put(b, csv_in_invalid_detail(r), strlen(csv_in_invalid_detail(r)));
	} else {
		put(b, st == CSV_IN_EOF ? "EOF" : "FAILED", st == CSV_IN_EOF ? 3 : 6);
	}
	csv_in_free(r);
	fclose(f);
}

static void differ(const char *what, const struct buf *a, const struct buf *b)
{
	fprintf(stderr, "fuzz_csv_in: %s differs\n--- fast path:\n%.*s\n--- %s:\n%.*s\n", what, (int)a->len, a->p, what,
		(int)b->len, b->p);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = 4 + (data[0] & 63), step = 1 + (data[0] >> 6) * 2 + (data[0] >> 7);
	data++, size--;
	struct buf fast = { 0 }, slow = { 0 }, small = { 0 };
	render(data, size, 0, 0, 1 << 20, &fast);
	render(data, size, 1, 0, 1 << 20, &slow);
	render(data, size, 0, chunk, step, &small);
	if (fast.len != slow.len || memcmp(fast.p, slow.p, fast.len) != 0)
		differ("libcsv path", &fast, &slow);
	if (fast.len != small.len || memcmp(fast.p, small.p, fast.len) != 0)
		differ("small-chunk reader", &fast, &small);
	free(fast.p), free(slow.p), free(small.p);
	return 0;
}
