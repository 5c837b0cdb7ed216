package config

// master.cf: the service table.
//
// master.cf holds one logical line per service. Logical lines are built as
// in main.cf: blank lines and lines whose first non-blank character is '#'
// are skipped (also in the middle of a continued entry), a line that starts
// with whitespace continues the previous logical line (the newline is dropped,
// the leading whitespace kept), and a file that starts with an indented line
// gets the warning "logical line must not start with whitespace".
//
// An entry has at least eight whitespace-separated fields:
//
//	# service type  private unpriv  chroot  wakeup  maxproc command + args
//	smtp      inet  n       -       n       -       -       smtpd
//	pickup    unix  n       -       n       60      1       pickup
//	submission inet n       -       n       -       -       smtpd
//	  -o syslog_name=postfix/submission
//	  -o { smtpd_helo_restrictions = permit_sasl_authenticated, reject }
//
//	service  inet: [host:]port ("smtp", "2525", "127.0.0.1:2525", "[::1]:25");
//	         other types: a socket name under queue_directory/private or public
//	type     inet, unix, unix-dgram, fifo or pass
//	private  y or n, default y (inet services are never private)
//	unpriv   y or n, default y (run as mail_owner)
//	chroot   y or n, default n
//	wakeup   seconds, default 0 (none); a trailing "?" means "only once used"
//	maxproc  process limit, default $default_process_limit; 0 = unlimited
//	command  the program in daemon_directory, then its arguments
//
// "-" in fields 3 to 7 selects the default. Arguments are split on blanks;
// "{ ... }" groups one argument that contains blanks (nested braces are
// allowed, the braces and the blanks just inside them are removed). Daemon
// options come first: "-o name=value" overrides a main.cf parameter for this
// service, also written "-oname=value" or "-o { name = value }" (blanks around
// "=" dropped); "-vo x=y" is "-v -o x=y". The first argument that does not
// start with "-" (or "--") ends the options.
//
// Errors are reported in Postfix's words, so that postconf's messages match
// (see MasterError); suspicious but accepted text ("missing '}'", "missing
// '=' after attribute name" in an -o group) gives a warning.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Service is one master.cf entry.
type Service struct {
	Name, Type                               string   // "smtp", "inet"; Name may be "127.0.0.1:2525" or "[::1]:25"
	Private, Unpriv, Chroot, Wakeup, MaxProc string   // raw fields as written ("-" = default)
	Command                                  string   // program name (8th field)
	Args                                     []string // arguments after the program, braces resolved ("-o", "name=value", ...)
	Line                                     int      // line number of the entry in master.cf
}

// MasterFile is master.cf as read, every entry in file order, duplicates
// included (postconf shows and edits them all; master uses ParseMasterCF).
type MasterFile struct {
	Path     string
	Services []*Service
	// Warnings are Postfix-worded warnings without the "program: warning: "
	// prefix, e.g. `/etc/postern/master.cf: logical line must not start
	// with whitespace: "..."` or `master.cf: missing '}' in "{ a b"`.
	Warnings []string
}

// MasterError is a fatal master.cf error. Error() gives Postfix's text:
// "file PATH: line N: bad field count", or, for a bad field,
// `invalid type field "bogus" in "foo bogus n - n - - smtpd"` (Postfix
// names no file or line there; Path and Line carry them for callers that
// want them).
type MasterError struct {
	Path string
	Line int
	Msg  string // "bad field count" or `invalid type field "bogus"`
	Text string // the logical line, for field errors
}

func (e *MasterError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("file %s: line %d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s in %q", e.Msg, e.Text)
}

// MasterFieldNames are the names postconf -F uses for the eight columns.
var MasterFieldNames = [8]string{"service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit", "command"}

// masterBlanks separate master.cf fields.
const masterBlanks = " \t\r\n"

// ParseMasterCF reads master.cf and returns its services in file order.
// When two entries have the same service name and type the last one wins;
// it takes the place of the first. Warnings are dropped; use ReadMasterCF
// to see them.
func ParseMasterCF(path string) ([]*Service, error) {
	mf, err := ReadMasterCF(path)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(mf.Services))
	var out []*Service
	for _, s := range mf.Services {
		if i, ok := index[s.Key()]; ok {
			out[i] = s
			continue
		}
		index[s.Key()] = len(out)
		out = append(out, s)
	}
	return out, nil
}

// ReadMasterCF reads master.cf with every entry, duplicates included.
// A missing file gives an error worded "open PATH: No such file or directory".
func ReadMasterCF(path string) (*MasterFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, openError(path, err)
	}
	return ParseMasterText(path, string(data))
}

