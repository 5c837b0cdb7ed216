package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ti "postern/internal/testinstance"
	"postern/pkg/dnsbl/dnstest"

	gosmtp "github.com/emersion/go-smtp"
)

// replyText formats an SMTP reply (nil: "250 ok") for comparisons.
func replyText(err error) string {
	if err == nil {
		return "ok"
	}
	var e *gosmtp.SMTPError
	if errors.As(err, &e) {
		if e.EnhancedCode == gosmtp.NoEnhancedCode || e.EnhancedCode == (gosmtp.EnhancedCode{}) {
			return fmt.Sprintf("%d %s", e.Code, e.Message)
		}
		return fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
	}
	return err.Error()
}

// DNSBL through a DNS server the test runs: 127.0.0.2 is listed, 127.0.0.1
// is not.
func TestDNSBLReject(t *testing.T) {
	dns := dnstest.Serve(t, map[string][]string{
		"2.0.0.127.zen.example.test. A":   {"2.0.0.127.zen.example.test. 60 IN A 127.0.0.2"},
		"2.0.0.127.zen.example.test. TXT": {`2.0.0.127.zen.example.test. 60 IN TXT "Listed for testing"`},
	})
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+dns+"\n"), 0644); err != nil {
		t.Fatal(err)
	}
	in, addr := start(t, map[string]string{
		"mynetworks":                "127.0.0.3/32",
		"resolver_conf_file":        resolv,
		"smtpd_client_restrictions": "reject_rbl_client zen.example.test",
	})
	alice := in.AddUser("ptrbl")
	in.Start()

	c := dialFrom(t, "127.0.0.2", addr)
	if err := c.Mail("x@client.example.test", nil); err != nil {
		t.Fatal(err)
	}
	want := "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using zen.example.test; Listed for testing"
	if got := replyText(c.Rcpt("ptrbl@mx.example.test", nil)); got != want {
		t.Errorf("listed client: %q, want %q", got, want)
	}
	c.Quit()
	in.WaitLog(`NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.2\]: ` + regexp.QuoteMeta(want) +
		`; from=<x@client\.example\.test> to=<ptrbl@mx\.example\.test> proto=ESMTP helo=<client\.example\.test>$`)

	c = dialFrom(t, "127.0.0.1", addr)
	if err := c.SendMail("x@client.example.test", []string{"ptrbl@mx.example.test"}, strings.NewReader("Subject: not listed\r\n\r\nhi\r\n")); err != nil {
		t.Fatalf("unlisted client: %v", err)
	}
	c.Quit()
	got := in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 1)
	if len(got) != 1 || !strings.Contains(got[0], "Subject: not listed") {
		t.Errorf("delivered: %q", got)
	}
}

