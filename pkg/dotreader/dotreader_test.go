package dotreader

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

func read(t testing.TB, in string, bufSize int) (out string, rest string, bare bool, err error) {
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	d := New(br)
	var b bytes.Buffer
	p := make([]byte, bufSize)
	for {
		n, e := d.Read(p)
		b.Write(p[:n])
		if e != nil {
			if e != io.EOF {
				err = e
			}
			break
		}
	}
	r, _ := io.ReadAll(br)
	return b.String(), string(r), d.BareLF(), err
}

func TestDotReader(t *testing.T) {
	for _, tc := range []struct {
		name, in, out, rest string
		bare                bool
		err                 bool
	}{
		{"plain", "a\r\nb\r\n.\r\nQUIT\r\n", "a\nb\n", "QUIT\r\n", false, false},
		{"empty message", ".\r\nQUIT\r\n", "", "QUIT\r\n", false, false},
		{"dot stuffing", "..x\r\n..\r\n.\r\n", ".x\n.\n", "", false, false},
		{"CRLF.LF does not end", "a\r\n.\nMAIL FROM:<e>\r\n.\r\n", "a\nMAIL FROM:<e>\n", "", true, false},
		{"LF.CRLF does not end", "a\n.\r\nMAIL FROM:<e>\r\n.\r\n", "a\nMAIL FROM:<e>\n", "", true, false},
		{"CR.CR does not end", "a\r.\r\nb\r\n.\r\n", "a\r.\nb\n", "", false, false},
		{"LF.LF does not end", "a\n.\nb\r\n.\r\n", "a\nb\n", "", true, false},
		{"bare CR kept", "a\rb\r\n\r\r\n.\r\n", "a\rb\n\r\n", "", false, false},
		{"dot CR CR", ".\r\r\n.\r\n", "\r\n", "", false, false},
		{"dot CR x", ".\rx\r\n.\r\n", "\rx\n", "", false, false},
		{"NUL passes", "a\x00b\r\n.\r\n", "a\x00b\n", "", false, false},
		{"eof", "a\r\nb", "a\nb", "", false, true},
		{"eof after dot", "a\r\n.", "a\n", "", false, true},
		{"smuggle normalize", "line one\r\nbare lf line\nmore\r\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<pfa@pfref.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\nQUIT\r\n",
			"line one\nbare lf line\nmore\nMAIL FROM:<evil@example.org>\nRCPT TO:<pfa@pfref.test>\nDATA\nSubject: smuggled\n\nx\n", "QUIT\r\n", true, false},
	} {
		for _, bs := range []int{1, 3, 4096} {
			out, rest, bare, err := read(t, tc.in, bs)
			if out != tc.out || rest != tc.rest || bare != tc.bare || (err != nil) != tc.err {
				t.Errorf("%s (buf %d): got %q rest %q bare %v err %v; want %q rest %q bare %v err %v",
					tc.name, bs, out, rest, bare, err, tc.out, tc.rest, tc.bare, tc.err)
			}
		}
	}
}

func TestLFWriter(t *testing.T) {
	var b bytes.Buffer
	w := &LFWriter{W: &b}
	for _, p := range []string{"a\r", "\nb\r", "x\n", "\r"} {
		w.Write([]byte(p))
	}
	w.Flush()
	if b.String() != "a\nb\rx\n\r" || !w.BareLF {
		t.Fatalf("got %q bare %v", b.String(), w.BareLF)
	}
}

// FuzzDotReader checks the invariants: the reader ends only at a real
// CRLF.CRLF, never returns more content than it read, and leaves the
// rest of the input unread.
func FuzzDotReader(f *testing.F) {
	f.Add([]byte("a\r\n.\nb\r\n.\r\nQUIT\r\n"))
	f.Add([]byte("\n.\r\n\r.\r\n..\r\n.\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		d := New(br)
		out, err := io.ReadAll(d)
		rest, _ := io.ReadAll(br)
		consumed := len(in) - len(rest)
		if len(out) > consumed {
			t.Fatalf("output %d bytes from %d input", len(out), consumed)
		}
		if err == nil {
			c := in[:consumed]
			if !bytes.HasSuffix(c, []byte(".\r\n")) {
				t.Fatalf("ended without .CRLF: %q", c)
			}
			if consumed > 3 && !bytes.HasSuffix(c, []byte("\r\n.\r\n")) {
				t.Fatalf("ended without CRLF.CRLF: %q", c)
			}
		}
	})
}
