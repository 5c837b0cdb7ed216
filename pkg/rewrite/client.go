package rewrite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "postern/proto"
)

// Cache bounds of a Client.
const (
	CacheSize = 10000
	CacheTTL  = 60 * time.Second
)

// Client calls the trivial-rewrite service (private/rewrite) for other
// daemons and caches the answers, so that the addresses of a message cost
// at most one call per batch, and none when they were seen within
// CacheTTL. The cache holds at most CacheSize entries; a reload of main.cf
// restarts trivial-rewrite, and the TTL bounds how long a client keeps
// using the old answers. Results with FlagFail are not cached.
//
// A Client is safe for concurrent use.
type Client struct {
	rpc pb.TrivialRewriteClient

	// SenderIndependent makes Resolve cache by recipient alone. Set it
	// when the configuration has no sender_dependent_relayhost_maps and
	// no sender_dependent_default_transport_maps (see
	// SenderIndependent); otherwise the sender is part of the key.
	SenderIndependent bool

	mu    sync.Mutex
	cache map[string]cacheEntry
	size  int
	ttl   time.Duration
	now   func() time.Time
}

type cacheEntry struct {
	rewritten string
	res       *pb.Resolution
	expires   time.Time
}

// NewClient returns a caching client on conn (rpc.Private(".", "rewrite")
// in a daemon).
func NewClient(conn *grpc.ClientConn) *Client {
	return newClient(pb.NewTrivialRewriteClient(conn))
}

func newClient(c pb.TrivialRewriteClient) *Client {
	return &Client{rpc: c, cache: make(map[string]cacheEntry), size: CacheSize, ttl: CacheTTL, now: time.Now}
}

// SenderIndependent reports whether resolution in the configuration of
// cfgGet (a config.Config's Get) does not depend on the sender.
func SenderIndependent(cfgGet func(string) string) bool {
	return cfgGet("sender_dependent_relayhost_maps") == "" && cfgGet("sender_dependent_default_transport_maps") == ""
}

