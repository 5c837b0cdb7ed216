package config

import (
	"strings"
	"testing"
)

func TestParseMainCFSyntax(t *testing.T) {
	src := "# comment\n" +
		"\n" +
		"mydomain=example.test\n" +
		"relayhost = [relay.example.test]:587 # not a comment\n" +
		"test_banner = $myhostname ESMTP first\n" +
		"    second\ttabbed\n" +
		"mydestination = $myhostname,\n" +
		"    localhost.$mydomain\n" +
		"# comment inside a continued value\n" +
		"    ${mydomain}\n" +
		"empty =\n" +
		"smtpd_banner = \"quoted value\"   \n" +
		"home_mailbox = Mailbox\n" +
		"home_mailbox = Maildir/\n"
	f, err := ParseMainCFBytes("main.cf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{"mydomain", "example.test", 3, 3},
		{"relayhost", "[relay.example.test]:587 # not a comment", 4, 4},
		{"test_banner", "$myhostname ESMTP first    second\ttabbed", 5, 6},
		{"mydestination", "$myhostname,    localhost.$mydomain    ${mydomain}", 7, 10},
		{"empty", "", 11, 11},
		{"smtpd_banner", "\"quoted value\"", 12, 12},
		{"home_mailbox", "Mailbox", 13, 13},
		{"home_mailbox", "Maildir/", 14, 14},
	}
	if len(f.Entries) != len(want) {
		t.Fatalf("got %d entries %+v, want %d", len(f.Entries), f.Entries, len(want))
	}
	for i, w := range want {
		if f.Entries[i] != w {
			t.Errorf("entry %d: got %+v, want %+v", i, f.Entries[i], w)
		}
	}
	if len(f.Warnings) != 1 || f.Warnings[0] != "main.cf, line 14: overriding earlier entry: home_mailbox=Mailbox" {
		t.Errorf("warnings: %q", f.Warnings)
	}
	c := FromFile("/tmp", f)
	if got, _ := c.Raw("home_mailbox"); got != "Maildir/" {
		t.Errorf("last entry must win, got %q", got)
	}
}

func TestParseMainCFErrors(t *testing.T) {
	for _, tc := range []struct{ src, err string }{
		{"no equals sign here\n", `main.cf, line 1: missing '=' after attribute name: "no equals sign here"`},
		{"# c\n= novalue\n", `main.cf, line 2: missing attribute name: "= novalue"`},
		{"a = 1\nb c = 2\n", `main.cf, line 2: missing '=' after attribute name: "b c = 2"`},
	} {
		_, err := ParseMainCFBytes("main.cf", []byte(tc.src))
		if err == nil || err.Error() != tc.err {
			t.Errorf("%q: got error %v, want %s", tc.src, err, tc.err)
		}
	}
}

func TestLeadingWhitespaceWarns(t *testing.T) {
	f, err := ParseMainCFBytes("/x/main.cf", []byte("  leading = continuation-at-start of file\nname = v\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `/x/main.cf: logical line must not start with whitespace: "  leading = continuation-at-st..."`
	if len(f.Warnings) != 1 || f.Warnings[0] != want {
		t.Errorf("got %q, want %q", f.Warnings, want)
	}
	if len(f.Entries) != 1 || f.Entries[0].Name != "name" {
		t.Errorf("entries %+v", f.Entries)
	}
}

func TestMissingMainCF(t *testing.T) {
	_, err := Load("/nonexistent")
	if err == nil || err.Error() != "open /nonexistent/main.cf: No such file or directory" {
		t.Errorf("got %v", err)
	}
}

func TestCRLFAndNoFinalNewline(t *testing.T) {
	f, err := ParseMainCFBytes("m", []byte("a = 1\r\nb = 2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 2 || f.Entries[0].Value != "1" || f.Entries[1].Value != "2" {
		t.Errorf("%+v", f.Entries)
	}
}

func FuzzParseMainCF(f *testing.F) {
	f.Add([]byte("a = b\n  c\n# x\nd=${a?{x}:{y}} $b $(c) $$\n"))
	f.Add([]byte("x = ${{$a} == {b} ? {t} : {f}}\n"))
	f.Add([]byte("= bad\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mf, err := ParseMainCFBytes("fuzz", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz, line ") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		c := FromFile("/fuzz", mf)
		for _, e := range mf.Entries {
			if e.Name == "" || strings.ContainsAny(e.Name, " \t=") {
				t.Fatalf("bad name %q", e.Name)
			}
			// Expansion must terminate without panicking, loops included.
			_, _ = c.ExpandValue(e.Name)
		}
	})
}
