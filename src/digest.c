/* digest.c — SHA-256 via libcrypto's EVP interface (see digest.h). */
#include "digest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

struct digest {
	EVP_MD_CTX *ctx; /* owned */
};

struct digest *digest_new(void)
{
	struct digest *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		digest_free(d);
		return NULL;
	}
	return d;
}

void digest_update(struct digest *d, const void *buf, size_t len)
{
	/* EVP_DigestUpdate only fails on a broken context: an invariant, not an input error. */
	int ok = EVP_DigestUpdate(d->ctx, buf, len);
	ASSERT(ok == 1);
}

void digest_final(struct digest *d, char hex[DIGEST_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok = EVP_DigestFinal_ex(d->ctx, md, &n);
	ASSERT(ok == 1 && n == DIGEST_HEX_LEN / 2);
	static const char digits[] = "0123456789abcdef";
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[DIGEST_HEX_LEN] = '\0';
	digest_free(d);
}

void digest_free(struct digest *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}

struct digest *digest_dup(const struct digest *d)
{
	struct digest *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->ctx = EVP_MD_CTX_new();
	if (!c->ctx || EVP_MD_CTX_copy_ex(c->ctx, d->ctx) != 1) {
		digest_free(c);
		return NULL;
	}
	return c;
}

int digest_file(const char *path, char hex[DIGEST_HEX_LEN + 1], struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, EXIT_FAILED, "could not open \"%s\": %s", path, strerror(errno));
	struct digest *d = digest_new();
	if (!d) {
		fclose(f);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	unsigned char buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		digest_update(d, buf, n);
	if (ferror(f)) {
		int saved = errno;
		digest_free(d);
		fclose(f);
		return err_set(e, EXIT_FAILED, "could not read \"%s\": %s", path, strerror(saved));
	}
	fclose(f);
	digest_final(d, hex);
	return 0;
}
