package bounce

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/rpc"
	"postern/pkg/service"
	pb "postern/proto"
)

// Main is the bounce daemon (master.cf services bounce, defer and trace).
func Main(args []string) int {
	return service.Main(args, &service.Daemon{
		// Load the local time zone for Date: while /etc/localtime is
		// still reachable (chroot=y).
		PreJail: func(*service.Service) error { _, _ = time.Now().Zone(); return nil },
		RegisterGRPC: func(s *service.Service, g *grpc.Server) {
			srv, err := newServer(s.Config, ".", s.Name)
			if err != nil {
				log.Fatalf("%v", err)
			}
			pb.RegisterBounceServer(g, srv)
		},
	})
}

// settings are the main.cf parameters bounce reads.
type settings struct {
	myhostname, myorigin, mailName string
	notifyClasses                  map[string]bool
	bounceRcpt, twoBounceRcpt      string
	delayRcpt                      string
	doubleBounceSender             string // double_bounce_sender@myhostname
	sizeLimit                      int64
	delayWarning, maxLifetime      time.Duration
}

func loadSettings(c *config.Config) (*settings, error) {
	s := &settings{
		myhostname:    c.Get("myhostname"),
		myorigin:      c.Get("myorigin"),
		mailName:      c.Get("mail_name"),
		bounceRcpt:    c.Get("bounce_notice_recipient"),
		twoBounceRcpt: c.Get("2bounce_notice_recipient"),
		delayRcpt:     c.Get("delay_notice_recipient"),
		notifyClasses: map[string]bool{},
	}
	for _, cl := range c.List("notify_classes") {
		s.notifyClasses[strings.ToLower(cl)] = true
	}
	s.doubleBounceSender = c.Get("double_bounce_sender") + "@" + s.myhostname
	var err error
	if s.sizeLimit, err = c.Int("bounce_size_limit"); err != nil {
		return nil, err
	}
	if s.delayWarning, err = c.Time("delay_warning_time"); err != nil {
		return nil, err
	}
	if s.maxLifetime, err = c.Time("maximal_queue_lifetime"); err != nil {
		return nil, err
	}
	return s, nil
}

// server implements pb.BounceServer.
type server struct {
	pb.UnimplementedBounceServer
	set    *settings
	dir    string // queue_directory ("." in the daemon)
	logDir string // bounce, defer or trace (the service name)
	q      *queue.Queue

	// submitConn returns the connection to cleanup.
	submitConn func() (*grpc.ClientConn, error)
	// now is the clock (tests).
	now func() time.Time
	// info and warn log per-message lines.
	info, warn func(qid, format string, a ...any)

	mkdirOnce sync.Once
}

func newServer(c *config.Config, dir, serviceName string) (*server, error) {
	set, err := loadSettings(c)
	if err != nil {
		return nil, err
	}
	q := queue.FromConfig(dir, c)
	logDir := "bounce"
	switch serviceName {
	case "defer", "trace":
		logDir = serviceName
	}
	return &server{
		set:        set,
		dir:        dir,
		logDir:     logDir,
		q:          q,
		submitConn: func() (*grpc.ClientConn, error) { return rpc.Private(dir, "cleanup") },
		now:        time.Now,
		info:       log.QInfof,
		warn:       log.QWarningf,
	}, nil
}

// logPath returns the per-message log of id.
func (s *server) logPath(id string) string {
	return filepath.Join(s.dir, s.logDir, id)
}

func failed(format string, a ...any) *pb.BounceReply {
	return &pb.BounceReply{Status: 1, Text: fmt.Sprintf(format, a...)}
}

// Append records the results durably.
func (s *server) Append(ctx context.Context, req *pb.AppendRequest) (*pb.BounceReply, error) {
	if !queue.ValidID(req.QueueId) {
		return failed("bad queue ID %q", req.QueueId), nil
	}
	if len(req.Records) == 0 {
		return &pb.BounceReply{}, nil
	}
	recs := make([]*Record, len(req.Records))
	for i, r := range req.Records {
		recs[i] = &Record{
			Index: r.Index, Address: r.Address, Original: r.Original, ORCPT: r.Orcpt,
			Notify: r.Notify, Action: r.Action, Status: r.Dsn, Text: r.Text,
			DiagType: r.DiagType, DiagText: r.DiagText, Relay: r.Relay, TimeUS: r.TimeUs,
		}
		if recs[i].Action == "" {
			recs[i].Action = "failed"
		}
	}
	s.mkdirOnce.Do(func() { _ = os.MkdirAll(filepath.Join(s.dir, s.logDir), 0o700) })
	if err := appendLog(s.logPath(req.QueueId), recs); err != nil {
		s.warn(req.QueueId, "%v", err)
		return failed("%v", err), nil
	}
	return &pb.BounceReply{}, nil
}

// openOriginal opens the queue file a notification is about. A missing
// file is not an error (nil, nil): the notice is sent without it, as
// Postfix does ("bouncing a message does not have to be a perfect job").
func (s *server) openOriginal(req *pb.NotifyRequest) (*queue.File, error) {
	name := req.QueueName
	if name == "" {
		name = "active"
	}
	if !validState(name) {
		return nil, fmt.Errorf("bad queue name %q", name)
	}
	qf, err := queue.Open(s.q.Path(name, req.QueueId))
	if errors.Is(err, os.ErrNotExist) {
		s.warn(req.QueueId, "original message not found in %s queue", name)
		return nil, nil
	}
	return qf, err
}

func validState(name string) bool {
	switch name {
	case "incoming", "active", "deferred", "hold", "maildrop":
		return true
	}
	return false
}
