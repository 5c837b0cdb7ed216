package policy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	pb "postern/proto"

	"postern/pkg/rpc"
)

// Resolution classes (proto/mail.proto's ResolveFlag bits).
const (
	flagFail     = uint32(pb.ResolveFlag_RESOLVE_FLAG_FAIL)
	flagRouted   = uint32(pb.ResolveFlag_RESOLVE_FLAG_ROUTED)
	classLocal   = uint32(pb.ResolveFlag_RESOLVE_CLASS_LOCAL)
	classAlias   = uint32(pb.ResolveFlag_RESOLVE_CLASS_ALIAS)
	classVirtual = uint32(pb.ResolveFlag_RESOLVE_CLASS_VIRTUAL)
	classRelay   = uint32(pb.ResolveFlag_RESOLVE_CLASS_RELAY)
	classFinal   = classLocal | classAlias | classVirtual
)

// rewriteResolver asks trivial-rewrite over gRPC (private/rewrite) and
// keeps answers for a minute: smtpd resolves the same recipient for
// reject_unauth_destination, recipient validation and again per RCPT.
type rewriteResolver struct {
	queueDir string
	mu       sync.Mutex
	client   pb.TrivialRewriteClient
	cache    map[[2]string]cached
}

type cached struct {
	r    Resolution
	when time.Time
}

const resolveCacheTTL = time.Minute
const resolveCacheMax = 10000

func newRewriteResolver(queueDir string) *rewriteResolver {
	return &rewriteResolver{queueDir: queueDir, cache: map[[2]string]cached{}}
}

func (r *rewriteResolver) Resolve(ctx context.Context, sender, addr string) (Resolution, error) {
	key := [2]string{sender, strings.ToLower(addr)}
	r.mu.Lock()
	if e, ok := r.cache[key]; ok && time.Since(e.when) < resolveCacheTTL {
		r.mu.Unlock()
		return e.r, nil
	}
	if r.client == nil {
		conn, err := rpc.Private(r.queueDir, "rewrite")
		if err != nil {
			r.mu.Unlock()
			return Resolution{}, err
		}
		r.client = pb.NewTrivialRewriteClient(conn)
	}
	client := r.client
	r.mu.Unlock()

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 100*time.Second)
		defer cancel()
	}
	rep, err := client.Resolve(ctx, &pb.ResolveRequest{Sender: sender, Addresses: []string{addr}})
	if err != nil {
		return Resolution{}, err
	}
	if len(rep.Results) != 1 {
		return Resolution{}, errors.New("trivial-rewrite: malformed resolve reply")
	}
	res := rep.Results[0]
	out := Resolution{Transport: res.Transport, Nexthop: res.Nexthop, Recipient: res.Recipient, Flags: res.Flags}
	if out.Flags&flagFail == 0 {
		r.mu.Lock()
		if len(r.cache) >= resolveCacheMax {
			clear(r.cache)
		}
		r.cache[key] = cached{out, time.Now()}
		r.mu.Unlock()
	}
	return out, nil
}
