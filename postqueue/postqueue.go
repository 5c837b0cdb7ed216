package postqueue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"postern/pkg/acl"
	"postern/pkg/config"
	"postern/pkg/getopt"
	plog "postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/queuelist"
	"postern/pkg/rpc"
	"postern/pkg/service"
	"postern/pkg/strerror"
	pb "postern/proto"
)

const (
	exOK          = 0
	exUnavailable = 69
)

const usage = "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site"

type mode byte

func fatal(format string, a ...any) int {
	plog.Default().Log(plog.Fatal, "", fmt.Sprintf(format, a...))
	return exUnavailable
}

// Main runs postqueue with args (args[0] is the program name).
func Main(args []string) int {
	plog.Default().SetProgram("postqueue")
	plog.SetStderr(true)
	var m mode
	var arg, cdir string
	modes := 0
	_, err := getopt.Parse(args[1:], "c:fi:jps:v", func(opt byte, a string) error {
		switch opt {
		case 'c':
			cdir = a
		case 'f', 'i', 'j', 'p', 's':
			m, arg = mode(opt), a
			modes++
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "postqueue: %v\n", err)
		return fatal("%s", usage)
	}
	if modes != 1 {
		return fatal("%s", usage)
	}
	dir := config.Dir(cdir)
	// Set-gid (as installed), postqueue lets an ordinary user name only the
	// configuration directories the default main.cf allows, so that the
	// group's access to public/ cannot be turned against another queue.
	if cdir != "" || os.Getegid() != os.Getgid() {
		if e, f, ok := acl.ConfigDir(dir); !ok {
			plog.Errorf("%s", e)
			return fatal("%s", f)
		}
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return fatal("%v", err)
	}
	_ = plog.Setup(cfg, "postqueue", true)
	qdir := cfg.Get("queue_directory")
	owner := -1
	if uid, _, err := service.LookupMailOwner(cfg.Get("mail_owner")); err == nil {
		owner = uid
	}
	switch m {
	case 'p', 'j':
		if err := allowed(cfg, "authorized_mailq_users", owner); err != nil {
			return fatal("User %s is not allowed to view the mail queue", err)
		}
		return list(cfg, qdir, m == 'j')
	default:
		if err := allowed(cfg, "authorized_flush_users", owner); err != nil {
			return fatal("User %s is not allowed to flush the mail queue", err)
		}
		return flush(qdir, m, arg)
	}
}

// allowed returns nil when the real uid may act according to param, else
// an error whose text is "NAME(UID)".
func allowed(cfg *config.Config, param string, owner int) error {
	uid := os.Getuid()
	if uid == 0 || uid == owner {
		return nil
	}
	name := acl.UserName(uid)
	ok, err := acl.UserAllowed(cfg, param, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s(%d)", name, uid)
	}
	return nil
}

// connect checks that the service's socket answers, and returns the C
// library's text for why not (gRPC's own errors do not say).
func connect(path string) error {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return errors.New(strerror.Text(err))
	}
	c.Close()
	return nil
}

func list(cfg *config.Config, qdir string, json bool) int {
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer out.Flush()
	long, _ := cfg.Bool("enable_long_queue_ids")
	var f formatter
	if json {
		f = &jsonFormatter{w: out}
	} else {
		f = &textFormatter{w: out, long: long}
	}
	path := filepath.Join(qdir, "public", "showq")
	if cerr := connect(path); cerr != nil {
		if os.Getuid() != 0 {
			return fatal("Queue report unavailable - mail system is down (Connect to the %s showq service: %v)", cfg.Get("mail_name"), cerr)
		}
		plog.Warningf("Mail system is down -- accessing queue directly (Connect to the %s showq service: %v)", cfg.Get("mail_name"), cerr)
		if err := queuelist.Walk(queue.FromConfig(qdir, cfg), f.entry); err != nil {
			return fatal("%v", err)
		}
		f.end()
		return exOK
	}
	conn, err := rpc.Conn(path)
	if err != nil {
		return fatal("%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := pb.NewShowqClient(conn).List(ctx, &pb.ListRequest{})
	if err == nil {
		for {
			var e *pb.QueueEntry
			if e, err = stream.Recv(); err != nil {
				break
			}
			if err = f.entry(e); err != nil {
				// A reader such as "head" went away: stop quietly.
				return exOK
			}
		}
	}
	if err != nil && err != io.EOF {
		if st, ok := status.FromError(err); ok && st.Code() == codes.PermissionDenied {
			return fatal("%s", st.Message())
		}
		return fatal("Queue report unavailable - mail system is down (%v)", err)
	}
	f.end()
	return exOK
}

func flush(qdir string, m mode, arg string) int {
	path := filepath.Join(qdir, "public", "flush")
	down := map[mode]string{
		'f': "Cannot flush mail queue - mail system is down",
		'i': "Cannot flush mail queue - mail system is down",
		's': "Cannot flush mail queue - mail system is down",
	}[m]
	if err := connect(path); err != nil {
		return fatal("%s", down)
	}
	conn, err := rpc.Conn(path)
	if err != nil {
		return fatal("%s", down)
	}
	req := &pb.FlushRequest{Kind: pb.FlushRequest_ALL}
	switch m {
	case 'i':
		req = &pb.FlushRequest{Kind: pb.FlushRequest_ID, Arg: arg}
	case 's':
		req = &pb.FlushRequest{Kind: pb.FlushRequest_SITE, Arg: arg}
	}
	ctx, cancel := rpc.Context()
	defer cancel()
	r, err := pb.NewFlushClient(conn).Flush(ctx, req)
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.PermissionDenied {
			return fatal("%s", st.Message())
		}
		return fatal("%s", down)
	}
	if r.Status != 0 {
		return fatal("%s", r.Text)
	}
	return exOK
}
