// Package install tests "make install" and "make install-compat" into a
// temporary DESTDIR: the installed tree, modes, the setgid copies of
// postdrop and postqueue, that an existing main.cf/master.cf survives a
// second install, that files of another MTA are not replaced silently, and
// that the systemd unit passes "systemd-analyze verify".
//
// Two executables are installed: the real bin/postern-multi built from this
// checkout (whatever programs exist today), and a stand-in script that
// claims every program name of DESIGN.md, so that the parts of the install
// for programs that are not written yet are tested too.
package install

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// commands are the programs installed in $(SBINDIR) (the Makefile's COMMANDS).
var commands = []string{"postern", "postconf", "postqueue", "postsuper", "postmap",
	"postalias", "postcat", "postdrop", "sendmail", "mailq", "newaliases"}

// daemons are programs that go to $(LIBEXEC) only.
var daemons = []string{"master", "smtpd", "pickup", "cleanup", "qmgr", "local", "smtp",
	"bounce", "trivial-rewrite", "showq", "flush", "error", "discard", "virtual"}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func needMake(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go" // where Debian's golang packages and the tarball put it
}

// buildMulti builds the real multi-call executable into a private bin/, so
// that the test never races with "make build" of the checkout.
func buildMulti(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin")
	cmd := exec.Command(goTool(), "build", "-o", filepath.Join(bin, "postern-multi"), ".")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// fakeMulti writes a stand-in postern-multi that lists every program.
func fakeMulti(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	names := append(append([]string{}, commands...), daemons...)
	script := "#!/bin/sh\n# stand-in for postern-multi in the install test\n" +
		"if [ \"$1\" = -list ]; then printf '%s\\n' " + strings.Join(names, " ") + "; exit 0; fi\n" +
		"echo \"fake postern-multi called as $0\"\n"
	if err := os.WriteFile(filepath.Join(bin, "postern-multi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// makeInstall runs "make -o build TARGET BIN=bin DESTDIR=dest PREFIX=prefix extra...".
func makeInstall(t *testing.T, target, bin, dest, prefix string, extra ...string) (string, error) {
	t.Helper()
	args := []string{"-s", "-C", repoRoot(t), "-o", "build", target,
		"BIN=" + bin, "DESTDIR=" + dest, "PREFIX=" + prefix}
	args = append(args, extra...)
	out, err := exec.Command("make", args...).CombinedOutput()
	return string(out), err
}

func mustInstall(t *testing.T, bin, dest, prefix string, extra ...string) string {
	t.Helper()
	out, err := makeInstall(t, "install", bin, dest, prefix, extra...)
	if err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return out
}

func lstat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return fi
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// checkTree checks the installed programs for the names in list.
func checkTree(t *testing.T, dest, prefix string, list []string) {
	t.Helper()
	sbin := filepath.Join(dest, prefix, "sbin")
	libexec := filepath.Join(dest, prefix, "libexec", "postern")
	multi := filepath.Join(libexec, "postern-multi")

	fi := lstat(t, multi)
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 || fi.Mode()&(os.ModeSetgid|os.ModeSetuid) != 0 {
		t.Errorf("%s: mode %v, want a plain 0755 file", multi, fi.Mode())
	}
	multiIno := inode(t, multi)

	isCommand := map[string]bool{}
	for _, c := range commands {
		isCommand[c] = true
	}
	for _, name := range list {
		if !isCommand[name] {
			p := filepath.Join(libexec, name)
			if target, err := os.Readlink(p); err != nil || target != "postern-multi" {
				t.Errorf("daemon %s: want a symlink to postern-multi, got %q, %v", p, target, err)
			}
			if _, err := os.Lstat(filepath.Join(sbin, name)); err == nil {
				t.Errorf("daemon %s installed in sbin too", name)
			}
			continue
		}
		p := filepath.Join(sbin, name)
		fi := lstat(t, p)
		switch name {
		case "postdrop", "postqueue":
			if !fi.Mode().IsRegular() {
				t.Errorf("%s: mode %v, want a separate regular file (setgid copy)", p, fi.Mode())
				continue
			}
			if inode(t, p) == multiIno {
				t.Errorf("%s shares its inode with postern-multi", p)
			}
			checkSetgid(t, p)
		default:
			if fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s: mode %v, want a symlink", p, fi.Mode())
				continue
			}
			if target, _ := os.Readlink(p); filepath.IsAbs(target) {
				t.Errorf("%s -> %s: want a relative link (DESTDIR must not leak)", p, target)
			}
			if inode(t, p) != multiIno {
				t.Errorf("%s does not resolve to %s", p, multi)
			}
		}
	}
}

// checkSetgid: as root, with the postdrop group present, the copy must be
// mode 2755 and group postdrop; otherwise it must at least be 0755 and not
// set-uid.
func checkSetgid(t *testing.T, path string) {
	t.Helper()
	fi := lstat(t, path)
	if fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("%s is set-uid", path)
	}
	g, err := user.LookupGroup("postdrop")
	if os.Getuid() != 0 || err != nil {
		t.Logf("not root or no postdrop group: not checking the setgid bit of %s", path)
		return
	}
	if fi.Mode()&os.ModeSetgid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("%s: mode %v, want setgid 2755", path, fi.Mode())
	}
	gid, _ := strconv.Atoi(g.Gid)
	if got := fi.Sys().(*syscall.Stat_t).Gid; int(got) != gid {
		t.Errorf("%s: group %d, want postdrop (%d)", path, got, gid)
	}
}

// param returns the value of NAME in a main.cf (simple lines only).
func param(t *testing.T, file, name string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	val, found := "", false
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == name && !strings.HasPrefix(line, "#") {
			val, found = strings.TrimSpace(v), true
		}
	}
	if !found {
		t.Errorf("%s: %s not set", file, name)
	}
	return val
}

