// End-to-end tests of postsuper (issue 7): hold, release, delete, requeue,
// expire, the structure check, and the refusals, with the real binaries on
// an instance's queue.
package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ti "postern/internal/testinstance"
	"postern/pkg/queue"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("postsuper is for the superuser: need root")
	}
}

// postsuper runs postsuper as root and returns its output (stdout and
// stderr together: postsuper writes only to stderr) and exit status.
func postsuper(t *testing.T, in *ti.Instance, stdin string, args ...string) (string, int) {
	t.Helper()
	return in.Command(nil, stdin, "postsuper", args...)
}

func wantPostsuper(t *testing.T, in *ti.Instance, stdin string, args []string, want string) {
	t.Helper()
	out, code := postsuper(t, in, stdin, args...)
	if code != 0 || out != want {
		t.Errorf("postsuper %s: exit %d\n%s\nwant:\n%s", strings.Join(args, " "), code, out, want)
	}
}

func inState(in *ti.Instance, id string) string {
	s, _, err := queue.New(in.QueueDir).Find(id)
	if err != nil {
		return ""
	}
	return s
}

const testBody = "Subject: postsuper test\n\nhello\n"

func TestPostsuperQueueOperations(t *testing.T) {
	requireRoot(t)
	in := ti.New(t, ti.Options{MasterCF: adminMasterCF})
	in.Start()
	refused := "connect to 127.0.0.1[127.0.0.1]:2849: Connection refused"
	d1 := queueMessage(t, in, queue.Deferred, "a@example.test", []string{"u1@down.example.test"}, refused, testBody)
	d2 := queueMessage(t, in, queue.Deferred, "a@example.test", []string{"u2@down.example.test"}, refused, testBody)
	d3 := queueMessage(t, in, queue.Deferred, "a@example.test", []string{"u3@down.example.test"}, refused, testBody)
	i1 := queueMessage(t, in, queue.Incoming, "b@example.test", []string{"u4@down.example.test"}, "", testBody)

	// Hold, then holding again finds nothing (the summary still says so).
	wantPostsuper(t, in, "", []string{"-h", d1}, "postsuper: "+d1+": placed on hold\npostsuper: Placed on hold: 1 message\n")
	if s := inState(in, d1); s != queue.Hold {
		t.Errorf("%s in %q after -h", d1, s)
	}
	wantPostsuper(t, in, "", []string{"-h", d1}, "postsuper: Placed on hold: 0 messages\n")
	out, _ := in.Command(nil, "", "postqueue", "-p")
	if !strings.Contains(out, d1+"!") {
		t.Errorf("held message without '!':\n%s", out)
	}
	// Everything went to the log as well.
	in.WaitLog(`postern/postsuper\[\d+\]: ` + d1 + `: placed on hold$`)
	in.WaitLog(`postern/postsuper\[\d+\]: Placed on hold: 0 messages$`)

	// Release: back to deferred, due now.
	before := time.Now().Add(-time.Second)
	wantPostsuper(t, in, "", []string{"-H", d1}, "postsuper: "+d1+": released from hold\npostsuper: Released from hold: 1 message\n")
	p := queue.New(in.QueueDir).Path(queue.Deferred, d1)
	if fi, err := os.Stat(p); err != nil || fi.ModTime().Before(before) || fi.ModTime().After(time.Now().Add(time.Second)) {
		t.Errorf("released file %s: %v (retry time %v, want now)", p, err, fi)
	}

	// Queue arguments restrict the search.
	wantPostsuper(t, in, "", []string{"-d", d2, "hold"}, "postsuper: Deleted: 0 messages\n")
	wantPostsuper(t, in, "", []string{"-d", d2, "deferred"}, "postsuper: "+d2+": removed\npostsuper: Deleted: 1 message\n")
	if s := inState(in, d2); s != "" {
		t.Errorf("%s still in %s", d2, s)
	}
	out, code := postsuper(t, in, "", "-d", d3, "nosuchqueue")
	if code != 1 || out != "postsuper: fatal: invalid directory name: nosuchqueue\n" {
		t.Errorf("unknown queue: exit %d %q", code, out)
	}

	// Expire: the '#' marker; -e on a held message keeps it held ("!#").
	wantPostsuper(t, in, "", []string{"-h", i1}, "postsuper: "+i1+": placed on hold\npostsuper: Placed on hold: 1 message\n")
	wantPostsuper(t, in, "", []string{"-e", i1, "-e", d3}, "postsuper: "+i1+": expired\npostsuper: "+d3+": expired\npostsuper: Force-expired: 2 messages\n")
	wantPostsuper(t, in, "", []string{"-e", i1}, "postsuper: Force-expired: 0 messages\n")
	out, _ = in.Command(nil, "", "postqueue", "-p")
	if !regexp.MustCompile(`(?m)^`+i1+`!# +\d+ `).MatchString(out) || !regexp.MustCompile(`(?m)^`+d3+`# +\d+ `).MatchString(out) {
		t.Errorf("expired messages without '#':\n%s", out)
	}
	js, _ := in.Command(nil, "", "postqueue", "-j")
	if !strings.Contains(js, `"queue_id": "`+d3+`", "arrival_time": `) || !regexp.MustCompile(`"queue_id": "`+d3+`", [^}]*"forced_expire": true`).MatchString(js) {
		t.Errorf("postqueue -j without forced_expire:\n%s", js)
	}
	// -f releases as well as expires.
	wantPostsuper(t, in, "", []string{"-f", i1}, "postsuper: "+i1+": released from hold\npostsuper: Force-expired: 0 messages\npostsuper: Released from hold: 1 message\n")
	if s := inState(in, i1); s != queue.Deferred {
		t.Errorf("%s in %q after -f", i1, s)
	}

	// IDs from stdin, with bad lines warned about and skipped.
	wantPostsuper(t, in, d1+"\n\n"+d3+" junk\nbad/id\n"+d3+"\n", []string{"-d", "-"},
		"postsuper: "+d1+": removed\n"+
			"postsuper: warning: invalid mail queue id: \n"+
			"postsuper: warning: invalid mail queue id: "+d3+" junk\n"+
			"postsuper: warning: invalid mail queue id: bad/id\n"+
			"postsuper: "+d3+": removed\n"+
			"postsuper: Deleted: 2 messages\n")

	// ALL: only the summary. Lower-case "all" is an ID like any other.
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, queueMessage(t, in, queue.Deferred, "c@example.test", []string{"x@down.example.test"}, refused, testBody))
	}
	h := queueMessage(t, in, queue.Hold, "c@example.test", []string{"y@down.example.test"}, "", testBody)
	wantPostsuper(t, in, "", []string{"-d", "all"}, "postsuper: Deleted: 0 messages\n")
	wantPostsuper(t, in, "", []string{"-h", "ALL", "deferred"}, "postsuper: Placed on hold: 4 messages\n") // with i1
	wantPostsuper(t, in, "", []string{"-H", "ALL"}, "postsuper: Released from hold: 5 messages\n")
	wantPostsuper(t, in, "", []string{"-d", "ALL", "deferred"}, "postsuper: Deleted: 5 messages\n")
	for _, id := range append(ids, h) {
		if s := inState(in, id); s != "" {
			t.Errorf("%s still in %s after -d ALL deferred", id, s)
		}
	}
	if out, _ := in.Command(nil, "", "postqueue", "-p"); out != "Mail queue is empty\n" {
		t.Errorf("queue after -d ALL:\n%s", out)
	}

	// A plain "postsuper" (structure check and purge) says nothing.
	wantPostsuper(t, in, "", nil, "")

	// -f ALL expires everything and releases what was held; -r ALL puts
	// everything in maildrop/ for pickup, owned by mail_owner.
	e1 := queueMessage(t, in, queue.Deferred, "e@example.test", []string{"x@down.example.test"}, refused, testBody)
	e2 := queueMessage(t, in, queue.Hold, "e@example.test", []string{"y@down.example.test"}, "", testBody)
	wantPostsuper(t, in, "", []string{"-f", "ALL"}, "postsuper: Force-expired: 2 messages\npostsuper: Released from hold: 1 message\n")
	if s := inState(in, e2); s != queue.Deferred {
		t.Errorf("%s in %q after -f ALL", e2, s)
	}
	wantPostsuper(t, in, "", []string{"-r", "ALL"}, "postsuper: Requeued: 2 messages\n")
	owner := lookupUser(t, ti.TestUser)
	for _, id := range []string{e1, e2} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(in.QueueDir, "maildrop", id), &st); err != nil || int(st.Uid) != owner.UID {
			t.Errorf("requeued %s: %v, owner %d", id, err, st.Uid)
		}
	}
	wantPostsuper(t, in, "", []string{"-d", "ALL", "maildrop"}, "postsuper: Deleted: 2 messages\n")

	// Usage errors.
	out, code = postsuper(t, in, "", "-z")
	wantUsage := "postsuper: fatal: usage: postsuper [-c config_dir] [-d queue_id (delete)] [-e queue_id (expire)] [-f queue_id (expire and/or un-hold)] [-h queue_id (hold)] [-H queue_id (un-hold)] [-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] [-S (redundant structure fix)][-v (verbose)] [queue...]\n"
	if code != 1 || out != "postsuper: invalid option -- 'z'\n"+wantUsage {
		t.Errorf("postsuper -z: exit %d %q", code, out)
	}
	out, code = postsuper(t, in, "", "-d")
	if code != 1 || out != "postsuper: option requires an argument -- 'd'\n"+wantUsage {
		t.Errorf("postsuper -d: exit %d %q", code, out)
	}

	// An ordinary user is refused.
	u := in.AddUser("ptsuper")
	out, code = in.Command(u, "", "postsuper", "-d", "ALL")
	if code != 1 || out != "postsuper: fatal: use of this command is reserved for the superuser\n" {
		t.Errorf("postsuper as %s: exit %d %q", u, code, out)
	}
}

