package smtpd

import (
	"fmt"
	"strings"
	"testing"
)

// The smuggling probes of the reference: only CRLF.CRLF ends DATA.
func TestSmugglingNormalize(t *testing.T) {
	for _, probe := range []string{"\r\n.\n", "\n.\r\n", "\r.\r\n", "\n.\n"} {
		h := newHarness(t, "mynetworks=10.99.99.0/24")
		c := h.dial()
		c.greet()
		c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
		c.expect("RCPT TO:<pfa@mx.example.test>", "250 2.1.5 Ok")
		c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
		c.send("Subject: one\r\n\r\nline one" + probe + "MAIL FROM:<evil@example.org>\r\nRCPT TO:<pfa@mx.example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
		if r := c.reply(); !strings.HasPrefix(r, "250 2.0.0 Ok: queued as ") {
			t.Fatalf("%q: %q", probe, r)
		}
		c.expect("QUIT", "221 2.0.0 Bye")
		h.waitLog(`disconnect from .* data=1 quit=1 commands=5`)
		q := h.cleanup.queued()
		if len(q) != 1 {
			t.Fatalf("%q: %d messages", probe, len(q))
		}
		body := q[0].content.String()
		if !strings.Contains(body, "MAIL FROM:<evil@example.org>\nRCPT TO:") || strings.Contains(body, "\n.\n") {
			t.Errorf("%q: body %q", probe, body)
		}
	}
}

func TestBareLFReject(t *testing.T) {
	h := newHarness(t, "mynetworks=10.99.99.0/24", "smtpd_forbid_bare_newline=reject")
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<pfa@mx.example.test>", "250 2.1.5 Ok")
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("line one\r\nbare lf line\nmore\r\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n")
	if r := c.reply(); r != "550 5.5.2 mx.example.test Error: bare <LF> received" {
		t.Fatalf("got %q", r)
	}
	c.send("EHLO x\n")
	if r := c.reply(); r != "550 5.5.2 mx.example.test Error: bare <LF> received" {
		t.Fatalf("command: %q", r)
	}
	if r := c.reply(); r != "EOF" {
		t.Fatalf("not disconnected: %q", r)
	}
	h.waitLog(`4A001: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 550 5\.5\.2 mx\.example\.test Error: bare <LF> received; from=<a@client\.example\.test> proto=ESMTP helo=<client\.example\.test>`)
	if len(h.cleanup.queued()) != 0 {
		t.Fatal("message queued")
	}
}

func TestBareLFExcludedClient(t *testing.T) {
	h := newHarness(t, "smtpd_forbid_bare_newline=reject") // 127.0.0.1 in mynetworks
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<pfa@mx.example.test>", "250 2.1.5 Ok")
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("bare\nlf\r\n.\r\n")
	if r := c.reply(); !strings.HasPrefix(r, "250 2.0.0 Ok: queued as") {
		t.Fatalf("got %q", r)
	}
}

func TestMessageTooBig(t *testing.T) {
	h := newHarness(t, "message_size_limit=2000")
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test> SIZE=2001", "552 5.3.4 Message size exceeds fixed limit")
	c.expect("MAIL FROM:<a@client.example.test> SIZE=100", "250 2.1.0 Ok")
	c.expect("RCPT TO:<pfa@mx.example.test>", "250 2.1.5 Ok")
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: big\r\n\r\n" + strings.Repeat("0123456789012345678901234567890123456789\r\n", 100) + ".\r\n")
	if r := c.reply(); r != "552 5.3.4 Error: message file too big" {
		t.Fatalf("got %q", r)
	}
	// The session goes on.
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("QUIT", "221 2.0.0 Bye")
	h.waitLog(`disconnect from .* ehlo=1 mail=2/3 rcpt=1 data=0/1 quit=1 commands=5/7`)
	if len(h.cleanup.queued()) != 0 {
		t.Fatal("message queued")
	}
}

func TestRecipientLimit(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	// Pipelined: 1,001 RCPTs in one write.
	var b strings.Builder
	for i := 0; i < 1001; i++ {
		fmt.Fprintf(&b, "RCPT TO:<u%d@mx.example.test>\r\n", i)
	}
	c.send(b.String())
	for i := 0; i < 1000; i++ {
		if r := c.reply(); r != "250 2.1.5 Ok" {
			t.Fatalf("rcpt %d: %q", i, r)
		}
	}
	if r := c.reply(); r != "452 4.5.3 Error: too many recipients" {
		t.Fatalf("rcpt 1001: %q", r)
	}
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: many\r\n\r\nx\r\n.\r\n")
	if r := c.reply(); !strings.HasPrefix(r, "250 2.0.0 Ok: queued as") {
		t.Fatalf("got %q", r)
	}
	q := h.cleanup.queued()
	if len(q) != 1 || len(q[0].rcpts) != 1000 {
		t.Fatalf("queued %d", len(q))
	}
	if !strings.Contains(q[0].content.String(), "with ESMTP id 4A001;\n\t") {
		t.Errorf("Received for many recipients: %q", q[0].content.String()[:200])
	}
}

func TestHardErrorLimit(t *testing.T) {
	h := newHarness(t, "smtpd_hard_error_limit=3")
	c := h.dial()
	c.greet()
	for i := 0; i < 3; i++ {
		c.expect("BOGUS", "500 5.5.2 Error: command not recognized")
	}
	c.send("NOOP\r\n")
	if r := c.reply(); r != "421 4.7.0 mx.example.test Error: too many errors" {
		t.Fatalf("got %q", r)
	}
	if r := c.reply(); r != "EOF" {
		t.Fatalf("not disconnected: %q", r)
	}
	h.waitLog(`too many errors after UNKNOWN from unknown\[127\.0\.0\.1\]`)
	h.waitLog(`disconnect from unknown\[127\.0\.0\.1\] ehlo=1 unknown=0/3 commands=1/4`)
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, "smtpd_timeout=1s")
	c := h.dial()
	c.greet()
	c.send("MAIL FROM:<a@b>\r\n")
	c.reply()
	if r := c.reply(); r != "421 4.4.2 mx.example.test Error: timeout exceeded" {
		t.Fatalf("got %q", r)
	}
	h.waitLog(`timeout after MAIL from unknown\[127\.0\.0\.1\]`)
}

