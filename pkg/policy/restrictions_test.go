package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// accessMap is a texthash access table used by the recipient tests: the
// entries of smtpd-policy.md §4.
const accessMap = `rejme@pfref.test      REJECT
rejtext@pfref.test    REJECT go away please
defer@pfref.test      DEFER
dip@pfref.test        DEFER_IF_PERMIT try later
code@pfref.test       550 5.7.9 custom code reply
code3@pfref.test      550 no enhanced code given
code4@pfref.test      450 no enhanced code temp
code2@pfref.test      421 closing down now
code5@pfref.test      550 5.1.1 sender style
hold@pfref.test       HOLD held for review
holddef@pfref.test    HOLD
discard@pfref.test    DISCARD
redir@pfref.test      REDIRECT pfb@pfref.test
filter@pfref.test     FILTER smtp:[127.0.0.1]:2860
prepend@pfref.test    PREPEND X-Test: prepended
warn@pfref.test       WARN just a warning
dunno@pfref.test      DUNNO
okuser@pfref.test     OK
num@pfref.test        12345
list@pfref.test       permit_sasl_authenticated, reject
class@pfref.test      myclass
bad@pfref.test        no_such_restriction
baddomain.test        REJECT domain entry
exact@blocked2.test   REJECT full address entry
user@                 REJECT user part
ext@pfref.test        REJECT ext base
`

func texthash(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "access")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return "texthash:" + p
}

func TestAccessActions(t *testing.T) {
	m := texthash(t, accessMap)
	lrm := "local_recipient_maps = static:ok\n"
	c := newChecker(t, lrm+"smtpd_restriction_classes = myclass\nmyclass = reject_unauth_pipelining, permit\n"+
		"smtpd_recipient_restrictions = check_recipient_access "+m+"\n")
	tests := []struct {
		rcpt, reply string
		action      Action
	}{
		{"rejme@pfref.test", "554 5.7.1 <rejme@pfref.test>: Recipient address rejected: Access denied", Reject},
		{"REJME@PFREF.TEST", "554 5.7.1 <REJME@PFREF.TEST>: Recipient address rejected: Access denied", Reject},
		{"rejme+ext@pfref.test", "554 5.7.1 <rejme+ext@pfref.test>: Recipient address rejected: Access denied", Reject},
		{"rejtext@pfref.test", "554 5.7.1 <rejtext@pfref.test>: Recipient address rejected: go away please", Reject},
		{"defer@pfref.test", "450 4.7.1 <defer@pfref.test>: Recipient address rejected: Access denied", Defer},
		{"dip@pfref.test", "450 4.7.1 <dip@pfref.test>: Recipient address rejected: try later", Defer},
		{"code@pfref.test", "550 5.7.9 <code@pfref.test>: Recipient address rejected: custom code reply", Reject},
		{"code3@pfref.test", "550 5.7.1 <code3@pfref.test>: Recipient address rejected: no enhanced code given", Reject},
		{"code4@pfref.test", "450 4.7.1 <code4@pfref.test>: Recipient address rejected: no enhanced code temp", Defer},
		{"code2@pfref.test", "421 4.7.1 <code2@pfref.test>: Recipient address rejected: closing down now", Disconnect},
		{"code5@pfref.test", "550 5.1.1 <code5@pfref.test>: Recipient address rejected: sender style", Reject},
		{"hold@pfref.test", "", Hold},
		{"discard@pfref.test", "", Discard},
		{"redir@pfref.test", "", Redirect},
		{"filter@pfref.test", "", Filter},
		{"prepend@pfref.test", "", Dunno},
		{"warn@pfref.test", "", Dunno},
		{"dunno@pfref.test", "", Dunno},
		{"okuser@pfref.test", "", Permit},
		{"num@pfref.test", "", Permit},
		{"list@pfref.test", "554 5.7.1 <list@pfref.test>: Recipient address rejected: Access denied", Reject},
		{"class@pfref.test", "", Permit},
		{"bad@pfref.test", "451 4.3.5 Server configuration error", Defer},
		{"x@baddomain.test", "554 5.7.1 <x@baddomain.test>: Recipient address rejected: domain entry", Reject},
		{"x@sub.baddomain.test", "554 5.7.1 <x@sub.baddomain.test>: Recipient address rejected: domain entry", Reject},
		{"Exact@BLOCKED2.test", "554 5.7.1 <Exact@BLOCKED2.test>: Recipient address rejected: full address entry", Reject},
		{"user@anywhere.pfref.test", "554 5.7.1 <user@anywhere.pfref.test>: Recipient address rejected: user part", Reject},
		{"ext+foo@pfref.test", "554 5.7.1 <ext+foo@pfref.test>: Recipient address rejected: ext base", Reject},
		{"nobody@pfref.test", "", Dunno},
	}
	for _, tt := range tests {
		s := sess("127.0.0.1")
		d := rcpt(c, s, tt.rcpt)
		wantReply(t, d, tt.reply)
		if d.Action != tt.action {
			t.Errorf("%s: action %v, want %v", tt.rcpt, d.Action, tt.action)
		}
	}
	s := sess("127.0.0.1")
	d := rcpt(c, s, "hold@pfref.test")
	if len(d.Warn) != 1 || d.Warn[0] != "hold: RCPT from client.example.org[127.0.0.1]: <hold@pfref.test>: Recipient address held for review; from=<alice@example.org> to=<hold@pfref.test> proto=ESMTP helo=<client.example.org>" {
		t.Errorf("hold log %q", d.Warn)
	}
	if d := rcpt(c, s, "holddef@pfref.test"); !d.Hold || !strings.Contains(d.Warn[0], "Recipient address triggers HOLD action;") {
		t.Errorf("hold default %+v", d)
	}
	if d := rcpt(c, s, "redir@pfref.test"); d.Redirect != "pfb@pfref.test" || !strings.HasPrefix(d.Warn[0], "redirect: RCPT from") {
		t.Errorf("redirect %+v", d)
	}
	if d := rcpt(c, s, "filter@pfref.test"); d.Filter != "smtp:[127.0.0.1]:2860" {
		t.Errorf("filter %+v", d)
	}
	if d := rcpt(c, s, "prepend@pfref.test"); len(d.Prepend) != 1 || d.Prepend[0] != "X-Test: prepended" {
		t.Errorf("prepend %+v", d)
	}
	if d := rcpt(c, s, "warn@pfref.test"); len(d.Warn) != 1 || !strings.HasPrefix(d.Warn[0], "warn: RCPT from client.example.org[127.0.0.1]: just a warning; from=<alice@example.org>") {
		t.Errorf("warn %+v", d.Warn)
	}
	// class@ runs reject_unauth_pipelining inside the class.
	s.Pipelined = true
	wantReply(t, rcpt(c, s, "class@pfref.test"), "503 5.5.0 <class@pfref.test>: Recipient address rejected: Improper use of SMTP command pipelining")
}

