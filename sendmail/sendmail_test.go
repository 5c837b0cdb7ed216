package sendmail

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Options
	}{
		{"sendmail", []string{"-t", "-i"}, Options{Mode: 'm', Extract: true, IgnoreDot: true}},
		{"sendmail", []string{"-oi", "-oem", "--", "a@b", "-f"}, Options{Mode: 'm', IgnoreDot: true, Recipients: []string{"a@b", "-f"}}},
		{"sendmail", []string{"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "user"},
			Options{Mode: 'm', FullName: "CronDaemon", FullNameSet: true, IgnoreDot: true, Encoding: "8bit", Recipients: []string{"user"}}},
		{"sendmail", []string{"-f", "s@x", "r1", "-r", "t@y", "r2"},
			Options{Mode: 'm', Sender: "t@y", SenderSet: true, Recipients: []string{"r1", "r2"}}},
		{"sendmail", []string{"-f", "", "r"}, Options{Mode: 'm', SenderSet: true, Recipients: []string{"r"}}},
		{"sendmail", []string{"-N", "success,delay", "-R", "hdrs", "-V", "ENV123", "x"},
			Options{Mode: 'm', Notify: 10, Ret: 2, EnvID: "ENV123", Recipients: []string{"x"}}},
		{"sendmail", []string{"-N", "bogus", "x"}, Options{Mode: 'm', Recipients: []string{"x"},
			Warnings: []string{`unknown DSN NOTIFY command value "bogus" in "bogus"`, "bad -N option value -- ignored"}}},
		{"sendmail", []string{"-Rjunk", "x"}, Options{Mode: 'm', Recipients: []string{"x"}, Warnings: []string{"bad -R option value -- ignored"}}},
		{"sendmail", []string{"-XV", "x"}, Options{Mode: 'm', VERP: true, Recipients: []string{"x"}}},
		{"sendmail", []string{"-XV-=", "x"}, Options{Mode: 'm', VERP: true, VERPDelims: "-=", Recipients: []string{"x"}}},
		{"sendmail", []string{"-o", "DeliveryMode", "b", "rcpt"}, Options{Mode: 'm', Recipients: []string{"b", "rcpt"}}},
		{"sendmail", []string{"-oAhash:/x", "-bi"}, Options{Mode: 'i', AliasDB: "hash:/x"}},
		{"sendmail", []string{"-C/etc/x/main.cf", "-G", "-v", "-v"}, Options{Mode: 'm', ConfigDir: "/etc/x", Gateway: true, Verbose: 2}},
		{"sendmail", []string{"-bp"}, Options{Mode: 'p'}},
		{"sendmail", []string{"-bs"}, Options{Mode: 's'}},
		{"sendmail", []string{"-bd"}, Options{Mode: 'd'}},
		{"sendmail", []string{"-bl"}, Options{Mode: 'd'}},
		{"sendmail", []string{"-bH"}, Options{Mode: 'h'}},
		{"sendmail", []string{"-q"}, Options{Mode: 'q'}},
		{"sendmail", []string{"-q30m"}, Options{Mode: 'h'}},
		{"sendmail", []string{"-qRsite"}, Options{Mode: 'R', QueueArg: "site"}},
		{"sendmail", []string{"-qIABC"}, Options{Mode: 'I', QueueArg: "ABC"}},
		{"sendmail", []string{"-I"}, Options{Mode: 'i'}},
		{"sendmail", []string{"-bv", "x"}, Options{Mode: 'v', Recipients: []string{"x"}}},
		{"sendmail", []string{"-L", "lbl", "-U", "-m", "-Am", "-h", "5", "-c", "-x", "-e", "x", "-p", "x", "-O", "a=b", "r"}, Options{Mode: 'm', Recipients: []string{"r"}}},
		{"sendmail", []string{""}, Options{Mode: 'm', Recipients: []string{""}}},
		{"mailq", nil, Options{Mode: 'p'}},
		{"newaliases", nil, Options{Mode: 'i'}},
	}
	for _, tt := range tests {
		got, err := ParseArgs(tt.name, tt.args)
		if err != nil {
			t.Errorf("%s %q: %v", tt.name, tt.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%s %q:\n got %+v\nwant %+v", tt.name, tt.args, *got, tt.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
		pre  int
	}{
		{[]string{"-Z"}, "usage: sendmail [options]", 2},
		{[]string{"-f"}, "usage: sendmail [options]", 2},
		{[]string{"-n"}, "-n option not supported", 0},
		{[]string{"-B", "9BIT"}, "-B option needs 8BITMIME or 7BIT", 0},
		{[]string{"-XVab"}, "-V requires two characters from -=+", 0},
		{[]string{"-X", "/tmp/log"}, "unsupported: -X/", 0},
		{[]string{"-bD"}, "unsupported: -bD", 0},
		{[]string{"-bt"}, "unsupported: -bt", 0},
		{[]string{"-q", "rcpt"}, "flush queue mode requires no recipient", 0},
		{[]string{"-qR"}, "specify: -qRsitename", 0},
		{[]string{"-qSx"}, "-qS is not implemented", 0},
		{[]string{"-bv", "-t"}, "-t option cannot be used with -bv", 0},
		{[]string{"-bv", "-v", "x"}, "-v option cannot be used with -bv", 0},
		{[]string{"-bv", "-Nsuccess", "x"}, "-N option cannot be used with -bv", 0},
	}
	for _, tt := range tests {
		_, err := ParseArgs("sendmail", tt.args)
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Text != tt.want || len(ue.Pre) != tt.pre {
			t.Errorf("%q: got %#v, want %q", tt.args, err, tt.want)
		}
	}
	_, err := ParseArgs("sendmail", []string{"-Z"})
	if ue := err.(*UsageError); ue.Pre[0] != "sendmail: invalid option -- 'Z'" {
		t.Errorf("pre = %q", ue.Pre)
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name      string
		f         Filter
		in, out   string
		rcpts     []string
		wantError error
	}{
		{"lf", Filter{}, "Subject: x\n\nbody\n", "Subject: x\n\nbody\n", nil, nil},
		{"crlf", Filter{}, "Subject: x\r\n\r\nbody\r\nline2\r\n", "Subject: x\n\nbody\nline2\n", nil, nil},
		{"mixed", Filter{}, "A: 1\r\nB: 2\n\nx\r\n", "A: 1\nB: 2\n\nx\n", nil, nil},
		{"never", Filter{LineEndings: "never"}, "A: 1\r\n\nx\r\n", "A: 1\r\n\nx\r\n", nil, nil},
		{"strict lf keeps cr", Filter{LineEndings: "strict"}, "A: 1\nB: 2\r\n", "A: 1\nB: 2\r\n", nil, nil},
		{"strict crlf", Filter{LineEndings: "strict"}, "A: 1\r\nB: 2\n", "A: 1\nB: 2\n", nil, nil},
		{"no final newline", Filter{}, "A: 1\n\nlast", "A: 1\n\nlast\n", nil, nil},
		{"lone dot ends", Filter{}, "A: 1\n\nx\n.\nrest\n", "A: 1\n\nx\n", nil, nil},
		{"lone dot crlf", Filter{}, "A: 1\r\n\r\nx\r\n.\r\nrest\r\n", "A: 1\n\nx\n", nil, nil},
		{"dot kept with -i", Filter{IgnoreDot: true}, "A: 1\n\nx\n.\n..double\nrest\n", "A: 1\n\nx\n.\n..double\nrest\n", nil, nil},
		{"no unstuffing", Filter{}, "\n..double\n", "\n..double\n", nil, nil},
		{"from lines dropped", Filter{}, "From a@b Sat\n>From x\nA: 1\n\nFrom me\n", "A: 1\n\nFrom me\n", nil, nil},
		{"empty", Filter{}, "", "", nil, nil},
		{"extract", Filter{Extract: true},
			"To: t1@x, \"T Two\" <t2@x>\nCc: c1@x (comment)\nBcc: b1@x\nSubject: s\n\nTo: notme@x\n",
			"To: t1@x, \"T Two\" <t2@x>\nCc: c1@x (comment)\nSubject: s\n\nTo: notme@x\n",
			[]string{"t1@x", "t2@x", "c1@x", "b1@x"}, nil},
		{"extract folded bcc", Filter{Extract: true},
			"Bcc: b1@x,\n\tb2@x\nTO: t@x\nSubject: s\n\nb\n",
			"TO: t@x\nSubject: s\n\nb\n",
			[]string{"b1@x", "b2@x", "t@x"}, nil},
		{"resent wins", Filter{Extract: true},
			"To: t@x\nResent-To: r1@x\nResent-Bcc: rb@x\nBcc: b@x\n\nbody\n",
			"To: t@x\nResent-To: r1@x\n\nbody\n",
			[]string{"r1@x", "rb@x"}, nil},
		{"group and unqualified", Filter{Extract: true},
			"To: friends: a@x, b;, plain\n\n",
			"To: friends: a@x, b;, plain\n\n",
			[]string{"a@x", "b", "plain"}, nil},
		{"headers end at non-header", Filter{Extract: true},
			"To: a@x\nnot a header\nBcc: b@x\n",
			"To: a@x\nnot a header\nBcc: b@x\n",
			[]string{"a@x"}, nil},
		{"bcc not removed without -t", Filter{}, "Bcc: b@x\n\n", "Bcc: b@x\n\n", nil, nil},
		{"too big", Filter{Limit: 10}, "Subject: 0123456789\n", "", nil, ErrTooBig},
		{"limit exact", Filter{Limit: 6}, "12345\n", "12345\n", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			f := tt.f
			err := f.Run(strings.NewReader(tt.in), &out)
			if !errors.Is(err, tt.wantError) || (err != nil) != (tt.wantError != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantError)
			}
			if err != nil {
				return
			}
			if out.String() != tt.out {
				t.Errorf("out = %q, want %q", out.String(), tt.out)
			}
			if f.Size != int64(out.Len()) {
				t.Errorf("Size = %d, wrote %d", f.Size, out.Len())
			}
			if !reflect.DeepEqual(f.Recipients, tt.rcpts) {
				t.Errorf("rcpts = %q, want %q", f.Recipients, tt.rcpts)
			}
		})
	}
}

