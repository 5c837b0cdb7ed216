package address

import (
	"strings"
	"testing"
)

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "user@example.org", "foo bar@x", `a"b\c@x`, "user@", "@x", "a@b@c", `"q"@x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		if got := Unquote(q); got != s {
			t.Fatalf("Unquote(Quote(%q)) = %q (quoted %q)", s, got, q)
		}
		_ = Unquote(s)
		l, d, ok := Split(s)
		if ok && l+"@"+d != s {
			t.Fatalf("Split(%q) does not join back", s)
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"<>", "<user@example.org>", "<@a,@b:u@c>", `<"x y"@z>`, "<u@[IPv6:::1]>", "u@v", "<u@v@w>"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, strict bool) {
		a, err := ParsePath(s, strict)
		if err != nil {
			return
		}
		// What the parser accepts, formatted back, parses to the same
		// address (internal forms such as "@ " are ambiguous and may not
		// parse back at all).
		b, err := ParsePath(FormatPath(a), true)
		if err == nil && b != a {
			t.Fatalf("ParsePath(FormatPath(%q)) = %q", a, b)
		}
	})
}

func FuzzHost(f *testing.F) {
	for _, s := range []string{"example.org", "[192.0.2.1]", "[IPv6:::1]", "1.2.3.4", "a-.b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidHostname(s) && !IsFQDN(s) && strings.Contains(s, ".") {
			t.Fatalf("%q: valid hostname with a dot but not FQDN", s)
		}
		if a, ok := ParseLiteral(s); ok {
			if _, ok2 := ParseLiteral(Literal(a)); !ok2 {
				t.Fatalf("Literal(%v) does not parse", a)
			}
		}
		_ = FoldDomain(s)
	})
}