// ParseMasterText parses master.cf text; path is used in messages only.
func ParseMasterText(path, text string) (*MasterFile, error) {
	mf := &MasterFile{Path: path}
	warn := func(_ int, line string) {
		mf.Warnings = append(mf.Warnings, fmt.Sprintf("%s: logical line must not start with whitespace: \"%s\"", path, truncate(line, 30)))
	}
	for _, ll := range LogicalLines([]byte(text), warn) {
		s, w, err := parseMasterEntry(ll.Text)
		mf.Warnings = append(mf.Warnings, w...)
		if err != nil {
			err.Path, err.Line = path, ll.FirstLine
			return nil, err
		}
		s.Line = ll.FirstLine
		mf.Services = append(mf.Services, s)
	}
	return mf, nil
}

// ParseMasterEntry parses the text of one entry (as given to postconf -Me),
// with the same checks as in master.cf.
func ParseMasterEntry(text string) (*Service, []string, error) {
	s, w, err := parseMasterEntry(text)
	if err != nil {
		return nil, w, err
	}
	return s, w, nil
}

// splitBraced splits s on master.cf blanks; a token extends over blanks
// inside {} (nesting counted), like Postfix's mystrtokq().
func splitBraced(s string) []string {
	var out []string
	i := 0
	for {
		for i < len(s) && strings.IndexByte(masterBlanks, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return out
		}
		start, level := i, 0
		for ; i < len(s); i++ {
			c := s[i]
			if c == '{' {
				level++
			} else if level > 0 && c == '}' {
				level--
			} else if level == 0 && strings.IndexByte(masterBlanks, c) >= 0 {
				break
			}
		}
		out = append(out, s[start:i])
	}
}

// balancedLen returns the length of the balanced {...} group at the start of
// s, or 0 when the closing brace is missing.
func balancedLen(s string) int {
	level := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			level++
		case '}':
			level--
			if level == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// extractBraced removes the braces around arg (which starts with '{') and
// the blanks just inside them, as Postfix's extpar() with EXTPAR_FLAG_STRIP.
// The warning is Postfix's, without the "master.cf: " prefix.
func extractBraced(arg string) (string, string) {
	var warn, inner string
	if n := balancedLen(arg); n == 0 {
		warn = fmt.Sprintf("missing '}' in \"%s\"", arg)
		inner = arg[1:]
	} else {
		if n < len(arg) {
			warn = fmt.Sprintf("syntax error after '}' in \"%s\"", arg)
		}
		inner = arg[1 : n-1]
	}
	return strings.Trim(inner, " \t\r\n\v\f"), warn
}

// normalizeDaemonArgs brings the arguments after the command into canonical
// form: "-vo x=y" becomes "-v" "-o" "x=y", "-ox=y" becomes "-o" "x=y", and
// "{ ... }" groups lose their braces ("-o { x = y }" becomes "-o" "x=y").
func normalizeDaemonArgs(args []string) ([]string, []string) {
	var warns []string
	extract := func(i int) {
		v, w := extractBraced(args[i])
		if w != "" {
			warns = append(warns, "master.cf: "+w)
		}
		args[i] = v
	}
	i := 0
	for ; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "--" {
			break
		}
		// Split "-stuffozz" into "-stuff" and "-ozz".
		if k := strings.IndexByte(arg[1:], 'o'); k > 0 {
			args = insertArg(args, i+1, "-"+arg[1+k:])
			arg = arg[:1+k]
			args[i] = arg
		}
		if len(arg) < 2 || arg[1] != 'o' {
			continue
		}
		var braced bool
		if len(arg) > 2 {
			// Split "-oname=value" into "-o" "name=value".
			args = insertArg(args, i+1, arg[2:])
			args[i] = "-o"
			i++
			braced = args[i][0] == '{'
		} else if i+1 < len(args) {
			i++
			braced = args[i][0] == '{'
		}
		if braced {
			extract(i)
			if name, value, err := SplitNameValue(args[i]); err != nil {
				warns = append(warns, "master.cf: "+err.Error())
			} else {
				args[i] = name + "=" + value
			}
		}
	}
	for ; i < len(args); i++ {
		if args[i] != "" && args[i][0] == '{' {
			extract(i)
		}
	}
	return args, warns
}

func insertArg(args []string, at int, v string) []string {
	args = append(args, "")
	copy(args[at+1:], args[at:])
	args[at] = v
	return args
}

var masterTypes = map[string]bool{"unix": true, "unix-dgram": true, "fifo": true, "inet": true, "pass": true}

