// End-to-end tests of the local mail path (issue 4): sendmail → postdrop →
// pickup → cleanup → qmgr → local, with aliases, .forward, mbox and
// Maildir, bounces. They create local users and so run as root (CI);
// elsewhere they skip.
package test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ti "postern/internal/testinstance"
)

// The daemons of the local mail path.
var mailPrograms = []string{"pickup", "cleanup", "qmgr", "trivial-rewrite", "local", "bounce"}

func requireMailPath(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("local delivery tests create users: need root")
	}
	for _, p := range mailPrograms {
		if !ti.Built(p) {
			t.Fatalf("program %s is not built", p)
		}
	}
}

// A message whose body has what mbox and SMTP must keep intact.
const trickyBody = "From the start of a line\n.\n..\n>From already quoted\nFrom\nUTF-8: gr\u00fc\u00dfe, \u65e5\u672c\n\nlast line\n"

func TestLocalMaildir(t *testing.T) {
	requireMailPath(t)
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	alice, bob, carol := in.AddUser("ptalice"), in.AddUser("ptbob"), in.AddUser("ptcarol")
	in.Start()

	msg := "To: ptalice\nCc: ptcarol\nBcc: ptcarol\nSubject: maildir test\n\n" + trickyBody
	if out, code := in.Sendmail(bob, msg, "-t", "-i"); code != 0 {
		t.Fatalf("sendmail -t: exit %d: %s", code, out)
	}
	got := in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 1)[0]
	checkDelivered(t, got, "ptbob@mx.example.test", "ptalice@mx.example.test")
	if !strings.HasSuffix(got, "\n\n"+trickyBody) {
		t.Errorf("body changed; message:\n%s", got)
	}
	cgot := in.WaitMaildir(filepath.Join(carol.Home, "Maildir"), 1)
	in.WaitQueueEmpty()
	if n := len(ti.Maildir(filepath.Join(carol.Home, "Maildir"))); n != 1 {
		t.Errorf("carol (Cc and Bcc) got %d copies, want 1", n)
	}
	for _, m := range []string{got, cgot[0]} {
		if strings.Contains(strings.ToLower(headerOf(m)), "bcc:") {
			t.Errorf("Bcc header delivered:\n%s", m)
		}
	}
	// The Maildir belongs to its user, and so does the message.
	for _, p := range []string{filepath.Join(alice.Home, "Maildir"), filepath.Join(alice.Home, "Maildir", "new")} {
		checkOwner(t, p, alice.UID)
	}
	ents, _ := os.ReadDir(filepath.Join(alice.Home, "Maildir", "new"))
	checkOwner(t, filepath.Join(alice.Home, "Maildir", "new", ents[0].Name()), alice.UID)

	qid := regexp.MustCompile(`postern/pickup\[\d+\]: ([0-9A-Za-z]+): uid=` + strconv.Itoa(bob.UID) + ` from=<ptbob>`).FindStringSubmatch(in.Log())
	if qid == nil {
		t.Fatalf("no pickup line; log:\n%s", in.Log())
	}
	id := qid[1]
	for _, re := range []string{
		`postern/cleanup\[\d+\]: ` + id + `: message-id=<\d{14}\.` + id + `@mx\.example\.test>`,
		`postern/qmgr\[\d+\]: ` + id + `: from=<ptbob@mx\.example\.test>, size=\d+, nrcpt=2 \(queue active\)`,
		`postern/local\[\d+\]: ` + id + `: to=<ptalice@mx\.example\.test>, orig_to=<ptalice>, relay=local, delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, status=sent \(delivered to maildir\)`,
		`postern/qmgr\[\d+\]: ` + id + `: removed`,
	} {
		in.WaitLog(re)
	}
}

