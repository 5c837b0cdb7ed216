package mailbox

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const testPollLimit = 10 * time.Second

func msg(content string) Message {
	return Message{
		Sender:      "sender@example.org",
		ArrivalTime: time.Date(2026, 11, 1, 23, 27, 14, 0, time.Local),
		Prepend:     []byte("Return-Path: <sender@example.org>\nDelivered-To: rcpt@example.org\n"),
		Content:     strings.NewReader(content),
	}
}

func readDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestMaildirDeliveryCreatesMaildirAsUser(t *testing.T) {
	c := recipient(t)
	dir := filepath.Join(spoolDir(t, 01777), "home", "Maildir") + "/"
	content := "Subject: hi\n\nFrom the body\n.\n>From x\nnon-ascii: h\xc3\xa9\n"
	name, err := DeliverMaildir(dir, c, msg(content), MaildirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if !regexp.MustCompile(`^[0-9]+\.V[0-9a-f]+I[0-9a-f]+M[0-9]+\.` + regexp.QuoteMeta(host) + `$`).MatchString(name) {
		t.Errorf("name %q is not SEC.VdevIinoMusec.host", name)
	}
	for _, d := range []string{"", "tmp", "new", "cur"} {
		uid, _, mode := owner(t, filepath.Join(dir, d))
		if uid != c.UID || mode != os.ModeDir|0700 {
			t.Errorf("%s/%s: uid %d mode %v, want %d drwx------", dir, d, uid, mode, c.UID)
		}
	}
	f := filepath.Join(dir, "new", name)
	if uid, gid, mode := owner(t, f); uid != c.UID || gid != c.GID || mode != 0600 {
		t.Errorf("message file %d:%d %v, want %d:%d -rw-------", uid, gid, mode, c.UID, c.GID)
	}
	got, _ := os.ReadFile(f)
	want := "Return-Path: <sender@example.org>\nDelivered-To: rcpt@example.org\n" + content
	if string(got) != want {
		t.Errorf("maildir file:\n%q\nwant (no From_ line, no quoting, no blank line):\n%q", got, want)
	}
	if left := readDir(t, filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}
	// A second delivery uses the existing directories.
	if _, err := DeliverMaildir(dir, c, msg("x\n"), MaildirOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := len(readDir(t, filepath.Join(dir, "new"))); n != 2 {
		t.Errorf("%d files in new/, want 2", n)
	}
}

func TestMaildirAddsMissingFinalNewline(t *testing.T) {
	dir := filepath.Join(spoolDir(t, 01777), "md")
	m := msg("Subject: x\n\nno newline")
	m.Prepend = nil
	name, err := DeliverMaildir(dir, recipient(t), m, MaildirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "new", name)); string(got) != "Subject: x\n\nno newline\n" {
		t.Errorf("got %q", got)
	}
}

func TestMaildirNamesUniqueUnderConcurrency(t *testing.T) {
	c := recipient(t)
	dir := filepath.Join(spoolDir(t, 01777), "md")
	const workers, each = 50, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	names := map[string]string{}
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf("Subject: %d/%d\n\nbody\n", w, i)
				name, err := DeliverMaildir(dir, c, Message{Content: strings.NewReader(body)}, MaildirOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := names[name]; dup {
					t.Errorf("name %s returned twice", name)
				}
				names[name] = body
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	files := readDir(t, filepath.Join(dir, "new"))
	if len(files) != workers*each || len(names) != workers*each {
		t.Fatalf("%d files, %d names, want %d", len(files), len(names), workers*each)
	}
	for name, body := range names {
		if got, _ := os.ReadFile(filepath.Join(dir, "new", name)); string(got) != body {
			t.Errorf("%s: %q, want %q", name, got, body)
		}
	}
}

func TestMaildirRefusesSymlink(t *testing.T) {
	c := recipient(t)
	spool := spoolDir(t, 01777)
	real := filepath.Join(spool, "real")
	if _, err := DeliverMaildir(real, c, msg("x\n"), MaildirOptions{}); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(spool, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	os.Lchown(link, c.UID, c.GID)
	_, err := DeliverMaildir(link+"/", c, msg("x\n"), MaildirOptions{})
	e := asError(t, err)
	if e.Temp || e.DSN != "5.2.0" || e.Text != "maildir delivery failed: maildir "+link+" is a symbolic link" {
		t.Errorf("got %+v", e)
	}
}

func TestMaildirRefusesDirectoryOfAnotherUser(t *testing.T) {
	needRoot(t)
	c := recipient(t)
	dir := filepath.Join(spoolDir(t, 01777), "rootsmaildir")
	if err := os.Mkdir(dir, 0777); err != nil {
		t.Fatal(err)
	}
	_, err := DeliverMaildir(dir, c, msg("x\n"), MaildirOptions{})
	e := asError(t, err)
	if !e.Temp || e.DSN != "4.2.0" || e.Text != "maildir delivery failed: maildir "+dir+" is not owned by recipient" {
		t.Errorf("got %+v", e)
	}
}

func TestMaildirSizeLimit(t *testing.T) {
	dir := filepath.Join(spoolDir(t, 01777), "md")
	_, err := DeliverMaildir(dir, recipient(t), msg(strings.Repeat("x", 200)+"\n"), MaildirOptions{SizeLimit: 100})
	e := asError(t, err)
	if e.Temp || e.DSN != "5.2.2" || e.Text != "maildir delivery failed: error writing message: File too large" {
		t.Errorf("got %+v", e)
	}
	if n := readDir(t, filepath.Join(dir, "new")); len(n) != 0 {
		t.Errorf("new/ has %v", n)
	}
	if n := readDir(t, filepath.Join(dir, "tmp")); len(n) != 0 {
		t.Errorf("tmp/ has %v", n)
	}
}

func TestMaildirPermissionDenied(t *testing.T) {
	needRoot(t)
	dir := filepath.Join(spoolDir(t, 0755), "md") // root's directory: the user cannot create md
	_, err := DeliverMaildir(dir, recipient(t), msg("x\n"), MaildirOptions{})
	e := asError(t, err)
	if e.Temp || e.DSN != "5.2.0" || !strings.HasPrefix(e.Text, "maildir delivery failed: create maildir file "+dir+"/tmp/") || !strings.HasSuffix(e.Text, ": Permission denied") {
		t.Errorf("got %+v", e)
	}
}

func BenchmarkDeliverMaildir(b *testing.B) {
	c := Creds{UID: os.Geteuid(), GID: os.Getegid()}
	dir := filepath.Join(b.TempDir(), "md")
	body := strings.Repeat("a line of a message body, about sixty characters long.....\n", 64) // ~4 KB
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DeliverMaildir(dir, c, Message{Content: strings.NewReader(body)}, MaildirOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
