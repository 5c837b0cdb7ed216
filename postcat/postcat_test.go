package postcat

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/pkg/queue"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	location = time.UTC
	os.Exit(m.Run())
}

var clock = time.Date(2026, 11, 21, 23, 20, 55, 0, time.UTC)

type fixture struct {
	env     queue.Envelope
	rcpts   []queue.Recipient
	content string
	xattrs  []queue.Attr
	xrcpts  []queue.Recipient
	state   string
}

var fixtures = map[string]fixture{
	"basic": {
		env: queue.Envelope{
			ArrivalTime:    clock.Add(-90 * time.Second),
			Sender:         "alice@example.org",
			SenderFullName: "Alice Example",
			RewriteContext: "local",
			ClientName:     "client.example.org",
			ClientAddr:     "192.0.2.7",
			Protocol:       "ESMTP",
			Encoding:       "8bit",
			Ret:            queue.RetHdrs,
			Attrs:          []queue.Attr{{Name: "trace_flags", Value: "0"}},
		},
		rcpts: []queue.Recipient{
			{Address: "bob@example.com", OrigAddress: "bob", ORCPT: "rfc822;bob@example.com", Notify: queue.NotifyFailure | queue.NotifyDelay},
			{Address: "carol@example.com", Done: true},
			{Address: "dave@example.net", OrigAddress: "dave@example.net"},
		},
		content: "Received: by mail.example.org (Postern)\n\tid 1; Sat, 21 Nov 2026 23:19:25 +0000\n" +
			"From: Alice Example <alice@example.org>\nSubject: test\nTo: bob@example.com\n" +
			"\nHello Bob,\n\nSubject: not a header\n this line begins with a space\nbye\n",
		xattrs: []queue.Attr{{Name: "encoding", Value: "8bit"}},
	},
	"extracted": {
		env:     queue.Envelope{Sender: "", RewriteContext: "local"},
		content: "To: x@example.com, y@example.com\nSubject: sendmail -t\n\nbody\n",
		xrcpts: []queue.Recipient{
			{Address: "x@example.com", OrigAddress: "x@example.com"},
			{Address: "y@example.com", OrigAddress: "y@example.com", Done: true},
		},
		state: queue.Maildrop,
	},
	"nobody": {
		env:     queue.Envelope{Sender: "root@example.org", SMTPUTF8: true},
		rcpts:   []queue.Recipient{{Address: "ü@example.org"}},
		content: "Subject: headers only\nX-Long:   spaced\n",
		state:   queue.Deferred,
	},
	"noheader": {
		env:     queue.Envelope{Sender: "root@example.org"},
		rcpts:   []queue.Recipient{{Address: "u@example.org"}},
		content: "this is no header\nSubject: body line\nno newline at end",
		state:   queue.Hold,
	},
	"empty": {
		env:   queue.Envelope{Sender: "root@example.org"},
		rcpts: []queue.Recipient{{Address: "u@example.org"}},
	},
	"mixedextracted": {
		env:     queue.Envelope{Sender: "a@example.org"},
		rcpts:   []queue.Recipient{{Address: "u@example.org"}},
		content: "Subject: x\n\nbody\n",
		xattrs:  []queue.Attr{{Name: "x_attr", Value: "1"}},
		xrcpts:  []queue.Recipient{{Address: "v@example.org"}},
	},
}

