package cleanup

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/submit"
	pb "postern/proto"
)

// fakeRewrite appends "@example.test" to addresses without a domain, as
// trivial-rewrite's append_at_myorigin would, and counts its calls.
type fakeRewrite struct {
	pb.UnimplementedTrivialRewriteServer
	calls int
}

func (f *fakeRewrite) Rewrite(_ context.Context, r *pb.RewriteRequest) (*pb.RewriteReply, error) {
	f.calls++
	out := make([]string, len(r.Addresses))
	for i, a := range r.Addresses {
		if a != "" && !strings.Contains(a, "@") {
			a += "@example.test"
		}
		out[i] = a
	}
	return &pb.RewriteReply{Addresses: out}, nil
}

type rig struct {
	dir   string
	q     *queue.Queue
	srv   *Server
	conn  *grpc.ClientConn
	rw    *fakeRewrite
	woken int
	log   string
}

var arrival = time.Date(2026, 11, 21, 23, 20, 55, 0, time.UTC)

func newRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{dir: dir, q: queue.New(dir), rw: &fakeRewrite{}, log: filepath.Join(dir, "maillog")}
	if err := r.q.MakeDirs(0o700); err != nil {
		t.Fatal(err)
	}
	if err := log.Init(log.Options{Program: "cleanup", SyslogName: "postern", File: r.log, Hostname: "mx.example.test"}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pb.RegisterTrivialRewriteServer(g, r.rw)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	r.conn = conn
	r.srv = &Server{
		Queue:            r.q,
		Rewrite:          GRPCRewriter(pb.NewTrivialRewriteClient(conn)),
		WakeQmgr:         func() { r.woken++ },
		MyHostname:       "mx.example.test",
		MyOrigin:         "example.test",
		MailName:         "Postern",
		HeaderSizeLimit:  102400,
		HopcountLimit:    50,
		MessageSizeLimit: 10240000,
		DropHeaders:      map[string]bool{"bcc": true, "content-length": true, "resent-bcc": true, "return-path": true},
		Now:              func() time.Time { return arrival },
	}
	pb.RegisterCleanupServer(g, r.srv)
	go g.Serve(l)
	t.Cleanup(func() { conn.Close(); g.Stop() })
	return r
}

type sub struct {
	env     *pb.SubmitEnvelope
	rcpt    []string
	ext     []string
	content string
}

func (r *rig) submit(t *testing.T, s sub) (*pb.SubmitReply, string) {
	t.Helper()
	if s.env == nil {
		s.env = &pb.SubmitEnvelope{Sender: "sender@example.test", RewriteContext: "local"}
	}
	x, err := submit.Begin(context.Background(), r.conn, s.env)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s.rcpt {
		x.AddRecipients(&pb.Recipient{Address: a})
	}
	for _, a := range s.ext {
		x.AddExtracted(&pb.Recipient{Address: a})
	}
	io.WriteString(x, s.content)
	reply, err := x.End()
	if err != nil {
		t.Fatal(err)
	}
	return reply, x.QueueID()
}

// read returns the queue file's sender, recipients and content.
func (r *rig) read(t *testing.T, state, id string) (*queue.Envelope, []queue.Recipient, string) {
	t.Helper()
	f, err := queue.Open(r.q.Path(state, id))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env, err := f.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	var rs []queue.Recipient
	f.Recipients(func(x queue.Recipient) error { rs = append(rs, x); return nil })
	c, err := io.ReadAll(f.ContentReader())
	if err != nil {
		t.Fatal(err)
	}
	return env, rs, string(c)
}

func (r *rig) files(t *testing.T) []string {
	var out []string
	for _, st := range []string{"incoming", "hold", "maildrop"} {
		r.q.Scan(st, func(id, path string) error { out = append(out, st+"/"+id); return nil })
		ents, _ := os.ReadDir(filepath.Join(r.dir, st))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				out = append(out, st+"/"+e.Name())
			}
		}
	}
	return out
}

