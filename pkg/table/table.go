package table

import (
	"fmt"
	"log"
	"strings"
	"syscall"
)

// Table is a lookup table. It is the one interface through which every
// table user (aliases, canonical, virtual, transport, access ...) reads
// a table. Implementations are safe for concurrent lookups.
type Table interface {
	// Lookup returns the value for key. found is false when the table
	// has no entry; a found entry may have an empty value. err reports
	// a failure to look up (a corrupt file, a "fail:" table) and is
	// never used for "not found": callers must treat it as a temporary
	// failure, not as a miss.
	Lookup(key string) (value string, found bool, err error)
	// Name returns the table as it was named: "hash:/etc/aliases".
	Name() string
	// Changed reports whether a file the table was loaded from has
	// been replaced or modified since Open; long-running programs then
	// reopen the table (Postfix's daemons exit: "table ... has changed
	// -- restarting").
	Changed() bool
	// Close releases the table's resources.
	Close() error
}

// Sequencer is implemented by tables that can list all their entries
// (postmap -s): hash, texthash, inline.
type Sequencer interface {
	// Seq calls fn for every entry until fn returns an error.
	Seq(fn func(key, value string) error) error
}

// Flags change how a table is opened, built and queried.
type Flags uint

const (
	// FixedCase keeps keys as they are: no lower-casing at build or
	// lookup (postmap/postalias -f).
	FixedCase Flags = 1 << iota
	// WithNull stores keys and values with a trailing NUL byte and looks
	// them up only that way (postmap -N).
	WithNull
	// WithoutNull looks keys up only without a trailing NUL (postmap
	// -n). Without WithNull or WithoutNull, lookups try both.
	WithoutNull
	// DupReplace makes a duplicate key replace the earlier entry at
	// build time (postmap -r); the default keeps the first with a
	// warning.
	DupReplace
	// DupIgnore drops duplicate keys silently (postmap -w).
	DupIgnore
	// ValueIsFile is postmap -F: values name files whose content is
	// stored base64-encoded; Lookup and Seq still return the stored
	// (encoded) text.
	ValueIsFile
)

// Option configures Open.
type Option func(*options)

type options struct {
	warn func(format string, args ...any)
}

// Warn sets the function that receives warnings about the table source
// (bad lines, skipped rules). The default prints them with the standard
// log package, prefixed "warning: ".
func Warn(fn func(format string, args ...any)) Option {
	return func(o *options) { o.warn = fn }
}

func makeOptions(opts []Option) *options {
	o := &options{warn: func(format string, args ...any) {
		log.Printf("warning: "+format, args...)
	}}
	for _, fn := range opts {
		fn(o)
	}
	return o
}

// UnsupportedTypeError is returned by Open for an unknown table type.
type UnsupportedTypeError struct{ Type string }

func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("unsupported dictionary type: %s. Is the postfix-%s package installed?", e.Type, e.Type)
}

// SplitSpec splits "type:name" at the first colon. ok is false when spec
// has no colon.
func SplitSpec(spec string) (typ, name string, ok bool) {
	return strings.Cut(spec, ":")
}

// Open opens the table named by spec, "type:name".
func Open(spec string, flags Flags, opts ...Option) (Table, error) {
	o := makeOptions(opts)
	return open(spec, flags, o)
}

func open(spec string, flags Flags, o *options) (Table, error) {
	typ, name, ok := SplitSpec(spec)
	if !ok || typ == "" || name == "" {
		return nil, fmt.Errorf("open dictionary: expecting \"type:name\" form instead of \"%s\"", spec)
	}
	switch typ {
	case "hash", "cdb":
		return openIndexed(typ, name, flags)
	case "texthash":
		return openTexthash(name, flags, o)
	case "regexp":
		return openRegexp(name, false, o)
	case "pcre":
		return openRegexp(name, true, o)
	case "cidr":
		return openCIDR(name, o)
	case "inline":
		return openInline(name, flags)
	case "static":
		return openStatic(name), nil
	case "unionmap", "pipemap":
		return openComposite(typ, name, flags, o)
	case "fail":
		return &failTable{name: spec}, nil
	case "unix":
		return openUnix(name, flags)
	}
	return nil, &UnsupportedTypeError{Type: typ}
}

// fold lower-cases key unless the table was opened with FixedCase.
func fold(key string, flags Flags) string {
	if flags&FixedCase != 0 {
		return key
	}
	return strings.ToLower(key)
}

// stamp identifies a version of a file, to notice a rebuilt table.
type stamp struct {
	path      string
	dev, ino  uint64
	size      int64
	mtimeNano int64
}

func stampOf(path string) stamp {
	s := stamp{path: path}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err == nil {
		s.dev, s.ino, s.size = uint64(st.Dev), st.Ino, st.Size
		s.mtimeNano = st.Mtim.Nano()
	}
	return s
}

func (s stamp) changed() bool {
	if s.path == "" {
		return false
	}
	return stampOf(s.path) != s
}

// failError is the error of a fail: lookup; its text is Postfix's.
type failError struct{}

func (failError) Error() string { return "Application error" }

var errFail error = failError{}

// failTable is "fail:name": every lookup fails.
type failTable struct{ name string }

func (t *failTable) Lookup(string) (string, bool, error) {
	// The text is Postfix's (its %m after a fail: lookup); callers add
	// the table name.
	return "", false, errFail
}
func (t *failTable) Name() string  { return t.name }
func (t *failTable) Changed() bool { return false }
func (t *failTable) Close() error  { return nil }
