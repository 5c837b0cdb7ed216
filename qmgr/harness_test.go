package qmgr

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"postern/discard"
	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/queue"
	pb "postern/proto"
)

// env is a queue directory with fake trivial-rewrite, bounce and delivery
// agents on its private/ sockets, and a Manager over it.
type env struct {
	t      *testing.T
	dir    string
	q      *queue.Queue
	m      *Manager
	logf   string
	clock  time.Time
	mu     sync.Mutex
	events []string // what the fakes saw, in order
	// delivered counts deliveries per address.
	delivered map[string]int
	// failBounce makes the fake bounce service answer with an error.
	failBounce bool
	servers    []*grpc.Server
	// agent, when set, answers delivery requests before the fake
	// agents' built-in rules: ok false leaves the request to them.
	agent func(ctx context.Context, transport string, req *pb.DeliverRequest) (reply *pb.DeliverReply, ok bool)
}

func newEnv(t *testing.T, mainCF string) *env {
	t.Helper()
	// Short path: unix socket names are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "qm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &env{t: t, dir: dir, delivered: map[string]int{}, clock: time.Now()}
	e.q = queue.New(dir)
	if err := e.q.MakeDirs(0o700); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	cfgDir := t.TempDir()
	os.WriteFile(filepath.Join(cfgDir, "main.cf"), []byte(mainCF), 0o644)
	c, err := config.Load(cfgDir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSettings(c)
	if err != nil {
		t.Fatal(err)
	}
	e.logf = filepath.Join(dir, "maillog")
	l, err := log.New(log.Options{Program: "qmgr", SyslogName: "postern", File: e.logf, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e.q.Log = l
	e.m = NewManager(dir, e.q, s)
	e.m.Log = l
	e.m.Now = e.now
	e.serve("rewrite", func(g *grpc.Server) { pb.RegisterTrivialRewriteServer(g, &fakeRewrite{e: e}) })
	e.serve("bounce", func(g *grpc.Server) { pb.RegisterBounceServer(g, &fakeBounce{e: e}) })
	e.serve("discard", func(g *grpc.Server) { pb.RegisterDeliveryServer(g, &discard.Server{Log: l}) })
	for _, tr := range []string{"smtp", "local", "error", "retry"} {
		e.serve(tr, func(g *grpc.Server) { pb.RegisterDeliveryServer(g, &fakeAgent{e: e, name: tr}) })
	}
	t.Cleanup(func() {
		for _, g := range e.servers {
			g.Stop()
		}
	})
	return e
}

func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.clock = e.clock.Add(d)
	e.mu.Unlock()
}

func (e *env) serve(name string, reg func(*grpc.Server)) {
	path := filepath.Join(e.dir, "private", name)
	l, err := net.Listen("unix", path)
	if err != nil {
		e.t.Fatal(err)
	}
	g := grpc.NewServer()
	reg(g)
	go g.Serve(l)
	e.servers = append(e.servers, g)
}

func (e *env) event(format string, a ...any) {
	e.mu.Lock()
	e.events = append(e.events, fmt.Sprintf(format, a...))
	e.mu.Unlock()
}

func (e *env) eventList() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.events...)
}

func (e *env) log() string {
	b, _ := os.ReadFile(e.logf)
	return string(b)
}

// submit writes a complete message into incoming/ and returns its ID.
func (e *env) submit(sender string, rcpts ...string) string {
	e.t.Helper()
	w, err := e.q.Create(queue.Incoming)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.SetEnvelope(&queue.Envelope{Sender: sender, ArrivalTime: e.now()}); err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rcpts {
		if err := w.AddRecipient(queue.Recipient{Address: r}); err != nil {
			e.t.Fatal(err)
		}
	}
	w.Write([]byte("Subject: test\n\nbody\n"))
	if err := w.Commit(); err != nil {
		e.t.Fatal(err)
	}
	return w.ID()
}

// run scans a state once and waits until the messages it took are done.
func (e *env) run(state string, all bool) {
	e.m.Scan(context.Background(), state, all)
	e.m.Wait()
}

func (e *env) state(id string) string {
	st, _, err := e.q.Find(id)
	if err != nil {
		return "gone"
	}
	return st
}

