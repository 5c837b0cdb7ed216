package rpc

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "postern/proto"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// credServer is a health server that answers with the caller's uid in
// the status (SERVING only when Peer found the credentials).
type credServer struct {
	healthpb.UnimplementedHealthServer
	got chan PeerCred
}

func (s *credServer) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	c, ok := Peer(ctx)
	if !ok {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	s.got <- c
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func TestPeerCredAndSharedConn(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "public"), 0755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "public", "showq"))
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(Creds()))
	cs := &credServer{got: make(chan PeerCred, 1)}
	healthpb.RegisterHealthServer(g, cs)
	go g.Serve(l)
	defer g.Stop()

	c, err := Public(dir, "showq")
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := Public(dir, "showq"); c2 != c {
		t.Error("second Public call made a new connection")
	}
	ctx, cancel := Context()
	defer cancel()
	r, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatal("server saw no peer credentials")
	}
	got := <-cs.got
	if got.UID != os.Getuid() || got.PID != os.Getpid() {
		t.Errorf("peer = %+v, want uid %d pid %d", got, os.Getuid(), os.Getpid())
	}
}

type rewriteServer struct {
	pb.UnimplementedTrivialRewriteServer
}

func (rewriteServer) Rewrite(_ context.Context, r *pb.RewriteRequest) (*pb.RewriteReply, error) {
	return &pb.RewriteReply{Addresses: r.Addresses}, nil
}

// A lookup made while the daemon restarts waits for it instead of failing.
func TestRetryWhileRestarting(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "private"), 0755)
	path := filepath.Join(dir, "private", "rewrite")
	c, err := Private(dir, "rewrite")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan *grpc.Server, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		l, err := net.Listen("unix", path)
		if err != nil {
			started <- nil
			return
		}
		g := grpc.NewServer()
		pb.RegisterTrivialRewriteServer(g, rewriteServer{})
		go g.Serve(l)
		started <- g
	}()
	ctx, cancel := Context()
	defer cancel()
	r, err := pb.NewTrivialRewriteClient(c).Rewrite(ctx, &pb.RewriteRequest{Addresses: []string{"a@b"}})
	if g := <-started; g != nil {
		defer g.Stop()
	}
	if err != nil || len(r.Addresses) != 1 {
		t.Fatalf("Rewrite during restart: %v", err)
	}
}
