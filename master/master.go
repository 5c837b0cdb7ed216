package master

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"postern/pkg/config"
	"postern/pkg/instance"
	"postern/pkg/log"
	"postern/pkg/service"
)

// stopWait is how long master waits for its children after SIGTERM before
// it kills what is left.
const stopWait = service.StopGrace + 5*time.Second

// crashLimit abnormal exits of a ready daemon within crashWindow throttle
// the service like a failed start-up.
const (
	crashLimit  = 5
	crashWindow = 60 * time.Second
)

type master struct {
	dir       string
	cfg       *config.Config
	owners    instance.Owners
	services  map[string]*svc
	order     []string
	events    chan any
	throttle  time.Duration
	stopping  bool
	nextGen   int
	childEnv  []string
	childOut  *os.File
	lock      *instance.Lock
	readyPipe *os.File
}

// svc is one master.cf service and its processes.
type svc struct {
	ent       *config.Service
	path      string // program in daemon_directory
	spec      listenSpec
	listeners []net.Listener
	procs     map[int]*proc
	used      bool
	removed   bool
	throttled bool
	crashes   []time.Time
	watchGen  int        // generation of the current on-demand watch, 0 = none
	watching  []*os.File // what the watch waits on
	wakeStop  chan struct{}
}

type proc struct {
	s        *svc
	cmd      *exec.Cmd
	pid      int
	ready    bool
	draining bool
	status   net.Conn
}

// Events handled by the master's loop.
type (
	exitEvent struct {
		p     *proc
		state *os.ProcessState
	}
	statusEvent struct {
		p *proc
		b byte
	}
	readableEvent struct {
		s   *svc
		gen int
	}
	unthrottleEvent struct{ s *svc }
	wakeupEvent     struct{ s *svc }
)

func (m *master) fatal(format string, a ...any) {
	text := fmt.Sprintf(format, a...)
	if m.readyPipe != nil {
		m.readyPipe.WriteString(text + "\n")
		m.readyPipe.Close()
		m.readyPipe = nil
	}
	log.Fatalf("%s", text)
}

// loadConfig reads main.cf and master.cf.
func loadConfig(dir string) (*config.Config, []*config.Service, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	ents, err := config.ParseMasterCF(filepath.Join(dir, "master.cf"))
	if err != nil {
		return nil, nil, err
	}
	return cfg, ents, nil
}

func (m *master) applyParams() {
	m.throttle = 60 * time.Second
	if t, err := m.cfg.Time("service_throttle_time"); err == nil && t > 0 {
		m.throttle = t
	}
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "MAIL_CONFIG=") && !strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			env = append(env, e)
		}
	}
	m.childEnv = append(env, "MAIL_CONFIG="+m.dir)
}

// programPath returns where the program of a master.cf entry lives.
func (m *master) programPath(ent *config.Service) string {
	if strings.Contains(ent.Command, "/") {
		return ent.Command
	}
	return filepath.Join(m.cfg.Get("daemon_directory"), ent.Command)
}

// addService opens the listeners of ent and registers the service.
func (m *master) addService(ent *config.Service) error {
	spec, err := serviceSpec(m.cfg, ent)
	if err != nil {
		return err
	}
	ls, err := openListeners(spec)
	if err != nil {
		return err
	}
	s := &svc{ent: ent, path: m.programPath(ent), spec: spec, listeners: ls, procs: map[int]*proc{}}
	m.services[ent.Key()] = s
	m.order = append(m.order, ent.Key())
	m.startWakeups(s)
	return nil
}

func (m *master) startWakeups(s *svc) {
	secs, _ := s.ent.WakeupTime()
	if secs <= 0 {
		return
	}
	stop := make(chan struct{})
	s.wakeStop = stop
	go func() {
		t := time.NewTicker(time.Duration(secs) * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				m.events <- wakeupEvent{s}
			}
		}
	}()
}

func (m *master) stopWakeups(s *svc) {
	if s.wakeStop != nil {
		close(s.wakeStop)
		s.wakeStop = nil
	}
}

// startService starts a process of a service that has a wakeup (it has
// periodic work: pickup, qmgr); the others get one when the first client
// connects, as in Postfix, so that an idle system runs few processes.
func (m *master) startService(s *svc) {
	if secs, onlyUsed := s.ent.WakeupTime(); secs > 0 && !onlyUsed {
		m.spawn(s)
	} else {
		m.watch(s)
	}
}

