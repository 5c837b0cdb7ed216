package qmgr

import (
	"context"
	"sync"
	"time"
)

// A transport is a master.cf delivery service (smtp, local, error ...) as
// the scheduler sees it: its recipient limit per request, a cap on
// parallel deliveries, its destination queues with their concurrency
// windows (feedback.go), and whether it is suspended because its agent
// could not be reached.
type transport struct {
	name            string
	recipientLimit  int
	destLimit       int // TRANSPORT_destination_concurrency_limit
	initConcurrency int // TRANSPORT_initial_destination_concurrency
	posFeedback     feedback
	negFeedback     feedback
	cohortLimit     int           // failed pseudo-cohorts that make a destination dead
	rateDelay       time.Duration // pause between deliveries to a destination
	slots           chan struct{} // parallel deliveries of the transport

	mu          sync.Mutex
	dests       map[string]*destQueue
	sweepAt     int       // sweep idle dead queues when dests grows past this
	deadUntil   time.Time // suspended until then (transport_retry_time)
	deadReason  string
	deliveryCtr int // requests made, for tests and statistics
}

// A destQueue is Postfix's queue: transport + next hop (or, for a
// transport with recipient limit 1, recipient@nexthop), the unit of
// concurrency. It lives while requests use it, and while it is dead (so
// that new recipients for it are deferred at once).
type destQueue struct {
	name   string
	refs   int // requests waiting for or holding a slot
	busy   int // deliveries under way (or in their rate delay pause)
	window int // concurrency window; 0 while dead

	success, failure, failCohorts float64 // feedback accumulators

	deadUntil           time.Time     // when a dead destination comes back
	deadDSN, deadReason string        // why it is dead
	wake                chan struct{} // closed when busy or window changes
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
		s := tt.s
		t = &transport{
			name:            name,
			recipientLimit:  s.RecipientLimit(name),
			destLimit:       s.ConcurrencyLimit(name),
			initConcurrency: s.InitialConcurrency(name),
			posFeedback:     s.Feedback(name, "positive"),
			negFeedback:     s.Feedback(name, "negative"),
			cohortLimit:     s.FailedCohortLimit(name),
			rateDelay:       s.RateDelay(name),
			slots:           make(chan struct{}, s.ProcessLimit()),
			dests:           map[string]*destQueue{},
			sweepAt:         1000,
		}
		if t.rateDelay > 0 {
			// Postfix: a rate delay means one delivery at a time.
			t.destLimit, t.initConcurrency = 1, 1
		}
		tt.m[name] = t
	}
	return t
}

