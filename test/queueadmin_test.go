// End-to-end tests of the queue listing and flush commands (issue 7):
// postqueue -p/-j, mailq, sendmail -bp, -i, -s, -f against a running
// showq and flush, and with the mail system down.
package test

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ti "postern/internal/testinstance"
	"postern/pkg/queue"
	"postern/smtp/smtptest"
)

// queueMessage writes a complete queue file into state.
func queueMessage(t *testing.T, in *ti.Instance, state, sender string, rcpts []string, reason string, body string) string {
	t.Helper()
	q := queue.New(in.QueueDir)
	w, err := q.Create(queue.Incoming)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetEnvelope(&queue.Envelope{Sender: sender, RewriteContext: "local"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		if err := w.AddRecipient(queue.Recipient{Address: r}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	id := w.ID()
	if reason != "" {
		qf, err := queue.OpenRW(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		idx := make([]int, len(rcpts))
		for i := range idx {
			idx[i] = i
		}
		if err := qf.SetDelayReason(idx, reason); err != nil {
			t.Fatal(err)
		}
		qf.Close()
	}
	if state != queue.Incoming {
		if _, err := q.Move(id, queue.Incoming, state); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		// As the daemons would have left it: owned by mail_owner.
		filepath.Walk(in.QueueDir, func(p string, fi os.FileInfo, err error) error {
			rel, _ := filepath.Rel(in.QueueDir, p)
			if err == nil && strings.HasPrefix(rel, state) {
				chownMailOwner(t, p)
			}
			return nil
		})
	}
	return id
}

func chownMailOwner(t *testing.T, p string) {
	u := lookupUser(t, ti.TestUser)
	os.Chown(p, u.UID, u.GID)
}

func lookupUser(t *testing.T, name string) *ti.User {
	t.Helper()
	var u ti.User
	out, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, ":")
		if len(f) > 5 && f[0] == name {
			u.Name, u.Home = name, f[5]
			fmt.Sscan(f[2], &u.UID)
			fmt.Sscan(f[3], &u.GID)
			return &u
		}
	}
	t.Fatalf("no user %s", name)
	return nil
}

const adminMasterCF = `showq     unix  n       -       n       -       -       showq
flush     unix  n       -       n       1000?   0       flush
`

func TestPostqueueList(t *testing.T) {
	in := ti.New(t, ti.Options{MasterCF: adminMasterCF, Main: map[string]string{"fast_flush_domains": "down.example.test"}})
	in.Start()
	body := "Subject: x\n\n" + strings.Repeat("y", 900) + "\n"
	refused := "connect to 127.0.0.1[127.0.0.1]:2849: Connection refused"
	d := queueMessage(t, in, queue.Deferred, "alice@example.test", []string{"u1@down.example.test", "u2@down.example.test"}, refused, body)
	h := queueMessage(t, in, queue.Hold, "", []string{"nobody@example.test"}, "", body)
	size := int64(len(body))
	out, code := in.Command(nil, "", "postqueue", "-p")
	if code != 0 {
		t.Fatalf("postqueue -p: exit %d: %s", code, out)
	}
	re := regexp.MustCompile(`^-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
` + d + ` {1,}` + fmt.Sprint(size) + ` [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d  alice@example.test
                    \(` + regexp.QuoteMeta(refused) + `\)
                                         u1@down.example.test
                                         u2@down.example.test

` + h + `! {1,}` + fmt.Sprint(size) + ` [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d  MAILER-DAEMON
                                         nobody@example.test

-- 1 Kbytes in 2 Requests.
$`)
	if !re.MatchString(out) {
		t.Errorf("postqueue -p:\n%s", out)
	}
	if mq, _ := in.Command(nil, "", "mailq"); mq != out {
		t.Errorf("mailq differs from postqueue -p:\n%s", mq)
	}
	if bp, _ := in.Sendmail(nil, "", "-bp"); bp != out {
		t.Errorf("sendmail -bp differs from postqueue -p:\n%s", bp)
	}

	js, code := in.Command(nil, "", "postqueue", "-j")
	if code != 0 {
		t.Fatalf("postqueue -j: %d %s", code, js)
	}
	wantJ := regexp.MustCompile(`^\{"queue_name": "deferred", "queue_id": "` + d + `", "arrival_time": \d+, "message_size": ` + fmt.Sprint(size) + `, "forced_expire": false, "sender": "alice@example.test", "recipients": \[\{"address": "u1@down.example.test", "delay_reason": "` + regexp.QuoteMeta(refused) + `"\}, \{"address": "u2@down.example.test", "delay_reason": "` + regexp.QuoteMeta(refused) + `"\}\]\}
\{"queue_name": "hold", "queue_id": "` + h + `", "arrival_time": \d+, "message_size": ` + fmt.Sprint(size) + `, "forced_expire": false, "sender": "MAILER-DAEMON", "recipients": \[\{"address": "nobody@example.test"\}\]\}
$`)
	if !wantJ.MatchString(js) {
		t.Errorf("postqueue -j:\n%s", js)
	}

	// -s: refused for a site fast_flush_domains does not list; served
	// for one it does (the message moves to incoming for qmgr).
	out, code = in.Command(nil, "", "postqueue", "-s", "other.example.test")
	if code != 69 || !strings.Contains(out, `postqueue: fatal: Flush service is not configured for destination "other.example.test"`) {
		t.Errorf("postqueue -s other: exit %d %q", code, out)
	}
	if out, code = in.Command(nil, "", "postqueue", "-s", "down.example.test"); code != 0 {
		t.Errorf("postqueue -s: exit %d %q", code, out)
	}
	if !ti.Poll(5*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(in.QueueDir, "incoming", d))
		return err == nil
	}) {
		t.Errorf("postqueue -s did not move %s to incoming", d)
	}
	// -i on a held message: nothing happens, exit 0.
	if out, code = in.Command(nil, "", "postqueue", "-i", h); code != 0 || out != "" {
		t.Errorf("postqueue -i held: exit %d %q", code, out)
	}
	if _, _, err := queue.New(in.QueueDir).Find(h, queue.Hold); err != nil {
		t.Errorf("held message moved: %v", err)
	}

	// Ordinary users may list (authorized_mailq_users = static:anyone).
	if os.Geteuid() == 0 {
		u := in.AddUser("ptqueue")
		// postqueue is installed set-gid setgid_group (public/ is 0710);
		// set-gid, it refuses a configuration directory that the
		// default main.cf does not list, as Postfix's does.
		pq := setgidCopy(t, in, "postqueue")
		other := t.TempDir()
		out, code = in.Command(u, "", pq, "-c", other, "-p")
		if code != 69 || !strings.Contains(out, "postqueue: error: unauthorized configuration directory name: "+other+"\n") ||
			!strings.Contains(out, `postqueue: fatal: specify "alternate_config_directories = `+other) {
			t.Errorf("set-gid postqueue with a foreign MAIL_CONFIG: exit %d %q", code, out)
		}
		// The user with the group, as the set-gid program would have it.
		g, _ := user.LookupGroup(ti.TestGroup)
		ug := *u
		ug.GID, _ = strconv.Atoi(g.Gid)
		u = &ug
		pq = "postqueue"
		out, code = in.Command(u, "", pq, "-p")
		if code != 0 || !strings.Contains(out, h+"!") {
			t.Errorf("postqueue -p as a user: exit %d\n%s", code, out)
		}
		in.WriteFile("main.cf", readFile(t, filepath.Join(in.ConfigDir, "main.cf"))+"authorized_mailq_users = root\n")
		out, code = in.Command(u, "", pq, "-p")
		if code != 69 || !strings.Contains(out, fmt.Sprintf("postqueue: fatal: User ptqueue(%d) is not allowed to view the mail queue", u.UID)) {
			t.Errorf("unauthorized user: exit %d %q", code, out)
		}
		in.Stop()
		out, code = in.Command(nil, "", "postqueue", "-p")
		if code != 0 || !strings.Contains(out, "postqueue: warning: Mail system is down -- accessing queue directly (Connect to the Postern showq service: ") || !strings.Contains(out, h+"!") {
			t.Errorf("root with the system down: exit %d\n%s", code, out)
		}
		out, code = in.Command(u, "", pq, "-f")
		if code != 69 || !strings.Contains(out, "postqueue: fatal: Cannot flush mail queue - mail system is down") {
			t.Errorf("flush with the system down: exit %d %q", code, out)
		}
	}
}

