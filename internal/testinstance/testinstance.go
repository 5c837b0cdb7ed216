// Package testinstance runs a real postern instance in a temporary
// directory for end-to-end tests: its own main.cf and master.cf, queue and
// data directories, a maillog_file, and ports on 127.0.0.1.
//
// A test binary builds the programs once (Build, from TestMain), then each
// test makes an Instance:
//
//	func TestMain(m *testing.M) { os.Exit(testinstance.Main(m)) }
//
//	in := testinstance.New(t, testinstance.Options{MasterCF: "..."})
//	in.Start()
//	in.WaitLog(`daemon started`)
//
// The instance is stopped and every process of it killed when the test
// ends. As root, the instance's mail_owner is the test account "posterntest"
// (created with useradd when missing) and setgid_group "posterntestdrop".
package testinstance

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Test accounts, created when running as root.
const (
	TestUser  = "posterntest"
	TestGroup = "posterntestdrop"
)

// BinDir holds the built programs after Build.
var BinDir string

// DefaultConfigDir is the test build's compiled-in configuration directory.
var DefaultConfigDir string

var alternateMu sync.Mutex

// allowConfigDir adds dir to the test build's alternate_config_directories.
func allowConfigDir(dir string) error {
	alternateMu.Lock()
	defer alternateMu.Unlock()
	p := filepath.Join(DefaultConfigDir, "main.cf")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	line := "alternate_config_directories = " + dir + "\n"
	if len(b) > 0 {
		line = "  " + dir + "\n"
	}
	return os.WriteFile(p, append(b, line...), 0644)
}

// Main builds the programs into a temporary directory, runs the tests and
// removes the directory; use it from TestMain.
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "postern-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0755)
	if err := Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Build builds the multi-call executable, a link per program name, and the
