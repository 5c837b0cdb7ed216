package policy

import (
	"context"
	"strings"
	"testing"

	"postern/pkg/config"
)

// FuzzParseAccess feeds access(5) right-hand sides to the value parser and
// checks what it promises: a code is 4xx/5xx, a DSN is valid.
func FuzzParseAccess(f *testing.F) {
	for _, s := range []string{"OK", "REJECT", "REJECT go away", "REJECT 5.7.9 text", "DEFER", "DEFER_IF_PERMIT x",
		"550 5.7.9 custom", "450 text", "421 closing", "12345", "", "HOLD", "DISCARD x", "REDIRECT a@b",
		"FILTER smtp:[1.2.3.4]:25", "PREPEND X-A: b", "WARN w", "DUNNO", "permit_mynetworks, reject", "5", "599 5.1.1000 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		a := parseAccess(v)
		switch a.kind {
		case "CODE":
			if a.code < 400 || a.code > 599 {
				t.Fatalf("%q: code %d", v, a.code)
			}
		case "LIST":
			if len(a.list) == 0 && strings.TrimSpace(v) != "" && strings.Trim(v, ", \t\r\n") != "" {
				t.Fatalf("%q: empty list", v)
			}
		}
		if a.dsn != "" && !validDSN(a.dsn) {
			t.Fatalf("%q: dsn %q", v, a.dsn)
		}
	})
}

// FuzzRestrictionList runs arbitrary restriction lists (and access-table
// values that are restriction lists) through the engine: it must neither
// panic nor loop, and every rejection must carry a 4xx/5xx code.
func FuzzRestrictionList(f *testing.F) {
	for _, s := range []string{
		"permit_mynetworks reject_unauth_destination",
		"check_recipient_access inline:{a@b=REJECT}, reject",
		"warn_if_reject reject defer_if_permit",
		"c1 c2", "check_client_access", "reject_rbl_client zen.example=127.0.0.[2..",
		"defer_if_reject, reject_non_fqdn_recipient, permit",
		"check_sender_access inline:{{alice@example.org=c1}}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		if strings.ContainsAny(list, "\n\r$") || strings.Contains(list, "/") {
			return // no main.cf syntax games, no files
		}
		for _, tok := range config.SplitList(list) {
			if strings.Contains(tok, ":") && !strings.HasPrefix(strings.ToLower(tok), "inline:") {
				return // only in-memory tables
			}
		}
		cf := "smtpd_restriction_classes = c1 c2\nc1 = " + list + "\nc2 = c1 permit\n" +
			"smtpd_relay_restrictions = permit_mynetworks reject_unauth_destination\n" +
			"smtpd_recipient_restrictions = " + list + "\n" +
			"smtpd_client_restrictions = " + list + "\n"
		fc, err := config.ParseMainCFBytes("main.cf", []byte(base+cf))
		if err != nil {
			return
		}
		c, err := New(config.FromFile(t.TempDir(), fc), WithResolver(fakeResolver{}), WithDNS(testDNS()),
			WithWarn(func(string, ...any) {}))
		if err != nil {
			return
		}
		s := sess("127.0.0.2")
		s.Recipient = "a@b"
		d := c.Check(context.Background(), StageRcpt, s)
		if d.Rejected() && (d.Code < 400 || d.Code > 599) {
			t.Fatalf("%q: %s", list, d.Reply())
		}
		_ = RejectLog(StageRcpt, s, d)
	})
}
