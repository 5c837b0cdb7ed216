package submit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "postern/proto"
)

// fakeCleanup collects one submission; it rejects with 552 once more than
// limit content bytes arrived (limit 0: no limit).
type fakeCleanup struct {
	pb.UnimplementedCleanupServer
	limit   int
	got     chan *fakeMsg
	rejectE bool // reject right after the envelope
}

type fakeMsg struct {
	env       *pb.SubmitEnvelope
	rcpt, ext []string
	content   bytes.Buffer
	aborted   bool
	requests  int
}

func (f *fakeCleanup) Submit(st grpc.BidiStreamingServer[pb.SubmitRequest, pb.SubmitReply]) error {
	m := &fakeMsg{}
	defer func() { f.got <- m }()
	req, err := st.Recv()
	if err != nil {
		return err
	}
	m.env = req.Envelope
	if f.rejectE {
		return st.Send(&pb.SubmitReply{Status: 451, Dsn: "4.3.0", Text: "queue file write error", Final: true})
	}
	if err := st.Send(&pb.SubmitReply{QueueId: "ABC123"}); err != nil {
		return err
	}
	for {
		req, err := st.Recv()
		if err != nil {
			return err
		}
		m.requests++
		for _, r := range req.Recipients {
			m.rcpt = append(m.rcpt, r.Address)
		}
		for _, r := range req.Extracted {
			m.ext = append(m.ext, r.Address)
		}
		m.content.Write(req.Content)
		if f.limit > 0 && m.content.Len() > f.limit {
			return st.Send(&pb.SubmitReply{QueueId: "ABC123", Status: 552, Dsn: "5.3.4", Text: "Message size exceeds fixed limit", Final: true})
		}
		if req.Abort {
			m.aborted = true
			return nil
		}
		if req.End {
			return st.Send(&pb.SubmitReply{QueueId: "ABC123", Final: true, Nrcpt: uint32(len(m.rcpt) + len(m.ext))})
		}
	}
}

func serve(t *testing.T, f *fakeCleanup) *grpc.ClientConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cleanup")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pb.RegisterCleanupServer(g, f)
	go g.Serve(l)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestSmallMessageIsTwoRequests(t *testing.T) {
	f := &fakeCleanup{got: make(chan *fakeMsg, 1)}
	conn := serve(t, f)
	s, err := Begin(context.Background(), conn, &pb.SubmitEnvelope{Sender: "a@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if s.QueueID() != "ABC123" {
		t.Fatalf("queue ID %q", s.QueueID())
	}
	s.AddRecipients(&pb.Recipient{Address: "b@example.test"}, &pb.Recipient{Address: "c@example.test"})
	s.AddExtracted(&pb.Recipient{Address: "d@example.test"})
	io.WriteString(s, "Subject: x\n\nbody\n")
	r, err := s.End()
	if err != nil || r.Status != 0 || r.Nrcpt != 3 {
		t.Fatalf("End: %v %v", r, err)
	}
	m := <-f.got
	if m.env.Sender != "a@example.test" || m.requests != 1 || m.content.String() != "Subject: x\n\nbody\n" ||
		strings.Join(m.rcpt, ",") != "b@example.test,c@example.test" || strings.Join(m.ext, ",") != "d@example.test" {
		t.Fatalf("server got %+v", m)
	}
	if _, err := s.End(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second End: %v", err)
	}
}

func TestLargeMessageIsChunked(t *testing.T) {
	f := &fakeCleanup{got: make(chan *fakeMsg, 1)}
	conn := serve(t, f)
	s, err := Begin(context.Background(), conn, &pb.SubmitEnvelope{})
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef\n"), 20000) // 340 KB
	if _, err := s.Write(body); err != nil {
		t.Fatal(err)
	}
	if r, err := s.End(); err != nil || r.Status != 0 {
		t.Fatalf("End: %v %v", r, err)
	}
	m := <-f.got
	if !bytes.Equal(m.content.Bytes(), body) || m.requests < 5 {
		t.Fatalf("content %d bytes in %d requests", m.content.Len(), m.requests)
	}
}

func TestRejectionStopsWrites(t *testing.T) {
	f := &fakeCleanup{got: make(chan *fakeMsg, 1), limit: 100000}
	conn := serve(t, f)
	s, err := Begin(context.Background(), conn, &pb.SubmitEnvelope{})
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 4096)
	var werr error
	for i := 0; i < 100000 && werr == nil; i++ { // at most 400 MB: stops long before
		_, werr = s.Write(chunk)
	}
	var rej *RejectedError
	if !errors.As(werr, &rej) || rej.Reply.Status != 552 {
		t.Fatalf("Write error %v", werr)
	}
	r, err := s.End()
	if err != nil || r.Status != 552 || r.Dsn != "5.3.4" {
		t.Fatalf("End: %v %v", r, err)
	}
}

func TestRejectAtBegin(t *testing.T) {
	f := &fakeCleanup{got: make(chan *fakeMsg, 1), rejectE: true}
	conn := serve(t, f)
	_, err := Begin(context.Background(), conn, &pb.SubmitEnvelope{})
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Reply.Status != 451 {
		t.Fatalf("Begin: %v", err)
	}
}

func TestAbort(t *testing.T) {
	f := &fakeCleanup{got: make(chan *fakeMsg, 1)}
	conn := serve(t, f)
	s, err := Begin(context.Background(), conn, &pb.SubmitEnvelope{})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(s, "x\n")
	s.Abort()
	s.Abort()
	<-f.got // the server saw the end of the call (abort or cancel)
	if _, err := s.Write([]byte("y")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Abort: %v", err)
	}
}
