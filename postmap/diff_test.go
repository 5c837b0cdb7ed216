package postmap

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Differential tests: run Debian's Postfix postmap/postalias and ours on
// the same files and compare stdout, stderr and exit status.

var ourBin string

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "postmap-bin")
	ourBin = filepath.Join(dir, "postmap")
	cmd := exec.Command("go", "build", "-o", ourBin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(2)
	}
	os.Symlink("postmap", filepath.Join(dir, "postalias"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, dir, bin, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+dir)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if x, ok := err.(*exec.ExitError); ok {
		code = x.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{o.String(), uniq(e.String()), code}
}

// uniq drops repeated stderr lines: Postfix repeats table warnings each
// time it (re)opens a table.
func uniq(s string) string {
	seen := map[string]bool{}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func sortLines(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

func oracle(t *testing.T, name string) string {
	p := "/usr/sbin/" + name
	if _, err := os.Stat(p); err != nil {
		t.Skip("Postfix " + name + " not installed")
	}
	out, err := exec.Command("/usr/sbin/postconf", "-m").CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("cdb")) {
		// postconf -m needs no main.cf on most systems; be lenient.
	}
	return p
}

const source = `Key1 value one
key2	value two
  continued here
# comment
"key with space" v  x
dup a
dup b
novalue
k v # not comment
"a\"b c" v1
"unterminated v3
plain"q v5
User@Example.TEST REJECT mixed case key
empty:  x
`

func setup(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"main.cf": "myhostname = mx.example.test\n",
		"src":     source,
		"re":      "/^(.*)@example\\.com$/   ${1}@rewritten.test\nif /@sub\\./\n/^admin@/ inside if\nendif\n/^CaSe@/i cs\n!/@/ no-at-sign\n/^b/q bad\n/c\n/^(e)$/ $2\n/^h$/\n",
		"ci":      "10.0.0.0/8 ten\n1.2.3.4/8 bad\n!192.168.0.0/16 notpriv\nfoo bar\n2001:db8::/32 v6\n[2001:db9::1] br\n10.1.1.1\n",
		"al": "# comment\nPostmaster: root\nroot:   admin@example.test,\n   backup@example.test\npipe: \"|/usr/bin/procmail -a foo\"\n" +
			"list: :include:/srv/list.txt\n\"quoted name\": someone\ndup: one\ndup: two\nnocolon here\nws: pfa    pfb\ncm: a,b,,c , d\n" +
			"q: \"a b\"@x.y, <c@d>, e (comment), f@g  (Full Name)\nbs: \\root\nx@y: z\n",
	}
	for n, c := range files {
		os.WriteFile(filepath.Join(dir, n), []byte(c), 0640)
	}
	return dir
}

func compare(t *testing.T, what string, want, got result, sorted bool) {
	t.Helper()
	if sorted {
		want.stdout, got.stdout = sortLines(want.stdout), sortLines(got.stdout)
	}
	if want != got {
		t.Errorf("%s:\npostfix: code %d stdout %q\n         stderr %q\npostern: code %d stdout %q\n         stderr %q",
			what, want.code, want.stdout, want.stderr, got.code, got.stdout, got.stderr)
	}
}

func TestDifferentialPostmap(t *testing.T) {
	pf := oracle(t, "postmap")
	dir := setup(t)
	ours := filepath.Join(dir, "ours")
	os.Mkdir(ours, 0755)
	for _, f := range []string{"main.cf", "src", "re", "ci"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(ours, f), b, 0640)
	}
	// Builds: same stderr and status.
	for _, args := range [][]string{{"cdb:src"}, {"src"}, {"texthash:src"}, {"nosuch:src"}, {"missing"}, {}, {"-z", "src"}} {
		want := run(t, dir, pf, "", args...)
		got := run(t, ours, ourBin, "", args...)
		compare(t, "postmap "+strings.Join(args, " "), want, got, false)
	}
	// New databases keep the source's group/other read bits.
	st, err := os.Stat(filepath.Join(ours, "src.db"))
	if err != nil || st.Mode().Perm() != 0640 {
		t.Errorf("src.db mode %v (%v), want 0640", st.Mode().Perm(), err)
	}
	// Queries against tables built by each side.
	queries := [][]string{
		{"-q", "KEY1", "cdb:src"}, {"-q", "key2", "cdb:src"}, {"-q", `"key with space"`, "cdb:src"},
		{"-q", "user@example.test", "cdb:src"}, {"-q", "USER@EXAMPLE.TEST", "src"}, {"-f", "-q", "User@Example.TEST", "src"},
		{"-q", "nosuch", "cdb:src"}, {"-q", "nosuch", "cdb:src", "texthash:src"}, {"-q", "dup", "texthash:src"},
		{"-q", "nosuch", "missing"}, {"-q", "x", "fail:foo"},
		{"-q", "k", "src"}, {"-s", "cdb:src"}, {"-i", "cdb:src"}, {"-d", "k", "cdb:src"},
		{"-q", "bob@example.com", "regexp:re"}, {"-q", "admin@sub.x", "regexp:re"}, {"-q", "admin@other.x", "regexp:re"},
		{"-q", "noatsign", "regexp:re"}, {"-q", "CASE@x", "regexp:re"}, {"-q", "h", "regexp:re"}, {"-s", "regexp:re"},
		{"-q", "10.1.1.1", "cidr:ci"}, {"-q", "1.1.1.1", "cidr:ci"}, {"-q", "192.168.1.1", "cidr:ci"}, {"-q", "2001:db8::1", "cidr:ci"},
		{"-q", "2001:db9::1", "cidr:ci"},
		{"-q", "b", "inline:{a=1, b=2, {c = x y}}"}, {"-q", "c", "inline:{a=1, b=2, {c = x y}}"}, {"-q", "k", "inline:{k=}"},
		{"-q", "x", "static:fixed"}, {"-q", "x", "static:{a b}"}, {"-q", "a", "unionmap:{inline:{a=1}, static:x}"},
		{"-q", "k", "pipemap:{inline:{k=a}, inline:{a=final}}"}, {"-q", "x", "inline:{a}"}, {"-q", "x", "static:"},
		{"-q", "root", "unix:passwd.byname"}, {"-q", "x", "regexp:missing"},
		{"-q", "a", "-s", "src"}, {"-s", "-d", "a", "src"},
	}
	for _, args := range queries {
		want := run(t, dir, pf, "", args...)
		got := run(t, ours, ourBin, "", args...)
		compare(t, "postmap "+strings.Join(args, " "), want, got, false)
	}
	// Our tables read by each other: -q - and -s (sorted: database order differs).
	stdin := "KEY1\nnosuch\n\"key with space\"\nEXAMPLE.TEST\nk\n"
	for _, args := range [][]string{{"-q", "-", "cdb:src"}, {"-q", "-", "src"}, {"-q", "-", "cdb:src", "texthash:src"}} {
		compare(t, "postmap "+strings.Join(args, " "), run(t, dir, pf, stdin, args...), run(t, ours, ourBin, stdin, args...), false)
	}
	compare(t, "postmap -s src", run(t, dir, pf, "", "-s", "src"), run(t, ours, ourBin, "", "-s", "src"), true)
	// Cross-read: Postfix queries our .cdb, we query Postfix's.
	for _, k := range []string{"key1", "key2", "dup", "nosuch"} {
		a := run(t, dir, pf, "", "-q", k, "cdb:"+filepath.Join(ours, "src"))
		b := run(t, ours, ourBin, "", "-q", k, "cdb:"+filepath.Join(dir, "src"))
		compare(t, "cross-read cdb "+k, a, b, false)
	}
	// Deletes on hash.
	compare(t, "postmap -d k src", run(t, dir, pf, "", "-d", "k", "src"), run(t, ours, ourBin, "", "-d", "k", "src"), false)
	compare(t, "postmap -d k src (again)", run(t, dir, pf, "", "-d", "k", "src"), run(t, ours, ourBin, "", "-d", "k", "src"), false)
	compare(t, "postmap -i src", run(t, dir, pf, "new value\nkey1 other\n", "-i", "src"), run(t, ours, ourBin, "new value\nkey1 other\n", "-i", "src"), false)
	compare(t, "postmap -q new src", run(t, dir, pf, "", "-q", "new", "src"), run(t, ours, ourBin, "", "-q", "new", "src"), false)
	compare(t, "postmap -ri src", run(t, dir, pf, "key1 other\n", "-ri", "src"), run(t, ours, ourBin, "key1 other\n", "-ri", "src"), false)
	compare(t, "postmap -q key1 src", run(t, dir, pf, "", "-q", "key1", "src"), run(t, ours, ourBin, "", "-q", "key1", "src"), false)
}

