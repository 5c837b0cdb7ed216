package local

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/queue"
	pb "postern/proto"
)

// env is one test's world: a temp directory with homes, a spool, a queue,
// test users, a local(8) server on a unix socket and a fake cleanup.
type env struct {
	t       *testing.T
	dir     string
	qdir    string
	spool   string
	cfg     *config.Config
	srv     *Server
	client  pb.DeliveryClient
	logFile string
	users   map[string]*passwd
	cleanup *fakeCleanup
}

var userSeq int

func newEnv(t *testing.T, users ...string) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates users and switches to them")
	}
	dir, err := os.MkdirTemp("", "local-test")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &env{t: t, dir: dir, qdir: filepath.Join(dir, "queue"), spool: filepath.Join(dir, "spool"), users: map[string]*passwd{}}
	os.MkdirAll(filepath.Join(dir, "home"), 0755)
	os.Mkdir(e.spool, 0o1777)
	os.Chmod(e.spool, 0o1777)
	for _, u := range users {
		e.addUser(u)
	}
	e.logFile = filepath.Join(dir, "maillog")
	if err := log.Init(log.Options{Program: "local", File: e.logFile, Hostname: "mx.test"}); err != nil {
		t.Fatal(err)
	}
	q := queue.New(e.qdir)
	if err := q.MakeDirs(0755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(e.qdir, "private"), 0755)
	e.cfg = config.New()
	for k, v := range map[string]string{
		"myhostname":           "mx.test",
		"mydomain":             "test",
		"myorigin":             "test",
		"mydestination":        "test, mx.test, localhost",
		"mail_spool_directory": e.spool,
		"recipient_delimiter":  "+",
		"alias_maps":           "",
		"mailbox_size_limit":   "0",
	} {
		e.cfg.Set(k, v)
	}
	return e
}

// addUser creates a system user with a home under the test directory.
func (e *env) addUser(name string) *passwd {
	e.t.Helper()
	userSeq++
	sys := fmt.Sprintf("plt%d%s", os.Getpid()%10000, name)
	home := filepath.Join(e.dir, "home", sys)
	out, err := exec.Command("useradd", "-M", "-d", home, "-s", "/bin/sh", "-U", sys).CombinedOutput()
	if err != nil {
		e.t.Fatalf("useradd %s: %v %s", sys, err, out)
	}
	e.t.Cleanup(func() { exec.Command("userdel", sys).Run() })
	pw, err := lookupUser(sys)
	if err != nil {
		e.t.Fatal(err)
	}
	os.Mkdir(home, 0755)
	os.Chown(home, pw.uid, pw.gid)
	e.users[name] = pw
	return pw
}

// start builds the server from the configuration and serves it on a
// unix socket, with a fake cleanup on queue/private/cleanup.
func (e *env) start() {
	e.t.Helper()
	srv, err := NewServer(e.cfg, e.qdir)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.t.Cleanup(srv.Close)
	e.cleanup = &fakeCleanup{}
	cl, err := net.Listen("unix", filepath.Join(e.qdir, "private", "cleanup"))
	if err != nil {
		e.t.Fatal(err)
	}
	cg := grpc.NewServer()
	pb.RegisterCleanupServer(cg, e.cleanup)
	go cg.Serve(cl)
	e.t.Cleanup(cg.Stop)

	sock := filepath.Join(e.dir, "local.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		e.t.Fatal(err)
	}
	g := grpc.NewServer()
	pb.RegisterDeliveryServer(g, srv)
	go g.Serve(l)
	e.t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("unix:"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	e.client = pb.NewDeliveryClient(conn)
}

// u returns the system name of test user name.
func (e *env) u(name string) string { return e.users[name].name }

// aliases writes a texthash alias file (owned by owner, or root when
// owner is "") and makes it alias_maps.
func (e *env) aliases(owner, text string) {
	e.t.Helper()
	p := filepath.Join(e.dir, "aliases")
	if err := os.WriteFile(p, []byte(text), 0644); err != nil {
		e.t.Fatal(err)
	}
	if owner != "" {
		os.Chown(p, e.users[owner].uid, e.users[owner].gid)
	}
	// texthash is postmap format: turn "name: value" into "name value".
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") && !strings.Contains(k, " ") {
			fmt.Fprintf(&b, "%s %s\n", k, strings.TrimSpace(v))
		} else {
			b.WriteString(line + "\n")
		}
	}
	os.WriteFile(p, []byte(b.String()), 0644)
	e.cfg.Set("alias_maps", "texthash:"+p)
}

