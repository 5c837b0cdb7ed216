package smtpd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/policy"
	"postern/pkg/rpc"
	pb "postern/proto"
)

// fakeCleanup is a Cleanup gRPC server that records what it gets.
type fakeCleanup struct {
	pb.UnimplementedCleanupServer
	mu     sync.Mutex
	n      int
	msgs   []*fakeMsg
	reject *pb.SubmitReply // final reply instead of success
}

type fakeMsg struct {
	env     *pb.SubmitEnvelope
	rcpts   []*pb.Recipient
	content strings.Builder
	ended   bool
	aborted bool
	queueID string
}

func (f *fakeCleanup) Submit(st grpc.BidiStreamingServer[pb.SubmitRequest, pb.SubmitReply]) error {
	req, err := st.Recv()
	if err != nil || req.Envelope == nil {
		return err
	}
	f.mu.Lock()
	f.n++
	m := &fakeMsg{env: req.Envelope, queueID: fmt.Sprintf("4A%03X", f.n)}
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	if err := st.Send(&pb.SubmitReply{QueueId: m.queueID}); err != nil {
		return err
	}
	for {
		req, err := st.Recv()
		if err != nil {
			f.mu.Lock()
			m.aborted = true
			f.mu.Unlock()
			return nil
		}
		f.mu.Lock()
		m.rcpts = append(m.rcpts, req.Recipients...)
		m.content.Write(req.Content)
		if req.Abort {
			m.aborted = true
			f.mu.Unlock()
			return nil
		}
		if req.End {
			m.ended = true
			rej := f.reject
			f.mu.Unlock()
			if rej != nil {
				rej.Final = true
				return st.Send(rej)
			}
			return st.Send(&pb.SubmitReply{QueueId: m.queueID, Final: true, Nrcpt: uint32(len(m.rcpts))})
		}
		f.mu.Unlock()
	}
}

// queued returns the messages that were committed.
func (f *fakeCleanup) queued() []*fakeMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fakeMsg
	for _, m := range f.msgs {
		if m.ended && !m.aborted {
			out = append(out, m)
		}
	}
	return out
}

type harness struct {
	t       testing.TB
	dir     string
	srv     *Server
	cleanup *fakeCleanup
	addr    string
	logPath string
}

// newHarness starts smtpd on 127.0.0.1:0 with a fake cleanup. params
// override main.cf settings.
func newHarness(t testing.TB, params ...string) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, cleanup: &fakeCleanup{}, logPath: filepath.Join(dir, "maillog")}
	sock := filepath.Join(dir, "cleanup")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pb.RegisterCleanupServer(g, h.cleanup)
	go g.Serve(l)
	t.Cleanup(g.Stop)

	cfg := config.New()
	for k, v := range map[string]string{
		"myhostname":             "mx.example.test",
		"mydomain":               "example.test",
		"smtpd_banner":           "$myhostname ESMTP Postern",
		"mynetworks":             "127.0.0.0/8",
		"mydestination":          "$myhostname, localhost",
		"smtpd_peername_lookup":  "no",
		"smtpd_error_sleep_time": "0",
		"queue_directory":        dir,
		"service_name":           "smtp",
		"compatibility_level":    "3.6",
		"local_recipient_maps":   "",
	} {
		cfg.Set(k, v)
	}
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		cfg.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	lg, err := log.New(log.Options{Program: "smtpd", SyslogName: "postern", File: h.logPath, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Log = lg
	conn, err := rpc.Conn(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv.Submitter = CleanupSubmitter{Conn: conn}
	if err := srv.initPolicy(policy.WithResolver(fakeResolver{}), policy.WithWarn(func(string, ...any) {})); err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); srv.ServeConn(ctx, c) }()
		}
	}()
	h.addr = ln.Addr().String()
	return h
}

// log returns the log so far.
func (h *harness) log() string {
	b, _ := os.ReadFile(h.logPath)
	return string(b)
}

// waitLog waits until the log matches re (sessions log after the client
// has its last reply).
func (h *harness) waitLog(re string) string {
	h.t.Helper()
	rx := regexp.MustCompile(re)
	for i := 0; i < 500; i++ {
		if l := h.log(); rx.MatchString(l) {
			return rx.FindString(l)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("log does not match %q:\n%s", re, h.log())
	return ""
}

// client is a raw SMTP client for checking exact replies.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (h *harness) dial() *client {
	h.t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return &client{t: h.t, c: c, br: bufio.NewReader(c)}
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// reply reads one (possibly multi-line) reply, lines joined by "\n".
func (c *client) reply() string {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			if len(lines) == 0 && l == "" {
				return "EOF"
			}
			c.t.Fatalf("reading reply: %v (got %q)", err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends a line and returns the reply.
func (c *client) cmd(line string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.reply()
}

// expect checks a command's reply.
func (c *client) expect(line, want string) {
	c.t.Helper()
	if got := c.cmd(line); got != want {
		c.t.Errorf("%s: got %q, want %q", line, got, want)
	}
}

// greet reads the banner and says EHLO.
func (c *client) greet() {
	c.t.Helper()
	if r := c.reply(); r != "220 mx.example.test ESMTP Postern" {
		c.t.Fatalf("banner %q", r)
	}
	if r := c.cmd("EHLO client.example.test"); !strings.HasPrefix(r, "250-mx.example.test") {
		c.t.Fatalf("EHLO: %q", r)
	}
}

// fakeResolver stands in for trivial-rewrite: mx.example.test and
// localhost are local, everything else is the default (relay) class.
type fakeResolver struct{}

func (fakeResolver) Resolve(_ context.Context, _, addr string) (policy.Resolution, error) {
	_, dom, _ := strings.Cut(strings.ToLower(addr), "@")
	if dom == "mx.example.test" || dom == "localhost" {
		return policy.Resolution{Transport: "local", Nexthop: dom, Recipient: addr,
			Flags: uint32(pb.ResolveFlag_RESOLVE_CLASS_LOCAL | pb.ResolveFlag_RESOLVE_FLAG_FINAL)}, nil
	}
	return policy.Resolution{Transport: "smtp", Nexthop: dom, Recipient: addr, Flags: uint32(pb.ResolveFlag_RESOLVE_CLASS_DEFAULT)}, nil
}