// args builds a daemon's argument vector (see pkg/service).
func (m *master) args(s *svc) []string {
	a := []string{s.ent.Command, "-n", s.ent.Name, "-t", s.ent.Type}
	if s.ent.IsUnpriv() {
		a = append(a, "-u")
	}
	if s.ent.IsChroot() {
		a = append(a, "-c")
	}
	if len(s.listeners) != 1 {
		a = append(a, "-s", strconv.Itoa(len(s.listeners)))
	}
	return append(a, s.ent.Args...)
}

// spawn starts one process of s.
func (m *master) spawn(s *svc) {
	m.cancelWatch(s)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		log.Warningf("socketpair: %v", err)
		m.throttleService(s)
		return
	}
	childEnd := os.NewFile(uintptr(fds[0]), "status")
	masterEnd := os.NewFile(uintptr(fds[1]), "status")
	files := []*os.File{childEnd}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, l := range s.listeners {
		f, err := listenerFile(l)
		if err != nil {
			log.Warningf("%s: %v", s.ent.Key(), err)
			masterEnd.Close()
			m.throttleService(s)
			return
		}
		files = append(files, f)
	}
	status, err := net.FileConn(masterEnd)
	masterEnd.Close()
	if err != nil {
		log.Warningf("status socket: %v", err)
		m.throttleService(s)
		return
	}
	cmd := &exec.Cmd{
		Path:       s.path,
		Args:       m.args(s),
		Env:        m.childEnv,
		Stdout:     m.childOut,
		Stderr:     m.childOut,
		ExtraFiles: files,
	}
	if err := cmd.Start(); err != nil {
		status.Close()
		log.Warningf("spawn: %s: %v", s.path, unwrapPathErr(err))
		log.Warningf("%s: bad command startup -- throttling", s.path)
		m.throttleService(s)
		return
	}
	p := &proc{s: s, cmd: cmd, pid: cmd.Process.Pid, status: status}
	s.procs[p.pid] = p
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := status.Read(buf)
			for _, b := range buf[:n] {
				m.events <- statusEvent{p, b}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		m.events <- exitEvent{p, cmd.ProcessState}
	}()
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (m *master) throttleService(s *svc) {
	if s.throttled || s.removed {
		return
	}
	s.throttled = true
	m.cancelWatch(s)
	time.AfterFunc(m.throttle, func() { m.events <- unthrottleEvent{s} })
}

// watch arranges for a process to be started when a client waits on one of
// the listeners of s, which has none running (after max_idle or max_use).
func (m *master) watch(s *svc) {
	if s.watchGen != 0 || s.removed || s.throttled || m.stopping {
		return
	}
	m.nextGen++
	gen := m.nextGen
	s.watchGen = gen
	for _, l := range s.listeners {
		f, err := watchFile(l)
		if err != nil {
			log.Warningf("%s: %v", s.ent.Key(), err)
			continue
		}
		s.watching = append(s.watching, f)
		go func() {
			if waitReadable(f) {
				m.events <- readableEvent{s, gen}
			}
			f.Close()
		}()
	}
}

func (m *master) cancelWatch(s *svc) {
	if s.watchGen == 0 {
		return
	}
	s.watchGen = 0
	for _, f := range s.watching {
		f.SetReadDeadline(time.Unix(1, 0))
	}
	s.watching = nil
}

// drain tells the processes of s to finish their sessions and exit.
func (m *master) drain(s *svc) {
	for _, p := range s.procs {
		if !p.draining {
			p.draining = true
			m.signal(p, syscall.SIGHUP)
		}
	}
}

// signal sends sig to p. A process that has not reported ready yet may not
// have its signal handlers installed (and may already have accepted a
// client): the signal waits for its readiness.
func (m *master) signal(p *proc, sig syscall.Signal) {
	if !p.ready && sig != syscall.SIGKILL {
		// The status event handler sends SIGTERM (stopping) or SIGHUP
		// (draining) when the process reports ready.
		return
	}
	p.cmd.Process.Signal(sig)
}

func (m *master) handle(ev any) {
	switch ev := ev.(type) {
	case statusEvent:
		switch ev.b {
		case service.StatusReady:
			ev.p.ready = true
			if m.stopping {
				m.signal(ev.p, syscall.SIGTERM)
			} else if ev.p.draining {
				m.signal(ev.p, syscall.SIGHUP)
			}
		case service.StatusUsed:
			ev.p.s.used = true
		}
	case exitEvent:
		m.reaped(ev.p, ev.state)
	case readableEvent:
		s := ev.s
		if s.watchGen == ev.gen && len(s.procs) == 0 && !s.removed && !s.throttled && !m.stopping {
			m.spawn(s)
		}
	case unthrottleEvent:
		s := ev.s
		s.throttled = false
		if !s.removed && !m.stopping && m.live(s) == 0 {
			m.spawn(s)
		}
	case wakeupEvent:
		s := ev.s
		if s.removed || m.stopping {
			return
		}
		if _, onlyUsed := s.ent.WakeupTime(); onlyUsed && !s.used {
			return
		}
		if m.live(s) == 0 {
			if !s.throttled {
				m.spawn(s)
			}
			return
		}
		for _, p := range s.procs {
			if p.ready && !p.draining {
				p.cmd.Process.Signal(syscall.SIGUSR1)
			}
		}
	}
}

