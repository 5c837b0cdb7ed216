package smtpd

import (
	"os/exec"
	"strings"
	"testing"
)

// Python's smtplib, as many scripts and MUAs send mail.
func TestPythonSmtplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	h := newHarness(t)
	host, port, _ := strings.Cut(h.addr, ":")
	script := `
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "alice@client.example.test"
m["To"] = "bob@mx.example.test"
m["Subject"] = "smtplib"
m.set_content("hello from python\n.dot line\n")
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]))
s.ehlo("py.example.test")
print(s.esmtp_features.get("size"), s.has_extn("pipelining"), s.has_extn("chunking"))
refused = s.send_message(m, to_addrs=["bob@mx.example.test", "carol@mx.example.test"])
print(refused)
code, msg = s.noop()
print(code, msg.decode())
try:
    s.sendmail("a@b", ["x@mx.example.test"], "x" * 20000000)
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code, e.smtp_error.decode())
s.quit()
`
	out, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := "10240000 True True\n{}\n250 2.0.0 Ok\n552 5.3.4 Message size exceeds fixed limit\n"
	if string(out) != want {
		t.Errorf("python output:\n%s\nwant:\n%s", out, want)
	}
	q := h.cleanup.queued()
	if len(q) != 1 || len(q[0].rcpts) != 2 || !strings.Contains(q[0].content.String(), "\nhello from python\n.dot line\n") ||
		!strings.HasPrefix(q[0].content.String(), "Received: from py.example.test (unknown [127.0.0.1])\n\tby mx.example.test (Postern) with ESMTP id 4A001;\n\t") {
		t.Fatalf("queued: %q", q[0].content.String())
	}
}

// swaks (Debian's SMTP test tool), with STARTTLS and AUTH LOGIN.
func TestSwaks(t *testing.T) {
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Skip("no swaks")
	}
	h := tlsHarness(t)
	out, err := exec.Command(swaks, "--server", h.addr, "--from", "alice@client.example.test", "--to", "far@elsewhere.test",
		"--helo", "swaks.example.test", "--tls", "--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "secret",
		"--header", "Subject: swaks").CombinedOutput()
	if strings.Contains(string(out), "TLS") && strings.Contains(string(out), "not available") {
		t.Skipf("swaks without TLS support: %s", out)
	}
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	for _, want := range []string{"<-  220 2.0.0 Ready to start TLS", "<~  235 2.7.0 Authentication successful", "<~  250 2.0.0 Ok: queued as 4A001", "<~  221 2.0.0 Bye"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("swaks transcript lacks %q:\n%s", want, out)
		}
	}
	q := h.cleanup.queued()
	if len(q) != 1 || !strings.Contains(q[0].content.String(), "with ESMTPSA id 4A001\n\tfor <far@elsewhere.test>;") {
		t.Fatalf("queued %+v", q)
	}
}