func TestPostsuperStructure(t *testing.T) {
	requireRoot(t)
	in := ti.New(t, ti.Options{MasterCF: adminMasterCF})
	q := queue.New(in.QueueDir)
	in.Start()
	good := queueMessage(t, in, queue.Deferred, "a@example.test", []string{"ok@down.example.test"}, "", testBody)

	// A damaged file goes to corrupt/, with a warning.
	bad := queueMessage(t, in, queue.Incoming, "a@example.test", []string{"bad@down.example.test"}, "", testBody)
	bp := q.Path(queue.Incoming, bad)
	b, err := os.ReadFile(bp)
	if err != nil {
		t.Fatal(err)
	}
	b[70] ^= 0xff // in the envelope
	if err := os.WriteFile(bp, b, 0700); err != nil {
		t.Fatal(err)
	}
	out, code := postsuper(t, in, "", "-s")
	if code != 0 || !regexp.MustCompile(`^postsuper: warning: saving corrupt file "`+bad+`" from queue "incoming" to queue "corrupt": `).MatchString(out) {
		t.Errorf("postsuper -s on a damaged file: exit %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(in.QueueDir, "corrupt", bad)); err != nil {
		t.Errorf("damaged file not in corrupt/: %v", err)
	}
	in.WaitLog(`postern/postsuper\[\d+\]: warning: saving corrupt file "` + bad + `"`)

	// A file in the wrong hash subdirectory is moved, silently.
	gp := q.Path(queue.Deferred, good)
	wrong := filepath.Join(in.QueueDir, "deferred", good)
	if err := os.Rename(gp, wrong); err != nil {
		t.Fatal(err)
	}
	wantPostsuper(t, in, "", []string{"-s"}, "")
	if _, err := os.Stat(gp); err != nil {
		t.Errorf("misplaced file not moved back: %v", err)
	}

	// A file whose name does not match its inode (restored from a
	// backup) is renamed, and operations by ID are then refused.
	// The new name keeps the time digits and takes the inode: good's.
	stale := good[:6] + "ABCDEF"
	os.MkdirAll(filepath.Dir(q.Path(queue.Deferred, stale)), 0700)
	chownMailOwner(t, filepath.Dir(q.Path(queue.Deferred, stale)))
	if err := os.Rename(gp, q.Path(queue.Deferred, stale)); err != nil {
		t.Fatal(err)
	}
	out, code = postsuper(t, in, "", "-s", "-d", stale)
	if code != 1 || out != "postsuper: error: QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS\npostsuper: fatal: CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND\n" {
		t.Errorf("postsuper -d with a misnamed file: exit %d %q", code, out)
	}
	if _, err := os.Stat(gp); err != nil {
		t.Errorf("misnamed file not renamed back to %s: %v", good, err)
	}
	// The same, with the summary of -s.
	if err := os.Rename(gp, q.Path(queue.Deferred, stale)); err != nil {
		t.Fatal(err)
	}
	wantPostsuper(t, in, "", []string{"-s"}, "postsuper: Renamed to match inode number: 1 message\npostsuper: warning: QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS\n")
	if _, err := os.Stat(gp); err != nil {
		t.Errorf("misnamed file not renamed back to %s: %v", good, err)
	}

	// -p removes old leftovers of crashed writers, not fresh ones.
	oldTmp := filepath.Join(in.QueueDir, "incoming", ".tcrashed")
	newTmp := filepath.Join(in.QueueDir, "incoming", ".twriting")
	for _, p := range []string{oldTmp, newTmp} {
		os.WriteFile(p, []byte("x"), 0600)
	}
	old := time.Now().Add(-8 * 24 * time.Hour)
	os.Chtimes(oldTmp, old, old)
	wantPostsuper(t, in, "", []string{"-p"}, "")
	if _, err := os.Stat(oldTmp); err == nil {
		t.Errorf("old temporary file not purged")
	}
	if _, err := os.Stat(newTmp); err != nil {
		t.Errorf("fresh temporary file purged")
	}
	// The message survived all of it.
	if s := inState(in, good); s != queue.Deferred {
		t.Errorf("%s in %q", good, s)
	}
}

// Requeue and release with the whole local mail path running: a requeued
// message comes back under a new ID through pickup and cleanup; a held
// one is not delivered until it is released.
func TestPostsuperRequeueAndHold(t *testing.T) {
	requireMailPath(t)
	in := ti.NewMail(t, map[string]string{"home_mailbox": "Maildir/"}, "")
	rq := in.AddUser("ptrequeue")
	in.Start()
	mdir := filepath.Join(rq.Home, "Maildir")

	held := queueMessage(t, in, queue.Hold, "sender@example.test", []string{"ptrequeue@mx.example.test"}, "", "Subject: held\n\nheld body\n")
	// Nothing delivers held mail: requeue an other message to see the
	// path work meanwhile.
	rqd := queueMessage(t, in, queue.Hold, "sender@example.test", []string{"ptrequeue@mx.example.test"}, "", "Subject: requeued\n\nrequeued body\n")
	wantPostsuper(t, in, "", []string{"-r", rqd}, "postsuper: "+rqd+": requeued\npostsuper: Requeued: 1 message\n")
	owner := lookupUser(t, ti.TestUser)
	line := in.WaitLog(`postern/pickup\[\d+\]: [0-9A-Za-z]+: uid=` + strconv.Itoa(owner.UID) + ` from=<sender@example.test> orig_id=` + rqd + `$`)
	newID := regexp.MustCompile(`: ([0-9A-Za-z]+): uid=`).FindStringSubmatch(line)[1]
	if newID == rqd {
		t.Errorf("requeued message kept its ID %s", rqd)
	}
	got := in.WaitMaildir(mdir, 1)
	if len(got) != 1 || !strings.Contains(got[0], "requeued body") {
		t.Fatalf("delivered: %q", got)
	}
	in.WaitLog(`postern/local\[\d+\]: ` + newID + `: to=<ptrequeue@mx.example.test>, .*status=sent`)
	if s := inState(in, held); s != queue.Hold {
		t.Fatalf("held message %s in %q", held, s)
	}
	if n := len(ti.Maildir(mdir)); n != 1 {
		t.Errorf("held message delivered: %d messages", n)
	}
	// Released, it is delivered at once (qmgr is woken).
	wantPostsuper(t, in, "", []string{"-H", held}, "postsuper: "+held+": released from hold\npostsuper: Released from hold: 1 message\n")
	got = in.WaitMaildir(mdir, 2)
	if !strings.Contains(strings.Join(got, ""), "held body") {
		t.Errorf("released message not delivered: %q", got)
	}
	in.WaitLog(`postern/local\[\d+\]: ` + held + `: to=<ptrequeue@mx.example.test>, .*status=sent`)
}

// The layout of postqueue -p beside Debian's Postfix with the same queue
// contents: a private Postfix instance under the test's directory (never
// /etc/postfix or port 25) queues mail deferred to a closed port and holds
// one message; postern's queue gets the same senders, recipients and delay
// reasons; the two listings must agree line by line once IDs, sizes and
// times are replaced by placeholders.
func TestPostqueueLayoutMatchesPostfix(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/usr/sbin/postfix"); err != nil {
		t.Skip("Postfix is not installed")
	}
	root := t.TempDir()
	for p := root; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0755) // Postfix's daemons run as postfix, some chrooted
	}
	etc, qdir, data := filepath.Join(root, "etc"), filepath.Join(root, "queue"), filepath.Join(root, "data")
	for _, d := range []string{etc, qdir, data} {
		if err := os.MkdirAll(d, 0755); err != nil {
			t.Fatal(err)
		}
	}
	if pf, err := user.Lookup("postfix"); err == nil {
		uid, _ := strconv.Atoi(pf.Uid)
		os.Chown(data, uid, -1)
	}
	port := ti.FreePort(t)
	mainCF := strings.Join([]string{
		"compatibility_level = 3.6",
		"queue_directory = " + qdir,
		"data_directory = " + data,
		"maillog_file = " + filepath.Join(root, "maillog"),
		"maillog_file_prefixes = " + root,
		"inet_interfaces = loopback-only",
		"inet_protocols = ipv4",
		"myhostname = pf.example.test",
		"mydomain = example.test",
		"mydestination =",
		"relayhost = [127.0.0.1]:" + strconv.Itoa(port),
		"default_transport = smtp",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(etc, "main.cf"), []byte(mainCF), 0644); err != nil {
		t.Fatal(err)
	}
	mcf, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		t.Skipf("no Postfix master.cf: %v", err)
	}
	var keep []string
	for _, l := range strings.Split(string(mcf), "\n") {
		if !strings.HasPrefix(l, "smtp ") || !strings.Contains(l, " inet ") {
			keep = append(keep, l)
		}
	}
	os.WriteFile(filepath.Join(etc, "master.cf"), []byte(strings.Join(keep, "\n")), 0644)
	pfx := func(stdin, prog string, args ...string) (string, error) {
		cmd := exec.Command(prog, args...)
		cmd.Env = append(os.Environ(), "MAIL_CONFIG="+etc)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := pfx("", "/usr/sbin/postfix", "-c", etc, "start"); err != nil {
		t.Skipf("cannot start a private Postfix: %v\n%s", err, out)
	}
	t.Cleanup(func() { pfx("", "/usr/sbin/postfix", "-c", etc, "stop") })

	type msg struct{ from, rcpts string }
	msgs := []msg{
		{"alice@example.test", "u1@down.example.test u2@down.example.test"},
		{"", "nobody@down.example.test"},
		{"bob@example.test", "held@down.example.test"},
	}
	for _, m := range msgs {
		args := append([]string{"-f", m.from}, strings.Fields(m.rcpts)...)
		if out, err := pfx("Subject: layout\n\nbody\n", "/usr/sbin/sendmail", args...); err != nil {
			t.Fatalf("Postfix sendmail: %v\n%s", err, out)
		}
	}
	type entry struct {
		Queue      string `json:"queue_name"`
		ID         string `json:"queue_id"`
		Sender     string `json:"sender"`
		Recipients []struct {
			Address string `json:"address"`
			Reason  string `json:"delay_reason"`
		} `json:"recipients"`
	}
	var entries []entry
	ready := ti.Poll(20*time.Second, func() bool {
		out, err := pfx("", "/usr/sbin/postqueue", "-j")
		if err != nil {
			return false
		}
		entries = nil
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var e entry
			if json.Unmarshal([]byte(l), &e) != nil || e.Queue != "deferred" {
				return false
			}
			for _, r := range e.Recipients {
				if r.Reason == "" {
					return false
				}
			}
			entries = append(entries, e)
		}
		return len(entries) == len(msgs)
	})
	if !ready {
		log, _ := os.ReadFile(filepath.Join(root, "maillog"))
		t.Fatalf("Postfix did not defer the messages; queue %+v; log:\n%s", entries, log)
	}
	for _, e := range entries {
		if e.Sender == "bob@example.test" {
			if out, err := pfx("", "/usr/sbin/postsuper", "-h", e.ID); err != nil {
				t.Fatalf("Postfix postsuper -h: %v %s", err, out)
			}
		}
	}
	want, err := pfx("", "/usr/sbin/postqueue", "-p")
	if err != nil {
		t.Fatalf("Postfix postqueue -p: %v %s", err, want)
	}

	// The same contents in postern's queue.
	in := ti.New(t, ti.Options{MasterCF: adminMasterCF})
	in.Start()
	for _, e := range entries {
		state := queue.Deferred
		if e.Sender == "bob@example.test" {
			state = queue.Hold
		}
		sender := e.Sender
		if sender == "MAILER-DAEMON" {
			sender = ""
		}
		var rcpts []string
		for _, r := range e.Recipients {
			rcpts = append(rcpts, r.Address)
			if r.Reason != e.Recipients[0].Reason {
				t.Fatalf("Postfix gave different reasons in one message: %+v", e)
			}
		}
		queueMessage(t, in, state, sender, rcpts, e.Recipients[0].Reason, "Subject: layout\n\nbody\n")
	}
	got, code := in.Command(nil, "", "postqueue", "-p")
	if code != 0 {
		t.Fatalf("postqueue -p: exit %d %s", code, got)
	}
	nw, ng := normaliseListing(t, "Postfix", want), normaliseListing(t, "postern", got)
	if strings.Join(nw, "\n") != strings.Join(ng, "\n") {
		t.Errorf("postqueue -p layouts differ (normalised)\nPostfix:\n%s\npostern:\n%s\nPostfix raw:\n%s\npostern raw:\n%s",
			strings.Join(nw, "\n"), strings.Join(ng, "\n"), want, got)
	}
}

