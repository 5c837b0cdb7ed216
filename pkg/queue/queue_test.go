package queue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	plog "postern/pkg/log"
)

func newTestQueue(t testing.TB, m CommitMethod) *Queue {
	t.Helper()
	q := New(t.TempDir())
	q.Method = m
	if err := q.MakeDirs(0700); err != nil {
		t.Fatal(err)
	}
	return q
}

var methods = []CommitMethod{MethodExecBit, MethodRename}

func sampleEnvelope() *Envelope {
	return &Envelope{
		Sender:         "alice@example.org",
		SenderFullName: "Alice Example",
		RewriteContext: "local",
		EnvelopeID:     "env-id-42",
		Ret:            RetHdrs,
		Encoding:       "8bit",
		SMTPUTF8:       true,
		ClientName:     "client.example.com",
		ClientAddr:     "192.0.2.1",
		ClientPort:     "40000",
		HeloName:       "helo.example.com",
		Protocol:       "ESMTP",
		SASLMethod:     "PLAIN",
		SASLUsername:   "alice",
		Attrs:          []Attr{{"x_custom", "value with spaces"}},
	}
}

func sampleRecipients() []Recipient {
	return []Recipient{
		{Address: "bob@example.net", OrigAddress: "bob@example.net", ORCPT: "rfc822;bob@example.net", Notify: NotifySuccess | NotifyDelay},
		{Address: `"odd \"q\" name"@example.net`, Notify: NotifyNever},
		{Address: "jöe@example.net", OrigAddress: "joe-alias@example.net"},
	}
}

const sampleContent = "Received: by mx.example.test (Postern, from userid 0)\n\tid X; Sat, 21 Nov 2026 23:20:55 +0000 (UTC)\nSubject: test\nFrom: Alice <alice@example.org>\n\nhello\n.\nFrom the body\n\xc3\xa4 8bit\n"

