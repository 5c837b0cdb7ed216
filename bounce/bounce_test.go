package bounce

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/config"
	"postern/pkg/queue"
	"postern/pkg/rpc"
	pb "postern/proto"
)

// submitted is one message the fake cleanup received.
type submitted struct {
	env     *pb.SubmitEnvelope
	rcpts   []*pb.Recipient
	content []byte
	id      string
}

// fakeCleanup records what it receives.
type fakeCleanup struct {
	pb.UnimplementedCleanupServer
	mu     sync.Mutex
	n      int
	msgs   []*submitted
	reject bool
}

func (f *fakeCleanup) Submit(stream grpc.BidiStreamingServer[pb.SubmitRequest, pb.SubmitReply]) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.n++
	id := fmt.Sprintf("NEW%d", f.n)
	reject := f.reject
	f.mu.Unlock()
	m := &submitted{env: req.Envelope, id: id}
	if err := stream.Send(&pb.SubmitReply{QueueId: id}); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if req.Abort {
			return nil
		}
		m.rcpts = append(m.rcpts, req.Recipients...)
		m.content = append(m.content, req.Content...)
		if req.End {
			break
		}
	}
	if reject {
		return stream.Send(&pb.SubmitReply{QueueId: id, Final: true, Status: 451, Dsn: "4.3.0", Text: "try later"})
	}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	return stream.Send(&pb.SubmitReply{QueueId: id, Final: true, Nrcpt: uint32(len(m.rcpts))})
}

func (f *fakeCleanup) messages() []*submitted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*submitted(nil), f.msgs...)
}

type env struct {
	dir     string
	q       *queue.Queue
	srv     *server
	client  pb.BounceClient
	cleanup *fakeCleanup
	mu      sync.Mutex
	logs    []string
}

func (e *env) logged() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.logs, "\n")
}

func serve(t *testing.T, path string, register func(*grpc.Server)) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	register(g)
	go g.Serve(ln)
	t.Cleanup(g.Stop)
}

// newEnv starts the bounce server on a temp queue directory's
// private/bounce, with a fake cleanup on private/cleanup. params are
// main.cf settings.
func newEnv(t *testing.T, params ...string) *env {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"private", "bounce"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c := config.New()
	c.Set("myhostname", "mx.pfref.test")
	c.Set("myorigin", "pfref.test")
	for i := 0; i+1 < len(params); i += 2 {
		c.Set(params[i], params[i+1])
	}
	srv, err := newServer(c, dir, "bounce")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, q: queue.New(dir), srv: srv, cleanup: &fakeCleanup{}}
	if err := e.q.MakeDirs(0o700); err != nil {
		t.Fatal(err)
	}
	srv.now = func() time.Time { return time.Unix(1795303736, 0).UTC() }
	srv.info = func(qid, format string, a ...any) {
		e.mu.Lock()
		e.logs = append(e.logs, qid+": "+fmt.Sprintf(format, a...))
		e.mu.Unlock()
	}
	srv.warn = func(qid, format string, a ...any) {
		e.mu.Lock()
		e.logs = append(e.logs, qid+": warning: "+fmt.Sprintf(format, a...))
		e.mu.Unlock()
	}
	serve(t, filepath.Join(dir, "private", "cleanup"), func(g *grpc.Server) { pb.RegisterCleanupServer(g, e.cleanup) })
	serve(t, filepath.Join(dir, "private", "bounce"), func(g *grpc.Server) { pb.RegisterBounceServer(g, srv) })
	conn, err := rpc.Private(dir, "bounce")
	if err != nil {
		t.Fatal(err)
	}
	e.client = pb.NewBounceClient(conn)
	return e
}

const body = "From: PFB <pfb@pfref.test>\nTo: rej1@remote.test\nSubject: bounce test\nMessage-ID: <t1@pfref.test>\n\nHello, this is the original body.\n"

