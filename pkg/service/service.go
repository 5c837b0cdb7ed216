// Package service is the runtime every postern daemon is built on: Postfix's
// single/multi/trigger server skeletons in one.
//
// A daemon's Main hands its argument vector and a Daemon (its callbacks) to
// Main, which owns everything between master and the daemon's real work:
//
//	func Main(args []string) int {
//		return service.Main(args, &service.Daemon{
//			PreJail:    openTables,  // still root: read files, look up users
//			HandleConn: session,     // one call per client connection
//		})
//	}
//
// # What master passes (the contract with master(8))
//
// master starts a daemon as
//
//	DAEMON_DIRECTORY/COMMAND -n SERVICE -t TYPE [-u] [-c] [-s N] [ARGS from master.cf]
//
// with argv[0] = COMMAND (the multi-call executable dispatches on it) and:
//
//	-n SERVICE  master.cf service name ("smtp", "127.0.0.1:2525", "cleanup");
//	            becomes the read-only parameter service_name
//	-t TYPE     master.cf type ("inet", "unix")
//	-u          unpriv=y: drop root privileges to mail_owner before serving
//	-c          chroot=y: chroot to queue_directory before dropping privileges
//	-s N        number of listening sockets (default 1)
//	-o NAME=VALUE  main.cf override from master.cf (repeatable; also for
//	            syslog_name, max_use, max_idle ...)
//	-v, -D      verbose logging / debug (accepted; -v raises Service.Verbose)
//
// and the environment variable MAIL_CONFIG = the configuration directory.
// The first argument that does not start with "-" ends the options; it and
// the rest are Service.Args.
//
// File descriptors:
//
//	fd 3         status socket, a unix stream socketpair with master. The
//	             daemon writes one byte per event: StatusReady ('R') once it
//	             has dropped privileges and is about to serve, StatusUsed ('U')
//	             when it accepts its first connection. When master goes away
//	             the socket reads EOF and the daemon stops as on SIGTERM.
//	fd 4 .. 3+N  the listening sockets (TCP for inet, unix stream for unix),
//	             shared with master, which keeps its copies open across a
//	             daemon's restart and a reload.
//
// Signals from master:
//
//	SIGTERM  stop: close the listeners, cancel the sessions' context, give
//	         sessions up to StopGrace to finish, exit.
//	SIGHUP   drain (reload, service removed or changed): close the
//	         listeners, let the sessions finish (bounded by daemon_timeout),
//	         exit 0. A gRPC server sends GOAWAY so clients move to the new
//	         process.
//	SIGUSR1  wakeup: master's periodic trigger (master.cf wakeup column);
//	         Daemon.Wakeup is called, never concurrently with itself, and
//	         wakeups that arrive meanwhile are merged into one.
//
// master only signals a daemon after it reported StatusReady, so a signal
// never arrives before the handlers are installed.
//
// # Life of a daemon
//
//  1. Parse the options, load main.cf (MAIL_CONFIG) plus the -o overrides,
//     set service_name, process_name and process_id, open the log
//     (syslog_name with -o gives "postern/submission/smtpd").
//  2. PreJail, with the privileges the process was started with.
//  3. chdir to queue_directory; when running as root: chroot to it (-c),
//     then, with -u, setgroups/setgid/setuid to mail_owner (the syscall
//     package's calls, which change every thread), PR_SET_NO_NEW_PRIVS, and
//     a check in /proc/self/task/*/status that no thread kept a privileged
//     ID. Not root (developer mode): nothing to drop, chroot is skipped.
//  4. PostJail.
//  5. Serve: Run (a background loop) if set, and the listeners: gRPC
//     (RegisterGRPC) or raw connections (HandleConn), many sessions at once.
//     A process serves max_use connections (then stops accepting and exits
//     when they are done) and exits after max_idle without any session,
//     unless Daemon.LongLived. master starts a new process when a client
//     waits.
//
// Errors before serving are fatal log lines and exit status 1; master sees a
// daemon that dies before StatusReady as a bad start-up and throttles it.
package service

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/config"
	"postern/pkg/log"
)

// The main goroutine stays on the process's main thread until Main has
// built the jail: PR_SET_NO_NEW_PRIVS is a per-thread attribute that a cgo
// binary can only set on the calling thread, and the main thread is the
// one /proc/PID/status shows.
func init() { runtime.LockOSThread() }

// File descriptors and status bytes shared with master.
const (
	StatusFD    = 3   // status socket
	ListenFD    = 4   // first listening socket
	StatusReady = 'R' // privileges dropped, serving
	StatusUsed  = 'U' // first connection accepted
)

// StopGrace is how long sessions may take to finish after SIGTERM.
const StopGrace = 5 * time.Second

