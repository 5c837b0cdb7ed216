package policy

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"postern/pkg/config"
	"postern/pkg/dnsbl"
)

// fakeResolver classifies by domain: "pfref.test" and "localhost" local,
// "valias.test" virtual alias, "vmbox.test" virtual mailbox, "relay.test"
// relay; "fail.test" fails; anything else default.
type fakeResolver struct{}

func (fakeResolver) Resolve(_ context.Context, _, addr string) (Resolution, error) {
	a := strings.ToLower(addr)
	if !strings.Contains(a, "@") {
		a += "@pfref.test"
	}
	// percent hack through a local domain
	local, dom, _ := cutLast(a, "@")
	flags := uint32(0)
	if dom == "pfref.test" && strings.Contains(local, "%") {
		l, d, _ := cutLast(local, "%")
		a, dom = l+"@"+d, d
		flags |= flagRouted
	}
	switch dom {
	case "pfref.test", "localhost":
		flags |= classLocal
	case "valias.test":
		flags |= classAlias
	case "vmbox.test":
		flags |= classVirtual
	case "relay.test":
		flags |= classRelay
	case "fail.test":
		flags |= flagFail
	default:
		flags |= uint32(4096)
	}
	return Resolution{Recipient: a, Flags: flags}, nil
}

// fakeDNS answers from maps.
type fakeDNS struct {
	a    map[string][]netip.Addr
	txt  map[string]string
	mail map[string]dnsbl.Status
	null map[string]bool
}

func (f *fakeDNS) Check(_ context.Context, name string, filter *dnsbl.Filter) (*dnsbl.Listing, bool) {
	var hit []netip.Addr
	for _, a := range f.a[name] {
		if filter == nil || filter.Match(a) {
			hit = append(hit, a)
		}
	}
	if len(hit) == 0 {
		return nil, false
	}
	return &dnsbl.Listing{Addrs: hit, Reason: f.txt[name]}, true
}

func (f *fakeDNS) MailHost(_ context.Context, d string) (dnsbl.Status, bool) {
	st, ok := f.mail[d]
	if !ok {
		return dnsbl.NotFound, false
	}
	return st, f.null[d]
}

func (f *fakeDNS) LookupA(_ context.Context, name string) ([]netip.Addr, dnsbl.Status) {
	if a, ok := f.a[name]; ok {
		return a, dnsbl.Found
	}
	return nil, dnsbl.NotFound
}

func testDNS() *fakeDNS {
	return &fakeDNS{
		a: map[string][]netip.Addr{
			"2.0.0.127.zen.example":   {netip.MustParseAddr("127.0.0.2")},
			"4.0.0.127.zen.example":   {netip.MustParseAddr("127.0.0.4")},
			"bad.example.dbl.example": {netip.MustParseAddr("127.0.1.2")},
		},
		txt:  map[string]string{"2.0.0.127.zen.example": "listed for testing"},
		mail: map[string]dnsbl.Status{"example.org": dnsbl.Found, "temp.example": dnsbl.TempFail, "nullmx.example": dnsbl.Found},
		null: map[string]bool{"nullmx.example": true},
	}
}

// base is the relevant part of etc/main.cf plus test tables.
const base = `compatibility_level = 3.6
myhostname = mx.pfref.test
mydomain = pfref.test
mydestination = pfref.test, localhost
mynetworks = 127.0.0.1/32
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
recipient_delimiter = +
alias_maps = inline:{postmaster=root}
local_recipient_maps = inline:{pfa=x, pfb=x, root=x, okuser=x, rejme=x, rejtext=x, defer=x, code=x}  $alias_maps
virtual_alias_maps = inline:{alias@valias.test=pfa}
resolver_conf_file = /nonexistent
`

func newChecker(t *testing.T, extra string, opts ...Option) *Checker {
	t.Helper()
	return newCheckerDNS(t, extra, append([]Option{WithDNS(testDNS())}, opts...)...)
}

