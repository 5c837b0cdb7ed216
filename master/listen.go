package master

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"postern/pkg/config"
	"postern/pkg/log"
)

// listenSpec is where a service listens: TCP addresses ("127.0.0.1:25",
// "[::]:25") for inet, one socket path for unix.
type listenSpec struct {
	network string   // "tcp" or "unix"
	addrs   []string // host:port, or the socket path
}

func (ls listenSpec) String() string { return ls.network + " " + strings.Join(ls.addrs, " ") }

// protocols returns which IP versions inet_protocols enables.
func protocols(cfg *config.Config) (v4, v6 bool, err error) {
	for _, p := range cfg.List("inet_protocols") {
		switch strings.ToLower(p) {
		case "all":
			v4, v6 = true, true
		case "ipv4":
			v4 = true
		case "ipv6":
			v6 = true
		default:
			return false, false, fmt.Errorf("parameter inet_protocols: unknown protocol name: %s", p)
		}
	}
	if !v4 && !v6 {
		return false, false, fmt.Errorf("parameter inet_protocols: no protocol enabled")
	}
	return v4, v6, nil
}

// resolveHost turns a host (IP, [IPv6], or name) into IP addresses of the
// enabled families.
func resolveHost(host string, v4, v6 bool) ([]string, error) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	var ips []string
	if ip := net.ParseIP(host); ip != nil {
		ips = []string{host}
	} else {
		var err error
		ips, err = net.LookupHost(host)
		if err != nil {
			return nil, fmt.Errorf("host not found: %s", host)
		}
	}
	var out []string
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			continue
		}
		if ip.To4() != nil && v4 || ip.To4() == nil && v6 {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no address of an enabled protocol (inet_protocols)", host)
	}
	return out, nil
}

// serviceSpec computes where a master.cf entry listens.
func serviceSpec(cfg *config.Config, s *config.Service) (listenSpec, error) {
	switch s.Type {
	case "unix":
		dir := "private"
		if !s.IsPrivate() {
			dir = "public"
		}
		return listenSpec{"unix", []string{filepath.Join(cfg.Get("queue_directory"), dir, s.Name)}}, nil
	case "inet":
	default:
		return listenSpec{}, fmt.Errorf("service %s: transport type %s is not supported", s.Name, s.Type)
	}
	v4, v6, err := protocols(cfg)
	if err != nil {
		return listenSpec{}, err
	}
	host, port := "", s.Name
	if i := strings.LastIndexByte(s.Name, ':'); i >= 0 {
		host, port = s.Name[:i], s.Name[i+1:]
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return listenSpec{}, fmt.Errorf("unknown service: %s/tcp", port)
	}
	var hosts []string
	if host != "" {
		if hosts, err = resolveHost(host, v4, v6); err != nil {
			return listenSpec{}, err
		}
	} else {
		for _, iface := range cfg.List("inet_interfaces") {
			switch strings.ToLower(iface) {
			case "all":
				if v4 {
					hosts = append(hosts, "0.0.0.0")
				}
				if v6 {
					hosts = append(hosts, "::")
				}
			case "loopback-only":
				if v4 {
					hosts = append(hosts, "127.0.0.1")
				}
				if v6 {
					hosts = append(hosts, "::1")
				}
			default:
				h, err := resolveHost(iface, v4, v6)
				if err != nil {
					return listenSpec{}, fmt.Errorf("parameter inet_interfaces: %v", err)
				}
				hosts = append(hosts, h...)
			}
		}
	}
	ls := listenSpec{network: "tcp"}
	seen := map[string]bool{}
	for _, h := range hosts {
		a := net.JoinHostPort(h, port)
		if !seen[a] {
			seen[a] = true
			ls.addrs = append(ls.addrs, a)
		}
	}
	sort.Strings(ls.addrs)
	return ls, nil
}

// openListeners creates the sockets of spec. An IPv6 wildcard or loopback
// address that the kernel cannot bind (no IPv6) is skipped with a warning
// when other addresses remain.
func openListeners(spec listenSpec) ([]net.Listener, error) {
	if spec.network == "unix" {
		path := spec.addrs[0]
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(path)
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("bind %s: %v", path, err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		os.Chmod(path, 0666) // access is controlled by private/ and public/
		return []net.Listener{l}, nil
	}
	var out []net.Listener
	for _, a := range spec.addrs {
		host, port, _ := net.SplitHostPort(a)
		ip := net.ParseIP(host)
		network := "tcp4"
		if ip != nil && ip.To4() == nil {
			network = "tcp6"
		}
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			c.Control(func(fd uintptr) {
				if network == "tcp6" {
					serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
				}
			})
			return serr
		}}
		l, err := lc.Listen(context.Background(), network, a)
		if err != nil {
			if network == "tcp6" && (ip.IsUnspecified() || ip.IsLoopback()) && len(spec.addrs) > 1 {
				log.Warningf("bind %s port %s: %v -- skipped (no IPv6?)", host, port, err)
				continue
			}
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("bind %s port %s: %v", host, port, unwrapErrno(err))
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address to listen on for %s", spec)
	}
	return out, nil
}

func unwrapErrno(err error) error {
	var errno syscall.Errno
	if e, ok := err.(*net.OpError); ok {
		if se, ok := e.Err.(*os.SyscallError); ok {
			if n, ok := se.Err.(syscall.Errno); ok {
				errno = n
			}
		}
	}
	if errno != 0 {
		return errno
	}
	return err
}

// listenerFile returns a duplicate descriptor of l for a child.
func listenerFile(l net.Listener) (*os.File, error) {
	switch l := l.(type) {
	case *net.TCPListener:
		return l.File()
	case *net.UnixListener:
		return l.File()
	}
	return nil, fmt.Errorf("unsupported listener %T", l)
}

// watchFile returns a duplicate of l's descriptor as a pollable file, to
// wait on (a listener's own RawConn cannot wait for readability).
func watchFile(l net.Listener) (*os.File, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("unsupported listener %T", l)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(nfd), "listener"), nil
}

// waitReadable blocks until a client waits on the listening socket f (a
// connection is pending), or f's read deadline passes (cancel). It never
// accepts.
func waitReadable(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	pending := false
	err = rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(pfd, 0)
		pending = n > 0
		return pending
	})
	return err == nil && pending
}
