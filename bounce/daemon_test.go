package bounce

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"postern/pkg/queue"
	pb "postern/proto"
)

// The test binary doubles as the daemon that master would start.
func TestMain(m *testing.M) {
	if os.Getenv("POSTERN_BOUNCE_DAEMON") == "1" {
		os.Exit(Main([]string{"bounce", "-n", "bounce", "-t", "unix"}))
	}
	os.Exit(m.Run())
}

// lockedBuffer collects the daemon's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The daemon as master runs it: listener on fd 4, status socket on fd 3,
// main.cf from MAIL_CONFIG, cwd queue_directory. A bounce goes through
// Append and Flush to cleanup and is logged in Postfix's words.
func TestDaemonBouncesThroughCleanup(t *testing.T) {
	dir := t.TempDir()
	qdir := filepath.Join(dir, "queue")
	confDir := filepath.Join(dir, "etc")
	for _, d := range []string{qdir, confDir, filepath.Join(qdir, "private")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	q := queue.New(qdir)
	if err := q.MakeDirs(0o700); err != nil {
		t.Fatal(err)
	}
	maincf := "queue_directory = " + qdir + "\nmyhostname = mx.pfref.test\nmyorigin = pfref.test\nmaillog_file = /dev/stdout\n"
	if err := os.WriteFile(filepath.Join(confDir, "main.cf"), []byte(maincf), 0o644); err != nil {
		t.Fatal(err)
	}
	cleanup := &fakeCleanup{}
	serve(t, filepath.Join(qdir, "private", "cleanup"), func(g *grpc.Server) { pb.RegisterCleanupServer(g, cleanup) })

	sock := filepath.Join(qdir, "private", "bounce")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := ln.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "status"), os.NewFile(uintptr(fds[1]), "status-child")
	defer mine.Close()
	var out lockedBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "POSTERN_BOUNCE_DAEMON=1", "MAIL_CONFIG="+confDir)
	cmd.ExtraFiles = []*os.File{theirs, lf} // fd 3, fd 4
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	lf.Close()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	status := make([]byte, 1)
	if _, err := mine.Read(status); err != nil || status[0] != 'R' {
		t.Fatalf("daemon did not get ready (%q, %v):\n%s", status, err, out.String())
	}

	w, err := q.Create("incoming")
	if err != nil {
		t.Fatal(err)
	}
	w.SetEnvelope(&queue.Envelope{Sender: "pfb@pfref.test"})
	w.AddRecipient(queue.Recipient{Address: "rej1@remote.test"})
	w.Write([]byte(body))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	qid := w.ID()
	if _, err := q.Move(qid, "incoming", "active"); err != nil {
		t.Fatal(err)
	}

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewBounceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if r, err := c.Append(ctx, &pb.AppendRequest{QueueId: qid, Records: []*pb.StatusRecord{rejected("rej1@remote.test")}}); err != nil || r.Status != 0 {
		t.Fatalf("Append: %v %v\n%s", r, err, out.String())
	}
	r, err := c.Flush(ctx, &pb.NotifyRequest{QueueId: qid, QueueName: "active"})
	if err != nil || r.Status != 0 || r.QueueId != "NEW1" {
		t.Fatalf("Flush: %v %v\n%s", r, err, out.String())
	}
	if msgs := cleanup.messages(); len(msgs) != 1 || msgs[0].rcpts[0].Address != "pfb@pfref.test" {
		t.Fatalf("cleanup got %v", msgs)
	}
	if _, err := os.Stat(filepath.Join(qdir, "bounce", qid)); !os.IsNotExist(err) {
		t.Errorf("log left behind: %v", err)
	}
	want := "postern/bounce[" // the tag; then the Postfix text
	line := qid + ": sender non-delivery notification: NEW1"
	// The log line is written before Flush answers.
	if s := out.String(); !strings.Contains(s, want) || !strings.Contains(s, line) {
		t.Errorf("daemon log lacks %q:\n%s", line, s)
	}
}
