package mailbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// defaultLocks is Postfix's Linux mailbox_delivery_lock (fcntl, dotlock).
var defaultLocks = MboxOptions{DotLock: true, FcntlLock: true, LockTimeout: 5 * time.Second}

// mboxMessage is one message read back from an mbox file.
type mboxMessage struct {
	From string // the From_ line, without its newline
	Body string // what follows, unquoted, without the separating empty line
}

// readMbox splits an mbox file written by DeliverMbox into its messages:
// a line starting with "From " starts a message (DeliverMbox quotes all
// others), the empty line before it (or at the end) separates, and one
// ">" is removed from lines starting with ">From ".
func readMbox(t testing.TB, data string) []mboxMessage {
	t.Helper()
	var msgs []mboxMessage
	var body strings.Builder
	flush := func() {
		if len(msgs) == 0 {
			return
		}
		b := body.String()
		if !strings.HasSuffix(b, "\n\n") && b != "\n" {
			t.Errorf("message %d does not end with an empty line: %q", len(msgs), b)
		}
		msgs[len(msgs)-1].Body = strings.TrimSuffix(b, "\n")
		body.Reset()
	}
	for len(data) > 0 {
		line := data
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		switch {
		case strings.HasPrefix(line, "From "):
			flush()
			msgs = append(msgs, mboxMessage{From: strings.TrimSuffix(line, "\n")})
		case len(msgs) == 0:
			t.Fatalf("mbox does not start with a From_ line: %q", line)
		case strings.HasPrefix(line, ">From "):
			body.WriteString(line[1:])
		default:
			body.WriteString(line)
		}
	}
	flush()
	return msgs
}

const prepend = "Return-Path: <sender@example.org>\nDelivered-To: rcpt@example.org\n"

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMboxFormat(t *testing.T) {
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 01777), "user")
	content := "Subject: quoting\n\nFrom here on\n>From already quoted\n From with a space\nFromage\n.dot line\n..two\nh\xc3\xa9llo \xff\n\nFrom"
	if err := DeliverMbox(path, c, msg(content), defaultLocks); err != nil {
		t.Fatal(err)
	}
	bounce := Message{ArrivalTime: time.Date(2026, 11, 21, 9, 8, 7, 0, time.Local), Prepend: []byte("Return-Path: <>\n"), Content: strings.NewReader("Subject: b\n\nbody\n")}
	if err := DeliverMbox(path, c, bounce, defaultLocks); err != nil {
		t.Fatal(err)
	}
	want := "From sender@example.org  Sun Nov  1 23:27:14 2026\n" + prepend +
		"Subject: quoting\n\n>From here on\n>From already quoted\n From with a space\nFromage\n.dot line\n..two\nh\xc3\xa9llo \xff\n\nFrom\n" +
		"\n" +
		"From MAILER-DAEMON  Sat Nov 21 09:08:07 2026\nReturn-Path: <>\nSubject: b\n\nbody\n\n"
	if got := readFile(t, path); got != want {
		t.Errorf("mbox:\n%q\nwant:\n%q", got, want)
	}
	if uid, gid, mode := owner(t, path); uid != c.UID || gid != c.GID || mode != 0600 {
		t.Errorf("new mailbox %d:%d %v, want %d:%d -rw-------", uid, gid, mode, c.UID, c.GID)
	}
	if _, err := os.Lstat(path + ".lock"); !os.IsNotExist(err) {
		t.Errorf("dotlock left behind: %v", err)
	}
}

func TestFromLineQuotesSender(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	for sender, want := range map[string]string{
		"":                  "From MAILER-DAEMON  Fri Jan  2 03:04:05 2026\n",
		"a.b@example.org":   "From a.b@example.org  Fri Jan  2 03:04:05 2026\n",
		"a b@example.org":   "From \"a b\"@example.org  Fri Jan  2 03:04:05 2026\n",
		"a..b@example.org":  "From \"a..b\"@example.org  Fri Jan  2 03:04:05 2026\n",
		`a"b\c@example.org`: "From \"a\\\"b\\\\c\"@example.org  Fri Jan  2 03:04:05 2026\n",
		"j\xc3\xb6@x":       "From j\xc3\xb6@x  Fri Jan  2 03:04:05 2026\n",
	} {
		if got := FromLine(sender, at); got != want {
			t.Errorf("FromLine(%q) = %q, want %q", sender, got, want)
		}
	}
}

