package showq

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"postern/pkg/acl"
	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/queuelist"
	"postern/pkg/rpc"
	"postern/pkg/service"
	pb "postern/proto"
)

// Main runs the showq daemon.
func Main(args []string) int {
	var srv *server
	return service.Main(args, &service.Daemon{
		PostJail: func(s *service.Service) error {
			srv = &server{cfg: s.Config, q: queue.FromConfig(".", s.Config), owner: s.MailOwnerUID}
			return nil
		},
		GRPCOptions:  []grpc.ServerOption{grpc.Creds(rpc.Creds())},
		RegisterGRPC: func(s *service.Service, g *grpc.Server) { pb.RegisterShowqServer(g, srv) },
	})
}

type server struct {
	pb.UnimplementedShowqServer
	cfg   *config.Config
	q     *queue.Queue
	owner int
}

// Allowed reports whether uid may list the queue: root, mail_owner and the
// users authorized_mailq_users allows. On refusal it returns Postfix's
// text, "User NAME(UID) is not allowed to view the mail queue".
func Allowed(c *config.Config, uid, owner int) (refusal string, err error) {
	if uid == 0 || uid == owner {
		return "", nil
	}
	name := acl.UserName(uid)
	ok, err := acl.UserAllowed(c, "authorized_mailq_users", name)
	if err != nil || ok {
		return "", err
	}
	return fmt.Sprintf("User %s(%d) is not allowed to view the mail queue", name, uid), nil
}

func (s *server) List(_ *pb.ListRequest, stream pb.Showq_ListServer) error {
	peer, ok := rpc.Peer(stream.Context())
	if !ok {
		return status.Error(codes.PermissionDenied, "cannot tell who is calling")
	}
	refusal, err := Allowed(s.cfg, peer.UID, s.owner)
	if err != nil {
		log.Warningf("%v", err)
		return status.Error(codes.Internal, err.Error())
	}
	if refusal != "" {
		log.Warningf("%s", refusal)
		return status.Error(codes.PermissionDenied, refusal)
	}
	return queuelist.Walk(s.q, stream.Send)
}
