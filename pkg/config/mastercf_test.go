package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func parseMaster(t *testing.T, text string) *MasterFile {
	t.Helper()
	mf, err := ParseMasterText("/x/master.cf", text)
	if err != nil {
		t.Fatalf("ParseMasterText: %v", err)
	}
	return mf
}

func TestMasterColumnsAndDefaults(t *testing.T) {
	mf := parseMaster(t, `# comment
smtp      inet  n       -       y       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
cleanup   unix  n       y       n       -       0       cleanup
postlog   unix-dgram n  -       n       -       1       postlogd
127.0.0.1:2525 inet n   -       n       -       -       smtpd
[::1]:25  inet  y       -       n       -       -       smtpd
local     unix  -       n       n       -       -       local
`)
	want := []Service{
		{Name: "smtp", Type: "inet", Private: "n", Unpriv: "-", Chroot: "y", Wakeup: "-", MaxProc: "-", Command: "smtpd", Line: 2},
		{Name: "pickup", Type: "unix", Private: "n", Unpriv: "-", Chroot: "n", Wakeup: "60", MaxProc: "1", Command: "pickup", Line: 3},
		{Name: "tlsmgr", Type: "unix", Private: "-", Unpriv: "-", Chroot: "n", Wakeup: "1000?", MaxProc: "1", Command: "tlsmgr", Line: 4},
		{Name: "cleanup", Type: "unix", Private: "n", Unpriv: "y", Chroot: "n", Wakeup: "-", MaxProc: "0", Command: "cleanup", Line: 5},
		{Name: "postlog", Type: "unix-dgram", Private: "n", Unpriv: "-", Chroot: "n", Wakeup: "-", MaxProc: "1", Command: "postlogd", Line: 6},
		{Name: "127.0.0.1:2525", Type: "inet", Private: "n", Unpriv: "-", Chroot: "n", Wakeup: "-", MaxProc: "-", Command: "smtpd", Line: 7},
		{Name: "[::1]:25", Type: "inet", Private: "y", Unpriv: "-", Chroot: "n", Wakeup: "-", MaxProc: "-", Command: "smtpd", Line: 8},
		{Name: "local", Type: "unix", Private: "-", Unpriv: "n", Chroot: "n", Wakeup: "-", MaxProc: "-", Command: "local", Line: 9},
	}
	if len(mf.Services) != len(want) {
		t.Fatalf("got %d services, want %d", len(mf.Services), len(want))
	}
	for i, s := range mf.Services {
		got := *s
		got.Args = nil
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("service %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	type sem struct {
		priv, unpriv, chroot bool
		wake                 int
		once                 bool
		procs                int
	}
	wantSem := []sem{
		{false, true, true, 0, false, 100},
		{false, true, false, 60, false, 1},
		{true, true, false, 1000, true, 1},
		{false, true, false, 0, false, 0},
		{false, true, false, 0, false, 1},
		{false, true, false, 0, false, 100},
		{false, true, false, 0, false, 100}, // inet is never private
		{true, false, false, 0, false, 100},
	}
	for i, s := range mf.Services {
		w, once := s.WakeupTime()
		got := sem{s.IsPrivate(), s.IsUnpriv(), s.IsChroot(), w, once, s.ProcessLimit(100)}
		if got != wantSem[i] {
			t.Errorf("%s: got %+v, want %+v", s.Key(), got, wantSem[i])
		}
	}
	if k := mf.Services[5].Key(); k != "127.0.0.1:2525/inet" {
		t.Errorf("Key = %q", k)
	}
}

func TestMasterArgs(t *testing.T) {
	tests := []struct {
		name, line string
		args       []string
		overrides  [][2]string
		warnings   []string
	}{
		{"short -o", "s unix - - n - - smtp -o a=b -o c=", []string{"-o", "a=b", "-o", "c="}, [][2]string{{"a", "b"}, {"c", ""}}, nil},
		{"glued -o", "s unix - - n - - smtp -oa=b", []string{"-o", "a=b"}, [][2]string{{"a", "b"}}, nil},
		{"combined -vo", "s unix - - n - - smtp -vo e=f -v", []string{"-v", "-o", "e=f", "-v"}, [][2]string{{"e", "f"}}, nil},
		{"long -o", "s unix - - n - - smtpd -o { smtpd_helo_restrictions = permit_sasl_authenticated, reject }",
			[]string{"-o", "smtpd_helo_restrictions=permit_sasl_authenticated, reject"},
			[][2]string{{"smtpd_helo_restrictions", "permit_sasl_authenticated, reject"}}, nil},
		{"glued long -o", "s unix - - n - - smtpd -o{ g = h i }", []string{"-o", "g=h i"}, [][2]string{{"g", "h i"}}, nil},
		{"non-option braces", "s unix - - n - - pipe flags=R user=x argv=/bin/cmd { a b } {c}",
			[]string{"flags=R", "user=x", "argv=/bin/cmd", "a b", "c"}, nil, nil},
		{"after --", "s unix - - n - - smtpd -o a=b -- {x y} -o c=d", []string{"-o", "a=b", "--", "x y", "-o", "c=d"}, [][2]string{{"a", "b"}}, nil},
		{"nested braces", "s unix - - n - - cmd {a {b c} d}", []string{"a {b c} d"}, nil, nil},
		{"missing brace", "s unix - - n - - smtpd { a b", []string{"a b"}, nil, []string{`master.cf: missing '}' in "{ a b"`}},
		{"text after brace", "s unix - - n - - smtpd -o {a=b}x", []string{"-o", "a=b"}, [][2]string{{"a", "b"}},
			[]string{`master.cf: syntax error after '}' in "{a=b}x"`}},
		{"no equals", "s unix - - n - - smtpd -o { x }", []string{"-o", "x"}, nil,
			[]string{`master.cf: missing '=' after attribute name: "x"`}},
		{"no name", "s unix - - n - - smtpd -o { =x }", []string{"-o", "=x"}, [][2]string{{"", "x"}},
			[]string{`master.cf: missing attribute name: "=x"`}},
		{"-o at end", "s unix - - n - - smtpd -v -o", []string{"-v", "-o"}, nil, nil},
		{"continuation", "s unix - - n - - smtpd\n  -o a=b\n# note\n\t-o { c = d\n  e }", []string{"-o", "a=b", "-o", "c=d  e"}, [][2]string{{"a", "b"}, {"c", "d  e"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := parseMaster(t, tt.line+"\n")
			if len(mf.Services) != 1 {
				t.Fatalf("got %d services", len(mf.Services))
			}
			s := mf.Services[0]
			if !reflect.DeepEqual(s.Args, tt.args) {
				t.Errorf("Args = %q, want %q", s.Args, tt.args)
			}
			if o := s.Overrides(); !reflect.DeepEqual(o, tt.overrides) {
				t.Errorf("Overrides = %q, want %q", o, tt.overrides)
			}
			if !reflect.DeepEqual(mf.Warnings, tt.warnings) {
				t.Errorf("Warnings = %q, want %q", mf.Warnings, tt.warnings)
			}
		})
	}
}

func TestMasterErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"# c\n\nfoo inet n - n\n", "file /x/master.cf: line 3: bad field count"},
		{"smtp inet n - n - - smtpd\n  -o a=b\nfoo\n  bar x\n", "file /x/master.cf: line 3: bad field count"},
		{"foo bogus n - n - - smtpd\n", `invalid type field "bogus" in "foo bogus n - n - - smtpd"`},
		{"foo inet x - n - - smtpd\n", `invalid private field "x" in "foo inet x - n - - smtpd"`},
		{"foo inet n yes n - - smtpd\n", `invalid unprivileged field "yes" in "foo inet n yes n - - smtpd"`},
		{"foo inet n - x - - smtpd\n", `invalid chroot field "x" in "foo inet n - x - - smtpd"`},
		{"foo inet n - n abc - smtpd\n", `invalid wakeup field "abc" in "foo inet n - n abc - smtpd"`},
		{"foo inet n - n 5?? - smtpd\n", `invalid wakeup field "5??" in "foo inet n - n 5?? - smtpd"`},
		{"foo inet n - n -5 - smtpd\n", `invalid wakeup field "-5" in "foo inet n - n -5 - smtpd"`},
		{"foo inet n - n - abc smtpd\n", `invalid process_limit field "abc" in "foo inet n - n - abc smtpd"`},
		{"foo inet n - n 0? -1 smtpd\n", `invalid process_limit field "-1" in "foo inet n - n 0? -1 smtpd"`},
		// the context is the logical line, continuation whitespace kept
		{"relay bogus\n   n - n - - smtpd   \n", `invalid type field "bogus" in "relay bogus   n - n - - smtpd   "`},
	}
	for _, tt := range tests {
		_, err := ParseMasterText("/x/master.cf", tt.text)
		if err == nil {
			t.Errorf("%q: no error, want %s", tt.text, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.text, err, tt.want)
		}
		var me *MasterError
		if !errors.As(err, &me) || me.Path != "/x/master.cf" || me.Line == 0 {
			t.Errorf("%q: error %#v lacks path and line", tt.text, err)
		}
	}
	// Accepted oddities.
	for _, ok := range []string{"x inet - - n ? - smtpd", "x inet - - n -? 00 smtpd", "x pass - - n 0 0 smtpd", "x fifo - - n - - smtpd"} {
		if _, err := ParseMasterText("m", ok+"\n"); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestMasterLeadingWhitespaceWarning(t *testing.T) {
	mf := parseMaster(t, "  leading x that is longer than thirty bytes\nsmtp inet n - n - - smtpd\n")
	want := []string{`/x/master.cf: logical line must not start with whitespace: "  leading x that is longer tha..."`}
	if !reflect.DeepEqual(mf.Warnings, want) {
		t.Errorf("Warnings = %q, want %q", mf.Warnings, want)
	}
	if len(mf.Services) != 1 || mf.Services[0].Line != 2 {
		t.Errorf("services: %+v", mf.Services)
	}
}

func TestParseMasterCFLastDuplicateWins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.cf")
	text := "smtp inet n - n - - smtpd\npickup unix n - n 60 1 pickup\nsmtp inet n - n - 5 smtpd -o a=b\nsmtp unix - - n - - smtp\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	svcs, err := ParseMasterCF(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range svcs {
		keys = append(keys, s.Key())
	}
	if want := []string{"smtp/inet", "pickup/unix", "smtp/unix"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys = %q, want %q", keys, want)
	}
	if svcs[0].MaxProc != "5" || svcs[0].Line != 3 {
		t.Errorf("smtp/inet is not the last entry: %+v", svcs[0])
	}
	_, err = ParseMasterCF(filepath.Join(dir, "nosuch.cf"))
	if err == nil || err.Error() != "open "+dir+"/nosuch.cf: No such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

