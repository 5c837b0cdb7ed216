package postdrop

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"postern/pkg/trigger"
	"strconv"
	"strings"
	"syscall"

	"postern/pkg/config"
	plog "postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/table"
)

// Exit statuses (sysexits.h).
const (
	ExOK          = 0
	ExUsage       = 64
	ExDataErr     = 65
	ExUnavailable = 69
	ExSoftware    = 70
	ExTempFail    = 75
	ExNoPerm      = 77
)

// defaultConfigDir is the configuration directory whose main.cf says which
// other directories ordinary users may name (alternate_config_directories).
// It is a variable only so that tests can build a binary with another one
// (go build -ldflags "-X postern/postdrop.defaultConfigDir=DIR"), as
// Postfix's is fixed at compile time; nothing can change it at run time.
var defaultConfigDir = config.DefaultDir

// DefaultConfigDir returns the compiled-in default configuration directory.
func DefaultConfigDir() string { return defaultConfigDir }

// UIDAttr is the envelope attribute in which postdrop records the real uid
// of the submitting process (pickup's "uid=" and the Received: header).
const UIDAttr = "submit_uid"

// CheckConfigDir reports whether the invoking user may use the
// configuration directory dir. Root may use any; others only the default
// and those listed in the default main.cf's alternate_config_directories
// or multi_instance_directories. On refusal it returns Postfix's error and
// fatal texts.
func CheckConfigDir(dir string) (errText, fatalText string, ok bool) {
	dir = filepath.Clean(dir)
	if os.Getuid() == 0 || dir == filepath.Clean(defaultConfigDir) {
		return "", "", true
	}
	if c, err := config.Load(defaultConfigDir); err == nil {
		for _, p := range []string{"alternate_config_directories", "multi_instance_directories"} {
			for _, d := range c.List(p) {
				if filepath.Clean(d) == dir {
					return "", "", true
				}
			}
		}
	}
	return "unauthorized configuration directory name: " + dir,
		fmt.Sprintf("specify \"alternate_config_directories = %s\" or \"multi_instance_directories = %s\" in %s/main.cf",
			dir, dir, defaultConfigDir), false
}

// Authorized reports whether the user name may submit mail according to
// authorized_submit_users: a list of names, type:table lookups (the user
// name is the key) and !negations; the first match decides, no match
// refuses. A table that cannot be read is an error.
func Authorized(c *config.Config, name string) (bool, error) {
	for _, e := range c.List("authorized_submit_users") {
		neg := false
		for strings.HasPrefix(e, "!") {
			neg = !neg
			e = e[1:]
		}
		match := false
		if strings.Contains(e, ":") {
			t, err := table.Open(e, 0)
			if err != nil {
				return false, fmt.Errorf("authorized_submit_users: %v", err)
			}
			_, found, err := t.Lookup(name)
			t.Close()
			if err != nil {
				return false, fmt.Errorf("authorized_submit_users: %s: table lookup problem: %v", e, err)
			}
			match = found
		} else {
			match = strings.EqualFold(e, name)
		}
		if match {
			return !neg, nil
		}
	}
	return false, nil
}

// UserName returns the login name of uid, or its number as a string.
func UserName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// TriggerPickup wakes pickup through public/pickup. Nothing listening is
// not an error: the message waits in maildrop/ for pickup's next scan.
func TriggerPickup(queueDir string) {
	trigger.Send(queueDir, "public/pickup", trigger.Wakeup)
}

type failure struct {
	status int
	text   string
}

func fatal(status int, format string, a ...any) failure {
	return failure{status, fmt.Sprintf(format, a...)}
}

// Main runs postdrop with args (args[0] is the program name).
func Main(args []string) int {
	syscall.Umask(022)
	plog.SetStderr(true)
	dirFlag := ""
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-c" && i+1 < len(args):
			i++
			dirFlag = args[i]
		case strings.HasPrefix(a, "-c") && len(a) > 2:
			dirFlag = a[2:]
		case a == "-r" || a == "-v" || a == "-vv":
		default:
			plog.Default().Log(plog.Fatal, "", "usage: postdrop [-c config_dir] [-v]")
			return ExTempFail
		}
	}
	dir := config.Dir(dirFlag)
	if e, f, ok := CheckConfigDir(dir); !ok {
		plog.Errorf("%s", e)
		plog.Default().Log(plog.Fatal, "", f)
		return ExTempFail
	}
	c, err := config.Load(dir)
	if err != nil {
		plog.Default().Log(plog.Fatal, "", err.Error())
		return ExTempFail
	}
	// A user who cannot write the mail log still gets the messages on
	// stderr.
	_ = plog.Setup(c, "postdrop", true)
	if f := run(c, os.Stdin); f != nil {
		if f.text != "" {
			plog.Default().Log(plog.Fatal, "", f.text)
		}
		return f.status
	}
	return ExOK
}

