# gorustls: build librustls (rustls-ffi, pinned in build/Cargo.toml) and the Go module.
#
#   make demo               build what is needed and run the tour
#   make test               every test (builds librustls first)
#   make bench              gorustls vs crypto/tls benchmarks (BENCHFLAGS to narrow them)
#   make bench-http         only the HTTPS server rows (rustlshttp vs net/http, h2load and wrk)
#   make fuzz               long fuzzing runs
#   make asan               cgo and librustls tests under AddressSanitizer (clang)
#   make librustls          only the Rust build
#   make install PREFIX=DIR librustls.a, rustls.h, rustls.pc and bin/gorustls (default /usr/local)
#   RUSTLS=system           use a librustls 0.15.x already on PKG_CONFIG_PATH
#   PROVIDER=ring           build and use the ring provider instead of aws-lc-rs

SHELL := /bin/bash
PROVIDER ?= aws-lc-rs
RUSTLS ?= bundled
GO ?= go
TESTFLAGS ?=
FUZZTIME ?= 10s

OUT := $(CURDIR)/build/out/$(PROVIDER)
LIB := $(OUT)/lib/librustls.a

ifeq ($(PROVIDER),ring)
GOTAGS := -tags gorustls_ring
else ifeq ($(PROVIDER),aws-lc-rs)
GOTAGS :=
else
$(error PROVIDER must be aws-lc-rs or ring, not '$(PROVIDER)')
endif

ifeq ($(RUSTLS),bundled)
export PKG_CONFIG_PATH := $(OUT)/lib/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
LIBDEP := $(LIB)
# Go's build cache hashes CGO_CFLAGS, not pkg-config's output nor the header
# and archive it names: without this stamp (written by build/librustls.sh)
# a rebuilt librustls could leave cached packages and test binaries built
# against the old one. Expanded when each recipe runs, after the build.
export CGO_CFLAGS = -O2 -g -DGORUSTLS_LIBRUSTLS_STAMP=$(shell cat $(OUT)/stamp 2>/dev/null || echo none)
else ifeq ($(RUSTLS),system)
LIBDEP := check-system-rustls
else
$(error RUSTLS must be bundled or system, not '$(RUSTLS)')
endif

export CGO_ENABLED := 1

.PHONY: all demo test test-go test-deps test-install check-prereqs check-system-rustls librustls \
	install vet staticcheck bench bench-http bench-deps fuzz asan clean

all: $(LIBDEP)
	$(GO) build $(GOTAGS) ./...

check-prereqs:
	@bash build/check-prereqs.sh $(RUSTLS)

check-system-rustls: check-prereqs
	@pkg-config --exists 'rustls >= 0.15.0' 'rustls < 0.16.0' || { \
	  echo "RUSTLS=system: no rustls.pc for librustls 0.15.x on PKG_CONFIG_PATH ($$PKG_CONFIG_PATH)." >&2; \
	  echo "Install rustls-ffi 0.15.x with cargo-c (cargo capi install) or drop RUSTLS=system." >&2; exit 1; }

librustls: $(LIB)

# Never let an interrupted build delete a good archive.
.PRECIOUS: $(LIB)

$(LIB): build/Cargo.toml build/Cargo.lock build/src/lib.rs build/build.rs build/librustls.sh | check-prereqs
	@start=$$(date +%s); bash build/librustls.sh $(PROVIDER) $(OUT); \
	  echo "librustls: Rust build took $$(( $$(date +%s) - start ))s"

# Installs the bundled librustls where other modules find it with pkg-config
# (PKG_CONFIG_PATH=$(PREFIX)/lib/pkgconfig), and the gorustls command.
PREFIX ?= /usr/local
install: $(LIBDEP)
ifneq ($(RUSTLS),bundled)
	$(error make install installs the bundled librustls; with RUSTLS=system it is already installed)
endif
	@prefix=$(abspath $(PREFIX)); set -e; \
	  install -d "$$prefix/lib/pkgconfig" "$$prefix/include" "$$prefix/bin"; \
	  install -m 644 $(LIB) "$$prefix/lib/librustls.a"; \
	  install -m 644 $(OUT)/include/rustls.h "$$prefix/include/rustls.h"; \
	  sed -e "s|^prefix=.*|prefix=$$prefix|" -e "s|bundled by gorustls|installed by gorustls|" \
	    $(OUT)/lib/pkgconfig/rustls.pc >"$$prefix/lib/pkgconfig/rustls.pc"; \
	  $(GO) build $(GOTAGS) -o "$$prefix/bin/gorustls" ./cmd/gorustls; \
	  echo "installed librustls and gorustls under $$prefix (PKG_CONFIG_PATH=$$prefix/lib/pkgconfig)"

# A separate module built against an installed prefix only (build/consumer).
test-install: $(LIBDEP)
	@echo "== install, then build a separate module against the prefix"; bash build/test-install.sh

demo: $(LIBDEP)
	$(GO) run $(GOTAGS) ./cmd/gorustls demo

# Debian peers (openssl, gnutls, curl) for the interop tests, the load
# generators the bench tests drive, and clang for make asan.
test-deps:
	@bash build/install-deps.sh interop bench asan

# Load generators for the http benchmark group: h2load (nghttp2-client), wrk.
bench-deps:
	@bash build/install-deps.sh bench

vet: $(LIBDEP)
	$(GO) vet $(GOTAGS) ./...

test: $(LIBDEP) test-deps
	@echo "== gofmt"; out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	@echo "== go vet"; $(GO) vet $(GOTAGS) ./...
	@echo "== staticcheck"; $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1 $(GOTAGS) ./...
	@echo "== go test -race"; $(GO) test $(GOTAGS) -race -count=1 -timeout 25m $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory test-install

staticcheck: $(LIBDEP)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1 $(GOTAGS) ./...

# BENCHFLAGS: e.g. "-only bulk -markdown /tmp/bulk.md" (see gorustls bench -h).
BENCHFLAGS ?= -plot docs/performance.svg -markdown docs/performance-table.md
bench: $(LIBDEP) bench-deps
	$(GO) run $(GOTAGS) ./cmd/gorustls bench $(BENCHFLAGS)

# BENCHHTTPFLAGS: e.g. "-markdown /tmp/http.md -http-time 5s -reps 7".
BENCHHTTPFLAGS ?=
bench-http: $(LIBDEP) bench-deps
	$(GO) run $(GOTAGS) ./cmd/gorustls bench -only http $(BENCHHTTPFLAGS)

fuzz: $(LIBDEP)
	@for t in FuzzServerAccept FuzzClientConnect FuzzClientHello; do \
	  $(GO) test $(GOTAGS) ./rustls -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; done

# AddressSanitizer and LeakSanitizer over the cgo shims, the Go/C boundary
# and every allocation librustls makes (go test -asan needs clang; librustls
# is not instrumented itself, but its malloc and free go through ASan).
# ASAN_RUN narrows the tests (a -run pattern).
ASAN_RUN ?= .
asan: $(LIBDEP)
	CC=clang $(GO) test $(GOTAGS) -asan -count=1 -timeout 20m -run '$(ASAN_RUN)' ./cgo ./rustls

clean:
	rm -rf build/out build/target
