# postern build. `make` builds the multi-call executable bin/postern-multi and
# links every program name to it (DESIGN.md: "One executable, many programs").
# postdrop is a separate copy because it is installed setgid.

GO      ?= go
PREFIX  ?= /usr
DESTDIR ?=
SBINDIR   = $(PREFIX)/sbin
LIBEXEC   = $(PREFIX)/libexec/postern
CONFDIR  ?= /etc/postern
SYSTEMDDIR ?= /lib/systemd/system
SETGID_GROUP ?= postdrop

BIN = bin
MULTI = $(BIN)/postern-multi

# Programs an administrator runs (installed in $(SBINDIR)); the rest are daemons.
COMMANDS = postern postconf postqueue postsuper postmap postalias postcat postdrop sendmail mailq newaliases

.PHONY: all build test test-unit test-e2e run install lint proto clean bench fuzz

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

proto:
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc --proto_path=proto \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/*.proto

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(CONFDIR)
	install -m 0755 $(MULTI) $(DESTDIR)$(LIBEXEC)/postern-multi
	@for p in $$($(MULTI) -list); do \
		case " $(COMMANDS) " in *" $$p "*) ;; *) ln -sf postern-multi $(DESTDIR)$(LIBEXEC)/$$p ;; esac; \
	done
	@for p in $(COMMANDS); do \
		if $(MULTI) -list | grep -qx $$p; then \
			case $$p in postdrop|postqueue) \
				install -m 2755 $(MULTI) $(DESTDIR)$(SBINDIR)/$$p; \
				chgrp $(SETGID_GROUP) $(DESTDIR)$(SBINDIR)/$$p 2>/dev/null && chmod 2755 $(DESTDIR)$(SBINDIR)/$$p || \
					echo "make install: group $(SETGID_GROUP) missing: $(SBINDIR)/$$p installed without setgid (see README)";; \
			*) ln -sf ../libexec/postern/postern-multi $(DESTDIR)$(SBINDIR)/$$p ;; esac; \
		fi; \
	done
	@for f in main.cf master.cf; do \
		if [ -e $(DESTDIR)$(CONFDIR)/$$f ]; then echo "keeping existing $(CONFDIR)/$$f"; \
		else install -m 0644 etc/$$f $(DESTDIR)$(CONFDIR)/$$f; fi; \
	done
	@if [ -f etc/postern.service ]; then install -d $(DESTDIR)$(SYSTEMDDIR) && install -m 0644 etc/postern.service $(DESTDIR)$(SYSTEMDDIR)/postern.service; fi

clean:
	rm -rf $(BIN)
