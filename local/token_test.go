package local

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTargets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"pfa, pfb@example.org", []string{"pfa", "pfb@example.org"}},
		{"pfa pfb", []string{"pfa", "pfb"}},
		{`"|/usr/bin/cmd arg 'two'"`, []string{"|/usr/bin/cmd arg 'two'"}},
		{"|/usr/bin/cmd", []string{"|/usr/bin/cmd"}},
		{"/var/mail/list.mbox, /tmp/md/", []string{"/var/mail/list.mbox", "/tmp/md/"}},
		{":include:/etc/mail/list", []string{":include:/etc/mail/list"}},
		{"Full Name <user@example.org>, other", []string{"user@example.org", "other"}},
		{`\pfa, pfa (comment)`, []string{`\pfa`, "pfa"}},
		{"first.last@example.org", []string{"first.last@example.org"}},
		{"  ,, ", nil},
		{`"quoted local"@example.org`, []string{"quoted local@example.org"}},
	} {
		if got := ParseTargets(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseTargets(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseFileSkipsComments(t *testing.T) {
	got := ParseFile("# me\npfa\n\n  # not a comment: leading blank\n\"|cmd x\", b\n")
	want := []string{"pfa", "#", "not", "a", "comment:leading", "blank", "|cmd x", "b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseFile = %q, want %q", got, want)
	}
}

func TestExpandMacros(t *testing.T) {
	vars := map[string]string{"home": "/home/a", "recipient_delimiter": "+", "extension": "x;y", "user": "a"}
	for in, want := range map[string]string{
		"$home/.forward${recipient_delimiter}${extension}": "/home/a/.forward+x_y",
		"$home/.forward":                       "/home/a/.forward",
		"${extension?/ext}${shell:/noshell}$$": "/ext/noshell$",
	} {
		if got := expandMacros(in, vars, "abcdefghijklmnopqrstuvwxyz/.+"); got != want {
			t.Errorf("expandMacros(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"pfa, pfb@example.org\n\"|/bin/cmd a\"\n:include:/x\n",
		"Name <a@b>, (c) \\d, [1.2.3.4], \"x\\\"y\"",
		"<<>>,,\"", "(((", "a@b@c <", "\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tgt := range ParseFile(s) {
			if tgt == "" {
				t.Fatalf("empty target from %q", s)
			}
		}
		for _, tgt := range ParseTargets(s) {
			if strings.ContainsAny(tgt, "\n") && !strings.Contains(s, "\"") && !strings.Contains(s, "\\") && !strings.Contains(s, "[") {
				t.Fatalf("target %q with a newline from %q", tgt, s)
			}
		}
	})
}