// TestMboxReadByPython checks the file with another program's mbox
// parser: Python's mailbox module gives back the From_ lines and the
// messages (with mboxo's ">From " lines, which it does not unquote).
func TestMboxReadByPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 01777), "user")
	bodies := []string{
		"Subject: one\n\nFrom the start\n.\n.. two dots\n>From x\n",
		"Subject: =?utf-8?q?two?=\nContent-Type: text/plain; charset=utf-8\n\nh\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac\nFrom \n",
		"Subject: three\n\n\n\nFrom\nlast line without newline",
	}
	for _, b := range bodies {
		m := msg(b)
		m.Prepend = nil
		if err := DeliverMbox(path, c, m, defaultLocks); err != nil {
			t.Fatal(err)
		}
	}
	script := `
import json, mailbox, sys
out = []
for m in mailbox.mbox(sys.argv[1], create=False):
    out.append({"from": m.get_from(), "msg": m.as_bytes(unixfrom=False).decode("latin-1")})
print(json.dumps(out))
`
	outb, err := exec.Command("python3", "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, outb)
	}
	var got []struct{ From, Msg string }
	if err := json.Unmarshal(outb, &got); err != nil {
		t.Fatalf("%v: %s", err, outb)
	}
	if len(got) != len(bodies) {
		t.Fatalf("python read %d messages, want %d", len(got), len(bodies))
	}
	for i, b := range bodies {
		if want := "sender@example.org  Sun Nov  1 23:27:14 2026"; got[i].From != want {
			t.Errorf("message %d: From_ %q, want %q", i, got[i].From, want)
		}
		want := quoteLines(b)
		if !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		// Python's latin-1 round trip of 8-bit text gives the same bytes.
		gotMsg := []byte{}
		for _, r := range got[i].Msg {
			gotMsg = append(gotMsg, byte(r))
		}
		if string(gotMsg) != want {
			t.Errorf("message %d: python read\n%q\nwant\n%q", i, gotMsg, want)
		}
	}
}

// quoteLines is the >From rule spelled out line by line.
func quoteLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "From ") {
			lines[i] = ">" + l
		}
	}
	return strings.Join(lines, "")
}

func wantError(t *testing.T, err error, temp bool, dsn, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s %q", dsn, text)
	}
	e := asError(t, err)
	if e.Temp != temp || e.DSN != dsn || e.Text != text {
		t.Errorf("got Temp=%v DSN=%s %q, want Temp=%v DSN=%s %q", e.Temp, e.DSN, e.Text, temp, dsn, text)
	}
}

func TestMboxRefusesSymlink(t *testing.T) {
	c := recipient(t)
	spool := spoolDir(t, 01777)
	target := filepath.Join(spool, "target")
	os.WriteFile(target, nil, 0600)
	os.Chown(target, c.UID, c.GID)
	path := filepath.Join(spool, "user")
	os.Symlink(target, path)
	os.Lchown(path, c.UID, c.GID)
	wantError(t, DeliverMbox(path, c, msg("x\n"), defaultLocks), false, "5.2.0", "file is a symbolic link")
	// A dangling one too: the mailbox is not created through it.
	os.Remove(target)
	wantError(t, DeliverMbox(path, c, msg("x\n"), defaultLocks), false, "5.2.0", "file is a symbolic link")
	if _, err := os.Lstat(target); err == nil {
		t.Error("delivery created the symlink's target")
	}
}

func TestMboxFollowsRootSymlinkInSafeDirectory(t *testing.T) {
	needRoot(t)
	c := recipient(t)
	safe := spoolDir(t, 0755) // root's, writable by no one else
	target := filepath.Join(spoolDir(t, 01777), "target")
	os.WriteFile(target, nil, 0600)
	os.Chown(target, c.UID, c.GID)
	path := filepath.Join(safe, "user")
	os.Symlink(target, path)
	if err := DeliverMbox(path, c, msg("x\n"), MboxOptions{FcntlLock: true}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, target); !strings.HasSuffix(got, "\nx\n\n") {
		t.Errorf("target: %q", got)
	}
}

func TestMboxRefusesHardLinkedFile(t *testing.T) {
	c := recipient(t)
	spool := spoolDir(t, 01777)
	path := filepath.Join(spool, "user")
	os.WriteFile(path, []byte("old\n"), 0600)
	os.Chown(path, c.UID, c.GID)
	os.Link(path, filepath.Join(spool, "other"))
	wantError(t, DeliverMbox(path, c, msg("x\n"), defaultLocks), false, "5.2.0", "file has 2 hard links")
	if got := readFile(t, path); got != "old\n" {
		t.Errorf("file changed: %q", got)
	}
}