const testMessage = "From: Sender <sender@example.org>\nSubject: test\n\nFrom the body\nline two\n"

// queueFile writes a message into active/ and returns its ID.
func (e *env) queueFile(sender, content string, rcpts ...string) string {
	e.t.Helper()
	q := queue.New(e.qdir)
	w, err := q.Create(queue.Incoming)
	if err != nil {
		e.t.Fatal(err)
	}
	w.SetEnvelope(&queue.Envelope{Sender: sender, RewriteContext: "local"})
	for _, r := range rcpts {
		w.AddRecipient(queue.Recipient{Address: r, OrigAddress: r})
	}
	io.WriteString(w, content)
	if err := w.Commit(); err != nil {
		e.t.Fatal(err)
	}
	if _, err := q.Move(w.ID(), queue.Incoming, queue.Active); err != nil {
		e.t.Fatal(err)
	}
	return w.ID()
}

// deliver sends one request with one recipient per address.
func (e *env) deliver(sender, content string, rcpts ...string) (string, []*pb.RecipientResult) {
	e.t.Helper()
	id := e.queueFile(sender, content, rcpts...)
	req := &pb.DeliverRequest{QueueId: id, QueueName: "active", Sender: sender, ArrivalTimeUs: time.Now().UnixMicro()}
	for i, r := range rcpts {
		req.Recipients = append(req.Recipients, &pb.DeliverRecipient{Index: uint32(i), Address: r, Original: r})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reply, err := e.client.Deliver(ctx, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return id, reply.Results
}

func (e *env) log() string {
	b, _ := os.ReadFile(e.logFile)
	return string(b)
}

func (e *env) wantLog(re string) {
	e.t.Helper()
	if !regexp.MustCompile(re).MatchString(e.log()) {
		e.t.Errorf("log does not match %q:\n%s", re, e.log())
	}
}

func (e *env) wantResult(r *pb.RecipientResult, st pb.DeliveryStatus, dsn, textRE string) {
	e.t.Helper()
	if r.Status != st || r.Dsn != dsn || !regexp.MustCompile(textRE).MatchString(r.Text) {
		e.t.Errorf("result = %v %s %q, want %v %s %q", r.Status, r.Dsn, r.Text, st, dsn, textRE)
	}
}

func ownerOf(t *testing.T, path string) (int, int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid), int(st.Gid)
}

// maildirFiles returns the contents of the files in dir/new.
func maildirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, "new"))
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// fakeCleanup records what local forwards.
type fakeCleanup struct {
	pb.UnimplementedCleanupServer
	mu   sync.Mutex
	msgs []fwdMsg
	n    int
}

type fwdMsg struct {
	env     *pb.SubmitEnvelope
	rcpts   []*pb.Recipient
	content string
	id      string
}

func (f *fakeCleanup) Submit(stream pb.Cleanup_SubmitServer) error {
	var m fwdMsg
	var content strings.Builder
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if req.Envelope != nil {
			f.mu.Lock()
			f.n++
			m.id = fmt.Sprintf("FWD%04d", f.n)
			f.mu.Unlock()
			m.env = req.Envelope
			if err := stream.Send(&pb.SubmitReply{QueueId: m.id}); err != nil {
				return err
			}
		}
		m.rcpts = append(m.rcpts, req.Recipients...)
		content.Write(req.Content)
		if req.Abort {
			return nil
		}
		if req.End {
			m.content = content.String()
			f.mu.Lock()
			f.msgs = append(f.msgs, m)
			f.mu.Unlock()
			return stream.Send(&pb.SubmitReply{QueueId: m.id, Final: true, Nrcpt: uint32(len(m.rcpts))})
		}
	}
}

func (f *fakeCleanup) messages() []fwdMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fwdMsg(nil), f.msgs...)
}

func addrs(rs []*pb.Recipient) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Address)
	}
	return out
}

var _ = strconv.Itoa
