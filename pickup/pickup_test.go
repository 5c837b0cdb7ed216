package pickup

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"postern/pkg/log"
	"postern/pkg/queue"
	pb "postern/proto"
)

// fakeCleanup records submissions and answers with status.
type fakeCleanup struct {
	pb.UnimplementedCleanupServer
	status uint32
	got    []*got
}

type got struct {
	env       *pb.SubmitEnvelope
	rcpt, ext []*pb.Recipient
	content   bytes.Buffer
}

func (f *fakeCleanup) Submit(st grpc.BidiStreamingServer[pb.SubmitRequest, pb.SubmitReply]) error {
	g := &got{}
	req, err := st.Recv()
	if err != nil {
		return err
	}
	g.env = req.Envelope
	f.got = append(f.got, g)
	st.Send(&pb.SubmitReply{QueueId: "NEWID" + strconv.Itoa(len(f.got))})
	for {
		req, err := st.Recv()
		if err != nil {
			return err
		}
		g.rcpt = append(g.rcpt, req.Recipients...)
		g.ext = append(g.ext, req.Extracted...)
		g.content.Write(req.Content)
		if req.End {
			r := &pb.SubmitReply{QueueId: "NEWID", Final: true, Status: f.status}
			if f.status != 0 {
				r.Dsn, r.Text = "4.3.0", "queue file write error"
			}
			return st.Send(r)
		}
	}
}

func setup(t *testing.T) (*Picker, *fakeCleanup, string) {
	dir := t.TempDir()
	q := queue.New(dir)
	if err := q.MakeDirs(0o700); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(dir, "maillog")
	if err := log.Init(log.Options{Program: "pickup", SyslogName: "postern", File: logf, Hostname: "mx.example.test"}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "cleanup.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCleanup{}
	g := grpc.NewServer()
	pb.RegisterCleanupServer(g, f)
	go g.Serve(l)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); g.Stop() })
	return &Picker{Queue: q, Cleanup: conn, OwnUID: -1, wake: make(chan struct{}, 1)}, f, logf
}

// drop writes a maildrop file as postdrop does.
func drop(t *testing.T, q *queue.Queue, uid string) string {
	t.Helper()
	w, err := q.Create(queue.Maildrop)
	if err != nil {
		t.Fatal(err)
	}
	env := &queue.Envelope{Sender: "user", SenderFullName: "A User", RewriteContext: "local",
		ArrivalTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), EnvelopeID: "ENV1"}
	if uid != "" {
		env.Attrs = []queue.Attr{{Name: "submit_uid", Value: uid}}
	}
	w.SetEnvelope(env)
	w.AddRecipient(queue.Recipient{Address: "rcpt", Notify: queue.NotifyFailure})
	w.Write([]byte("Subject: hi\n\nbody\n"))
	w.AddRecipient(queue.Recipient{Address: "t1@example.test"})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return w.ID()
}

func maildropFiles(q *queue.Queue) int {
	n := 0
	q.Scan(queue.Maildrop, func(string, string) error { n++; return nil })
	return n
}

func TestPickupSubmitsAndRemoves(t *testing.T) {
	p, f, logf := setup(t)
	uid := strconv.Itoa(os.Getuid())
	drop(t, p.Queue, uid)
	p.Scan(context.Background())
	if len(f.got) != 1 {
		t.Fatalf("%d submissions", len(f.got))
	}
	g := f.got[0]
	if g.env.Sender != "user" || g.env.FullName != "A User" || g.env.Origin != "pickup" || g.env.RewriteContext != "local" ||
		g.env.ArrivalTimeUs != time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro() ||
		g.env.Flags&uint32(pb.SubmitFlag_SUBMIT_FLAG_EXTRACTED) == 0 {
		t.Errorf("envelope %v", g.env)
	}
	attrs := map[string]string{}
	for _, a := range g.env.Attrs {
		attrs[a.Name] = a.Value
	}
	if attrs["submit_uid"] != uid || attrs["envelope_id"] != "ENV1" {
		t.Errorf("attrs %v", attrs)
	}
	if len(g.rcpt) != 1 || g.rcpt[0].Address != "rcpt" || g.rcpt[0].Notify != queue.NotifyFailure ||
		len(g.ext) != 1 || g.ext[0].Address != "t1@example.test" || g.content.String() != "Subject: hi\n\nbody\n" {
		t.Errorf("got %v %v %q", g.rcpt, g.ext, g.content.String())
	}
	if n := maildropFiles(p.Queue); n != 0 {
		t.Errorf("%d maildrop files left", n)
	}
	text, _ := os.ReadFile(logf)
	if !strings.Contains(string(text), "postern/pickup["+strconv.Itoa(os.Getpid())+"]: NEWID1: uid="+uid+" from=<user>\n") {
		t.Errorf("log:\n%s", text)
	}
}

func TestTemporaryFailureKeepsFile(t *testing.T) {
	p, f, logf := setup(t)
	f.status = 451
	drop(t, p.Queue, strconv.Itoa(os.Getuid()))
	p.Scan(context.Background())
	if n := maildropFiles(p.Queue); n != 1 {
		t.Fatalf("%d maildrop files", n)
	}
	text, _ := os.ReadFile(logf)
	if !strings.Contains(string(text), "will try again") {
		t.Errorf("log:\n%s", text)
	}
	f.status = 0
	p.Scan(context.Background())
	if n := maildropFiles(p.Queue); n != 0 || len(f.got) != 2 {
		t.Fatalf("%d maildrop files, %d submissions", n, len(f.got))
	}
}

func TestSuspiciousAndCorruptFilesGoToCorrupt(t *testing.T) {
	p, f, _ := setup(t)
	drop(t, p.Queue, strconv.Itoa(os.Getuid()+1)) // claims another uid
	drop(t, p.Queue, "")                          // no submit_uid
	id := drop(t, p.Queue, strconv.Itoa(os.Getuid()))
	path := p.Queue.Path(queue.Maildrop, id)
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o700)
	p.Scan(context.Background())
	if len(f.got) != 0 {
		t.Errorf("%d submissions", len(f.got))
	}
	if n := maildropFiles(p.Queue); n != 0 {
		t.Errorf("%d maildrop files left", n)
	}
	ents, _ := os.ReadDir(filepath.Join(p.Queue.Dir, queue.Corrupt))
	if len(ents) != 3 {
		t.Errorf("%d files in corrupt/", len(ents))
	}
}

func TestIncompleteFileIsSkipped(t *testing.T) {
	p, f, _ := setup(t)
	id := drop(t, p.Queue, strconv.Itoa(os.Getuid()))
	path := p.Queue.Path(queue.Maildrop, id)
	os.Chmod(path, 0o600) // owner-execute bit off: still being written
	p.Scan(context.Background())
	if len(f.got) != 0 || maildropFiles(p.Queue) != 1 {
		t.Errorf("incomplete file touched")
	}
}

func TestWakeMerges(t *testing.T) {
	p, f, _ := setup(t)
	drop(t, p.Queue, strconv.Itoa(os.Getuid()))
	p.Wake()
	p.Wake() // merged
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	for i := 0; i < 500 && maildropFiles(p.Queue) != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if len(f.got) != 1 {
		t.Errorf("%d submissions", len(f.got))
	}
}
