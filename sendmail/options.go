package sendmail

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Modes of operation (the -b letter, or what -q, -I and the invocation
// name select).
const (
	ModeEnqueue  = 'm' // default: queue a message read from stdin
	ModeVerify   = 'v' // -bv
	ModeSMTP     = 's' // -bs
	ModeQueue    = 'p' // -bp, mailq
	ModeAliases  = 'i' // -bi, -I, newaliases
	ModeDaemon   = 'd' // -bd, -bl
	ModeIgnore   = 'h' // -bh, -bH, -q<interval>
	ModeFlush    = 'q' // -q
	ModeFlushR   = 'R' // -qRsite
	ModeFlushI   = 'I' // -qIqueueid
	withArgument = "ABCFLNORVXbefhopr"
)

// DSN NOTIFY bits, Postfix's values.
const (
	NotifyNever   = 1
	NotifySuccess = 2
	NotifyFailure = 4
	NotifyDelay   = 8
)

// Options is a parsed sendmail command line.
type Options struct {
	Mode        byte
	Extract     bool // -t
	IgnoreDot   bool // -i, -oi
	Sender      string
	SenderSet   bool // -f or -r given
	FullName    string
	FullNameSet bool // -F given
	Notify      int  // -N
	Ret         int  // -R: 1 full, 2 hdrs
	EnvID       string
	Encoding    string // -B: "7bit" or "8bit"
	VERP        bool   // -XV or -V xy
	VERPDelims  string // "" means default_verp_delimiters
	Gateway     bool   // -G
	ConfigDir   string // -C
	Verbose     int    // -v count
	AliasDB     string // -oA
	QueueArg    string // site of -qR, queue ID of -qI
	Recipients  []string
	Warnings    []string // "sendmail: warning: " lines to report
}

// UsageError is a fatal command-line error: Pre lines are printed on
// stderr before "sendmail: fatal: Text".
type UsageError struct {
	Pre  []string
	Text string
}

func (e *UsageError) Error() string { return e.Text }

func fatalf(format string, a ...any) *UsageError {
	return &UsageError{Text: fmt.Sprintf(format, a...)}
}

// ParseArgs parses the command line of sendmail invoked as name (sendmail,
// mailq or newaliases). Options and recipients may be mixed, as with GNU
// getopt; "--" ends the options.
func ParseArgs(name string, args []string) (*Options, error) {
	o := &Options{Mode: ModeEnqueue}
	switch name {
	case "mailq":
		o.Mode = ModeQueue
	case "newaliases":
		o.Mode = ModeAliases
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.Recipients = append(o.Recipients, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			o.Recipients = append(o.Recipients, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if c == 'q' {
				if err := o.queueOption(a[j+1:]); err != nil {
					return nil, err
				}
				break
			}
			if strings.IndexByte(withArgument, c) >= 0 {
				arg := a[j+1:]
				if arg == "" {
					if i+1 >= len(args) {
						line := fmt.Sprintf("%s: option requires an argument -- '%c'", name, c)
						return nil, &UsageError{Pre: []string{line, line}, Text: "usage: " + name + " [options]"}
					}
					i++
					arg = args[i]
				}
				if err := o.argOption(c, arg); err != nil {
					return nil, err
				}
				break
			}
			switch c {
			case 't':
				o.Extract = true
			case 'i':
				o.IgnoreDot = true
			case 'v':
				o.Verbose++
			case 'G':
				o.Gateway = true
			case 'I':
				o.Mode = ModeAliases
			case 'n':
				return nil, fatalf("-n option not supported")
			case 'U', 'm', 'c', 'x':
				// ignored
			default:
				line := fmt.Sprintf("%s: invalid option -- '%c'", name, c)
				// Postfix scans the options twice (once for -C) and
				// so prints this twice.
				return nil, &UsageError{Pre: []string{line, line}, Text: "usage: " + name + " [options]"}
			}
		}
	}
	return o, o.check()
}

func (o *Options) check() error {
	switch o.Mode {
	case ModeVerify:
		if o.Extract {
			return fatalf("-t option cannot be used with -bv")
		}
		if o.Notify != 0 {
			return fatalf("-N option cannot be used with -bv")
		}
		if o.Verbose == 1 {
			return fatalf("-v option cannot be used with -bv")
		}
	case ModeFlush, ModeFlushR, ModeFlushI:
		if len(o.Recipients) > 0 {
			return fatalf("flush queue mode requires no recipient")
		}
	}
	return nil
}

func (o *Options) queueOption(arg string) error {
	switch {
	case arg == "":
		o.Mode = ModeFlush
	case arg[0] >= '0' && arg[0] <= '9':
		o.Mode = ModeIgnore
	case arg[0] == 'R':
		if arg[1:] == "" {
			return fatalf("specify: -qRsitename")
		}
		o.Mode, o.QueueArg = ModeFlushR, arg[1:]
	case arg[0] == 'I':
		if arg[1:] == "" {
			return fatalf("specify: -qIqueueid")
		}
		o.Mode, o.QueueArg = ModeFlushI, arg[1:]
	case arg[0] == 'S':
		return fatalf("-qS is not implemented")
	default:
		return fatalf("unsupported: -q%c", arg[0])
	}
	return nil
}

func (o *Options) argOption(c byte, arg string) error {
	switch c {
	case 'A', 'L', 'O', 'e', 'h', 'p':
		// ignored
	case 'B':
		switch {
		case strings.EqualFold(arg, "8BITMIME"):
			o.Encoding = "8bit"
		case strings.EqualFold(arg, "7BIT"):
			o.Encoding = "7bit"
		default:
			return fatalf("-B option needs 8BITMIME or 7BIT")
		}
	case 'C':
		if filepath.Base(arg) == "main.cf" {
			arg = filepath.Dir(arg)
		}
		o.ConfigDir = arg
	case 'F':
		o.FullName, o.FullNameSet = arg, true
	case 'N':
		if n, bad := parseNotify(arg); bad != "" {
			o.Warnings = append(o.Warnings,
				fmt.Sprintf("unknown DSN NOTIFY command value %q in %q", bad, arg),
				"bad -N option value -- ignored")
		} else {
			o.Notify = n
		}
	case 'R':
		switch {
		case strings.EqualFold(arg, "full"):
			o.Ret = 1
		case strings.EqualFold(arg, "hdrs"):
			o.Ret = 2
		default:
			o.Warnings = append(o.Warnings, "bad -R option value -- ignored")
		}
	case 'V':
		switch {
		case len(arg) == 2 && verpChars(arg):
			o.Warnings = append(o.Warnings, "-V option is deprecated; use -XV instead")
			o.VERP, o.VERPDelims = true, arg
		case len(arg) > 100:
			o.Warnings = append(o.Warnings, "too long -V option value -- ignored")
		case !printable(arg):
			o.Warnings = append(o.Warnings, "bad syntax in -V option value -- ignored")
		default:
			o.EnvID = arg
		}
	case 'X':
		if arg[0] != 'V' {
			return fatalf("unsupported: -X%c", arg[0])
		}
		d := arg[1:]
		if d != "" && (len(d) != 2 || !verpChars(d)) {
			return fatalf("-V requires two characters from -=+")
		}
		o.VERP, o.VERPDelims = true, d
	case 'b':
		switch arg[0] {
		case 'm':
			o.Mode = ModeEnqueue
		case 'v', 's', 'p', 'i', 'd':
			o.Mode = arg[0]
		case 'l':
			o.Mode = ModeDaemon
		case 'h', 'H':
			o.Mode = ModeIgnore
		default:
			return fatalf("unsupported: -b%c", arg[0])
		}
	case 'f', 'r':
		o.Sender, o.SenderSet = arg, true
	case 'o':
		switch arg[0] {
		case 'i':
			o.IgnoreDot = true
		case 'A':
			if arg[1:] == "" {
				return fatalf("-oA requires pathname")
			}
			o.AliasDB = arg[1:]
		}
	}
	return nil
}

func verpChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("-=+", s[i]) < 0 {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseNotify parses a DSN NOTIFY list; bad is the first unknown word.
func parseNotify(s string) (n int, bad string) {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		switch strings.ToLower(w) {
		case "never":
			n |= NotifyNever
		case "success":
			n |= NotifySuccess
		case "failure":
			n |= NotifyFailure
		case "delay":
			n |= NotifyDelay
		default:
			return 0, w
		}
	}
	if n == 0 || (n&NotifyNever != 0 && n != NotifyNever) {
		return 0, s
	}
	return n, ""
}
