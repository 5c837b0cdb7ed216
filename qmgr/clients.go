package qmgr

import (
	"context"
	"fmt"

	"postern/pkg/rpc"
	pb "postern/proto"
)

// Resolver resolves recipient addresses to (transport, next hop,
// recipient), one result per address, in order: trivial-rewrite's
// Resolve. A caching client (pkg/rewrite) can take the place of the plain
// one.
type Resolver interface {
	Resolve(ctx context.Context, sender string, addrs []string) ([]*pb.Resolution, error)
}

// rewriteResolver calls trivial-rewrite on private/rewrite.
type rewriteResolver struct{ dir string }

func (r rewriteResolver) Resolve(ctx context.Context, sender string, addrs []string) ([]*pb.Resolution, error) {
	conn, err := rpc.Private(r.dir, "rewrite")
	if err != nil {
		return nil, err
	}
	reply, err := pb.NewTrivialRewriteClient(conn).Resolve(ctx, &pb.ResolveRequest{Sender: sender, Addresses: addrs})
	if err != nil {
		return nil, err
	}
	if len(reply.GetResults()) != len(addrs) {
		return nil, fmt.Errorf("trivial-rewrite returned %d results for %d addresses", len(reply.GetResults()), len(addrs))
	}
	return reply.GetResults(), nil
}

func (m *Manager) resolver() Resolver {
	if m.Resolver != nil {
		return m.Resolver
	}
	return rewriteResolver{m.Dir}
}

// bounce calls one method of the bounce service and turns a non-zero
// status into an error.
func (m *Manager) bounce(call func(ctx context.Context, c pb.BounceClient) (*pb.BounceReply, error)) error {
	conn, err := rpc.Private(m.Dir, "bounce")
	if err != nil {
		return err
	}
	ctx, cancel := rpc.Context()
	defer cancel()
	reply, err := call(ctx, pb.NewBounceClient(conn))
	if err != nil {
		return err
	}
	if reply.GetStatus() != 0 {
		return fmt.Errorf("bounce service status %d: %s", reply.GetStatus(), reply.GetText())
	}
	return nil
}

func (m *Manager) bounceAppend(id string, recs []*pb.StatusRecord) error {
	return m.bounce(func(ctx context.Context, c pb.BounceClient) (*pb.BounceReply, error) {
		return c.Append(ctx, &pb.AppendRequest{QueueId: id, Records: recs})
	})
}

func (m *Manager) bounceFlush(id string) error {
	return m.bounce(func(ctx context.Context, c pb.BounceClient) (*pb.BounceReply, error) {
		return c.Flush(ctx, &pb.NotifyRequest{QueueId: id, QueueName: "active"})
	})
}

func (m *Manager) bounceWarn(id string) error {
	return m.bounce(func(ctx context.Context, c pb.BounceClient) (*pb.BounceReply, error) {
		return c.Warn(ctx, &pb.NotifyRequest{QueueId: id, QueueName: "active"})
	})
}

// deliver sends one request to the agent of transport.
func (m *Manager) deliver(ctx context.Context, transport string, req *pb.DeliverRequest) (*pb.DeliverReply, error) {
	conn, err := rpc.Private(m.Dir, transport)
	if err != nil {
		return nil, err
	}
	return pb.NewDeliveryClient(conn).Deliver(ctx, req)
}