// Rewrite canonicalises addrs in the rewriting context ("local" or
// "remote"); the result has one address per input, in order.
func (c *Client) Rewrite(ctx context.Context, rwContext string, addrs []string) ([]string, error) {
	out := make([]string, len(addrs))
	var miss []string
	missAt := map[string][]int{}
	now := c.now()
	c.mu.Lock()
	for i, a := range addrs {
		k := "w\x00" + rwContext + "\x00" + a
		if e, ok := c.cache[k]; ok && now.Before(e.expires) {
			out[i] = e.rewritten
			continue
		}
		if _, dup := missAt[a]; !dup {
			miss = append(miss, a)
		}
		missAt[a] = append(missAt[a], i)
	}
	c.mu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	reply, err := c.rpc.Rewrite(ctx, &pb.RewriteRequest{Context: rwContext, Addresses: miss})
	if err != nil {
		return nil, err
	}
	if len(reply.Addresses) != len(miss) {
		return nil, fmt.Errorf("trivial-rewrite: %d answers to %d addresses", len(reply.Addresses), len(miss))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	exp := c.now().Add(c.ttl)
	for j, a := range miss {
		for _, i := range missAt[a] {
			out[i] = reply.Addresses[j]
		}
		c.put("w\x00"+rwContext+"\x00"+a, cacheEntry{rewritten: reply.Addresses[j], expires: exp})
	}
	return out, nil
}

// Resolve resolves addrs for the envelope sender (may be ""); the result
// has one Resolution per input, in order, each a fresh copy the caller may
// keep.
func (c *Client) Resolve(ctx context.Context, sender string, addrs []string) ([]*pb.Resolution, error) {
	prefix := "v\x00"
	if !c.SenderIndependent {
		prefix += sender + "\x00"
	}
	out := make([]*pb.Resolution, len(addrs))
	var miss []string
	missAt := map[string][]int{}
	now := c.now()
	c.mu.Lock()
	for i, a := range addrs {
		if e, ok := c.cache[prefix+a]; ok && now.Before(e.expires) {
			out[i] = clone(e.res)
			continue
		}
		if _, dup := missAt[a]; !dup {
			miss = append(miss, a)
		}
		missAt[a] = append(missAt[a], i)
	}
	c.mu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	reply, err := c.rpc.Resolve(ctx, &pb.ResolveRequest{Sender: sender, Addresses: miss})
	if err != nil {
		return nil, err
	}
	if len(reply.Results) != len(miss) {
		return nil, fmt.Errorf("trivial-rewrite: %d answers to %d addresses", len(reply.Results), len(miss))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	exp := c.now().Add(c.ttl)
	for j, a := range miss {
		r := reply.Results[j]
		if r == nil {
			return nil, status.Error(codes.Internal, "trivial-rewrite: empty resolution")
		}
		for _, i := range missAt[a] {
			out[i] = clone(r)
		}
		if r.Flags&FlagFail == 0 {
			c.put(prefix+a, cacheEntry{res: clone(r), expires: exp})
		}
	}
	return out, nil
}

func clone(r *pb.Resolution) *pb.Resolution {
	return &pb.Resolution{Transport: r.Transport, Nexthop: r.Nexthop, Recipient: r.Recipient, Flags: r.Flags}
}

// put stores an entry; c.mu is held. A full cache first loses its expired
// entries, then arbitrary ones (map order) down to 90% of its size.
func (c *Client) put(k string, e cacheEntry) {
	if len(c.cache) >= c.size {
		now := c.now()
		for key, v := range c.cache {
			if !now.Before(v.expires) {
				delete(c.cache, key)
			}
		}
		for key := range c.cache {
			if len(c.cache) < c.size*9/10 {
				break
			}
			delete(c.cache, key)
		}
	}
	c.cache[k] = e
}

// Purge empties the cache.
func (c *Client) Purge() {
	c.mu.Lock()
	clear(c.cache)
	c.mu.Unlock()
}

// Server is the TrivialRewrite gRPC service on a Rewriter.
type Server struct {
	pb.UnimplementedTrivialRewriteServer
	R *Rewriter
	// OnRequest, when set, is called after every request (a daemon
	// counts its work).
	OnRequest func()
}

// MaxBatch is the largest number of addresses one request may carry.
const MaxBatch = 100000

// Rewrite implements pb.TrivialRewriteServer.
func (s *Server) Rewrite(ctx context.Context, req *pb.RewriteRequest) (*pb.RewriteReply, error) {
	if s.OnRequest != nil {
		defer s.OnRequest()
	}
	switch req.Context {
	case "", ContextLocal, ContextRemote:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unknown context: %q", req.Context)
	}
	if len(req.Addresses) > MaxBatch {
		return nil, status.Errorf(codes.InvalidArgument, "too many addresses: %d", len(req.Addresses))
	}
	out := make([]string, len(req.Addresses))
	for i, a := range req.Addresses {
		out[i] = s.R.Rewrite(req.Context, a)
	}
	return &pb.RewriteReply{Addresses: out}, nil
}

// Resolve implements pb.TrivialRewriteServer. A lookup failure is not an
// RPC error: the Resolution carries FlagFail.
func (s *Server) Resolve(ctx context.Context, req *pb.ResolveRequest) (*pb.ResolveReply, error) {
	if s.OnRequest != nil {
		defer s.OnRequest()
	}
	if len(req.Addresses) > MaxBatch {
		return nil, status.Errorf(codes.InvalidArgument, "too many addresses: %d", len(req.Addresses))
	}
	out := make([]*pb.Resolution, len(req.Addresses))
	for i, a := range req.Addresses {
		res, _ := s.R.Resolve(req.Sender, a)
		out[i] = res.Proto()
	}
	return &pb.ResolveReply{Results: out}, nil
}
