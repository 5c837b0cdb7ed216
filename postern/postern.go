package postern

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"postern/pkg/config"
	"postern/pkg/instance"
	"postern/pkg/log"
)

const usageText = "Usage: postern start (or stop, reload, abort, flush, check, status, set-permissions, start-fg)"

// How long start waits for master to come up, and stop for it to go.
const (
	startWait = 30 * time.Second
	stopWait  = 25 * time.Second
)

type ctl struct {
	dir string
	cfg *config.Config
}

// Main is the postern command's entry point.
func Main(args []string) int {
	var dirFlag string
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "-c" && i+1 < len(args) {
			i++
			dirFlag = args[i]
			continue
		}
		if strings.HasPrefix(a, "-c") && len(a) > 2 {
			dirFlag = a[2:]
			continue
		}
		if a == "-v" || a == "-D" {
			continue
		}
		break
	}
	log.Default().SetProgram("postern")
	if i >= len(args) {
		log.Fatalf("usage: postern [-c config_dir] [-Dv] command")
		return 1
	}
	command := args[i]
	c := &ctl{dir: config.Dir(dirFlag)}
	var err error
	c.cfg, err = config.Load(c.dir)
	if err != nil {
		log.Fatalf("%v", err)
		return 1
	}
	tty := isTerminal(2)
	if err := log.Setup(c.cfg, "postern-script", tty); err != nil {
		log.Warningf("%v", err)
		log.Default().SetProgram("postern-script")
	}
	switch command {
	case "start":
		return c.start(false)
	case "start-fg":
		return c.start(true)
	case "stop":
		return c.stop(false)
	case "abort":
		return c.stop(true)
	case "reload":
		return c.reload()
	case "status":
		return c.status()
	case "check":
		return c.check()
	case "set-permissions":
		return c.setPermissions()
	case "flush":
		log.Default().SetStderr(true)
		log.Fatalf("flush: the flush service is not built yet (it comes with the queue manager); nothing was flushed")
		return 1
	}
	log.Default().SetStderr(true)
	log.Fatalf("unknown command: '%s'. %s", command, usageText)
	return 1
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

func (c *ctl) running() (int, bool) {
	pid, running, err := instance.Running(instance.PIDFile(c.cfg))
	if err != nil && running {
		log.Warningf("%v", err)
	}
	return pid, running
}

func (c *ctl) masterPath() string {
	return filepath.Join(c.cfg.Get("daemon_directory"), "master")
}

func (c *ctl) start(foreground bool) int {
	if _, running := c.running(); running {
		log.Fatalf("the Postern mail system is already running")
		return 1
	}
	path := c.masterPath()
	if _, err := os.Stat(path); err != nil {
		log.Fatalf("%s: %v (daemon_directory = %s)", path, unwrap(err), c.cfg.Get("daemon_directory"))
		return 1
	}
	for _, p := range c.configProblems() {
		log.Warningf("%s", p)
	}
	log.Infof("starting the Postern mail system")
	env := append(os.Environ(), "MAIL_CONFIG="+c.dir)
	if foreground {
		err := syscall.Exec(path, []string{"master", "-c", c.dir}, env)
		log.Fatalf("exec %s: %v", path, err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		log.Fatalf("pipe: %v", err)
		return 1
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        []string{"master", "-c", c.dir, "-w"},
		Env:         env,
		ExtraFiles:  []*os.File{w},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		log.Fatalf("start %s: %v", path, unwrap(err))
		return 1
	}
	w.Close()
	result := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		result <- strings.TrimSpace(line)
	}()
	var msg string
	select {
	case msg = <-result:
	case <-time.After(startWait):
		msg = "master did not report within " + startWait.String()
	}
	if msg == "ok" {
		cmd.Process.Release()
		return 0
	}
	if msg == "" {
		msg = "master exited"
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
			if cmd.ProcessState != nil {
				msg = "master exited: " + cmd.ProcessState.String()
			}
		case <-time.After(time.Second):
		}
	}
	log.Default().SetStderr(true)
	log.Fatalf("mail system startup failed: %s", msg)
	return 1
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (c *ctl) stop(abort bool) int {
	pid, running := c.running()
	if !running {
		log.Fatalf("the Postern mail system is not running")
		return 1
	}
	sig := syscall.SIGTERM
	if abort {
		log.Infof("aborting the Postern mail system")
		sig = syscall.SIGQUIT
	} else {
		log.Infof("stopping the Postern mail system")
	}
	if err := syscall.Kill(pid, sig); err != nil {
		log.Fatalf("kill %d: %v", pid, err)
		return 1
	}
	deadline := time.Now().Add(stopWait)
	for time.Now().Before(deadline) {
		if _, running := c.running(); !running {
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Warningf("stopping the Postern mail system with force")
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	return 0
}

func (c *ctl) reload() int {
	pid, running := c.running()
	if !running {
		log.Fatalf("the Postern mail system is not running")
		return 1
	}
	log.Infof("refreshing the Postern mail system")
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		log.Fatalf("kill %d: %v", pid, err)
		return 1
	}
	return 0
}

func (c *ctl) status() int {
	pid, running := c.running()
	if !running {
		log.Infof("the Postern mail system is not running")
		return 1
	}
	log.Infof("the Postern mail system is running: PID: %d", pid)
	return 0
}

// configProblems checks master.cf, the programs it names and the accounts;
// main.cf was loaded already.
func (c *ctl) configProblems() []string {
	var out []string
	mf, err := config.ReadMasterCF(filepath.Join(c.dir, "master.cf"))
	if err != nil {
		return append(out, err.Error())
	}
	out = append(out, mf.Warnings...)
	ddir := c.cfg.Get("daemon_directory")
	seen := map[string]bool{}
	for _, s := range mf.Services {
		if seen[s.Key()] {
			continue
		}
		seen[s.Key()] = true
		path := s.Command
		if !strings.Contains(path, "/") {
			path = filepath.Join(ddir, s.Command)
		}
		if _, err := os.Stat(path); err != nil {
			out = append(out, fmt.Sprintf("%s: line %d: service %s: program %s: %v", mf.Path, s.Line, s.Key(), path, unwrap(err)))
		}
	}
	if _, err := instance.ResolveOwners(c.cfg); err != nil {
		out = append(out, err.Error())
	}
	return out
}

func (c *ctl) check() int {
	log.Default().SetStderr(true)
	problems := c.configProblems()
	if o, err := instance.ResolveOwners(c.cfg); err == nil {
		problems = append(problems, instance.Check(c.cfg, o)...)
	}
	for _, p := range problems {
		log.Warningf("%s", p)
	}
	if len(problems) > 0 {
		return 1
	}
	return 0
}

func (c *ctl) setPermissions() int {
	log.Default().SetStderr(true)
	o, err := instance.ResolveOwners(c.cfg)
	if err != nil {
		log.Fatalf("%v", err)
		return 1
	}
	if err := instance.SetPermissions(c.cfg, o); err != nil {
		log.Fatalf("%v", err)
		return 1
	}
	return 0
}
