package e2e

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ti "postern/internal/testinstance"
)

// raw is a byte-exact SMTP client over a socket.
type raw struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, src, addr string) *raw {
	t.Helper()
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
	t.Cleanup(func() { conn.Close() })
	r := &raw{t: t, c: conn, br: bufio.NewReader(conn)}
	r.expect("", "220 ")
	r.expect("EHLO client.example.test\r\n", "250 ")
	return r
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (r *raw) reply() string {
	r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		l, err := r.br.ReadString('\n')
		if err != nil {
			return "EOF"
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 4 || l[3] != '-' {
			return l
		}
	}
}

func (r *raw) send(s string) {
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// expect sends s (may be empty) and checks the reply's prefix.
func (r *raw) expect(s, prefix string) string {
	r.t.Helper()
	if s != "" {
		r.send(s)
	}
	got := r.reply()
	if !strings.HasPrefix(got, prefix) {
		r.t.Fatalf("after %q: %q, want %q...", s, got, prefix)
	}
	return got
}

func TestRecipientLimitEndToEnd(t *testing.T) {
	in, addr := start(t, nil)
	u := in.AddUser("ptmany")
	in.Start()
	r := dialRaw(t, "127.0.0.1", addr)
	r.expect("MAIL FROM:<a@client.example.test>\r\n", "250 2.1.0 Ok")
	var b strings.Builder
	for i := 0; i < 1001; i++ {
		b.WriteString("RCPT TO:<ptmany@mx.example.test>\r\n")
	}
	r.send(b.String()) // pipelined, as PIPELINING allows
	for i := 0; i < 1000; i++ {
		if got := r.reply(); got != "250 2.1.5 Ok" {
			t.Fatalf("RCPT %d: %q", i+1, got)
		}
	}
	r.expect("", "452 4.5.3 Error: too many recipients")
	r.expect("DATA\r\n", "354 ")
	r.expect("Subject: many\r\n\r\nx\r\n.\r\n", "250 2.0.0 Ok: queued as ")
	r.expect("QUIT\r\n", "221 2.0.0 Bye")
	// The 1,000 copies of one address are delivered once.
	in.WaitMaildir(filepath.Join(u.Home, "Maildir"), 1)
	in.WaitQueueEmpty()
	if n := len(ti.Maildir(filepath.Join(u.Home, "Maildir"))); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	in.WaitLog(`disconnect from \S+ ehlo=1 mail=1 rcpt=1000/1001 data=1 quit=1 commands=1004/1005`)
}

func TestMessageSizeLimitEndToEnd(t *testing.T) {
	in, addr := start(t, map[string]string{"message_size_limit": "10000"})
	u := in.AddUser("ptsize")
	in.Start()
	r := dialRaw(t, "127.0.0.1", addr)
	r.expect("MAIL FROM:<a@client.example.test> SIZE=20000\r\n", "552 5.3.4 Message size exceeds fixed limit")
	r.expect("MAIL FROM:<a@client.example.test>\r\n", "250 2.1.0 Ok")
	r.expect("RCPT TO:<ptsize@mx.example.test>\r\n", "250 2.1.5 Ok")
	r.expect("DATA\r\n", "354 ")
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 200) + ".\r\n"
	if got := r.expect(big, "552 "); got != "552 5.3.4 Error: message file too big" {
		t.Errorf("oversized: %q", got)
	}
	// The session goes on; a small message is accepted.
	r.expect("MAIL FROM:<a@client.example.test>\r\n", "250 2.1.0 Ok")
	r.expect("RCPT TO:<ptsize@mx.example.test>\r\n", "250 2.1.5 Ok")
	r.expect("DATA\r\n", "354 ")
	r.expect("Subject: small\r\n\r\nsmall\r\n.\r\n", "250 2.0.0 Ok: queued as ")
	r.expect("QUIT\r\n", "221 2.0.0 Bye")
	in.WaitMaildir(filepath.Join(u.Home, "Maildir"), 1)
	in.WaitQueueEmpty()
	got := ti.Maildir(filepath.Join(u.Home, "Maildir"))
	if len(got) != 1 || !strings.Contains(got[0], "Subject: small") {
		t.Errorf("delivered %d messages: %q", len(got), got)
	}
}

// Thousands of header lines are a valid message for Postfix (no count
// limit): accepted and delivered whole. One header longer than
// header_size_limit is cut at the limit, the rest of it discarded; the
// message is still delivered.
func TestHeaderFloodEndToEnd(t *testing.T) {
	in, addr := start(t, map[string]string{"header_size_limit": "20000"})
	u := in.AddUser("ptflood")
	in.Start()
	r := dialRaw(t, "127.0.0.1", addr)
	r.expect("MAIL FROM:<a@client.example.test>\r\n", "250 2.1.0 Ok")
	r.expect("RCPT TO:<ptflood@mx.example.test>\r\n", "250 2.1.5 Ok")
	r.expect("DATA\r\n", "354 ")
	var b strings.Builder
	b.WriteString("Subject: flood\r\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "X-Flood-%d: value %d\r\n", i, i)
	}
	b.WriteString("\r\nflood body\r\n.\r\n")
	r.expect(b.String(), "250 2.0.0 Ok: queued as ")

	// One header folded over 3,000 lines (~60 KB) against a 20,000-byte limit.
	r.expect("MAIL FROM:<a@client.example.test>\r\n", "250 2.1.0 Ok")
	r.expect("RCPT TO:<ptflood@mx.example.test>\r\n", "250 2.1.5 Ok")
	r.expect("DATA\r\n", "354 ")
	b.Reset()
	b.WriteString("Subject: folded\r\nX-Long: start\r\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "\tcontinuation line %05d\r\n", i)
	}
	b.WriteString("X-After: kept\r\n\r\nfolded body\r\n.\r\n")
	r.expect(b.String(), "250 2.0.0 Ok: queued as ")
	r.expect("QUIT\r\n", "221 2.0.0 Bye")

	in.WaitMaildir(filepath.Join(u.Home, "Maildir"), 2)
	in.WaitQueueEmpty()
	var flood, folded string
	for _, m := range ti.Maildir(filepath.Join(u.Home, "Maildir")) {
		switch {
		case strings.Contains(m, "Subject: flood"):
			flood = m
		case strings.Contains(m, "Subject: folded"):
			folded = m
		}
	}
	if n := strings.Count(flood, "\nX-Flood-"); n != 5000 || !strings.HasSuffix(flood, "\n\nflood body\n") {
		t.Errorf("flood: %d X-Flood headers (want 5000), ends %q", n, flood[max(0, len(flood)-40):])
	}
	h, _, _ := strings.Cut(folded, "\n\n")
	i := strings.Index(h, "X-Long: start")
	if i < 0 || strings.Contains(h, "continuation line 02999") || !strings.Contains(h, "continuation line 00000") {
		t.Errorf("folded header not cut:\n%.300s", h)
	} else if j := strings.Index(h[i:], "\nX-After:"); j < 0 || j > 20000 {
		t.Errorf("header of %d bytes kept (limit 20000), or X-After lost", j)
	}
	if !strings.Contains(folded, "\nfolded body\n") {
		t.Errorf("folded: body lost")
	}
}

// The SMTP smuggling probes over a raw socket, from a client outside
// mynetworks (so not excluded from smtpd_forbid_bare_newline): each
// session yields one message, never a second one from the smuggled
// commands.
func TestSmugglingEndToEnd(t *testing.T) {
	probes := []string{"\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\r.\r"}
	for _, mode := range []string{"normalize", "reject"} {
		t.Run(mode, func(t *testing.T) {
			in, addr := start(t, map[string]string{"mynetworks": "127.0.0.1/32", "smtpd_forbid_bare_newline": mode})
			u := in.AddUser("ptsmug")
			in.Start()
			accepted := 0
			for i, p := range probes {
				r := dialRaw(t, "127.0.0.2", addr)
				r.expect("MAIL FROM:<good@client.example.test>\r\n", "250 2.1.0 Ok")
				r.expect("RCPT TO:<ptsmug@mx.example.test>\r\n", "250 2.1.5 Ok")
				r.expect("DATA\r\n", "354 ")
				r.send(fmt.Sprintf("Subject: probe %d\r\n\r\nline one", i) + p +
					"MAIL FROM:<evil@example.org>\r\nRCPT TO:<ptsmug@mx.example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
				got := r.reply()
				switch {
				case strings.HasPrefix(got, "250 2.0.0 Ok: queued as "):
					accepted++
				case mode == "reject" && got == "550 5.5.2 mx.example.test Error: bare <LF> received":
				case mode == "reject" && strings.Contains(p, "\r") && !strings.Contains(p, "\n.\n") && strings.HasPrefix(got, "250 "):
				default:
					t.Errorf("probe %q: %q", p, got)
				}
				if got := r.expect("QUIT\r\n", ""); got != "221 2.0.0 Bye" && got != "EOF" {
					t.Errorf("probe %q: QUIT: %q", p, got)
				}
			}
			if accepted > 0 {
				in.WaitMaildir(filepath.Join(u.Home, "Maildir"), accepted)
			}
			in.WaitQueueEmpty()
			msgs := ti.Maildir(filepath.Join(u.Home, "Maildir"))
			if len(msgs) != accepted {
				t.Errorf("%d messages delivered, %d accepted", len(msgs), accepted)
			}
			for _, m := range msgs {
				if regexp.MustCompile(`(?m)^Return-Path: <evil@example\.org>|^Subject: smuggled`).MatchString(headerOf(m)) {
					t.Errorf("smuggled message delivered:\n%s", m)
				}
			}
			if in.CountLog(`from=<evil@example\.org>`) != 0 {
				t.Errorf("smuggled transaction in the log:\n%s", in.Log())
			}
		})
	}
}

func headerOf(m string) string {
	h, _, _ := strings.Cut(m, "\n\n")
	return h
}
