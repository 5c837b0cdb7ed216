package postconf

// Differential tests: our postconf and Debian's Postfix postconf run on the
// same main.cf and master.cf (copies in one temporary directory, so that
// paths in messages are the same) and must print the same thing, warn the
// same way and exit with the same status. The only differences allowed are
// the documented default differences (catalogue entries with a
// postfix_default, postern's own parameters, and values that differ by
// nature such as process_id), normalised explicitly below.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"postern/pkg/config"
)

const postfixPostconf = "/usr/sbin/postconf"

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// ourBinary builds the multi-call executable as "postconf".
func ourBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "postconf-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "postconf")
		cmd := exec.Command("go", "build", "-o", builtBin, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			builtBin = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v\n%s", buildErr, builtBin)
	}
	return builtBin
}

func needPostfix(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(postfixPostconf); err != nil {
		t.Skip("no Postfix postconf to compare with")
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "MAIL_CONFIG=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return result{so.String(), strings.ReplaceAll(se.String(), bin+":", "postconf:"), code}
}

// fixture copies testdata/NAME into a fresh directory.
func fixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"main.cf", "master.cf"} {
		data, err := os.ReadFile(filepath.Join("testdata", name, f))
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Postfix's first postconf run on a new copy sometimes repeats the
	// "overriding earlier entry" warnings with wrong line numbers; one
	// warm-up run makes its output stable.
	if _, err := os.Stat(postfixPostconf); err == nil {
		exec.Command(postfixPostconf, "-c", dir, "-n").Run()
	}
	return dir
}

// normalizeParams rewrites "name = value" lines of Postfix's output where
// postern's default is documented to differ, and drops names that one
// side has by nature only.
func normalizeParams(out string, ours bool) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		name, value, ok := strings.Cut(strings.TrimRight(line, "\n"), " =")
		if ok {
			value = strings.TrimPrefix(value, " ")
			if name == "process_id" {
				line = "process_id = PID\n"
			}
			if p, found := config.Lookup(name); found {
				if p.Postern && ours {
					continue
				}
				if p.PostfixDefault != "" {
					if !ours && value == p.PostfixDefault {
						line = name + " = " + p.Default + "\n"
						if p.Default == "" {
							line = name + " =\n"
						}
					}
				}
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// sortedLines compares warning output as a set of lines: Postfix prints
// "unused parameter" warnings in hash-table order, and on a first run in a
// new directory it may repeat "overriding earlier entry" several times.
func sortedLines(s string) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	sort.Strings(l)
	return strings.Join(slices.Compact(l), "\n")
}

func compare(t *testing.T, args []string, normalize bool) {
	t.Helper()
	theirs := run(t, postfixPostconf, args...)
	ours := run(t, ourBinary(t), args...)
	so, st := ours.stdout, theirs.stdout
	if normalize {
		so, st = normalizeParams(so, true), normalizeParams(st, false)
	}
	if so != st {
		t.Errorf("postconf %s: stdout differs:\n%s", strings.Join(args, " "), lineDiff(st, so))
	}
	if sortedLines(ours.stderr) != sortedLines(theirs.stderr) {
		t.Errorf("postconf %s: stderr differs:\nPostfix:\n%s\nours:\n%s", strings.Join(args, " "), theirs.stderr, ours.stderr)
	}
	if ours.code != theirs.code {
		t.Errorf("postconf %s: exit %d, Postfix %d", strings.Join(args, " "), ours.code, theirs.code)
	}
}

// lineDiff shows the lines that differ (enough to find the problem).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("  Postfix: " + a + "\n  ours:    " + c + "\n")
			if n++; n > 10 {
				break
			}
		}
	}
	return b.String()
}

func TestDifferentialShow(t *testing.T) {
	needPostfix(t)
	for _, fx := range []string{"basic", "services"} {
		dir := fixture(t, fx)
		for _, args := range [][]string{
			{"-n"}, {"-nf"}, {"-nH"}, {}, {"-f"}, {"-C", "service"}, {"-C", "user"}, {"-C", "builtin,service"},
			{"myhostname", "mydestination", "relayhost", "nosuch_param", "Myhostname", "mything"},
			{"-h", "mydestination", "empty_one", "relayhost"}, {"-H", "mydestination"},
			{"-x", "mydestination", "cond", "smtpd_recipient_restrictions", "myorigin", "relay_domains", "mynetworks", "relay_destination_concurrency_limit"},
			{"-xf", "smtpd_recipient_restrictions", "smtpd_relay_restrictions"},
			{"-df", "smtpd_relay_restrictions", "relayhost", "mynetworks_style", "relay_destination_concurrency_limit", "local_destination_concurrency_limit"},
			{"-o", "myhostname=other.test", "-x", "mydestination", "myorigin"},
			{"-M"}, {"-Mf"}, {"-M", "relay", "smtp/unix", "submission", "nosuch/inet", "smtp/bogus", "*/unix-dgram"},
			{"-Mf", "maildrop"}, {"-Mx"}, {"-Mfx"},
			{"-F"}, {"-Ff"}, {"-Fh", "smtp/inet"}, {"-FH", "pickup"}, {"-F", "*/*/chroot", "pickup/unix/wakeup", "nosuch/unix/command"},
			{"-P"}, {"-Px"}, {"-Ph"}, {"-P", "relay2/unix/syslog_name", "smtp", "*/*/smtpd_helo_restrictions", "x/y/z"},
			{"-m"}, {"-l"},
		} {
			if len(args) > 0 && (args[0] == "-m") {
				continue // our table types are our own
			}
			compare(t, append([]string{"-c", dir}, args...), true)
		}
	}
}

