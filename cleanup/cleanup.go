package cleanup

import (
	"google.golang.org/grpc"

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
			srv, err = NewServer(s.Config, ".", GRPCRewriter(pb.NewTrivialRewriteClient(conn)))
			return err
		},
		RegisterGRPC: func(s *service.Service, g *grpc.Server) {
			pb.RegisterCleanupServer(g, srv)
		},
	})
}