// forgetDead clears every suspension of transports and destinations ('F'
// trigger: postqueue -f, sendmail -q).
func (tt *transports) forgetDead() {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	for _, t := range tt.m {
		t.mu.Lock()
		t.deadUntil = time.Time{}
		for name, d := range t.dests {
			if d.window == 0 {
				t.resume(d)
				if d.refs == 0 {
					delete(t.dests, name)
				}
				t.wakeLocked(d)
			}
		}
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

// errDead is what acquire returns for a dead destination.
type errDead struct{ dsn, reason string }

func (e *errDead) Error() string { return textSuspended + ": " + e.reason }

// deadLocked reports whether d is dead at now; a dead time that has
// ended brings it back. Called with t.mu held.
func (t *transport) deadLocked(d *destQueue, now time.Time) bool {
	if d.window != 0 {
		return false
	}
	if !now.Before(d.deadUntil) {
		t.resume(d)
		t.wakeLocked(d)
		return false
	}
	return true
}

// enqueue takes a reference on the destination queue for one delivery
// request, from when it is made until it is done, so that the queue and
// its window live while requests for it exist. For a dead destination it
// takes none and returns why: the recipients are then deferred without a
// delivery attempt.
func (t *transport) enqueue(queue string, now time.Time) (*destQueue, *errDead) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.queueLocked(queue, now)
	if t.deadLocked(d, now) {
		t.dropLocked(d)
		return nil, &errDead{d.deadDSN, d.deadReason}
	}
	return d, nil
}

func (t *transport) wakeLocked(d *destQueue) {
	close(d.wake)
	d.wake = make(chan struct{})
}

// queueLocked returns the destination queue, made when needed, with one
// more reference. Called with t.mu held.
func (t *transport) queueLocked(name string, now time.Time) *destQueue {
	d := t.dests[name]
	if d == nil {
		if len(t.dests) >= t.sweepAt {
			t.sweepLocked(now)
		}
		d = &destQueue{name: name, window: t.initConcurrency, wake: make(chan struct{})}
		t.dests[name] = d
	}
	d.refs++
	return d
}

// sweepLocked drops idle queues whose dead time is over, so that the
// table of dead destinations does not grow without end.
func (t *transport) sweepLocked(now time.Time) {
	for name, d := range t.dests {
		if d.refs == 0 && (d.window != 0 || !now.Before(d.deadUntil)) {
			delete(t.dests, name)
		}
	}
	t.sweepAt = max(1000, 2*len(t.dests))
}

// dropLocked gives back one reference; an idle live queue is forgotten,
// as Postfix forgets an empty queue (and its window).
func (t *transport) dropLocked(d *destQueue) {
	if d.refs--; d.refs == 0 && d.window != 0 && t.dests[d.name] == d {
		delete(t.dests, d.name)
	}
}

// acquire waits until the destination's window and the transport's
// process limit allow one more delivery of a request enqueued on d, and
// takes the slot; done gives it back with the delivery's outcome. For a
// dead destination it returns an *errDead at once (also to requests that
// were waiting when it died); the request's reference is then dropped,
// as it is on any error. now gives the scheduler's clock, which decides
// when a dead destination comes back.
func (t *transport) acquire(ctx context.Context, d *destQueue, now func() time.Time) error {
	t.mu.Lock()
	t.deliveryCtr++
	for {
		if t.deadLocked(d, now()) {
			err := &errDead{d.deadDSN, d.deadReason}
			t.dropLocked(d)
			t.mu.Unlock()
			return err
		}
		if d.busy < d.window {
			d.busy++
			break
		}
		wake := d.wake
		t.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			t.mu.Lock()
			t.dropLocked(d)
			t.mu.Unlock()
			return ctx.Err()
		}
		t.mu.Lock()
	}
	t.mu.Unlock()
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		t.mu.Lock()
		d.busy--
		t.wakeLocked(d)
		t.dropLocked(d)
		t.mu.Unlock()
		return ctx.Err()
	}
	return nil
}

// done ends a delivery to d: the feedback of its outcome adjusts the
// window (or declares the destination dead, until now + deadTime), and
// the slot is given back, after the rate delay when there is one. It
// reports whether this delivery made the destination dead.
func (t *transport) done(d *destQueue, o outcome, now time.Time, deadTime time.Duration, dsn, reason string) bool {
	<-t.slots
	t.mu.Lock()
	defer t.mu.Unlock()
	died := false
	switch o {
	case outcomeAlive:
		if t.rateDelay == 0 {
			t.alive(d)
		} else {
			d.failCohorts = 0
			if d.window == 0 {
				t.resume(d)
			}
		}
	case outcomeFailure:
		died = t.failed(d, now, deadTime, dsn, reason)
		if t.rateDelay > 0 && d.window > 0 {
			d.window = 1
		}
	}
	free := func() {
		d.busy--
		t.wakeLocked(d)
		t.dropLocked(d)
	}
	if t.rateDelay > 0 {
		t.wakeLocked(d)
		time.AfterFunc(t.rateDelay, func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			free()
		})
	} else {
		free()
	}
	return died
}

// window returns the current window of a destination queue (tests).
func (t *transport) window(dest string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.dests[dest]; d != nil {
		return d.window
	}
	return -1
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