// newCheckerDNS is newChecker with the real DNS client unless opts give one.
func newCheckerDNS(t *testing.T, extra string, opts ...Option) *Checker {
	t.Helper()
	f, err := config.ParseMainCFBytes("main.cf", []byte(base+extra))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.FromFile(t.TempDir(), f)
	var warnings []string
	opts = append([]Option{WithResolver(fakeResolver{}), WithWarn(func(format string, a ...any) {
		warnings = append(warnings, format)
	})}, opts...)
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sess(addr string) *Session {
	return &Session{ClientAddr: netip.MustParseAddr(addr), ClientName: "client.example.org",
		Helo: "client.example.org", Protocol: "ESMTP", Sender: "alice@example.org"}
}

func rcpt(c *Checker, s *Session, to string) Decision {
	s.Recipient = to
	return c.Check(context.Background(), StageRcpt, s)
}

func wantReply(t *testing.T, d Decision, want string) {
	t.Helper()
	got := ""
	if d.Rejected() {
		got = d.Reply()
	}
	if got != want {
		t.Errorf("reply = %q (action %v), want %q", got, d.Action, want)
	}
}

// The default configuration is no open relay: 127.0.0.2 is outside
// mynetworks = 127.0.0.1/32 and may not relay.
func TestNoOpenRelayDefault(t *testing.T) {
	c := newChecker(t, "")
	wantReply(t, rcpt(c, sess("127.0.0.2"), "someone@elsewhere.example"), "454 4.7.1 <someone@elsewhere.example>: Relay access denied")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "someone@elsewhere.example"), "")
	// Routing through a local domain is no relay hole.
	wantReply(t, rcpt(c, sess("127.0.0.2"), "user%elsewhere.example@pfref.test"), "454 4.7.1 <user%elsewhere.example@pfref.test>: Relay access denied")
	// Local mail is accepted from anywhere.
	wantReply(t, rcpt(c, sess("127.0.0.2"), "pfa@pfref.test"), "")
	// An authenticated client may relay.
	s := sess("127.0.0.2")
	s.SASLUser = "bob"
	wantReply(t, rcpt(c, s, "someone@elsewhere.example"), "")
}

func TestNoOpenRelayReject(t *testing.T) {
	c := newChecker(t, "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n")
	d := rcpt(c, sess("127.0.0.2"), "x@elsewhere.example")
	wantReply(t, d, "554 5.7.1 <x@elsewhere.example>: Relay access denied")
	if d.Action != Reject {
		t.Errorf("action %v", d.Action)
	}
	// relay_domains destinations are authorised.
	wantReply(t, rcpt(c, sess("127.0.0.2"), "x@relay.test"), "")
}

func TestOpenRelayGuard(t *testing.T) {
	for _, cfg := range []string{
		"smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit\n",
		"smtpd_relay_restrictions = permit_mynetworks\n",
		"smtpd_relay_restrictions = permit_mynetworks, check_recipient_access inline:{a=OK}\n",
	} {
		f, _ := config.ParseMainCFBytes("main.cf", []byte(base+cfg))
		_, err := New(config.FromFile(t.TempDir(), f), WithResolver(fakeResolver{}), WithDNS(testDNS()))
		want := "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains"
		if err == nil || err.Error() != want {
			t.Errorf("%q: err = %v", cfg, err)
		}
	}
	// A restriction class that holds one counts.
	newChecker(t, "smtpd_restriction_classes = guard\nguard = reject_unauth_destination\nsmtpd_relay_restrictions = permit_mynetworks guard\n")
	// The relay list empty, the recipient list guarding (Postfix < 2.10 style).
	c := newChecker(t, "smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit_mynetworks reject_unauth_destination\n")
	wantReply(t, rcpt(c, sess("127.0.0.2"), "x@elsewhere.example"), "554 5.7.1 <x@elsewhere.example>: Relay access denied")
}

// Item 13: a permit does not skip recipient validation.
func TestUnknownUserAfterPermit(t *testing.T) {
	c := newChecker(t, "smtpd_recipient_restrictions = check_recipient_access inline:{nosuch@pfref.test=OK}, permit\n")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "nosuch@pfref.test"),
		"550 5.1.1 <nosuch@pfref.test>: Recipient address rejected: User unknown in local recipient table")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "pfa+ext@pfref.test"), "")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "postmaster@pfref.test"), "")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "postmaster"), "")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "alias@valias.test"), "")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "nobody@valias.test"),
		"550 5.1.1 <nobody@valias.test>: Recipient address rejected: User unknown in virtual alias table")
	c = newChecker(t, "smtpd_reject_unlisted_recipient = no\n")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "nosuch@pfref.test"), "")
}

