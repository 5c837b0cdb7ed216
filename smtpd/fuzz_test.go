package smtpd

import (
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzParsePathArg: the MAIL/RCPT argument parser never panics, and what
// it accepts has no control characters in the parameters.
func FuzzParsePathArg(f *testing.F) {
	for _, s := range []string{"FROM:<a@b> SIZE=10 BODY=8BITMIME", "TO:<\"x y\"@b> NOTIFY=SUCCESS ORCPT=rfc822;a+2Bb@c", "FROM:<>", "FROM:a@b", "TO:<@h1,@h2:u@d>", "FROM:<\"a>b\"@c> X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, kw := range []string{"FROM:", "TO:"} {
			_, _, params, err := parsePathArg(arg, kw, false)
			if err != nil {
				continue
			}
			for _, p := range params {
				if strings.ContainsAny(p.Key, " \t") {
					t.Fatalf("blank in parameter %q", p.Key)
				}
			}
			parseNotify(arg)
			parseORCPT(arg)
			_ = xtextOK(arg)
		}
		splitCommand(arg)
		printable(arg)
	})
}

// FuzzSession drives whole sessions with arbitrary client input: the
// server must neither panic nor hang, and must answer.
func FuzzSession(f *testing.F) {
	f.Add("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@mx.example.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n")
	f.Add("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@mx.example.test>\r\nBDAT 3 LAST\r\nabcQUIT\r\n")
	f.Add("HELO x\nAUTH PLAIN\r\nSTARTTLS\r\nVRFY <\r\nETRN #\r\n\x00\r\n")
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, in string) {
		conn, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		c := &client{t: t, c: conn, br: newReader(conn)}
		c.reply()
		c.send(in + "\r\nQUIT\r\n")
		c.c.(interface{ CloseWrite() error }).CloseWrite()
		for c.reply() != "EOF" {
		}
	})
}
