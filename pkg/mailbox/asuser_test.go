package mailbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/internal/testinstance"
)

// threadIDs reads the Uid, Gid and Groups lines of a /proc status file.
func threadIDs(t testing.TB, path string) (uid, gid, groups string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		v = strings.Join(strings.Fields(v), " ")
		switch k {
		case "Uid":
			uid = v
		case "Gid":
			gid = v
		case "Groups":
			groups = v
		}
	}
	return
}

func TestAsUserChangesOnlyItsThread(t *testing.T) {
	needRoot(t)
	c := recipient(t)
	dir := spoolDir(t, 01777)
	file := filepath.Join(dir, "made-by-user")
	err := AsUser(c, func() error {
		uid, gid, groups := threadIDs(t, "/proc/thread-self/status")
		if want := strings.Repeat(fmt.Sprint(c.UID, " "), 4); uid+" " != want {
			t.Errorf("thread Uid %q, want %q", uid, want)
		}
		if want := strings.Repeat(fmt.Sprint(c.GID, " "), 4); gid+" " != want {
			t.Errorf("thread Gid %q, want %q", gid, want)
		}
		if want := fmt.Sprint(c.Groups[0]); groups != want {
			t.Errorf("thread Groups %q, want %q", groups, want)
		}
		return os.WriteFile(file, []byte("x"), 0600)
	})
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid, _ := owner(t, file); uid != c.UID || gid != c.GID {
		t.Errorf("file made inside AsUser owned by %d:%d, want %d:%d", uid, gid, c.UID, c.GID)
	}
	if os.Getuid() != 0 || os.Geteuid() != 0 || os.Getgid() != 0 {
		t.Errorf("caller's IDs changed: uid %d euid %d gid %d", os.Getuid(), os.Geteuid(), os.Getgid())
	}
	if uid, _, _ := threadIDs(t, "/proc/self/status"); uid != "0 0 0 0" {
		t.Errorf("process Uid %q after AsUser", uid)
	}
	// The switched thread exits with its goroutine: soon no thread of the
	// process has the user's IDs.
	gone := testinstance.Poll(testPollLimit, func() bool {
		tasks, _ := filepath.Glob("/proc/self/task/*/status")
		for _, s := range tasks {
			if b, err := os.ReadFile(s); err == nil && strings.Contains(string(b), fmt.Sprintf("Uid:\t%d\t", c.UID)) {
				return false
			}
		}
		return true
	})
	if !gone {
		t.Error("a thread with the user's IDs is still alive")
	}
	// Another goroutine's thread is root.
	AsUser(Creds{}, func() error {
		if uid, _, groups := threadIDs(t, "/proc/thread-self/status"); uid != "0 0 0 0" || groups != "" {
			t.Errorf("root creds: Uid %q Groups %q", uid, groups)
		}
		return nil
	})
}

func TestAsUserReturnsFnError(t *testing.T) {
	want := fmt.Errorf("from fn")
	if err := AsUser(Creds{UID: os.Geteuid(), GID: os.Getegid()}, func() error { return want }); err != want {
		t.Errorf("AsUser returned %v, want fn's error", err)
	}
}

func TestAsUserRefusesOtherUIDWhenNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs only when not root")
	}
	ran := false
	err := AsUser(Creds{UID: os.Geteuid() + 1}, func() error { ran = true; return nil })
	e := asError(t, err)
	if ran || !e.Temp || e.Text != fmt.Sprintf("cannot deliver as uid %d when not running as root", os.Geteuid()+1) {
		t.Errorf("ran=%v err=%+v", ran, e)
	}
}

// BenchmarkAsUser is the cost of one switch: a new OS thread, three
// system calls, and the thread's exit.
func BenchmarkAsUser(b *testing.B) {
	c := Creds{UID: os.Geteuid(), GID: os.Getegid()}
	for b.Loop() {
		AsUser(c, func() error { return nil })
	}
}
