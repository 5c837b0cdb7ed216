package rpc

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

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
