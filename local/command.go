package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"postern/pkg/mailbox"
)

// command delivers to a "|command" target of an alias, .forward or
// include.
func (d *delivery) command(a attr, u userAttr, cmd string) status {
	if !d.s.p.allowCommands[a.expType] {
		return d.bounce(a, "5.7.1", "mail to command is restricted")
	}
	creds := d.s.privs(u.creds)
	if !u.set {
		creds = d.s.defaultPrivs
	}
	if d.seen(fmt.Sprintf("command %d %s", creds.UID, cmd)) {
		return stOK
	}
	if msg, ok := checkCreds(creds); !ok {
		return d.deferTo(a, "4.3.0", msg)
	}
	return d.runCommand(a, u, creds, cmd)
}

// sysexits maps exit statuses as Postfix's sys_exits.c does.
var sysexits = map[int]struct{ dsn, text string }{
	64: {"5.3.0", "command line usage error"},
	65: {"5.6.0", "data format error"},
	66: {"5.3.0", "cannot open input"},
	67: {"5.1.1", "user unknown"},
	68: {"5.1.2", "host name unknown"},
	69: {"5.3.0", "service unavailable"},
	70: {"5.3.0", "internal software error"},
	71: {"4.3.0", "system resource problem"},
	72: {"5.3.0", "critical OS file missing"},
	73: {"5.2.0", "can't create user output file"},
	74: {"5.3.0", "input/output error"},
	75: {"4.3.0", "temporary failure"},
	76: {"5.5.0", "remote error in protocol"},
	77: {"5.7.0", "permission denied"},
	78: {"5.3.5", "local configuration error"},
}

// shellMeta are the characters that make Postfix run a command through
// the shell instead of splitting it itself.
const shellMeta = "\"'`$\\;&|<>()[]{}*?~\n\r"

// outputLimit is how much command output is kept for the status text.
const outputLimit = 4096

// limitedBuffer keeps the first outputLimit bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := outputLimit - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// runCommand runs cmd as creds with the message on standard input and
// maps its outcome (Postfix's pipe_command).
func (d *delivery) runCommand(a attr, u userAttr, creds Creds, cmd string) status {
	p := d.s.p
	var argv []string
	switch {
	case p.commandShell != "":
		argv = append(strings.Fields(p.commandShell), cmd)
	case strings.ContainsAny(cmd, shellMeta):
		argv = []string{"/bin/sh", "-c", cmd}
	default:
		argv = strings.Fields(cmd)
	}
	if len(argv) == 0 {
		return d.bounce(a, "5.3.0", "Command died with status 1: \""+cmd+"\"")
	}
	ctx, cancel := context.WithTimeout(d.ctx, p.commandTimeLimit)
	defer cancel()
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Cancel = func() error {
		return syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	c.WaitDelay = 10 * time.Second
	c.Dir = d.s.queueDir
	if p.execDir != "" {
		c.Dir = expandMacros(p.execDir, d.macroVars(a, &passwd{home: u.home, shell: u.shell}), p.cmdFilter)
		if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
			return d.deferTo(a, "4.3.0", "mail system configuration error")
		}
	}
	c.Env = d.commandEnv(a, u)
	groups := make([]uint32, 0, len(creds.Groups))
	for _, g := range creds.Groups {
		groups = append(groups, uint32(g))
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		c.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(creds.UID), Gid: uint32(creds.GID), Groups: groups}
	}
	var out limitedBuffer
	c.Stdout = &out
	c.Stderr = &out
	c.Stdin = io.MultiReader(
		strings.NewReader(mailbox.FromLine(a.sender, d.qf.ArrivalTime())),
		bytes.NewReader(d.headers(a, "command")),
		d.qf.ContentReader(),
	)
	err := c.Run()
	output := strings.TrimRight(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, out.String()), "\x00")
	if err == nil {
		return d.sent(a, "delivered to command: "+cmd)
	}
	if ctx.Err() == context.DeadlineExceeded && d.ctx.Err() == nil {
		return d.bounce(a, "5.3.0", fmt.Sprintf("Command time limit exceeded: \"%s\"", cmd))
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		var ee2 *exec.Error
		if errors.As(err, &ee2) || errors.Is(err, os.ErrNotExist) {
			return d.bounce(a, "5.3.0", fmt.Sprintf("Command died with status 1: \"%s\". Command output: execvp %s: %s", cmd, argv[0], errText(errors.Unwrap(err))))
		}
		return d.deferTo(a, "4.3.0", fmt.Sprintf("Command failed: \"%s\": %v", cmd, err))
	}
	ws, _ := ee.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return d.deferTo(a, "4.3.0", fmt.Sprintf("Command died with signal %d: \"%s\"", ws.Signal(), cmd))
	}
	code := ws.ExitStatus()
	if dsn, rest, ok := leadingDSN(output); ok {
		return d.fail(a, dsn, rest)
	}
	withOutput := func(text string) string {
		if output != "" {
			return text + ". Command output: " + output
		}
		return text
	}
	if m, ok := sysexits[code]; ok {
		return d.fail(a, m.dsn, withOutput(m.text))
	}
	return d.bounce(a, "5.3.0", withOutput(fmt.Sprintf("Command died with status %d: \"%s\"", code, cmd)))
}

// leadingDSN recognises command output that starts with an RFC 3463 code
// of class 4 or 5 ("5.7.0 mailbox disabled").
func leadingDSN(s string) (dsn, rest string, ok bool) {
	i := 0
	if len(s) < 5 || (s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return "", "", false
	}
	i = 2
	digits := func(max int) bool {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && n < max {
			i++
			n++
		}
		return n > 0
	}
	if !digits(3) || i >= len(s) || s[i] != '.' {
		return "", "", false
	}
	i++
	if !digits(3) {
		return "", "", false
	}
	if i < len(s) && s[i] != ' ' {
		return "", "", false
	}
	return s[:i], strings.TrimLeft(s[i:], " "), true
}

// commandEnv is the environment of a command delivery.
func (d *delivery) commandEnv(a attr, u userAttr) []string {
	p := d.s.p
	env := []string{"PATH=/usr/bin:/bin"}
	for _, name := range p.exportEnv {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	set := func(name, value string) {
		env = append(env, name+"="+filterChars(value, p.cmdFilter))
	}
	if u.home != "" {
		set("HOME", u.home)
	}
	if u.shell != "" {
		set("SHELL", u.shell)
	}
	set("USER", a.user)
	set("LOGNAME", a.user)
	if a.ext != "" {
		set("EXTENSION", a.ext)
	}
	set("LOCAL", a.local)
	set("DOMAIN", a.domain)
	set("RECIPIENT", a.address)
	set("SENDER", a.sender)
	set("ORIGINAL_RECIPIENT", d.origRcpt)
	e := d.env
	if e.ClientAddr != "" {
		set("CLIENT_ADDRESS", e.ClientAddr)
		set("CLIENT_HELO", e.HeloName)
		set("CLIENT_HOSTNAME", e.ClientName)
		set("CLIENT_PROTOCOL", e.Protocol)
	}
	if e.SASLMethod != "" {
		set("SASL_METHOD", e.SASLMethod)
		set("SASL_SENDER", e.SASLSender)
		set("SASL_USERNAME", e.SASLUsername)
	}
	return env
}