func TestRejectLog(t *testing.T) {
	c := newChecker(t, "")
	s := sess("127.0.0.2")
	s.Helo = "client.example.test"
	d := rcpt(c, s, "someone@elsewhere.test")
	got := RejectLog(StageRcpt, s, d)
	want := "reject: RCPT from client.example.org[127.0.0.2]: 454 4.7.1 <someone@elsewhere.test>: Relay access denied; from=<alice@example.org> to=<someone@elsewhere.test> proto=ESMTP helo=<client.example.test>"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	s.Sender = ""
	s.ClientName = ""
	got = RejectLog(StageMail, s, Decision{Code: 552, DSN: "5.3.4", Text: "Message size exceeds fixed limit"})
	want = "reject: MAIL from unknown[127.0.0.2]: 552 5.3.4 Message size exceeds fixed limit; from=<> proto=ESMTP helo=<client.example.test>"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// With smtpd_delay_reject = yes, HELO and sender rejections appear at RCPT.
func TestDelayReject(t *testing.T) {
	c := newChecker(t, "smtpd_helo_restrictions = reject_invalid_helo_hostname\n")
	s := sess("127.0.0.1")
	s.Helo = "a..b"
	ctx := context.Background()
	for _, st := range []Stage{StageConnect, StageHelo, StageMail} {
		if d := c.Check(ctx, st, s); d.Rejected() {
			t.Errorf("%v rejected: %s", st, d.Reply())
		}
	}
	wantReply(t, rcpt(c, s, "pfa@pfref.test"), "501 5.5.2 <a..b>: Helo command rejected: Invalid name")
	wantReply(t, rcpt(c, s, "pfb@pfref.test"), "501 5.5.2 <a..b>: Helo command rejected: Invalid name")

	c = newChecker(t, "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n")
	s = sess("127.0.0.1")
	s.ClientName = "localhost"
	wantReply(t, c.Check(ctx, StageConnect, s), "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied")

	c = newChecker(t, "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_invalid_helo_hostname\n")
	s = sess("127.0.0.1")
	s.Helo = "a..b"
	wantReply(t, c.Check(ctx, StageHelo, s), "501 5.5.2 <a..b>: Helo command rejected: Invalid name")
}

func TestHeloRequired(t *testing.T) {
	c := newChecker(t, "smtpd_helo_required = yes\n")
	s := sess("127.0.0.1")
	s.Helo = ""
	wantReply(t, c.Check(context.Background(), StageMail, s), "503 5.5.1 Error: send HELO/EHLO first")
}

type dnsblFilter = dnsbl.Filter
type dnsblListing = dnsbl.Listing

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// The shipped etc/main.cf, with mynetworks narrowed to 127.0.0.1/32: a
// client at 127.0.0.2 cannot relay, 127.0.0.1 can.
func TestEtcMainCFNoOpenRelay(t *testing.T) {
	cfg, err := config.Load("../../etc")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Set("mynetworks", "127.0.0.1/32")
	cfg.Set("resolver_conf_file", "/nonexistent")
	c, err := New(cfg, WithResolver(fakeResolver{}), WithDNS(testDNS()), WithWarn(func(string, ...any) {}))
	if err != nil {
		t.Fatal(err)
	}
	wantReply(t, rcpt(c, sess("127.0.0.2"), "someone@elsewhere.example"), "554 5.7.1 <someone@elsewhere.example>: Relay access denied")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "someone@elsewhere.example"), "")
	// Postfix's built-in default defers instead.
	cfg.Set("smtpd_relay_restrictions", "permit_mynetworks permit_sasl_authenticated defer_unauth_destination")
	c, err = New(cfg, WithResolver(fakeResolver{}), WithDNS(testDNS()), WithWarn(func(string, ...any) {}))
	if err != nil {
		t.Fatal(err)
	}
	wantReply(t, rcpt(c, sess("127.0.0.2"), "someone@elsewhere.example"), "454 4.7.1 <someone@elsewhere.example>: Relay access denied")
	cfg.Set("smtpd_relay_restrictions", "permit_mynetworks permit_sasl_authenticated reject_unauth_destination")
	c, err = New(cfg, WithResolver(fakeResolver{}), WithDNS(testDNS()), WithWarn(func(string, ...any) {}))
	if err != nil {
		t.Fatal(err)
	}
	d := rcpt(c, sess("127.0.0.2"), "someone@elsewhere.example")
	wantReply(t, d, "554 5.7.1 <someone@elsewhere.example>: Relay access denied")
	s := sess("127.0.0.2")
	s.Recipient = "someone@elsewhere.example"
	if got, want := RejectLog(StageRcpt, s, d), "reject: RCPT from client.example.org[127.0.0.2]: 554 5.7.1 <someone@elsewhere.example>: Relay access denied; from=<alice@example.org> to=<someone@elsewhere.example> proto=ESMTP helo=<client.example.org>"; got != want {
		t.Errorf("log %s", got)
	}
}
