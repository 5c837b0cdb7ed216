package smtp

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func newBufWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }

func newLineReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in, str, dsn string
		code         int
		bad          bool
	}{
		{"250 2.0.0 Ok: queued as 4F1A2\r\n", "250 2.0.0 Ok: queued as 4F1A2", "2.0.0", 250, false},
		{"550-5.1.1 first\r\n550 5.1.1 second\r\n", "550-5.1.1 first 550 5.1.1 second", "5.1.1", 550, false},
		{"250-mx.example\n250-PIPELINING\n250 SIZE 1000\n", "250-mx.example 250-PIPELINING 250 SIZE 1000", "2.0.0", 250, false},
		{"451 Try later\r\n", "451 Try later", "4.0.0", 451, false},
		{"550 4.1.1 class mismatch\r\n", "550 4.1.1 class mismatch", "5.1.1", 550, false},
		{"220\r\n", "220", "2.0.0", 220, false},
		{"250 2.1.5x not a code\r\n", "250 2.1.5x not a code", "2.0.0", 250, false},
		{"250-a\r\n251 b\r\n", "", "", 0, true},
		{"25 x\r\n", "", "", 0, true},
		{"xyz\r\n", "", "", 0, true},
		{"650 x\r\n", "", "", 0, true},
		{"250-unterminated\r\n", "", "", 0, true},
		{"250_x\r\n", "", "", 0, true},
	} {
		r, err := ParseReply(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error (%+v)", tc.in, r)
			}
			continue
		}
		if err != nil || r.String() != tc.str || r.DSN != tc.dsn || r.Code != tc.code {
			t.Errorf("%q: %+v %v", tc.in, r, err)
		}
	}
	if _, err := ParseReply("250 " + strings.Repeat("x", maxReplyLine+10) + "\r\n"); err == nil {
		t.Error("overlong line accepted")
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"250 2.0.0 Ok\r\n", "550-5.1.1 a\r\n550 5.1.1 b\r\n", "250-x\n250 y\n", "421 4.3.2 bye\r\n", "354 go ahead\r\n",
		"250 2.1.5\r\n", "500\r\n", "250-\r\n250 \r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReply(s)
		if err != nil {
			return
		}
		if r.Code < 200 || r.Code > 599 || len(r.Lines) == 0 || len(r.DSN) < 5 || r.DSN[0] != byte('0'+r.Code/100) {
			t.Fatalf("%q: bad reply %+v", s, r)
		}
		for _, l := range r.Lines {
			if strings.ContainsAny(l, "\n") || !strings.HasPrefix(l, r.String()[:3]) {
				t.Fatalf("%q: bad line %q", s, l)
			}
		}
		if d := dsnLen(r.DSN); d != len(r.DSN) && r.Class() != 3 {
			t.Fatalf("%q: bad DSN %q", s, r.DSN)
		}
	})
}
