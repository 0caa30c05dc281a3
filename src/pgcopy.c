/* pgcopy.c — PostgreSQL COPY formats (see pgcopy.h). */
#include "pgcopy.h"

#include <stdlib.h>
#include <string.h>

int copy_out_init(struct copy_out *c, size_t cap, copy_sink_fn sink, void *arg)
{
	memset(c, 0, sizeof *c);
	ASSERT(cap >= 64 * 1024);
	c->buf = malloc(cap);
	if (!c->buf)
		return -1;
	c->cap = cap;
	c->sink = sink;
	c->arg = arg;
	return 0;
}

void copy_out_release(struct copy_out *c)
{
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

void copy_out_drain(struct copy_out *c)
{
	if (c->len && !c->failed && c->sink(c->arg, c->buf, c->len, &c->err) < 0)
		c->failed = 1;
	c->len = 0;
}

void copy_out_header(struct copy_out *c)
{
	static const char sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0' };
	char *p = copy_out_room(c, 19);
	memcpy(p, sig, 11);
	copy_out_be32(p + 11, 0); /* flags: no OIDs */
	copy_out_be32(p + 15, 0); /* header extension length */
}

void copy_out_trailer(struct copy_out *c)
{
	char *p = copy_out_room(c, 2);
	p[0] = p[1] = (char)0xFF; /* int16 -1 */
}

void copy_out_raw(struct copy_out *c, const char *s, size_t len)
{
	while (len > 0) {
		size_t n = len < c->cap ? len : c->cap;
		memcpy(copy_out_room(c, n), s, n);
		s += n;
		len -= n;
	}
}

int copy_out_flush(struct copy_out *c, struct err *e)
{
	copy_out_drain(c);
	if (c->failed) {
		if (e)
			*e = c->err;
		return -1;
	}
	return 0;
}