var (
	messageLine = regexp.MustCompile(`^([0-9A-Za-z]+)([*!#]*) +(\d+) ([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)  (.*)$`)
	summaryLine = regexp.MustCompile(`^-- \d+ Kbytes in (\d+) Requests?\.$`)
)

// normaliseListing checks that every message line of a postqueue -p
// listing has Postfix's printf layout and replaces its ID, size and time
// by placeholders (markers kept); messages are sorted within their queue,
// whose order (deferred before hold) is kept, since Postfix lists a
// directory unsorted.
func normaliseListing(t *testing.T, who, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("%s: short listing:\n%s", who, out)
	}
	head, tail := lines[0], lines[len(lines)-1]
	var blocks [][]string
	for _, l := range lines[1 : len(lines)-1] {
		if l == "" {
			continue
		}
		if m := messageLine.FindStringSubmatch(l); m != nil {
			size, _ := strconv.Atoi(m[3])
			if re := fmt.Sprintf("%-11s %7d %-20s %s", m[1]+m[2], size, m[4]+" ", m[5]); re != l {
				t.Errorf("%s: message line not in printf layout:\n%q\n%q", who, l, re)
			}
			blocks = append(blocks, []string{"QUEUEID" + m[2] + " SIZE TIME " + m[5]})
			continue
		}
		if len(blocks) == 0 {
			t.Fatalf("%s: unexpected line %q", who, l)
		}
		blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
	}
	key := func(b []string) string {
		q := "0"
		if strings.Contains(strings.Fields(b[0])[0], "!") {
			q = "1"
		}
		return q + strings.Join(b, "\n")
	}
	sort.Slice(blocks, func(i, j int) bool { return key(blocks[i]) < key(blocks[j]) })
	res := []string{head}
	for _, b := range blocks {
		res = append(res, b...)
		res = append(res, "")
	}
	if m := summaryLine.FindStringSubmatch(tail); m != nil {
		tail = "-- N Kbytes in " + m[1] + " Requests."
	}
	return append(res, tail)
}