// live counts the processes of s that are not draining.
func (m *master) live(s *svc) int {
	n := 0
	for _, p := range s.procs {
		if !p.draining {
			n++
		}
	}
	return n
}

// reaped handles the exit of a child.
func (m *master) reaped(p *proc, st *os.ProcessState) {
	s := p.s
	delete(s.procs, p.pid)
	p.status.Close()
	if m.stopping {
		return
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	abnormal := !st.Success()
	if abnormal && !p.draining {
		if ws.Signaled() {
			log.Warningf("process %s pid %d killed by signal %d", s.path, p.pid, ws.Signal())
		} else {
			log.Warningf("process %s pid %d exit status %d", s.path, p.pid, ws.ExitStatus())
		}
	}
	if s.removed || p.draining {
		if m.live(s) == 0 && !s.removed && !s.throttled {
			m.spawn(s)
		}
		return
	}
	if m.live(s) > 0 {
		return
	}
	switch {
	case abnormal && !p.ready:
		log.Warningf("%s: bad command startup -- throttling", s.path)
		m.throttleService(s)
	case abnormal:
		now := time.Now()
		s.crashes = append(slices.DeleteFunc(s.crashes, func(t time.Time) bool { return now.Sub(t) > crashWindow }), now)
		if len(s.crashes) >= crashLimit {
			log.Warningf("%s: process keeps dying -- throttling", s.path)
			s.crashes = nil
			m.throttleService(s)
		} else {
			m.spawn(s)
		}
	default:
		// A voluntary exit (max_use, max_idle): start again when a
		// client waits or a wakeup is due.
		m.watch(s)
	}
}

// closeService closes the listeners of a removed service.
func (m *master) closeService(s *svc) {
	s.removed = true
	m.cancelWatch(s)
	m.stopWakeups(s)
	for _, l := range s.listeners {
		l.Close()
	}
	if s.spec.network == "unix" {
		os.Remove(s.spec.addrs[0])
	}
	m.drain(s)
}

// reload re-reads main.cf and master.cf. Services whose listening address
// did not change keep their sockets open (clients keep connecting); every
// running daemon is told to finish its sessions and exit, and a new one
// with the new configuration takes over the socket at once.
func (m *master) reload() {
	cfg, ents, err := loadConfig(m.dir)
	if err != nil {
		log.Warningf("reload failed, keeping the old configuration: %v", err)
		return
	}
	m.cfg = cfg
	m.applyParams()
	log.Infof("reload -- version %s, configuration %s", cfg.Get("mail_version"), m.dir)
	if o, err := instance.ResolveOwners(cfg); err == nil {
		m.owners = o
		if err := instance.Prepare(cfg, o); err != nil {
			log.Warningf("%v", err)
		}
	}
	newKeys := map[string]*config.Service{}
	for _, e := range ents {
		if supportedType(e) {
			newKeys[e.Key()] = e
		}
	}
	var order []string
	for _, k := range m.order {
		s := m.services[k]
		ent, ok := newKeys[k]
		if !ok {
			m.closeService(s)
			delete(m.services, k)
			continue
		}
		spec, err := serviceSpec(cfg, ent)
		if err != nil {
			log.Warningf("%v", err)
			m.closeService(s)
			delete(m.services, k)
			continue
		}
		m.cancelWatch(s)
		m.stopWakeups(s)
		if spec.String() != s.spec.String() {
			ls, err := openListeners(spec)
			if err != nil {
				log.Warningf("%v", err)
				m.closeService(s)
				delete(m.services, k)
				continue
			}
			for _, l := range s.listeners {
				l.Close()
			}
			s.listeners, s.spec = ls, spec
		}
		s.ent, s.path = ent, m.programPath(ent)
		s.crashes = nil
		m.startWakeups(s)
		hadProcs := m.live(s) > 0
		m.drain(s)
		if !s.throttled {
			if hadProcs {
				m.spawn(s) // take over from the draining process at once
			} else {
				m.startService(s)
			}
		}
		order = append(order, k)
	}
	m.order = order
	for _, e := range ents {
		if _, ok := m.services[e.Key()]; ok || !supportedType(e) {
			continue
		}
		if err := m.addService(e); err != nil {
			log.Warningf("%v", err)
			continue
		}
		m.startService(m.services[e.Key()])
	}
}

func supportedType(e *config.Service) bool {
	if e.Type == "inet" || e.Type == "unix" {
		return true
	}
	log.Warningf("%s: transport type %s is not supported yet -- service skipped", e.Key(), e.Type)
	return false
}

// shutdown stops every daemon: SIGTERM, then SIGKILL for what is left
// after stopWait.
func (m *master) shutdown(abort bool) {
	m.stopping = true
	procs := map[int]*proc{}
	for _, s := range m.services {
		m.cancelWatch(s)
		m.stopWakeups(s)
		for pid, p := range s.procs {
			procs[pid] = p
			if abort {
				p.cmd.Process.Signal(syscall.SIGKILL)
			} else {
				m.signal(p, syscall.SIGTERM)
			}
		}
	}
	deadline := time.NewTimer(stopWait)
	defer deadline.Stop()
	killed := false
	for len(procs) > 0 {
		select {
		case ev := <-m.events:
			if e, ok := ev.(exitEvent); ok {
				delete(procs, e.p.pid)
			}
			if e, ok := ev.(statusEvent); ok && e.b == service.StatusReady {
				e.p.ready = true
				e.p.cmd.Process.Signal(syscall.SIGTERM)
			}
		case <-deadline.C:
			if killed {
				return
			}
			for _, p := range procs {
				log.Warningf("process %s pid %d did not stop in time -- killed", p.s.path, p.pid)
				p.cmd.Process.Signal(syscall.SIGKILL)
			}
			killed = true
			deadline.Reset(5 * time.Second)
		}
	}
}

// run is master's life after start-up.
func (m *master) run(sigs chan os.Signal) int {
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				m.reload()
			case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT:
				log.Infof("terminating on signal %d", sig.(syscall.Signal))
				m.shutdown(sig == syscall.SIGQUIT)
				m.lock.Release()
				return 0
			}
		case ev := <-m.events:
			m.handle(ev)
		}
	}
}