func TestLocalSubmissionGetsPostfixHeaders(t *testing.T) {
	r := newRig(t)
	env := &pb.SubmitEnvelope{Sender: "sender", FullName: "root", RewriteContext: "local", Origin: "pickup",
		Attrs: []*pb.Attr{{Name: "submit_uid", Value: "0"}}}
	reply, id := r.submit(t, sub{env: env, rcpt: []string{"a", "b@remote.test"},
		content: "Subject: test5 down\nTo: alsounq, x@y\nBcc: hidden\nReturn-Path: <bogus>\nX-Keep:  as is \n\nhello down\n"})
	if reply.Status != 0 || reply.Nrcpt != 2 || reply.QueueId != id {
		t.Fatalf("reply %v", reply)
	}
	e, rs, c := r.read(t, "incoming", id)
	if e.Sender != "sender@example.test" || e.SenderFullName != "root" || len(rs) != 2 ||
		rs[0].Address != "a@example.test" || rs[0].OrigAddress != "a" || rs[1].Address != "b@remote.test" {
		t.Fatalf("envelope %+v %+v", e, rs)
	}
	local := dateOf(arrival)
	want := "Received: by mx.example.test (Postern, from userid 0)\n\tid " + id + "; " + local + "\n" +
		"Subject: test5 down\n" +
		"To: alsounq@example.test, x@y\n" +
		"X-Keep:  as is \n" +
		"Message-Id: <20261121232055." + id + "@mx.example.test>\n" +
		"Date: " + local + "\n" +
		"From: root <sender@example.test>\n" +
		"\nhello down\n"
	if c != want {
		t.Errorf("content\n%s\nwant\n%s", c, want)
	}
	if r.woken != 1 {
		t.Errorf("qmgr woken %d times", r.woken)
	}
	logText, _ := os.ReadFile(r.log)
	if !regexp.MustCompile(`postern/cleanup\[\d+\]: ` + id + `: message-id=<20261121232055\.` + id + `@mx\.example\.test>`).Match(logText) {
		t.Errorf("log:\n%s", logText)
	}
}

// header formats a time as the added Date: and Received: do (local zone).
func dateOf(t time.Time) string {
	return t.Local().Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)")
}

func TestExistingHeadersAreKept(t *testing.T) {
	r := newRig(t)
	_, id := r.submit(t, sub{rcpt: []string{"a"}, content: "From: Sender One <s1>\nMessage-Id: <x@y>\nDate: whenever\n\nbody\n"})
	_, _, c := r.read(t, "incoming", id)
	if c != "From: Sender One <s1@example.test>\nMessage-Id: <x@y>\nDate: whenever\n\nbody\n" {
		t.Errorf("content %q", c)
	}
	logText, _ := os.ReadFile(r.log)
	if !strings.Contains(string(logText), id+": message-id=<x@y>") {
		t.Errorf("log %s", logText)
	}
}

func TestResentHeaders(t *testing.T) {
	r := newRig(t)
	_, id := r.submit(t, sub{rcpt: []string{"a"}, content: "From: a@b\nResent-To: c\n\nbody\n"})
	_, _, c := r.read(t, "incoming", id)
	want := "From: a@b\nResent-To: c@example.test\nResent-Message-Id: <20261121232055." + id + "@mx.example.test>\nResent-Date: " + dateOf(arrival) + "\nResent-From: sender@example.test\n\nbody\n"
	if c != want {
		t.Errorf("content %q\nwant %q", c, want)
	}
	logText, _ := os.ReadFile(r.log)
	if !strings.Contains(string(logText), id+": resent-message-id=<20261121232055."+id+"@mx.example.test>") ||
		!strings.Contains(string(logText), id+": message-id=<>") {
		t.Errorf("log %s", logText)
	}
}

func TestRemoteHeadersUntouched(t *testing.T) {
	r := newRig(t)
	env := &pb.SubmitEnvelope{Sender: "s@client.test", RewriteContext: "remote", Origin: "smtpd"}
	in := "Received: from x by y\nfrom: unq\nTo: bare\nBcc: dropped@x\n\nbody\n"
	_, id := r.submit(t, sub{env: env, rcpt: []string{"rcpt"}, content: in})
	e, rs, c := r.read(t, "incoming", id)
	if c != "Received: from x by y\nfrom: unq\nTo: bare\n\nbody\n" {
		t.Errorf("content %q", c)
	}
	if e.RewriteContext != "remote" || rs[0].Address != "rcpt@example.test" {
		t.Errorf("envelope %+v %+v", e, rs)
	}
}

