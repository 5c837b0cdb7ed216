package policy

import (
	"os"
	"path/filepath"
	"testing"

	"postern/pkg/dnsbl/dnstest"
)

var blZone = map[string][]string{
	"2.0.0.127.zen.example. A":    {"2.0.0.127.zen.example. 60 IN A 127.0.0.2"},
	"2.0.0.127.zen.example. TXT":  {`2.0.0.127.zen.example. 60 IN TXT "https://zen.example/q?ip=127.0.0.2"`},
	"3.0.0.127.zen.example. A":    {"3.0.0.127.zen.example. 60 IN A 127.0.0.10"},
	"bad.example.dbl.example. A":  {"bad.example.dbl.example. 60 IN A 127.0.1.2"},
	"evil.example.dbl.example. A": {"evil.example.dbl.example. 60 IN A 127.0.1.2"},
	"example.org. MX":             {"example.org. 60 IN MX 10 mx.example.org."},
}

// newDNSChecker builds a Checker that asks the in-process DNS server,
// named in a resolv.conf with a port (resolver_conf_file).
func newDNSChecker(t *testing.T, extra string) *Checker {
	t.Helper()
	addr := dnstest.Serve(t, blZone)
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver "+addr+"\noptions timeout:2 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return newCheckerDNS(t, extra+"\nresolver_conf_file = "+conf+"\n")
}

func TestDNSBL(t *testing.T) {
	tests := []struct {
		name, cfg string
		client    string
		modify    func(s *Session)
		reply     string
	}{
		{"rbl listed", "smtpd_client_restrictions = reject_rbl_client zen.example", "127.0.0.2", nil,
			"554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using zen.example; https://zen.example/q?ip=127.0.0.2"},
		{"rbl no txt", "smtpd_client_restrictions = reject_rbl_client zen.example", "127.0.0.3", nil,
			"554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using zen.example"},
		{"rbl not listed", "smtpd_client_restrictions = reject_rbl_client zen.example", "127.0.0.4", nil, ""},
		{"rbl filter miss", "smtpd_client_restrictions = reject_rbl_client zen.example=127.0.0.[3..9]", "127.0.0.2", nil, ""},
		{"rbl filter hit", "smtpd_client_restrictions = reject_rbl_client zen.example=127.0.0.[3..11]", "127.0.0.3", nil,
			"554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using zen.example"},
		{"rbl after mynetworks", "mynetworks = 127.0.0.2/32\nsmtpd_client_restrictions = permit_mynetworks, reject_rbl_client zen.example", "127.0.0.2", nil, ""},
		{"rbl reply map", "rbl_reply_maps = inline:{{zen.example=$$rbl_code 5.7.9 Go away $$client_address ($$rbl_reason)}}\nsmtpd_client_restrictions = reject_rbl_client zen.example", "127.0.0.2", nil,
			"554 5.7.9 Go away 127.0.0.2 (https://zen.example/q?ip=127.0.0.2)"},
		{"rbl code", "maps_rbl_reject_code = 550\nsmtpd_client_restrictions = reject_rbl_client zen.example", "127.0.0.3", nil,
			"550 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using zen.example"},
		{"rbl dns down", "smtpd_client_restrictions = reject_rbl_client nosuchzone.servfail", "127.0.0.2", nil, ""},
		{"rhsbl sender", "smtpd_sender_restrictions = reject_rhsbl_sender dbl.example", "10.0.0.1", func(s *Session) { s.Sender = "x@bad.example" },
			"554 5.7.1 Service unavailable; Sender address [bad.example] blocked using dbl.example"},
		{"rhsbl client", "smtpd_client_restrictions = reject_rhsbl_client dbl.example", "10.0.0.1", func(s *Session) { s.ClientName = "bad.example" },
			"554 5.7.1 Service unavailable; Client host [bad.example] blocked using dbl.example"},
		{"rhsbl reverse client", "smtpd_client_restrictions = reject_rhsbl_reverse_client dbl.example", "10.0.0.1", func(s *Session) { s.ReverseClientName = "evil.example" },
			"554 5.7.1 Service unavailable; Unverified Client host [evil.example] blocked using dbl.example"},
		{"rhsbl helo", "smtpd_helo_restrictions = reject_rhsbl_helo dbl.example", "10.0.0.1", func(s *Session) { s.Helo = "bad.example" },
			"554 5.7.1 Service unavailable; Helo command [bad.example] blocked using dbl.example"},
		{"rhsbl recipient", "smtpd_recipient_restrictions = reject_rhsbl_recipient dbl.example", "127.0.0.1", func(s *Session) {},
			""},
		{"unknown sender domain via dns", "smtpd_sender_restrictions = reject_unknown_sender_domain", "127.0.0.1", func(s *Session) { s.Sender = "x@nx.example" },
			"450 4.1.8 <x@nx.example>: Sender address rejected: Domain not found"},
		{"known sender domain via dns", "smtpd_sender_restrictions = reject_unknown_sender_domain", "127.0.0.1", nil, ""},
		{"sender domain dns failure", "smtpd_sender_restrictions = reject_unknown_sender_domain", "127.0.0.1", func(s *Session) { s.Sender = "x@a.servfail" },
			"450 4.1.8 <x@a.servfail>: Sender address rejected: Domain not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newDNSChecker(t, tt.cfg)
			s := sess(tt.client)
			if tt.modify != nil {
				tt.modify(s)
			}
			wantReply(t, rcpt(c, s, "pfa@pfref.test"), tt.reply)
		})
	}
}

// WithDNSServer overrides resolver_conf_file.
func TestWithDNSServer(t *testing.T) {
	addr := dnstest.Serve(t, blZone)
	c := newCheckerDNS(t, "smtpd_client_restrictions = reject_rbl_client zen.example\n", WithDNSServer(addr))
	wantReply(t, rcpt(c, sess("127.0.0.3"), "pfa@pfref.test"),
		"554 5.7.1 Service unavailable; Client host [127.0.0.3] blocked using zen.example")
}