// test daemon into dir, and sets BinDir.
func Build(dir string) error {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("go list -m: %v", err)
	}
	root := strings.TrimSpace(string(out))
	multi := filepath.Join(dir, "postern-multi")
	// The compiled-in default configuration directory of the test build:
	// its main.cf lists every instance's directory in
	// alternate_config_directories (see New), so that ordinary users may
	// run sendmail/postdrop and postqueue against an instance.
	DefaultConfigDir = filepath.Join(dir, "default-etc")
	if err := os.MkdirAll(DefaultConfigDir, 0755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(DefaultConfigDir, "main.cf"), nil, 0644); err != nil {
		return err
	}
	for _, b := range [][]string{
		{"build", "-ldflags", "-X postern/pkg/acl.defaultConfigDir=" + DefaultConfigDir, "-o", multi, "."},
		{"build", "-o", filepath.Join(dir, "testdaemon"), "./internal/testdaemon"},
	} {
		cmd := exec.Command("go", b...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(b, " "), err, out)
		}
	}
	names, err := exec.Command(multi, "-list").Output()
	if err != nil {
		return fmt.Errorf("%s -list: %v", multi, err)
	}
	for _, n := range strings.Fields(string(names)) {
		if err := os.Symlink("postern-multi", filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	BinDir = dir
	if os.Geteuid() == 0 {
		// As make install does: postdrop and postqueue are copies,
		// set-gid to the instances' setgid_group, so that ordinary users
		// can post mail and list the queue.
		if err := EnsureTestAccount(); err != nil {
			return err
		}
		g, err := user.LookupGroup(TestGroup)
		if err != nil {
			return err
		}
		gid, _ := strconv.Atoi(g.Gid)
		b, err := os.ReadFile(multi)
		if err != nil {
			return err
		}
		for _, n := range []string{"postdrop", "postqueue"} {
			p := filepath.Join(dir, n)
			os.Remove(p)
			if err := os.WriteFile(p, b, 0755); err != nil {
				return err
			}
			if err := os.Chown(p, 0, gid); err != nil {
				return err
			}
			if err := os.Chmod(p, 0755|os.ModeSetgid); err != nil {
				return err
			}
		}
	}
	return nil
}

// Options describe an instance.
type Options struct {
	MasterCF string            // master.cf text
	Main     map[string]string // extra main.cf parameters (override the defaults)
	// RunAs, when set (and the tests run as root), runs the postern
	// command, and with it the whole instance, as this user: the
	// unprivileged mode.
	RunAs *user.User
}

// Instance is one postern instance under a temporary directory.
type Instance struct {
	t         testing.TB
	Root      string // the temporary directory
	ConfigDir string
	QueueDir  string
	DataDir   string
	LogFile   string
	runAs     *syscall.Credential
	logOff    int // WaitLog searches from here
}

var accountOnce sync.Once
var accountErr error

// EnsureTestAccount creates the test user and group when missing (root only).
func EnsureTestAccount() error {
	accountOnce.Do(func() {
		if _, err := user.LookupGroup(TestGroup); err != nil {
			if out, err := exec.Command("groupadd", "-r", TestGroup).CombinedOutput(); err != nil {
				accountErr = fmt.Errorf("groupadd %s: %v %s", TestGroup, err, out)
				return
			}
		}
		if _, err := user.Lookup(TestUser); err != nil {
			out, err := exec.Command("useradd", "-r", "-U", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", TestUser).CombinedOutput()
			if err != nil {
				accountErr = fmt.Errorf("useradd %s: %v %s", TestUser, err, out)
			}
		}
	})
	return accountErr
}

// New creates the instance's directory and configuration files; the
// instance is not started.
func New(t testing.TB, o Options) *Instance {
	t.Helper()
	if BinDir == "" {
		t.Fatal("testinstance: programs not built (call testinstance.Main from TestMain)")
	}
	root := t.TempDir()
	// The daemons (or, unprivileged, the whole instance) run as another
	// user: let it through.
	os.Chmod(filepath.Dir(root), 0755)
	os.Chmod(root, 0755)
	in := &Instance{t: t, Root: root,
		ConfigDir: filepath.Join(root, "etc"),
		QueueDir:  filepath.Join(root, "queue"),
		DataDir:   filepath.Join(root, "data"),
		LogFile:   filepath.Join(root, "maillog"),
	}
	if err := os.Mkdir(in.ConfigDir, 0755); err != nil {
		t.Fatal(err)
	}
	if DefaultConfigDir != "" {
		if err := allowConfigDir(in.ConfigDir); err != nil {
			t.Fatal(err)
		}
	}
	params := map[string]string{
		"queue_directory":       in.QueueDir,
		"data_directory":        in.DataDir,
		"daemon_directory":      BinDir,
		"command_directory":     BinDir,
		"maillog_file":          in.LogFile,
		"maillog_file_prefixes": root,
		"inet_interfaces":       "loopback-only",
		"inet_protocols":        "ipv4",
		"myhostname":            "mx.example.test",
		"service_throttle_time": "2s",
	}
	if os.Geteuid() == 0 && o.RunAs == nil {
		if err := EnsureTestAccount(); err != nil {
			t.Fatal(err)
		}
		params["mail_owner"] = TestUser
		params["setgid_group"] = TestGroup
	}
	for k, v := range o.Main {
		params[k] = v
	}
	var b strings.Builder
	for _, k := range sortedKeys(params) {
		fmt.Fprintf(&b, "%s = %s\n", k, params[k])
	}
	in.WriteFile("main.cf", b.String())
	in.WriteFile("master.cf", o.MasterCF)
	if o.RunAs != nil && os.Geteuid() == 0 {
		uid, _ := strconv.Atoi(o.RunAs.Uid)
		gid, _ := strconv.Atoi(o.RunAs.Gid)
		in.runAs = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, p := range []string{root, in.ConfigDir, filepath.Join(in.ConfigDir, "main.cf"), filepath.Join(in.ConfigDir, "master.cf")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(in.kill)
	return in
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// WriteFile writes a file in the configuration directory.
func (in *Instance) WriteFile(name, text string) {
	in.t.Helper()
	p := filepath.Join(in.ConfigDir, name)
	if err := os.WriteFile(p, []byte(text), 0644); err != nil {
		in.t.Fatal(err)
	}
	if in.runAs != nil {
		os.Chown(p, int(in.runAs.Uid), int(in.runAs.Gid))
	}
}

// Postern runs "postern -c CONFIG_DIR args..." and returns its combined
// output and exit status.
func (in *Instance) Postern(args ...string) (string, int) {
	in.t.Helper()
	cmd := exec.Command(filepath.Join(BinDir, "postern"), append([]string{"-c", in.ConfigDir}, args...)...)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+in.ConfigDir)
	if in.runAs != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: in.runAs}
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			in.t.Fatalf("postern %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// Start runs "postern start" and fails the test unless it succeeds.
func (in *Instance) Start() {
	in.t.Helper()
	if out, code := in.Postern("start"); code != 0 {
		in.t.Fatalf("postern start: exit %d: %s\nlog:\n%s", code, out, in.Log())
	}
}

// Stop runs "postern stop" and fails the test unless it succeeds.
func (in *Instance) Stop() {
	in.t.Helper()
	if out, code := in.Postern("stop"); code != 0 {
		in.t.Fatalf("postern stop: exit %d: %s", code, out)
	}
}

// Log returns the whole maillog_file.
func (in *Instance) Log() string {
	b, _ := os.ReadFile(in.LogFile)
	return string(b)
}

// MarkLog makes later WaitLog calls look only at lines written from now on.
func (in *Instance) MarkLog() { in.logOff = len(in.Log()) }

// WaitLog waits up to 10 seconds for a log line (after the last MarkLog)
// matching the regular expression and returns it.
func (in *Instance) WaitLog(expr string) string {
	in.t.Helper()
	re := regexp.MustCompile(expr)
	var line string
	if !Poll(10*time.Second, func() bool {
		log := in.Log()
		if in.logOff <= len(log) {
			log = log[in.logOff:]
		}
		for _, l := range strings.Split(log, "\n") {
			if re.MatchString(l) {
				line = l
				return true
			}
		}
		return false
	}) {
		in.t.Fatalf("no log line matching %q within 10s; log:\n%s", expr, in.Log())
	}
	return line
}

// CountLog counts the log lines matching expr.
func (in *Instance) CountLog(expr string) int {
	re := regexp.MustCompile(expr)
	n := 0
	for _, l := range strings.Split(in.Log(), "\n") {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// MasterPID returns the PID in master.pid, or 0.
func (in *Instance) MasterPID() int {
	b, err := os.ReadFile(filepath.Join(in.QueueDir, "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// kill ends every process of the instance (test cleanup).
func (in *Instance) kill() {
	pid := in.MasterPID()
	if pid <= 0 || !Alive(pid) {
		return
	}
	children := Children(pid)
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	for _, c := range children {
		syscall.Kill(c, syscall.SIGKILL)
	}
}

// Poll calls cond every 20ms until it is true or timeout passes.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Alive reports whether pid runs (and is not a zombie).
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := statFields(b)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(b []byte) []string {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// Children returns the live child processes of pid.
func Children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := statFields(b)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// Status returns the fields of /proc/PID/status ("Uid" -> "100 100 100 100").
func Status(pid int) map[string]string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

// Cmdline returns the argument vector of pid.
func Cmdline(pid int) []string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// FreePort returns a TCP port on 127.0.0.1 that is free right now.
func FreePort(t testing.TB) int {
	t.Helper()
	// Below Linux's ephemeral range (32768-60999): a port picked there
	// is not handed, between this call and master's bind, to a listener on
	// port 0 or an outgoing connection of a test running in parallel (a
	// test DNS server once took one and never greeted).
	for try := 0; try < 200; try++ {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