// DEFER_IF_PERMIT followed by the unlisted-recipient check: reject wins.
func TestDeferIfPermitThenUnknownUser(t *testing.T) {
	c := newChecker(t, "smtpd_recipient_restrictions = check_recipient_access inline:{nosuch@pfref.test=DEFER_IF_PERMIT}\n")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "nosuch@pfref.test"),
		"550 5.1.1 <nosuch@pfref.test>: Recipient address rejected: User unknown in local recipient table")
}

func TestDeferIfReject(t *testing.T) {
	c := newChecker(t, "smtpd_recipient_restrictions = defer_if_reject, reject\n")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "pfa@pfref.test"),
		"450 4.7.1 <pfa@pfref.test>: Recipient address rejected: defer_if_reject requested")
	c = newChecker(t, "smtpd_recipient_restrictions = defer_if_permit\n")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "pfa@pfref.test"),
		"450 4.7.1 <pfa@pfref.test>: Recipient address rejected: defer_if_permit requested")
	c = newChecker(t, "smtpd_recipient_restrictions = defer_if_permit, reject\n")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "pfa@pfref.test"),
		"554 5.7.1 <pfa@pfref.test>: Recipient address rejected: Access denied")
}

func TestWarnIfReject(t *testing.T) {
	c := newChecker(t, "smtpd_recipient_restrictions = warn_if_reject reject\n")
	d := rcpt(c, sess("127.0.0.1"), "pfa@pfref.test")
	wantReply(t, d, "")
	if len(d.Warn) != 1 || !strings.HasPrefix(d.Warn[0], "reject_warning: RCPT from client.example.org[127.0.0.1]: 554 5.7.1 <pfa@pfref.test>: Recipient address rejected: Access denied;") {
		t.Errorf("warn %q", d.Warn)
	}
}

