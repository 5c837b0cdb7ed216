// End-to-end tests of master, pkg/service and the postern command: each
// test runs a real instance (internal/testinstance) with the test daemon.
package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	ti "postern/internal/testinstance"
)

func TestMain(m *testing.M) { os.Exit(ti.Main(m)) }

// hello connects to a test daemon port and returns its greeting fields and
// the open connection.
func hello(t *testing.T, port int) (map[string]string, net.Conn, *bufio.Reader) {
	t.Helper()
	var c net.Conn
	var err error
	if !ti.Poll(10*time.Second, func() bool {
		c, err = net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		return err == nil
	}) {
		t.Fatalf("connect to port %d: %v", port, err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		c.Close()
		t.Fatalf("port %d: reading greeting: %v", port, err)
	}
	f := map[string]string{}
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		f[k] = v
	}
	return f, c, r
}

func helloPID(t *testing.T, port int) int {
	t.Helper()
	f, c, _ := hello(t, port)
	c.Close()
	pid, _ := strconv.Atoi(f["pid"])
	return pid
}

func refused(port int) bool {
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

func services(ports ...int) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "127.0.0.1:%d inet n - n - - testdaemon\n", p)
	}
	return b.String()
}

// The log lines of the postern command and master look like Postfix's.
func TestStartStatusStopAndSecondStartRefused(t *testing.T) {
	port := ti.FreePort(t)
	in := ti.New(t, ti.Options{MasterCF: services(port)})
	in.Start()
	line := in.WaitLog(`postern/master\[\d+\]: daemon started -- version \S+, configuration ` + regexp.QuoteMeta(in.ConfigDir) + `$`)
	if !regexp.MustCompile(`^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d mx postern/master\[\d+\]: `).MatchString(line) {
		t.Errorf("log line not in Postfix's format: %q", line)
	}
	in.WaitLog(`postern/postern-script\[\d+\]: starting the Postern mail system$`)
	b, err := os.ReadFile(filepath.Join(in.QueueDir, "pid", "master.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := in.MasterPID()
	if want := fmt.Sprintf("%32d\n", pid); string(b) != want {
		t.Errorf("master.pid %q, want %q", b, want)
	}
	helloPID(t, port)

	if _, code := in.Postern("status"); code != 0 {
		t.Errorf("status exit %d while running", code)
	}
	in.WaitLog(fmt.Sprintf(`postern/postern-script\[\d+\]: the Postern mail system is running: PID: %d$`, pid))

	if _, code := in.Postern("start"); code != 1 {
		t.Errorf("second start: exit %d, want 1", code)
	}
	in.WaitLog(`postern-script\[\d+\]: fatal: the Postern mail system is already running$`)
	if in.MasterPID() != pid || !ti.Alive(pid) {
		t.Errorf("second start disturbed the running master")
	}

	children := ti.Children(pid)
	if len(children) != 1 {
		t.Errorf("master has %d children, want 1", len(children))
	}
	in.Stop()
	in.WaitLog(`postern-script\[\d+\]: stopping the Postern mail system$`)
	in.WaitLog(`postern/master\[\d+\]: terminating on signal 15$`)
	for _, p := range append(children, pid) {
		if ti.Alive(p) {
			t.Errorf("process %d still alive after stop", p)
		}
	}
	if !refused(port) {
		t.Errorf("port %d still accepts after stop", port)
	}
	if _, code := in.Postern("status"); code != 1 {
		t.Errorf("status exit %d after stop, want 1", code)
	}
	in.WaitLog(`the Postern mail system is not running$`)
	if _, code := in.Postern("stop"); code != 1 {
		t.Errorf("stop when stopped: exit %d, want 1", code)
	}
}

func TestFreshQueueLayoutAndCheck(t *testing.T) {
	in := ti.New(t, ti.Options{MasterCF: services(ti.FreePort(t))})
	if _, err := os.Stat(in.QueueDir); err == nil {
		t.Fatal("queue directory exists before start")
	}
	in.Start()
	want := map[string]os.FileMode{"maildrop": 0730, "public": 0710, "private": 0700, "incoming": 0700,
		"active": 0700, "deferred": 0700, "hold": 0700, "corrupt": 0700, "bounce": 0700, "defer": 0700,
		"trace": 0700, "flush": 0700, "saved": 0700, "pid": 0755}
	owner := os.Getuid()
	if os.Geteuid() == 0 {
		u, _ := user.Lookup(ti.TestUser)
		owner, _ = strconv.Atoi(u.Uid)
	}
	for d, mode := range want {
		fi, err := os.Stat(filepath.Join(in.QueueDir, d))
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", d, fi.Mode().Perm(), mode)
		}
		uid := int(fi.Sys().(*syscall.Stat_t).Uid)
		if d == "pid" && uid != os.Getuid() || d != "pid" && uid != owner {
			t.Errorf("%s: owner %d", d, uid)
		}
	}
	if out, code := in.Postern("check"); code != 0 {
		t.Errorf("check on a fresh instance: exit %d: %s", code, out)
	}
	os.Chmod(filepath.Join(in.QueueDir, "private"), 0755)
	out, code := in.Postern("check")
	if code != 1 || !strings.Contains(out, "bad mode 0755 (want 0700): "+filepath.Join(in.QueueDir, "private")) {
		t.Errorf("check with a bad mode: exit %d: %s", code, out)
	}
	if out, code := in.Postern("set-permissions"); code != 0 {
		t.Errorf("set-permissions: exit %d: %s", code, out)
	}
	if out, code := in.Postern("check"); code != 0 {
		t.Errorf("check after set-permissions: exit %d: %s", code, out)
	}
	in.Stop()
}

func TestCommandErrors(t *testing.T) {
	in := ti.New(t, ti.Options{MasterCF: services(ti.FreePort(t))})
	out, code := in.Postern("bogus")
	if code != 1 || !strings.Contains(out, "fatal: unknown command: 'bogus'. Usage: postern start (or stop, reload, abort, flush, check, status, set-permissions") {
		t.Errorf("unknown command: exit %d: %q", code, out)
	}
	out, code = in.Postern("flush")
	if code == 0 || !strings.Contains(out, "not built yet") {
		t.Errorf("flush: exit %d: %q", code, out)
	}
	if _, code := in.Postern("reload"); code != 1 {
		t.Errorf("reload when stopped: exit %d, want 1", code)
	}
	in.WriteFile("master.cf", "smtp inet n - n - - testdaemon\nbad bogus n - n - - x\n")
	out, code = in.Postern("check")
	if code != 1 || !strings.Contains(out, `invalid type field "bogus"`) {
		t.Errorf("check with a bad master.cf: exit %d: %q", code, out)
	}
	if _, code := in.Postern("start"); code != 1 {
		t.Errorf("start with a bad master.cf: exit %d, want 1", code)
	}
}

// As root: every unprivileged daemon runs as mail_owner, in the queue
// directory jail with chroot=y; unpriv=n stays root.
func TestPrivilegeSeparation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	pJail, pPlain, pRoot := ti.FreePort(t), ti.FreePort(t), ti.FreePort(t)
	in := ti.New(t, ti.Options{MasterCF: fmt.Sprintf(`127.0.0.1:%d inet n - y - - testdaemon
127.0.0.1:%d inet n - n - - testdaemon
127.0.0.1:%d inet n n n - - testdaemon
health unix - - y - 1 testdaemon
`, pJail, pPlain, pRoot)})
	in.Start()
	u, _ := user.Lookup(ti.TestUser)
	uid, gid := u.Uid, u.Gid
	ids := func(id string) string { return strings.Repeat(id+" ", 3) + id }
	check := func(port int, wantUID, wantGID string, wantRoot string) {
		t.Helper()
		f, c, _ := hello(t, port)
		c.Close()
		pid, _ := strconv.Atoi(f["pid"])
		st := ti.Status(pid)
		if st["Uid"] != ids(wantUID) || st["Gid"] != ids(wantGID) {
			t.Errorf("port %d: Uid %q Gid %q, want %s/%s", port, st["Uid"], st["Gid"], wantUID, wantGID)
		}
		if wantUID != "0" && (st["Groups"] != wantGID || st["NoNewPrivs"] != "1") {
			t.Errorf("port %d: Groups %q NoNewPrivs %q", port, st["Groups"], st["NoNewPrivs"])
		}
		root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		if err != nil || root != wantRoot {
			t.Errorf("port %d: root %q (%v), want %q", port, root, err, wantRoot)
		}
		if f["cwd"] != "/" && wantRoot != "/" || wantRoot == "/" && f["cwd"] != in.QueueDir {
			t.Errorf("port %d: cwd %q", port, f["cwd"])
		}
	}
	check(pJail, uid, gid, in.QueueDir)
	check(pPlain, uid, gid, "/")
	check(pRoot, "0", "0", "/")

	// The gRPC service in private/: reachable (by root here), chrooted.
	conn, err := grpc.NewClient("unix://"+filepath.Join(in.QueueDir, "private", "health"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health over private/health: %v %v", resp, err)
	}
	for _, pid := range ti.Children(in.MasterPID()) {
		if strings.Join(ti.Cmdline(pid), " ") == "testdaemon -n health -t unix -u -c" {
			st := ti.Status(pid)
			if st["Uid"] != ids(uid) {
				t.Errorf("health: Uid %q", st["Uid"])
			}
			if root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); root != in.QueueDir {
				t.Errorf("health: root %q", root)
			}
		}
	}
	in.Stop()
}

