#!/bin/sh
# Installs the Debian packages settle needs to build, test and run (when root), or prints the exact
# apt-get line to run (otherwise). Quiet when everything is there. LibreOffice (about 200 MB, half a
# minute to install) renders the workbook in test_xlsx_render.sh; Carlito is Calibri's metric twin,
# so that its pages lay out as Excel's would.
set -eu
pkgs="gcc make pkg-config libc6-dev libpq-dev libcsv-dev libxlsxwriter-dev libgsl-dev libssl-dev
      postgresql postgresql-client util-linux unzip python3 python3-openpyxl time clang
      libreoffice-calc-nogui poppler-utils fonts-crosextra-carlito"
# libFuzzer (make fuzz, tests/integration/test_fuzz.sh) ships in libclang-rt-N-dev, N being the
# version Debian's clang depends on; --no-install-recommends would leave it out.
clang_n=$(apt-cache depends clang 2>/dev/null | sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n 1)
[ -n "$clang_n" ] && pkgs="$pkgs libclang-rt-$clang_n-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "settle: installing missing Debian packages:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "settle: missing Debian packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
