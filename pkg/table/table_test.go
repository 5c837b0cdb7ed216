package table

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0644); err != nil {
		t.Fatal(err)
	}
	return p
}

type warnings []string

func (w *warnings) fn(format string, args ...any) { *w = append(*w, fmt.Sprintf(format, args...)) }

func TestParseSource(t *testing.T) {
	src := "Key1 value one\nkey2\tvalue two\n  continued here\n# c\n\"key with space\" v  x\n" +
		"k v # not comment\nnovalue\nk3 a\n# comment inside\n\tb\n\n  \nk4 x   \n\"unbalanced v\n"
	var w warnings
	var got []string
	ParseSource(strings.NewReader(src), "f", false, w.fn, func(k, v string, n int) error {
		got = append(got, fmt.Sprintf("%d|%s|%s", n, k, v))
		return nil
	})
	want := []string{"1|Key1|value one", "2|key2|value two  continued here", "5|\"key with space\"|v  x",
		"6|k|v # not comment", "8|k3|a\tb", "13|k4|x"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantW := []string{"f, line 7: expected format: key whitespace value",
		"f, line 14: unbalanced '\"' in '\"unbalanced v' -- ignoring this line"}
	if strings.Join(w, "\n") != strings.Join(wantW, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(wantW, "\n"))
	}
}

func TestLeadingWhitespaceLineIsSkipped(t *testing.T) {
	var w warnings
	var got []string
	ParseSource(strings.NewReader("  lead v0\nk v\n"), "f", false, w.fn, func(k, v string, n int) error {
		got = append(got, k)
		return nil
	})
	if len(got) != 1 || got[0] != "k" || len(w) != 1 || !strings.Contains(w[0], "logical line must not start with whitespace: \"  lead v0\"") {
		t.Errorf("got %v, warnings %v", got, w)
	}
}

func TestParseAliasLine(t *testing.T) {
	cases := []struct{ in, name, value, problem string }{
		{"Postmaster: root", "Postmaster", "root", ""},
		{"root:   admin@example.test,\n   backup@example.test", "root", "admin@example.test, backup@example.test", ""},
		{`pipe: "|/usr/bin/procmail -a foo"`, "pipe", `"|/usr/bin/procmail -a foo"`, ""},
		{"file: /var/tmp/file.mbox", "file", "/var/tmp/file.mbox", ""},
		{"list: :include:/srv/list.txt", "list", ":include:/srv/list.txt", ""},
		{`"quoted name": someone`, "quoted name", "someone", ""},
		{"ws: pfa    pfb", "ws", "pfa pfb", ""},
		{"cm: a,b,,c , d", "cm", "a, b, , c, d", ""},
		{`q: "a b"@x.y, <c@d>, e (comment), f@g  (Full Name)`, "q", `"a b"@x.y, <c@d>, e (comment), f@g (Full Name)`, ""},
		{`bs: \root`, "bs", "root", ""},
		{"nocolon here", "", "", "need name:value pair"},
		{"empty:", "", "", "need name:value pair"},
		{": x", "", "", "need name:value pair"},
		{"a, b: x", "", "", "need name:value pair"},
		{"a@b: x", "", "", "name must be local"},
	}
	for _, c := range cases {
		n, v, p := ParseAliasLine(c.in)
		if n != c.name || v != c.value || p != c.problem {
			t.Errorf("ParseAliasLine(%q) = %q, %q, %q; want %q, %q, %q", c.in, n, v, p, c.name, c.value, c.problem)
		}
	}
}

func lookup(t *testing.T, tb Table, key string) string {
	t.Helper()
	v, ok, err := tb.Lookup(key)
	if err != nil {
		return "ERR"
	}
	if !ok {
		return "NOTFOUND"
	}
	return v
}