func TestKilledDaemonIsRestarted(t *testing.T) {
	port := ti.FreePort(t)
	in := ti.New(t, ti.Options{MasterCF: services(port)})
	in.Start()
	pid := helloPID(t, port)
	syscall.Kill(pid, syscall.SIGKILL)
	in.WaitLog(fmt.Sprintf(`postern/master\[\d+\]: warning: process \S+/testdaemon pid %d killed by signal 9$`, pid))
	start := time.Now()
	var newPID int
	if !ti.Poll(5*time.Second, func() bool {
		for _, c := range ti.Children(in.MasterPID()) {
			if c != pid {
				newPID = c
				return true
			}
		}
		return false
	}) {
		t.Fatal("no new daemon within 5s after SIGKILL")
	}
	if got := helloPID(t, port); got != newPID {
		t.Errorf("port served by %d, want the new daemon %d", got, newPID)
	}
	t.Logf("daemon back after %v", time.Since(start))
	in.Stop()
}

func TestFailingDaemonIsThrottledOthersServe(t *testing.T) {
	good, bad := ti.FreePort(t), ti.FreePort(t)
	in := ti.New(t, ti.Options{MasterCF: services(good) + fmt.Sprintf("127.0.0.1:%d inet n - n - - testdaemon fail\n", bad)})
	in.Start()
	// The service starts on demand: a client comes (and waits).
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", bad))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in.WaitLog(`postern/testdaemon\[\d+\]: fatal: failing at start as asked$`)
	in.WaitLog(`postern/master\[\d+\]: warning: process \S+/testdaemon pid \d+ exit status 1$`)
	in.WaitLog(`postern/master\[\d+\]: warning: \S+/testdaemon: bad command startup -- throttling$`)
	// Throttled: no new attempt before service_throttle_time (2s) ...
	time.Sleep(time.Second)
	if n := in.CountLog(`failing at start`); n != 1 {
		t.Errorf("%d start attempts within 1s, want 1 (throttled)", n)
	}
	// ... while the other service serves, and master stays up.
	helloPID(t, good)
	// After the throttle time it is tried again.
	if !ti.Poll(5*time.Second, func() bool { return in.CountLog(`failing at start`) >= 2 }) {
		t.Errorf("no new attempt after service_throttle_time")
	}
	helloPID(t, good)
	if !ti.Alive(in.MasterPID()) {
		t.Fatal("master died")
	}
	in.Stop()
}

