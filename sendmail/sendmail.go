package sendmail

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"postern/pkg/acl"
	"postern/pkg/strerror"
	"strconv"
	"strings"
	"syscall"

	"postern/pkg/config"
	plog "postern/pkg/log"
	"postern/postdrop"
)

// Exit statuses (sysexits.h).
const (
	exOK          = 0
	exUnavailable = 69
	exTempFail    = 75
)

type program struct {
	name string
	cfg  *config.Config
	dir  string
	env  []string
}

func (p *program) fatal(status int, format string, a ...any) int {
	plog.Default().Log(plog.Fatal, "", fmt.Sprintf(format, a...))
	return status
}

// Main runs sendmail (also invoked as mailq and newaliases) with args
// (args[0] is the program name).
func Main(args []string) int {
	p := &program{name: args[0]}
	plog.Default().SetProgram(p.name)
	plog.SetStderr(true)
	o, err := ParseArgs(p.name, args[1:])
	if err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			for _, l := range ue.Pre {
				fmt.Fprintln(os.Stderr, l)
			}
		}
		return p.fatal(exTempFail, "%v", err)
	}
	p.dir = config.Dir("")
	if o.ConfigDir != "" {
		if e, f, ok := postdrop.CheckConfigDir(o.ConfigDir); !ok {
			plog.Errorf("%s", e)
			return p.fatal(exTempFail, "%s", f)
		}
		p.dir = o.ConfigDir
	}
	p.env = append(os.Environ(), "MAIL_CONFIG="+p.dir)
	p.cfg, err = config.Load(p.dir)
	if err != nil {
		return p.fatal(exTempFail, "%v", err)
	}
	// Who cannot write the mail log still gets the messages on stderr.
	_ = plog.Setup(p.cfg, p.name, true)
	for _, w := range o.Warnings {
		plog.Warningf("%s", w)
	}
	cmd := func(n string) string { return filepath.Join(p.cfg.Get("command_directory"), n) }
	switch o.Mode {
	case ModeQueue:
		return p.exec(cmd("postqueue"), "-p")
	case ModeFlush:
		return p.exec(cmd("postqueue"), "-f")
	case ModeFlushR:
		return p.exec(cmd("postqueue"), "-s", o.QueueArg)
	case ModeFlushI:
		return p.exec(cmd("postqueue"), "-i", o.QueueArg)
	case ModeAliases:
		dbs := p.cfg.List("alias_database")
		if o.AliasDB != "" {
			dbs = []string{o.AliasDB}
		}
		if len(dbs) == 0 {
			return exOK
		}
		return p.exec(cmd("postalias"), append([]string{"-c", p.dir}, dbs...)...)
	case ModeDaemon:
		c := exec.Command(cmd("postern"), "-c", p.dir, "start")
		c.Env = p.env
		if err := c.Start(); err != nil {
			return p.fatal(exTempFail, "%s: %v", cmd("postern"), err)
		}
		return exOK
	case ModeIgnore:
		return exOK
	case ModeSMTP:
		return p.serveSMTP()
	}
	return p.enqueue(o, os.Stdin)
}

// exec replaces sendmail with another postern command, as Postfix does.
func (p *program) exec(path string, args ...string) int {
	err := syscall.Exec(path, append([]string{path}, args...), p.env)
	return p.fatal(exTempFail, "execv %s: %s", path, strerror.Text(err))
}