// queueMessage writes a message into active/ and returns its ID.
func (e *env) queueMessage(t *testing.T, sender string, rcpts ...queue.Recipient) string {
	t.Helper()
	w, err := e.q.Create("incoming")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetEnvelope(&queue.Envelope{Sender: sender, Encoding: "8bit", RewriteContext: "remote"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		if err := w.AddRecipient(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.Move(w.ID(), "incoming", "active"); err != nil {
		t.Fatal(err)
	}
	return w.ID()
}

func rejected(addr string) *pb.StatusRecord {
	return &pb.StatusRecord{
		Address: addr, Original: addr, Orcpt: "rfc822;" + addr,
		Action: "failed", Dsn: "5.1.1",
		Text:     "host mx.remote.test[192.0.2.1] said: 550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown (in reply to RCPT TO command)",
		DiagType: "smtp", DiagText: "550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown",
		Relay: "mx.remote.test[192.0.2.1]:25",
	}
}

func (e *env) appendRecs(t *testing.T, qid string, recs ...*pb.StatusRecord) {
	t.Helper()
	r, err := e.client.Append(context.Background(), &pb.AppendRequest{QueueId: qid, Records: recs})
	if err != nil || r.Status != 0 {
		t.Fatalf("Append: %v %v", r, err)
	}
}

func (e *env) flush(t *testing.T, qid string) *pb.BounceReply {
	t.Helper()
	r, err := e.client.Flush(context.Background(), &pb.NotifyRequest{QueueId: qid, QueueName: "active"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// parseReport parses a notification and returns its header, and the
// three MIME parts.
func parseReport(t *testing.T, content []byte) (mail.Header, []string, []string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(content))
	if err != nil {
		t.Fatalf("report does not parse: %v\n%s", err, content)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types, parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part: %v\n%s", err, content)
		}
		b, _ := io.ReadAll(p)
		types = append(types, p.Header.Get("Content-Type"))
		parts = append(parts, string(b))
	}
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 3\n%s", len(parts), content)
	}
	return m.Header, types, parts
}

func TestAppendThenFlushSendsOneNonDeliveryReportToTheSender(t *testing.T) {
	e := newEnv(t)
	qid := e.queueMessage(t, "pfb@pfref.test",
		queue.Recipient{Address: "rej1@remote.test"}, queue.Recipient{Address: "rej2@remote.test"},
		queue.Recipient{Address: "ok@remote.test"})
	e.appendRecs(t, qid, rejected("rej1@remote.test"))
	e.appendRecs(t, qid, rejected("rej2@remote.test"))
	if _, err := os.Stat(filepath.Join(e.dir, "bounce", qid)); err != nil {
		t.Fatalf("no log after Append: %v", err)
	}
	r := e.flush(t, qid)
	if r.Status != 0 || r.QueueId != "NEW1" {
		t.Fatalf("Flush = %v", r)
	}
	msgs := e.cleanup.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages submitted, want 1", len(msgs))
	}
	m := msgs[0]
	if m.env.Sender != "" || m.env.Origin != "bounce" || m.env.RewriteContext != "local" ||
		m.env.Flags&uint32(pb.SubmitFlag_SUBMIT_FLAG_NOTIFY) == 0 {
		t.Errorf("envelope %v", m.env)
	}
	if len(m.rcpts) != 1 || m.rcpts[0].Address != "pfb@pfref.test" {
		t.Errorf("recipients %v", m.rcpts)
	}
	h, types, parts := parseReport(t, m.content)
	if h.Get("Subject") != "Undelivered Mail Returned to Sender" || h.Get("To") != "pfb@pfref.test" ||
		h.Get("Message-Id") != "<20261121232856.NEW1@mx.pfref.test>" {
		t.Errorf("header %v", h)
	}
	if !strings.Contains(parts[0], "<rej1@remote.test>: host mx.remote.test[192.0.2.1] said: 550 5.1.1") ||
		!strings.Contains(parts[0], "<rej2@remote.test>:") {
		t.Errorf("text part:\n%s", parts[0])
	}
	for _, want := range []string{
		"Reporting-MTA: dns; mx.pfref.test\n", "X-Postfix-Queue-ID: " + qid + "\n",
		"X-Postfix-Sender: rfc822; pfb@pfref.test\n",
		"Final-Recipient: rfc822; rej1@remote.test\nOriginal-Recipient: rfc822;rej1@remote.test\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.remote.test\nDiagnostic-Code: smtp; 550 5.1.1",
		"Final-Recipient: rfc822; rej2@remote.test\n",
	} {
		if !strings.Contains(parts[1], want) {
			t.Errorf("delivery-status part lacks %q:\n%s", want, parts[1])
		}
	}
	if strings.Contains(parts[1], "ok@remote.test") {
		t.Error("a recipient that did not fail is in the report")
	}
	if types[2] != "message/rfc822" || !strings.HasPrefix(parts[2], "Return-Path: <pfb@pfref.test>\n"+body) {
		t.Errorf("returned message %q:\n%s", types[2], parts[2])
	}
	if _, err := os.Stat(filepath.Join(e.dir, "bounce", qid)); !os.IsNotExist(err) {
		t.Errorf("log still there after Flush: %v", err)
	}
	if want := qid + ": sender non-delivery notification: NEW1"; !strings.Contains(e.logged(), want) {
		t.Errorf("log lacks %q:\n%s", want, e.logged())
	}
}

func TestFlushWithoutLogSendsNothing(t *testing.T) {
	e := newEnv(t)
	qid := e.queueMessage(t, "pfb@pfref.test", queue.Recipient{Address: "a@remote.test"})
	if r := e.flush(t, qid); r.Status != 0 || r.QueueId != "" {
		t.Errorf("Flush = %v", r)
	}
	if n := len(e.cleanup.messages()); n != 0 {
		t.Errorf("%d messages sent", n)
	}
}

func TestBounceOfNullSenderMailIsDroppedByDefault(t *testing.T) {
	e := newEnv(t)
	qid := e.queueMessage(t, "", queue.Recipient{Address: "rej1@remote.test"})
	e.appendRecs(t, qid, rejected("rej1@remote.test"))
	if r := e.flush(t, qid); r.Status != 0 {
		t.Errorf("Flush = %v", r)
	}
	if n := len(e.cleanup.messages()); n != 0 {
		t.Errorf("%d messages sent for a null-sender original", n)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "bounce", qid)); !os.IsNotExist(err) {
		t.Errorf("log still there: %v", err)
	}
}

func TestDoubleBounceGoesToPostmasterWith2bounce(t *testing.T) {
	e := newEnv(t, "notify_classes", "resource, software, 2bounce")
	qid := e.queueMessage(t, "", queue.Recipient{Address: "rej1@remote.test"})
	e.appendRecs(t, qid, rejected("rej1@remote.test"))
	if r := e.flush(t, qid); r.Status != 0 {
		t.Fatalf("Flush = %v", r)
	}
	msgs := e.cleanup.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.env.Sender != "double-bounce@mx.pfref.test" || m.rcpts[0].Address != "postmaster" {
		t.Errorf("envelope %v -> %v", m.env.Sender, m.rcpts)
	}
	h, types, parts := parseReport(t, m.content)
	if h.Get("Subject") != "Postmaster Copy: Undelivered Mail" || h.Get("Auto-Submitted") != "auto-generated" ||
		h.Get("To") != "postmaster@pfref.test" {
		t.Errorf("header %v", h)
	}
	if strings.Contains(parts[0], "I'm sorry") {
		t.Error("postmaster copy has the template text")
	}
	if !strings.Contains(parts[1], "X-Postfix-Sender: rfc822; MAILER-DAEMON@mx.pfref.test\n") {
		t.Errorf("sender field:\n%s", parts[1])
	}
	if types[2] != "message/rfc822" {
		t.Errorf("double bounce returns %s, want the full message", types[2])
	}
	if !strings.Contains(e.logged(), qid+": postmaster non-delivery notification: NEW1") {
		t.Errorf("log:\n%s", e.logged())
	}
}

func TestFailedDoubleBounceIsDiscarded(t *testing.T) {
	e := newEnv(t, "notify_classes", "2bounce")
	qid := e.queueMessage(t, "double-bounce@mx.pfref.test", queue.Recipient{Address: "postmaster@pfref.test"})
	e.appendRecs(t, qid, rejected("postmaster@pfref.test"))
	if r := e.flush(t, qid); r.Status != 0 {
		t.Fatalf("Flush = %v", r)
	}
	if n := len(e.cleanup.messages()); n != 0 {
		t.Errorf("%d messages sent", n)
	}
	if !strings.Contains(e.logged(), qid+": warning: undeliverable postmaster notification discarded") {
		t.Errorf("log:\n%s", e.logged())
	}
}

func TestPostmasterGetsHeadersOnlyCopyWithNotifyClassBounce(t *testing.T) {
	e := newEnv(t, "notify_classes", "bounce")
	qid := e.queueMessage(t, "pfb@pfref.test", queue.Recipient{Address: "rej1@remote.test"})
	e.appendRecs(t, qid, rejected("rej1@remote.test"))
	if r := e.flush(t, qid); r.Status != 0 || r.QueueId != "NEW1" {
		t.Fatalf("Flush = %v", r)
	}
	msgs := e.cleanup.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want sender's and postmaster's", len(msgs))
	}
	pm := msgs[1]
	if pm.rcpts[0].Address != "postmaster" || pm.env.Sender != "double-bounce@mx.pfref.test" {
		t.Errorf("postmaster copy envelope %v %v", pm.env, pm.rcpts)
	}
	_, types, parts := parseReport(t, pm.content)
	if types[2] != "text/rfc822-headers" || strings.Contains(parts[2], "original body") {
		t.Errorf("postmaster copy returns %s:\n%s", types[2], parts[2])
	}
}