func TestParseAddressList(t *testing.T) {
	tests := map[string][]string{
		"a@b":                             {"a@b"},
		"A <a@b>, \"x, y\" <c@d>":         {"a@b", "c@d"},
		"tab\tx@down.example.test":        {"x@down.example.test"},
		"(c) a@b (d), ,":                  {"a@b"},
		"<@r1,@r2:u@h>":                   {"u@h"},
		"g: a@b, c@d;":                    {"a@b", "c@d"},
		"":                                nil,
		"<>":                              nil,
		"\"quoted local\"@h":              {"local@h"},
		"Name\r\n <folded@x>":             {"folded@x"},
		"undisclosed-recipients:;":        nil,
		"a@b,\n\tc@d":                     {"a@b", "c@d"},
		"\"Last, First\" <lf@x>, x@y (z)": {"lf@x", "x@y"},
	}
	for in, want := range tests {
		if got := ParseAddressList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestCleanSender(t *testing.T) {
	for in, want := range map[string]string{"": "", "<>": "", "bob": "bob", "<a@b>": "a@b", "bad address with spaces": "bad"} {
		if got := cleanSender(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// FuzzFilter checks the invariants of the -t header handling on any input:
// no panic, Size matches the output, with line ending fixing there is no
// CR before LF, every line ends in LF, no Bcc header survives in the
// header block, and extracted addresses are trimmed and non-empty.
func FuzzFilter(f *testing.F) {
	f.Add([]byte("To: a@b\r\nBcc: c@d\n\tx@y\nResent-Cc: <r@s>\n\nbody\n.\n"), false)
	f.Add([]byte("From x\nCc: \"q,\" <a@b>, g: h@i;\n"), true)
	f.Fuzz(func(t *testing.T, in []byte, ignoreDot bool) {
		var out bytes.Buffer
		fl := &Filter{Extract: true, IgnoreDot: ignoreDot}
		if err := fl.Run(bytes.NewReader(in), &out); err != nil {
			t.Fatal(err)
		}
		b := out.Bytes()
		if fl.Size != int64(len(b)) {
			t.Fatalf("Size %d, len %d", fl.Size, len(b))
		}
		if bytes.Contains(b, []byte("\r\n")) {
			t.Fatalf("CRLF in output %q", b)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Fatalf("output does not end in LF: %q", b)
		}
		sawHeader := false
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l == "\n" || l == "" {
				break
			}
			if (l[0] == ' ' || l[0] == '\t') && sawHeader {
				continue
			}
			n := strings.ToLower(headerName([]byte(l)))
			if n == "" {
				break
			}
			sawHeader = true
			if n == "bcc" || n == "resent-bcc" {
				t.Fatalf("Bcc header survived: %q", b)
			}
		}
		for _, a := range fl.Recipients {
			if a == "" || strings.TrimSpace(a) != a {
				t.Fatalf("bad recipient %q from %q", a, in)
			}
		}
	})
}