func TestRegexpTable(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "re", `# comment
/^(.*)@example\.com$/   ${1}@rewritten.test
if /@sub\./
/^admin@/                matched admin inside if
endif
/^CaSe@/i                case-sensitive now
!/@/                     no-at-sign
%^(e)(x)?@$%     [$1][$2][$$][$(1)]
/a(/ bad
/^b/q bad flag
/^empty$/
/^(v)$/ $2
`)
	var w warnings
	tb, err := Open("regexp:"+p, 0, Warn(w.fn))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"bob@example.com": "bob@rewritten.test",
		"BOB@EXAMPLE.COM": "BOB@rewritten.test",
		"admin@sub.x":     "matched admin inside if",
		"admin@other.x":   "NOTFOUND",
		"noatsign":        "no-at-sign",
		"case@x":          "NOTFOUND",
		"CaSe@x":          "case-sensitive now",
		"e@":              "[e][][$][e]",
		"empty@":          "NOTFOUND",
	}
	for k, want := range cases {
		if got := lookup(t, tb, k); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", k, got, want)
		}
	}
	joined := strings.Join(w, "\n")
	for _, want := range []string{"line 9: ", "line 10: unknown regexp option \"q\": skipping this rule",
		"line 11: no replacement text: using empty string", "line 12: out of range replacement index \"2\": skipping this rule"} {
		if !strings.Contains(joined, "regexp map "+p+", "+want) {
			t.Errorf("missing warning %q in\n%s", want, joined)
		}
	}
}

func TestRegexpBasicSyntaxAndMultiline(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "re", "/^a\\(b\\)*+$/x grouped $1\n/^line2$/m multi\n/^x.y$/ dotnl\n")
	tb, err := Open("regexp:"+p, 0)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"abb+": "grouped b", "line1\nline2": "multi", "x\ny": "dotnl"} {
		if got := lookup(t, tb, k); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestPCRE(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "pc", "/^(\\w+)\\+(\\w+)@/ user=$1 ext=$2\n/^a.b$/s dot-not-newline\n/^abc$/i CaseSensitive\n")
	tb, err := Open("pcre:"+p, 0)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"joe+tag@x": "user=joe ext=tag", "a\nb": "NOTFOUND", "ABC": "NOTFOUND", "abc": "CaseSensitive"} {
		if got := lookup(t, tb, k); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", k, got, want)
		}
	}
	for _, re := range []string{`/foo(?=bar)/ x`, `/(a)\1/ x`, `/(?<!a)b/ x`} {
		p := write(t, dir, "bad", "# ok\n"+re+"\n")
		_, err := Open("pcre:"+p, 0)
		if err == nil || !strings.Contains(err.Error(), "pcre map "+p+", line 2:") {
			t.Errorf("pcre %s: error %v, want one naming file and line", re, err)
		}
	}
}

func TestCIDR(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "ci", "10.0.0.0/8 ten\n1.2.3.4/8 bad\nif 172.16.0.0/12\nfoo bar\n172.16.1.0/24 inner\nendif\n10.1.1.1\n"+
		"172.16.1.5 outer\n!192.168.0.0/16 notpriv\n2001:db8::/32 v6\n[2001:db9::1] br\n")
	var w warnings
	tb, err := Open("cidr:"+p, 0, Warn(w.fn))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"10.1.1.1": "ten", "192.168.1.1": "NOTFOUND", "1.1.1.1": "notpriv",
		"2001:db8::1": "v6", "2001:db9::1": "br", "foo": "NOTFOUND", "172.16.1.5": "inner"} {
		if got := lookup(t, tb, k); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", k, got, want)
		}
	}
	want := []string{
		"cidr map " + p + ", line 2: non-null host address bits in \"1.2.3.4/8\", perhaps you should use \"1.0.0.0/8\" instead: skipping this rule",
		"cidr map " + p + ", line 4: bad address pattern: \"foo\": skipping this rule",
		"cidr map " + p + ", line 7: no lookup result: skipping this rule",
	}
	if strings.Join(w, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(want, "\n"))
	}
}