func TestNotifyNeverSuppressesReport(t *testing.T) {
	e := newEnv(t)
	qid := e.queueMessage(t, "pfb@pfref.test", queue.Recipient{Address: "rej1@remote.test"})
	rec := rejected("rej1@remote.test")
	rec.Notify = 1 // NEVER
	e.appendRecs(t, qid, rec)
	if r := e.flush(t, qid); r.Status != 0 || r.QueueId != "" {
		t.Errorf("Flush = %v", r)
	}
	if n := len(e.cleanup.messages()); n != 0 {
		t.Errorf("%d messages sent despite NOTIFY=NEVER", n)
	}
}

func TestCleanupFailureKeepsLogForRetry(t *testing.T) {
	e := newEnv(t)
	e.cleanup.reject = true
	qid := e.queueMessage(t, "pfb@pfref.test", queue.Recipient{Address: "rej1@remote.test"})
	e.appendRecs(t, qid, rejected("rej1@remote.test"))
	if r := e.flush(t, qid); r.Status == 0 {
		t.Errorf("Flush succeeded although cleanup refused: %v", r)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "bounce", qid)); err != nil {
		t.Errorf("log gone after a failed Flush: %v", err)
	}
	e.cleanup.mu.Lock()
	e.cleanup.reject = false
	e.cleanup.mu.Unlock()
	if r := e.flush(t, qid); r.Status != 0 || r.QueueId == "" {
		t.Errorf("retry: %v", r)
	}
}

