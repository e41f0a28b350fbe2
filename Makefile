# tally - plain Makefile. Every public target first makes sure the Debian
# packages are there (scripts/deps.sh), then re-enters make, so that
# pkg-config runs only after the packages it asks about are installed.

BUILD    ?= build
PREFIX   ?= /usr/local
CFLAGS   ?= -O2 -g
FUZZ_SECONDS ?= 20
FUZZ_RUNS    ?=
FAULT_QUERIES ?= 200
SOAK_MINUTES ?= 10
SOAK_NODES   ?= 50
SOAK_PLANNERS ?= 20
SOAK_FLAGS   ?=

PKGS      := libsodium libcrypto gmp sqlite3 jansson inih libpq
WARN      := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror
CPPFLAGS  := -D_POSIX_C_SOURCE=200809L -I.
ALL_CFLAGS = $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) $(shell pkg-config --cflags $(PKGS))
LIBS       = $(shell pkg-config --libs $(PKGS)) -lnng -lpthread -lm
TEST_LIBS  = $(shell pkg-config --libs criterion)

# The library's folders, lowest layer first (docs/ARCHITECTURE.md).
LIB_DIRS  := crypto wire query protocol net store
LIB_SRC   := $(wildcard $(addsuffix /*.c,$(LIB_DIRS)))
LIB_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB       := $(BUILD)/libtally.a
# Each program is its folder's objects; main.c holds only main(), so tests
# link the rest of the folder through the folder's own archive. Archives are
# listed callers first (the linker resolves left to right): cli uses the
# coordinator's log and the node's ledger, the coordinator node receipts.
APPS      := cli coordinator node
APP_LIBS   = $(foreach a,$(APPS),$(if $(filter-out $(a)/main.c,$(wildcard $(a)/*.c)),$(BUILD)/lib$(a).a))
PROGRAMS  := $(if $(wildcard node/main.c),tally-node) $(if $(wildcard cli/main.c),tally) \
	$(if $(wildcard coordinator/main.c),tally-coordinator)
BIN       := $(addprefix $(BUILD)/bin/,$(PROGRAMS))
ALL_LIBS   = $(APP_LIBS) $(LIB)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_HELP := $(filter-out tests/test_%.c,$(wildcard tests/*.c))
# Programs that tests start as child processes (plain C, no Criterion); every
# test binary is built after them, so building one test builds its helpers.
HELPER_SRC:= $(wildcard tests/helpers/*.c)
HELPER_BIN:= $(patsubst tests/%.c,$(BUILD)/tests/%,$(HELPER_SRC))
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
BENCH_HELP:= $(filter-out bench/bench_%.c,$(wildcard bench/*.c))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all deps build test run-tests check-layers format-check asan ubsan valgrind fuzz fuzz-build bench bench-plots \
	run-bench bench-quick install install-files install-check uninstall deb deb-check clean format demo check-no-test-rng check-test-knobs ctgrind faults soak \
	mutants browser-test

all: deps
	@$(MAKE) --no-print-directory build

deps:
	@scripts/deps.sh

build: $(LIB) $(APP_LIBS) $(BIN) $(HELPER_BIN) $(TEST_BIN) $(BENCH_BIN)

test: deps
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) --no-print-directory man-check
	@$(MAKE) --no-print-directory run-tests
	@$(MAKE) --no-print-directory browser-test
	@$(MAKE) --no-print-directory check-test-knobs
	@$(MAKE) --no-print-directory check-no-test-rng
	@$(MAKE) --no-print-directory ctgrind
	@$(MAKE) --no-print-directory bench-quick
	@$(MAKE) --no-print-directory install-check
	@$(MAKE) --no-print-directory deb-check

RUN_TESTS ?= $(TEST_BIN)
run-tests: $(BIN) $(HELPER_BIN) $(TEST_BIN)
	@TALLY_BIN=$(abspath $(BUILD)/bin) scripts/run-tests.sh $(RUN_TESTS)

# The dashboard in a real browser (tests/browser/, run by `make test`):
# Debian's chromium (scripts/deps.sh) driven by playwright-core, pinned by
# the committed package-lock.json; `npm ci` runs when node_modules is
# missing or older than the lock, with no install scripts and no browser
# download. The screenshot and the CSV go to $(BUILD)/browser/.
BROWSER_DIR := tests/browser
$(BROWSER_DIR)/node_modules/.package-lock.json: $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

browser-test: $(BIN) $(BROWSER_DIR)/node_modules/.package-lock.json
	@node $(BROWSER_DIR)/blake2b.test.mjs
	@node $(BROWSER_DIR)/figures.test.mjs
	@TALLY_BIN=$(abspath $(BUILD)/bin) OUT=$(abspath $(BUILD)/browser) \
		node $(BROWSER_DIR)/dashboard.test.mjs

# The same suite under sanitizers, each in its own build tree.
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: deps
	@LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp $(MAKE) --no-print-directory BUILD=build/asan \
		EXTRA_CFLAGS="$(SAN_FLAGS) -fsanitize=address,undefined" run-tests
ubsan: deps
	@$(MAKE) --no-print-directory BUILD=build/ubsan \
		EXTRA_CFLAGS="$(SAN_FLAGS) -fsanitize=undefined" run-tests
# Under valgrind the statistical suites (10^6 draws each) are left out, and
# so are the suites that run whole federations of daemons (each daemon under
# valgrind too: their deadlines and Criterion's timeouts do not hold at
# valgrind's speed on two cores); they run in `make test`, `make asan` and
# `make ubsan`.
# pg, pg_load: a PostgreSQL server (scripts/pg-temp.sh); pg also a served federation.
PROCESS_SUITES := demo_daemons faults federation hostile netns pg pg_load rogue_coordinator roles \
	rotation startup
valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build/valgrind CFLAGS="-O1 -g" \
		TEST_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --trace-children=yes" \
		TEST_FLAGS="-j1 --filter=!(*stats*)" \
		RUN_TESTS="$(filter-out $(patsubst %,build/valgrind/tests/test_%,$(PROCESS_SUITES)),$(patsubst $(BUILD)/%,build/valgrind/%,$(TEST_BIN)))" \
		run-tests

bench: deps
	@$(MAKE) --no-print-directory run-bench

# Figures for researchers: the protocol sweeps as CSV and a log-log plot.
bench-plots: deps
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_protocol
	$(BUILD)/bench/bench_protocol > $(BUILD)/bench/protocol.csv
	gnuplot -e "csv='$(BUILD)/bench/protocol.csv'; out='$(BUILD)/bench/protocol.png'" \
		bench/plot_protocol.gp
	gnuplot -e "csv='$(BUILD)/bench/protocol.csv'; out='$(BUILD)/bench/scale'" \
		bench/plot_scale.gp
	@echo "bench-plots: $(BUILD)/bench/protocol.csv, protocol.png and scale.png/.svg (SecAgg+ per client against n)"
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_federation
	$(BUILD)/bench/bench_federation scale > $(BUILD)/bench/federation.csv
	gnuplot -e "csv='$(BUILD)/bench/federation.csv'; out='$(BUILD)/bench/federation'" \
		bench/plot_federation.gp
	@echo "bench-plots: $(BUILD)/bench/federation.csv and federation.png/.svg (node processes: CPU and RSS against n)"

run-bench: $(BIN) $(BENCH_BIN)
	@TALLY_BIN=$(abspath $(BUILD)/bin) scripts/run-bench.sh $(BENCH_BIN)

# The short pass: every bench program, smallest sizes, one repetition
# (TALLY_BENCH_QUICK, bench/timing.h), rows to $(BUILD)/bench/quick/; run
# by `make test` so that a benchmark cannot rot unnoticed.
bench-quick: $(BIN) $(BENCH_BIN)
	@TALLY_BIN=$(abspath $(BUILD)/bin) QUICK_DIR=$(abspath $(BUILD)/bench/quick) \
		scripts/run-bench.sh $(BENCH_BIN)
	@$(MAKE) --no-print-directory run-sweep SWEEP_QUICK=1 SWEEP_DIR=$(BUILD)/bench/quick/sweep
	@scripts/sweep-check.sh --self-test $(BUILD)/bench/quick/sweep

# Research sweeps (docs/BENCHMARKS.md, "Sweeps"): bench_federation sweep and
# bench_sweep over n, d, epsilon and the dropout rate, to CSV, gnuplot
# PNG/SVG, manifest.json and summary.txt under SWEEP_DIR (scripts/sweep.sh).
# About 20 minutes on 2 vCPUs; SWEEP_QUICK=1 runs the same code at tiny
# sizes in seconds (bench-quick does, and checks the output).
.PHONY: sweep run-sweep
SWEEP_DIR   ?= $(BUILD)/sweep
SWEEP_QUICK ?= 0
sweep: deps
	@$(MAKE) --no-print-directory run-sweep
run-sweep: $(BUILD)/bench/bench_federation $(BUILD)/bench/bench_sweep
	@CC="$(CC)" SWEEP_CFLAGS="$(strip $(WARN) $(CFLAGS) $(EXTRA_CFLAGS))" SWEEP_QUICK=$(SWEEP_QUICK) \
		scripts/sweep.sh $(BUILD)/bench $(SWEEP_DIR)

fuzz: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build/fuzz \
		WARN="-std=c11 -Wall -Wextra -Werror" \
		EXTRA_CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" fuzz-build
	@FUZZ_RUNS=$(FUZZ_RUNS) scripts/run-fuzz.sh $(FUZZ_SECONDS) build/fuzz/fuzz tests/fuzz

FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
fuzz-build: $(FUZZ_BIN)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer $< $(ALL_LIBS) $(LIBS) -o $@

# Constant-time check: the secret-handling code run under valgrind memcheck
# with its secrets marked undefined (ctgrind), so that a branch or a table
# index that depends on a secret is reported as a use of undefined memory.
CT_SRC := $(wildcard tests/ct/ct_*.c)
CT_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(CT_SRC))
ctgrind: deps
	@$(MAKE) --no-print-directory $(CT_BIN)
	@scripts/ctgrind.sh $(CT_BIN)

$(BUILD)/tests/ct/%: tests/ct/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(ALL_LIBS) $(LIBS) -o $@

# Scripted faults: kill -9 of random nodes, committee members and the
# coordinator across FAULT_QUERIES queries of a real federation on loopback
# (make test runs a short version of it in tests/test_faults.c).
faults: deps
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/tests/helpers/faults
	@TALLY_BIN=$(abspath $(BUILD)/bin) $(BUILD)/tests/helpers/faults --queries $(FAULT_QUERIES)

# The empirical DP audit, long version (docs/PRIVACY.md, "The empirical
# audit"): `tally audit dp` on every Laplace mechanism at 2 10^7 draws per
# dataset (the headline count is the issue's independent check), every
# Skellam one at 2 10^6 (their Poisson draws cost O(mu)), and two negative
# controls that must be FLAGGED (exit 1): noise for epsilon 1.1 under a
# claim of 1, and one noise share released alone. JSON, .dat, PNG and SVG
# under $(BUILD)/audit-dp/; about 6 minutes on two cores.
.PHONY: audit-dp
AUDIT_DP := $(BUILD)/audit-dp
audit-dp: deps
	@$(MAKE) --no-print-directory $(BUILD)/bin/tally
	@mkdir -p $(AUDIT_DP)
	@start=$$(date +%s); T=$(BUILD)/bin/tally; \
	$$T audit dp --mechanism laplace --draws 20000000 --json $(AUDIT_DP)/laplace.json \
		--plot $(AUDIT_DP)/laplace && \
	$$T audit dp --mechanism skellam --draws 2000000 --json $(AUDIT_DP)/skellam.json \
		--plot $(AUDIT_DP)/skellam && \
	{ $$T audit dp --mechanism count-laplace --calibrate 1.1 --draws 20000000 \
		--json $(AUDIT_DP)/control-calibrate.json; test $$? -eq 1; } && \
	{ $$T audit dp --mechanism count-laplace --fault share-alone --draws 2000000 \
		--json $(AUDIT_DP)/control-share-alone.json; test $$? -eq 1; } && \
	echo "audit-dp: done in $$(( $$(date +%s) - start )) s; results in $(AUDIT_DP)/"

# Mutation testing: each tests/mutants/*.patch puts one small bug into a
# privacy or integrity check; scripts/mutants.sh applies them one at a time
# in a scratch copy of the tree (build/mutants/src), rebuilds, runs the
# suites each names and prints it killed or survived, with a score. Not
# in CI (a full build plus the suites of every bug: 15 to 30 minutes here);
# docs/SECURITY.md gives the score.
# MUTANTS="01 03" runs those only.
mutants: deps
	@scripts/mutants.sh $(MUTANTS)

# Load: SOAK_NODES node processes and SOAK_PLANNERS concurrent planners for
# SOAK_MINUTES minutes, with the hostile phase (floods, cost bombs, the
# heartbeat recipe; SOAK_FLAGS=--no-hostile leaves it out); RSS, descriptors,
# latency and hostile events as CSV under build/soak/, plotted to
# build/soak/soak.png when gnuplot is there.
soak: deps
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/tests/helpers/soak $(BUILD)/tests/helpers/flood
	@rc=0; TALLY_BIN=$(abspath $(BUILD)/bin) $(BUILD)/tests/helpers/soak --minutes $(SOAK_MINUTES) \
		--nodes $(SOAK_NODES) --planners $(SOAK_PLANNERS) --out $(BUILD)/soak $(SOAK_FLAGS) || rc=$$?; \
	if command -v gnuplot >/dev/null; then gnuplot -e "dir='$(BUILD)/soak'" bench/plot_soak.gp && \
		echo "soak: plotted $(BUILD)/soak/soak.png"; fi; exit $$rc

# The vector loops (field arithmetic, mask expansion, Shamir) need GCC's full
# vectoriser, which -O2 in GCC 12 only runs in its "very cheap" mode.
VEC_OBJ := $(BUILD)/obj/crypto/field.o $(BUILD)/obj/crypto/prg.o $(BUILD)/obj/crypto/shamir.o
$(VEC_OBJ): EXTRA_CFLAGS += -O3

$(BUILD)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

define app_lib
$(BUILD)/lib$(1).a: $(patsubst %.c,$(BUILD)/obj/%.c.o,$(filter-out $(1)/main.c,$(wildcard $(1)/*.c)))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach a,$(APPS),$(eval $(call app_lib,$(a))))

$(BUILD)/obj/%.c.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bin/tally-node: node/main.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(ALL_LIBS) $(LIBS) -o $@
$(BUILD)/bin/tally: cli/main.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(ALL_LIBS) $(LIBS) -o $@
$(BUILD)/bin/tally-coordinator: coordinator/main.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(ALL_LIBS) $(LIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(TEST_HELP) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags criterion) $< $(TEST_HELP) $(ALL_LIBS) \
		$(TEST_LIBS) $(LIBS) -o $@

# Its 30 held connections are a TLS client of the test's own (OpenSSL).
$(BUILD)/tests/test_api_daemon: TEST_LIBS += $(shell pkg-config --libs libssl)
# The units' SystemCallFilter for the installed daemons (tests/install.sh).
$(BUILD)/tests/helpers/syscall_filter: LIBS += $(shell pkg-config --libs libseccomp)

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(ALL_LIBS) $(LIBS) -o $@
$(TEST_BIN): | $(HELPER_BIN)

$(BUILD)/bench/%: bench/%.c $(BENCH_HELP) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BENCH_HELP) $(ALL_LIBS) $(LIBS) -o $@

# The deterministic rng must never be linked into a daemon or the CLI.
# The committee's test-only switch (the protocol before the agreement, for
# the two-set attack's negative control) is never called by a program.
check-test-knobs:
	@if grep -rn 'tly_committee_member_skip_agreement' node coordinator cli; then \
		echo "check-test-knobs: a program calls the test-only skip_agreement"; exit 1; fi; \
	echo "check-test-knobs: ok"

# The man pages (docs/man/*.[158]): mandoc -Tlint -Wstyle and man --warnings
# clean, the options of each page equal to its binary's --help, the keys of
# each config page equal to its parser's; then the negative controls (a
# deliberate error per check must fail it). scripts/man-check.sh says how.
.PHONY: man-check
man-check: $(BIN)
	@scripts/man-check.sh $(BUILD)/bin
	@scripts/man-check.sh --self-test $(BUILD)/bin

# The layers of docs/ARCHITECTURE.md: no include of a folder above (or
# beside) one's own, nng only in net/, no include loop; and, in the built
# objects (nm), no call upwards and no call loop in the library. Under a
# second once the objects are built.
APP_OBJ    = $(foreach a,$(APPS),$(patsubst %.c,$(BUILD)/obj/%.c.o,$(wildcard $(a)/*.c)))
check-layers: $(LIB_OBJ) $(APP_OBJ)
	@scripts/check-layers.sh $(LIB_OBJ) $(APP_OBJ)

# The test-only seeded rng (crypto/rng_test.h) is linked into no program;
# the auditor's seeded streams (crypto/rng_audit.h, `tally audit dp
# --seed`) into `tally` only, never into a daemon that draws real noise.
check-no-test-rng: $(BIN)
	@for p in $(PROGRAMS); do \
		if nm $(BUILD)/bin/$$p | grep -q tly_rng_init_seeded; then \
			echo "$$p links the test-only seeded rng"; exit 1; fi; done; \
	for p in tally-node tally-coordinator; do \
		if nm $(BUILD)/bin/$$p | grep -q tly_rng_init_audit; then \
			echo "$$p links the auditor's seeded rng (crypto/rng_audit.h)"; exit 1; fi; done; \
	echo "check-no-test-rng: ok"

# `make install PREFIX=/usr DESTDIR=...` (docs/OPERATIONS.md, "Installing
# as a service"): the three programs in BINDIR (all in bin/: tally demo
# starts the daemons from its own folder, and tally-node's commands are run
# by operators, not only by root), the dashboard, the docs and the example
# configs, the man pages of docs/man/, the systemd units (ExecStart set to
# BINDIR) and the user tally (sysusers.d), libtally.a and the headers.
# Nothing goes to /etc: the units read /etc/tally, which the operator
# writes from DOCDIR/examples (the .deb ships them there as conffiles).
# `make uninstall` with the same PREFIX and DESTDIR removes these files and
# the tally folders, and nothing else.
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/tally
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INST_WEB    := $(wildcard web/*.html web/*.css web/*.js)
INST_DOCS   := README.md $(wildcard docs/*.md)
INST_EXAMPLES := $(wildcard dist/examples/*)
INST_UNITS  := $(wildcard dist/systemd/*.service)
INST_MAN    := $(wildcard docs/man/*.[158])
INST_HEADERS := $(filter-out %_impl.h,$(wildcard $(addsuffix /*.h,$(LIB_DIRS))))
# Every file install writes, without DESTDIR (uninstall removes these).
INST_FILES   = $(addprefix $(BINDIR)/,$(PROGRAMS)) $(PREFIX)/lib/libtally.a \
	$(addprefix $(PREFIX)/include/tally/,$(INST_HEADERS)) \
	$(addprefix $(DATADIR)/tally/,$(INST_WEB)) \
	$(addprefix $(DOCDIR)/,$(notdir $(INST_DOCS))) \
	$(addprefix $(DOCDIR)/examples/,$(notdir $(INST_EXAMPLES))) \
	$(foreach m,$(INST_MAN),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
	$(addprefix $(UNITDIR)/,$(notdir $(INST_UNITS))) $(SYSUSERSDIR)/tally.conf
# The folders that are tally's own, deepest first (uninstall removes them).
INST_DIRS    = $(addprefix $(PREFIX)/include/tally/,$(LIB_DIRS)) $(PREFIX)/include/tally \
	$(DATADIR)/tally/web $(DATADIR)/tally $(DOCDIR)/examples $(DOCDIR)

install: all
	@$(MAKE) --no-print-directory install-files

install-files: $(BIN) $(LIB)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(DATADIR)/tally/web \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(addprefix $(DESTDIR)$(PREFIX)/include/tally/,$(LIB_DIRS))
	$(if $(PROGRAMS),install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/)
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(INST_WEB) $(DESTDIR)$(DATADIR)/tally/web/
	for d in $(LIB_DIRS); do \
		install -m 644 $$(ls $$d/*.h | grep -v '_impl\.h$$') $(DESTDIR)$(PREFIX)/include/tally/$$d/ \
			|| exit 1; \
	done
	install -m 644 $(INST_DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 644 $(INST_EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	for m in $(INST_MAN); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done
	for u in $(INST_UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/} && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 dist/tally.sysusers $(DESTDIR)$(SYSUSERSDIR)/tally.conf

# Install into a temporary root, verify the units there (systemd-analyze
# verify and security), run a federation from the installed files only,
# then uninstall: tests/install.sh, run by `make test`.
install-check: $(BIN) $(LIB) $(BUILD)/tests/helpers/syscall_filter
	@tests/install.sh $(MAKE) $(abspath $(BUILD)/tests/helpers/syscall_filter)

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	for d in $(addprefix $(DESTDIR),$(INST_DIRS)); do \
		if [ -d $$d ] && ! rmdir $$d 2>/dev/null; then \
			echo "uninstall: $$d holds files tally did not install: left in place"; fi; \
	done

# `make deb`: build/deb/tally_$(DEB_VERSION)_ARCH.deb (scripts/deb.sh), the
# programs built in their own tree with Debian's hardening flags
# (dpkg-buildflags, plus -z now); `make deb-check` (in `make test`) builds
# it, runs lintian on it (no error allowed) and checks its contents.
DEB_VERSION ?= 0.16.0
DEB_BUILD   := build/deb/build
deb: deps
	@$(MAKE) --no-print-directory BUILD=$(DEB_BUILD) CFLAGS="$$(dpkg-buildflags --get CFLAGS)" \
		EXTRA_CFLAGS="$$(dpkg-buildflags --get CPPFLAGS) $$(dpkg-buildflags --get LDFLAGS) -Wl,-z,now" \
		$(addprefix $(DEB_BUILD)/bin/,$(PROGRAMS)) $(DEB_BUILD)/libtally.a
	@scripts/deb.sh $(MAKE) $(DEB_BUILD) $(DEB_VERSION)

deb-check: deb
	@tests/deb.sh build/deb/tally_$(DEB_VERSION)_$$(dpkg --print-architecture).deb

# Every C file, formatted by the committed .clang-format (Debian 12's
# clang-format 14). `make format` rewrites them; `make format-check` (run by
# `make test` first) fails naming each file and line that differs.
FORMAT_SRC = $(sort $(wildcard */*.c */*.h tests/fuzz/*.c tests/helpers/*.c tests/ct/*.c))

format: deps
	clang-format -i $(FORMAT_SRC)

format-check: deps
	@clang-format --dry-run --Werror $(FORMAT_SRC) && \
		echo "format-check: ok ($(words $(FORMAT_SRC)) files)"

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@$(BUILD)/bin/tally demo

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(wildcard $(BUILD)/obj/*/*.c.d)
