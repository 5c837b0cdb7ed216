package smtpd

import (
	"strings"
	"testing"

	pb "postern/proto"
)

// The access(5) actions reach the submission as Postfix applies them.
func TestAccessActions(t *testing.T) {
	h := newHarness(t, "smtpd_recipient_restrictions=check_recipient_access inline:{ "+
		"{rejme@mx.example.test=REJECT go away please}, "+
		"hold@mx.example.test=HOLD, "+
		"discard@mx.example.test=DISCARD, "+
		"{redir@mx.example.test=REDIRECT other@mx.example.test}, "+
		"{filt@mx.example.test=FILTER smtp:[127.0.0.1]:10025}, "+
		"{prep@mx.example.test=PREPEND X-Test: prepended}, "+
		"{bye@mx.example.test=421 closing down now} }")
	send := func(rcpt, want string) *fakeMsg {
		t.Helper()
		c := h.dial()
		c.greet()
		c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
		if r := c.cmd("RCPT TO:<" + rcpt + ">"); r != want {
			t.Fatalf("%s: %q, want %q", rcpt, r, want)
		}
		if want != "250 2.1.5 Ok" {
			return nil
		}
		c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
		c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
		if r := c.reply(); !strings.HasPrefix(r, "250 2.0.0 Ok: queued as ") {
			t.Fatalf("%s: end of data %q", rcpt, r)
		}
		c.expect("QUIT", "221 2.0.0 Bye")
		q := h.cleanup.queued()
		return q[len(q)-1]
	}
	send("rejme@mx.example.test", "554 5.7.1 <rejme@mx.example.test>: Recipient address rejected: go away please")
	h.waitLog(`NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <rejme@mx\.example\.test>: Recipient address rejected: go away please; from=<a@client\.example\.test> to=<rejme@mx\.example\.test> proto=ESMTP helo=<client\.example\.test>`)
	if m := send("hold@mx.example.test", "250 2.1.5 Ok"); m.env.Flags&uint32(pb.SubmitFlag_SUBMIT_FLAG_HOLD) == 0 {
		t.Error("HOLD not passed to cleanup")
	}
	h.waitLog(`NOQUEUE: hold: RCPT from unknown\[127\.0\.0\.1\]: <hold@mx\.example\.test>`)
	if m := send("discard@mx.example.test", "250 2.1.5 Ok"); m.env.Flags&uint32(pb.SubmitFlag_SUBMIT_FLAG_DISCARD) == 0 {
		t.Error("DISCARD not passed to cleanup")
	}
	if m := send("redir@mx.example.test", "250 2.1.5 Ok"); m.env.Redirect != "other@mx.example.test" {
		t.Errorf("redirect %q", m.env.Redirect)
	}
	if m := send("filt@mx.example.test", "250 2.1.5 Ok"); m.env.Filter != "smtp:[127.0.0.1]:10025" {
		t.Errorf("filter %q", m.env.Filter)
	}
	if m := send("prep@mx.example.test", "250 2.1.5 Ok"); !strings.HasPrefix(m.content.String(), "X-Test: prepended\nReceived: from client.example.test") {
		t.Errorf("prepend: %q", m.content.String())
	}
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<bye@mx.example.test>", "421 4.7.1 <bye@mx.example.test>: Recipient address rejected: closing down now")
	if r := c.reply(); r != "EOF" {
		t.Errorf("not disconnected after 421: %q", r)
	}
}

// A HOLD that comes with a later recipient restarts the submission with
// the new envelope.
func TestHoldOnSecondRecipient(t *testing.T) {
	h := newHarness(t, "smtpd_recipient_restrictions=check_recipient_access inline:{ hold@mx.example.test=HOLD }")
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<x@mx.example.test>", "250 2.1.5 Ok")
	c.expect("RCPT TO:<hold@mx.example.test>", "250 2.1.5 Ok")
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
	if r := c.reply(); r != "250 2.0.0 Ok: queued as 4A002" {
		t.Fatalf("got %q", r)
	}
	q := h.cleanup.queued()
	if len(q) != 1 || len(q[0].rcpts) != 2 || q[0].env.Flags&uint32(pb.SubmitFlag_SUBMIT_FLAG_HOLD) == 0 {
		t.Fatalf("queued %+v", q)
	}
}

func TestCleanupRejection(t *testing.T) {
	h := newHarness(t)
	h.cleanup.reject = &pb.SubmitReply{Status: 550, Dsn: "5.7.1", Text: "rejected by header check"}
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<x@mx.example.test>", "250 2.1.5 Ok")
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
	if r := c.reply(); r != "550 5.7.1 rejected by header check" {
		t.Fatalf("got %q", r)
	}
}