func TestSoftBounce(t *testing.T) {
	c := newChecker(t, "soft_bounce = yes\nsmtpd_relay_restrictions = reject_unauth_destination\n")
	wantReply(t, rcpt(c, sess("127.0.0.2"), "x@elsewhere.example"), "454 4.7.1 <x@elsewhere.example>: Relay access denied")
}

func TestRestrictions(t *testing.T) {
	type tc struct {
		name   string
		cfg    string
		modify func(s *Session)
		rcpt   string
		reply  string
	}
	tests := []tc{
		{"permit", "smtpd_client_restrictions = permit, reject", nil, "pfa@pfref.test", ""},
		{"reject client", "smtpd_client_restrictions = reject", nil, "pfa@pfref.test", "554 5.7.1 <client.example.org[127.0.0.1]>: Client host rejected: Access denied"},
		{"defer sender", "smtpd_sender_restrictions = defer", nil, "pfa@pfref.test", "450 4.7.1 <alice@example.org>: Sender address rejected: Access denied"},
		{"reject recipient", "smtpd_recipient_restrictions = reject", nil, "pfa@pfref.test", "554 5.7.1 <pfa@pfref.test>: Recipient address rejected: Access denied"},
		{"mynetworks", "smtpd_recipient_restrictions = permit_mynetworks reject", nil, "pfa@pfref.test", ""},
		{"mynetworks miss", "smtpd_recipient_restrictions = permit_mynetworks reject", func(s *Session) { s.ClientAddr = mustAddr("10.0.0.1") }, "pfa@pfref.test", "554 5.7.1 <pfa@pfref.test>: Recipient address rejected: Access denied"},
		{"mynetworks v4mapped", "smtpd_recipient_restrictions = permit_mynetworks reject", func(s *Session) { s.ClientAddr = mustAddr("::ffff:127.0.0.1") }, "pfa@pfref.test", ""},
		{"mynetworks negated", "mynetworks = !127.0.0.1 127.0.0.0/8\nsmtpd_recipient_restrictions = permit_mynetworks reject", nil, "pfa@pfref.test", "554 5.7.1 <pfa@pfref.test>: Recipient address rejected: Access denied"},
		{"mynetworks v6", "mynetworks = [2001:db8::]/32\nsmtpd_recipient_restrictions = permit_mynetworks reject", func(s *Session) { s.ClientAddr = mustAddr("2001:db8::5") }, "pfa@pfref.test", ""},
		{"mynetworks cidr table", "mynetworks = inline:{127.0.0.1=x}\nsmtpd_recipient_restrictions = permit_mynetworks reject", nil, "pfa@pfref.test", ""},
		{"sasl", "smtpd_recipient_restrictions = permit_sasl_authenticated reject", func(s *Session) { s.SASLUser = "bob" }, "pfa@pfref.test", ""},
		{"sasl none", "smtpd_recipient_restrictions = permit_sasl_authenticated reject", nil, "pfa@pfref.test", "554 5.7.1 <pfa@pfref.test>: Recipient address rejected: Access denied"},
		{"permit_auth_destination", "smtpd_recipient_restrictions = permit_auth_destination reject", func(s *Session) { s.ClientAddr = mustAddr("10.0.0.1") }, "pfa@pfref.test", ""},
		{"permit_auth_destination remote", "smtpd_relay_restrictions = permit_auth_destination reject", nil, "x@remote.example", "554 5.7.1 <x@remote.example>: Recipient address rejected: Access denied"},
		{"resolve failure", "", func(s *Session) { s.ClientAddr = mustAddr("10.0.0.1") }, "x@fail.test", "451 4.3.0 <x@fail.test>: Temporary lookup failure"},
		{"unauth pipelining", "smtpd_client_restrictions = reject_unauth_pipelining", func(s *Session) { s.Pipelined = true }, "pfa@pfref.test", "503 5.5.0 <client.example.org[127.0.0.1]>: Client host rejected: Improper use of SMTP command pipelining"},
		{"non fqdn helo", "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", func(s *Session) { s.Helo = "foo" }, "pfa@pfref.test", "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"},
		{"non fqdn helo literal ok", "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", func(s *Session) { s.Helo = "[127.0.0.1]" }, "pfa@pfref.test", ""},
		{"invalid helo", "smtpd_helo_restrictions = reject_invalid_helo_hostname", func(s *Session) { s.Helo = "a..b" }, "pfa@pfref.test", "501 5.5.2 <a..b>: Helo command rejected: Invalid name"},
		{"invalid helo numeric", "smtpd_helo_restrictions = reject_invalid_helo_hostname", func(s *Session) { s.Helo = "1.2.3.4" }, "pfa@pfref.test", "501 5.5.2 <1.2.3.4>: Helo command rejected: Invalid name"},
		{"invalid helo literal ok", "smtpd_helo_restrictions = reject_invalid_helo_hostname", func(s *Session) { s.Helo = "[IPv6:::1]" }, "pfa@pfref.test", ""},
		{"unknown helo", "smtpd_helo_restrictions = reject_unknown_helo_hostname", func(s *Session) { s.Helo = "nx.example" }, "pfa@pfref.test", "450 4.7.1 <nx.example>: Helo command rejected: Host not found"},
		{"known helo", "smtpd_helo_restrictions = reject_unknown_helo_hostname", func(s *Session) { s.Helo = "example.org" }, "pfa@pfref.test", ""},
		{"non fqdn sender", "smtpd_sender_restrictions = reject_non_fqdn_sender", func(s *Session) { s.Sender = "joe" }, "pfa@pfref.test", "504 5.5.2 <joe>: Sender address rejected: need fully-qualified address"},
		{"non fqdn null sender", "smtpd_sender_restrictions = reject_non_fqdn_sender", func(s *Session) { s.Sender = "" }, "pfa@pfref.test", ""},
		{"non fqdn recipient", "smtpd_recipient_restrictions = reject_non_fqdn_recipient", nil, "pfa", "504 5.5.2 <pfa>: Recipient address rejected: need fully-qualified address"},
		{"non fqdn postmaster", "smtpd_recipient_restrictions = reject_non_fqdn_recipient", nil, "Postmaster", ""},
		{"unknown sender domain", "smtpd_sender_restrictions = reject_unknown_sender_domain", func(s *Session) { s.Sender = "a@nx.example" }, "pfa@pfref.test", "450 4.1.8 <a@nx.example>: Sender address rejected: Domain not found"},
		{"unknown sender domain 550", "unknown_address_reject_code = 550\nsmtpd_sender_restrictions = reject_unknown_sender_domain", func(s *Session) { s.Sender = "a@nx.example" }, "pfa@pfref.test", "550 5.1.8 <a@nx.example>: Sender address rejected: Domain not found"},
		{"known sender domain", "smtpd_sender_restrictions = reject_unknown_sender_domain", nil, "pfa@pfref.test", ""},
		{"local sender domain", "smtpd_sender_restrictions = reject_unknown_sender_domain", func(s *Session) { s.Sender = "x@pfref.test" }, "pfa@pfref.test", ""},
		{"sender domain tempfail", "smtpd_sender_restrictions = reject_unknown_sender_domain", func(s *Session) { s.Sender = "a@temp.example" }, "pfa@pfref.test", "450 4.1.8 <a@temp.example>: Sender address rejected: Domain not found"},
		{"sender domain tempfail then reject", "smtpd_sender_restrictions = reject_unknown_sender_domain\nsmtpd_recipient_restrictions = reject", func(s *Session) { s.Sender = "a@temp.example" }, "pfa@pfref.test", "554 5.7.1 <pfa@pfref.test>: Recipient address rejected: Access denied"},
		{"sender nullmx", "smtpd_sender_restrictions = reject_unknown_sender_domain", func(s *Session) { s.Sender = "a@nullmx.example" }, "pfa@pfref.test", "550 5.7.27 <a@nullmx.example>: Sender address rejected: Domain nullmx.example does not accept mail (nullMX)"},
		{"unknown recipient domain", "smtpd_recipient_restrictions = reject_unknown_recipient_domain", nil, "x@nx.example", "450 4.1.2 <x@nx.example>: Recipient address rejected: Domain not found"},
		{"recipient nullmx", "smtpd_recipient_restrictions = reject_unknown_recipient_domain", nil, "x@nullmx.example", "556 5.1.10 <x@nullmx.example>: Recipient address rejected: Domain nullmx.example does not accept mail (nullMX)"},
		{"unlisted recipient", "smtpd_reject_unlisted_recipient = no\nsmtpd_recipient_restrictions = reject_unlisted_recipient", nil, "nosuch@pfref.test", "550 5.1.1 <nosuch@pfref.test>: Recipient address rejected: User unknown in local recipient table"},
		{"unlisted sender", "smtpd_sender_restrictions = reject_unlisted_sender", func(s *Session) { s.Sender = "nosuch@pfref.test" }, "pfa@pfref.test", "550 5.1.0 <nosuch@pfref.test>: Sender address rejected: User unknown in local recipient table"},
		{"smtpd_reject_unlisted_sender", "smtpd_reject_unlisted_sender = yes", func(s *Session) { s.Sender = "nosuch@pfref.test" }, "pfa@pfref.test", "550 5.1.0 <nosuch@pfref.test>: Sender address rejected: User unknown in local recipient table"},
		{"unknown table name hidden", "show_user_unknown_table_name = no", nil, "nosuch@pfref.test", "550 5.1.1 <nosuch@pfref.test>: Recipient address rejected: User unknown"},
		{"relocated", "relocated_maps = inline:{moved@pfref.test=newplace@example.com}", nil, "moved@pfref.test", "550 5.1.6 <moved@pfref.test>: Recipient address rejected: User has moved to newplace@example.com"},
		{"virtual mailbox", "virtual_mailbox_maps = inline:{a@vmbox.test=x}", nil, "b@vmbox.test", "550 5.1.1 <b@vmbox.test>: Recipient address rejected: User unknown in virtual mailbox table"},
		{"virtual mailbox known", "virtual_mailbox_maps = inline:{a@vmbox.test=x}", nil, "a@vmbox.test", ""},
		{"relay recipients", "relay_recipient_maps = inline:{a@relay.test=x}", nil, "b@relay.test", "550 5.1.1 <b@relay.test>: Recipient address rejected: User unknown in relay recipient table"},
		{"relay recipients empty", "", nil, "b@relay.test", ""},
		{"unknown client", "smtpd_client_restrictions = reject_unknown_client_hostname", func(s *Session) { s.ClientName = "unknown"; s.ClientAddr = mustAddr("1.2.3.4"); s.SASLUser = "x" }, "pfa@pfref.test", "450 4.7.25 Client host rejected: cannot find your hostname, [1.2.3.4]"},
		{"unknown reverse client", "smtpd_client_restrictions = reject_unknown_reverse_client_hostname", func(s *Session) {
			s.ReverseClientName = "unknown"
			s.ClientAddr = mustAddr("1.2.3.4")
			s.SASLUser = "x"
		}, "pfa@pfref.test", "450 4.7.1 Client host rejected: cannot find your reverse hostname, [1.2.3.4]"},
		{"plaintext", "smtpd_recipient_restrictions = reject_plaintext_session", nil, "pfa@pfref.test", "450 4.7.1 Session encryption is required"},
		{"plaintext tls", "smtpd_recipient_restrictions = reject_plaintext_session", func(s *Session) { s.TLS = true }, "pfa@pfref.test", ""},
		{"multi recipient bounce", "smtpd_recipient_restrictions = reject_multi_recipient_bounce", func(s *Session) { s.Sender = ""; s.RecipientCount = 1 }, "pfa@pfref.test", "550 5.5.3 <>: Recipient address rejected: Multi-recipient bounce"},
		{"unknown restriction", "smtpd_recipient_restrictions = reject_everything", nil, "pfa@pfref.test", "451 4.3.5 Server configuration error"},
		{"missing table", "smtpd_recipient_restrictions = check_recipient_access hash:/nonexistent/access", nil, "pfa@pfref.test", "451 4.3.5 Server configuration error"},
		{"failing table", "smtpd_recipient_restrictions = check_recipient_access fail:x", nil, "pfa@pfref.test", "451 4.3.0 <pfa@pfref.test>: Temporary lookup failure"},
		{"bare table in list", "smtpd_recipient_restrictions = inline:{pfa@pfref.test=REJECT}", nil, "pfa@pfref.test", "554 5.7.1 <pfa@pfref.test>: Recipient address rejected: Access denied"},
		{"relay before recipient", "smtpd_relay_restrictions = reject_unauth_destination\nsmtpd_recipient_restrictions = reject", func(s *Session) {}, "x@remote.example", "554 5.7.1 <x@remote.example>: Relay access denied"},
		{"recipient before relay", "smtpd_relay_before_recipient_restrictions = no\nsmtpd_relay_restrictions = reject_unauth_destination\nsmtpd_recipient_restrictions = reject", nil, "x@remote.example", "554 5.7.1 <x@remote.example>: Recipient address rejected: Access denied"},
		{"permit ends only its list", "smtpd_client_restrictions = permit\nsmtpd_sender_restrictions = reject", nil, "pfa@pfref.test", "554 5.7.1 <alice@example.org>: Sender address rejected: Access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t, tt.cfg+"\n")
			s := sess("127.0.0.1")
			if tt.modify != nil {
				tt.modify(s)
			}
			wantReply(t, rcpt(c, s, tt.rcpt), tt.reply)
		})
	}
}

