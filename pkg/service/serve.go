package service

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/log"
)

// tracker counts sessions for max_use, max_idle and the drain.
type tracker struct {
	s        *Service
	maxUse   int
	mu       sync.Mutex
	active   int
	uses     int
	last     time.Time // end of the last session, or start
	limit    chan struct{}
	idle     chan struct{} // a value when active drops to zero
	limitHit bool
}

func newTracker(s *Service, maxUse int) *tracker {
	return &tracker{s: s, maxUse: maxUse, last: time.Now(),
		limit: make(chan struct{}), idle: make(chan struct{}, 1)}
}

// acquire records a new session and reports whether max_use is reached:
// the acceptor that gets true stops accepting. A connection already
// accepted is always served, even beyond max_use (another listener's
// acceptor may have taken it meanwhile): dropping it would lose a client.
func (t *tracker) acquire() (last bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active++
	t.uses++
	if t.uses == 1 {
		go t.s.tellMaster(StatusUsed)
	}
	if t.maxUse > 0 && t.uses >= t.maxUse && !t.limitHit {
		t.limitHit = true
		close(t.limit)
	}
	return t.limitHit
}

// done reports whether max_use was reached.
func (t *tracker) done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limitHit
}

func (t *tracker) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active--
	t.last = time.Now()
	if t.active == 0 {
		select {
		case t.idle <- struct{}{}:
		default:
		}
	}
}

// idleFor returns how long no session has been active (0 while one is).
func (t *tracker) idleFor() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.active > 0 {
		return 0
	}
	return time.Since(t.last)
}

func (t *tracker) activeCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active
}

// trackedConn releases its session once, on Close.
type trackedConn struct {
	net.Conn
	once sync.Once
	t    *tracker
}

// Unwrap gives the socket (postern/pkg/rpc reads SO_PEERCRED from it).
func (c *trackedConn) Unwrap() net.Conn { return c.Conn }

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.t.release)
	return err
}

// trackedListener counts gRPC connections as sessions.
type trackedListener struct {
	net.Listener
	t *tracker
}

func (l *trackedListener) Accept() (net.Conn, error) {
	if l.t.done() {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.t.acquire()
	return &trackedConn{Conn: c, t: l.t}, nil
}

// serve runs the daemon until it must exit and returns the exit status.
func (s *Service) serve(d *Daemon) int {
	maxUse, maxIdle := 0, time.Duration(0)
	if !d.LongLived {
		if n, err := s.Config.Int("max_use"); err == nil && n > 0 {
			maxUse = int(n)
		}
		if t, err := s.Config.Time("max_idle"); err == nil && t > 0 {
			maxIdle = t
		}
	}
	drainLimit, err := s.Config.Time("daemon_timeout")
	if err != nil || drainLimit <= 0 {
		drainLimit = time.Hour
	}
	t := newTracker(s, maxUse)

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	// The sessions' context: cancelled on stop.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	masterGone := make(chan struct{})
	go func() {
		buf := make([]byte, 16)
		for {
			if _, err := s.status.Read(buf); err != nil {
				close(masterGone)
				return
			}
		}
	}()

	wakeups := make(chan struct{}, 1)
	if d.Wakeup != nil {
		go func() {
			for range wakeups {
				d.Wakeup(s)
			}
		}()
	}

	var g *grpc.Server
	var acceptors, sessions sync.WaitGroup
	switch {
	case d.RegisterGRPC != nil && (d.HandleConn == nil || s.Type != "inet"):
		g = grpc.NewServer(d.GRPCOptions...)
		d.RegisterGRPC(s, g)
		for _, l := range s.listeners {
			go g.Serve(&trackedListener{Listener: l, t: t})
		}
	case d.HandleConn != nil:
		for _, l := range s.listeners {
			acceptors.Add(1)
			go func() {
				defer acceptors.Done()
				s.acceptLoop(ctx, l, t, d, &sessions)
			}()
		}
	}

	runDone := make(chan error, 1)
	if d.Run != nil {
		go func() { runDone <- d.Run(ctx, s) }()
	}

	s.tellMaster(StatusReady)

	var tick <-chan time.Time
	if maxIdle > 0 {
		tk := time.NewTicker(min(maxIdle/4+time.Millisecond, time.Second))
		defer tk.Stop()
		tick = tk.C
	}
	status := 0
	stop := false // SIGTERM semantics: cancel sessions, short grace
loop:
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				select {
				case wakeups <- struct{}{}:
				default:
				}
			case syscall.SIGHUP:
				break loop
			default:
				stop = true
				break loop
			}
		case <-masterGone:
			stop = true
			break loop
		case <-t.limit:
			break loop
		case <-tick:
			if t.idleFor() >= maxIdle {
				break loop
			}
		case err := <-runDone:
			if err != nil {
				log.Errorf("%v", err)
				status = 1
			}
			stop = true
			break loop
		}
	}

	// Stop accepting: close our copies of the listeners (master keeps its
	// own), then let the sessions finish.
	grace := drainLimit
	if stop {
		grace = StopGrace
		cancel()
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	done := make(chan struct{})
	if g != nil {
		go func() { g.GracefulStop(); close(done) }()
	} else {
		for _, l := range s.listeners {
			l.Close()
		}
		// An acceptor may hold a connection it has not counted yet:
		// wait for the acceptors to return before the sessions.
		go func() { acceptors.Wait(); sessions.Wait(); close(done) }()
	}
	for {
		select {
		case <-done:
			return status
		case <-deadline.C:
			if g != nil {
				g.Stop()
			}
			if n := t.activeCount(); n > 0 && !stop {
				log.Warningf("exiting with %d session(s) still active after %s", n, grace)
			}
			return status
		case sig := <-sigs:
			if (sig == syscall.SIGTERM || sig == syscall.SIGINT) && !stop {
				// A drain turned into a stop.
				stop = true
				cancel()
				deadline.Reset(StopGrace)
			}
		case <-masterGone:
			masterGone = nil
			if !stop {
				stop = true
				cancel()
				deadline.Reset(StopGrace)
			}
		}
	}
}

func (s *Service) acceptLoop(ctx context.Context, l net.Listener, t *tracker, d *Daemon, sessions *sync.WaitGroup) {
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if !errors.Is(err, net.ErrClosed) {
				log.Warningf("accept: %v", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return
		}
		last := t.acquire()
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			tc := &trackedConn{Conn: c, t: t}
			defer tc.Close()
			defer func() {
				if r := recover(); r != nil {
					os.Stderr.Write(debug.Stack())
					log.Panicf("%v", r)
				}
			}()
			d.HandleConn(ctx, s, tc)
		}()
		if last {
			return
		}
	}
}