// Main is master's entry point.
func Main(args []string) int {
	var dirFlag string
	readyFD := false
	test := false
	for i := 1; i < len(args); i++ {
		switch a := args[i]; a {
		case "-c":
			if i+1 >= len(args) {
				return usage()
			}
			i++
			dirFlag = args[i]
		case "-d", "-s", "-i": // foreground: master never detaches itself
		case "-t":
			test = true
		case "-w":
			readyFD = true
		default:
			return usage()
		}
	}
	m := &master{dir: config.Dir(dirFlag), services: map[string]*svc{}, events: make(chan any, 64)}
	if readyFD {
		m.readyPipe = os.NewFile(3, "ready")
	}
	cfg, ents, err := loadConfig(m.dir)
	if err != nil {
		m.fatal("%v", err)
		return 1
	}
	m.cfg = cfg
	if test {
		// Postfix's "master -t": exit 0 when no master runs.
		if _, running, _ := instance.Running(instance.PIDFile(cfg)); running {
			return 1
		}
		return 0
	}
	if err := log.Setup(cfg, "master", false); err != nil {
		m.fatal("%v", err)
	}
	m.applyParams()
	if m.owners, err = instance.ResolveOwners(cfg); err != nil {
		m.fatal("%v", err)
	}
	if err := instance.Prepare(cfg, m.owners); err != nil {
		m.fatal("%v", err)
	}
	m.lock, err = instance.LockMaster(instance.PIDFile(cfg))
	if err != nil {
		m.fatal("%v", err)
	}
	m.childOut = os.Stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	for _, e := range ents {
		if !supportedType(e) {
			continue
		}
		if err := m.addService(e); err != nil {
			m.fatal("%v", err)
		}
	}
	log.Infof("daemon started -- version %s, configuration %s", cfg.Get("mail_version"), m.dir)
	if !m.owners.Privileged {
		log.Infof("running as %s (uid %d), not root: every daemon runs as this user, without chroot", m.owners.MailOwner, os.Getuid())
	}
	for _, k := range m.order {
		m.startService(m.services[k])
	}
	if m.readyPipe != nil {
		m.readyPipe.WriteString("ok\n")
		m.readyPipe.Close()
		m.readyPipe = nil
	}
	return m.run(sigs)
}

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: master [-c config_dir] [-d] [-t] [-w]")
	return 1
}