func TestConnectionCountLimit(t *testing.T) {
	h := newHarness(t, "smtpd_client_connection_count_limit=1", "smtpd_client_event_limit_exceptions=")
	c1 := h.dial()
	c1.reply()
	c2 := h.dial()
	if r := c2.reply(); r != "421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1" {
		t.Fatalf("got %q", r)
	}
	h.waitLog(`warning: Connection concurrency limit exceeded: 2 from unknown\[127\.0\.0\.1\] for service smtp`)
	c1.expect("QUIT", "221 2.0.0 Bye")
}

func TestBDAT(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.greet()
	c.send("BDAT 5\r\nhello")
	if r := c.reply(); r != "503 5.5.1 Error: need RCPT command" {
		t.Fatalf("BDAT before RCPT: %q", r)
	}
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<pfa@mx.example.test>", "250 2.1.5 Ok")
	c.send("BDAT 13\r\nSubject: x\r\n\r")
	if r := c.reply(); r != "250 2.0.0 Ok: 13 bytes" {
		t.Fatalf("chunk: %q", r)
	}
	c.send("BDAT 8 LAST\r\n\n.body\r\n")
	if r := c.reply(); r != "250 2.0.0 Ok: queued as 4A001" {
		t.Fatalf("last: %q", r)
	}
	q := h.cleanup.queued()
	if len(q) != 1 || !strings.HasSuffix(q[0].content.String(), "\nSubject: x\n\n.body\n") {
		t.Fatalf("queued %+v", q)
	}
	c.expect("QUIT", "221 2.0.0 Bye")
	h.waitLog(`ehlo=1 mail=1 rcpt=1 bdat=2/3 quit=1 commands=6/7`)
}

func TestPipelinedSessionAndImproperPipelining(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.greet()
	// RFC 2920: MAIL, RCPT, DATA in one group is fine.
	c.send("MAIL FROM:<a@client.example.test>\r\nRCPT TO:<pfa@mx.example.test>\r\nDATA\r\n")
	for _, want := range []string{"250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"} {
		if r := c.reply(); r != want {
			t.Fatalf("got %q want %q", r, want)
		}
	}
	c.send("x\r\n.\r\nQUIT\r\n")
	c.reply()
	c.reply()
	// HELO client sending ahead.
	c2 := h.dial()
	c2.reply()
	c2.send("HELO x\r\nBOGUS\r\nQUIT\r\n")
	c2.reply()
	h.waitLog(`improper command pipelining after HELO from unknown\[127\.0\.0\.1\]: BOGUS\\r\\nQUIT\\r\\n`)
	if strings.Contains(h.log(), "improper command pipelining after DATA") {
		t.Error("legal pipelining flagged")
	}
}

func TestForbidUnauthPipelining(t *testing.T) {
	h := newHarness(t, "smtpd_forbid_unauth_pipelining=yes")
	c := h.dial()
	c.reply()
	c.send("EHLO x\r\nQUIT\r\n")
	c.reply()
	if r := c.reply(); r != "554 5.5.0 Error: SMTP protocol synchronization" {
		t.Fatalf("got %q", r)
	}
}

func TestLongCommandLineCut(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.greet()
	c.expect("NOOP "+strings.Repeat("x", 100000), "250 2.0.0 Ok")
	c.expect("MAIL FROM:<a\x00b@example.org>", "501 5.1.7 Bad sender address syntax")
	c.expect("QUIT", "221 2.0.0 Bye")
}

func TestLostConnectionInData(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<pfa@mx.example.test>", "250 2.1.5 Ok")
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: x\r\n\r\npartial")
	c.c.Close()
	h.waitLog(`lost connection after DATA \(19 bytes\) from unknown\[127\.0\.0\.1\]`)
	h.waitLog(`disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4`)
	if len(h.cleanup.queued()) != 0 {
		t.Fatal("partial message queued")
	}
}
