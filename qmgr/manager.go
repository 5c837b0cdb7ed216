package qmgr

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/trigger"
)

// Manager is the queue manager's core: it feeds messages from incoming/ and
// deferred/ into active/ (at most Settings.ActiveLimit at a time), has
// each delivered, and moves it on. It runs without master: tests build
// one over a temporary queue directory.
type Manager struct {
	Dir string       // queue_directory ("." in the daemon)
	Q   *queue.Queue // the queue at Dir
	S   *Settings
	// Log receives the manager's lines; nil means the default logger.
	Log *log.Logger
	// Now, when set, replaces time.Now (tests).
	Now func() time.Time
	// Resolver resolves recipients; nil means trivial-rewrite on
	// Dir/private/rewrite.
	Resolver Resolver

	active     chan struct{} // one token per message in active/
	rcptTokens chan struct{} // one per recipient in memory (qmgr_message_recipient_limit)
	transports *transports
	inflight   sync.WaitGroup

	incoming *scanner
	deferred *scanner
}

// A scanner is one state directory's feed loop. Requests to scan arrive
// at any time (triggers, timers); requests that arrive during a scan are
// merged into one more scan after it.
type scanner struct {
	state string
	kick  chan struct{}
	mu    sync.Mutex
	all   bool // next scan ignores the retry times (flush)
}

func newScanner(state string) *scanner {
	return &scanner{state: state, kick: make(chan struct{}, 1)}
}

func (sc *scanner) request(all bool) {
	if all {
		sc.mu.Lock()
		sc.all = true
		sc.mu.Unlock()
	}
	select {
	case sc.kick <- struct{}{}:
	default:
	}
}

func (sc *scanner) takeAll() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	all := sc.all
	sc.all = false
	return all
}

// NewManager returns a Manager for the queue q at dir.
func NewManager(dir string, q *queue.Queue, s *Settings) *Manager {
	return &Manager{
		Dir:        dir,
		Q:          q,
		S:          s,
		active:     make(chan struct{}, s.ActiveLimit),
		rcptTokens: make(chan struct{}, max(1, s.RecipientMemoryLimit)),
		transports: newTransports(s),
		incoming:   newScanner(queue.Incoming),
		deferred:   newScanner(queue.Deferred),
	}
}

func (m *Manager) log() *log.Logger {
	if m.Log != nil {
		return m.Log
	}
	return log.Default()
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Trigger handles the request bytes of a wakeup (pkg/trigger): 'I' and 'W'
// scan incoming/, 'D' deferred/, 'A' deferred/ ignoring the retry times,
// 'F' forgets suspended transports. Unknown bytes are ignored, as Postfix
// does.
func (m *Manager) Trigger(req []byte) {
	for _, b := range req {
		switch b {
		case trigger.Incoming, trigger.Wakeup:
			m.incoming.request(false)
		case trigger.Deferred:
			m.deferred.request(false)
		case trigger.ScanAll:
			m.deferred.request(true)
		case trigger.Flush:
			m.transports.forgetDead()
		}
	}
}

// Run is the scheduler loop: it takes back what a previous qmgr left in
// active/, then scans incoming/ on triggers and every
// IncomingScanInterval, and deferred/ on triggers and every
// queue_run_delay, until ctx is cancelled. Deliveries under way when ctx
// is cancelled are not interrupted; Run waits a little for them, and what
// is left in active/ is taken again by the next qmgr (done recipients
// stay done).
func (m *Manager) Run(ctx context.Context) error {
	m.Recover()
	var wg sync.WaitGroup
	for _, sc := range []struct {
		s     *scanner
		every time.Duration
	}{{m.incoming, m.S.IncomingScanInterval}, {m.deferred, m.S.QueueRunDelay}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.scanLoop(ctx, sc.s, sc.every)
		}()
	}
	m.incoming.request(false)
	m.deferred.request(false)
	wg.Wait()
	done := make(chan struct{})
	go func() { m.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	return nil
}

func (m *Manager) scanLoop(ctx context.Context, sc *scanner, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sc.kick:
		case <-t.C:
		}
		m.Scan(ctx, sc.state, sc.takeAll())
		t.Reset(every)
	}
}

// Recover moves every file left in active/ back to incoming/, as Postfix's
// qmgr does at start: a previous qmgr died while it had them. Their done
// recipients are marked in the files, so they are not delivered again.
func (m *Manager) Recover() {
	err := m.Q.Scan(queue.Active, func(id, path string) error {
		if _, err := m.Q.Move(id, queue.Active, queue.Incoming); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.log().Warningf("%s: cannot move from active to incoming: %v", id, err)
		}
		return nil
	})
	if err != nil {
		m.log().Warningf("scan active: %v", err)
	}
}

// Scan takes the messages of state (incoming or deferred) that are ready:
// complete files, and in deferred/ those whose retry time (mtime) has
// come, or all of them when all is set. It blocks while the active queue
// is full, so memory stays bounded whatever the size of the directory,
// and returns when the directory has been read through (the deliveries
// it started may still run: see Wait).
func (m *Manager) Scan(ctx context.Context, state string, all bool) {
	start := m.now()
	// ctime is set by the kernel's clock, whatever m.Now says.
	realStart := time.Now()
	err := m.Q.Scan(state, func(id, path string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			return nil // gone meanwhile (postsuper, another scan)
		}
		if st.Mode&0o100 == 0 {
			return nil // still being written
		}
		if state == queue.Deferred {
			mtime := time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
			ctime := time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
			if all {
				// A flush takes every message once: one that this scan
				// already tried and deferred again (its ctime changed
				// with the move) waits for its retry time.
				if !ctime.Before(realStart) && mtime.After(start) {
					return nil
				}
			} else if mtime.After(start) {
				return nil
			}
		}
		select {
		case m.active <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		apath, err := m.Q.Move(id, state, queue.Active)
		if err != nil {
			<-m.active
			if !errors.Is(err, os.ErrNotExist) {
				m.log().Warningf("%s: cannot move from %s to active: %v", id, state, err)
			}
			return nil
		}
		m.inflight.Add(1)
		go func() {
			defer func() { <-m.active; m.inflight.Done() }()
			m.process(id, apath, state)
		}()
		return nil
	})
	if err != nil && ctx.Err() == nil {
		m.log().Warningf("scan %s: %v", state, err)
	}
}

// Wait waits until every message taken so far has left active/ (or was
// left there by an error).
func (m *Manager) Wait() { m.inflight.Wait() }
