package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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
	"postern/pkg/submit"
	"postern/pkg/table"
	pb "postern/proto"
)

// Main is the local(8) daemon.
func Main(args []string) int {
	var srv *Server
	return service.Main(args, &service.Daemon{
		PreJail: func(s *service.Service) error {
			var err error
			// PreJail runs before the chdir to queue_directory.
			srv, err = NewServer(s.Config, s.Config.Get("queue_directory"))
			if err != nil {
				return err
			}
			srv.Relay = s.Name
			return nil
		},
		RegisterGRPC: func(s *service.Service, g *grpc.Server) {
			pb.RegisterDeliveryServer(g, srv)
		},
	})
}

// Submitter hands a new message to cleanup: the forwarding path. It returns
// cleanup's final reply (Status 0: queued as QueueId).
type Submitter func(ctx context.Context, env *pb.SubmitEnvelope, rcpts []*pb.Recipient, content io.Reader) (*pb.SubmitReply, error)

// Server is the Delivery service of local(8).
type Server struct {
	pb.UnimplementedDeliveryServer

	// Relay is the relay= value logged: the master.cf service name.
	Relay string
	// Submit forwards messages; the default submits through
	// QueueDir/private/cleanup.
	Submit Submitter
	// Now is the clock (tests).
	Now func() time.Time

	cfg      *config.Config
	p        *params
	queueDir string
	q        *queue.Queue

	mu      sync.Mutex
	aliases []table.Table

	defaultPrivs Creds
}

// NewServer reads local(8)'s parameters from c. queueDir is where the
// queue files and private/cleanup are ("." in the daemon, whose working
// directory is queue_directory).
func NewServer(c *config.Config, queueDir string) (*Server, error) {
	p, err := loadParams(c)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(queueDir)
	if err != nil {
		return nil, err
	}
	s := &Server{Relay: "local", cfg: c, p: p, queueDir: abs, q: queue.New(queueDir), Now: time.Now}
	pw, err := lookupUser(p.defaultPrivs)
	if err != nil {
		return nil, fmt.Errorf("unknown default_privs user name: %s", p.defaultPrivs)
	}
	if pw.uid == 0 {
		return nil, fmt.Errorf("default_privs user %s has privileged user ID", p.defaultPrivs)
	}
	s.defaultPrivs = Creds{UID: pw.uid, GID: pw.gid, Groups: []int{}}
	if err := s.openAliases(); err != nil {
		return nil, err
	}
	s.Submit = s.submitCleanup
	return s, nil
}

func (s *Server) openAliases() error {
	var ts []table.Table
	for _, spec := range s.p.aliasMaps {
		typ, name, _ := table.SplitSpec(spec)
		switch typ {
		case "nis":
			continue // Postfix's built-in default lists nis:mail.aliases
		case "proxy":
			spec = name // local(8) reads alias maps directly
		}
		t, err := table.Open(spec, 0, table.Warn(log.Warningf))
		if err != nil {
			log.Warningf("%s: %v", spec, err)
			continue
		}
		ts = append(ts, t)
	}
	s.aliases = ts
	return nil
}

// aliasTables returns the alias maps, reopened when one of them changed.
func (s *Server) aliasTables() []table.Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.aliases {
		if t.Changed() {
			old := s.aliases
			if err := s.openAliases(); err != nil {
				log.Warningf("reopening alias_maps: %v", err)
				s.aliases = old
				break
			}
			for _, o := range old {
				o.Close()
			}
			break
		}
	}
	return s.aliases
}

// Close releases the alias tables.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.aliases {
		t.Close()
	}
	s.aliases = nil
}

func (s *Server) submitCleanup(ctx context.Context, env *pb.SubmitEnvelope, rcpts []*pb.Recipient, content io.Reader) (*pb.SubmitReply, error) {
	conn, err := rpc.Private(s.queueDir, "cleanup")
	if err != nil {
		return nil, err
	}
	sub, err := submit.Begin(ctx, conn, env)
	if err != nil {
		var rej *submit.RejectedError
		if errors.As(err, &rej) {
			return rej.Reply, nil
		}
		return nil, err
	}
	if err := sub.AddRecipients(rcpts...); err != nil {
		sub.Abort()
		return nil, err
	}
	if _, err := io.Copy(sub, content); err != nil {
		sub.Abort()
		var rej *submit.RejectedError
		if errors.As(err, &rej) {
			return rej.Reply, nil
		}
		return nil, err
	}
	reply, err := sub.End()
	if err == nil && reply.Status == 0 && reply.QueueId == "" {
		reply.QueueId = sub.QueueID()
	}
	return reply, err
}

// Deliver delivers a message to each recipient of the request, logs one
// result line per final destination and answers per recipient.
func (s *Server) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverReply, error) {
	reply := &pb.DeliverReply{}
	fail := func(dsn, text string) (*pb.DeliverReply, error) {
		for _, r := range req.Recipients {
			res := &pb.RecipientResult{Index: r.Index, Status: pb.DeliveryStatus_DELIVERY_DEFER, Dsn: dsn, Text: text, Relay: s.Relay}
			s.logResult(req, r, res)
			reply.Results = append(reply.Results, res)
		}
		return reply, nil
	}
	if !queue.ValidID(req.QueueId) {
		return nil, fmt.Errorf("bad queue ID %q", req.QueueId)
	}
	state := req.QueueName
	if state == "" {
		state = queue.Active
	}
	path := s.q.Path(state, req.QueueId)
	qf, err := queue.Open(path)
	if err != nil {
		if errors.Is(err, queue.ErrCorrupt) {
			s.q.MoveToCorrupt(path, err)
		}
		log.QWarningf(req.QueueId, "cannot open queue file %s: %v", path, err)
		return fail("4.3.0", "mail system configuration error")
	}
	defer qf.Close()
	env, err := qf.Envelope()
	if err != nil {
		if errors.Is(err, queue.ErrCorrupt) {
			qf.Close()
			s.q.MoveToCorrupt(path, err)
		}
		log.QWarningf(req.QueueId, "%s: %v", path, err)
		return fail("4.3.0", "mail system configuration error")
	}
	loops, err := deliveredTo(qf.Content())
	if err != nil {
		return fail("4.3.0", "error reading message: "+err.Error())
	}
	for _, r := range req.Recipients {
		d := &delivery{s: s, ctx: ctx, req: req, rcpt: r, qf: qf, env: env, loops: loops, dup: map[string]bool{}}
		reply.Results = append(reply.Results, d.run())
	}
	return reply, nil
}

// deliveredTo collects the Delivered-To: values of the message header
// (lowercased, at most 1000 headers), for loop detection.
func deliveredTo(r io.Reader) (map[string]bool, error) {
	m := map[string]bool{}
	br := bufio.NewReader(r)
	var cur strings.Builder
	n := 0
	flush := func() {
		h := cur.String()
		cur.Reset()
		if name, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(strings.TrimRight(name, " \t"), "Delivered-To") {
			m[strings.ToLower(strings.TrimSpace(v))] = true
		}
	}
	for n < 1000 {
		line, err := br.ReadString('\n')
		if line == "" && err != nil {
			break
		}
		l := strings.TrimRight(line, "\r\n")
		if l == "" {
			break
		}
		if (l[0] == ' ' || l[0] == '\t') && cur.Len() > 0 {
			cur.WriteString(l)
			continue
		}
		flush()
		n++
		cur.WriteString(l)
		if err != nil {
			break
		}
	}
	flush()
	return m, nil
}

// devMode reports whether postern runs without root: local then delivers
// only as the user running it.
func devMode() bool { return os.Geteuid() != 0 }
