# postern build. `make` builds the multi-call executable bin/postern-multi and
# links every program name to it (DESIGN.md: "One executable, many programs").
# postdrop is a separate copy because it is installed setgid.

GO      ?= go
# Pure Go: a static executable, and syscall.AllThreadsSyscall (which
# pkg/service uses to set PR_SET_NO_NEW_PRIVS on every thread) works only
# without cgo. os/user and the resolver then read /etc files directly.
export CGO_ENABLED = 0
PREFIX  ?= /usr
DESTDIR ?=
SBINDIR   = $(PREFIX)/sbin
LIBEXEC   = $(PREFIX)/libexec/postern
CONFDIR  ?= /etc/postern
SYSTEMDDIR ?= /lib/systemd/system
SETGID_GROUP ?= postdrop
DATADIR  ?= $(PREFIX)/share/postern
DOCDIR   ?= $(PREFIX)/share/doc/postern
FORCE    ?= 0

BIN = bin
MULTI = $(BIN)/postern-multi

# Programs an administrator runs (installed in $(SBINDIR)); the rest are daemons.
COMMANDS = postern postconf postqueue postsuper postmap postalias postcat postdrop sendmail mailq newaliases

INSTALL_ENV = MULTI='$(MULTI)' DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' SBINDIR='$(SBINDIR)' \
	LIBEXEC='$(LIBEXEC)' CONFDIR='$(CONFDIR)' SYSTEMDDIR='$(SYSTEMDDIR)' DATADIR='$(DATADIR)' \
	DOCDIR='$(DOCDIR)' SETGID_GROUP='$(SETGID_GROUP)' COMMANDS='$(COMMANDS)' FORCE='$(FORCE)'

.PHONY: all build test run install install-compat lint proto clean bench fuzz

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(MULTI) .
	@for p in $$($(MULTI) -list); do \
		if [ "$$p" = postdrop ]; then cp -f $(MULTI) $(BIN)/postdrop; \
		else ln -sf postern-multi $(BIN)/$$p; fi; \
	done

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

run: build
	./scripts/run.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...

# Regenerates the committed Go code of the internal gRPC services from
# proto/*.proto (needs Debian's protobuf-compiler and the Go plugins:
# go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
# google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2). A normal build
# never needs protoc.
proto:
	@set -- proto/*.proto; if [ ! -e "$$1" ]; then echo "make proto: no proto/*.proto files yet"; exit 0; fi; \
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc --proto_path=proto \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/*.proto

# Runs every fuzz target for FUZZTIME each (go test allows one -fuzz per run).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | cut -c6-); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

# make install [DESTDIR=...] [PREFIX=/usr] [FORCE=1]: see scripts/install.sh
# and README.md ("Installing"). The configuration directory stays /etc/postern
# whatever PREFIX is (it is the compiled-in default of every command).
install: build
	$(INSTALL_ENV) ./scripts/install.sh install

# Debian's places for the sendmail-compatible commands: /usr/sbin/sendmail,
# /usr/lib/sendmail, /usr/bin/mailq, /usr/bin/newaliases (symlinks). Separate
# from install because they belong to whichever MTA is the system's.
install-compat:
	$(INSTALL_ENV) ./scripts/install.sh install-compat

clean:
	rm -rf $(BIN)