func run(c *config.Config, in io.Reader) *failure {
	uid := os.Getuid()
	name := UserName(uid)
	ok, err := Authorized(c, name)
	if err != nil {
		f := fatal(ExTempFail, "%v", err)
		return &f
	}
	if !ok {
		f := fatal(ExTempFail, "User %s(%d) is not allowed to submit mail", name, uid)
		return &f
	}
	limit, _ := c.Size("message_size_limit")
	long, _ := c.Bool("enable_long_queue_ids")
	qdir := c.Get("queue_directory")
	q := queue.New(qdir)
	q.LongIDs = long
	q.Mode = 0644
	if _, f := Drop(q, in, uid, limit); f != nil {
		return f
	}
	TriggerPickup(qdir)
	return nil
}

// Drop reads a submission stream from in and commits it into maildrop/
// of q, recording uid; it returns the queue ID. limit > 0 bounds the
// content size (message_size_limit).
func Drop(q *queue.Queue, in io.Reader, uid int, limit int64) (string, *failure) {
	sr, err := NewStreamReader(in)
	if err != nil {
		f := fatal(ExTempFail, "uid=%d: %v", uid, inputErr(err))
		return "", &f
	}
	w, err := q.Create("maildrop")
	if err != nil {
		f := fatal(ExTempFail, "uid=%d: create file in maildrop: %v", uid, err)
		return "", &f
	}
	committed := false
	defer func() {
		if !committed {
			w.Abort()
		}
	}()
	env := &queue.Envelope{RewriteContext: "local"}
	envSet := false
	setEnv := func() error {
		if envSet {
			return nil
		}
		envSet = true
		env.Attrs = append(env.Attrs, queue.Attr{Name: UIDAttr, Value: strconv.Itoa(uid)})
		return w.SetEnvelope(env)
	}
	var size int64
	for {
		typ, p, err := sr.Next()
		if err != nil {
			f := fatal(ExTempFail, "uid=%d: %v", uid, inputErr(err))
			return "", &f
		}
		if envSet && (typ == RecSender || typ == RecFullName || typ == RecAttr) {
			f := fatal(ExTempFail, "uid=%d: %v: envelope record after recipients", uid, ErrFormat)
			return "", &f
		}
		switch typ {
		case RecSender:
			env.Sender = string(p)
		case RecFullName:
			env.SenderFullName = string(p)
		case RecAttr:
			n, v, err := ParseAttr(p)
			if err != nil {
				f := fatal(ExTempFail, "uid=%d: %v", uid, err)
				return "", &f
			}
			switch n {
			case UIDAttr: // only postdrop says who submitted
			case "rewrite_context":
				env.RewriteContext = v
			case "envelope_id":
				env.EnvelopeID = v
			case "ret_flags":
				env.Ret, _ = strconv.Atoi(v)
			case "encoding":
				env.Encoding = v
			case "verp_delimiters":
				env.VERPDelimiters = v
			default:
				env.Attrs = append(env.Attrs, queue.Attr{Name: n, Value: v})
			}
		case RecRecipient, RecExtracted:
			notify, addr, err := ParseRecipient(p)
			if err == nil {
				err = setEnv()
			}
			if err == nil {
				err = w.AddRecipient(queue.Recipient{Address: addr, Notify: notify})
			}
			if err != nil {
				f := fatal(ExTempFail, "uid=%d: %v", uid, err)
				return "", &f
			}
		case RecContent:
			size += int64(len(p))
			if limit > 0 && size > limit {
				f := fatal(ExUnavailable, "uid=%d: message file too big", uid)
				return "", &f
			}
			err := setEnv()
			if err == nil {
				_, err = w.Write(p)
			}
			if err != nil {
				f := fatal(ExTempFail, "uid=%d: error writing %s: %v", uid, w.Path(), err)
				return "", &f
			}
		case RecEnd:
			if err := setEnv(); err != nil {
				f := fatal(ExTempFail, "uid=%d: %v", uid, err)
				return "", &f
			}
			if err := w.Commit(); err != nil {
				f := fatal(ExTempFail, "uid=%d: error writing %s: %v", uid, w.Path(), err)
				return "", &f
			}
			committed = true
			return w.ID(), nil
		case RecAbort:
			// The submitter reported its own error; nothing to add.
			return "", &failure{status: ExTempFail}
		default:
			f := fatal(ExTempFail, "uid=%d: %v: unexpected record type %d", uid, ErrFormat, typ)
			return "", &f
		}
	}
}

func inputErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected EOF in data")
	}
	return err
}
