// End-to-end tests of sendmail and postdrop: the real binaries against a
// queue directory with postern stopped.
package test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	ti "postern/internal/testinstance"
	"postern/pkg/queue"
)

func sendmailInstance(t *testing.T, main map[string]string) *ti.Instance {
	t.Helper()
	in := ti.New(t, ti.Options{Main: main})
	for _, d := range []string{"maildrop", "public"} {
		if err := os.MkdirAll(filepath.Join(in.QueueDir, d), 0755); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func runSendmail(t *testing.T, in *ti.Instance, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(ti.BinDir, "sendmail"), append([]string{"-C", in.ConfigDir}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "NAME=")
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("sendmail %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

type dropped struct {
	env     *queue.Envelope
	rcpts   []string
	extr    []string
	notify  []int
	content string
	mode    os.FileMode
}

// maildrop returns the files in maildrop/, read with pkg/queue.
func maildrop(t *testing.T, in *ti.Instance) []dropped {
	t.Helper()
	var res []dropped
	q := queue.New(in.QueueDir)
	err := q.Scan("maildrop", func(id, path string) error {
		qf, err := queue.Open(path)
		if err != nil {
			return err
		}
		defer qf.Close()
		var d dropped
		if d.env, err = qf.Envelope(); err != nil {
			return err
		}
		if err := qf.Recipients(func(r queue.Recipient) error {
			if r.Extracted {
				d.extr = append(d.extr, r.Address)
			} else {
				d.rcpts = append(d.rcpts, r.Address)
			}
			d.notify = append(d.notify, r.Notify)
			return nil
		}); err != nil {
			return err
		}
		b, err := io.ReadAll(qf.ContentReader())
		if err != nil {
			return err
		}
		d.content = string(b)
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		d.mode = st.Mode().Perm()
		res = append(res, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func attr(e *queue.Envelope, name string) string {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

func TestSendmailExtract(t *testing.T) {
	in := sendmailInstance(t, nil)
	msg := "From old-mbox-line\r\nTo: t1@example.test, \"T Two\" <t2@example.test>\r\nCc: c1\r\nBcc: b1@example.test,\r\n\tb2@example.test\r\nSubject: hi\r\n\r\nbody\r\n.\r\n..double\r\n8bit: \xc3\xa9\r\nlast"
	out, code := runSendmail(t, in, msg, "-t", "-i", "-f", "sender@example.test", "-F", "Full Name", "-B8BITMIME", "-N", "success,delay", "-R", "hdrs", "-V", "ENV123", "x1@example.test")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if out != "" {
		t.Errorf("output %q", out)
	}
	files := maildrop(t, in)
	if len(files) != 1 {
		t.Fatalf("%d files in maildrop", len(files))
	}
	d := files[0]
	if d.env.Sender != "sender@example.test" || d.env.SenderFullName != "Full Name" {
		t.Errorf("sender %q full name %q", d.env.Sender, d.env.SenderFullName)
	}
	if d.env.Encoding != "8bit" || d.env.Ret != 2 || d.env.EnvelopeID != "ENV123" || d.env.RewriteContext != "local" {
		t.Errorf("envelope %+v", d.env)
	}
	if got := attr(d.env, "submit_uid"); got != "0" && os.Geteuid() == 0 {
		t.Errorf("submit_uid %q", got)
	}
	if !reflect.DeepEqual(d.rcpts, []string{"x1@example.test"}) {
		t.Errorf("rcpts %q", d.rcpts)
	}
	if want := []string{"t1@example.test", "t2@example.test", "c1", "b1@example.test", "b2@example.test"}; !reflect.DeepEqual(d.extr, want) {
		t.Errorf("extracted %q, want %q", d.extr, want)
	}
	for _, n := range d.notify {
		if n != 10 {
			t.Errorf("notify %v", d.notify)
			break
		}
	}
	want := "To: t1@example.test, \"T Two\" <t2@example.test>\nCc: c1\nSubject: hi\n\nbody\n.\n..double\n8bit: \xc3\xa9\nlast\n"
	if d.content != want {
		t.Errorf("content\n%q\nwant\n%q", d.content, want)
	}
	if d.mode != 0744 {
		t.Errorf("mode %o", d.mode)
	}
}

func TestSendmailDotAndResent(t *testing.T) {
	in := sendmailInstance(t, nil)
	// Without -i a lone dot ends the input; Resent- headers win over To:.
	out, code := runSendmail(t, in, "To: t@x\nResent-To: r@x\nResent-Bcc: rb@x\n\nline\n.\nnot stored\n", "-t", "-f", "<>")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	files := maildrop(t, in)
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	d := files[0]
	if d.env.Sender != "" || d.rcpts != nil || !reflect.DeepEqual(d.extr, []string{"r@x", "rb@x"}) {
		t.Errorf("sender %q rcpts %q extracted %q", d.env.Sender, d.rcpts, d.extr)
	}
	if d.content != "To: t@x\nResent-To: r@x\n\nline\n" {
		t.Errorf("content %q", d.content)
	}
}

func TestSendmailErrors(t *testing.T) {
	in := sendmailInstance(t, map[string]string{"message_size_limit": "1000"})
	tests := []struct {
		args  []string
		stdin string
		code  int
		out   string
	}{
		{[]string{"-Z"}, "", 75, "sendmail: invalid option -- 'Z'\nsendmail: invalid option -- 'Z'\nsendmail: fatal: usage: sendmail [options]\n"},
		{nil, "x\n", 75, "Recipient addresses must be specified on the command line or via the -t option"},
		{[]string{"-t"}, "Subject: x\n\n", 75, "No recipient addresses found in message header"},
		{[]string{"-f", "s@x", "r@x"}, strings.Repeat("0123456789\n", 100), 69, "sendmail: fatal: s@x(" /* uid */},
		// -bp is postqueue -p: with the system down, root reads the queue.
		{[]string{"-bp"}, "", 0, "Mail queue is empty\n"},
		// -bs: an SMTP session on stdin/stdout; end of input ends it.
		{[]string{"-bs"}, "", 0, "220 mx.example.test ESMTP Postern\r\n"},
		{[]string{"-X", "/tmp/log"}, "", 75, "sendmail: fatal: unsupported: -X/"},
		{[]string{"-B", "x", "r"}, "", 75, "sendmail: fatal: -B option needs 8BITMIME or 7BIT"},
		{[]string{"-bh"}, "", 0, ""},
		{[]string{"-q30m"}, "", 0, ""},
	}
	for _, tt := range tests {
		if len(tt.args) == 1 && tt.args[0] == "-bp" && os.Geteuid() != 0 {
			tt.code, tt.out = 69, "Queue report unavailable - mail system is down"
		}
		out, code := runSendmail(t, in, tt.stdin, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || (tt.out == "" && out != "") {
			t.Errorf("%q: exit %d, output %q; want %d, %q", tt.args, code, out, tt.code, tt.out)
		}
	}
	out, _ := runSendmail(t, in, strings.Repeat("0123456789\n", 100), "r@x")
	if !strings.Contains(out, "message file too big") {
		t.Errorf("size limit: %q", out)
	}
	if files := maildrop(t, in); len(files) != 0 {
		t.Errorf("%d files in maildrop after errors", len(files))
	}
	if ents, _ := os.ReadDir(filepath.Join(in.QueueDir, "maildrop")); len(ents) != 0 {
		t.Errorf("left in maildrop: %v", ents)
	}
}

func TestSendmailWarnings(t *testing.T) {
	in := sendmailInstance(t, nil)
	out, code := runSendmail(t, in, "x\n", "-N", "bogus", "-R", "junk", "-f", "bad address with spaces", "r@x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, w := range []string{
		`sendmail: warning: unknown DSN NOTIFY command value "bogus" in "bogus"`,
		"sendmail: warning: bad -N option value -- ignored",
		"sendmail: warning: bad -R option value -- ignored",
		"sendmail: warning: -f option specified malformed sender: bad address with spaces",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q in %q", w, out)
		}
	}
	files := maildrop(t, in)
	if len(files) != 1 || files[0].env.Sender != "bad" || files[0].content != "\nx\n" && files[0].content != "x\n" {
		t.Errorf("files %+v", files)
	}
	if !strings.Contains(in.Log(), "postern/sendmail[") {
		t.Errorf("warnings not logged: %q", in.Log())
	}
}

func TestNewaliases(t *testing.T) {
	in := sendmailInstance(t, nil)
	src := filepath.Join(in.Root, "aliases")
	if err := os.WriteFile(src, []byte("postmaster: root\n"), 0644); err != nil {
		t.Fatal(err)
	}
	in.WriteFile("main.cf", readFile(t, filepath.Join(in.ConfigDir, "main.cf"))+"alias_database = cdb:"+src+"\n")
	cmd := exec.Command(filepath.Join(ti.BinDir, "newaliases"), "-C", in.ConfigDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("newaliases: %v %s", err, out)
	}
	if _, err := os.Stat(src + ".cdb"); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