// Daemon is what a daemon program adds to the runtime. Every field is
// optional, but a daemon sets at least one of HandleConn, RegisterGRPC and
// Run.
type Daemon struct {
	// PreJail runs after the configuration is loaded, before chroot and
	// privilege drop: open files, read resolver configuration and TLS keys,
	// look up users.
	PreJail func(s *Service) error
	// PostJail runs after the privilege drop, before the first session.
	PostJail func(s *Service) error
	// HandleConn serves one client connection; the runtime closes conn when
	// it returns. ctx is cancelled when the daemon must stop (SIGTERM):
	// finish quickly (an SMTP server answers 421).
	HandleConn func(ctx context.Context, s *Service, conn net.Conn)
	// RegisterGRPC registers gRPC services; the runtime then serves gRPC on
	// the listeners. When both RegisterGRPC and HandleConn are set, inet
	// services get raw connections and the other types gRPC.
	RegisterGRPC func(s *Service, g *grpc.Server)
	// GRPCOptions are passed to grpc.NewServer (credentials, interceptors).
	GRPCOptions []grpc.ServerOption
	// Wakeup is called on master's periodic wakeup (SIGUSR1).
	Wakeup func(s *Service)
	// Run, when set, runs beside the listeners (a queue manager's
	// scheduler). ctx is cancelled on stop; the daemon exits when Run
	// returns (status 1 when it returns an error).
	Run func(ctx context.Context, s *Service) error
	// LongLived daemons ignore max_use and max_idle (Postfix's qmgr, pickup).
	LongLived bool
}

// Service is the running daemon's view of itself.
type Service struct {
	Config  *config.Config // main.cf plus the -o overrides
	Name    string         // master.cf service name
	Type    string         // master.cf type
	Program string         // process name (argv[0] base name)
	Args    []string       // arguments after the options
	Unpriv  bool           // -u
	Chroot  bool           // -c
	Verbose int            // number of -v
	Debug   bool           // -D
	// MailOwnerUID and MailOwnerGID are mail_owner's IDs when the process
	// was started as root, else the invoking user's.
	MailOwnerUID, MailOwnerGID int

	listenCount int
	listeners   []net.Listener
	status      net.Conn
}

// parseArgs reads the options master passes (see the package comment).
func parseArgs(args []string) (*Service, [][2]string, error) {
	s := &Service{Program: filepath.Base(args[0]), listenCount: 1}
	var overrides [][2]string
	i := 1
	next := func(opt string) (string, error) {
		if i+1 >= len(args) {
			return "", fmt.Errorf("option %s requires an argument", opt)
		}
		i++
		return args[i], nil
	}
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		var err error
		var v string
		switch a {
		case "-n":
			s.Name, err = next(a)
		case "-t":
			s.Type, err = next(a)
		case "-u":
			s.Unpriv = true
		case "-c":
			s.Chroot = true
		case "-v":
			s.Verbose++
		case "-D":
			s.Debug = true
		case "-s":
			if v, err = next(a); err == nil {
				s.listenCount, err = strconv.Atoi(v)
				if err == nil && (s.listenCount < 0 || s.listenCount > 64) {
					err = fmt.Errorf("bad socket count: %s", v)
				}
			}
		case "-o":
			if v, err = next(a); err == nil {
				name, value, ok := strings.Cut(v, "=")
				if !ok {
					err = fmt.Errorf("bad -o option: %s", v)
				}
				overrides = append(overrides, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
			}
		default:
			err = fmt.Errorf("invalid option: %s", a)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	s.Args = args[i:]
	if s.Name == "" {
		s.Name = s.Program
	}
	if s.Type == "" {
		s.Type = "inet"
	}
	return s, overrides, nil
}

// Main runs a daemon and returns its exit status. args[0] is the program
// name.
func Main(args []string, d *Daemon) int {
	s, overrides, err := parseArgs(args)
	if err != nil {
		log.Fatalf("%v", err)
		return 1
	}
	log.Default().SetProgram(s.Program)
	dir := config.Dir("")
	cfg, err := config.Load(dir)
	if err != nil {
		log.Fatalf("%v", err)
		return 1
	}
	cfg.Set("service_name", s.Name)
	cfg.Set("process_name", s.Program)
	cfg.Set("process_id", strconv.Itoa(os.Getpid()))
	for _, o := range overrides {
		cfg.Set(o[0], o[1])
	}
	s.Config = cfg
	if err := log.Setup(cfg, s.Program, false); err != nil {
		log.Fatalf("%v", err)
		return 1
	}
	if err := s.inherit(); err != nil {
		log.Fatalf("%v", err)
		return 1
	}
	if d.PreJail != nil {
		if err := d.PreJail(s); err != nil {
			log.Fatalf("%v", err)
			return 1
		}
	}
	err = s.jail()
	runtime.UnlockOSThread()
	if err != nil {
		log.Fatalf("%v", err)
		return 1
	}
	if d.PostJail != nil {
		if err := d.PostJail(s); err != nil {
			log.Fatalf("%v", err)
			return 1
		}
	}
	return s.serve(d)
}

// inherit takes over the status socket and the listeners from master.
func (s *Service) inherit() error {
	if !fdOpen(StatusFD) {
		return fmt.Errorf("no status socket on fd %d: this program is started by master(8), not by hand", StatusFD)
	}
	f := os.NewFile(StatusFD, "status")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("status socket: %v", err)
	}
	s.status = c
	for i := 0; i < s.listenCount; i++ {
		fd := ListenFD + i
		if !fdOpen(fd) {
			return fmt.Errorf("no listening socket on fd %d", fd)
		}
		f := os.NewFile(uintptr(fd), "listener")
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("listening socket on fd %d: %v", fd, err)
		}
		s.listeners = append(s.listeners, l)
	}
	return nil
}

// tellMaster writes one status byte to master; errors are ignored (master
// gone: the reader notices).
func (s *Service) tellMaster(b byte) {
	if s.status != nil {
		s.status.SetWriteDeadline(time.Now().Add(5 * time.Second))
		s.status.Write([]byte{b})
	}
}
