// Package e2e runs smtpd under master(8) with the real mail path
// (cleanup, qmgr, trivial-rewrite, local): SMTP in, Maildir out. The
// tests create local users and so need root (CI); elsewhere they skip.
package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ti "postern/internal/testinstance"

	gosmtp "github.com/emersion/go-smtp"
)

func TestMain(m *testing.M) { os.Exit(ti.Main(m)) }

func start(t *testing.T, main map[string]string) (*ti.Instance, string) {
	if os.Geteuid() != 0 {
		t.Skip("creates local users: needs root")
	}
	for _, p := range []string{"smtpd", "cleanup", "qmgr", "trivial-rewrite", "local", "pickup", "bounce"} {
		if !ti.Built(p) {
			t.Fatalf("program %s is not built", p)
		}
	}
	port := ti.FreePort(t)
	if main == nil {
		main = map[string]string{}
	}
	main["home_mailbox"] = "Maildir/"
	main["smtpd_banner"] = "$myhostname ESMTP Postern"
	o := ti.MailOptions(t, main)
	o.MasterCF = ti.MailMasterCF(t, fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd\n", port))
	in := ti.New(t, o)
	in.SetAliases("")
	return in, fmt.Sprintf("127.0.0.1:%d", port)
}

// dialFrom connects from a given loopback address.
func dialFrom(t *testing.T, src, addr string) *gosmtp.Client {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if conn, err = d.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := gosmtp.NewClient(conn)
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSMTPToMaildirAndRelayControl(t *testing.T) {
	// The shipped etc/main.cf's relay policy.
	in, addr := start(t, map[string]string{"mynetworks": "127.0.0.1/32",
		"smtpd_relay_restrictions": "permit_mynetworks permit_sasl_authenticated reject_unauth_destination"})
	alice := in.AddUser("ptsmtpa")
	in.Start()

	c := dialFrom(t, "127.0.0.1", addr)
	msg := "Subject: over smtp\r\n\r\nhello\r\n..dot\r\n"
	if err := c.SendMail("sender@client.example.test", []string{"ptsmtpa@mx.example.test"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Quit()
	got := in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 1)[0]
	if !strings.Contains(got, "Received: from client.example.test (localhost [127.0.0.1])") && !strings.Contains(got, "Received: from client.example.test (unknown [127.0.0.1])") {
		t.Errorf("no smtpd Received: header:\n%s", got)
	}
	if !strings.HasSuffix(got, "\nhello\n..dot\n") {
		t.Errorf("body:\n%s", got)
	}
	in.WaitLog(`postern/smtpd\[\d+\]: [0-9A-Za-z]+: client=`)
	in.WaitLog(`postern/smtpd\[\d+\]: disconnect from \S+ ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5`)

	// From 127.0.0.2 (not in mynetworks): no relaying, unknown users refused.
	c = dialFrom(t, "127.0.0.2", addr)
	if err := c.Mail("x@client.example.test", nil); err != nil {
		t.Fatal(err)
	}
	err := c.Rcpt("someone@elsewhere.test", nil)
	if e, ok := err.(*gosmtp.SMTPError); !ok || e.Code != 554 || e.EnhancedCode != (gosmtp.EnhancedCode{5, 7, 1}) || e.Message != "<someone@elsewhere.test>: Relay access denied" {
		t.Errorf("relay from outside: %v", err)
	}
	err = c.Rcpt("nosuchuser@mx.example.test", nil)
	if e, ok := err.(*gosmtp.SMTPError); !ok || e.Code != 550 || !strings.Contains(e.Message, "User unknown in local recipient table") {
		t.Errorf("unknown user: %v", err)
	}
	c.Quit()
	in.WaitLog(`NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.2\]: 554 5\.7\.1 <someone@elsewhere\.test>: Relay access denied`)
}
