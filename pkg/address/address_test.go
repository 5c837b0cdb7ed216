package address

import (
	"net/netip"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in, local, domain string
		has               bool
	}{
		{"user@example.org", "user", "example.org", true},
		{"user@host@example.org", "user@host", "example.org", true},
		{"user", "user", "", false},
		{"user@", "user@", "", false},
		{"@example.org", "", "example.org", true},
		{"", "", "", false},
		{"foo bar@x", "foo bar", "x", true},
	} {
		l, d, h := Split(tc.in)
		if l != tc.local || d != tc.domain || h != tc.has {
			t.Errorf("Split(%q) = %q, %q, %v; want %q, %q, %v", tc.in, l, d, h, tc.local, tc.domain, tc.has)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ internal, external string }{
		{"", ""},
		{"user@example.org", "user@example.org"},
		{"first.last@example.org", "first.last@example.org"},
		{"foo bar@example.org", `"foo bar"@example.org`},
		{"user@host@example.org", `"user@host"@example.org`},
		{`a"b@x`, `"a\"b"@x`},
		{`a\b@x`, `"a\\b"@x`},
		{".lead@x", `".lead"@x`},
		{"trail.@x", `"trail."@x`},
		{"a..b@x", `"a..b"@x`},
		{"a!b%c@x", "a!b%c@x"},
		{"@x", `""@x`},
		{"user@", `"user@"`},
		{"bare", "bare"},
		{"Jörg@example.org", "Jörg@example.org"},
	} {
		if got := Quote(tc.internal); got != tc.external {
			t.Errorf("Quote(%q) = %q, want %q", tc.internal, got, tc.external)
		}
		if got := Unquote(tc.external); got != tc.internal {
			t.Errorf("Unquote(%q) = %q, want %q", tc.external, got, tc.internal)
		}
	}
}

func TestFold(t *testing.T) {
	if got := FoldAddress("User@EXAMPLE.Org"); got != "User@example.org" {
		t.Errorf("FoldAddress = %q", got)
	}
	if got := FoldDomain("[IPv6:2001:DB8::1]"); got != "[ipv6:2001:db8::1]" {
		t.Errorf("FoldDomain = %q", got)
	}
	if got := FoldAddress("nodomain"); got != "nodomain" {
		t.Errorf("FoldAddress = %q", got)
	}
}

func TestSplitExtension(t *testing.T) {
	for _, tc := range []struct {
		local, delims string
		ors           bool
		base, ext     string
		ok            bool
	}{
		{"user+ext", "+", true, "user", "ext", true},
		{"user+a+b", "+", true, "user", "a+b", true},
		{"user-ext", "+-", true, "user", "ext", true},
		{"user", "+", true, "user", "", false},
		{"+ext", "+", true, "+ext", "", false},
		{"user+ext", "", true, "user+ext", "", false},
		{"owner-list", "-", true, "owner-list", "", false},
		{"list-request", "-", true, "list-request", "", false},
		{"owner-list", "-", false, "owner", "list", true},
		{"MAILER-DAEMON", "-", false, "MAILER-DAEMON", "", false},
		{"owner-list", "+", true, "owner-list", "", false},
	} {
		b, e, ok := SplitExtension(tc.local, tc.delims, tc.ors)
		if b != tc.base || e != tc.ext || ok != tc.ok {
			t.Errorf("SplitExtension(%q, %q) = %q, %q, %v", tc.local, tc.delims, b, e, ok)
		}
	}
	if a, ok := StripExtension("joe+tag@x.test", "+", true); a != "joe@x.test" || !ok {
		t.Errorf("StripExtension = %q %v", a, ok)
	}
}

func TestLiteral(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"[192.0.2.1]", true},
		{"[IPv6:2001:db8::1]", true},
		{"[ipv6:::1]", true},
		{"[2001:db8::1]", false},
		{"[IPv6:192.0.2.1]", false},
		{"[192.0.2]", false},
		{"192.0.2.1", false},
		{"[]", false},
		{"[IPv6:fe80::1%eth0]", false},
	} {
		if _, ok := ParseLiteral(tc.in); ok != tc.ok {
			t.Errorf("ParseLiteral(%q) ok = %v", tc.in, ok)
		}
	}
	if got := Literal(netip.MustParseAddr("2001:db8::1")); got != "[IPv6:2001:db8::1]" {
		t.Errorf("Literal = %q", got)
	}
	if got := Literal(netip.MustParseAddr("::ffff:192.0.2.1")); got != "[192.0.2.1]" {
		t.Errorf("Literal = %q", got)
	}
}

func TestValidHostname(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"example.org", true},
		{"localhost", true},
		{"a-b.example", true},
		{"under_score.example", true},
		{"1.2.3.4", false},
		{"123", false},
		{"3com.com", true},
		{"-a.example", false},
		{"a-.example", false},
		{"a..b", false},
		{".a", false},
		{"a.", false},
		{"", false},
		{"a b", false},
		{"bücher.example", true},
		{string(make([]byte, 64)), false},
	} {
		if got := ValidHostname(tc.in); got != tc.ok {
			t.Errorf("ValidHostname(%q) = %v", tc.in, got)
		}
	}
}

func TestIsFQDN(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"example.org", true},
		{"example.org.", true},
		{"localhost", false},
		{"[192.0.2.1]", true},
		{"", false},
		{"a..b", false},
		{"1.2.3.4", false},
	} {
		if got := IsFQDN(tc.in); got != tc.ok {
			t.Errorf("IsFQDN(%q) = %v", tc.in, got)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in     string
		strict bool
		want   string
		err    bool
	}{
		{"<user@example.org>", true, "user@example.org", false},
		{"<>", true, "", false},
		{" <user@example.org> ", true, "user@example.org", false},
		{"user@example.org", false, "user@example.org", false},
		{"user@example.org", true, "", true},
		{"<@hop.example:pfa@pfref.test>", true, "pfa@pfref.test", false},
		{"<@a.example,@b.example:user@c.example>", true, "user@c.example", false},
		{`<"foo bar"@example.org>`, true, "foo bar@example.org", false},
		{`<"a\"b"@x.test>`, true, `a"b@x.test`, false},
		{"<user@a@b>", true, "user@a@b", false},
		{"<user%host@x>", true, "user%host@x", false},
		{"<host!user>", true, "host!user", false},
		{"<user>", true, "user", false},
		{"<user@[192.0.2.1]>", true, "user@[192.0.2.1]", false},
		{"<user@[IPv6:2001:db8::1]>", true, "user@[IPv6:2001:db8::1]", false},
		{"<user@>", true, "", true},
		{"<user@example.org", true, "", true},
		{"<us er@example.org>", true, "", true},
		{`<"unterminated@x>`, true, "", true},
		{"<@hop>", true, "", true},
		{"<@hop:>", true, "", true},
		{"<a<b@x>", true, "", true},
		{"<user@exa mple>", true, "", true},
		{"<user@x,y>", true, "", true},
		{"<", true, "", true},
	} {
		got, err := ParsePath(tc.in, tc.strict)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePath(%q, %v) = %q, %v; want %q, err %v", tc.in, tc.strict, got, err, tc.want, tc.err)
		}
	}
	if got := FormatPath("foo bar@x"); got != `<"foo bar"@x>` {
		t.Errorf("FormatPath = %q", got)
	}
	if got := FormatPath(""); got != "<>" {
		t.Errorf("FormatPath = %q", got)
	}
}
