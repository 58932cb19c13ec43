# Hotline — see README.md. `make run` needs no external service; `make test`
# needs PostgreSQL for the full suite (skipped when absent, required in CI).
GO       ?= go
BIN      := bin/hotline
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 10000x

.PHONY: all build run test unit fuzz bench bench-ivr lint prompts clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hotline

## run: start the server on embedded defaults (SIP 127.0.0.1:5060, HTTP 127.0.0.1:8080, SQLite in ./var)
run: build
	./$(BIN) serve

## test: vet, the race-enabled test suite (unit, store on SQLite+PostgreSQL, end-to-end SIP), and a short seeded fuzz run of every parser
test: lint unit fuzz

unit:
	$(GO) test -race -count=1 -timeout 25m ./...
	cd third_party/sipgo && $(GO) test -race -count=1 ./sip -run 'TestListenerAddrs|TestUDPListenerPool|TestClientTxTerminateErrBeforeDone|TestClientTxTerminateWhileFinalPassedUp'
	# The root package's tests embed testdata/certs (left out of the published module): made once, gitignored.
	cd third_party/sipgo/testdata && { [ -f certs/client.crt ] || bash generate_certs.sh >/dev/null 2>&1; }
	cd third_party/sipgo && $(GO) test -race -count=1 . -run 'TestDialogServerReleasesInviteTx|TestDialogServerInviteCopyIsShallow'
	cd third_party/go-mp3 && $(GO) test -race -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

## bench: Go benchmarks for every package, then the SIP load benchmark (prints figures; see docs/benchmarks.md)
bench: build
	./scripts/bench.sh

## bench-ivr: only the sipp IVR scenarios of issue 15, this tree against BENCH_BASE (default HEAD~1); BENCH_QUICK=1 for ~3 minutes
bench-ivr:
	./scripts/bench-ivr.sh

# third_party/ is gofmt-clean too (its NOTE.md lists every difference from upstream).
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

## prompts: regenerate prompts/<lang>/*.wav from prompts/prompts.txt (needs espeak-ng and sox)
prompts:
	./scripts/prompts.sh

clean:
	rm -rf bin var