// checkMasterFields validates fields 2 to 7 of an entry, in Postfix's order
// and words.
func checkMasterFields(f []string) string {
	if !masterTypes[f[1]] {
		return fmt.Sprintf("invalid type field %q", f[1])
	}
	for i := 2; i <= 4; i++ {
		if v := f[i]; len(v) != 1 || strings.IndexByte("yn-", v[0]) < 0 {
			return fmt.Sprintf("invalid %s field %q", MasterFieldNames[i], v)
		}
	}
	w := strings.TrimSuffix(f[5], "?")
	if w != "-" && strings.Trim(w, "0123456789") != "" {
		return fmt.Sprintf("invalid wakeup field %q", f[5])
	}
	if f[6] != "-" && strings.Trim(f[6], "0123456789") != "" {
		return fmt.Sprintf("invalid process_limit field %q", f[6])
	}
	return ""
}

func parseMasterEntry(text string) (*Service, []string, *MasterError) {
	f := splitBraced(text)
	if len(f) < 8 {
		return nil, nil, &MasterError{Msg: "bad field count"}
	}
	if msg := checkMasterFields(f); msg != "" {
		return nil, nil, &MasterError{Msg: msg, Text: strings.ReplaceAll(text, "\n", " ")}
	}
	args, warns := normalizeDaemonArgs(append([]string(nil), f[8:]...))
	return &Service{
		Name: f[0], Type: f[1],
		Private: f[2], Unpriv: f[3], Chroot: f[4], Wakeup: f[5], MaxProc: f[6],
		Command: f[7], Args: args,
	}, warns, nil
}

// CheckFields validates the fields of s as master.cf reading does (used
// after postconf -Fe edits a field); the error is Postfix's text with raw
// as the quoted context.
func (s *Service) CheckFields(raw string) error {
	if msg := checkMasterFields(s.Fields()[:7]); msg != "" {
		return &MasterError{Msg: msg, Text: raw}
	}
	return nil
}

// Fields returns the entry as Postfix's postconf holds it: the eight
// columns followed by the normalised arguments.
func (s *Service) Fields() []string {
	f := make([]string, 0, 8+len(s.Args))
	f = append(f, s.Name, s.Type, s.Private, s.Unpriv, s.Chroot, s.Wakeup, s.MaxProc, s.Command)
	return append(f, s.Args...)
}

// Key returns "name/type", e.g. "smtp/inet".
func (s *Service) Key() string { return s.Name + "/" + s.Type }

// IsPrivate reports whether the service's socket is in private/ (default
// yes); an inet service is never private.
func (s *Service) IsPrivate() bool {
	if s.Type == "inet" {
		return false
	}
	return s.Private != "n"
}

// IsUnpriv reports whether the service runs as mail_owner (default yes).
func (s *Service) IsUnpriv() bool { return s.Unpriv != "n" }

// IsChroot reports whether the service runs chrooted (default no).
func (s *Service) IsChroot() bool { return s.Chroot == "y" }

// WakeupTime returns the wake-up interval in seconds (0 = none) and whether
// wake-ups wait until the service was used once (a trailing "?").
func (s *Service) WakeupTime() (secs int, onlyIfUsed bool) {
	w := s.Wakeup
	if strings.HasSuffix(w, "?") {
		onlyIfUsed = true
		w = w[:len(w)-1]
	}
	if w == "-" || w == "" {
		return 0, onlyIfUsed
	}
	n, err := strconv.Atoi(w)
	if err != nil {
		return 0, onlyIfUsed
	}
	return n, onlyIfUsed
}

// ProcessLimit returns the process limit: defaultLimit for "-", 0 for
// unlimited.
func (s *Service) ProcessLimit(defaultLimit int) int {
	if s.MaxProc == "-" || s.MaxProc == "" {
		return defaultLimit
	}
	n, err := strconv.Atoi(s.MaxProc)
	if err != nil {
		return defaultLimit
	}
	return n
}

// Overrides returns every "-o name=value" among the daemon options, in
// order. A malformed one (no "=") is skipped.
func (s *Service) Overrides() [][2]string {
	var out [][2]string
	for i := 0; i < len(s.Args); i++ {
		a := s.Args[i]
		if !strings.HasPrefix(a, "-") || a == "--" {
			break
		}
		if len(a) < 2 || a[1] != 'o' || i+1 >= len(s.Args) {
			continue
		}
		i++
		if a != "-o" {
			continue
		}
		if name, value, ok := strings.Cut(s.Args[i], "="); ok {
			out = append(out, [2]string{name, value})
		}
	}
	return out
}

