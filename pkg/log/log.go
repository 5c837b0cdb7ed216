// Package log writes postern's mail log in Postfix's format.
//
// Every line is one event:
//
//	Nov 21 23:20:55 mx postern/smtpd[9112]: D30A89841E9: from=<a@b>, size=285, nrcpt=1 (queue active)
//	└── timestamp ─┘ │  └ tag ──────────┘   └ queue ID ┘ └ text ──────────────────────────────┘
//	                 host
//
// The tag is SYSLOG_NAME/PROGRAM[PID]: syslog_name from main.cf (or from a
// master.cf "-o syslog_name=postern/submission" override, giving
// "postern/submission/smtpd"), the process name and its PID. Severities other
// than informational put "warning: ", "error: ", "fatal: " or "panic: " right
// after the tag, or after the queue ID for per-message lines (QWarningf).
//
// Destination (see Options):
//
//   - maillog_file empty: syslog, by datagrams to /dev/log with the facility of
//     syslog_facility. The socket is connected at Init, before a daemon
//     chroots, and kept; when there is no /dev/log the lines are dropped
//     quietly (a container without a syslog daemon).
//   - maillog_file set: the lines are appended to that file, which must start
//     with one of maillog_file_prefixes (as in Postfix, anything else is a
//     fatal configuration error). The file is opened with O_APPEND and every
//     line is written with a single write(2) of at most MaxLine bytes, so that
//     any number of processes can append to the same file and no two lines
//     interleave. "/dev/stdout" and "/dev/stderr" mean the inherited file
//     descriptors 1 and 2 (make run logs to the terminal that way).
//
// The file timestamp pads the day with a zero ("Nov 01"), as Postfix's postlogd
// does, and the host is the first label of myhostname; syslog adds its own.
//
// Command-line tools also print each line on stderr as "program: severity:
// text" (Options.Stderr), as Postfix's tools do.
//
// Until Init is called, lines go to stderr only, so that a program can report
// a broken configuration before it knows where its log is.
package log

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// MaxLine is the longest line written, newline included. Longer lines are
// cut. It is PIPE_BUF, the size up to which even a write to a pipe (maillog_file
// = /dev/stdout under a pipe) is atomic.
const MaxLine = 4096

// Severity of a log line.
type Severity int

// Severities, in Postfix's order.
const (
	Info Severity = iota
	Warning
	Error
	Fatal
	Panic
)

var sevPrefix = [...]string{"", "warning: ", "error: ", "fatal: ", "panic: "}

// syslog priorities (RFC 5424 severity) of each Severity, as Postfix's
// msg_syslog maps them.
var sevSyslog = [...]int{6, 4, 3, 2, 2}

// Params is what Setup reads from the configuration; *config.Config
// satisfies it.
type Params interface {
	Get(name string) string
}

// Options says where and how a Logger writes.
type Options struct {
	Program      string   // process name: "smtpd", "master", "postern-script"
	SyslogName   string   // syslog_name: "postern", "postern/submission"
	Facility     string   // syslog_facility: "mail" when empty
	File         string   // maillog_file; empty means syslog
	FilePrefixes []string // maillog_file_prefixes; nil means no check
	Hostname     string   // myhostname; its first label goes in file lines
	Stderr       bool     // also print "program: severity: text" on stderr
}