func TestLocalMbox(t *testing.T) {
	requireMailPath(t)
	spool := filepath.Join(t.TempDir(), "mail")
	os.MkdirAll(spool, 0755)
	os.Chmod(filepath.Dir(spool), 0755)
	os.Chmod(spool, 01777)
	in := ti.NewMail(t, map[string]string{"mail_spool_directory": spool, "home_mailbox": ""}, "")
	alice, bob := in.AddUser("ptalice"), in.AddUser("ptbob")
	in.Start()
	for i := 0; i < 2; i++ {
		msg := fmt.Sprintf("To: ptalice@localhost\nSubject: mbox %d\n\n", i) + trickyBody
		if out, code := in.Sendmail(bob, msg, "-t", "-i"); code != 0 {
			t.Fatalf("sendmail: exit %d: %s", code, out)
		}
		in.WaitLog(`status=sent \(delivered to mailbox\)`)
		in.MarkLog()
	}
	box := filepath.Join(spool, "ptalice")
	in.WaitFile(box, func(s string) bool { return strings.Count(s, "Subject: mbox") == 2 })
	checkOwner(t, box, alice.UID)
	if st, _ := os.Stat(box); st.Mode().Perm() != 0600 {
		t.Errorf("mbox mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(box)
	if !regexp.MustCompile(`^From ptbob@mx\.example\.test  [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\n`).Match(b) {
		t.Errorf("From_ line wrong:\n%.200s", b)
	}
	// Python's mailbox module reads both messages back with their bodies.
	py := `import mailbox, sys
for m in mailbox.mbox(sys.argv[1]):
    sys.stdout.buffer.write(m.get_payload(decode=True) + b"\x00")`
	out, err := exec.Command("python3", "-c", py, box).Output()
	if err != nil {
		t.Fatalf("python3 mailbox: %v", err)
	}
	bodies := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(bodies) != 2 {
		t.Fatalf("python found %d messages, want 2", len(bodies))
	}
	for i, body := range bodies {
		// Python's mbox reader keeps the writer's quoting: only the line
		// that began with "From " gains a ">" (Postfix's mboxo quoting).
		want := strings.Replace(trickyBody, "From the start", ">From the start", 1)
		if strings.TrimRight(body, "\n") != strings.TrimRight(want, "\n") {
			t.Errorf("message %d body as python reads it:\n%q\nwant\n%q", i, body, want)
		}
	}
}

func TestLocalSymlinkMailboxRefused(t *testing.T) {
	requireMailPath(t)
	spool := filepath.Join(t.TempDir(), "mail")
	os.MkdirAll(spool, 0755)
	os.Chmod(filepath.Dir(spool), 0755)
	os.Chmod(spool, 01777)
	in := ti.NewMail(t, map[string]string{"mail_spool_directory": spool, "home_mailbox": ""}, "")
	in.AddUser("ptalice")
	bob := in.AddUser("ptbob")
	target := filepath.Join(in.Root, "victim")
	os.WriteFile(target, []byte("precious\n"), 0644)
	if err := os.Symlink(target, filepath.Join(spool, "ptalice")); err != nil {
		t.Fatal(err)
	}
	in.Start()
	in.Sendmail(bob, "Subject: x\n\nx\n", "-i", "ptalice@localhost")
	line := in.WaitLog(`to=<ptalice@localhost>.*status=(deferred|bounced)`)
	if !strings.Contains(strings.ToLower(line), "symbolic link") && !strings.Contains(strings.ToLower(line), "symlink") {
		t.Errorf("reason does not name the symlink: %s", line)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("symlink target written: %q", b)
	}
}

func TestLocalAliases(t *testing.T) {
	requireMailPath(t)
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	alice, bob, carol := in.AddUser("ptalice"), in.AddUser("ptbob"), in.AddUser("ptcarol")
	out := filepath.Join(in.Root, "out")
	os.Mkdir(out, 0777)
	os.Chmod(out, 0777)
	inc := filepath.Join(in.Root, "inc.list")
	os.WriteFile(inc, []byte("# a list\nptcarol\n"), 0644)
	nobody, _ := user.Lookup("nobody")
	in.SetAliases(fmt.Sprintf(`list: ptalice, ptbob
nested: list
inc: :include:%s
cmd: "|/bin/sh -c 'id -u > %s/cmd.uid; cat > %s/cmd.msg'"
file: %s/file.mbox
owner-list: ptcarol
renamed: ptalice
`, inc, out, out, out))
	in.Start()
	send := func(to, subject string) {
		t.Helper()
		if o, code := in.Sendmail(bob, "Subject: "+subject+"\n\nbody "+subject+"\n", "-i", to); code != 0 {
			t.Fatalf("sendmail %s: exit %d %s", to, code, o)
		}
	}
	send("list@localhost", "to-list")
	send("nested", "to-nested")
	send("inc", "to-inc")
	send("cmd", "to-cmd")
	send("file", "to-file")
	send("renamed", "to-renamed")
	in.WaitFile(filepath.Join(out, "cmd.msg"), func(s string) bool { return strings.Contains(s, "body to-cmd") })
	uid := strings.TrimSpace(in.WaitFile(filepath.Join(out, "cmd.uid"), nil))
	if uid != nobody.Uid {
		t.Errorf("alias command ran as uid %s, want default_privs nobody (%s)", uid, nobody.Uid)
	}
	fb := in.WaitFile(filepath.Join(out, "file.mbox"), func(s string) bool { return strings.Contains(s, "body to-file") })
	if !strings.HasPrefix(fb, "From ptbob@mx.example.test  ") {
		t.Errorf("alias file delivery is not mbox format:\n%s", fb)
	}
	checkOwner(t, filepath.Join(out, "file.mbox"), atoi(nobody.Uid))
	in.WaitQueueEmpty()
	time.Sleep(500 * time.Millisecond)
	count := func(u *ti.User, subject string) int {
		n := 0
		for _, m := range ti.Maildir(filepath.Join(u.Home, "Maildir")) {
			if strings.Contains(m, "Subject: "+subject+"\n") {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		u       *ti.User
		subject string
		want    int
	}{
		{alice, "to-list", 1}, {bob, "to-list", 1}, {carol, "to-list", 0},
		{alice, "to-nested", 1}, {bob, "to-nested", 1},
		{carol, "to-inc", 1}, {alice, "to-inc", 0},
		{alice, "to-renamed", 1},
	} {
		if got := count(c.u, c.subject); got != c.want {
			t.Errorf("%s has %d copies of %q, want %d", c.u.Name, got, c.subject, c.want)
		}
	}
	// The expansion of list went out with owner-list as its sender.
	for _, m := range ti.Maildir(filepath.Join(alice.Home, "Maildir")) {
		if strings.Contains(m, "Subject: to-list\n") && !strings.HasPrefix(m, "Return-Path: <owner-list@") {
			t.Errorf("list expansion sender is not owner-list:\n%s", headerOf(m))
		}
	}
}

func TestLocalForward(t *testing.T) {
	requireMailPath(t)
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	alice, bob, carol := in.AddUser("ptalice"), in.AddUser("ptbob"), in.AddUser("ptcarol")
	writeAs := func(u *ti.User, name, text string, mode os.FileMode) {
		p := filepath.Join(u.Home, name)
		os.WriteFile(p, []byte(text), mode)
		os.Chmod(p, mode)
		os.Chown(p, u.UID, u.GID)
	}
	writeAs(alice, ".forward", "ptbob, \\ptalice\n", 0644)
	writeAs(carol, ".forward", "ptbob\n", 0664) // group-writable: ignored
	in.Start()
	in.Sendmail(nil, "Subject: fwd-alice\n\nx\n", "-i", "ptalice")
	in.Sendmail(nil, "Subject: fwd-carol\n\nx\n", "-i", "ptcarol")
	in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 1)
	in.WaitMaildir(filepath.Join(bob.Home, "Maildir"), 1)
	in.WaitMaildir(filepath.Join(carol.Home, "Maildir"), 1)
	in.WaitQueueEmpty()
	time.Sleep(500 * time.Millisecond)
	bm := ti.Maildir(filepath.Join(bob.Home, "Maildir"))
	if len(bm) != 1 || !strings.Contains(bm[0], "Subject: fwd-alice") {
		t.Errorf("bob got %d messages, want only alice's forward", len(bm))
	}
	if n := len(ti.Maildir(filepath.Join(alice.Home, "Maildir"))); n != 1 {
		t.Errorf("alice got %d copies, want 1 (\\ptalice)", n)
	}
	in.WaitLog(`warning: .*\.forward.*(writable|permission)`)
}

func TestLocalUnknownUserBounce(t *testing.T) {
	requireMailPath(t)
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	bob := in.AddUser("ptbob")
	in.Start()
	in.Sendmail(bob, "Subject: to nobody here\nMessage-Id: <orig@x.test>\n\nhello\n", "-i", "ptnosuch@localhost")
	in.WaitLog(`to=<ptnosuch@localhost>, relay=local, .*dsn=5\.1\.1, status=bounced \(unknown user: "ptnosuch"\)`)
	in.WaitLog(`postern/bounce\[\d+\]: [0-9A-Za-z]+: sender non-delivery notification: [0-9A-Za-z]+`)
	dsn := in.WaitMaildir(filepath.Join(bob.Home, "Maildir"), 1)[0]
	if !strings.HasPrefix(dsn, "Return-Path: <>\n") {
		t.Errorf("bounce not from the null sender:\n%s", headerOf(dsn))
	}
	py := `import email, sys
from email import policy
m = email.message_from_bytes(open(sys.argv[1], "rb").read())
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status", m.get_param("report-type")
parts = m.get_payload()
ds = [p for p in parts if p.get_content_type() == "message/delivery-status"][0]
blocks = ds.get_payload()
print("reporting-mta=" + blocks[0]["Reporting-MTA"])
print("arrival=" + str(blocks[0]["Arrival-Date"] is not None))
r = blocks[1]
for f in ("Final-Recipient", "Original-Recipient", "Action", "Status", "Diagnostic-Code"):
    print(f.lower() + "=" + str(r[f]))
orig = [p for p in parts if p.get_content_type() in ("message/rfc822", "text/rfc822-headers")]
print("returned=" + str(len(orig)))
`
	f := filepath.Join(t.TempDir(), "dsn")
	os.WriteFile(f, []byte(dsn), 0644)
	out, err := exec.Command("python3", "-c", py, f).CombinedOutput()
	if err != nil {
		t.Fatalf("python email: %v\n%s\nmessage:\n%s", err, out, dsn)
	}
	for _, want := range []string{
		"reporting-mta=dns; mx.example.test",
		"arrival=True",
		"final-recipient=rfc822; ptnosuch@localhost",
		// A local submission has no DSN ORCPT: Postfix writes the
		// original recipient with a space (reference, bounce reports).
		"original-recipient=rfc822; ptnosuch@localhost",
		"action=failed",
		"status=5.1.1",
		"returned=1",
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("DSN field %q missing; python saw:\n%s", want, out)
		}
	}
	// Bounces are never bounced: mail from <> to an unknown user is dropped.
	in.MarkLog()
	in.Sendmail(nil, "Subject: from null\n\nx\n", "-i", "-f", "<>", "ptnosuch2@localhost")
	in.WaitLog(`to=<ptnosuch2@localhost>.*status=bounced`)
	in.WaitQueueEmpty()
	if n := len(ti.Maildir(filepath.Join(bob.Home, "Maildir"))); n != 1 {
		t.Errorf("bob has %d messages, want only the first bounce", n)
	}
}

func TestLocalPostedWhileStopped(t *testing.T) {
	requireMailPath(t)
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	alice, bob := in.AddUser("ptalice"), in.AddUser("ptbob")
	// postdrop needs the queue tree, which the first start creates.
	in.Start()
	in.Stop()
	if out, code := in.Sendmail(bob, "Subject: while stopped\n\nx\n", "-i", "ptalice"); code != 0 {
		t.Fatalf("sendmail with postern stopped: exit %d %s", code, out)
	}
	in.Start()
	m := in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 1)[0]
	if !strings.Contains(m, "Subject: while stopped") {
		t.Errorf("wrong message:\n%s", m)
	}
}

func TestLocalMailboxCommandTempfail(t *testing.T) {
	requireMailPath(t)
	dir := filepath.Join(t.TempDir(), "mc")
	os.MkdirAll(dir, 0777)
	os.Chmod(filepath.Dir(dir), 0755)
	os.Chmod(dir, 0777)
	script := filepath.Join(dir, "deliver.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
if [ ! -e "`+dir+`/tried" ]; then touch "`+dir+`/tried"; exit 75; fi
id -u > "`+dir+`/uid"
cat > "`+dir+`/msg"
`), 0755)
	in := ti.NewMail(t, map[string]string{"mailbox_command": script, "home_mailbox": ""}, "")
	alice := in.AddUser("ptalice")
	in.Start()
	in.Sendmail(nil, "Subject: mc\n\nvia command\n", "-i", "ptalice")
	in.WaitLog(`to=<ptalice@mx\.example\.test>, .*dsn=4\.\d\.\d, status=deferred`)
	in.WaitFile(filepath.Join(dir, "msg"), func(s string) bool { return strings.Contains(s, "via command") })
	in.WaitLog(`to=<ptalice@mx\.example\.test>, .*status=sent \(delivered to command: ` + regexp.QuoteMeta(script) + `\)`)
	if uid := strings.TrimSpace(in.WaitFile(filepath.Join(dir, "uid"), nil)); uid != strconv.Itoa(alice.UID) {
		t.Errorf("mailbox_command ran as uid %s, want %d", uid, alice.UID)
	}
}

func TestLocalPflogsumm(t *testing.T) {
	requireMailPath(t)
	if _, err := exec.LookPath("pflogsumm"); err != nil {
		t.Skip("pflogsumm not installed")
	}
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	alice, bob := in.AddUser("ptalice"), in.AddUser("ptbob")
	in.Start()
	for i := 0; i < 3; i++ {
		in.Sendmail(bob, fmt.Sprintf("Subject: %d\n\nx\n", i), "-i", "ptalice")
	}
	in.Sendmail(bob, "Subject: b\n\nx\n", "-i", "ptnosuch")
	in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 3)
	in.WaitMaildir(filepath.Join(bob.Home, "Maildir"), 1) // the bounce
	in.WaitQueueEmpty()
	out, err := exec.Command("pflogsumm", "--syslog-name=postern", in.LogFile).CombinedOutput()
	if err != nil {
		t.Fatalf("pflogsumm: %v\n%s", err, out)
	}
	// 3 to alice and the bounce to bob delivered; one bounced.
	for _, re := range []string{`(?m)^\s+4\s+delivered`, `(?m)^\s+1\s+bounced`} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("pflogsumm output lacks %s:\n%s\nlog:\n%s", re, out, in.Log())
		}
	}
}

// checkDelivered checks the headers local adds.
func checkDelivered(t *testing.T, msg, sender, rcpt string) {
	t.Helper()
	h := headerOf(msg)
	for _, want := range []string{
		"Return-Path: <" + sender + ">\n",
		"Delivered-To: " + rcpt + "\n",
		"Received: by mx.example.test (Postern, from userid ",
		"Message-Id: <",
		"Date: ",
		"From: ",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("header %q missing:\n%s", want, h)
		}
	}
	if !strings.HasPrefix(h, "Return-Path: ") {
		t.Errorf("Return-Path is not the first header:\n%s", h)
	}
}

func headerOf(msg string) string {
	if i := strings.Index(msg, "\n\n"); i >= 0 {
		return msg[:i+1]
	}
	return msg
}

func checkOwner(t *testing.T, path string, uid int) {
	t.Helper()
	var st os.FileInfo
	st, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid {
		t.Errorf("%s owned by uid %d, want %d", path, got, uid)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// Mail readers and cron call sendmail the way they always have.
func TestLocalMailxAndCron(t *testing.T) {
	requireMailPath(t)
	if _, err := exec.LookPath("bsd-mailx"); err != nil {
		t.Skip("bsd-mailx not installed")
	}
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	alice, bob := in.AddUser("ptalice"), in.AddUser("ptbob")
	in.Start()
	rc := filepath.Join(in.Root, "mailrc")
	os.WriteFile(rc, []byte("set sendmail="+filepath.Join(ti.BinDir, "sendmail")+"\n"), 0644)
	cmd := exec.Command("bsd-mailx", "-s", "mailx subject", "ptalice")
	cmd.Stdin = strings.NewReader("hello from mailx\n")
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+in.ConfigDir, "MAILRC="+rc, "HOME="+bob.Home, "USER=ptbob", "LOGNAME=ptbob")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(bob.UID), Gid: uint32(bob.GID)}}
	cmd.Dir = bob.Home
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bsd-mailx: %v %s", err, out)
	}
	// cron (Debian's cron runs exactly this).
	if out, code := in.Sendmail(nil, "Subject: Cron <root@host> true\nContent-Type: text/plain; charset=UTF-8\n\ncron output\n",
		"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "ptalice"); code != 0 {
		t.Fatalf("cron-style sendmail: exit %d %s", code, out)
	}
	msgs := in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 2)
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"Subject: mailx subject", "hello from mailx", "From: ptbob@mx.example.test", "cron output", "From: CronDaemon <root@mx.example.test>"} {
		if !strings.Contains(all, want) {
			t.Errorf("%q missing from delivered mail:\n%s", want, all)
		}
	}
}

// A local submission that cleanup refuses for good (too many hops) goes
// back to its sender; it is never just dropped.
func TestLocalRejectedSubmissionBounces(t *testing.T) {
	requireMailPath(t)
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/", "hopcount_limit": "5"}, "")
	alice, bob := in.AddUser("ptalice"), in.AddUser("ptbob")
	in.Start()
	msg := strings.Repeat("Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\n", 6) + "Subject: looping\n\nx\n"
	if out, code := in.Sendmail(bob, msg, "-i", "ptalice"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.WaitLog(`postern/pickup\[\d+\]: warning: [0-9A-Za-z]+: uid=\d+: message rejected by cleanup: 554 5\.4\.6`)
	dsn := in.WaitMaildir(filepath.Join(bob.Home, "Maildir"), 1)[0]
	for _, want := range []string{"Return-Path: <>\n", "Status: 5.4.6", "Subject: looping"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("bounce lacks %q:\n%s", want, dsn)
		}
	}
	in.WaitQueueEmpty()
	if n := len(ti.Maildir(filepath.Join(alice.Home, "Maildir"))); n != 0 {
		t.Errorf("alice got %d messages", n)
	}
}

// sendmail -bs: an SMTP session on stdin/stdout, as some mail readers use.
func TestLocalSendmailBS(t *testing.T) {
	requireMailPath(t)
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	alice, bob := in.AddUser("ptalice"), in.AddUser("ptbob")
	in.Start()
	session := "EHLO client\r\nMAIL FROM:<ptbob@mx.example.test>\r\nRCPT TO:<ptalice@localhost>\r\nDATA\r\nSubject: via -bs\r\n\r\nhello\r\n.\r\nQUIT\r\n"
	out, code := in.Sendmail(bob, session, "-bs")
	if code != 0 {
		t.Fatalf("sendmail -bs: exit %d\n%s", code, out)
	}
	m := regexp.MustCompile(`\r\n250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)\r\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no queued-as reply:\n%s", out)
	}
	got := in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 1)[0]
	if !strings.Contains(got, "Subject: via -bs") || !strings.Contains(got, "\nhello\n") {
		t.Errorf("delivered:\n%s", got)
	}
	in.WaitLog(`postern/pickup\[\d+\]: [0-9A-Za-z]+: uid=` + strconv.Itoa(bob.UID) + ` from=<ptbob@mx\.example\.test>`)
	// The ID -bs reported is the maildrop file's, which pickup took
	// (pickup gives the message a new one, as in Postfix).
	if _, err := os.Stat(filepath.Join(in.QueueDir, "maildrop", m[1])); err == nil {
		t.Errorf("maildrop/%s still there after delivery", m[1])
	}
}
