package qmgr

import (
	"context"
	"sync"
	"time"
)

// A transport is a master.cf delivery service (smtp, local, error ...) as
// the scheduler sees it: its recipient limit per request, a cap on
// parallel deliveries, its destination queues, and whether it is
// suspended because its agent could not be reached.
//
// This is the seat of the full scheduler to come: per-destination
// concurrency windows with slow start and dead-site detection live in
// destQueue, per-transport job lists and preemption in transport. For now a
// destination queue is a plain semaphore of the configured concurrency.
type transport struct {
	name           string
	recipientLimit int
	destLimit      int
	slots          chan struct{} // parallel deliveries of the transport

	mu          sync.Mutex
	dests       map[string]*destQueue
	deadUntil   time.Time // suspended until then (transport_retry_time)
	deadReason  string
	deliveryCtr int // requests made, for tests and statistics
}

// A destQueue is Postfix's queue: transport + next hop (or, for a
// transport with recipient limit 1, recipient@nexthop), the unit of
// concurrency.
type destQueue struct {
	name  string
	slots chan struct{}
	refs  int
}

// transports is the table of transports seen so far.
type transports struct {
	s  *Settings
	mu sync.Mutex
	m  map[string]*transport
}

func newTransports(s *Settings) *transports {
	return &transports{s: s, m: map[string]*transport{}}
}

func (tt *transports) get(name string) *transport {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	t := tt.m[name]
	if t == nil {
		t = &transport{
			name:           name,
			recipientLimit: tt.s.RecipientLimit(name),
			destLimit:      tt.s.ConcurrencyLimit(name),
			slots:          make(chan struct{}, tt.s.ProcessLimit()),
			dests:          map[string]*destQueue{},
		}
		tt.m[name] = t
	}
	return t
}

// forgetDead clears every suspension ('F' trigger: postqueue -f).
func (tt *transports) forgetDead() {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	for _, t := range tt.m {
		t.mu.Lock()
		t.deadUntil = time.Time{}
		t.mu.Unlock()
	}
}

// queueName is the destination queue of a recipient: the next hop, or
// recipient@nexthop when every request carries one recipient, so that
// concurrency then applies per recipient, as in Postfix.
func (t *transport) queueName(nexthop, recipient string) string {
	if t.recipientLimit == 1 {
		return recipient + "@" + nexthop
	}
	return nexthop
}

// acquire waits for a delivery slot of the transport and of the
// destination queue; release gives both back.
func (t *transport) acquire(ctx context.Context, dest string) (release func(), err error) {
	t.mu.Lock()
	d := t.dests[dest]
	if d == nil {
		d = &destQueue{name: dest, slots: make(chan struct{}, t.destLimit)}
		t.dests[dest] = d
	}
	d.refs++
	t.deliveryCtr++
	t.mu.Unlock()
	drop := func() {
		t.mu.Lock()
		if d.refs--; d.refs == 0 {
			delete(t.dests, dest)
		}
		t.mu.Unlock()
	}
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		<-d.slots
		drop()
		return nil, ctx.Err()
	}
	return func() {
		<-t.slots
		<-d.slots
		drop()
	}, nil
}

// suspend marks the transport unusable until the given time: its agent
// could not be reached. Recipients for it are deferred at once meanwhile.
// It reports whether the transport was usable before (log only once).
func (t *transport) suspend(until time.Time, reason string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.deadUntil.IsZero()
	if until.After(t.deadUntil) {
		t.deadUntil, t.deadReason = until, reason
	}
	return was
}

// suspended reports whether the transport is suspended at now, and why.
func (t *transport) suspended(now time.Time) (bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.deadUntil.IsZero() {
		return false, ""
	}
	if !now.Before(t.deadUntil) {
		t.deadUntil = time.Time{}
		return false, ""
	}
	return true, t.deadReason
}
