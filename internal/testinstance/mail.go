package testinstance

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MailMasterCF returns the repository's etc/master.cf without its public
// smtp listener (tests that want smtpd add their own 127.0.0.1:PORT line
// in extra) and without the services whose program is not built, followed
// by extra.
func MailMasterCF(t testing.TB, extra string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "etc", "master.cf"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	skip := false
	sc := bufio.NewScanner(strings.NewReader(string(src)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !skip {
				b.WriteString(line + "\n")
			}
			continue
		}
		f := strings.Fields(line)
		skip = len(f) < 8 || f[1] == "inet" || !Built(f[7])
		if !skip {
			b.WriteString(line + "\n")
		}
	}
	return b.String() + extra
}

// Built reports whether the program name is in BinDir.
func Built(name string) bool {
	_, err := os.Stat(filepath.Join(BinDir, name))
	return err == nil
}

// MailOptions returns Options for an instance that delivers mail locally:
// the repository's master.cf (see MailMasterCF), mydestination with
// localhost and myhostname, alias_maps = hash:CONFIG/aliases (built from
// aliases, see NewMail), and main overriding any of these.
func MailOptions(t testing.TB, main map[string]string) Options {
	params := map[string]string{
		// As the shipped etc/main.cf (and Debian's): no Postfix 2
		// compatibility (append_dot_mydomain = no ...).
		"compatibility_level":  "3.6",
		"mydestination":        "localhost, $myhostname",
		"alias_maps":           "hash:$config_directory/aliases",
		"alias_database":       "hash:$config_directory/aliases",
		"queue_run_delay":      "2s",
		"minimal_backoff_time": "2s",
		"maximal_backoff_time": "4s",
	}
	for k, v := range main {
		params[k] = v
	}
	return Options{MasterCF: MailMasterCF(t, ""), Main: params}
}

// NewMail makes an instance for local mail (MailOptions) and builds its
// alias database from aliases (may be empty). It is not started.
func NewMail(t testing.TB, main map[string]string, aliases string) *Instance {
	t.Helper()
	in := New(t, MailOptions(t, main))
	in.SetAliases(aliases)
	return in
}

// SetAliases writes CONFIG/aliases and runs postalias on it.
func (in *Instance) SetAliases(text string) {
	in.t.Helper()
	in.WriteFile("aliases", text)
	cmd := exec.Command(filepath.Join(BinDir, "postalias"), "-c", in.ConfigDir, filepath.Join(in.ConfigDir, "aliases"))
	if out, err := cmd.CombinedOutput(); err != nil {
		in.t.Fatalf("postalias: %v\n%s", err, out)
	}
}

// User is a local account a test created.
type User struct {
	Name     string
	UID, GID int
	Home     string
}

// AddUser creates a local account NAME with its home under the instance's
// directory (root only: the test is skipped otherwise) and removes it when
// the test ends.
func (in *Instance) AddUser(name string) *User {
	in.t.Helper()
	if os.Geteuid() != 0 {
		in.t.Skip("creating local users needs root")
	}
	home := filepath.Join(in.Root, "home", name)
	os.MkdirAll(filepath.Dir(home), 0755)
	exec.Command("userdel", "-r", name).Run()
	if out, err := exec.Command("useradd", "-m", "-d", home, "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		in.t.Fatalf("useradd %s: %v %s", name, err, out)
	}
	in.t.Cleanup(func() { exec.Command("userdel", "-r", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		in.t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &User{Name: name, UID: uid, GID: gid, Home: home}
}

// Sendmail runs bin/sendmail with MAIL_CONFIG set to the instance, as
// user as (nil: the test's own user), with stdin, and returns its combined
// output and exit status.
func (in *Instance) Sendmail(as *User, stdin string, args ...string) (string, int) {
	in.t.Helper()
	return in.Command(as, stdin, "sendmail", args...)
}

// Command runs a program from BinDir (or at an absolute path) like
// Sendmail does.
func (in *Instance) Command(as *User, stdin, program string, args ...string) (string, int) {
	in.t.Helper()
	if !filepath.IsAbs(program) {
		program = filepath.Join(BinDir, program)
	}
	cmd := exec.Command(program, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+in.ConfigDir)
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(as.UID), Gid: uint32(as.GID)}}
		cmd.Dir = as.Home
		cmd.Env = append(cmd.Env, "HOME="+as.Home, "USER="+as.Name, "LOGNAME="+as.Name)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			in.t.Fatalf("%s %v: %v", program, args, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// Maildir returns the messages in dir/new and dir/cur, sorted by name.
func Maildir(dir string) []string {
	var names []string
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			names = append(names, filepath.Join(dir, sub, e.Name()))
		}
	}
	sort.Strings(names)
	var msgs []string
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err == nil {
			msgs = append(msgs, string(b))
		}
	}
	return msgs
}

// WaitMaildir waits up to 20 seconds until dir holds at least n messages
// and returns them.
func (in *Instance) WaitMaildir(dir string, n int) []string {
	in.t.Helper()
	var msgs []string
	if !Poll(20*time.Second, func() bool { msgs = Maildir(dir); return len(msgs) >= n }) {
		in.t.Fatalf("%s: %d messages after 20s, want %d; log:\n%s", dir, len(msgs), n, in.Log())
	}
	return msgs
}

// WaitFile waits up to 20 seconds until path exists and cond (nil: any
// content) holds for its content, and returns it.
func (in *Instance) WaitFile(path string, cond func(string) bool) string {
	in.t.Helper()
	var s string
	if !Poll(20*time.Second, func() bool {
		b, err := os.ReadFile(path)
		s = string(b)
		return err == nil && (cond == nil || cond(s))
	}) {
		in.t.Fatalf("%s: not as expected after 20s (content %q); log:\n%s", path, s, in.Log())
	}
	return s
}

// QueueEmpty reports whether no message is in incoming, active, deferred
// or maildrop.
func (in *Instance) QueueEmpty() bool {
	for _, d := range []string{"maildrop", "incoming", "active", "deferred"} {
		n := 0
		filepath.WalkDir(filepath.Join(in.QueueDir, d), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				n++
			}
			return nil
		})
		if n > 0 {
			return false
		}
	}
	return true
}

// WaitQueueEmpty waits up to 20 seconds for QueueEmpty.
func (in *Instance) WaitQueueEmpty() {
	in.t.Helper()
	if !Poll(20*time.Second, in.QueueEmpty) {
		in.t.Fatalf("queue not empty after 20s; log:\n%s", in.Log())
	}
}

// String shows a user for test messages.
func (u *User) String() string { return fmt.Sprintf("%s(%d)", u.Name, u.UID) }