func TestNoHeadersAndEmptyMessage(t *testing.T) {
	r := newRig(t)
	_, id := r.submit(t, sub{rcpt: []string{"a"}, content: "just text\nmore\n"})
	_, _, c := r.read(t, "incoming", id)
	want := "Message-Id: <20261121232055." + id + "@mx.example.test>\nDate: " + dateOf(arrival) + "\nFrom: sender@example.test\n\njust text\nmore\n"
	if c != want {
		t.Errorf("no headers: %q", c)
	}
	_, id = r.submit(t, sub{rcpt: []string{"a"}, content: ""})
	_, _, c = r.read(t, "incoming", id)
	want = "Message-Id: <20261121232055." + id + "@mx.example.test>\nDate: " + dateOf(arrival) + "\nFrom: sender@example.test\n"
	if c != want {
		t.Errorf("empty: %q", c)
	}
	// The null sender's From: is MAILER-DAEMON.
	_, id = r.submit(t, sub{env: &pb.SubmitEnvelope{}, rcpt: []string{"a"}, content: "Subject: x\n"})
	_, _, c = r.read(t, "incoming", id)
	if !strings.Contains(c, "\nFrom: MAILER-DAEMON\n") || strings.HasSuffix(c, "\n\n") {
		t.Errorf("null sender: %q", c)
	}
}

func TestDuplicatesPerOriginalRecipient(t *testing.T) {
	r := newRig(t)
	env := &pb.SubmitEnvelope{Sender: "s"}
	x, err := submit.Begin(context.Background(), r.conn, env)
	if err != nil {
		t.Fatal(err)
	}
	x.AddRecipients(
		&pb.Recipient{Address: "a"},
		&pb.Recipient{Address: "a@example.test"},                   // other original: kept
		&pb.Recipient{Address: "a"},                                // same: dropped
		&pb.Recipient{Address: "a", Notify: 2},                     // other NOTIFY: kept
		&pb.Recipient{Address: "b", Original: "list@example.test"}, // original given
		&pb.Recipient{Address: "b", Original: "list@example.test"}, // dropped
	)
	x.AddExtracted(&pb.Recipient{Address: "a"}) // same key as the first: dropped
	io.WriteString(x, "Subject: dup\n\n")
	reply, err := x.End()
	if err != nil || reply.Status != 0 || reply.Nrcpt != 4 {
		t.Fatalf("%v %v", reply, err)
	}
	_, rs, _ := r.read(t, "incoming", x.QueueID())
	var got []string
	for _, x := range rs {
		got = append(got, x.Address+"/"+x.OrigAddress)
	}
	if strings.Join(got, " ") != "a@example.test/a a@example.test/a@example.test a@example.test/a b@example.test/list@example.test" {
		t.Errorf("recipients %v", got)
	}
}

func TestExtractedAndLateRecipients(t *testing.T) {
	r := newRig(t)
	x, err := submit.Begin(context.Background(), r.conn, &pb.SubmitEnvelope{Sender: "s", Flags: uint32(pb.SubmitFlag_SUBMIT_FLAG_EXTRACTED)})
	if err != nil {
		t.Fatal(err)
	}
	x.AddExtracted(&pb.Recipient{Address: "t1"})
	io.WriteString(x, "To: t1\n\nbody\n")
	reply, err := x.End()
	if err != nil || reply.Status != 0 || reply.Nrcpt != 1 {
		t.Fatalf("%v %v", reply, err)
	}
	_, rs, _ := r.read(t, "incoming", x.QueueID())
	if len(rs) != 1 || !rs[0].Extracted || rs[0].Address != "t1@example.test" {
		t.Errorf("%+v", rs)
	}
}

func TestSizeLimit(t *testing.T) {
	r := newRig(t)
	r.srv.MessageSizeLimit = 1000
	x, err := submit.Begin(context.Background(), r.conn, &pb.SubmitEnvelope{Sender: "s"})
	if err != nil {
		t.Fatal(err)
	}
	x.AddRecipients(&pb.Recipient{Address: "a"})
	io.WriteString(x, "Subject: big\n\n"+strings.Repeat("x", 2000)+"\n")
	reply, err := x.End()
	if err != nil || reply.Status != 552 || reply.Dsn != "5.3.4" || reply.Text != "Message size exceeds fixed limit" {
		t.Fatalf("%v %v", reply, err)
	}
	if f := r.files(t); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
	// A large message is refused while it streams.
	x, err = submit.Begin(context.Background(), r.conn, &pb.SubmitEnvelope{Sender: "s"})
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("y"), 65536)
	var werr error
	for i := 0; i < 10000 && werr == nil; i++ {
		_, werr = x.Write(chunk)
	}
	if werr == nil {
		t.Fatal("writes never failed")
	}
	if reply, _ := x.End(); reply == nil || reply.Status != 552 {
		t.Fatalf("%v", reply)
	}
	if f := r.files(t); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
}

