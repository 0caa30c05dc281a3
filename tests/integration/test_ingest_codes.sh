#!/usr/bin/env bash
# Every rejection code of SPEC §5 on its own fixture: fixtures/ingest/codes/NAME.csv is ingested
# and its rejections ("line:column:code") and counts compared with NAME.expect.
set -u
. "$TOP/fixtures/ingest/lib.sh"
ingest_test_init ingest_codes

for csv in "$FIX"/codes/*.csv; do
	name=$(basename "$csv" .csv)
	expect="$FIX/codes/$name.expect"
	st ingest "$csv"
	id=$(last_file_id)
	got="exit=$rc $(q "SELECT 'loaded=' || rows_loaded || ' rejected=' || rows_rejected || ' file_rejected=' || CASE WHEN file_rejected THEN 't' ELSE 'f' END
	                  FROM settle.ingest_file WHERE file_id = ${id:-0}")"
	got="$got
$(rejections "${id:-0}")"
	want=$(cat "$expect")
	if [ "$got" = "$want" ]; then
		pass "$name"
	else
		fail "$name" "want: $(echo "$want" | tr '\n' ' ')" "got:  $(echo "$got" | tr '\n' ' ')" "$(head -c 600 "$WORK/out")"
	fi
done

# The ledger's SHA-256 is the file's, whether it was computed while loading, before (a file of a
# size seen before) or after a whole-file rejection.
bad=0
for csv in "$FIX"/codes/*.csv; do
	want=$(sha256sum "$csv" | cut -d' ' -f1)
	got=$(q "SELECT string_agg(DISTINCT sha256, ',') FROM settle.ingest_file WHERE file_name = '$(basename "$csv")'")
	[ "$want" = "$got" ] || { bad=1; echo "  $(basename "$csv"): $got, want $want"; }
done
check "sha256 of every file" "0" "$bad"

# Every code of SPEC §5 has a fixture above.
codes=$(q "SELECT string_agg(DISTINCT code, ' ' ORDER BY code) FROM settle.rejected_row")
for c in BAD_CSV MISSING_COLUMN FIELD_COUNT BAD_UTF8 NUL_BYTE FIELD_TOO_LONG MISSING_REQUIRED BAD_AMOUNT \
	AMOUNT_PRECISION AMOUNT_RANGE BAD_DATE BAD_ENUM BAD_CURRENCY BAD_PERCENT DUPLICATE_KEY_CONFLICT; do
	case " $codes " in *" $c "*) pass "covered $c" ;; *) fail "covered $c" "no fixture produced $c" ;; esac
done

# The message format of SPEC §7, one line per rejection.
st ingest "$FIX/codes/bad_amount.csv"
check "already ingested is a no-op" "0" "$rc"
grep -q 'already ingested on .* as file [0-9]*' "$WORK/out" && pass "no-op says so" || fail "no-op says so" "$(cat "$WORK/out")"
cp "$FIX/codes/bad_amount.csv" "$WORK/billing_event_2026-10.csv"
echo 'e7,111122223333,INVOICED,SELLER_REV_SHARE,5,USD,2026-10-06,tr-7' >>"$WORK/billing_event_2026-10.csv"
st ingest "$WORK/billing_event_2026-10.csv"
check "quarantine exits 4" "4" "$rc"
grep -qx 'settle: ingest: billing_event_2026-10.csv:3: amount: "12,50" is not a decimal number' "$WORK/out" \
	&& pass "message format" || fail "message format" "$(cat "$WORK/out")"
check "detail stored without the prefix" '"12,50" is not a decimal number' \
	"$(q "SELECT detail FROM settle.rejected_row WHERE file_id = $(last_file_id) AND line = 3")"
