package flush

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"postern/pkg/acl"
	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/rpc"
	"postern/pkg/service"
	"postern/pkg/table"
	"postern/pkg/trigger"
	pb "postern/proto"
)

// Main runs the flush daemon.
func Main(args []string) int {
	var srv *Server
	return service.Main(args, &service.Daemon{
		PostJail: func(s *service.Service) error {
			srv = &Server{Config: s.Config, Queue: queue.FromConfig(".", s.Config), QueueDir: ".", Owner: s.MailOwnerUID}
			return nil
		},
		GRPCOptions:  []grpc.ServerOption{grpc.Creds(rpc.Creds())},
		RegisterGRPC: func(s *service.Service, g *grpc.Server) { pb.RegisterFlushServer(g, srv) },
	})
}

// Server is the Flush service.
type Server struct {
	pb.UnimplementedFlushServer
	Config   *config.Config
	Queue    *queue.Queue
	QueueDir string // for the qmgr and pickup triggers
	Owner    int    // mail_owner's uid
}

// Flush serves one request.
func (s *Server) Flush(ctx context.Context, req *pb.FlushRequest) (*pb.FlushReply, error) {
	peer, ok := rpc.Peer(ctx)
	if !ok {
		return nil, status.Error(codes.PermissionDenied, "cannot tell who is calling")
	}
	if peer.UID != 0 && peer.UID != s.Owner {
		name := acl.UserName(peer.UID)
		allowed, err := acl.UserAllowed(s.Config, "authorized_flush_users", name)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if !allowed {
			msg := fmt.Sprintf("User %s(%d) is not allowed to flush the mail queue", name, peer.UID)
			log.Warningf("%s", msg)
			return nil, status.Error(codes.PermissionDenied, msg)
		}
	}
	switch req.Kind {
	case pb.FlushRequest_ALL:
		trigger.Send(s.QueueDir, "public/qmgr", trigger.Flush, trigger.ScanAll, trigger.Incoming)
		trigger.Send(s.QueueDir, "public/pickup", trigger.Wakeup)
	case pb.FlushRequest_ID:
		if !queue.ValidID(req.Arg) {
			return &pb.FlushReply{}, nil
		}
		if _, err := s.Queue.Move(req.Arg, queue.Deferred, queue.Incoming); err == nil {
			trigger.Send(s.QueueDir, "public/qmgr", trigger.Incoming)
		}
	case pb.FlushRequest_SITE:
		site := strings.ToLower(req.Arg)
		ok, err := s.served(site)
		if err != nil {
			return &pb.FlushReply{Status: 1, Text: err.Error()}, nil
		}
		if !ok {
			text := fmt.Sprintf("Flush service is not configured for destination \"%s\"", req.Arg)
			log.Warningf("%s", text)
			return &pb.FlushReply{Status: 1, Text: text}, nil
		}
		if n := s.flushSite(site); n > 0 {
			trigger.Send(s.QueueDir, "public/qmgr", trigger.Incoming)
		}
	}
	return &pb.FlushReply{}, nil
}

// served reports whether fast_flush_domains matches site.
func (s *Server) served(site string) (bool, error) {
	parent := false
	for _, p := range s.Config.List("parent_domain_matches_subdomains") {
		if p == "fast_flush_domains" {
			parent = true
		}
	}
	for _, e := range s.Config.List("fast_flush_domains") {
		if strings.Contains(e, ":") && !strings.HasPrefix(e, "[") {
			t, err := table.Open(e, 0)
			if err != nil {
				return false, fmt.Errorf("fast_flush_domains: %v", err)
			}
			found := false
			for d := site; d != "" && !found; {
				_, found, err = t.Lookup(d)
				if err != nil || !parent {
					break
				}
				i := strings.IndexByte(d, '.')
				if i < 0 {
					break
				}
				d = d[i+1:]
			}
			t.Close()
			if err != nil {
				return false, fmt.Errorf("fast_flush_domains: %s: table lookup problem", e)
			}
			if found {
				return true, nil
			}
			continue
		}
		e = strings.ToLower(e)
		switch {
		case site == e:
			return true, nil
		case strings.HasPrefix(e, ".") && strings.HasSuffix(site, e):
			return true, nil
		case parent && strings.HasSuffix(site, "."+e):
			return true, nil
		}
	}
	return false, nil
}

// flushSite moves the deferred messages with a pending recipient at site
// to incoming and returns how many.
func (s *Server) flushSite(site string) int {
	var ids []string
	// Collect in batches so that a rename never races the directory walk.
	flushBatch := func() {
		for _, id := range ids {
			if _, err := s.Queue.Move(id, queue.Deferred, queue.Incoming); err != nil {
				log.Warningf("flush %s: %v", id, err)
			}
		}
	}
	n := 0
	s.Queue.Scan(queue.Deferred, func(id, path string) error {
		qf, err := queue.Open(path)
		if err != nil {
			return nil
		}
		match := false
		qf.Recipients(func(r queue.Recipient) error {
			if !r.Done {
				if at := strings.LastIndexByte(r.Address, '@'); at >= 0 && strings.EqualFold(r.Address[at+1:], site) {
					match = true
				}
			}
			return nil
		})
		qf.Close()
		if match {
			ids = append(ids, id)
			n++
			if len(ids) >= 1000 {
				flushBatch()
				ids = ids[:0]
			}
		}
		return nil
	})
	flushBatch()
	return n
}
