GO       ?= go
BIN      ?= quotatui
PKGS     ?= ./...
FUZZTIME ?= 30s
BENCHTIME ?= 1s

.PHONY: all build install test fmt-check vet bench fuzz demo clean

all: build

# The first build compiles every dependency (the pure-Go SQLite among them)
# and takes a minute or two with nothing on screen: say so first.
build:
	@echo "building ./$(BIN) from ./cmd/quotatui (a first build compiles every dependency: a minute or two)"
	$(GO) build -o $(BIN) ./cmd/quotatui

# go install puts the binary in $GOBIN, else $GOPATH/bin (~/go/bin).
install:
	@bin="$$($(GO) env GOBIN)"; [ -n "$$bin" ] || bin="$$($(GO) env GOPATH)/bin"; \
	echo "installing quotatui into $$bin (a first build compiles every dependency: a minute or two)"
	$(GO) install ./cmd/quotatui

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

test: fmt-check vet
	$(GO) test -race -timeout 12m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

# Every fuzz target in turn, FUZZTIME each (go test fuzzes one target of
# one package at a time): the parsers of what comes from the upstream and
# from clients, and the hand-written JSON readers and writers checked
# against encoding/json.
FUZZ_TARGETS = \
	./internal/cloudcode:FuzzClassify ./internal/cloudcode:FuzzParse \
	./internal/rawjson:FuzzValid ./internal/rawjson:FuzzMembers ./internal/rawjson:FuzzAppendString \
	./internal/proxy:FuzzEnvelope ./internal/proxy:FuzzSessionFromBody ./internal/proxy:FuzzParseUsage \
	./internal/frontend:FuzzParseResponse ./internal/frontend:FuzzStr ./internal/frontend:FuzzMarshal \
	./internal/frontend:FuzzSanitizeName ./internal/frontend/anthropic:FuzzParse ./internal/frontend/openai:FuzzParse

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

demo: build
	./$(BIN) demo

clean:
	rm -f $(BIN)
