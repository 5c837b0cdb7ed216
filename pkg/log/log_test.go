package log

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func fixedTime() time.Time { return time.Date(2026, time.November, 1, 9, 5, 7, 0, time.Local) }

func TestFileLineFormat(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "maillog")
	l, err := New(Options{Program: "smtpd", SyslogName: "postern/submission", File: file,
		FilePrefixes: []string{dir}, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	l.now = fixedTime
	l.pid = 42
	l.retag()
	var exited int
	l.exit = func(code int) { exited = code }
	l.Infof("connect from %s", "localhost[127.0.0.1]")
	l.Warningf("hostname %s does not resolve", "x")
	l.Errorf("e")
	l.Fatalf("bad %d", 1)
	if exited != 1 {
		t.Errorf("Fatalf exit status %d, want 1", exited)
	}
	l.Panicf("p")
	if exited != 2 {
		t.Errorf("Panicf exit status %d, want 2", exited)
	}
	l.QInfof("D30A89841E9", "from=<%s>, size=%d", "a@b", 285)
	l.QWarningf("D30A89841E9", "header %s", "X")
	l.QInfof(NoQueue, "reject: RCPT")
	l.Infof("two\nlines\r")
	l.Close()
	got, _ := os.ReadFile(file)
	want := `Nov 01 09:05:07 mx postern/submission/smtpd[42]: connect from localhost[127.0.0.1]
Nov 01 09:05:07 mx postern/submission/smtpd[42]: warning: hostname x does not resolve
Nov 01 09:05:07 mx postern/submission/smtpd[42]: error: e
Nov 01 09:05:07 mx postern/submission/smtpd[42]: fatal: bad 1
Nov 01 09:05:07 mx postern/submission/smtpd[42]: panic: p
Nov 01 09:05:07 mx postern/submission/smtpd[42]: D30A89841E9: from=<a@b>, size=285
Nov 01 09:05:07 mx postern/submission/smtpd[42]: D30A89841E9: warning: header X
Nov 01 09:05:07 mx postern/submission/smtpd[42]: NOQUEUE: reject: RCPT
Nov 01 09:05:07 mx postern/submission/smtpd[42]: two lines
`
	if string(got) != want {
		t.Errorf("log file:\n%s\nwant:\n%s", got, want)
	}
}

func TestStderrCopy(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Options{Program: "postsuper", File: "/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	l.stderr = &buf
	l.Warningf("invalid mail queue id: %s", "X")
	l.QInfof("ABC", "removed")
	want := "postsuper: warning: invalid mail queue id: X\npostsuper: ABC: removed\n"
	if buf.String() != want {
		t.Errorf("stderr %q, want %q", buf.String(), want)
	}
}

func TestMaillogFilePrefixes(t *testing.T) {
	_, err := New(Options{File: "/srv/x/maillog", FilePrefixes: []string{"/var", "/dev/stdout"}})
	want := "maillog_file value '/srv/x/maillog' does not match any prefix in maillog_file_prefixes"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if _, err := New(Options{File: "/dev/stdout", FilePrefixes: []string{"/var", "/dev/stdout"}}); err != nil {
		t.Errorf("/dev/stdout: %v", err)
	}
	if _, err := New(Options{Facility: "nosuch"}); err == nil {
		t.Errorf("unknown facility accepted")
	}
}

func TestLongLineIsCut(t *testing.T) {
	file := filepath.Join(t.TempDir(), "log")
	l, err := New(Options{File: file})
	if err != nil {
		t.Fatal(err)
	}
	l.Infof("%s", strings.Repeat("x", 10000))
	l.Close()
	b, _ := os.ReadFile(file)
	if len(b) != MaxLine || b[len(b)-1] != '\n' {
		t.Errorf("line of %d bytes, want %d ending in newline", len(b), MaxLine)
	}
}

func TestSyslogDatagram(t *testing.T) {
	// A fake /dev/log: the Logger dials the fixed path, so test the
	// formatting through a socket we hand it.
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := net.Dial("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{Program: "qmgr", Facility: "local3", File: "/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	l.file, l.syslog, l.now, l.pid = nil, c, fixedTime, 7
	l.retag()
	l.QWarningf("ABC", "w")
	buf := make([]byte, 1000)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := "<156>Nov  1 09:05:07 postern/qmgr[7]: ABC: warning: w" // local3=19, warning=4
	if string(buf[:n]) != want {
		t.Errorf("datagram %q, want %q", buf[:n], want)
	}
}

// TestConcurrentProcessesAppend starts several processes that log to the
// same maillog_file at once and checks that every line arrives whole.
func TestConcurrentProcessesAppend(t *testing.T) {
	const procs, lines = 8, 2000
	file := filepath.Join(t.TempDir(), "maillog")
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), "LOG_HELPER_FILE="+file, "LOG_HELPER_LINES="+strconv.Itoa(lines),
			"LOG_HELPER_ID="+strconv.Itoa(i))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d h postern/writer(\d+)\[\d+\]: line (\d+) x{200}$`)
	count := map[string]int{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("mangled line %d: %q", n+1, sc.Text())
		}
		count[m[1]]++
		n++
	}
	if n != procs*lines {
		t.Errorf("%d lines, want %d", n, procs*lines)
	}
	for id, c := range count {
		if c != lines {
			t.Errorf("writer %s: %d lines, want %d", id, c, lines)
		}
	}
}

// TestHelperWriter is the child of TestConcurrentProcessesAppend.
func TestHelperWriter(t *testing.T) {
	file := os.Getenv("LOG_HELPER_FILE")
	if file == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("LOG_HELPER_LINES"))
	l, err := New(Options{Program: "writer" + os.Getenv("LOG_HELPER_ID"), File: file, Hostname: "h.example"})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 200)
	for i := 0; i < n; i++ {
		l.Infof("line %d %s", i, pad)
	}
	l.Close()
}

func TestDefaultBeforeInitGoesToStderr(t *testing.T) {
	if Default().file != nil || Default().stderr == nil {
		t.Errorf("default logger should write to stderr only")
	}
	_ = fmt.Sprint()
}
