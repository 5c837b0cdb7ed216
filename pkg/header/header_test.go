package header

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// split runs a message through a Splitter in chunks of n bytes and
// returns a transcript: H[...] per header, E(blank) at the end of the
// header block, then the body.
func split(msg string, n, limit int) string {
	var out strings.Builder
	s := &Splitter{
		Limit: limit,
		Header: func(f *Field) error {
			t := ""
			if f.Truncated {
				t = "T"
			}
			fmt.Fprintf(&out, "H%s[%s|%s]", t, f.Name, f.Value)
			return nil
		},
		EndHeaders: func(blank bool) error { fmt.Fprintf(&out, "E(%v)", blank); return nil },
		Body:       func(p []byte) error { out.Write(p); return nil },
	}
	b := []byte(msg)
	for len(b) > 0 {
		k := min(n, len(b))
		s.Write(b[:k])
		b = b[k:]
	}
	s.Close()
	return out.String()
}

func TestSplitter(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Subject: a\nTo: b\n\nbody\n", "H[Subject| a]H[To| b]E(true)body\n"},
		{"Subject: a\n folded\n\tagain\n\nx\n", "H[Subject| a\n folded\n\tagain]E(true)x\n"},
		{"hello world\nmore\n", "E(false)hello world\nmore\n"},
		{"Subject: a\nnot a header\n", "H[Subject| a]E(false)not a header\n"},
		{" starts folded\n", "E(false) starts folded\n"},
		{"", "E(false)"},
		{"Subject: no newline", "H[Subject| no newline]E(false)"},
		{"Subject: x\n\nbody without LF", "H[Subject| x]E(true)body without LF\n"},
		{"X-Sp ace : v\n\n", "H[X-Sp|ace : v]E(true)"}, // "X-Sp ace" is not a name
		{"Name  : v\n\n", "H[Name| v]E(true)"},
		{":no name\n", "E(false):no name\n"},
		{"Bad\x01: v\n", "E(false)Bad\x01: v\n"},
		{"From: a\n\n\nsecond blank kept\n", "H[From| a]E(true)\nsecond blank kept\n"},
	} {
		for _, n := range []int{1, 3, 1000} {
			got := split(c.in, n, 1000)
			// "X-Sp ace : v" is not a header at all.
			if c.in == "X-Sp ace : v\n\n" {
				c.want = "E(false)X-Sp ace : v\n\n"
			}
			if got != c.want {
				t.Errorf("split(%q, %d) = %q, want %q", c.in, n, got, c.want)
			}
		}
	}
}

func TestSplitterHeaderSizeLimit(t *testing.T) {
	long := "Subject: " + strings.Repeat("x", 50) + "\n" + " " + strings.Repeat("y", 50) + "\nTo: a\n\nbody\n"
	got := split(long, 7, 40)
	want := "HT[Subject| " + strings.Repeat("x", 31) + "]H[To| a]E(true)body\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// An overlong first line that is not a header is body, whole.
	body := strings.Repeat("z", 100) + "\n"
	if got := split(body, 9, 40); got != "E(false)"+body {
		t.Errorf("overlong body line: %q", got)
	}
	// An overlong header line alone.
	if got := split("X: "+strings.Repeat("q", 100)+"\n\nb\n", 5, 20); got != "HT[X| "+strings.Repeat("q", 17)+"]E(true)b\n" {
		t.Errorf("overlong header: %q", got)
	}
}

func TestNameLen(t *testing.T) {
	for _, c := range []struct {
		in          string
		name, colon int
	}{
		{"To: x", 2, 3}, {"To :x", 2, 4}, {"To", 0, 0}, {": x", 0, 0}, {"A b: x", 0, 0}, {"\xe9: x", 0, 0},
	} {
		n, col := NameLen([]byte(c.in))
		if n != c.name || col != c.colon {
			t.Errorf("NameLen(%q) = %d,%d want %d,%d", c.in, n, col, c.name, c.colon)
		}
	}
}

func TestDate(t *testing.T) {
	utc := time.Date(2026, 11, 21, 23, 20, 55, 0, time.UTC)
	if got := Date(utc); got != "Sat, 21 Nov 2026 23:20:55 +0000 (UTC)" {
		t.Errorf("Date = %q", got)
	}
	est := time.FixedZone("EST", -5*3600)
	if got := Date(time.Date(1996, 12, 9, 5, 38, 26, 0, est)); got != "Mon,  9 Dec 1996 05:38:26 -0500 (EST)" {
		t.Errorf("Date = %q", got)
	}
}

func rewriteAll(v string, f func(string) string) (addrs []string, out string) {
	l, ok := ParseAddressList(v)
	if !ok {
		return nil, "(too many tokens)"
	}
	addrs = l.Addresses()
	n := make([]string, len(addrs))
	for i, a := range addrs {
		n[i] = f(a)
	}
	l.SetAddresses(n)
	return addrs, string(l.Format("To"))
}

func qualify(a string) string {
	if a == "" || strings.Contains(a, "@") {
		return a
	}
	return a + "@example.test"
}

