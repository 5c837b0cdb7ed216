// End-to-end tests of postsuper (issue 7): hold, release, delete, requeue,
// expire, the structure check, and the refusals, with the real binaries on
// an instance's queue.
package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
