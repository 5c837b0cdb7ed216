// Package rpc connects postern's daemons and commands to the internal gRPC
// services (postern/proto) over unix sockets under queue_directory, and
// tells a server who its client is.
//
// Connections are made once per socket path and kept for the life of the
// process (gRPC reconnects by itself when the server is restarted), so the
// hot path of a message costs one call, not one connect, per hop.
package rpc

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// CallTimeout is the default deadline of a unary call (Postfix's ipc_timeout
// is 3600s; an internal call that takes minutes is a hung server).
const CallTimeout = 10 * time.Minute

var (
	mu    sync.Mutex
	conns = map[string]*grpc.ClientConn{}
)

// Conn returns the shared client connection to the unix socket at path,
// relative to the current directory (daemons run in queue_directory) or
// absolute: Conn("private/cleanup"), Conn(filepath.Join(qdir,
// "public/showq")). The connection is made lazily; a missing socket shows
// as an Unavailable error on the first call.
func Conn(path string) (*grpc.ClientConn, error) {
	mu.Lock()
	defer mu.Unlock()
	if c, ok := conns[path]; ok {
		return c, nil
	}
	c, err := grpc.NewClient("passthrough:///"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
		// A local daemon that went away (max_use, reload) is back within
		// milliseconds: reconnect quickly instead of gRPC's 1 s first
		// back-off, during which every call would fail at once.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithChainUnaryInterceptor(retryIdempotent),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	conns[path] = c
	return c, nil
}

// Service returns the connection to a master.cf unix service: the
// socket queueDir/private/service, or queueDir/public/service when that is
// the one that exists. Which of the two a service has is the master.cf
// "private" column, which the administrator may set either way (Postfix's
// stock master.cf has cleanup, qmgr, pickup, showq and flush public). When
// neither exists yet, prefer is used. queueDir is "" or "." in a daemon,
// which runs in queue_directory.
func Service(queueDir, prefer, service string) (*grpc.ClientConn, error) {
	path := filepath.Join(queueDir, prefer, service)
	if _, err := os.Stat(path); err != nil {
		other := "public"
		if prefer == "public" {
			other = "private"
		}
		if _, err := os.Stat(filepath.Join(queueDir, other, service)); err == nil {
			path = filepath.Join(queueDir, other, service)
		}
	}
	return Conn(path)
}

// Private returns Service(queueDir, "private", service).
func Private(queueDir, service string) (*grpc.ClientConn, error) {
	return Service(queueDir, "private", service)
}

// Public returns Service(queueDir, "public", service).
func Public(queueDir, service string) (*grpc.ClientConn, error) {
	return Service(queueDir, "public", service)
}

// idempotent lists the methods that may be sent again when the server was
// unavailable: lookups that change nothing. A delivery or a submission is
// never repeated behind its caller's back.
var idempotent = map[string]bool{
	"/postern.TrivialRewrite/Rewrite": true,
	"/postern.TrivialRewrite/Resolve": true,
	"/postern.Flush/Flush":            true,
}

// retryIdempotent retries an idempotent call that failed with Unavailable
// (the daemon was restarting), a few times over about a second.
func retryIdempotent(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if !idempotent[method] {
		return err
	}
	for wait := 20 * time.Millisecond; err != nil && status.Code(err) == codes.Unavailable && wait < 2*time.Second; wait *= 3 {
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		err = invoker(ctx, method, req, reply, cc, opts...)
	}
	return err
}

// Context returns a context with CallTimeout.
func Context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), CallTimeout)
}

// PeerCred is the client's identity taken from the socket (SO_PEERCRED),
// never from anything the client sends.
type PeerCred struct {
	UID, GID, PID int
}

// AuthType implements credentials.AuthInfo.
func (PeerCred) AuthType() string { return "peercred" }

// Creds returns server transport credentials that record the peer's
// SO_PEERCRED; a handler reads them with Peer.
func Creds() credentials.TransportCredentials { return peerCreds{} }

// Peer returns the credentials of the client of the call in ctx, from a
// server made with grpc.Creds(Creds()).
func Peer(ctx context.Context) (PeerCred, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return PeerCred{}, false
	}
	c, ok := p.AuthInfo.(PeerCred)
	return c, ok
}

type peerCreds struct{}

func (peerCreds) ClientHandshake(ctx context.Context, _ string, c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c, PeerCred{}, nil
}

func (peerCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		// Wrapped by the service runtime's connection tracker.
		if u, ok2 := c.(interface{ Unwrap() net.Conn }); ok2 {
			uc, ok = u.Unwrap().(*net.UnixConn)
		}
	}
	if !ok {
		return nil, nil, fmt.Errorf("peercred: not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, nil, err
	}
	if cerr != nil {
		return nil, nil, fmt.Errorf("peercred: %v", cerr)
	}
	return c, PeerCred{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}, nil
}

func (peerCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}
func (p peerCreds) Clone() credentials.TransportCredentials { return p }
func (peerCreds) OverrideServerName(string) error           { return nil }