func TestAddressList(t *testing.T) {
	for _, c := range []struct{ in, addrs, out string }{
		{" alsounq", "alsounq", "To: alsounq@example.test\n"},
		{" a@b,c", "a@b|c", "To: a@b, c@example.test\n"},
		{" Sender One <s1>", "s1", "To: Sender One <s1@example.test>\n"},
		{" \"Doe, John\" <jd>, x@y (Comment)", "jd|x@y", "To: \"Doe, John\" <jd@example.test>, x@y (Comment)\n"},
		{" John Q. Public <jqp@x>", "jqp@x", "To: John Q. Public <jqp@x>\n"},
		{" \"a b\"@x", "a b@x", "To: \"a b\"@x\n"},
		{" \"a b\"", "a b", "To: \"a b\"@example.test\n"},
		{" undisclosed-recipients:;", "", "To: undisclosed-recipients:;\n"},
		{" team: a, b;", "a|b", "To: team: a@example.test, b@example.test;\n"},
		{" <>", "", "To: <>\n"},
		{" <@hop:u@d>", "@hop:u@d", "To: <@hop:u@d>\n"},
		{" y@sub.pfref.test, z@keep.pfref.test, root@host.pfref.test, w@a.keep.pfref.test",
			"y@sub.pfref.test|z@keep.pfref.test|root@host.pfref.test|w@a.keep.pfref.test",
			"To: y@sub.pfref.test, z@keep.pfref.test, root@host.pfref.test,\n\tw@a.keep.pfref.test\n"},
		{" a,\n b", "a|b", "To: a@example.test, b@example.test\n"},
	} {
		addrs, out := rewriteAll(c.in, qualify)
		if strings.Join(addrs, "|") != c.addrs || out != c.out {
			t.Errorf("%q: addrs %q out %q, want %q %q", c.in, strings.Join(addrs, "|"), out, c.addrs, c.out)
		}
	}
}

func TestTokenLimit(t *testing.T) {
	v := strings.Repeat("a,", TokenLimit)
	if _, ok := ParseAddressList(v); ok {
		t.Error("token limit not enforced")
	}
}

func TestQuoteAddress(t *testing.T) {
	for in, want := range map[string]string{
		"a@b": "a@b", "a b@c": "\"a b\"@c", "a\"b@c": "\"a\\\"b\"@c", ".a@b": "\".a\"@b", "a.b@c": "a.b@c", "": "", "x": "x",
	} {
		if got := QuoteAddress(in); got != want {
			t.Errorf("QuoteAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add([]byte("Subject: a\n b\nTo: x\n\nbody\n"), 3)
	f.Add([]byte("no header\n"), 1)
	f.Add([]byte("X: "+strings.Repeat("y", 300)+"\n\n"), 7)
	f.Fuzz(func(t *testing.T, msg []byte, n int) {
		if n <= 0 {
			n = 1
		}
		var hdr, body bytes.Buffer
		ends := 0
		s := &Splitter{
			Limit: 64,
			Header: func(f *Field) error {
				if len(f.Raw) > 65 || f.Raw[len(f.Raw)-1] != '\n' || f.Name == "" {
					t.Fatalf("bad field %q", f.Raw)
				}
				hdr.Write(f.Raw)
				return nil
			},
			EndHeaders: func(bool) error { ends++; return nil },
			Body:       func(p []byte) error { body.Write(p); return nil },
		}
		for b := msg; len(b) > 0; {
			k := min(n, len(b))
			s.Write(b[:k])
			b = b[k:]
		}
		s.Close()
		if ends != 1 {
			t.Fatalf("EndHeaders called %d times", ends)
		}
		if body.Len() > 0 && body.Bytes()[body.Len()-1] != '\n' {
			t.Fatalf("body does not end in LF")
		}
		// Without truncation, nothing is lost but the separator.
		if len(msg) < 60 && hdr.Len()+body.Len() < len(msg)-1 {
			t.Fatalf("lost bytes: %q -> %q + %q", msg, hdr.Bytes(), body.Bytes())
		}
	})
}

func FuzzAddressList(f *testing.F) {
	f.Add(" a@b, \"c d\" <e@f>, g: h;, (x) i@j")
	f.Add(" <@a,@b:c@d>, \"unterminated")
	f.Fuzz(func(t *testing.T, v string) {
		l, ok := ParseAddressList(v)
		if !ok {
			return
		}
		addrs := l.Addresses()
		n := make([]string, len(addrs))
		for i, a := range addrs {
			n[i] = qualify(a)
		}
		l.SetAddresses(n)
		out := l.Format("To")
		if !bytes.HasPrefix(out, []byte("To: ")) || out[len(out)-1] != '\n' {
			t.Fatalf("bad output %q", out)
		}
		// The regenerated header parses to the same number of addresses.
		l2, ok := ParseAddressList(string(out[3 : len(out)-1]))
		if ok && len(l2.Addresses()) != len(addrs) && !strings.ContainsAny(v, "\"()[]\\<>:;") {
			t.Fatalf("%q -> %q: %d addresses, then %d", v, out, len(addrs), len(l2.Addresses()))
		}
	})
}
