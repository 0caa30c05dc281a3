/* offer_terms_list.h — each offer's terms and where each came from (SPEC §3.2, issue 13), for
 * `settle status`.
 */
#ifndef SETTLE_OFFER_TERMS_LIST_H
#define SETTLE_OFFER_TERMS_LIST_H

#include <stdint.h>
#include <stdio.h>

#include "db.h"
#include "err.h"

/* Writes the "offer terms" section to out: per offer (and agreement) the terms reconcile uses at
 * now_us (the command's database clock: run_db_now_us), each with its source — the feed that gives it, settle's offer file (the offer's
 * row or its resale authorization's), both when they agree, or the default — and the offer's
 * OFFER_TERMS_CONFLICT / OFFER_INCOMPLETE problem. At most OFFER_TERMS_LIST_MAX offers, then how
 * many more. Reads only. */
#define OFFER_TERMS_LIST_MAX 50
#define USAGE_PRICES_LIST_MAX 200 /* usage price lines, then how many more */
int offer_terms_list(struct db *db, int64_t now_us, FILE *out, struct err *e);

#endif
