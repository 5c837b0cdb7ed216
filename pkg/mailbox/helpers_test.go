package mailbox

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"postern/internal/testinstance"
)

// recipient returns the credentials deliveries run as in tests: the test
// account (with its drop group as a supplementary group) as root, else the
// current user.
func recipient(t testing.TB) Creds {
	t.Helper()
	if os.Geteuid() != 0 {
		return Creds{UID: os.Geteuid(), GID: os.Getegid()}
	}
	if err := testinstance.EnsureTestAccount(); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(testinstance.TestUser)
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroup(testinstance.TestGroup)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	drop, _ := strconv.Atoi(g.Gid)
	return Creds{UID: uid, GID: gid, Groups: []int{drop}}
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// spoolDir returns a new directory anyone can reach, with mode (e.g.
// 01777 like a mail spool).
func spoolDir(t testing.TB, mode os.FileMode) string {
	t.Helper()
	d := t.TempDir()
	for p := d; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0755); err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(p) == os.TempDir() {
			break
		}
	}
	if err := os.Chmod(d, mode); err != nil {
		t.Fatal(err)
	}
	return d
}

func owner(t testing.TB, path string) (uid, gid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), fi.Mode()
}

func asError(t testing.TB, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v (%T) is not a *mailbox.Error", err, err)
	}
	return e
}
