/* escape.c — control bytes made visible (see escape.h). */
#include "escape.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at s[0..n) that is not a C1 control, or 0. s[0] >= 0x80. */
static size_t escape_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned int cp;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1Fu;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0Fu;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3Fu);
	}
	static const unsigned int min_of_len[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min_of_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp <= 0x9F)
		return 0; /* overlong, out of range, a surrogate, or a C1 control */
	return len;
}

/* The escape of byte c (not shown as itself) into out[0..5). Returns its length. */
static size_t escape_byte(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char named = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == 0x1B ? 'e' : 0;
	out[0] = '\\';
	if (named) {
		out[1] = named;
		return 2;
	}
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 15];
	return 4;
}

/* Calls put(arg, bytes, n, is_escape) for the escaped form of s[0..len): runs of bytes shown as
 * they are (whole UTF-8 sequences), and single escapes. */
static void escape_run(const char *s, size_t len, void (*put)(void *, const char *, size_t, int), void *arg)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t plain = 0; /* start of the run of bytes shown as they are */
	size_t i = 0;
	while (i < len) {
		size_t keep = 0;
		if (u[i] >= 0x20 && u[i] < 0x7F)
			keep = 1;
		else if (u[i] >= 0x80)
			keep = escape_utf8_len(u + i, len - i);
		if (keep) {
			i += keep;
			continue;
		}
		if (i > plain)
			put(arg, s + plain, i - plain, 0);
		char esc[5];
		put(arg, esc, escape_byte(u[i], esc), 1);
		plain = ++i;
	}
	if (len > plain)
		put(arg, s + plain, len - plain, 0);
}

static void escape_put_file(void *arg, const char *s, size_t n, int is_escape)
{
	(void)is_escape;
	fwrite(s, 1, n, arg);
}

void escape_fwrite(FILE *out, const char *s, size_t len)
{
	escape_run(s, len, escape_put_file, out);
}

struct escape_buf {
	char *buf;
	size_t cap, used;
	int full;
};

static void escape_put_buf(void *arg, const char *s, size_t n, int is_escape)
{
	struct escape_buf *b = arg;
	if (b->full)
		return;
	size_t room = b->cap - 1 - b->used;
	if (n > room) {
		/* Cut short: never half an escape, nor half a UTF-8 sequence. */
		b->full = 1;
		if (is_escape)
			return;
		while (room > 0 && ((unsigned char)s[room] & 0xC0) == 0x80)
			room--;
		n = room;
	}
	memcpy(b->buf + b->used, s, n);
	b->used += n;
}

const char *escape_text(char *buf, size_t cap, const char *s)
{
	if (cap == 0)
		return buf;
	struct escape_buf b = { buf, cap, 0, 0 };
	escape_run(s, strlen(s), escape_put_buf, &b);
	buf[b.used] = '\0';
	return buf;
}
