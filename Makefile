# smith: build, test and benchmark. Every Go command runs with CGO_ENABLED=0.
#
#   make            build bin/smith
#   make example    build the example microcontainer (testdata/example/cat) into cat.tar.gz
#   make test       the whole test suite, end-to-end tests included
#   make bench      smith vs dnf --installroot on the shared distro repo
#   make fuzz       every fuzz target for FUZZTIME (default 30s) each
#   make race       the race detector on the packages with goroutines (needs cgo)
#   make cross      darwin/arm64 and linux/arm64 builds

ifeq ($(origin GO),undefined)
GO := $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
endif
export CGO_ENABLED := 0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SHA     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.sha=$(SHA)

FUZZTIME ?= 30s
# The packages that run goroutines: downloads and locks (repo), the build
# pipeline (build), layer compression and registry I/O (image), the solver.
RACE_PKGS ?= ./repo ./build ./image ./solver ./extract
BENCH_N  ?= 5
CROSS    ?= darwin/arm64 linux/arm64

.PHONY: all build example test bench fuzz race cross vet clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/smith ./cmd/smith

example: build
	bin/smith -d testdata/example/cat -i cat.tar.gz
	@echo "wrote $(CURDIR)/cat.tar.gz"

test:
	$(GO) test -timeout 45m ./...

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l .); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }

bench:
	SMITH_BENCH_N=$(BENCH_N) $(GO) test -run '^$$' -bench '^Benchmark(BuildVsDnf|NginxHTTP|ResolveHTTPD|RegistryRoundTripCat|RegistryRoundTripNginx)$$' -benchtime 1x -count 1 -timeout 30m ./e2e

fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# -race needs cgo and a C compiler; everything else here builds without.
race:
	@cc=$$(CGO_ENABLED=1 $(GO) env CC); \
	if ! command -v "$${cc%% *}" >/dev/null 2>&1; then \
		echo "make race: the race detector needs cgo and a C compiler ($$cc not found; Debian: apt-get install gcc)"; exit 1; \
	fi
	CGO_ENABLED=1 $(GO) test -race -timeout 45m $(RACE_PKGS)

cross:
	@set -e; for p in $(CROSS); do \
		echo "GOOS=$${p%/*} GOARCH=$${p#*/} go build"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -ldflags '$(LDFLAGS)' -o bin/smith-$${p%/*}-$${p#*/} ./cmd/smith; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./...; \
	done

clean:
	rm -rf bin cat.tar.gz