func (p *program) enqueue(o *Options, in io.Reader) int {
	uid := os.Getuid()
	u, uerr := user.LookupId(strconv.Itoa(uid))
	login := strconv.Itoa(uid)
	if uerr == nil {
		login = u.Username
	}
	if ok, err := acl.UserAllowed(p.cfg, "authorized_submit_users", login); err != nil {
		return p.fatal(exTempFail, "%v", err)
	} else if !ok {
		return p.fatal(exTempFail, "User %s(%d) is not allowed to submit mail", login, uid)
	}
	sender := login
	if o.SenderSet {
		sender = cleanSender(o.Sender)
	}
	who := fmt.Sprintf("%s(%d)", sender, uid)
	if sender == "" {
		who = fmt.Sprintf("<>(%d)", uid)
	}
	fullName := o.FullName
	if !o.FullNameSet {
		if n := os.Getenv("NAME"); n != "" {
			fullName = n
		} else if uerr == nil {
			fullName = u.Name
		}
	}
	var rcpts []string
	for _, a := range o.Recipients {
		l := ParseAddressList(a)
		if len(l) == 0 {
			l = []string{""} // empty_address_recipient, as Postfix
		}
		rcpts = append(rcpts, l...)
	}
	if len(rcpts) == 0 && !o.Extract {
		return p.fatal(exTempFail, "%s(%d): Recipient addresses must be specified on the command line or via the -t option", login, uid)
	}
	limit, err := p.cfg.Size("message_size_limit")
	if err != nil {
		return p.fatal(exTempFail, "%v", err)
	}
	path := filepath.Join(p.cfg.Get("command_directory"), "postdrop")
	c := exec.Command(path, "-r")
	c.Env = p.env
	// postdrop -r reports the queue ID on stdout; sendmail prints
	// nothing on success, as Postfix's.
	c.Stdout, c.Stderr = io.Discard, os.Stderr
	pipe, err := c.StdinPipe()
	if err != nil {
		return p.fatal(exTempFail, "%s: unable to execute %s: %v", who, path, err)
	}
	if err := c.Start(); err != nil {
		return p.fatal(exTempFail, "%s: unable to execute %s -r: %s", who, path, errText(err))
	}
	w := postdrop.NewStreamWriter(pipe)
	abort := func(status int, format string, a ...any) int {
		w.Record(postdrop.RecAbort, nil)
		w.Flush()
		pipe.Close()
		c.Wait()
		return p.fatal(status, format, a...)
	}
	w.String(postdrop.RecSender, sender)
	if fullName != "" {
		w.String(postdrop.RecFullName, fullName)
	}
	if o.Gateway {
		w.Attr("rewrite_context", "remote")
	}
	if o.EnvID != "" {
		w.Attr("envelope_id", o.EnvID)
	}
	if o.Ret != 0 {
		w.Attr("ret_flags", strconv.Itoa(o.Ret))
	}
	if o.Encoding != "" {
		w.Attr("encoding", o.Encoding)
	}
	if o.VERP {
		d := o.VERPDelims
		if d == "" {
			d = p.cfg.Get("default_verp_delimiters")
		}
		w.Attr("verp_delimiters", d)
	}
	switch {
	case o.Mode == ModeVerify:
		w.Attr("trace_flags", "verify")
	case o.Verbose == 1:
		w.Attr("trace_flags", "record")
	}
	for _, r := range rcpts {
		w.Recipient(postdrop.RecRecipient, o.Notify, r)
	}
	f := &Filter{IgnoreDot: o.IgnoreDot, Extract: o.Extract,
		LineEndings: p.cfg.Get("sendmail_fix_line_endings"), Limit: limit}
	if err := f.Run(in, w); err != nil {
		if errors.Is(err, ErrTooBig) {
			return abort(exUnavailable, "%s: message file too big", who)
		}
		return abort(exTempFail, "%s: error writing queue file: %v", who, err)
	}
	if o.Extract && len(f.Recipients) == 0 && len(rcpts) == 0 {
		return abort(exTempFail, "%s(%d): No recipient addresses found in message header", login, uid)
	}
	for _, r := range f.Recipients {
		w.Recipient(postdrop.RecExtracted, o.Notify, r)
	}
	w.Record(postdrop.RecEnd, nil)
	werr := w.Flush()
	pipe.Close()
	err = c.Wait()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			return ee.ExitCode() // postdrop said why
		}
		return p.fatal(exTempFail, "%s: error writing queue file: %v", who, err)
	}
	if werr != nil {
		return p.fatal(exTempFail, "%s: error writing queue file: %v", who, werr)
	}
	if o.Mode == ModeVerify || o.Verbose == 1 {
		fmt.Printf("Mail Delivery Status Report will be mailed to <%s>.\n", sender)
	}
	return exOK
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return strerror.Text(pe.Err)
	}
	return err.Error()
}

// cleanSender turns a -f argument into the envelope sender: "" and "<>"
// are the null sender; a malformed value gives a warning and its first
// address token, as Postfix does.
func cleanSender(s string) string {
	t := strings.TrimSpace(s)
	if t == "" || t == "<>" {
		return ""
	}
	if strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">") && !strings.ContainsAny(t[1:len(t)-1], "<> \t") {
		return t[1 : len(t)-1]
	}
	if strings.ContainsAny(t, " \t,<>()") {
		plog.Warningf("-f option specified malformed sender: %s", s)
		if f := strings.Fields(strings.NewReplacer(",", " ", "<", " ", ">", " ", "(", " ", ")", " ").Replace(t)); len(f) > 0 {
			return f[0]
		}
		return ""
	}
	return t
}