// Every access(5) action over SMTP with a texthash: table, through to
// delivery (or not).
func TestAccessActionsEndToEnd(t *testing.T) {
	if !ti.Built("postqueue") {
		t.Fatal("postqueue is not built")
	}
	in, addr := start(t, map[string]string{
		"mynetworks": "127.0.0.1/32",
		// The second table shows OK ending the list and DUNNO not ending it.
		"smtpd_sender_restrictions": "check_sender_access texthash:$config_directory/access, check_sender_access texthash:$config_directory/access2",
	})
	in.WriteFile("access", `ok@s.test         OK
reject@s.test     REJECT go away please
defer@s.test      DEFER
discard@s.test    DISCARD
hold@s.test       HOLD
redirect@s.test   REDIRECT ptredir@mx.example.test
prepend@s.test    PREPEND X-Test: prepended
warn@s.test       WARN just a warning
dunno@s.test      DUNNO
code@s.test       550 5.7.9 custom code reply
code3@s.test      450 no enhanced code temp
s.test            REJECT domain rejected
`)
	in.WriteFile("access2", "ok@s.test REJECT second table\ndunno@s.test REJECT second table\n")
	acc, redir := in.AddUser("ptacc"), in.AddUser("ptredir")
	in.Start()

	// send runs one transaction from sender to ptacc and returns the RCPT
	// reply and the end-of-data reply.
	send := func(sender string) (rcpt, data string) {
		t.Helper()
		c := dialFrom(t, "127.0.0.1", addr)
		defer c.Close()
		if err := c.Mail(sender, nil); err != nil {
			t.Fatalf("MAIL FROM:<%s>: %v", sender, err)
		}
		rcpt = replyText(c.Rcpt("ptacc@mx.example.test", nil))
		if rcpt != "ok" {
			c.Quit()
			return rcpt, ""
		}
		w, err := c.Data()
		if err != nil {
			t.Fatalf("%s: DATA: %v", sender, err)
		}
		fmt.Fprintf(w, "Subject: from %s\r\n\r\nbody\r\n", sender)
		resp, err := w.CloseWithResponse()
		if err != nil {
			return rcpt, replyText(err)
		}
		data = "250 " + resp.StatusText
		c.Quit()
		return rcpt, data
	}
	for _, tc := range []struct{ sender, rcpt string }{
		{"reject@s.test", "554 5.7.1 <reject@s.test>: Sender address rejected: go away please"},
		{"defer@s.test", "450 4.7.1 <defer@s.test>: Sender address rejected: Access denied"},
		{"code@s.test", "550 5.7.9 <code@s.test>: Sender address rejected: custom code reply"},
		{"code3@s.test", "450 4.7.1 <code3@s.test>: Sender address rejected: no enhanced code temp"},
		{"dunno@s.test", "554 5.7.1 <dunno@s.test>: Sender address rejected: second table"},
		{"other@s.test", "554 5.7.1 <other@s.test>: Sender address rejected: domain rejected"},
	} {
		if got, _ := send(tc.sender); got != tc.rcpt {
			t.Errorf("%s: RCPT %q, want %q", tc.sender, got, tc.rcpt)
		}
	}
	in.WaitLog(`NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1\]: 554 5\.7\.1 <reject@s\.test>: Sender address rejected: go away please; from=<reject@s\.test> to=<ptacc@mx\.example\.test> proto=ESMTP helo=<client\.example\.test>$`)
	in.WaitLog(`NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1\]: 450 4\.7\.1 <defer@s\.test>: Sender address rejected: Access denied;`)

	// Accepted: DISCARD first (so that it would have arrived before the
	// others), then the ones delivered.
	for _, s := range []string{"discard@s.test", "hold@s.test", "ok@s.test", "warn@s.test", "prepend@s.test", "redirect@s.test"} {
		rcpt, data := send(s)
		if rcpt != "ok" || !strings.HasPrefix(data, "250 2.0.0 Ok: queued as ") {
			t.Errorf("%s: RCPT %q, end of data %q", s, rcpt, data)
		}
	}
	in.WaitLog(`NOQUEUE: discard: RCPT from \S+\[127\.0\.0\.1\]: <discard@s\.test>: Sender address triggers DISCARD action; from=<discard@s\.test> to=<ptacc@mx\.example\.test>`)
	in.WaitLog(`NOQUEUE: hold: RCPT from \S+\[127\.0\.0\.1\]: <hold@s\.test>: Sender address triggers HOLD action; from=<hold@s\.test>`)
	in.WaitLog(`NOQUEUE: warn: RCPT from \S+\[127\.0\.0\.1\]: just a warning; from=<warn@s\.test> to=<ptacc@mx\.example\.test>`)
	in.WaitLog(`NOQUEUE: redirect: RCPT from \S+\[127\.0\.0\.1\]: <redirect@s\.test>: Sender address triggers REDIRECT ptredir@mx\.example\.test;`)

	in.WaitMaildir(filepath.Join(acc.Home, "Maildir"), 3)
	rgot := in.WaitMaildir(filepath.Join(redir.Home, "Maildir"), 1)
	in.WaitQueueEmpty()
	got := ti.Maildir(filepath.Join(acc.Home, "Maildir"))
	subjects := map[string]string{}
	for _, m := range got {
		if s := regexp.MustCompile(`(?m)^Subject: from (\S+)$`).FindStringSubmatch(m); s != nil {
			subjects[s[1]] = m
		}
	}
	if len(got) != 3 || subjects["ok@s.test"] == "" || subjects["warn@s.test"] == "" || subjects["prepend@s.test"] == "" {
		t.Errorf("ptacc got %d messages: %v", len(got), subjects)
	}
	if m := subjects["prepend@s.test"]; !regexp.MustCompile(`(?m)^X-Test: prepended\nReceived: from client\.example\.test`).MatchString(m) {
		t.Errorf("PREPEND header not above Received:\n%s", m)
	}
	if len(rgot) != 1 || !strings.Contains(rgot[0], "Subject: from redirect@s.test") {
		t.Errorf("REDIRECT: ptredir got %q", rgot)
	}
	if strings.Contains(in.Log(), "from=<discard@s.test>, size=") {
		t.Errorf("the DISCARDed message reached qmgr:\n%s", in.Log())
	}

	// HOLD: in hold/, "!" in postqueue -p.
	hold, _ := os.ReadDir(filepath.Join(in.QueueDir, "hold"))
	if len(hold) != 1 {
		t.Errorf("hold/ holds %d files, want 1", len(hold))
	}
	out, code := in.Command(nil, "", "postqueue", "-p")
	if code != 0 || !regexp.MustCompile(`(?m)^[0-9A-Za-z]+!\s+\d+ .* hold@s\.test$`).MatchString(out) {
		t.Errorf("postqueue -p (exit %d):\n%s", code, out)
	}
}
