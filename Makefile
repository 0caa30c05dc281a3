# settle — one flat Makefile (SPEC §7). `make` builds ./settle; `make test` runs every test tier;
# `make asan` runs the same tests with AddressSanitizer + UndefinedBehaviorSanitizer;
# `make demo` runs the nightly job on the bundled sample feeds; `make bench` runs the benchmarks.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=
CC      ?= cc

# Objects of one build flavour live under $(B); `make asan` re-enters with B=build/asan.
B        ?= build
SAN      ?=
OPT      ?= -O2 -g
PKGS      = libpq xlsxwriter gsl libcrypto
WARNINGS  = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wvla -Wpointer-arith -Wundef -Wcast-align -Wwrite-strings
# Recursive (=) on purpose: pkg-config runs when a recipe needs it, after `deps` installed it.
ALL_CFLAGS   = -std=c17 -pthread $(OPT) $(SAN) $(WARNINGS) -D_GNU_SOURCE -Iinclude \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
ALL_LDFLAGS  = -pthread $(SAN) $(LDFLAGS)
LDLIBS       = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm

SRC        = $(sort $(wildcard src/*.c))
SQL        = $(sort $(wildcard sql/[0-9][0-9][0-9]_*.sql))
LIB_OBJ    = $(patsubst src/%.c,$(B)/%.o,$(filter-out src/main.c,$(SRC))) $(B)/schema_sql.o
UNIT_SRC   = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
SETTLE_OUT = $(if $(filter build,$(B)),settle,$(B)/settle)

.PHONY: all test test-run asan demo bench install uninstall clean deps schema fuzz fuzz-bins
all: $(SETTLE_OUT)

$(SETTLE_OUT): $(B)/main.o $(LIB_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# include/ holds the public headers, src/*_int.h the private ones of a module (next to its code).
$(B)/%.o: src/%.c $(wildcard include/*.h src/*.h) | $(B)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The schema is compiled in (SPEC §7): sql/NNN_*.sql become C string constants.
$(B)/schema_sql.c: $(SQL) tests/lib/embed-sql.sh | $(B)
	sh tests/lib/embed-sql.sh $(SQL) > $@.tmp && mv $@.tmp $@
$(B)/schema_sql.o: $(B)/schema_sql.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c tests/unit/check.h $(LIB_OBJ) | $(B)
	@mkdir -p $(B)/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(B):
	mkdir -p $(B)

# `make fuzz` builds the libFuzzer harnesses of tests/fuzz/ in build/fuzz/ (clang, ASan + UBSan).
# The modules under test are compiled instrumented; whatever else they reach comes uninstrumented
# from build/libsettle.a (the ordinary objects), so a module that starts calling another still
# links. tests/fuzz/run.sh runs them (a short run is part of `make test`; docs/testing.md).
FUZZ_SRC  = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_MODS = $(patsubst %,$(B)/%.o,csv_in feed money currency timeutil)
FUZZ_CC  ?= clang
fuzz: deps
	@$(MAKE) --no-print-directory B=build OPT="-O2 -g" SAN= build/libsettle.a
	@$(MAKE) --no-print-directory B=build/fuzz CC=$(FUZZ_CC) OPT="-O1 -g" CFLAGS="-Wno-error" \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" fuzz-bins
fuzz-bins: $(patsubst tests/fuzz/%.c,$(B)/%,$(FUZZ_SRC))
build/libsettle.a: $(patsubst src/%.c,build/%.o,$(filter-out src/main.c,$(SRC))) build/schema_sql.o
	rm -f $@ && ar rcs $@ $^
$(B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_MODS) build/libsettle.a
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer $(ALL_LDFLAGS) -o $@ $< $(FUZZ_MODS) build/libsettle.a $(LDLIBS)

# The fault-injection shim (tests/fault/fault.c, LD_PRELOAD) of tests/integration/test_fault.sh.
build/fault.so: tests/fault/fault.c | build
	$(CC) -std=c17 -O2 -g -fPIC -shared $(WARNINGS) $(shell pkg-config --cflags libpq 2>/dev/null) -o $@ $< -ldl

bench/gen: bench/gen.c
	$(CC) -std=c17 -O2 $(WARNINGS) -D_GNU_SOURCE -o $@ $<

# Installs missing Debian packages when root, else prints the apt-get line and fails.
deps:
	@sh .ci/deps.sh

test: deps
	@$(MAKE) --no-print-directory test-run

test-run: $(SETTLE_OUT) $(UNIT_BIN)
	@SETTLE_BIN=$(abspath $(SETTLE_OUT)) UNIT_DIR=$(abspath $(B)/tests) bash tests/run.sh

asan: deps
	@$(MAKE) --no-print-directory B=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test-run

# sql/schema.sql: the schema as it is now, from a freshly migrated throwaway database (checked by
# tests/integration/test_schema.sh; regenerate after adding a migration).
schema: $(SETTLE_OUT)
	@SETTLE_BIN=$(abspath $(SETTLE_OUT)) bash tests/lib/schema-regen.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tests/lib/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all bench/gen
	@bash bench/run.sh

install: $(SETTLE_OUT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(SETTLE_OUT) $(DESTDIR)$(BINDIR)/settle
	if [ -f docs/settle.1 ]; then install -m 0644 docs/settle.1 $(DESTDIR)$(MANDIR)/man1/settle.1; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/settle $(DESTDIR)$(MANDIR)/man1/settle.1

clean:
	rm -rf build settle bench/gen