func TestMasterFormat(t *testing.T) {
	mf := parseMaster(t, `127.0.0.1:2825 inet n - n - - smtpd
postlog unix-dgram n - n - 1 postlogd
relay unix - - n - - smtp
        -o syslog_name=postfix/$service_name
submission inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o { smtpd_helo_restrictions = permit_sasl_authenticated, reject }
x unix - - n - - pipe -v -o a=b -- {x y} z
`)
	want := []string{
		"127.0.0.1:2825 inet n    -       n       -       -       smtpd",
		"postlog    unix-dgram n  -       n       -       1       postlogd",
		"relay      unix  -       -       n       -       -       smtp -o syslog_name=postfix/$service_name",
		"submission inet  n       -       n       -       -       smtpd -o syslog_name=postfix/submission -o {smtpd_helo_restrictions=permit_sasl_authenticated, reject}",
		"x          unix  -       -       n       -       -       pipe -v -o a=b -- {x y} z",
	}
	wantFold := []string{
		want[0], want[1],
		"relay      unix  -       -       n       -       -       smtp\n    -o syslog_name=postfix/$service_name",
		"submission inet  n       -       n       -       -       smtpd\n    -o syslog_name=postfix/submission\n    -o {smtpd_helo_restrictions=permit_sasl_authenticated, reject}",
		"x          unix  -       -       n       -       -       pipe -v\n    -o a=b\n    -- {x y} z",
	}
	for i, s := range mf.Services {
		if got := s.Format(false, nil); got != want[i] {
			t.Errorf("Format:\n got %q\nwant %q", got, want[i])
		}
		if got := s.Format(true, nil); got != wantFold[i] {
			t.Errorf("Format fold:\n got %q\nwant %q", got, wantFold[i])
		}
	}
	exp := func(v string) string { return strings.ReplaceAll(v, "$service_name", "relay") }
	if got := mf.Services[2].Format(false, exp); !strings.HasSuffix(got, "smtp -o syslog_name=postfix/relay") {
		t.Errorf("Format expand: %q", got)
	}
}

func FuzzParseMasterCF(f *testing.F) {
	f.Add("smtp inet n - n - - smtpd -o a=b\n  -o { c = d e }\n")
	f.Add("x unix - - n 1000? 0 pipe flags=R argv=/bin/x {a b} { c\n")
	f.Add("  lead\n#c\ny bogus - - - - - z\n")
	f.Add("a b c d e f g h -vo{x=y}z -- {{}}}")
	f.Fuzz(func(t *testing.T, text string) {
		mf, err := ParseMasterText("m", text)
		if err != nil {
			if mf != nil {
				t.Fatal("file and error")
			}
			return
		}
		for _, s := range mf.Services {
			_ = s.Format(true, nil)
			_ = s.Overrides()
			s.WakeupTime()
			s.ProcessLimit(100)
			// An entry re-laid out parses back to the same fields.
			again, _, err := ParseMasterEntry(s.Format(false, nil))
			if err != nil {
				t.Fatalf("reformatted entry %q: %v", s.Format(false, nil), err)
			}
			if again.Name != s.Name || again.Type != s.Type || again.Command != s.Command {
				t.Fatalf("round trip changed %+v into %+v", s, again)
			}
		}
	})
}