func TestTornLogTailIsIgnored(t *testing.T) {
	e := newEnv(t)
	qid := e.queueMessage(t, "pfb@pfref.test", queue.Recipient{Address: "rej1@remote.test"}, queue.Recipient{Address: "rej2@remote.test"})
	e.appendRecs(t, qid, rejected("rej1@remote.test"))
	// A crash in the middle of the next write.
	line, _ := encodeRecord(&Record{Address: "torn@remote.test", Action: "failed", Status: "5.1.1"})
	f, err := os.OpenFile(filepath.Join(e.dir, "bounce", qid), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(line[:len(line)/2])
	f.Close()
	// A later Append is not spoilt by the torn record.
	e.appendRecs(t, qid, rejected("rej2@remote.test"))
	if r := e.flush(t, qid); r.Status != 0 {
		t.Fatalf("Flush = %v", r)
	}
	msgs := e.cleanup.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	_, _, parts := parseReport(t, msgs[0].content)
	if strings.Contains(parts[1], "torn@") || !strings.Contains(parts[1], "rej1@") || !strings.Contains(parts[1], "rej2@") {
		t.Errorf("report:\n%s", parts[1])
	}
}

func TestWarnSendsDelayNotice(t *testing.T) {
	e := newEnv(t, "delay_warning_time", "4h")
	qid := e.queueMessage(t, "pfb@pfref.test",
		queue.Recipient{Address: "tmp1@remote.test"}, queue.Recipient{Address: "done@remote.test"},
		queue.Recipient{Address: "quiet@remote.test", Notify: queue.NotifyFailure})
	qf, err := queue.OpenRW(e.q.Path("active", qid))
	if err != nil {
		t.Fatal(err)
	}
	if err := qf.MarkDone(1); err != nil {
		t.Fatal(err)
	}
	if err := qf.SetDelayReason([]int{0, 2}, "host mx.remote.test[192.0.2.1] said: 451 4.2.0 <tmp1@remote.test>: Greylisted (in reply to RCPT TO command)"); err != nil {
		t.Fatal(err)
	}
	qf.Close()
	r, err := e.client.Warn(context.Background(), &pb.NotifyRequest{QueueId: qid, QueueName: "active"})
	if err != nil || r.Status != 0 || r.QueueId != "NEW1" {
		t.Fatalf("Warn = %v, %v", r, err)
	}
	msgs := e.cleanup.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	h, types, parts := parseReport(t, msgs[0].content)
	if h.Get("Subject") != "Delayed Mail (still being retried)" {
		t.Errorf("Subject %q", h.Get("Subject"))
	}
	if !strings.Contains(parts[0], "for more than 4 hour(s).\nIt will be retried until it is 5 day(s) old.") {
		t.Errorf("text:\n%s", parts[0])
	}
	for _, want := range []string{
		"Final-Recipient: rfc822; tmp1@remote.test\n", "Action: delayed\nStatus: 4.2.0\nRemote-MTA: dns; mx.remote.test\nDiagnostic-Code: smtp; 451 4.2.0",
		"Will-Retry-Until: ",
	} {
		if !strings.Contains(parts[1], want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, parts[1])
		}
	}
	if strings.Contains(parts[1], "done@") || strings.Contains(parts[1], "quiet@") {
		t.Errorf("done or NOTIFY=FAILURE recipient reported:\n%s", parts[1])
	}
	if types[2] != "text/rfc822-headers" {
		t.Errorf("delay notice returns %s", types[2])
	}
	if !strings.Contains(e.logged(), qid+": sender delay notification: NEW1") {
		t.Errorf("log:\n%s", e.logged())
	}
}