func TestMboxRefusesFileOfAnotherUser(t *testing.T) {
	needRoot(t)
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 01777), "user")
	os.WriteFile(path, []byte("old\n"), 0666)
	os.Chmod(path, 0666) // writable by the recipient, but not hers
	wantError(t, DeliverMbox(path, c, msg("x\n"), defaultLocks), true, "4.2.0", "destination "+path+" is not owned by recipient")
	if got := readFile(t, path); got != "old\n" {
		t.Errorf("file changed: %q", got)
	}
	// strict_mailbox_ownership = no
	o := defaultLocks
	o.NoStrictOwnership = true
	if err := DeliverMbox(path, c, msg("x\n"), o); err != nil {
		t.Error(err)
	}
}

// fifo makes a named pipe with a reader, so that it can be opened for
// writing; the returned function reads what was written.
func fifo(t *testing.T, path string, c Creds) func() string {
	t.Helper()
	if err := unix.Mkfifo(path, 0600); err != nil {
		t.Fatal(err)
	}
	os.Chown(path, c.UID, c.GID)
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return func() string {
		b := make([]byte, 65536)
		n, _ := r.Read(b)
		return string(b[:max(n, 0)])
	}
}

func TestMboxRefusesNonRegularFile(t *testing.T) {
	c := recipient(t)
	spool := spoolDir(t, 01777)
	path := filepath.Join(spool, "user")
	fifo(t, path, c)
	wantError(t, DeliverMbox(path, c, msg("x\n"), defaultLocks), false, "5.2.0", "destination "+path+" is not a regular file")
	dir := filepath.Join(spool, "dir")
	os.Mkdir(dir, 0700)
	os.Chown(dir, c.UID, c.GID)
	wantError(t, DeliverMbox(dir, c, msg("x\n"), MboxOptions{}), false, "5.2.0", "cannot open file: Is a directory")
}

func TestFileDeliveryToPipeAndDevNull(t *testing.T) {
	c := recipient(t)
	spool := spoolDir(t, 01777)
	path := filepath.Join(spool, "pipe")
	read := fifo(t, path, c)
	o := defaultLocks
	o.File = true
	if err := DeliverMbox(path, c, msg("x\n"), o); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "From sender@example.org  Sun Nov  1 23:27:14 2026\n"+prepend+"x\n\n"; got != want {
		t.Errorf("pipe got %q, want %q", got, want)
	}
	if _, err := os.Lstat(path + ".lock"); !os.IsNotExist(err) {
		t.Error("a non-regular file was dotlocked")
	}
	if err := DeliverMbox("/dev/null", c, msg("x\n"), o); err != nil {
		t.Error(err)
	}
}

func TestFileDeliveryRefusesExecutable(t *testing.T) {
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 01777), "prog")
	os.WriteFile(path, []byte("#!/bin/sh\n"), 0700)
	os.Chown(path, c.UID, c.GID)
	wantError(t, DeliverMbox(path, c, msg("x\n"), MboxOptions{File: true}), false, "5.7.1", "file is executable")
}

func TestFileDeliveryDotlockFailureOnlyWarns(t *testing.T) {
	needRoot(t)
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 0755), "archive") // the user cannot create archive.lock here
	os.WriteFile(path, nil, 0600)
	os.Chown(path, c.UID, c.GID)
	o := defaultLocks
	o.File = true
	if err := DeliverMbox(path, c, msg("x\n"), o); err != nil {
		t.Fatal(err)
	}
	// A mailbox delivery there fails on the lock.
	wantError(t, DeliverMbox(path, c, msg("x\n"), defaultLocks), false, "5.2.0", "unable to create lock file "+path+".lock: Permission denied")
}

func TestMboxSpoolPrivileges(t *testing.T) {
	needRoot(t)
	c := recipient(t)
	o := defaultLocks
	o.Spool = true
	// A spool only root can write (0755): root creates the mailbox
	// and the lock, and gives the mailbox to the recipient.
	path := filepath.Join(spoolDir(t, 0755), "user")
	if err := DeliverMbox(path, c, msg("x\n"), o); err != nil {
		t.Fatal(err)
	}
	if uid, gid, mode := owner(t, path); uid != c.UID || gid != c.GID || mode != 0600 {
		t.Errorf("mailbox %d:%d %v, want %d:%d -rw-------", uid, gid, mode, c.UID, c.GID)
	}
	// Without Spool, the same directory is the recipient's problem.
	path2 := filepath.Join(filepath.Dir(path), "user2")
	wantError(t, DeliverMbox(path2, c, msg("x\n"), defaultLocks), false, "5.2.0", "unable to create lock file "+path2+".lock: Permission denied")

	// Debian's /var/mail: 2775 root:mail. The recipient's uid with the
	// directory's group makes the lock and the mailbox.
	mail := c.Groups[0]
	spool := spoolDir(t, 0775)
	os.Chown(spool, 0, mail)
	os.Chmod(spool, 02775)
	path = filepath.Join(spool, "user")
	if err := DeliverMbox(path, c, msg("x\n"), o); err != nil {
		t.Fatal(err)
	}
	if uid, gid, _ := owner(t, path); uid != c.UID || gid != mail {
		t.Errorf("mailbox %d:%d, want %d:%d", uid, gid, c.UID, mail)
	}
	if _, err := os.Lstat(path + ".lock"); !os.IsNotExist(err) {
		t.Error("dotlock left behind")
	}
}