func TestAccessKeys(t *testing.T) {
	tests := []struct {
		name, cfg string
		modify    func(s *Session)
		reply     string
	}{
		{"client name", "smtpd_client_restrictions = check_client_access inline:{client.example.org=REJECT}", nil, "554 5.7.1 <client.example.org[127.0.0.1]>: Client host rejected: Access denied"},
		{"client parent", "smtpd_client_restrictions = check_client_access inline:{example.org=REJECT}", nil, "554 5.7.1 <client.example.org[127.0.0.1]>: Client host rejected: Access denied"},
		{"client parent dot form", "parent_domain_matches_subdomains =\nsmtpd_client_restrictions = check_client_access inline:{example.org=REJECT}", nil, ""},
		{"client .parent", "parent_domain_matches_subdomains =\nsmtpd_client_restrictions = check_client_access inline:{.example.org=REJECT}", nil, "554 5.7.1 <client.example.org[127.0.0.1]>: Client host rejected: Access denied"},
		{"client addr", "smtpd_client_restrictions = check_client_access inline:{127.0.0.1=REJECT}", nil, "554 5.7.1 <client.example.org[127.0.0.1]>: Client host rejected: Access denied"},
		{"client net", "smtpd_client_restrictions = check_client_access inline:{127.0=REJECT}", nil, "554 5.7.1 <client.example.org[127.0.0.1]>: Client host rejected: Access denied"},
		{"client v6 prefix", "smtpd_client_restrictions = check_client_access inline:{2001:db8=REJECT}", func(s *Session) { s.ClientAddr = mustAddr("2001:db8::1:5") }, "554 5.7.1 <client.example.org[2001:db8::1:5]>: Client host rejected: Access denied"},
		{"client dunno stops", "smtpd_client_restrictions = check_client_access inline:{client.example.org=DUNNO, 127.0.0.1=REJECT}", nil, ""},
		{"client 5.1.1 becomes 5.0.0", "smtpd_client_restrictions = check_client_access inline:{{127.0.0.1=550 5.1.1 go}}", nil, "550 5.0.0 <client.example.org[127.0.0.1]>: Client host rejected: go"},
		{"helo", "smtpd_helo_restrictions = check_helo_access inline:{example.org=REJECT}", nil, "554 5.7.1 <client.example.org>: Helo command rejected: Access denied"},
		{"sender", "smtpd_sender_restrictions = check_sender_access inline:{{alice@example.org=REJECT Go away}}", nil, "554 5.7.1 <alice@example.org>: Sender address rejected: Go away"},
		{"sender dsn fix", "smtpd_sender_restrictions = check_sender_access inline:{{alice@example.org=550 5.1.1 bad}}", nil, "550 5.1.0 <alice@example.org>: Sender address rejected: bad"},
		{"null sender", "smtpd_sender_restrictions = check_sender_access inline:{<>=REJECT}", func(s *Session) { s.Sender = "" }, "554 5.7.1 <>: Sender address rejected: Access denied"},
		{"reverse client", "smtpd_client_restrictions = check_reverse_client_hostname_access inline:{rev.example=REJECT}", func(s *Session) { s.ReverseClientName = "host.rev.example" }, "554 5.7.1 <client.example.org[127.0.0.1]>: Client host rejected: Access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t, tt.cfg+"\n")
			s := sess("127.0.0.1")
			if tt.modify != nil {
				tt.modify(s)
			}
			wantReply(t, rcpt(c, s, "pfa@pfref.test"), tt.reply)
		})
	}
}

