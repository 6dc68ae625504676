# RecoveryEngine: `make demo` and `make test` work on a fresh Debian machine as root.
SWIFT      ?= swift
APT_PKGS   := liblmdb-dev lmdb-utils libssl-dev openssl pkg-config libsqlite3-dev python3-venv prometheus chromium
STORE      ?= ./recovery-store
CTL        := .build/debug/recoveryctl

.PHONY: install deps build demo test test-release test-asan test-tsan fuzz fuzz-seeds simulate ci-checks bench clean

# Installs only what is missing; says clearly what to do when not root.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != "0" ]; then echo "missing Debian packages:$$missing; run 'sudo make deps' (or apt-get install them) first" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build

# A release recoveryctl in $(PREFIX)/bin (tools/systemd/recoveryctl-serve.service runs it).
PREFIX ?= /usr/local
install: deps
	$(SWIFT) build -c release --product recoveryctl
	install -D -m 0755 "$$($(SWIFT) build -c release --show-bin-path)/recoveryctl" "$(DESTDIR)$(PREFIX)/bin/recoveryctl"

# The simulated mesh incident, healed by the engine, ending with a timeline. On a store that
# already holds events the demo starts a fresh one beside it, so this works every time.
demo: build
	$(CTL) demo --store $(STORE)

test: build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The store, codec and projection suites built for release, where the unsafe buffer code runs
# without the bounds checks of a debug build.
RELEASE_SUITES := EventStoreTests|ProjectionsTests|FuzzCorpusTests
test-release: deps
	$(SWIFT) build -c release --build-tests -Xswiftc -enable-testing --scratch-path .build-release
	$(SWIFT) test -c release --skip-build -Xswiftc -enable-testing --scratch-path .build-release --filter "$(RELEASE_SUITES)"

# Every suite under AddressSanitizer; LeakSanitizer ignores the toolchain's own leaks at exit.
test-asan: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan-suppressions.txt $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan

# Every suite under ThreadSanitizer; TSAN_FILTER narrows it (CI runs the concurrency suites:
# group commit, the indexer, parallel scans, projection runners).
CONCURRENCY_SUITES := AppendTests|QueryTests|ScanTests|TimeTravelTests|DeterminismTests|RunApplyTests|ConvergenceTests/onStores|CollectionAndMessageTests
test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan $(if $(TSAN_FILTER),--filter "$(TSAN_FILTER)")

# Seeded incidents with faults on real stores (release build); SEEDS=1-100000 for a long run.
SEEDS ?= 1-1000
simulate: deps
	$(SWIFT) build -c release --product recoveryctl
	.build/release/recoveryctl simulate --seeds $(SEEDS)

# What CI runs after `make test`: the concurrency suites under ThreadSanitizer, the release
# suites, every fuzz target for a short while, and 1,000 simulated seeds.
ci-checks:
	$(MAKE) test-tsan TSAN_FILTER="$(CONCURRENCY_SUITES)"
	$(MAKE) test-release
	$(MAKE) fuzz FUZZ_SECONDS=10
	$(MAKE) simulate SEEDS=1-1000

# libFuzzer over every decoder of outside bytes, FUZZ_SECONDS (default 60) each, from the
# committed corpus; exit 1 on a finding. `make fuzz FUZZ_TARGETS="cbor record"` runs some.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) Fuzz/run.sh $(FUZZ_TARGETS)

# Rewrites Fuzz/Corpus from the seeds the targets define (FuzzChecks).
fuzz-seeds: deps
	cd Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld 2>&1 | tail -1
	cd Fuzz && for t in $$(ls Targets); do rm -rf Corpus/$$t && mkdir -p Corpus/$$t && FUZZ_WRITE_SEEDS=Corpus/$$t .build/release/fuzz-$$t; done

# Not part of `make test` or CI: measures against raw LMDB and SQLite in the same process.
bench: deps
	cd Benchmarks && $(SWIFT) build -c release
	cd Benchmarks && .build/release/RecoveryBenchmarks
	cd Benchmarks && .build/release/ProjectionBenchmarks
	cd Benchmarks && .build/release/HealingBenchmarks
	cd Benchmarks && .build/release/ReplicationBenchmarks
	cd Benchmarks && .build/release/TrustBenchmarks
	$(SWIFT) build -c release --product recoveryctl
	cd Benchmarks && RECOVERYCTL="$$(cd .. && $(SWIFT) build -c release --show-bin-path)/recoveryctl" .build/release/AgentBenchmarks
	cd Benchmarks && RECOVERYCTL="$$(cd .. && $(SWIFT) build -c release --show-bin-path)/recoveryctl" .build/release/ForensicsBenchmarks
	cd Benchmarks && { [ -x .venv/bin/python ] || python3 -m venv .venv; } && .venv/bin/pip install -q pycrdt && .venv/bin/python pycrdt_bench.py

clean:
	rm -rf .build .build-release .build-asan .build-tsan Benchmarks/.build Fuzz/.build Fuzz/.work