func TestMboxSizeLimit(t *testing.T) {
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 01777), "user")
	old := strings.Repeat("From x  Sun Nov  1 23:27:14 2026\n\n", 300) // 10 KB
	os.WriteFile(path, []byte(old), 0600)
	os.Chown(path, c.UID, c.GID)
	o := defaultLocks
	o.SizeLimit = 3000
	wantError(t, DeliverMbox(path, c, msg("x\n"), o), false, "5.2.2", "error writing message: File too large")
	// Room for the message: delivered; one byte too few: refused, and
	// the file is as before.
	path = filepath.Join(filepath.Dir(path), "user2")
	m := msg("x\n")
	one := int64(len(FromLine(m.Sender, m.ArrivalTime)) + len(prepend) + len("x\n\n"))
	o.SizeLimit = 2*one - 1
	if err := DeliverMbox(path, c, msg("x\n"), o); err != nil {
		t.Fatal(err)
	}
	wantError(t, DeliverMbox(path, c, msg("x\n"), o), false, "5.2.2", "error writing message: File too large")
	if fi, _ := os.Stat(path); fi.Size() != one {
		t.Errorf("size %d after a refused delivery, want %d", fi.Size(), one)
	}
	// A message that crosses the limit half-way, after part of it was
	// written: the file is cut back.
	o.SizeLimit = 100000
	wantError(t, DeliverMbox(path, c, msg(strings.Repeat("y", 300000)+"\n"), o), false, "5.2.2", "error writing message: File too large")
	if fi, _ := os.Stat(path); fi.Size() != one {
		t.Errorf("size %d after a refused delivery, want %d", fi.Size(), one)
	}
}

// failingReader returns some of a message, then an error.
type failingReader struct{ sent int }

func (f *failingReader) Read(p []byte) (int, error) {
	// More than the write buffer, so that some reaches the file.
	if f.sent < 256*1024 {
		n := copy(p, bytes.Repeat([]byte("a partial message line\n"), len(p)/23))
		f.sent += n
		return n, nil
	}
	return 0, syscall.EIO
}

func TestMboxTruncatedBackOnError(t *testing.T) {
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 01777), "user")
	if err := DeliverMbox(path, c, msg("first\n"), defaultLocks); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, path)
	m := msg("")
	m.Content = &failingReader{}
	wantError(t, DeliverMbox(path, c, m, defaultLocks), true, "4.3.0", "error reading message: Input/output error")
	if got := readFile(t, path); got != before {
		t.Errorf("mailbox not truncated back:\n%q\nwant\n%q", got, before)
	}
}

func TestMboxDotlockBusyAndStale(t *testing.T) {
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 01777), "user")
	os.WriteFile(path+".lock", nil, 0)
	o := defaultLocks
	o.LockTimeout = 50 * time.Millisecond
	wantError(t, DeliverMbox(path, c, msg("x\n"), o), true, "4.2.0", "unable to create lock file "+path+".lock: File exists")
	if _, err := os.Lstat(path); err == nil {
		t.Error("mailbox created without the lock")
	}
	defer func(old time.Duration) { staleLockTime = old }(staleLockTime)
	staleLockTime = 0 // every lock is stale now
	if err := DeliverMbox(path, c, msg("x\n"), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path + ".lock"); !os.IsNotExist(err) {
		t.Error("lock left behind")
	}
}

