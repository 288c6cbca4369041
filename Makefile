GO       ?= go
BIN      ?= quotatui
PKGS     ?= ./...
FUZZTIME ?= 60s
BENCHTIME ?= 1s

.PHONY: all build test fmt-check vet bench fuzz demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/quotatui

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

test: fmt-check vet
	$(GO) test -race -timeout 12m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzClassify -fuzztime $(FUZZTIME) ./internal/cloudcode

demo: build
	./$(BIN) demo

clean:
	rm -f $(BIN)
