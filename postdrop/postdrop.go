package postdrop

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"postern/pkg/acl"
	"postern/pkg/trigger"
	"strconv"
	"strings"
	"syscall"

	"postern/pkg/config"
	plog "postern/pkg/log"
	"postern/pkg/queue"
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

// UIDAttr is the envelope attribute in which postdrop records the real uid
// of the submitting process (pickup's "uid=" and the Received: header).
const UIDAttr = "submit_uid"

// CheckConfigDir reports whether the invoking user may use the
// configuration directory dir (see acl.ConfigDir).
func CheckConfigDir(dir string) (errText, fatalText string, ok bool) {
	return acl.ConfigDir(dir)
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
	recordMode := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-c" && i+1 < len(args):
			i++
			dirFlag = args[i]
		case strings.HasPrefix(a, "-c") && len(a) > 2:
			dirFlag = a[2:]
		case a == "-r":
			recordMode = true
		case a == "-v" || a == "-vv":
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
	id, f := run(c, os.Stdin)
	if f != nil {
		if f.text != "" {
			plog.Default().Log(plog.Fatal, "", f.text)
		}
		return f.status
	}
	if recordMode {
		// The caller (sendmail -bs) answers "queued as ID", as
		// Postfix's postdrop reports the queue ID to its caller.
		fmt.Printf("queue_id=%s\n", id)
	}
	return ExOK
}

func run(c *config.Config, in io.Reader) (string, *failure) {
	uid := os.Getuid()
	name := acl.UserName(uid)
	ok, err := acl.UserAllowed(c, "authorized_submit_users", name)
	if err != nil {
		f := fatal(ExTempFail, "%v", err)
		return "", &f
	}
	if !ok {
		f := fatal(ExTempFail, "User %s(%d) is not allowed to submit mail", name, uid)
		return "", &f
	}
	limit, _ := c.Size("message_size_limit")
	long, _ := c.Bool("enable_long_queue_ids")
	qdir := c.Get("queue_directory")
	q := queue.FromConfig(qdir, c)
	// maildrop/ is mode 0730: the postdrop group may create files there
	// but not read the directory, so it cannot open it to fsync it. As
	// Postfix does, the file is created under its final name and made
	// durable with its own fsync, which on ext4, XFS and btrfs also makes
	// the new name durable (see pkg/queue, DURABILITY). Whoever can read
	// the directory (root, mail_owner) gets the directory fsync as well.
	q.Method = queue.MethodExecBit
	if d, err := os.Open(filepath.Join(qdir, queue.Maildrop)); err == nil {
		d.Close()
	} else {
		q.NoDirSync = true
	}
	q.LongIDs = long
	q.Mode = 0644
	id, f := Drop(q, in, uid, limit)
	if f != nil {
		return "", f
	}
	TriggerPickup(qdir)
	return id, nil
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