func TestMboxKernelLockBusy(t *testing.T) {
	c := recipient(t)
	path := filepath.Join(spoolDir(t, 01777), "user")
	os.WriteFile(path, nil, 0600)
	os.Chown(path, c.UID, c.GID)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A classic process-owned fcntl lock, as mutt or procmail take.
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	o := MboxOptions{FcntlLock: true, LockTimeout: 50 * time.Millisecond}
	wantError(t, DeliverMbox(path, c, msg("x\n"), o), true, "4.2.0", "unable to lock for exclusive access: Resource temporarily unavailable")
	lk.Type = unix.F_UNLCK
	unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)

	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	o = MboxOptions{FlockLock: true, LockTimeout: 50 * time.Millisecond}
	wantError(t, DeliverMbox(path, c, msg("x\n"), o), true, "4.2.0", "unable to lock for exclusive access: Resource temporarily unavailable")
	if got := readFile(t, path); got != "" {
		t.Errorf("written while locked: %q", got)
	}
}

func TestMboxConcurrentDeliveries(t *testing.T) {
	c := recipient(t)
	for _, o := range []MboxOptions{
		defaultLocks,
		{FcntlLock: true, LockTimeout: time.Minute}, // the lock alone keeps this process's deliveries apart
		{DotLock: true, LockTimeout: time.Minute},
	} {
		path := filepath.Join(spoolDir(t, 01777), "user")
		const workers, each = 10, 10
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					body := fmt.Sprintf("Subject: %d/%d\n\n%s", w, i, strings.Repeat(fmt.Sprintf("From %d %d\n", w, i), 2000))
					m := msg(body)
					m.Prepend = nil
					if err := DeliverMbox(path, c, m, o); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		msgs := readMbox(t, readFile(t, path))
		if len(msgs) != workers*each {
			t.Fatalf("%+v: %d messages, want %d", o, len(msgs), workers*each)
		}
		seen := map[string]bool{}
		for _, m := range msgs {
			var w, i int
			fmt.Sscanf(m.Body, "Subject: %d/%d", &w, &i)
			want := fmt.Sprintf("Subject: %d/%d\n\n%s", w, i, strings.Repeat(fmt.Sprintf("From %d %d\n", w, i), 2000))
			if m.Body != want || seen[want] {
				t.Fatalf("%+v: message %d/%d garbled or repeated", o, w, i)
			}
			seen[want] = true
		}
	}
}

func TestMboxAsAnotherUserWhenNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs only when not root")
	}
	path := filepath.Join(t.TempDir(), "user")
	err := DeliverMbox(path, Creds{UID: os.Geteuid() + 1}, msg("x\n"), defaultLocks)
	wantError(t, err, true, "4.3.0", fmt.Sprintf("cannot deliver as uid %d when not running as root", os.Geteuid()+1))
}

// FuzzFromQuoter checks the quoting writer against the rule spelled out
// line by line, however the input is cut into writes, and that a reader
// that removes one ">" from ">From " lines gets back the input (with its
// own ">From " lines read as "From ": mboxo cannot tell them apart).
func FuzzFromQuoter(f *testing.F) {
	f.Add([]byte("From x\n>From y\nFro\nFrom"), uint8(3))
	f.Add([]byte("a\nFrom \nFrom From \n\nFrom\n"), uint8(1))
	f.Add([]byte("From"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		var out bytes.Buffer
		q := NewFromQuoter(&out)
		step := int(cut)%7 + 1
		for rest := in; len(rest) > 0; {
			n := min(step, len(rest))
			if _, err := q.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
			step = step%5 + 1
		}
		if err := q.Flush(); err != nil {
			t.Fatal(err)
		}
		if want := quoteLines(string(in)); out.String() != want {
			t.Fatalf("quoted %q as %q, want %q", in, out.String(), want)
		}
		for _, l := range strings.SplitAfter(out.String(), "\n") {
			if strings.HasPrefix(l, "From ") {
				t.Fatalf("unquoted From_ line %q in output", l)
			}
		}
		mbox := FromLine("s@x", time.Unix(0, 0)) + out.String()
		if !strings.HasSuffix(mbox, "\n") {
			mbox += "\n"
		}
		msgs := readMbox(t, mbox+"\n")
		if len(msgs) != 1 {
			t.Fatalf("read %d messages back", len(msgs))
		}
		want := strings.ReplaceAll("\n"+string(in), "\n>From ", "\nFrom ")[1:]
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if msgs[0].Body != want {
			t.Fatalf("read back %q, want %q", msgs[0].Body, want)
		}
	})
}

func BenchmarkDeliverMbox(b *testing.B) {
	c := Creds{UID: os.Geteuid(), GID: os.Getegid()}
	path := filepath.Join(b.TempDir(), "user")
	body := strings.Repeat("a line of a message body, about sixty characters long.....\n", 64) // ~4 KB
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		m := msg(body)
		if err := DeliverMbox(path, c, m, defaultLocks); err != nil {
			b.Fatal(err)
		}
	}
}