// Format lays the entry out as postconf -M does: the columns at Postfix's
// column stops, then the arguments; "-o" options and non-option arguments
// that contain blanks are shown in braces. With fold (postconf -Mf) each
// option with a value goes on a line of its own and lines are wrapped at
// 80 columns with a 4-space indent. expand, when not nil, is applied to
// every -o value (postconf -Mx). The result has no trailing newline.
func (s *Service) Format(fold bool, expand func(string) string) string {
	goal := [8]int{0, 11, 17, 25, 33, 41, 49, 57}
	var b strings.Builder
	n := 0
	add := func(t string) { b.WriteString(t); n += len(t) }
	f := s.Fields()
	for i := 0; i < 8; i++ {
		if n > 0 {
			for {
				add(" ")
				if n >= goal[i] {
					break
				}
			}
		}
		add(f[i])
	}
	appendArgs(&b, &n, f[8:], fold, expand, 3)
	return b.String()
}

// CommandText returns the command field as postconf -F shows it: the
// program and its arguments, options with values kept together, values and
// non-option arguments containing blanks in braces. With fold, lines are
// wrapped at 80 columns (start is the length of what precedes the text on
// the first line).
func (s *Service) CommandText(fold bool, start int, expand func(string) string) string {
	var b strings.Builder
	n := start
	add := func(t string) { b.WriteString(t); n += len(t) }
	add(s.Command)
	appendArgs(&b, &n, s.Args, fold, expand, 1)
	return b.String()
}

// ServiceParam is a parameter name that a master.cf service defines: the
// delivery agents' per-transport settings such as
// relay_destination_concurrency_limit, and pipe/spawn's T_time_limit.
type ServiceParam struct {
	Name    string // e.g. "relay_destination_concurrency_limit"
	Service string // the master.cf service name, e.g. "relay"
	Default string // e.g. "$default_destination_concurrency_limit"
}

// ServiceParams derives the service-defined parameter names of services,
// as Postfix's postconf does: services whose command is local, error,
// virtual, smtp or lmtp get every per-transport name (TransportParams
// except the pipe-only ones), pipe gets them all, and spawn only
// T_time_limit. A catalogue parameter of the same name (local's
// local_destination_concurrency_limit) keeps its own default, which is
// what Default reports here too. This is the one place that knows the rule.
func ServiceParams(services []*Service) []ServiceParam {
	var out []ServiceParam
	seen := map[string]bool{}
	for _, s := range services {
		var pipeOnly, others bool
		switch s.Command {
		case "local", "error", "virtual", "smtp", "lmtp":
			others = true
		case "pipe":
			pipeOnly, others = true, true
		case "spawn":
			pipeOnly = true
		default:
			continue
		}
		for _, tp := range TransportParams() {
			if (tp.PipeOnly && !pipeOnly) || (!tp.PipeOnly && !others) {
				continue
			}
			name := s.Name + "_" + tp.Suffix
			if seen[name] {
				continue
			}
			seen[name] = true
			def := tp.Default
			if p, ok := Lookup(name); ok {
				def = p.Default
			}
			out = append(out, ServiceParam{Name: name, Service: s.Name, Default: def})
		}
	}
	return out
}

// appendArgs lays out command arguments after the program for postconf -M
// and -F: "-o" options keep their value beside them, values and
// non-option arguments that contain blanks go in braces, and with fold
// lines wrap at 80 columns with a 4-space indent (each option with a value
// then starts a line of its own). n is the current column; valueExtra is
// what an option's value adds to its width when deciding to wrap (the two
// commands differ by Postfix's own arithmetic).
func appendArgs(b *strings.Builder, n *int, args []string, fold bool, expand func(string) string, valueExtra int) {
	const lineLimit, indent = 80, 4
	add := func(t string) { b.WriteString(t); *n += len(t) }
	inOpts := true
	for i := 0; i < len(args); i++ {
		arg := args[i]
		argLen := len(arg)
		aval, hasVal, parens := "", false, false
		if inOpts {
			if !strings.HasPrefix(arg, "-") || arg == "--" {
				inOpts = false
			} else if len(arg) > 1 && arg[1] == 'o' && i+1 < len(args) {
				hasVal = true
				aval = args[i+1]
				*n = lineLimit
				if arg == "-o" && expand != nil {
					aval = expand(aval)
				}
				argLen += len(aval) + valueExtra
				if strings.ContainsAny(aval, masterBlanks) {
					parens = true
					argLen += 2
				}
			}
		} else {
			parens = strings.ContainsAny(arg, masterBlanks)
		}
		if *n > indent {
			if !fold || *n+1+argLen < lineLimit {
				add(" ")
			} else {
				b.WriteString("\n    ")
				*n = indent
			}
		}
		if !inOpts && parens {
			add("{" + arg + "}")
		} else {
			add(arg)
		}
		if hasVal {
			add(" ")
			if parens {
				add("{" + aval + "}")
			} else {
				add(aval)
			}
			i++
			*n = lineLimit
		}
	}
}
