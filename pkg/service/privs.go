package service

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func fdOpen(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil
}

// LookupMailOwner returns the uid and gid of the mail_owner account, and
// refuses a privileged one, in Postfix's words.
func LookupMailOwner(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("parameter mail_owner: unknown user name value: %s", name)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	if uid == 0 {
		return 0, 0, fmt.Errorf("parameter mail_owner: user %s has privileged user ID: %d", name, uid)
	}
	if gid == 0 {
		return 0, 0, fmt.Errorf("parameter mail_owner: user %s has privileged group ID: %d", name, gid)
	}
	return uid, gid, nil
}

// jail moves the process into queue_directory and, when it runs as root,
// chroots (-c) and drops to mail_owner (-u).
func (s *Service) jail() error {
	qdir := s.Config.Get("queue_directory")
	s.MailOwnerUID, s.MailOwnerGID = os.Getuid(), os.Getgid()
	// Load what the process would otherwise read lazily from outside the
	// jail: the local time zone (log timestamps).
	_ = time.Now().Format(time.RFC1123Z)
	if os.Geteuid() != 0 {
		// Developer mode: everything runs as the invoking user.
		if err := os.Chdir(qdir); err != nil {
			return fmt.Errorf("chdir %s: %v", qdir, err)
		}
		return nil
	}
	var uid, gid int
	if s.Unpriv {
		var err error
		if uid, gid, err = LookupMailOwner(s.Config.Get("mail_owner")); err != nil {
			return err
		}
		s.MailOwnerUID, s.MailOwnerGID = uid, gid
	}
	// /proc stays reachable through this descriptor after chroot, for the
	// check below.
	procfd, err := unix.Open("/proc/self", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		procfd = -1
	} else {
		defer unix.Close(procfd)
	}
	if s.Chroot {
		if err := syscall.Chroot(qdir); err != nil {
			return fmt.Errorf("chroot(%s): %v", qdir, err)
		}
		if err := os.Chdir("/"); err != nil {
			return fmt.Errorf("chdir(/): %v", err)
		}
	} else if err := os.Chdir(qdir); err != nil {
		return fmt.Errorf("chdir %s: %v", qdir, err)
	}
	if !s.Unpriv {
		return nil
	}
	// Main runs on the locked main thread (see init).
	allThreads, err := DropPrivileges(uid, gid)
	if err != nil {
		return err
	}
	if procfd >= 0 {
		return verifyThreads(procfd, uid, gid, allThreads)
	}
	return nil
}

// DropPrivileges sets the supplementary groups to gid alone, then the real,
// effective and saved group and user IDs, on every thread (the syscall
// package's calls change all threads: through AllThreadsSyscall, or glibc's
// setxid broadcast in a cgo binary), and sets PR_SET_NO_NEW_PRIVS so that
// no exec can gain privileges back.
//
// PR_SET_NO_NEW_PRIVS is a per-thread attribute. It is set on every thread
// with AllThreadsSyscall; a binary that uses cgo (os/user and net with
// NSS) cannot do that, and then only the calling thread, which the caller
// should have locked, gets it: allThreads reports which. Privileges are
// dropped on all threads either way.
func DropPrivileges(uid, gid int) (allThreads bool, err error) {
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return false, fmt.Errorf("setgroups(%d): %v", gid, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return false, fmt.Errorf("setgid(%d): %v", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return false, fmt.Errorf("setuid(%d): %v", uid, err)
	}
	_, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)
	switch errno {
	case 0:
		allThreads = true
	case syscall.ENOTSUP:
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return false, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %v", err)
		}
	default:
		return false, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %v", errno)
	}
	if syscall.Getuid() != uid || syscall.Geteuid() != uid || syscall.Getgid() != gid || syscall.Getegid() != gid {
		return false, fmt.Errorf("privileges not dropped: uid %d/%d gid %d/%d", syscall.Getuid(), syscall.Geteuid(), syscall.Getgid(), syscall.Getegid())
	}
	if err := syscall.Setuid(0); err == nil {
		return false, fmt.Errorf("privileges not dropped: setuid(0) succeeded")
	}
	return allThreads, nil
}

// verifyThreads reads /proc/self/task/*/status through procfd and checks
// that every thread has only the given IDs, and NoNewPrivs: every thread
// when allThreads, else the calling one.
func verifyThreads(procfd, uid, gid int, allThreads bool) error {
	self := strconv.Itoa(unix.Gettid())
	taskfd, err := unix.Openat(procfd, "task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /proc/self/task: %v", err)
	}
	dir := os.NewFile(uintptr(taskfd), "/proc/self/task")
	defer dir.Close()
	tids, err := dir.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read /proc/self/task: %v", err)
	}
	for _, tid := range tids {
		fd, err := unix.Openat(taskfd, tid+"/status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // thread exited meanwhile
		}
		f := os.NewFile(uintptr(fd), "status")
		err = CheckStatus(f, uid, gid, allThreads || tid == self)
		f.Close()
		if err != nil {
			return fmt.Errorf("thread %s: %v", tid, err)
		}
	}
	return nil
}

// CheckStatus parses a /proc/PID/status file and checks that its real,
// effective, saved and file-system IDs are uid and gid, that the only
// supplementary group is gid and, with nnp, that NoNewPrivs is set.
func CheckStatus(f *os.File, uid, gid int, nnp bool) error {
	want := map[string]string{
		"Uid":    fmt.Sprintf("%d %d %d %d", uid, uid, uid, uid),
		"Gid":    fmt.Sprintf("%d %d %d %d", gid, gid, gid, gid),
		"Groups": strconv.Itoa(gid),
	}
	if nnp {
		want["NoNewPrivs"] = "1"
	}
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		w, ok := want[k]
		if !ok {
			continue
		}
		seen++
		if got := strings.Join(strings.Fields(v), " "); got != w {
			return fmt.Errorf("%s is %q, want %q", k, got, w)
		}
	}
	if seen != len(want) {
		return fmt.Errorf("status file lacks some of Uid, Gid, Groups (NoNewPrivs)")
	}
	return sc.Err()
}