func TestSuccessNoticeForNotifySuccess(t *testing.T) {
	e := newEnv(t)
	qid := e.queueMessage(t, "pfb@pfref.test", queue.Recipient{Address: "pfa@pfref.test", Notify: queue.NotifySuccess})
	e.appendRecs(t, qid, &pb.StatusRecord{
		Address: "pfa@pfref.test", Notify: 2, Action: "delivered", Dsn: "2.0.0",
		Text: "delivery via local: delivered to mailbox", Relay: "local",
	}, &pb.StatusRecord{
		Address: "plain@pfref.test", Action: "delivered", Dsn: "2.0.0", Text: "delivered to mailbox",
	})
	if r := e.flush(t, qid); r.Status != 0 || r.QueueId != "NEW1" {
		t.Fatalf("Flush = %v", r)
	}
	msgs := e.cleanup.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	h, types, parts := parseReport(t, msgs[0].content)
	if h.Get("Subject") != "Successful Mail Delivery Report" || types[2] != "text/rfc822-headers" {
		t.Errorf("Subject %q, part 3 %s", h.Get("Subject"), types[2])
	}
	if !strings.Contains(parts[1], "Action: delivered\nStatus: 2.0.0\nDiagnostic-Code: X-Postfix; delivery via local: delivered to mailbox") ||
		strings.Contains(parts[1], "plain@") {
		t.Errorf("delivery-status:\n%s", parts[1])
	}
	if !strings.Contains(e.logged(), qid+": sender delivery status notification: NEW1") {
		t.Errorf("log:\n%s", e.logged())
	}
}

func TestConcurrentAppendsKeepEveryRecord(t *testing.T) {
	e := newEnv(t)
	qid := "1A2B3C4D5E"
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			e.client.Append(context.Background(), &pb.AppendRequest{QueueId: qid, Records: []*pb.StatusRecord{
				{Index: uint32(i), Address: fmt.Sprintf("r%d@x", i), Action: "failed", Dsn: "5.0.0"},
			}})
		}(i)
	}
	wg.Wait()
	f, err := os.Open(filepath.Join(e.dir, "bounce", qid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadLog(f, func(n int, err error) { t.Errorf("line %d: %v", n, err) })
	if err != nil || len(recs) != 20 {
		t.Errorf("%d records, %v", len(recs), err)
	}
}

func TestBadRequestsAreRefused(t *testing.T) {
	e := newEnv(t)
	r, err := e.client.Append(context.Background(), &pb.AppendRequest{QueueId: "../etc/passwd", Records: []*pb.StatusRecord{{Address: "a"}}})
	if err != nil || r.Status == 0 {
		t.Errorf("Append with a path as queue ID: %v %v", r, err)
	}
	r, err = e.client.Flush(context.Background(), &pb.NotifyRequest{QueueId: "ABC", QueueName: "../x"})
	if err != nil || r.Status != 0 {
		// no log: nothing to do, the queue name is not even looked at
		t.Errorf("Flush: %v %v", r, err)
	}
	e.appendRecs(t, "ABC", rejected("a@b"))
	r, err = e.client.Flush(context.Background(), &pb.NotifyRequest{QueueId: "ABC", QueueName: "../x"})
	if err != nil || r.Status == 0 {
		t.Errorf("Flush with a path as queue name: %v %v", r, err)
	}
}