func TestReloadAddsRemovesAndKeepsSessions(t *testing.T) {
	keep, remove, add := ti.FreePort(t), ti.FreePort(t), ti.FreePort(t)
	in := ti.New(t, ti.Options{MasterCF: services(keep, remove)})
	in.Start()
	helloPID(t, remove)
	if !refused(add) {
		t.Fatalf("port %d in use before reload", add)
	}
	// A client in a session across the reload.
	f, c, r := hello(t, keep)
	defer c.Close()
	in.MarkLog()
	in.WriteFile("master.cf", services(keep, add))
	if out, code := in.Postern("reload"); code != 0 {
		t.Fatalf("reload: exit %d: %s", code, out)
	}
	in.WaitLog(`postern-script\[\d+\]: refreshing the Postern mail system$`)
	in.WaitLog(`postern/master\[\d+\]: reload -- version \S+, configuration ` + regexp.QuoteMeta(in.ConfigDir) + `$`)
	helloPID(t, add)
	if !ti.Poll(5*time.Second, func() bool { return refused(remove) }) {
		t.Errorf("removed port %d still accepts", remove)
	}
	// The old session still works.
	fmt.Fprintf(c, "still there?\n")
	if line, err := r.ReadString('\n'); err != nil || line != "still there?\n" {
		t.Errorf("session across reload: %q %v", line, err)
	}
	// New clients of the kept port are served by the new daemon.
	if pid := helloPID(t, keep); strconv.Itoa(pid) == f["pid"] {
		t.Errorf("kept service still served by the old daemon %d after reload", pid)
	}
	c.Close()
	// The old daemon exits once its session is over.
	old, _ := strconv.Atoi(f["pid"])
	if !ti.Poll(5*time.Second, func() bool { return !ti.Alive(old) }) {
		t.Errorf("old daemon %d still running after its session ended", old)
	}
	in.Stop()
}

// No connection is refused while master reloads.
func TestReloadRefusesNoConnection(t *testing.T) {
	port := ti.FreePort(t)
	in := ti.New(t, ti.Options{MasterCF: services(port)})
	in.Start()
	helloPID(t, port)
	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				done <- err
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				c.Close()
				done <- fmt.Errorf("no greeting: %v", err)
				return
			}
			c.Close()
		}
		done <- nil
	}()
	for i := 0; i < 3; i++ {
		in.Postern("reload")
		time.Sleep(300 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Errorf("during reload: %v", err)
	}
	in.Stop()
}

