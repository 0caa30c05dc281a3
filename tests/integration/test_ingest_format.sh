#!/usr/bin/env bash
# Formats SPEC §3 accepts: the SPEC §9 billing file as LF, as BOM + CRLF without a final line end,
# with its columns reordered among unknown ones, and without recipient_account_id (--recipient):
# all four store the same rows. A mixed file loads its good rows beside the quarantined ones, with
# physical line numbers across blank lines and a quoted multi-line field. Command-line errors.
set -u
. "$TOP/fixtures/ingest/lib.sh"
ingest_test_init ingest_format
F=$FIX/format

# The stored content of one file, without file_id and line, in a fixed order.
content() {
	q "SELECT string_agg(t, E'\n' ORDER BY t) FROM (
	     SELECT (b.recipient_account_id, b.billing_event_id, b.action, b.transaction_type, b.amount_micros,
	             b.currency, b.invoice_date, b.transaction_reference_id, b.from_account_id, b.agreement_id,
	             b.product_id, b.charge_side, b.disbursement_billing_event_id, b.bank_trace_id)::text AS t
	     FROM settle.billing_event b WHERE b.file_id = $1) x"
}

st ingest "$F/spec9_lf.csv"
check "lf loads" "0 10" "$rc $(q "SELECT rows_loaded FROM settle.ingest_file WHERE file_id = $(last_file_id)")"
ref=$(content "$(last_file_id)")
check "amount in micros" "44018100000" "$(q "SELECT amount_micros FROM settle.billing_event WHERE billing_event_id = 'e1'")"
check "empty field is NULL" "t" "$(q "SELECT charge_side IS NULL FROM settle.billing_event WHERE billing_event_id = 'e1'")"
check "date without offset is UTC" "2026-10-05 00:00:00+00" \
	"$(q "SELECT invoice_date FROM settle.billing_event WHERE billing_event_id = 'e1'")"
check "line numbers" "2 11" "$(q "SELECT min(line) || ' ' || max(line) FROM settle.billing_event WHERE file_id = $(last_file_id)")"

st ingest "$F/spec9_bom_crlf.csv"
check "bom+crlf loads" "0" "$rc"
check "bom+crlf same rows" "$ref" "$(content "$(last_file_id)")"

st ingest "$F/spec9_reordered.csv"
check "reordered loads" "0" "$rc"
check "reordered same rows" "$ref" "$(content "$(last_file_id)")"
check "unknown columns: one warning" "1" "$(grep -c 'warning: spec9_reordered.csv: ignoring 2 unknown columns of a billing_event file: "note", "extra"' "$WORK/out")"

st ingest "$F/spec9_no_recipient.csv"
check "no recipient: file rejected" "4 MISSING_COLUMN recipient_account_id" \
	"$rc $(q "SELECT code || ' ' || column_name FROM settle.rejected_row WHERE file_id = $(last_file_id)")"
n=$(q "SELECT count(*) FROM settle.ingest_file")
st ingest "$F/spec9_no_recipient.csv"
check "rejected before, same command: a no-op" "0 1 $n" \
	"$rc $(grep -c 'already rejected whole on .* as file [0-9]*' "$WORK/out") $(q "SELECT count(*) FROM settle.ingest_file")"
st ingest --recipient 111122223333 "$F/spec9_no_recipient.csv"
check "--recipient: a rejected file can be retried" "0" "$rc"
check "--recipient same rows" "$ref" "$(content "$(last_file_id)")"
check "--recipient recorded" "111122223333" "$(q "SELECT recipient_account_id FROM settle.ingest_file WHERE file_id = $(last_file_id)")"
st ingest --recipient 111122223333 "$F/spec9_no_recipient.csv"
check "--recipient: then a no-op" "0 1" "$rc $(grep -c 'already ingested' "$WORK/out")"