// OptionsFrom fills Options from main.cf parameters for the named program.
func OptionsFrom(p Params, program string) Options {
	return Options{
		Program:      program,
		SyslogName:   p.Get("syslog_name"),
		Facility:     p.Get("syslog_facility"),
		File:         p.Get("maillog_file"),
		FilePrefixes: splitList(p.Get("maillog_file_prefixes")),
		Hostname:     p.Get("myhostname"),
	}
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

// A Logger writes log lines. The package-level functions use a default
// Logger; a Logger is safe for concurrent use.
type Logger struct {
	mu       sync.Mutex
	opt      Options
	tag      string // "postern/smtpd[123]: "
	host     string
	pid      int
	file     io.Writer // maillog_file, or nil
	closer   io.Closer
	syslog   net.Conn // /dev/log, or nil
	priority int      // facility<<3
	stderr   io.Writer
	now      func() time.Time
	exit     func(int)
}

// New returns a Logger that writes according to o. It fails when
// maillog_file matches none of maillog_file_prefixes or cannot be opened.
func New(o Options) (*Logger, error) {
	l := &Logger{opt: o, pid: os.Getpid(), now: time.Now, exit: os.Exit}
	if l.opt.Program == "" {
		l.opt.Program = filepath.Base(os.Args[0])
	}
	if l.opt.SyslogName == "" {
		l.opt.SyslogName = "postern"
	}
	if o.Stderr {
		l.stderr = os.Stderr
	}
	l.host = o.Hostname
	if l.host == "" {
		l.host, _ = os.Hostname()
	}
	if i := strings.IndexByte(l.host, '.'); i > 0 {
		l.host = l.host[:i]
	}
	l.retag()
	fac, ok := facilities[strings.ToLower(strings.TrimPrefix(strings.ToLower(o.Facility), "log_"))]
	if o.Facility != "" && !ok {
		return nil, fmt.Errorf("unknown syslog_facility value: %s", o.Facility)
	}
	if o.Facility == "" {
		fac = facilities["mail"]
	}
	l.priority = fac << 3
	if o.File != "" {
		if o.FilePrefixes != nil && !hasPrefix(o.File, o.FilePrefixes) {
			return nil, fmt.Errorf("maillog_file value '%s' does not match any prefix in maillog_file_prefixes", o.File)
		}
		switch o.File {
		case "/dev/stdout":
			l.file = os.Stdout
		case "/dev/stderr":
			l.file = os.Stderr
		default:
			f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0644)
			if err != nil {
				return nil, fmt.Errorf("open maillog_file %s: %v", o.File, err)
			}
			l.file, l.closer = f, f
		}
	} else {
		l.dialSyslog()
	}
	return l, nil
}

func hasPrefix(file string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(file, p) {
			return true
		}
	}
	return false
}

func (l *Logger) retag() {
	l.tag = fmt.Sprintf("%s/%s[%d]: ", l.opt.SyslogName, l.opt.Program, l.pid)
}

func (l *Logger) dialSyslog() {
	for _, network := range []string{"unixgram", "unix"} {
		c, err := net.Dial(network, "/dev/log")
		if err == nil {
			l.syslog = c
			return
		}
	}
}

// SetStderr turns the copy of every line on stderr on or off.
func (l *Logger) SetStderr(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if on {
		l.stderr = os.Stderr
	} else {
		l.stderr = nil
	}
}

// SetProgram changes the process name in the tag (a re-executed helper).
func (l *Logger) SetProgram(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opt.Program = name
	l.retag()
}

// Close releases the log file or syslog socket.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.closer != nil {
		err = l.closer.Close()
		l.closer, l.file = nil, nil
	}
	if l.syslog != nil {
		l.syslog.Close()
		l.syslog = nil
	}
	return err
}

