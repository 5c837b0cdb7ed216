package rewrite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"

	pb "postern/proto"
)

// direct is a pb.TrivialRewriteClient that calls a Server in-process and
// counts the calls.
type direct struct {
	s        *Server
	rewrites int
	resolves int
}

func (d *direct) Rewrite(ctx context.Context, in *pb.RewriteRequest, _ ...grpc.CallOption) (*pb.RewriteReply, error) {
	d.rewrites++
	return d.s.Rewrite(ctx, in)
}

func (d *direct) Resolve(ctx context.Context, in *pb.ResolveRequest, _ ...grpc.CallOption) (*pb.ResolveReply, error) {
	d.resolves++
	return d.s.Resolve(ctx, in)
}

func TestClientCache(t *testing.T) {
	r := newRewriter(t)
	d := &direct{s: &Server{R: r}}
	c := newClient(d)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	ctx := context.Background()

	got, err := c.Rewrite(ctx, "local", []string{"a", "b", "a"})
	if err != nil || len(got) != 3 || got[0] != "a@pfref.test" || got[1] != "b@pfref.test" || got[2] != "a@pfref.test" {
		t.Fatalf("Rewrite = %q, %v", got, err)
	}
	if _, err := c.Rewrite(ctx, "local", []string{"b", "a"}); err != nil || d.rewrites != 1 {
		t.Errorf("cached rewrite made a call: %d calls, %v", d.rewrites, err)
	}
	// The context is part of the key.
	if got, _ := c.Rewrite(ctx, "remote", []string{"a"}); got[0] != "a" || d.rewrites != 2 {
		t.Errorf("remote: %q after %d calls", got, d.rewrites)
	}

	res, err := c.Resolve(ctx, "s@x.test", []string{"pfa@pfref.test", "x@example.com"})
	if err != nil || res[0].Transport != "local" || res[1].Transport != "smtp" || d.resolves != 1 {
		t.Fatalf("Resolve = %v, %v", res, err)
	}
	res[0].Transport = "scribbled"
	res2, _ := c.Resolve(ctx, "s@x.test", []string{"pfa@pfref.test"})
	if d.resolves != 1 || res2[0].Transport != "local" {
		t.Errorf("cached resolve: %d calls, %v", d.resolves, res2)
	}
	// Another sender: a call, unless SenderIndependent.
	c.Resolve(ctx, "t@x.test", []string{"pfa@pfref.test"})
	if d.resolves != 2 {
		t.Errorf("other sender: %d calls", d.resolves)
	}
	c.SenderIndependent = true
	c.Resolve(ctx, "s@x.test", []string{"pfa@pfref.test"})
	c.Resolve(ctx, "u@x.test", []string{"pfa@pfref.test"})
	if d.resolves != 3 {
		t.Errorf("sender independent: %d calls", d.resolves)
	}

	// Expiry.
	now = now.Add(CacheTTL)
	c.Rewrite(ctx, "local", []string{"a"})
	if d.rewrites != 3 {
		t.Errorf("expired entry was used: %d calls", d.rewrites)
	}
	if !SenderIndependent(func(string) string { return "" }) ||
		SenderIndependent(func(n string) string { return map[string]string{"sender_dependent_relayhost_maps": "x"}[n] }) {
		t.Error("SenderIndependent")
	}
}

func TestClientFailNotCached(t *testing.T) {
	r := newRewriter(t, "transport_maps", "fail:broken")
	d := &direct{s: &Server{R: r}}
	c := newClient(d)
	for i := 0; i < 2; i++ {
		res, err := c.Resolve(context.Background(), "", []string{"x@example.com"})
		if err != nil || res[0].Flags&FlagFail == 0 {
			t.Fatalf("Resolve = %v, %v", res, err)
		}
	}
	if d.resolves != 2 {
		t.Errorf("a failed lookup was cached: %d calls", d.resolves)
	}
}

func TestClientCacheBound(t *testing.T) {
	r := newRewriter(t)
	c := newClient(&direct{s: &Server{R: r}})
	c.size = 100
	for i := 0; i < 1000; i++ {
		if _, err := c.Rewrite(context.Background(), "local", []string{fmt.Sprint("u", i)}); err != nil {
			t.Fatal(err)
		}
		if len(c.cache) > c.size {
			t.Fatalf("cache grew to %d", len(c.cache))
		}
	}
	c.Purge()
	if len(c.cache) != 0 {
		t.Error("Purge left entries")
	}
}

func TestServerBadContext(t *testing.T) {
	s := &Server{R: newRewriter(t)}
	if _, err := s.Rewrite(context.Background(), &pb.RewriteRequest{Context: "bogus", Addresses: []string{"a"}}); err == nil {
		t.Error("unknown context accepted")
	}
}