func TestHoldDiscardAndNoRecipients(t *testing.T) {
	r := newRig(t)
	reply, id := r.submit(t, sub{env: &pb.SubmitEnvelope{Sender: "s", Flags: uint32(pb.SubmitFlag_SUBMIT_FLAG_HOLD)}, rcpt: []string{"a"}, content: "Subject: h\n\n"})
	if reply.Status != 0 {
		t.Fatal(reply)
	}
	if _, _, err := r.q.Find(id, "hold"); err != nil {
		t.Errorf("not in hold: %v (%v)", err, r.files(t))
	}
	if r.woken != 0 {
		t.Error("qmgr woken for a held message")
	}
	reply, id = r.submit(t, sub{env: &pb.SubmitEnvelope{Sender: "s", Flags: uint32(pb.SubmitFlag_SUBMIT_FLAG_DISCARD)}, rcpt: []string{"a"}, content: "Subject: d\n\n"})
	if reply.Status != 0 || id == "" {
		t.Fatal(reply)
	}
	if f := r.files(t); len(f) != 1 {
		t.Errorf("files: %v", f)
	}
	reply, _ = r.submit(t, sub{content: "Subject: nobody\n\n"})
	if reply.Status != 550 || reply.Dsn != "5.1.0" {
		t.Errorf("no recipients: %v", reply)
	}
	if f := r.files(t); len(f) != 1 {
		t.Errorf("files: %v", f)
	}
}

func TestHopcountLimit(t *testing.T) {
	r := newRig(t)
	r.srv.HopcountLimit = 3
	reply, _ := r.submit(t, sub{rcpt: []string{"a"}, content: strings.Repeat("Received: x\n", 3) + "\nloop\n"})
	if reply.Status != 554 || reply.Dsn != "5.4.6" {
		t.Errorf("reply %v", reply)
	}
	if f := r.files(t); len(f) != 0 {
		t.Errorf("files: %v", f)
	}
	reply, _ = r.submit(t, sub{rcpt: []string{"a"}, content: strings.Repeat("Received: x\n", 2) + "\nok\n"})
	if reply.Status != 0 {
		t.Errorf("reply %v", reply)
	}
}

func TestAbortAndProtocolErrors(t *testing.T) {
	r := newRig(t)
	x, err := submit.Begin(context.Background(), r.conn, &pb.SubmitEnvelope{Sender: "s"})
	if err != nil {
		t.Fatal(err)
	}
	x.AddRecipients(&pb.Recipient{Address: "a"})
	io.WriteString(x, strings.Repeat("Subject: x\n", 10000))
	x.Abort()
	// A call without an envelope.
	st, err := pb.NewCleanupClient(r.conn).Submit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&pb.SubmitRequest{Content: []byte("x")})
	rep, err := st.Recv()
	if err != nil || rep.Status != 451 || !rep.Final {
		t.Errorf("%v %v", rep, err)
	}
	// A client that goes away in the middle.
	ctx, cancel := context.WithCancel(context.Background())
	x, err = submit.Begin(ctx, r.conn, &pb.SubmitEnvelope{Sender: "s"})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(x, strings.Repeat("y", 200000))
	cancel()
	x.End()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.files(t)) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f := r.files(t); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
}

func TestRewriteCallsAreBatched(t *testing.T) {
	r := newRig(t)
	r.submit(t, sub{rcpt: []string{"a", "b", "c"}, content: "From: sender@example.test\nTo: a, b\n\nx\n"})
	// One call for the sender, one for the recipients; From: and To: hold
	// addresses the message has rewritten already.
	if r.rw.calls != 2 {
		t.Errorf("%d rewrite calls", r.rw.calls)
	}
}
