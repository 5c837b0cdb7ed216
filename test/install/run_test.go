package install

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeRunBin makes a bin/ for scripts/run.sh with a stand-in postern-multi
// that lists progs, a link per program, and (if progs has "postern") a
// stand-in postern that prints its arguments instead of starting master.
func fakeRunBin(t *testing.T, progs ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	list := "#!/bin/sh\n[ \"$1\" = -list ] && printf '%s\\n' " + strings.Join(progs, " ") + "\n"
	if len(progs) == 0 {
		list = "#!/bin/sh\nexit 0\n"
	}
	if err := os.WriteFile(filepath.Join(bin, "postern-multi"), []byte(list), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range progs {
		body := "#!/bin/sh\necho \"fake $0 $*\"\n"
		if p == "postern" {
			body = "#!/bin/sh\necho \"FAKE-POSTERN $*\"\n"
		}
		if err := os.WriteFile(filepath.Join(bin, p), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func runScript(t *testing.T, bin, run string, env ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "run.sh"))
	cmd.Env = append(os.Environ(), append([]string{"POSTERN_BIN=" + bin, "POSTERN_RUN_DIR=" + run}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// services returns the uncommented service/type/program of a master.cf.
func services(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || strings.HasPrefix(line, "#") || line[0] == ' ' {
			continue
		}
		got = append(got, f[0]+"/"+f[1]+"="+f[7])
	}
	return got
}

// freePort returns a port on 127.0.0.1 free for both N and N+62.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p+62 > 65535 {
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+62))
		if err != nil {
			continue
		}
		l2.Close()
		return p
	}
	t.Fatal("no free port pair")
	return 0
}

func TestRunWithoutControlCommand(t *testing.T) {
	bin := fakeRunBin(t, "postconf", "smtpd")
	run := t.TempDir()
	out, err := runScript(t, bin, run, "PORT="+strconv.Itoa(freePort(t)))
	if err == nil {
		t.Fatalf("run.sh succeeded without bin/postern:\n%s", out)
	}
	for _, want := range []string{"bin/postern", "not built yet", "NOT BUILT YET", "pickup (pickup)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	got := services(t, filepath.Join(run, "etc", "master.cf"))
	if len(got) != 2 || !strings.HasSuffix(got[0], "/inet=smtpd") || !strings.HasSuffix(got[1], "/inet=smtpd") {
		t.Errorf("master.cf services = %v, want only the two smtpd listeners", got)
	}
}

func TestRunNothingBuilt(t *testing.T) {
	bin := fakeRunBin(t)
	out, err := runScript(t, bin, t.TempDir(), "PORT="+strconv.Itoa(freePort(t)))
	if err == nil || !strings.Contains(out, "none of the daemons is built yet") {
		t.Errorf("run.sh with nothing built: %v\n%s", err, out)
	}
}

func TestRunStartsInstance(t *testing.T) {
	bin := fakeRunBin(t, "postern", "master", "smtpd", "cleanup", "local", "sendmail", "postqueue")
	run := t.TempDir()
	if err := os.MkdirAll(filepath.Join(run, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "etc", "main.cf.local"), []byte("myhostname = local.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	out, err := runScript(t, bin, run, "PORT="+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	etc := filepath.Join(run, "etc")
	me := "root"
	if os.Getuid() != 0 {
		u, _ := user.Current()
		me = u.Username
	}
	for _, want := range []string{
		"FAKE-POSTERN -c " + etc + " start-fg",
		"127.0.0.1:" + strconv.Itoa(port),
		bin + "/sendmail -C " + etc + " " + me + "@localhost",
		filepath.Join(run, "mail", me, "new"),
		"NOT BUILT YET",
		"qmgr (qmgr)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	p, s := strconv.Itoa(port), strconv.Itoa(port+62)
	want := []string{"127.0.0.1:" + p + "/inet=smtpd", "127.0.0.1:" + s + "/inet=smtpd",
		"cleanup/unix=cleanup", "local/unix=local"}
	got := services(t, filepath.Join(etc, "master.cf"))
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("master.cf services = %v, want %v", got, want)
	}
	main := filepath.Join(etc, "main.cf")
	for name, want := range map[string]string{
		"daemon_directory":     bin,
		"command_directory":    bin,
		"queue_directory":      filepath.Join(run, "spool"),
		"mail_spool_directory": filepath.Join(run, "mail") + "/",
		"maillog_file":         "/dev/stdout",
		"myhostname":           "local.example",
	} {
		if got := param(t, main, name); got != want {
			t.Errorf("main.cf %s = %q, want %q", name, got, want)
		}
	}
	if os.Getuid() != 0 {
		if got := param(t, main, "mail_owner"); got != me {
			t.Errorf("mail_owner = %q, want the invoking user %q", got, me)
		}
	}
	for _, d := range []string{"spool", "data", "mail", "log"} {
		if fi, err := os.Stat(filepath.Join(run, d)); err != nil || !fi.IsDir() {
			t.Errorf("run/%s not created: %v", d, err)
		}
	}
	if log, err := os.ReadFile(filepath.Join(run, "log", "maillog")); err != nil || !strings.Contains(string(log), "FAKE-POSTERN") {
		t.Errorf("run/log/maillog = %q, %v", log, err)
	}

	checkWithOurParser(t, etc)

	// Debian's Postfix, where installed, must read the generated files
	// without a complaint (same syntax).
	if pc, err := exec.LookPath("postconf"); err == nil && isPostfix(pc) {
		for _, args := range [][]string{{"-n"}, {"-M"}} {
			cmd := exec.Command(pc, append([]string{"-c", etc}, args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if _, err := cmd.Output(); err != nil || stderr.Len() != 0 {
				t.Errorf("postfix postconf %v: %v\n%s", args, err, stderr.String())
			}
		}
	}
}

func TestRunPortInUse(t *testing.T) {
	bin := fakeRunBin(t, "postern", "master", "smtpd")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	out, err := runScript(t, bin, t.TempDir(), "PORT="+strconv.Itoa(port))
	if err == nil || !strings.Contains(out, "already in use") || strings.Contains(out, "FAKE-POSTERN") {
		t.Errorf("run.sh with port %d taken: %v\n%s", port, err, out)
	}
}

// isPostfix tells Debian's postconf from ours (which may be first in PATH).
func isPostfix(path string) bool {
	out, err := exec.Command(path, "-d", "mail_name").Output()
	return err == nil && strings.Contains(string(out), "Postfix")
}
