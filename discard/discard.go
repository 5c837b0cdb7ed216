package discard

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/delivery"
	"postern/pkg/log"
	"postern/pkg/service"
	pb "postern/proto"
)

// Main is the discard delivery agent.
func Main(args []string) int {
	return service.Main(args, &service.Daemon{
		PostJail: func(s *service.Service) error {
			delivery.Configure(s.Config)
			return nil
		},
		RegisterGRPC: func(s *service.Service, g *grpc.Server) {
			pb.RegisterDeliveryServer(g, &Server{})
		},
	})
}

// Server is the Delivery service of discard(8).
type Server struct {
	pb.UnimplementedDeliveryServer
	// Log receives the per-recipient lines; nil means the default logger.
	Log *log.Logger
	// Now, when set, replaces time.Now (tests).
	Now func() time.Time
}

// Deliver reports every recipient delivered, with the next hop as the
// text (an RFC 3463 code at its start is the status, default 2.0.0), as
// Postfix's discard(8) does.
func (s *Server) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverReply, error) {
	dsn, text := delivery.SplitDSN("2.0.0", req.GetNexthop())
	if dsn[0] != '2' {
		dsn = "2.0.0"
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	reply := &pb.DeliverReply{Results: make([]*pb.RecipientResult, 0, len(req.GetRecipients()))}
	for _, r := range req.GetRecipients() {
		res := &pb.RecipientResult{
			Index:  r.GetIndex(),
			Status: pb.DeliveryStatus_DELIVERY_SENT,
			Dsn:    dsn,
			Text:   text,
			Relay:  "none",
			Action: "delivered",
		}
		delivery.LogResultTiming(s.Log, req.GetQueueId(), req, r, res, delivery.Timing{}, now())
		reply.Results = append(reply.Results, res)
	}
	return reply, nil
}