// setgidCopy installs the multi-call binary as program, set-gid to the
// instance's setgid_group, as make install does, and returns its path.
func setgidCopy(t *testing.T, in *ti.Instance, program string) string {
	t.Helper()
	dir := filepath.Join(in.Root, "sgid")
	os.MkdirAll(dir, 0755)
	p := filepath.Join(dir, program)
	b, err := os.ReadFile(filepath.Join(ti.BinDir, "postern-multi"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0755); err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroup(ti.TestGroup)
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	os.Chown(p, 0, gid)
	if err := os.Chmod(p, 0755|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return p
}

// Mail that postern itself deferred (relayhost on a closed port) as
// postqueue shows it, then flushed once the port answers.
func TestPostqueueRealDeferral(t *testing.T) {
	if !ti.Built("smtp") {
		t.Fatal("smtp is not built")
	}
	port := ti.FreePort(t)
	in := ti.NewMail(t, map[string]string{
		"relayhost":       fmt.Sprintf("[127.0.0.1]:%d", port),
		"queue_run_delay": "1h", "minimal_backoff_time": "1h", "maximal_backoff_time": "1h",
	}, "")
	in.Start()
	if out, code := in.Sendmail(nil, "Subject: deferred\n\nx\n", "-i", "-f", "sender@example.test", "u1@down.example.test", "u2@down.example.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.WaitLog(`status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:` + fmt.Sprint(port) + `: Connection refused\)`)
	var out string
	if !ti.Poll(10*time.Second, func() bool {
		out, _ = in.Command(nil, "", "postqueue", "-p")
		return !strings.Contains(out, "*") && strings.Contains(out, "Connection refused")
	}) {
		t.Fatalf("postqueue -p:\n%s", out)
	}
	reason := fmt.Sprintf("connect to 127.0.0.1[127.0.0.1]:%d: Connection refused", port)
	re := regexp.MustCompile(`^-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
[0-9A-F]+ {1,}\d+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d  sender@example.test
` + strings.Repeat(" ", 76-len(reason)) + `\(` + regexp.QuoteMeta(reason) + `\)
                                         u1@down.example.test
                                         u2@down.example.test

-- 0 Kbytes in 1 Request.
$`)
	if !re.MatchString(out) {
		t.Errorf("postqueue -p:\n%s", out)
	}
	js, _ := in.Command(nil, "", "postqueue", "-j")
	if !strings.Contains(js, `"queue_name": "deferred"`) || !strings.Contains(js, `"delay_reason": "`+reason+`"`) {
		t.Errorf("postqueue -j:\n%s", js)
	}
	// Now something answers on the port: postqueue -f delivers at once.
	sink := smtptest.Start(t, smtptest.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	if o, code := in.Command(nil, "", "postqueue", "-f"); code != 0 {
		t.Fatalf("postqueue -f: %d %s", code, o)
	}
	in.WaitLog(`to=<u1@down\.example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*status=sent`)
	in.WaitQueueEmpty()
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("the sink got %d messages, want 1", n)
	}
}