// Log writes one line of severity sev; qid, when not empty, is the queue ID
// (or "NOQUEUE") that the text is about.
func (l *Logger) Log(sev Severity, qid, text string) {
	text = strings.TrimRight(text, "\r\n")
	// A log line is one line: newlines inside the text would let outside
	// input forge lines.
	if strings.ContainsAny(text, "\n\r") {
		text = strings.NewReplacer("\n", " ", "\r", " ").Replace(text)
	}
	var body string
	if qid != "" {
		body = qid + ": " + sevPrefix[sev] + text
	} else {
		body = sevPrefix[sev] + text
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.file != nil {
		line := now.Format("Jan 02 15:04:05") + " " + l.host + " " + l.tag + body
		writeLine(l.file, line)
	} else if l.syslog != nil {
		line := fmt.Sprintf("<%d>%s %s%s", l.priority|sevSyslog[sev], now.Format(time.Stamp), l.tag, body)
		if len(line) > MaxLine {
			line = line[:MaxLine]
		}
		if _, err := l.syslog.Write([]byte(line)); err != nil {
			l.syslog.Close()
			l.syslog = nil
			l.dialSyslog()
			if l.syslog != nil {
				l.syslog.Write([]byte(line))
			}
		}
	}
	if l.stderr != nil {
		writeLine(l.stderr, l.opt.Program+": "+body)
	}
}

// writeLine writes line and a newline with one write(2).
func writeLine(w io.Writer, line string) {
	if len(line) > MaxLine-1 {
		line = line[:MaxLine-1]
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(buf, line...)
	buf = append(buf, '\n')
	w.Write(buf)
}

// Infof logs an informational line.
func (l *Logger) Infof(format string, a ...any) { l.Log(Info, "", fmt.Sprintf(format, a...)) }

// Warningf logs a "warning: " line.
func (l *Logger) Warningf(format string, a ...any) { l.Log(Warning, "", fmt.Sprintf(format, a...)) }

// Errorf logs an "error: " line.
func (l *Logger) Errorf(format string, a ...any) { l.Log(Error, "", fmt.Sprintf(format, a...)) }

// Fatalf logs a "fatal: " line and exits with status 1.
func (l *Logger) Fatalf(format string, a ...any) {
	l.Log(Fatal, "", fmt.Sprintf(format, a...))
	l.exit(1)
}

// Panicf logs a "panic: " line (a bug, not a configuration problem) and
// exits with status 2.
func (l *Logger) Panicf(format string, a ...any) {
	l.Log(Panic, "", fmt.Sprintf(format, a...))
	l.exit(2)
}

// QInfof logs "QID: text" for the message with queue ID qid.
func (l *Logger) QInfof(qid, format string, a ...any) { l.Log(Info, qid, fmt.Sprintf(format, a...)) }

// QWarningf logs "QID: warning: text".
func (l *Logger) QWarningf(qid, format string, a ...any) {
	l.Log(Warning, qid, fmt.Sprintf(format, a...))
}

// QErrorf logs "QID: error: text".
func (l *Logger) QErrorf(qid, format string, a ...any) {
	l.Log(Error, qid, fmt.Sprintf(format, a...))
}

// NoQueue is the queue ID logged for events before a queue file exists
// ("NOQUEUE: reject: RCPT from ...").
const NoQueue = "NOQUEUE"

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// The default Logger, used by the package-level functions.
var (
	stdMu sync.RWMutex
	std   = &Logger{
		opt:    Options{Program: filepath.Base(os.Args[0]), SyslogName: "postern"},
		pid:    os.Getpid(),
		stderr: os.Stderr,
		now:    time.Now,
		exit:   os.Exit,
	}
)

func init() { std.retag() }

// Default returns the default Logger.
func Default() *Logger {
	stdMu.RLock()
	defer stdMu.RUnlock()
	return std
}

// Init replaces the default Logger with one built from o.
func Init(o Options) error {
	l, err := New(o)
	if err != nil {
		return err
	}
	stdMu.Lock()
	old := std
	std = l
	stdMu.Unlock()
	if old.closer != nil || old.syslog != nil {
		old.Close()
	}
	return nil
}

// Setup initialises the default Logger from main.cf parameters for program;
// stderr says whether lines are also printed on stderr (command-line tools).
func Setup(p Params, program string, stderr bool) error {
	o := OptionsFrom(p, program)
	o.Stderr = stderr
	return Init(o)
}

// SetStderr turns the stderr copy of the default Logger on or off.
func SetStderr(on bool) { Default().SetStderr(on) }

// Infof logs an informational line with the default Logger.
func Infof(format string, a ...any) { Default().Log(Info, "", fmt.Sprintf(format, a...)) }

// Warningf logs a "warning: " line with the default Logger.
func Warningf(format string, a ...any) { Default().Log(Warning, "", fmt.Sprintf(format, a...)) }

// Errorf logs an "error: " line with the default Logger.
func Errorf(format string, a ...any) { Default().Log(Error, "", fmt.Sprintf(format, a...)) }

// Fatalf logs a "fatal: " line with the default Logger and exits with status 1.
func Fatalf(format string, a ...any) { Default().Fatalf(format, a...) }

// Panicf logs a "panic: " line with the default Logger and exits with status 2.
func Panicf(format string, a ...any) { Default().Panicf(format, a...) }

// QInfof logs "QID: text" with the default Logger.
func QInfof(qid, format string, a ...any) { Default().Log(Info, qid, fmt.Sprintf(format, a...)) }

// QWarningf logs "QID: warning: text" with the default Logger.
func QWarningf(qid, format string, a ...any) {
	Default().Log(Warning, qid, fmt.Sprintf(format, a...))
}

// QErrorf logs "QID: error: text" with the default Logger.
func QErrorf(qid, format string, a ...any) {
	Default().Log(Error, qid, fmt.Sprintf(format, a...))
}

// Close closes the default Logger's file or socket.
func Close() error { return Default().Close() }
