package cleanup

import (
	"google.golang.org/grpc"

	"postern/pkg/rewrite"
	"postern/pkg/rpc"
	"postern/pkg/service"
	pb "postern/proto"
)

// Main is the cleanup daemon: the Cleanup gRPC service on private/cleanup.
func Main(args []string) int {
	var srv *Server
	return service.Main(args, &service.Daemon{
		PostJail: func(s *service.Service) error {
			conn, err := rpc.Private(".", "rewrite")
			if err != nil {
				return err
			}
			// The shared caching client: most messages come from a few
			// senders to a few recipients, so most need no call at all.
			srv, err = NewServer(s.Config, ".", rewrite.NewClient(conn).Rewrite)
			return err
		},
		RegisterGRPC: func(s *service.Service, g *grpc.Server) {
			pb.RegisterCleanupServer(g, srv)
		},
	})
}