// write makes the queue file of fixture name in a new queue directory
// and returns the directory, the file's state path and its ID.
func write(t *testing.T, name string) (dir, path, id string) {
	t.Helper()
	fx, ok := fixtures[name]
	if !ok {
		t.Fatalf("no fixture %q", name)
	}
	dir = t.TempDir()
	q := queue.New(dir)
	q.Clock = func() time.Time { return clock }
	if err := q.MakeDirs(0700); err != nil {
		t.Fatal(err)
	}
	w, err := q.Create(queue.Incoming)
	if err != nil {
		t.Fatal(err)
	}
	env := fx.env
	if err := w.SetEnvelope(&env); err != nil {
		t.Fatal(err)
	}
	for _, r := range fx.rcpts {
		if err := w.AddRecipient(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Write([]byte(fx.content)); err != nil {
		t.Fatal(err)
	}
	for _, a := range fx.xattrs {
		if err := w.AddAttr(a.Name, a.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range fx.xrcpts {
		if err := w.AddRecipient(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	id, path = w.ID(), w.Path()
	if fx.state != "" && fx.state != queue.Incoming {
		if path, err = q.Move(id, queue.Incoming, fx.state); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "main.cf"), []byte("queue_directory = "+dir+"\n"), 0644)
	return dir, path, id
}

type result struct {
	stdout, stderr string
	status         int
}

func runCat(stdin []byte, args ...string) result {
	var out, errb bytes.Buffer
	st := run(append([]string{"postcat"}, args...), bytes.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), st}
}

func (r result) String() string {
	return fmt.Sprintf("%s--- stderr ---\n%s--- exit %d ---\n", r.stdout, r.stderr, r.status)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s: output differs from %s\n--- got ---\n%s--- want ---\n%s", name, file, got, want)
	}
}

// TestGolden runs every option combination on every fixture, with the
// file named by -q (queue/ID), so paths are stable once the ID, which
// holds an inode number, is replaced.
func TestGolden(t *testing.T) {
	optionSets := [][]string{
		nil, {"-e"}, {"-h"}, {"-b"}, {"-bh"}, {"-eh"}, {"-eb"}, {"-ebh"},
		{"-d"}, {"-o"}, {"-od"}, {"-od", "-h"}, {"-r"}, {"-v"}, {"-e", "-s", "100"},
	}
	for _, fx := range []string{"basic", "extracted", "nobody", "noheader", "empty", "mixedextracted"} {
		dir, _, id := write(t, fx)
		for _, opts := range optionSets {
			name := fx + strings.ReplaceAll(strings.Join(opts, ""), "-", "_")
			t.Run(name, func(t *testing.T) {
				args := append([]string{"-c", dir, "-q"}, opts...)
				res := runCat(nil, append(args, id)...)
				got := strings.ReplaceAll(res.String(), "/"+id[len(id)-1:]+"/"+id, "/H/"+id)
				got = strings.ReplaceAll(got, id, "QUEUEID")
				golden(t, name, got)
			})
		}
	}
}

// TestPaths checks the path shown for a file name, for -q in a hashed
// queue, and for stdin, and that all three show the same records.
func TestPaths(t *testing.T) {
	dir, path, id := write(t, "nobody")
	byFile := runCat(nil, path)
	if byFile.status != 0 || !strings.HasPrefix(byFile.stdout, "*** ENVELOPE RECORDS "+path+" ***\n") {
		t.Fatalf("by file: %v", byFile)
	}
	byQueue := runCat(nil, "-c", dir, "-q", id)
	rel := "deferred/" + id[len(id)-1:] + "/" + id
	if byQueue.status != 0 || !strings.HasPrefix(byQueue.stdout, "*** ENVELOPE RECORDS "+rel+" ***\n") {
		t.Fatalf("by queue: %v", byQueue)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byStdin := runCat(data)
	if byStdin.status != 0 || !strings.HasPrefix(byStdin.stdout, "*** ENVELOPE RECORDS stdin ***\n") {
		t.Fatalf("by stdin: %v", byStdin)
	}
	a := strings.ReplaceAll(byFile.stdout, path, "P")
	b := strings.ReplaceAll(byQueue.stdout, rel, "P")
	c := strings.ReplaceAll(byStdin.stdout, "stdin", "P")
	if a != b || a != c {
		t.Errorf("outputs differ:\n%s\n%s\n%s", a, b, c)
	}
	// Two files in one run, in order.
	two := runCat(nil, "-h", path, path)
	if two.stdout != "Subject: headers only\nX-Long:   spaced\n"+"Subject: headers only\nX-Long:   spaced\n" {
		t.Errorf("two files: %q", two.stdout)
	}
}

// TestOffsets checks that -o prints true file offsets: each content line
// is found in the file at its offset, and the offsets of envelope
// records increase and lie before the content.
func TestOffsets(t *testing.T) {
	_, path, _ := write(t, "basic")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := runCat(nil, "-o", "-d", path)
	if res.status != 0 {
		t.Fatal(res)
	}
	var contentOff int64 = -1
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if lines[0] != "*** ENVELOPE RECORDS "+path+" ***" {
		t.Fatalf("first line %q", lines[0])
	}
	for _, line := range lines[1:] {
		var off int64
		var typ int
		if strings.HasPrefix(strings.TrimSpace(line[:9]), "?") {
			t.Errorf("unknown offset in %q", line)
			continue
		}
		if _, err := fmt.Sscanf(line[:14], "%9d %3d", &off, &typ); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		rest := line[14:]
		switch {
		case strings.HasPrefix(rest, "*** MESSAGE CONTENTS"):
			contentOff = off
		case typ == 'N':
			if !bytes.HasPrefix(data[off:], []byte(rest)) {
				t.Errorf("line %q not at offset %d", rest, off)
			}
		case typ == 'R' || typ == 'D' || typ == 'S' || typ == 'F':
			if data[off] != map[int]byte{'R': 'R', 'D': 'R', 'S': 'S', 'F': 'N'}[typ] {
				t.Errorf("%q: no record of its type at %d (%q)", line, off, data[off])
			}
		}
	}
	if contentOff < headerSize {
		t.Errorf("no content marker: %s", res.stdout)
	}
	// -s skips what lies before the offset, marker included.
	res = runCat(nil, "-s", fmt.Sprint(contentOff), path)
	if strings.Contains(res.stdout, "ENVELOPE RECORDS") || strings.Contains(res.stdout, "sender:") ||
		!strings.HasPrefix(res.stdout, "*** MESSAGE CONTENTS") {
		t.Errorf("-s %d: %s", contentOff, res.stdout)
	}
}

func TestErrors(t *testing.T) {
	dir, _, _ := write(t, "basic")
	notQueue := filepath.Join(dir, "notqueue")
	os.WriteFile(notQueue, []byte("From: x\n\nhello\n"), 0600)
	cases := []struct {
		name   string
		args   []string
		stdout string
		stderr string
		status int
	}{
		{"unknown id", []string{"-c", dir, "-q", "NOSUCHID"}, "",
			"postcat: fatal: open queue file NOSUCHID: No such file or directory\n", 1},
		{"bad id", []string{"-c", dir, "-q", "../x"}, "",
			"postcat: fatal: bad mail queue ID: ../x\n", 1},
		{"no file", []string{filepath.Join(dir, "nope")}, "",
			"postcat: fatal: open " + filepath.Join(dir, "nope") + ": No such file or directory\n", 1},
		{"not a queue file", []string{notQueue}, "",
			"postcat: warning: " + notQueue + ": input is not a valid queue file\n", 0},
		{"directory", []string{dir}, "",
			"postcat: warning: " + dir + ": input is not a valid queue file\n", 0},
		{"-n is not an option", []string{"-n", notQueue}, "",
			"postcat: invalid option -- 'n'\npostcat: fatal: " + fmt.Sprintf(usageText, "postcat") + "\n", 1},
		{"-s needs a number", []string{"-s", "x1", notQueue}, "",
			"postcat: fatal: bad offset: x1\n", 1},
		{"-s needs a value", []string{"-s"}, "",
			"postcat: option requires an argument -- 's'\npostcat: fatal: " + fmt.Sprintf(usageText, "postcat") + "\n", 1},
		{"no main.cf", []string{"-c", filepath.Join(dir, "none"), "-q", "ABC"}, "",
			"postcat: fatal: open " + filepath.Join(dir, "none", "main.cf") + ": No such file or directory\n", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runCat(nil, tc.args...)
			if res.stdout != tc.stdout || res.stderr != tc.stderr || res.status != tc.status {
				t.Errorf("got %q %q %d, want %q %q %d", res.stdout, res.stderr, res.status, tc.stdout, tc.stderr, tc.status)
			}
		})
	}
	// A warning does not stop the files that follow.
	_, good, _ := write(t, "nobody")
	res := runCat(nil, "-h", notQueue, good)
	if res.status != 0 || res.stdout != "Subject: headers only\nX-Long:   spaced\n" || !strings.Contains(res.stderr, "not a valid queue file") {
		t.Errorf("warning then file: %v", res)
	}
	// The name it was invoked by is in the messages.
	var out, errb bytes.Buffer
	run([]string{"/usr/sbin/mycat", notQueue}, nil, &out, &errb)
	if !strings.HasPrefix(errb.String(), "mycat: warning: ") {
		t.Errorf("program name: %q", errb.String())
	}
}

// TestHostile feeds truncated, damaged and random files: postcat must
// never panic; it either shows the file, warns that it is not a queue
// file (exit 0), or reports a read error (exit 1).
func TestHostile(t *testing.T) {
	_, path, _ := write(t, "basic")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	var inputs [][]byte
	for n := 0; n <= len(good); n++ {
		inputs = append(inputs, good[:n])
	}
	for i := 0; i < 2000; i++ {
		b := bytes.Clone(good)
		for k := 0; k <= rng.Intn(3); k++ {
			b[rng.Intn(len(b))] ^= byte(1 + rng.Intn(255))
		}
		inputs = append(inputs, b)
	}
	for i := 0; i < 300; i++ {
		b := make([]byte, rng.Intn(600))
		rng.Read(b)
		if len(b) >= 8 && i%2 == 0 {
			copy(b, good[:8]) // magic and version
		}
		inputs = append(inputs, b)
	}
	full := runCat(good, "-od")
	if full.status != 0 || full.stderr != "" {
		t.Fatalf("good file: %v", full)
	}
	for i, in := range inputs {
		for _, opts := range [][]string{nil, {"-od"}, {"-e"}, {"-s", "70"}} {
			var res result
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("input %d (%d bytes) %v: panic %v", i, len(in), opts, r)
					}
				}()
				res = runCat(in, opts...)
			}()
			switch {
			case res.status == 0 && res.stderr == "":
				// A changed byte may leave a valid file (a status or
				// flag byte flipped to its other value); a truncated
				// file is never valid.
				if len(in) == len(good) {
					continue
				}
				t.Errorf("input %d (%d bytes of %d) %v: shown without complaint", i, len(in), len(good), opts)
			case res.status == 0:
				if res.stderr != "postcat: warning: stdin: input is not a valid queue file\n" {
					t.Errorf("input %d: %v", i, res)
				}
			case res.status == 1:
				if !strings.HasPrefix(res.stderr, "postcat: fatal: stdin: record read error: ") {
					t.Errorf("input %d: %v", i, res)
				}
			default:
				t.Errorf("input %d: %v", i, res)
			}
		}
	}
}