// TestDifferentialDefaults compares every name Postfix's postconf -d prints
// for the built-in defaults, allowing only the documented differences.
func TestDifferentialDefaults(t *testing.T) {
	needPostfix(t)
	dir := fixture(t, "basic")
	args := []string{"-c", dir, "-d"}
	theirs := run(t, postfixPostconf, args...)
	ours := run(t, ourBinary(t), args...)
	if a, b := normalizeParams(theirs.stdout, false), normalizeParams(ours.stdout, true); a != b {
		t.Errorf("postconf -d differs:\n%s", lineDiff(a, b))
	}
	if ours.stderr != theirs.stderr || ours.code != theirs.code {
		t.Errorf("postconf -d: stderr/exit %q %d, Postfix %q %d", ours.stderr, ours.code, theirs.stderr, theirs.code)
	}
}

func TestDifferentialErrors(t *testing.T) {
	needPostfix(t)
	if testing.Short() {
		t.Skip("Postfix sleeps a second after each fatal error")
	}
	cases := []struct{ main, master string }{
		{"myhostname = x\nno equals sign here\n", ""},
		{"= novalue\n", ""},
		{"  leading = continuation-at-start\nmyhostname = x\n", ""},
		{"myhostname = x\n", "# c\n\nfoo inet n - n\n"},
		{"myhostname = x\n", "foo bogus n - n - - smtpd\n"},
		{"myhostname = x\n", "foo inet n yes n - - smtpd\n"},
		{"myhostname = x\n", "foo inet n - n 5?? - smtpd\n"},
		{"myhostname = x\n", "foo inet n - n - -1 smtpd\n"},
		{"myhostname = x\n", "relay bogus\n   n - n - - smtpd   \n"},
		{"myhostname = x\n", "  leading x\nsmtp inet n - n - - smtpd -o {a=b}x -o { y } { c d\n"},
		{"a_x = $b_x\nb_x = $a_x\n", "smtp inet n - n - - smtpd\n"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "main.cf"), []byte(c.main), 0o644)
		if c.master != "" {
			os.WriteFile(filepath.Join(dir, "master.cf"), []byte(c.master), 0o644)
		}
		for _, args := range [][]string{{"-n"}, {"-M"}, {"-P"}, {"-x", "a_x"}} {
			compare(t, append([]string{"-c", dir}, args...), true)
		}
	}
	// A missing directory, and bad edit arguments.
	missing := filepath.Join(t.TempDir(), "nonexistent")
	for _, args := range [][]string{{"-n"}, {"-M"}, {"-e", "a=b"}, {"-Me", "x/unix=x unix - - n - - smtp"}} {
		compare(t, append([]string{"-c", missing}, args...), true)
	}
	dir := fixture(t, "basic")
	for _, args := range [][]string{{"-e", "bad param=1"}, {"-e", "novalue"}, {"-e", "=x"}} {
		compare(t, append([]string{"-c", dir}, args...), true)
	}
}

// TestDifferentialEdits runs each edit with both programs on two copies of
// a fixture and compares the files they leave.
func TestDifferentialEdits(t *testing.T) {
	needPostfix(t)
	edits := [][]string{
		{"-e", "relayhost = [smtp.example.test]:587", "mydomain=a, b,   c"},
		{"inet_interfaces = loopback-only"},
		{"-e", "brand_new = value"},
		{"-#", "mydestination", "nosuch"},
		{"-X", "relayhost", "mydestination", "nonexist"},
		{"-X", "home_mailbox"},
		{"-Me", "smtps/inet=smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o { smtpd_helo_restrictions = a, b }"},
		{"-Me", "relay/unix=relay unix - - y - 3 smtp -o smtp_helo_timeout=5s"},
		{"-M#", "submission/inet"},
		{"-MX", "submission/inet", "relay/unix"},
		{"-Fe", "pickup/unix/wakeup=30", "qmgr/unix/process_limit=2"},
		{"-Fe", "relay/unix/command=smtp -o a=b -o { c = d e }"},
		{"-Pe", "relay/unix/smtp_helo_timeout=30s", "submission/inet/syslog_name=sub"},
		{"-PX", "relay/unix/syslog_name", "submission/inet/smtpd_client_restrictions"},
	}
	for _, fx := range []string{"basic", "services"} {
		for _, e := range edits {
			a, b := fixture(t, fx), fixture(t, fx)
			theirs := run(t, postfixPostconf, append([]string{"-c", a}, e...)...)
			ours := run(t, ourBinary(t), append([]string{"-c", b}, e...)...)
			if ours.code != theirs.code || strings.ReplaceAll(ours.stderr, b, "DIR") != strings.ReplaceAll(theirs.stderr, a, "DIR") {
				t.Errorf("%s postconf %q: exit %d stderr %q; Postfix exit %d stderr %q", fx, e, ours.code, ours.stderr, theirs.code, theirs.stderr)
			}
			for _, f := range []string{"main.cf", "master.cf"} {
				fa, _ := os.ReadFile(filepath.Join(a, f))
				fb, _ := os.ReadFile(filepath.Join(b, f))
				if !bytes.Equal(fa, fb) {
					t.Errorf("%s postconf %q: %s differs:\n%s", fx, e, f, lineDiff(string(fa), string(fb)))
				}
			}
			ents, _ := os.ReadDir(b)
			if len(ents) != 2 {
				t.Errorf("%s postconf %q left %d files in the directory", fx, e, len(ents))
			}
		}
	}
}
