package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateUsers runs scripts/create-users.sh twice on a copy of the
// system's account files (ROOT=dir, useradd --prefix): the first run
// creates group postdrop and user postern, the second changes nothing.
func TestCreateUsers(t *testing.T) {
	script := filepath.Join(repoRoot(t), "scripts", "create-users.sh")
	if os.Getuid() != 0 {
		out, err := exec.Command(script).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "must run as root") {
			t.Errorf("create-users.sh as non-root: %v\n%s", err, out)
		}
		t.Skip("not root: only checked the refusal")
	}
	for _, c := range []string{"useradd", "groupadd"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skip(c + " not installed")
		}
	}
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"passwd", "group", "shadow", "gshadow", "login.defs"} {
		data, err := os.ReadFile(filepath.Join("/etc", f))
		if err != nil {
			if f == "login.defs" || f == "gshadow" {
				continue
			}
			t.Skipf("cannot copy /etc/%s: %v", f, err)
		}
		var keep []string
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasPrefix(l, "postern:") && !strings.HasPrefix(l, "postdrop:") {
				keep = append(keep, l)
			}
		}
		if err := os.WriteFile(filepath.Join(etc, f), []byte(strings.Join(keep, "")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func() string {
		cmd := exec.Command(script)
		cmd.Env = append(os.Environ(), "ROOT="+root)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("create-users.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	out := run()
	if !strings.Contains(out, "created group postdrop") || !strings.Contains(out, "created user postern") {
		t.Errorf("first run:\n%s", out)
	}
	entry := func(file, name string) []string {
		data, _ := os.ReadFile(filepath.Join(etc, file))
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, name+":") {
				return strings.Split(l, ":")
			}
		}
		t.Fatalf("no %s in %s:\n%s", name, file, data)
		return nil
	}
	pw := entry("passwd", "postern")
	if pw[5] != "/var/spool/postern" || !strings.HasSuffix(pw[6], "nologin") || pw[2] == "0" {
		t.Errorf("postern entry %v", pw)
	}
	if g := entry("group", "postern"); g[2] != pw[3] {
		t.Errorf("postern's primary group %s is not its own group %v", pw[3], g)
	}
	if g := entry("group", "postdrop"); g[2] == pw[3] || g[3] != "" {
		t.Errorf("postdrop group %v: must be separate and have no members", g)
	}
	before, _ := os.ReadFile(filepath.Join(etc, "passwd"))
	beforeG, _ := os.ReadFile(filepath.Join(etc, "group"))
	out = run()
	if !strings.Contains(out, "group postdrop exists") || !strings.Contains(out, "user postern exists") {
		t.Errorf("second run:\n%s", out)
	}
	after, _ := os.ReadFile(filepath.Join(etc, "passwd"))
	afterG, _ := os.ReadFile(filepath.Join(etc, "group"))
	if string(before) != string(after) || string(beforeG) != string(afterG) {
		t.Errorf("second run changed the account files")
	}
}