# The same rows again, from four files: the current versions are still the ten of SPEC §9.
check "identical rows change nothing" "10 6232830000" \
	"$(q "SELECT count(*) || ' ' || sum(amount_micros) FROM settle.billing_event_asof(now())")"

# Same size, other bytes: hashed first (a file of that size is known), then loaded.
sed 's/44018.10/44018.11/' "$F/spec9_lf.csv" >"$WORK/same_size.csv"
st ingest "$WORK/same_size.csv"
check "same size, other content: loads" "0 10" "$rc $(q "SELECT rows_loaded FROM settle.ingest_file WHERE file_id = $(last_file_id)")"
check "same size: its own sha256" "$(sha256sum "$WORK/same_size.csv" | cut -d' ' -f1) $(sha256sum "$F/spec9_lf.csv" | cut -d' ' -f1)" \
	"$(q "SELECT string_agg(sha256, ' ' ORDER BY file_id DESC) FROM settle.ingest_file WHERE file_name IN ('same_size.csv', 'spec9_lf.csv')")"

# A mixed file: good rows load, bad ones are quarantined with their physical lines.
st ingest "$F/mixed.csv"
check "mixed exits 4" "4" "$rc"
id=$(last_file_id)
check "mixed counts" "7 3" "$(q "SELECT rows_loaded || ' ' || rows_rejected FROM settle.ingest_file WHERE file_id = $id")"
check "mixed rejections" "4:amount:BAD_AMOUNT 8:currency:BAD_CURRENCY 9:invoice_date:BAD_DATE" "$(rejections "$id" | tr '\n' ' ' | sed 's/ $//')"
check "mixed good lines" "2 3 6 10 11 12 13" "$(q "SELECT string_agg(line::text, ' ' ORDER BY line) FROM settle.billing_event WHERE file_id = $id")"
check "multi-line field kept" "agmt
-1" "$(q "SELECT agreement_id FROM settle.billing_event WHERE file_id = $id AND line = 6")"
check "rejection logged once each" "3" "$(grep -c '^settle: ingest: mixed.csv:[0-9]*: ' "$WORK/out")"

# --kind: names the kind; a file of another kind is then missing its columns.
st ingest --kind offer "$FIX/codes/bad_amount.csv"
check "--kind mismatch" "4 MISSING_COLUMN" "$rc $(q "SELECT code FROM settle.rejected_row WHERE file_id = $(last_file_id)")"

# Command line (SPEC §7): 2 usage, 1 failure before anything is loaded.
n=$(q "SELECT count(*) FROM settle.ingest_file")
st ingest
check "no files: usage" "2" "$rc"
st ingest --kind nonsense "$F/spec9_lf.csv"
check "bad --kind: usage" "2" "$rc"
grep -q 'unknown kind "nonsense" (known: billing_event (billingeventfeed_v1), offer, offer_dimension, metering, bank_deposit, accountfeed_v1, .*, dailyusagefeed_v1)' "$WORK/out" \
	&& pass "bad --kind lists kinds" || fail "bad --kind lists kinds" "$(cat "$WORK/out")"
st ingest --bogus "$F/spec9_lf.csv"
check "unknown option: usage" "2" "$rc"
st ingest "$F/spec9_lf.csv" "$WORK/missing.csv"
check "missing file: a usage error (SPEC v2 §7)" "2" "$rc"
check "missing file: nothing loaded" "$n" "$(q "SELECT count(*) FROM settle.ingest_file")"

# status lists files and rejected rows
st status
check "status exits 0" "0" "$rc"
grep -q 'mixed.csv:4: amount: "-40,757.50" is not a decimal number \[BAD_AMOUNT\]' "$WORK/out" \
	&& pass "status shows rejections" || fail "status shows rejections" "$(cat "$WORK/out")"
grep -Eq '^ +[0-9]+ +[0-9T:Z-]+ +billing_event +7 +0 +3 +mixed.csv$' "$WORK/out" \
	&& pass "status shows files" || fail "status shows files" "$(cat "$WORK/out")"