func TestDifferentialPostalias(t *testing.T) {
	pf := oracle(t, "postalias")
	dir := setup(t)
	ours := filepath.Join(dir, "ours")
	os.Mkdir(ours, 0755)
	for _, f := range []string{"main.cf", "al"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(ours, f), b, 0640)
	}
	pa := filepath.Join(filepath.Dir(ourBin), "postalias")
	for _, args := range [][]string{{"cdb:al"}, {"al"}} {
		compare(t, "postalias "+strings.Join(args, " "), run(t, dir, pf, "", args...), run(t, ours, pa, "", args...), false)
	}
	noYP := func(r result) result {
		var keep []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if !strings.HasPrefix(l, "YP_LAST_MODIFIED") {
				keep = append(keep, l)
			}
		}
		r.stdout = strings.Join(keep, "\n")
		return r
	}
	compare(t, "postalias -s al", noYP(run(t, dir, pf, "", "-s", "al")), noYP(run(t, ours, pa, "", "-s", "al")), true)
	for _, args := range [][]string{
		{"-q", "quoted name", "al"}, {"-q", "Quoted Name", "cdb:al"}, {"-q", `"quoted name"`, "al"}, {"-q", "@", "al"},
		{"-q", "YP_MASTER_NAME", "cdb:al"}, {"-q", "q", "cdb:al"}, {"-q", "POSTMASTER", "al"}, {"-q", "x", "nosuchfile"},
		{"-s", "cdb:al"},
	} {
		compare(t, "postalias "+strings.Join(args, " "), run(t, dir, pf, "", args...), run(t, ours, pa, "", args...), false)
	}
	stdin := "root\nnosuch\nPostmaster\n"
	compare(t, "postalias -q -", run(t, dir, pf, stdin, "-q", "-", "al"), run(t, ours, pa, stdin, "-q", "-", "al"), false)
}