func TestInstallRealBuild(t *testing.T) {
	needMake(t)
	bin := buildMulti(t)
	out, err := exec.Command(filepath.Join(bin, "postern-multi"), "-list").Output()
	if err != nil {
		t.Fatalf("postern-multi -list: %v", err)
	}
	list := strings.Fields(string(out))
	dest := t.TempDir()
	mustInstall(t, bin, dest, "/usr")
	checkTree(t, dest, "/usr", list)

	// The installed executable still knows every program.
	got, err := exec.Command(filepath.Join(dest, "usr/libexec/postern/postern-multi"), "-list").Output()
	if err != nil || string(got) != string(out) {
		t.Errorf("installed postern-multi -list = %q, %v; want %q", got, err, out)
	}
	for _, f := range []string{"etc/postern/main.cf", "etc/postern/master.cf",
		"lib/systemd/system/postern.service", "usr/share/postern/main.cf.dist",
		"usr/share/postern/master.cf.dist", "usr/share/doc/postern/README.md"} {
		fi := lstat(t, filepath.Join(dest, f))
		if fi.Mode().Perm() != 0o644 || !fi.Mode().IsRegular() {
			t.Errorf("%s: mode %v, want 0644", f, fi.Mode())
		}
	}
	main := filepath.Join(dest, "etc/postern/main.cf")
	if v := param(t, main, "daemon_directory"); v != "/usr/libexec/postern" {
		t.Errorf("daemon_directory = %q", v)
	}
	if v := param(t, main, "command_directory"); v != "/usr/sbin" {
		t.Errorf("command_directory = %q", v)
	}

	// Once our postconf exists, the installed one reads the installed
	// configuration without a warning and agrees on daemon_directory.
	if strings.Contains("\n"+string(out), "\npostconf\n") {
		pc := filepath.Join(dest, "usr/sbin/postconf")
		etc := filepath.Join(dest, "etc/postern")
		for _, args := range [][]string{{"-n"}, {"-M"}} {
			cmd := exec.Command(pc, append([]string{"-c", etc}, args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if _, err := cmd.Output(); err != nil || stderr.Len() != 0 {
				t.Errorf("installed postconf %v: %v\n%s", args, err, stderr.String())
			}
		}
		got, err := exec.Command(pc, "-c", etc, "-h", "daemon_directory").Output()
		if err != nil || strings.TrimSpace(string(got)) != "/usr/libexec/postern" {
			t.Errorf("installed postconf -h daemon_directory = %q, %v", got, err)
		}
	}
}

func TestInstallAllPrograms(t *testing.T) {
	needMake(t)
	bin := fakeMulti(t)
	dest := t.TempDir()
	mustInstall(t, bin, dest, "/usr")
	checkTree(t, dest, "/usr", append(append([]string{}, commands...), daemons...))

	// A second install keeps the administrator's configuration, and
	// refreshes the shipped defaults beside it.
	main := filepath.Join(dest, "etc/postern/main.cf")
	master := filepath.Join(dest, "etc/postern/master.cf")
	mine := []byte("# edited by the administrator\nmyhostname = mine.example\n")
	for _, f := range []string{main, master} {
		if err := os.WriteFile(f, mine, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	dist := filepath.Join(dest, "usr/share/postern/main.cf.dist")
	if err := os.WriteFile(dist, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustInstall(t, bin, dest, "/usr")
	for _, f := range []string{main, master} {
		got, _ := os.ReadFile(f)
		if !bytes.Equal(got, mine) {
			t.Errorf("second install overwrote %s:\n%s", f, got)
		}
		if fi := lstat(t, f); fi.Mode().Perm() != 0o640 {
			t.Errorf("second install changed the mode of %s to %v", f, fi.Mode())
		}
	}
	if !strings.Contains(out, "keeping existing /etc/postern/main.cf") {
		t.Errorf("second install did not say it kept main.cf:\n%s", out)
	}
	shipped, _ := os.ReadFile(filepath.Join(repoRoot(t), "etc/main.cf"))
	if got, _ := os.ReadFile(dist); !bytes.Equal(got, shipped) {
		t.Errorf("main.cf.dist was not refreshed")
	}
	checkTree(t, dest, "/usr", append(append([]string{}, commands...), daemons...))
}

func TestInstallPrefix(t *testing.T) {
	needMake(t)
	bin := fakeMulti(t)
	dest := t.TempDir()
	mustInstall(t, bin, dest, "/usr/local")
	checkTree(t, dest, "/usr/local", append(append([]string{}, commands...), daemons...))
	main := filepath.Join(dest, "etc/postern/main.cf")
	if v := param(t, main, "daemon_directory"); v != "/usr/local/libexec/postern" {
		t.Errorf("daemon_directory = %q, want /usr/local/libexec/postern", v)
	}
	if v := param(t, main, "command_directory"); v != "/usr/local/sbin" {
		t.Errorf("command_directory = %q, want /usr/local/sbin", v)
	}
	unit, err := os.ReadFile(filepath.Join(dest, "lib/systemd/system/postern.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/local/sbin/postern start-fg\n",
		"ExecReload=/usr/local/sbin/postern reload\n", "ExecStop=/usr/local/sbin/postern stop\n"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("unit lacks %q", want)
		}
	}
	if bytes.Contains(unit, []byte("/usr/sbin/postern")) {
		t.Errorf("unit still names /usr/sbin/postern with PREFIX=/usr/local")
	}
}

func TestInstallRefusesForeignFiles(t *testing.T) {
	needMake(t)
	bin := fakeMulti(t)
	dest := t.TempDir()
	sbin := filepath.Join(dest, "usr/sbin")
	if err := os.MkdirAll(sbin, 0o755); err != nil {
		t.Fatal(err)
	}
	foreign := []byte("#!/bin/sh\necho Postfix postconf\n")
	pc := filepath.Join(sbin, "postconf")
	if err := os.WriteFile(pc, foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := makeInstall(t, "install", bin, dest, "/usr")
	if err == nil {
		t.Fatalf("make install replaced a foreign postconf without FORCE=1:\n%s", out)
	}
	if !strings.Contains(out, "not postern's") {
		t.Errorf("no explanation in the output:\n%s", out)
	}
	if got, _ := os.ReadFile(pc); !bytes.Equal(got, foreign) {
		t.Errorf("foreign postconf was changed")
	}
	if _, err := os.Lstat(filepath.Join(dest, "usr/libexec/postern/postern-multi")); err == nil {
		t.Errorf("the refused install changed the tree")
	}
	mustInstall(t, bin, dest, "/usr", "FORCE=1")
	checkTree(t, dest, "/usr", append(append([]string{}, commands...), daemons...))
}

func TestInstallCompat(t *testing.T) {
	needMake(t)
	bin := fakeMulti(t)
	dest := t.TempDir()
	mustInstall(t, bin, dest, "/usr/local")
	if out, err := makeInstall(t, "install-compat", bin, dest, "/usr/local"); err != nil {
		t.Fatalf("make install-compat: %v\n%s", err, out)
	}
	multi := inode(t, filepath.Join(dest, "usr/local/libexec/postern/postern-multi"))
	for _, l := range []string{"usr/sbin/sendmail", "usr/lib/sendmail", "usr/bin/mailq", "usr/bin/newaliases"} {
		p := filepath.Join(dest, l)
		if fi := lstat(t, p); fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is not a symlink", l)
		}
		if inode(t, p) != multi {
			t.Errorf("%s does not resolve to postern-multi", l)
		}
	}
	// Again: idempotent.
	if out, err := makeInstall(t, "install-compat", bin, dest, "/usr/local"); err != nil {
		t.Fatalf("second make install-compat: %v\n%s", err, out)
	}
	// A foreign /usr/bin/mailq stops it.
	dest2 := t.TempDir()
	mustInstall(t, bin, dest2, "/usr")
	if err := os.MkdirAll(filepath.Join(dest2, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest2, "usr/bin/mailq"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := makeInstall(t, "install-compat", bin, dest2, "/usr"); err == nil {
		t.Errorf("install-compat replaced a foreign mailq:\n%s", out)
	}
}

// TestSystemdVerify runs systemd-analyze verify on the installed unit, with
// its command paths pointed into DESTDIR (verify checks that they are
// executable). Any message counts as a failure: verify exits 0 on unknown
// keys and only prints a warning.
func TestSystemdVerify(t *testing.T) {
	needMake(t)
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	bin := fakeMulti(t)
	dest := t.TempDir()
	mustInstall(t, bin, dest, "/usr")
	unit, err := os.ReadFile(filepath.Join(dest, "lib/systemd/system/postern.service"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"Type=simple", "ExecStart=/usr/sbin/postern start-fg",
		"ExecReload=/usr/sbin/postern reload", "ExecStop=/usr/sbin/postern stop",
		"After=network-online.target", "PrivateTmp=yes", "WantedBy=multi-user.target"} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want+" ") {
			t.Errorf("unit lacks %q", want)
		}
	}
	// Local delivery must reach home directories and users' setgid commands
	// must work: these would break it.
	for _, bad := range []string{"\nProtectHome=", "\nNoNewPrivileges=yes", "\nProtectSystem=strict",
		"\nRestrictSUIDSGID=yes", "\nDynamicUser=yes"} {
		if strings.Contains(text, bad) {
			t.Errorf("unit sets %q", strings.TrimSpace(bad))
		}
	}
	dir := t.TempDir()
	text = strings.ReplaceAll(text, "/usr/sbin/postern", filepath.Join(dest, "usr/sbin/postern"))
	path := filepath.Join(dir, "postern.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sa, "verify", path)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestShippedConfig checks etc/main.cf and etc/master.cf: Postfix's column
// layout, the service names of DESIGN.md, safe relay settings, and (where
// Debian's Postfix is installed) that its postconf reads both files without
// a warning.
func TestShippedConfig(t *testing.T) {
	etc := filepath.Join(repoRoot(t), "etc")
	got := services(t, filepath.Join(etc, "master.cf"))
	want := []string{"smtp/inet=smtpd", "pickup/unix=pickup", "cleanup/unix=cleanup",
		"qmgr/unix=qmgr", "rewrite/unix=trivial-rewrite", "bounce/unix=bounce",
		"defer/unix=bounce", "trace/unix=bounce", "flush/unix=flush", "smtp/unix=smtp",
		"relay/unix=smtp", "showq/unix=showq", "error/unix=error", "retry/unix=error",
		"discard/unix=discard", "local/unix=local", "virtual/unix=virtual", "lmtp/unix=lmtp"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("master.cf services:\n got %v\nwant %v", got, want)
	}
	data, err := os.ReadFile(filepath.Join(etc, "master.cf"))
	if err != nil {
		t.Fatal(err)
	}
	cols := []int{0, 10, 16, 24, 32, 40, 48, 56}
	for i, line := range strings.Split(string(data), "\n") {
		l := strings.TrimPrefix(line, "#")
		f := strings.Fields(l)
		if len(f) < 8 || len(f[0]) >= 10 || (f[1] != "inet" && f[1] != "unix") {
			continue
		}
		pos := 0
		for j, c := range cols {
			idx := strings.Index(l[pos:], f[j]) + pos
			if idx != c {
				t.Errorf("master.cf line %d: field %d %q at column %d, want %d", i+1, j+1, f[j], idx, c)
				break
			}
			pos = idx + len(f[j])
		}
		if f[4] != "n" && !strings.HasPrefix(line, "#") {
			t.Errorf("master.cf line %d: chroot %q, want n", i+1, f[4])
		}
	}
	main := filepath.Join(etc, "main.cf")
	for name, want := range map[string]string{
		"compatibility_level":      "3.6",
		"daemon_directory":         "/usr/libexec/postern",
		"mynetworks":               "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128",
		"smtpd_relay_restrictions": "permit_mynetworks permit_sasl_authenticated reject_unauth_destination",
		"alias_maps":               "hash:/etc/aliases",
		"alias_database":           "hash:/etc/aliases",
	} {
		if got := param(t, main, name); got != want {
			t.Errorf("main.cf %s = %q, want %q", name, got, want)
		}
	}
	pc, err := exec.LookPath("postconf")
	if err != nil || !isPostfix(pc) {
		t.Log("Debian's postconf not installed: not cross-checking with Postfix")
		return
	}
	for _, args := range [][]string{{"-n"}, {"-M"}, {"-P"}} {
		cmd := exec.Command(pc, append([]string{"-c", etc}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if _, err := cmd.Output(); err != nil || stderr.Len() != 0 {
			t.Errorf("postfix postconf %v: %v\n%s", args, err, stderr.String())
		}
	}
}