func TestKillWholeTreeThenStartRecovers(t *testing.T) {
	port := ti.FreePort(t)
	in := ti.New(t, ti.Options{MasterCF: services(port)})
	in.Start()
	helloPID(t, port)
	pid := in.MasterPID()
	procs := append(ti.Children(pid), pid)
	for _, p := range procs {
		syscall.Kill(p, syscall.SIGKILL)
	}
	if !ti.Poll(5*time.Second, func() bool {
		for _, p := range procs {
			if ti.Alive(p) {
				return false
			}
		}
		return true
	}) {
		t.Fatal("processes survived SIGKILL")
	}
	if _, err := os.Stat(filepath.Join(in.QueueDir, "pid", "master.pid")); err != nil {
		t.Fatalf("stale master.pid expected: %v", err)
	}
	if _, code := in.Postern("status"); code != 1 {
		t.Errorf("status after SIGKILL: exit %d, want 1", code)
	}
	in.Start()
	if in.MasterPID() == pid {
		t.Errorf("master.pid not rewritten")
	}
	helloPID(t, port)
	in.Stop()
}

// A daemon exits after max_idle; master starts a new one when a client
// connects.
func TestMaxIdleExitAndStartOnDemand(t *testing.T) {
	port := ti.FreePort(t)
	in := ti.New(t, ti.Options{MasterCF: fmt.Sprintf("127.0.0.1:%d inet n - n - - testdaemon -o max_idle=1s -o max_use=2\n", port)})
	in.Start()
	if n := len(ti.Children(in.MasterPID())); n != 0 {
		t.Errorf("%d daemons before the first client, want 0 (started on demand)", n)
	}
	pid := helloPID(t, port)
	if !ti.Poll(5*time.Second, func() bool { return !ti.Alive(pid) }) {
		t.Fatalf("daemon %d did not exit after max_idle", pid)
	}
	if n := len(ti.Children(in.MasterPID())); n != 0 {
		t.Errorf("%d daemons after a voluntary exit, want 0 until a client comes", n)
	}
	p1 := helloPID(t, port)
	if p1 == pid {
		t.Fatal("same pid")
	}
	// max_use=2: the second connection is the last of this process.
	if p2 := helloPID(t, port); p2 != p1 {
		t.Errorf("second session served by %d, want %d", p2, p1)
	}
	if !ti.Poll(5*time.Second, func() bool { return !ti.Alive(p1) }) {
		t.Errorf("daemon %d did not exit after max_use", p1)
	}
	if p3 := helloPID(t, port); p3 == p1 {
		t.Errorf("third session served by the old daemon")
	}
	if strings.Contains(in.Log(), "warning: process") {
		t.Errorf("voluntary exits logged as failures:\n%s", in.Log())
	}
	in.Stop()
}

func TestWakeup(t *testing.T) {
	in := ti.New(t, ti.Options{MasterCF: "tick unix - - n 1 1 testdaemon -o syslog_name=postern/tick\n"})
	in.Start()
	in.WaitLog(`postern/tick/testdaemon\[\d+\]: wakeup$`)
	in.Stop()
}

// Started by a user other than root, every process runs as that user.
func TestUnprivilegedMode(t *testing.T) {
	var runAs *user.User
	if os.Geteuid() == 0 {
		if err := ti.EnsureTestAccount(); err != nil {
			t.Fatal(err)
		}
		runAs, _ = user.Lookup(ti.TestUser)
	} else {
		runAs, _ = user.Current()
	}
	port := ti.FreePort(t)
	in := ti.New(t, ti.Options{RunAs: runAs, MasterCF: fmt.Sprintf(
		"127.0.0.1:%d inet n - y - - testdaemon\nhealth unix - - y - 1 testdaemon\n", port)})
	in.Start()
	in.WaitLog(`postern/master\[\d+\]: running as ` + runAs.Username + ` \(uid ` + runAs.Uid + `\), not root`)
	f, c, _ := hello(t, port)
	c.Close()
	if f["uid"] != runAs.Uid || f["root"] != "/" {
		t.Errorf("daemon: %v, want uid %s without chroot", f, runAs.Uid)
	}
	pid := in.MasterPID()
	for _, p := range append(ti.Children(pid), pid) {
		if st := ti.Status(p); !strings.HasPrefix(st["Uid"], runAs.Uid+" ") {
			t.Errorf("process %d runs as %q", p, st["Uid"])
		}
	}
	in.Stop()
}
