// Command testdaemon is a daemon for the end-to-end tests of master and
// pkg/service; it is not part of the multi-call executable. Tests build it
// into the test instance's daemon_directory.
//
// As an inet service it answers every connection with one line
//
//	pid=PID uid=UID gid=GID cwd=CWD root=ROOT service=NAME
//
// and then echoes every line the client sends, until the client closes
// (so a test can hold a session open across a reload). As a unix service
// it serves the standard gRPC health service. Arguments after the options
// (master.cf):
//
//	fail     exit with status 1 before serving (throttling test)
//	crash    exit with status 1 after the first session
//
// Every wakeup from master is logged as "wakeup".
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"postern/pkg/log"
	"postern/pkg/service"
)

func main() {
	os.Exit(service.Main(os.Args, &service.Daemon{
		PreJail: func(s *service.Service) error {
			if slices.Contains(s.Args, "fail") {
				return fmt.Errorf("failing at start as asked")
			}
			return nil
		},
		HandleConn:   session,
		RegisterGRPC: registerGRPC,
		Wakeup:       func(s *service.Service) { log.Infof("wakeup") },
	}))
}

func registerGRPC(s *service.Service, g *grpc.Server) {
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, h)
}

func session(ctx context.Context, s *service.Service, c net.Conn) {
	cwd, _ := os.Getwd()
	// /proc is outside a chroot jail; the test reads /proc/PID/root itself.
	root := "/"
	var st syscall.Stat_t
	if syscall.Stat("/proc/self", &st) != nil {
		root = "jail"
	}
	fmt.Fprintf(c, "pid=%d uid=%d gid=%d cwd=%s root=%s service=%s\n", os.Getpid(), os.Getuid(), os.Getgid(), cwd, root, s.Name)
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		fmt.Fprintf(c, "%s\n", sc.Text())
	}
	if slices.Contains(s.Args, "crash") {
		os.Exit(1)
	}
}
