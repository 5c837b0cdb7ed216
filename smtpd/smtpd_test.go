package smtpd

import (
	"strings"
	"testing"
)

func TestEHLOListAsPostfix(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.reply()
	c.expect("EHLO client.example.test", strings.Join([]string{
		"250-mx.example.test",
		"250-PIPELINING",
		"250-SIZE 10240000",
		"250-VRFY",
		"250-ETRN",
		"250-ENHANCEDSTATUSCODES",
		"250-8BITMIME",
		"250-DSN",
		"250-SMTPUTF8",
		"250 CHUNKING"}, "\n"))
	c.expect("HELO client.example.test", "250 mx.example.test")
	c.expect("QUIT", "221 2.0.0 Bye")
	h.waitLog(`disconnect from unknown\[127\.0\.0\.1\] helo=1 ehlo=1 quit=1 commands=3`)
}

func TestEHLOWithoutVRFYAndSize(t *testing.T) {
	h := newHarness(t, "disable_vrfy_command=yes", "message_size_limit=0", "smtputf8_enable=no")
	c := h.dial()
	c.reply()
	c.expect("EHLO x", "250-mx.example.test\n250-PIPELINING\n250-SIZE\n250-ETRN\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250 CHUNKING")
	c.expect("VRFY x@y", "502 5.5.1 VRFY command is disabled")
}

func TestMessageQueued(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<alice@client.example.test> BODY=8BITMIME", "250 2.1.0 Ok")
	c.expect("RCPT TO:<bob@mx.example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@mx.example.test", "250 2.1.5 Ok")
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n")
	if r := c.reply(); r != "250 2.0.0 Ok: queued as 4A001" {
		t.Fatalf("end of data: %q", r)
	}
	c.expect("QUIT", "221 2.0.0 Bye")
	h.waitLog(`disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5`)
	q := h.cleanup.queued()
	if len(q) != 1 {
		t.Fatalf("%d messages queued", len(q))
	}
	m := q[0]
	if m.env.Sender != "alice@client.example.test" || m.env.Origin != "smtpd" || m.env.RewriteContext != "remote" {
		t.Errorf("envelope %+v", m.env)
	}
	attrs := map[string]string{}
	for _, a := range m.env.Attrs {
		attrs[a.Name] = a.Value
	}
	for k, v := range map[string]string{"client_name": "unknown", "client_address": "127.0.0.1", "helo_name": "client.example.test", "protocol_name": "ESMTP", "encoding": "8bit"} {
		if attrs[k] != v {
			t.Errorf("attr %s = %q, want %q", k, attrs[k], v)
		}
	}
	if len(m.rcpts) != 1 || m.rcpts[0].Address != "bob@mx.example.test" || m.rcpts[0].Notify != notifySuccess|notifyFailure || m.rcpts[0].Orcpt != "rfc822;bob@mx.example.test" {
		t.Errorf("recipients %+v", m.rcpts)
	}
	got := m.content.String()
	lines := strings.SplitN(got, "\n", 4)
	if lines[0] != "Received: from client.example.test (unknown [127.0.0.1])" ||
		lines[1] != "\tby mx.example.test (Postern) with ESMTP id 4A001" ||
		!strings.HasPrefix(lines[2], "\tfor <bob@mx.example.test>; ") ||
		lines[3] != "Subject: hi\n\n.dot\nbody\n" {
		t.Errorf("content:\n%s", got)
	}
	h.waitLog(`4A001: client=unknown\[127\.0\.0\.1\]\n`)
}

func TestCommandErrors(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.greet()
	for _, tc := range [][2]string{
		{"RCPT TO:<a@b>", "503 5.5.1 Error: need RCPT command"[:0] + "503 5.5.1 Error: need MAIL command"},
		{"DATA", "503 5.5.1 Error: need RCPT command"},
		{"FOO", "500 5.5.2 Error: command not recognized"},
		{"HELP", "500 5.5.2 Error: command not recognized"},
		{"MAIL FROM:<bad address>", "501 5.1.7 Bad sender address syntax"},
		{"MAIL TO:<a@b>", "501 5.5.4 Syntax: MAIL FROM:<address>"},
		{"MAIL FROM:<a@b> FOO=BAR", "555 5.5.4 Unsupported option: FOO=BAR"},
		{"MAIL FROM:<a@b> BODY=BINARYMIME", "555 5.5.4 Unsupported option: BODY=BINARYMIME"},
		{"MAIL FROM:<a@b> RET=XX", "501 5.5.4 Error: Bad RET parameter syntax"},
		{"MAIL FROM:<a@b> SIZE=20000000", "552 5.3.4 Message size exceeds fixed limit"},
		{"MAIL FROM:a@example.org", "250 2.1.0 Ok"},
		{"MAIL FROM:<a@b>", "503 5.5.1 Error: nested MAIL command"},
		{"RCPT TO:<bad address>", "501 5.1.3 Bad recipient address syntax"},
		{"RCPT TO:<x@mx.example.test> NOTIFY=NEVER,SUCCESS", "501 5.5.4 Error: Bad NOTIFY parameter syntax"},
		{"STARTTLS", "502 5.5.1 Error: command not implemented"},
		{"AUTH PLAIN", "503 5.5.1 Error: authentication not enabled"},
		{"ETRN example.test", "503 5.5.1 Error: MAIL transaction in progress"},
		{"RSET", "250 2.0.0 Ok"},
		{"NOOP", "250 2.0.0 Ok"},
		{"ETRN example.test", "459 <example.test>: service unavailable"},
		{"VRFY", "501 5.5.4 Syntax: VRFY address"},
		{"VRFY pfa", "252 2.0.0 pfa"},
		{"HELO", "501 Syntax: HELO hostname"},
	} {
		c.expect(tc[0], tc[1])
	}
	c.expect("QUIT", "221 2.0.0 Bye")
	h.waitLog(`NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.1\]: 552 5\.3\.4 Message size exceeds fixed limit; from=<a@b> proto=ESMTP helo=<client\.example\.test>`)
}

func TestNonSMTPCommand(t *testing.T) {
	h := newHarness(t)
	c := h.dial()
	c.reply()
	c.expect("GET / HTTP/1.0", "221 2.7.0 Error: I can break rules, too. Goodbye.")
	if r := c.reply(); r != "EOF" {
		t.Errorf("not disconnected: %q", r)
	}
	h.waitLog(`warning: non-SMTP command from unknown\[127\.0\.0\.1\]: GET / HTTP/1\.0`)
}

func TestRelayDeniedFromOutside(t *testing.T) {
	h := newHarness(t, "mynetworks=10.99.99.0/24")
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<someone@elsewhere.test>", "454 4.7.1 <someone@elsewhere.test>: Relay access denied")
	c.expect("RCPT TO:<local@mx.example.test>", "250 2.1.5 Ok")
	c.expect("QUIT", "221 2.0.0 Bye")
	h.waitLog(`NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 454 4\.7\.1 <someone@elsewhere\.test>: Relay access denied; from=<a@client\.example\.test> to=<someone@elsewhere\.test> proto=ESMTP helo=<client\.example\.test>`)
	h.waitLog(`disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1/2 quit=1 commands=4/5`)
	if len(h.cleanup.queued()) != 0 {
		t.Error("message queued after QUIT")
	}
}