// writeSample writes a complete sample file into state and returns its ID
// and path.
func writeSample(t testing.TB, q *Queue, state string) (string, string) {
	t.Helper()
	w, err := q.Create(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetEnvelope(sampleEnvelope()); err != nil {
		t.Fatal(err)
	}
	for _, r := range sampleRecipients() {
		if err := w.AddRecipient(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(w, sampleContent); err != nil {
		t.Fatal(err)
	}
	if err := w.AddRecipient(Recipient{Address: "extracted@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddAttr("errors_to", "errors@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return w.ID(), w.Path()
}

func readAll(t testing.TB, qf *File) (*Envelope, []Recipient, string) {
	t.Helper()
	e, err := qf.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	var rs []Recipient
	if err := qf.Recipients(func(r Recipient) error { rs = append(rs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	c, err := io.ReadAll(qf.ContentReader())
	if err != nil {
		t.Fatal(err)
	}
	return e, rs, string(c)
}

func TestRoundTrip(t *testing.T) {
	for _, m := range methods {
		t.Run(m.String(), func(t *testing.T) {
			q := newTestQueue(t, m)
			before := time.Now()
			id, path := writeSample(t, q, Incoming)
			if path != filepath.Join(q.Dir, Incoming, id) {
				t.Errorf("path %s", path)
			}
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != 0700 {
				t.Fatalf("stat %v %v", st, err)
			}
			qf, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer qf.Close()
			if err := qf.Verify(); err != nil {
				t.Fatal(err)
			}
			e, rs, c := readAll(t, qf)
			want := sampleEnvelope()
			want.CreateTime, want.ArrivalTime = qf.CreateTime(), qf.ArrivalTime()
			want.Extracted = []Attr{{"errors_to", "errors@example.org"}}
			if !reflect.DeepEqual(e, want) {
				t.Errorf("envelope\n got %+v\nwant %+v", e, want)
			}
			wr := sampleRecipients()
			wr = append(wr, Recipient{Address: "extracted@example.com", Extracted: true})
			for i := range wr {
				wr[i].Index = i
			}
			if !reflect.DeepEqual(rs, wr) {
				t.Errorf("recipients\n got %+v\nwant %+v", rs, wr)
			}
			if c != sampleContent {
				t.Errorf("content %q", c)
			}
			if qf.MessageSize() != int64(len(sampleContent)) || qf.NumRecipients() != 4 || qf.ID() != id {
				t.Errorf("size %d nrcpt %d id %s", qf.MessageSize(), qf.NumRecipients(), qf.ID())
			}
			if ct := qf.CreateTime(); ct.Before(before.Add(-time.Millisecond)) || ct.After(time.Now()) {
				t.Errorf("create time %v", ct)
			}
			tm, _, long, ok := ParseID(id)
			if !ok || long || !tm.Equal(qf.CreateTime().Truncate(time.Minute)) {
				t.Errorf("id %s time %v ok %v, create %v", id, tm, ok, qf.CreateTime())
			}
			// Content as a SectionReader.
			sr := qf.Content()
			buf := make([]byte, 5)
			if _, err := sr.ReadAt(buf, 1); err != nil || string(buf) != sampleContent[1:6] {
				t.Errorf("ReadAt %q %v", buf, err)
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	q := newTestQueue(t, MethodExecBit)
	w, err := q.Create(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("content before envelope accepted")
	}
	if err := w.AddRecipient(Recipient{Address: "a"}); err == nil {
		t.Error("recipient before envelope accepted")
	}
	if err := w.SetEnvelope(&Envelope{}); err != nil {
		t.Fatal(err)
	}
	if err := w.SetEnvelope(&Envelope{}); err == nil {
		t.Error("second envelope accepted")
	}
	w.AddRecipient(Recipient{Address: "a"})
	if err := w.AddAttr("x", "y"); err == nil {
		t.Error("attribute after recipient accepted")
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("aborted file still there: %v", err)
	}
	if err := w.Commit(); err == nil {
		t.Error("commit after abort")
	}
	if _, err := q.Create("nosuch"); err == nil {
		t.Error("create in unknown state")
	}
	ents, _ := os.ReadDir(filepath.Join(q.Dir, Incoming))
	if len(ents) != 0 {
		t.Errorf("left over: %v", ents)
	}
}

func TestIncompleteIsSkippedAndCleaned(t *testing.T) {
	q := newTestQueue(t, MethodExecBit)
	w, err := q.Create(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	w.SetEnvelope(&Envelope{Sender: "a@b"})
	w.Write([]byte("partial"))
	// Not committed: visible by name, but incomplete.
	if _, err := Open(w.Path()); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("open of incomplete file: %v", err)
	}
	// A young incomplete file is left alone, an old one removed.
	if n, _ := q.Cleanup(time.Hour); n != 0 {
		t.Errorf("cleanup removed %d young files", n)
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(w.Path(), old, old)
	if n, _ := q.Cleanup(time.Hour); n != 1 {
		t.Errorf("cleanup removed %d, want 1", n)
	}
	// The writer notices and does not claim success.
	if err := w.Commit(); err == nil {
		t.Error("commit of a removed file succeeded")
	}
}

func TestMarkDoneAndFlags(t *testing.T) {
	q := newTestQueue(t, MethodExecBit)
	_, path := writeSample(t, q, Incoming)
	ro, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ro.MarkDone(0); err == nil {
		t.Error("MarkDone on read-only file")
	}
	ro.Close()
	qf, err := OpenRW(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := qf.MarkDoneBatch([]int{1, 3}); err != nil {
		t.Fatal(err)
	}
	if err := qf.MarkDone(4); err == nil {
		t.Error("MarkDone out of range")
	}
	if err := qf.SetForcedExpire(true); err != nil {
		t.Fatal(err)
	}
	if err := qf.SetDelayReason([]int{0, 2}, "connect to x[192.0.2.9]:25: Connection refused"); err != nil {
		t.Fatal(err)
	}
	if err := qf.SetDelayReason([]int{2}, "host y said: 450 greylisted"); err != nil {
		t.Fatal(err)
	}
	qf.Close()

	check := func(wantDone []bool, wantReason []string, forced bool) {
		t.Helper()
		qf, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer qf.Close()
		if err := qf.Verify(); err != nil {
			t.Fatal(err)
		}
		if qf.ForcedExpire() != forced {
			t.Errorf("forced %v", qf.ForcedExpire())
		}
		_, rs, _ := readAll(t, qf)
		for i, r := range rs {
			if r.Done != wantDone[i] || r.DelayReason != wantReason[i] {
				t.Errorf("rcpt %d: done %v reason %q", i, r.Done, r.DelayReason)
			}
		}
	}
	check([]bool{false, true, false, true}, []string{"connect to x[192.0.2.9]:25: Connection refused", "", "host y said: 450 greylisted", ""}, true)

	// A torn journal record is ignored, and the next append replaces it.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{recReason, 40, 1, 0, 'x'})
	f.Close()
	check([]bool{false, true, false, true}, []string{"connect to x[192.0.2.9]:25: Connection refused", "", "host y said: 450 greylisted", ""}, true)
	qf, _ = OpenRW(path)
	if err := qf.SetDelayReason([]int{0}, "later"); err != nil {
		t.Fatal(err)
	}
	qf.Close()
	check([]bool{false, true, false, true}, []string{"later", "", "host y said: 450 greylisted", ""}, true)

	qf, _ = OpenRW(path)
	qf.ClearDelayReasons()
	qf.SetForcedExpire(false)
	qf.SetDelayWarned(true)
	qf.Close()
	check([]bool{false, true, false, true}, []string{"", "", "", ""}, false)
}

func TestMovesAndHashing(t *testing.T) {
	q := newTestQueue(t, MethodExecBit)
	q.HashDepth = 2
	id, _ := writeSample(t, q, Incoming)
	p, err := q.Move(id, Incoming, Active)
	if err != nil || p != filepath.Join(q.Dir, Active, id) {
		t.Fatal(p, err)
	}
	if p, err = q.Move(id, Active, Deferred); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(q.Dir, Deferred, id[len(id)-1:], id[len(id)-2:len(id)-1], id)
	if p != want {
		t.Errorf("deferred path %s, want %s", p, want)
	}
	if st, path, err := q.Find(id); err != nil || st != Deferred || path != want {
		t.Errorf("find: %s %s %v", st, path, err)
	}
	if _, err := q.Move(id, Active, Hold); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("move of missing file: %v", err)
	}
	// No clobbering: a second file under the same name in the target.
	os.WriteFile(q.Path(Hold, id), []byte("other"), 0600)
	os.MkdirAll(filepath.Dir(q.Path(Hold, id)), 0700)
	os.WriteFile(q.Path(Hold, id), []byte("other"), 0600)
	if _, err := q.Move(id, Deferred, Hold); err == nil || !errors.Is(err, os.ErrExist) {
		t.Errorf("move over an existing file: %v", err)
	}
	if _, err := q.Move("bad/id", Deferred, Hold); err == nil {
		t.Error("bad id accepted")
	}
	var seen []string
	q.Scan(Deferred, func(id, path string) error { seen = append(seen, id); return nil })
	if len(seen) != 1 || seen[0] != id {
		t.Errorf("scan %v", seen)
	}
	if err := SetRetryTime(p, time.Unix(2e9, 0)); err != nil {
		t.Fatal(err)
	}
	if err := q.Remove(Deferred, id); err != nil {
		t.Fatal(err)
	}
}

func TestMoveToCorrupt(t *testing.T) {
	q := newTestQueue(t, MethodExecBit)
	logfile := filepath.Join(t.TempDir(), "maillog")
	l, err := plog.New(plog.Options{Program: "qmgr", File: logfile, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	q.Log = l
	for i := 0; i < 2; i++ {
		p := filepath.Join(q.Dir, Active, "ABCDEF123")
		os.WriteFile(p, []byte("garbage that is not a queue file at all, long enough to have a header"), 0700)
		qf, err := Open(p)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open garbage: %v %v", qf, err)
		}
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("not a CorruptError: %T", err)
		}
		np, err := q.MoveToCorrupt(p, err)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(q.Dir, Corrupt, "ABCDEF123")
		if i == 1 {
			want += ".1"
		}
		if np != want {
			t.Errorf("moved to %s, want %s", np, want)
		}
	}
	b, _ := os.ReadFile(logfile)
	if !bytes.Contains(b, []byte(`postern/qmgr[`)) || !bytes.Contains(b, []byte(`warning: saving corrupt file "ABCDEF123" from queue "active" to queue "corrupt": corrupt queue file`)) {
		t.Errorf("log: %s", b)
	}
}

func TestScanSkipsNonIDs(t *testing.T) {
	q := newTestQueue(t, MethodRename)
	dir := filepath.Join(q.Dir, Incoming)
	for _, n := range []string{"ABC123456", ".t1.2.3", "x.y", "DEF9999999"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0600)
	}
	var got []string
	if err := q.Scan(Incoming, func(id, path string) error { got = append(got, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("scan %v", got)
	}
	stop := errors.New("stop")
	if err := q.Scan(Incoming, func(id, path string) error { return stop }); err != stop {
		t.Errorf("scan error %v", err)
	}
	if err := q.Scan(Maildrop, func(string, string) error { return nil }); err != nil {
		t.Error(err)
	}
	os.RemoveAll(filepath.Join(q.Dir, Hold))
	if err := q.Scan(Hold, func(string, string) error { return nil }); err != nil {
		t.Error("missing directory:", err)
	}
}

func TestValidID(t *testing.T) {
	for _, s := range []string{"D30A89841E9", "4jX7hC5pCDz1SC8x", "A"} {
		if !ValidID(s) {
			t.Errorf("%q invalid", s)
		}
	}
	for _, s := range []string{"", "bad/id", "28FC2984115 junk", "a.b", "..", strings.Repeat("A", 65), "é"} {
		if ValidID(s) {
			t.Errorf("%q valid", s)
		}
	}
}

func TestIDFormats(t *testing.T) {
	tm := time.Date(2026, 11, 21, 23, 20, 55, 123456000, time.UTC)
	for _, long := range []bool{false, true} {
		for _, ino := range []uint64{1, 0x984004, 1 << 40} {
			id := FormatID(tm.UnixMicro(), ino, long)
			if !ValidID(id) {
				t.Errorf("%s not valid", id)
			}
			pt, pino, plong, ok := ParseID(id)
			wt := tm
			if !long {
				wt = tm.Truncate(time.Minute)
			}
			if !ok || pino != ino || plong != long || !pt.Equal(wt) {
				t.Errorf("%s: %v %x %v %v", id, pt, pino, plong, ok)
			}
		}
	}
	if id := FormatID(tm.UnixMicro(), 0x984004, false); len(id) != 12 || id[6:] != "984004" {
		t.Errorf("short id %s", id)
	}
	if id := FormatID(tm.UnixMicro(), 0x984004, true); id[10] != 'z' {
		t.Errorf("long id %s", id)
	}
	for _, s := range []string{"", "ABC", "GHIJKLMN", "4jX7hC5pCDz", "4jX7hC5pCDzaeiou"} {
		if _, _, _, ok := ParseID(s); ok {
			t.Errorf("ParseID(%q) ok", s)
		}
	}
}

func Example() {
	dir, _ := os.MkdirTemp("", "queue")
	defer os.RemoveAll(dir)
	q := New(dir)
	q.MakeDirs(0700)
	w, _ := q.Create(Incoming)
	w.SetEnvelope(&Envelope{Sender: "alice@example.org"})
	w.AddRecipient(Recipient{Address: "bob@example.net"})
	io.WriteString(w, "Subject: hi\n\nhello\n")
	if err := w.Commit(); err != nil {
		fmt.Println(err) // do not acknowledge the message
	}
	qf, _ := Open(w.Path())
	defer qf.Close()
	e, _ := qf.Envelope()
	qf.Recipients(func(r Recipient) error {
		fmt.Println(e.Sender, "->", r.Address, qf.MessageSize())
		return nil
	})
	// Output: alice@example.org -> bob@example.net 19
}