func (e *env) recipients(id string) []queue.Recipient {
	e.t.Helper()
	_, path, err := e.q.Find(id)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := queue.Open(path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	var rs []queue.Recipient
	f.Recipients(func(r queue.Recipient) error { rs = append(rs, r); return nil })
	return rs
}

// fakeRewrite resolves user@local.test to local, bad* to a syntax error,
// fail* to a lookup failure, err@... to the error transport, anything
// else to smtp with the domain as next hop.
type fakeRewrite struct {
	pb.UnimplementedTrivialRewriteServer
	e *env
}

func (f *fakeRewrite) Resolve(ctx context.Context, req *pb.ResolveRequest) (*pb.ResolveReply, error) {
	f.e.event("resolve %s", strings.Join(req.Addresses, ","))
	reply := &pb.ResolveReply{}
	for _, a := range req.Addresses {
		_, domain, _ := strings.Cut(a, "@")
		r := &pb.Resolution{Transport: "smtp", Nexthop: domain, Recipient: a}
		switch {
		case strings.HasPrefix(a, "bad"):
			r.Flags = uint32(pb.ResolveFlag_RESOLVE_FLAG_ERROR)
		case strings.HasPrefix(a, "fail"):
			r.Flags = uint32(pb.ResolveFlag_RESOLVE_FLAG_FAIL)
		case strings.HasPrefix(a, "err@"):
			r.Transport, r.Nexthop = "error", "5.1.1 no such user here"
		case strings.HasPrefix(a, "gone@"):
			r.Transport = "nosuchagent"
		case domain == "discard.test":
			r.Transport, r.Nexthop = "discard", "thrown away"
		case domain == "local.test":
			r.Transport = "local"
		}
		reply.Results = append(reply.Results, r)
	}
	return reply, nil
}

// fakeAgent delivers ok*, bounces rej*, defers tmp* and everything else.
type fakeAgent struct {
	pb.UnimplementedDeliveryServer
	e    *env
	name string
}

func (f *fakeAgent) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverReply, error) {
	var addrs []string
	for _, r := range req.Recipients {
		addrs = append(addrs, r.Address)
	}
	f.e.event("deliver %s %s %s", f.name, req.Nexthop, strings.Join(addrs, ","))
	f.e.mu.Lock()
	hook := f.e.agent
	f.e.mu.Unlock()
	if hook != nil {
		if reply, ok := hook(ctx, f.name, req); ok {
			return reply, nil
		}
	}
	if req.ArrivalTimeUs == 0 || req.ActiveTimeUs == 0 || req.RequestTimeUs == 0 || req.QueueName != "active" {
		f.e.t.Errorf("request without times or queue: %v", req)
	}
	reply := &pb.DeliverReply{}
	for _, r := range req.Recipients {
		res := &pb.RecipientResult{Index: r.Index, Relay: f.name}
		local, _, _ := strings.Cut(r.Address, "@")
		switch {
		case f.name == "error" || f.name == "retry":
			res.Status, res.Dsn, res.Text = pb.DeliveryStatus_DELIVERY_BOUNCE, "5.0.0", req.Nexthop
			if f.name == "retry" || strings.HasPrefix(req.Nexthop, "4") {
				res.Status, res.Dsn = pb.DeliveryStatus_DELIVERY_DEFER, "4.0.0"
			}
		case strings.HasPrefix(local, "ok"):
			res.Status, res.Dsn, res.Text = pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "delivered"
			f.e.mu.Lock()
			f.e.delivered[r.Address]++
			f.e.mu.Unlock()
		case strings.HasPrefix(local, "rej"):
			res.Status, res.Dsn, res.Text = pb.DeliveryStatus_DELIVERY_BOUNCE, "5.1.1", "user unknown"
		default:
			res.Status, res.Dsn, res.Text = pb.DeliveryStatus_DELIVERY_DEFER, "4.2.0", "try again later"
		}
		reply.Results = append(reply.Results, res)
	}
	return reply, nil
}

// fakeBounce records its calls, and checks the order qmgr promises:
// Append while the recipients are not yet done, Flush while the file is
// still in active/.
type fakeBounce struct {
	pb.UnimplementedBounceServer
	e *env
}

func (f *fakeBounce) fail() (*pb.BounceReply, error) {
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	if f.e.failBounce {
		return &pb.BounceReply{Status: 1, Text: "bounce is down"}, nil
	}
	return &pb.BounceReply{}, nil
}

func (f *fakeBounce) Append(ctx context.Context, req *pb.AppendRequest) (*pb.BounceReply, error) {
	var parts []string
	done := map[int]bool{}
	for _, r := range f.e.recipients(req.QueueId) {
		done[r.Index] = r.Done
	}
	for _, r := range req.Records {
		parts = append(parts, fmt.Sprintf("%s:%s:%s:%s", r.Address, r.Action, r.Dsn, r.Text))
		if done[int(r.Index)] {
			f.e.t.Errorf("Append of %s after it was marked done", r.Address)
		}
	}
	f.e.event("append %s", strings.Join(parts, ","))
	return f.fail()
}

func (f *fakeBounce) Flush(ctx context.Context, req *pb.NotifyRequest) (*pb.BounceReply, error) {
	f.e.event("flush %s", f.e.state(req.QueueId))
	return f.fail()
}

func (f *fakeBounce) Warn(ctx context.Context, req *pb.NotifyRequest) (*pb.BounceReply, error) {
	f.e.event("warn %s", f.e.state(req.QueueId))
	return f.fail()
}