func TestPatternTables(t *testing.T) {
	dir := t.TempDir()
	re := filepath.Join(dir, "re")
	os.WriteFile(re, []byte("/^example\\.org$/ REJECT domain only\n/^alice@/ REJECT full\n"), 0o644)
	cidr := filepath.Join(dir, "cidr")
	os.WriteFile(cidr, []byte("127.0.0.0/8 REJECT cidr hit\n"), 0o644)
	c := newChecker(t, "smtpd_sender_restrictions = check_sender_access regexp:"+re+"\n")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "pfa@pfref.test"), "554 5.7.1 <alice@example.org>: Sender address rejected: full")
	s := sess("127.0.0.1")
	s.Sender = "bob@example.org"
	wantReply(t, rcpt(c, s, "pfa@pfref.test"), "")
	c = newChecker(t, "smtpd_client_restrictions = check_client_access cidr:"+cidr+"\n")
	wantReply(t, rcpt(c, sess("127.0.0.1"), "pfa@pfref.test"), "554 5.7.1 <client.example.org[127.0.0.1]>: Client host rejected: cidr hit")
}

func TestStages(t *testing.T) {
	ctx := context.Background()
	c := newChecker(t, "smtpd_data_restrictions = reject_unauth_pipelining, reject_multi_recipient_bounce\n"+
		"smtpd_end_of_data_restrictions = check_client_access inline:{127.0.0.1=HOLD}\n"+
		"smtpd_etrn_restrictions = check_etrn_access inline:{bad.example=REJECT}\n")
	s := sess("127.0.0.1")
	s.Pipelined = true
	wantReply(t, c.Check(ctx, StageData, s), "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining")
	s.Pipelined = false
	s.Sender = ""
	s.RecipientCount = 2
	wantReply(t, c.Check(ctx, StageData, s), "550 5.5.3 <>: Data command rejected: Multi-recipient bounce")
	d := c.Check(ctx, StageEndOfData, s)
	if d.Action != Hold || !strings.HasPrefix(d.Warn[0], "hold: END-OF-MESSAGE from client.example.org[127.0.0.1]: <client.example.org[127.0.0.1]>: Client host triggers HOLD action; from=<>") {
		t.Errorf("eod %+v", d)
	}
	s.ETRNDomain = "bad.example"
	s.Sender = ""
	wantReply(t, c.Check(ctx, StageETRN, s), "554 5.7.1 <bad.example>: Etrn command rejected: Access denied")
	s.Recipient = "nosuch"
	wantReply(t, c.Check(ctx, StageVRFY, s), "550 5.1.1 <nosuch>: Recipient address rejected: User unknown in local recipient table")
	s.Recipient = "pfa"
	wantReply(t, c.Check(ctx, StageVRFY, s), "")
}

// The delayed lists are evaluated once per session while nothing they
// depend on changes.
func TestDelayedCache(t *testing.T) {
	dns := testDNS()
	calls := 0
	counting := &countingDNS{fakeDNS: dns, n: &calls}
	c := newChecker(t, "smtpd_client_restrictions = reject_rbl_client zen.example\n", WithDNS(counting))
	s := sess("127.0.0.1")
	for i := 0; i < 3; i++ {
		wantReply(t, rcpt(c, s, "pfa@pfref.test"), "")
	}
	if calls != 1 {
		t.Errorf("DNSBL asked %d times, want 1", calls)
	}
	s.ClientAddr = mustAddr("127.0.0.2")
	s.SASLUser = "x"
	wantReply(t, rcpt(c, s, "pfa@pfref.test"), "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using zen.example; listed for testing")
}

type countingDNS struct {
	*fakeDNS
	n *int
}

func (c *countingDNS) Check(ctx context.Context, name string, f *dnsblFilter) (*dnsblListing, bool) {
	*c.n++
	return c.fakeDNS.Check(ctx, name, f)
}
