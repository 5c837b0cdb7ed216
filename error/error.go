package error

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/delivery"
	"postern/pkg/log"
	"postern/pkg/service"
	pb "postern/proto"
)

// Main is the error and retry delivery agent.
func Main(args []string) int {
	return service.Main(args, &service.Daemon{
		PostJail: func(s *service.Service) error {
			delivery.Configure(s.Config)
			return nil
		},
		RegisterGRPC: func(s *service.Service, g *grpc.Server) {
			pb.RegisterDeliveryServer(g, New(s.Name))
		},
	})
}

// Server is the Delivery service of error(8). Service is the master.cf
// service name it runs as: "retry" defers every recipient, anything else
// ("error") bounces them unless the next hop's status code is a 4.x.x one.
type Server struct {
	pb.UnimplementedDeliveryServer
	Service string
	// Log receives the per-recipient lines; nil means the default logger.
	Log *log.Logger
	// Now, when set, replaces time.Now (tests).
	Now func() time.Time
}

// New returns the server for the service name.
func New(serviceName string) *Server { return &Server{Service: serviceName} }

// Deliver answers every recipient with the next hop's text as reason.
func (s *Server) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverReply, error) {
	status, dsn, text := s.verdict(req.GetNexthop())
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	reply := &pb.DeliverReply{Results: make([]*pb.RecipientResult, 0, len(req.GetRecipients()))}
	for _, r := range req.GetRecipients() {
		res := &pb.RecipientResult{
			Index:  r.GetIndex(),
			Status: status,
			Dsn:    dsn,
			Text:   text,
			Relay:  "none",
		}
		delivery.LogResultTiming(s.Log, req.GetQueueId(), req, r, res, delivery.Timing{}, now())
		reply.Results = append(reply.Results, res)
	}
	return reply, nil
}

// verdict decides, as Postfix's error(8) does: the reason is the next hop
// text, an RFC 3463 code at its start is taken as the status (the default
// is 5.0.0 for a bounce, 4.0.0 for a deferral), and a code of the wrong
// class for the action is replaced by the default, as Postfix's
// bounce_append and defer_append do.
func (s *Server) verdict(nexthop string) (pb.DeliveryStatus, string, string) {
	code, text := delivery.SplitDSN("", nexthop)
	defer_ := s.Service == "retry" || (code != "" && code[0] == '4')
	if defer_ {
		if code == "" || code[0] != '4' {
			code = "4.0.0"
		}
		return pb.DeliveryStatus_DELIVERY_DEFER, code, text
	}
	if code == "" || code[0] != '5' {
		code = "5.0.0"
	}
	return pb.DeliveryStatus_DELIVERY_BOUNCE, code, text
}