func TestInlineStaticUnionPipe(t *testing.T) {
	cases := []struct{ spec, key, want string }{
		{"inline:{a=1, b=2, {c = x y}}", "b", "2"},
		{"inline:{a=1, b=2, {c = x y}}", "c", "x y"},
		{"inline:{a=1, A=2}", "A", "2"},
		{"inline:{k=}", "k", ""},
		{"inline:{a=1}", "z", "NOTFOUND"},
		{"static:fixed", "anything", "fixed"},
		{"static:{a b}", "x", "a b"},
		{"unionmap:{inline:{a=1}, static:x, inline:{b=2}}", "a", "1,x"},
		{"unionmap:{inline:{a=1}, inline:{b=2}}", "c", "NOTFOUND"},
		{"pipemap:{inline:{k=a}, inline:{a=final}}", "k", "final"},
		{"pipemap:{inline:{k=a}, inline:{b=final}}", "k", "NOTFOUND"},
		{"unionmap:{inline:{a=1}, fail:x}", "a", "ERR"},
		{"fail:x", "a", "ERR"},
	}
	for _, c := range cases {
		tb, err := Open(c.spec, 0)
		if err != nil {
			t.Errorf("Open(%q): %v", c.spec, err)
			continue
		}
		if got := lookup(t, tb, c.key); got != c.want {
			t.Errorf("%s: Lookup(%q) = %q, want %q", c.spec, c.key, got, c.want)
		}
	}
	for spec, msg := range map[string]string{
		"inline:{a}":            `missing '=' after attribute name: "inline:{a}"; need "inline:{name=value...}"`,
		"inline:a=1":            `bad syntax: "inline:a=1"; need "inline:{name=value...}"`,
		"unionmap:inline:{a=1}": `bad syntax: "unionmap:inline:{a=1}"; need "unionmap:{type:name...}"`,
		"static:":               `open dictionary: expecting "type:name" form instead of "static:"`,
		"nosuch:x":              "unsupported dictionary type: nosuch. Is the postfix-nosuch package installed?",
	} {
		_, err := Open(spec, 0)
		if err == nil || err.Error() != msg {
			t.Errorf("Open(%q) error %v, want %q", spec, err, msg)
		}
	}
}

func TestUnixPasswd(t *testing.T) {
	dir := t.TempDir()
	old := PasswdFile
	PasswdFile = write(t, dir, "passwd", "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000:Bob,,,:/home/bob:/bin/sh\n")
	defer func() { PasswdFile = old }()
	tb, _ := Open("unix:passwd.byname", 0)
	if got := lookup(t, tb, "BOB"); got != "bob:x:1000:1000:Bob,,,:/home/bob:/bin/sh" {
		t.Errorf("got %q", got)
	}
	if got := lookup(t, tb, "nobody"); got != "NOTFOUND" {
		t.Errorf("got %q", got)
	}
}

func TestIndexedBuildLookupAndChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access")
	for _, typ := range []string{"hash", "cdb"} {
		var w warnings
		b, err := Create(typ, path, 0644, 0, Warn(w.fn))
		if err != nil {
			t.Fatal(err)
		}
		b.Put("User@Example.TEST", "REJECT mixed case key")
		b.Put("dup", "first")
		b.Put("dup", "second")
		b.Put("empty", "")
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		wantDup := DBFile(typ, path)
		if typ == "cdb" {
			wantDup = path
		}
		if len(w) != 1 || w[0] != wantDup+`: duplicate entry: "dup"` {
			t.Errorf("%s: warnings %v", typ, w)
		}
		tb, err := Open(typ+":"+path, 0)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"USER@EXAMPLE.TEST": "REJECT mixed case key", "dup": "first", "empty": "", "nope": "NOTFOUND"} {
			if got := lookup(t, tb, k); got != want {
				t.Errorf("%s: Lookup(%q) = %q, want %q", typ, k, got, want)
			}
		}
		fixed, _ := Open(typ+":"+path, FixedCase)
		if got := lookup(t, fixed, "User@Example.TEST"); got != "NOTFOUND" {
			t.Errorf("%s: FixedCase lookup found a folded key: %q", typ, got)
		}
		if tb.Changed() {
			t.Errorf("%s: Changed before rebuild", typ)
		}
		b, _ = Create(typ, path, 0644, 0)
		b.Put("new", "x")
		b.Commit()
		if !tb.Changed() {
			t.Errorf("%s: Changed not noticed after rebuild", typ)
		}
		tb.Close()
		fixed.Close()
	}
}

func TestHashUpdateAndDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m")
	b, _ := Create("hash", path, 0644, 0)
	b.Put("a", "1")
	b.Commit()
	u, err := Update("hash", path, DupReplace)
	if err != nil {
		t.Fatal(err)
	}
	u.Put("a", "2")
	u.Put("b", "3")
	u.Commit()
	u, _ = Update("hash", path, 0)
	if !u.Delete("B") || u.Delete("zzz") {
		t.Error("Delete results wrong")
	}
	u.Commit()
	tb, _ := Open("hash:"+path, 0)
	if got := lookup(t, tb, "a") + "," + lookup(t, tb, "b"); got != "2,NOTFOUND" {
		t.Errorf("after update/delete: %s", got)
	}
	if _, err := Update("cdb", path, 0); err == nil {
		t.Error("cdb update allowed")
	}
}

func TestBerkeleyDBFileGivesClearError(t *testing.T) {
	dir := t.TempDir()
	b := make([]byte, 4096)
	b[12], b[13], b[14] = 0x61, 0x15, 0x06 // hash magic, little-endian
	os.WriteFile(filepath.Join(dir, "old.db"), b, 0644)
	_, err := Open("hash:"+filepath.Join(dir, "old"), 0)
	if err == nil || !strings.Contains(err.Error(), "Berkeley DB") {
		t.Errorf("error %v", err)
	}
	_, err = Open("hash:"+filepath.Join(dir, "missing"), 0)
	if err == nil || err.Error() != "open database "+filepath.Join(dir, "missing")+".db: No such file or directory" {
		t.Errorf("missing: %v", err)
	}
}

func TestTexthash(t *testing.T) {
	p := write(t, t.TempDir(), "th", "a 1\nA 2\nnovalue\n")
	var w warnings
	tb, err := Open("texthash:"+p, 0, Warn(w.fn))
	if err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, tb, "A"); got != "1" {
		t.Errorf("got %q", got)
	}
	want := p + ", line 2: duplicate entry: \"A\"\n" + p + ", line 3: expected format: key whitespace value -- ignoring this line"
	if strings.Join(w, "\n") != want {
		t.Errorf("warnings %q", w)
	}
	if _, err := Create("texthash", p, 0644, 0); err == nil || err.Error() != "unsupported dictionary type: texthash does not support bulk-mode creation." {
		t.Errorf("Create texthash: %v", err)
	}
}

func nop(string, ...any) {}

func FuzzParseSource(f *testing.F) {
	f.Add("k v\n  cont\n# c\n\"q k\" v\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseSource(strings.NewReader(s), "f", false, nop, func(k, v string, n int) error {
			if k == "" || v == "" {
				t.Fatalf("empty key or value from %q", s)
			}
			return nil
		})
	})
}

func FuzzParseAliases(f *testing.F) {
	f.Add("a: b, c\n \"q\\\"x\": (c) <d@e> [1.2.3.4]\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseAliases(strings.NewReader(s), "f", nop, func(k, v string, n int) error { return nil })
	})
}

func FuzzParseRegexp(f *testing.F) {
	f.Add("/^(a)(b)?$/ $1${2}$$\nif !/x/i\n#y#m z\nendif\n", false)
	f.Fuzz(func(t *testing.T, s string, pcre bool) {
		rules, err := parseRegexp(s, "f", pcre, nop)
		if err == nil {
			lookupRules(rules, "abc@example.com")
		}
	})
}

func FuzzParseCIDR(f *testing.F) {
	f.Add("10.0.0.0/8 x\n!::1 y\nif 1.2.0.0/16\n1.2.3.4 z\nendif\n")
	f.Fuzz(func(t *testing.T, s string) {
		tb := &cidrTable{rules: parseCIDR(s, "f", nop)}
		tb.Lookup("1.2.3.4")
		tb.Lookup("::1")
	})
}

func FuzzInline(f *testing.F) {
	f.Add("{a=1, {b = c d}, e=}")
	f.Fuzz(func(t *testing.T, s string) {
		if tb, err := openInline(s, 0); err == nil {
			tb.Lookup("a")
		}
	})
}
