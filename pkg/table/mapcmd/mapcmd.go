// Package mapcmd is the common implementation of postmap(1) and
// postalias(1): option parsing, building, querying, listing and deleting,
// with Postfix's output, diagnostics and exit codes. The two commands
// differ only in the source format they read (postmap: "key value";
// postalias: aliases(5)), in the options they accept, and in their
// output format ("key<TAB>value" versus "key:<TAB>value").
//
// SECURITY: run as root, a build switches its effective uid and gid to
// the owner of the source file (unless -o), so that a bug in a parser
// cannot be used to write files as root; queries run with the caller's
// privileges.
package mapcmd

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"postern/pkg/config"
	"postern/pkg/getopt"
	"postern/pkg/strerror"
	"strings"
	"syscall"
	"time"

	"postern/pkg/table"
)

// Command describes one of the two programs.
type Command struct {
	Name      string // program name for messages
	Alias     bool   // postalias: aliases(5) source, "key:" output, NIS entries
	Optstring string
	Usage     string
	// Stdin, Stdout, Stderr default to the process's.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// exit is panicked with by fatal, and recovered by Run.
type exit struct{ code int }

type runner struct {
	*Command
	out    *bufio.Writer
	flags  table.Flags
	asOwn  bool
	save   bool
	incr   bool
	hdr    bool
	body   bool
	mime   bool
	dbType string
	myhost string
}

func (r *runner) warn(format string, args ...any) {
	r.out.Flush()
	fmt.Fprintf(r.Stderr, "%s: warning: "+format+"\n", append([]any{r.Name}, args...)...)
}

func (r *runner) fatal(format string, args ...any) {
	r.out.Flush()
	fmt.Fprintf(r.Stderr, "%s: fatal: "+format+"\n", append([]any{r.Name}, args...)...)
	panic(exit{1})
}

// Run executes the command with args (args[0] is the program name) and
// returns the exit status.
func (c *Command) Run(args []string) (code int) {
	if c.Stdin == nil {
		c.Stdin = os.Stdin
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	r := &runner{Command: c, out: bufio.NewWriter(c.Stdout), asOwn: true, save: true}
	defer func() {
		r.out.Flush()
		if e := recover(); e != nil {
			if x, ok := e.(exit); ok {
				code = x.code
				return
			}
			panic(e)
		}
	}()
	return r.run(args)
}

func (r *runner) usage() {
	r.fatal("usage: %s %s", r.Name, r.Usage)
}

func (r *runner) run(args []string) int {
	var query, delkey *string
	seq := false
	confDir := ""
	maps, err := getopt.Parse(args[1:], r.Optstring, func(ch byte, optarg string) error {
		switch ch {
		case 'N':
			r.flags = r.flags&^table.WithoutNull | table.WithNull
		case 'n':
			r.flags = r.flags&^table.WithNull | table.WithoutNull
		case 'b':
			r.body = true
		case 'h':
			r.hdr = true
		case 'm':
			r.mime = true
		case 'c':
			confDir = optarg
		case 'd':
			if seq || query != nil || delkey != nil {
				r.fatal("specify only one of -s -q or -d")
			}
			delkey = &optarg
		case 'f':
			r.flags |= table.FixedCase
		case 'F':
			r.flags |= table.ValueIsFile
		case 'i':
			r.incr = true
		case 'o':
			r.asOwn = false
		case 'p':
			r.save = false
		case 'q':
			if seq || query != nil || delkey != nil {
				r.fatal("specify only one of -s -q or -d")
			}
			query = &optarg
		case 'r':
			r.flags = r.flags&^table.DupIgnore | table.DupReplace
		case 's':
			if query != nil || delkey != nil {
				r.fatal("specify only one of -s or -q or -d")
			}
			seq = true
		case 'w':
			r.flags = r.flags&^table.DupReplace | table.DupIgnore
		case 'u', 'U', 'v':
			// UTF-8 handling and verbosity: accepted, no effect.
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(r.Stderr, "%s: %v\n", r.Name, err)
		r.usage()
	}
	r.readConfig(confDir)
	if (query == nil || *query != "-") && (r.hdr || r.body || r.mime) {
		r.fatal("specify -b -h or -m only with \"-q -\"")
	}
	if r.mime && !r.hdr && !r.body {
		r.warn("ignoring -m option without -b or -h")
	}
	switch {
	case delkey != nil:
		if len(maps) == 0 {
			r.usage()
		}
		if *delkey == "-" {
			return r.deletes(maps)
		}
		found := false
		for _, m := range maps {
			if r.delete(m, []string{*delkey}) {
				found = true
			}
		}
		return exitStatus(found)
	case query != nil:
		if len(maps) == 0 {
			r.usage()
		}
		if *query == "-" {
			return r.queries(maps)
		}
		for _, m := range maps {
			t := r.open(m)
			v, ok, err := t.Lookup(*query)
			r.checkQuery(t, err)
			if ok {
				r.printValue(t, *query, v, false)
				t.Close()
				return 0
			}
			t.Close()
		}
		return 1
	case seq:
		if len(maps) == 0 {
			return 1
		}
		r.sequence(maps[0])
		return 0
	default:
		if len(maps) == 0 {
			r.usage()
		}
		for _, m := range maps {
			r.build(m)
		}
		return 0
	}
}

func exitStatus(found bool) int {
	if found {
		return 0
	}
	return 1
}

// readConfig reads the parameters these commands need from main.cf. As in
// Postfix, a configuration that cannot be read is fatal.
func (r *runner) readConfig(dir string) {
	cfg, err := config.Load(config.Dir(dir))
	if err != nil {
		r.fatal("%v", err)
	}
	r.dbType = cfg.Get("default_database_type")
	if r.dbType == "" {
		r.dbType = "hash"
	}
	r.myhost = cfg.Get("myhostname")
}

// split returns the type and name of a map argument, applying
// default_database_type when there is no "type:".
func (r *runner) split(m string) (string, string) {
	if typ, name, ok := table.SplitSpec(m); ok {
		return typ, name
	}
	return r.dbType, m
}

func (r *runner) open(m string) table.Table {
	typ, name := r.split(m)
	t, err := table.Open(typ+":"+name, r.flags, table.Warn(r.warn))
	if err != nil {
		r.fatal("%s", err)
	}
	return t
}

func (r *runner) checkQuery(t table.Table, err error) {
	if err != nil {
		r.fatal("table %s: query error: %v", t.Name(), err)
	}
}

func (r *runner) keySep() string {
	if r.Alias {
		return ":\t"
	}
	return "\t"
}

// printValue prints a found value (with the key, for -q - and -s).
func (r *runner) printValue(t table.Table, key, v string, withKey bool) {
	if v == "" {
		r.warn("table %s: key %s: empty string result is not allowed", t.Name(), key)
		r.warn("table %s should return NO RESULT in case of NOT FOUND", t.Name())
	}
	if r.flags&table.ValueIsFile != 0 {
		dec, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			r.warn("table %s: key %s: malformed BASE64 value: %s", t.Name(), key, v)
			return
		}
		v = string(dec)
	}
	if withKey {
		fmt.Fprintf(r.out, "%s%s%s\n", key, r.keySep(), v)
	} else {
		fmt.Fprintf(r.out, "%s\n", v)
	}
}

func (r *runner) queries(maps []string) int {
	tables := make([]table.Table, len(maps))
	defer func() {
		for _, t := range tables {
			if t != nil {
				t.Close()
			}
		}
	}()
	found := false
	lookup := func(key string) {
		for n, m := range maps {
			if tables[n] == nil {
				tables[n] = r.open(m)
			}
			v, ok, err := tables[n].Lookup(key)
			if ok {
				r.printValue(tables[n], key, v, true)
				found = true
				return
			}
			r.checkQuery(tables[n], err)
		}
	}
	in := bufio.NewReader(r.Stdin)
	if r.hdr || r.body {
		r.messageKeys(in, lookup)
		return exitStatus(found)
	}
	for {
		line, err := in.ReadString('\n')
		if line == "" && err != nil {
			break
		}
		lookup(strings.TrimSuffix(line, "\n"))
	}
	return exitStatus(found)
}

// messageKeys feeds the header lines (unfolded) and/or the body lines of
// a message to lookup: postmap -h / -b "-q -". MIME structure (-m) is
// not parsed: the body is treated as one part.
func (r *runner) messageKeys(in *bufio.Reader, lookup func(string)) {
	var hdr string
	inHeader := true
	flush := func() {
		if hdr != "" && r.hdr {
			lookup(hdr)
		}
		hdr = ""
	}
	for {
		line, err := in.ReadString('\n')
		if line == "" && err != nil {
			break
		}
		line = strings.TrimSuffix(line, "\n")
		if inHeader {
			if line == "" {
				flush()
				inHeader = false
				if !r.body {
					return
				}
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && hdr != "" {
				hdr += "\n" + line
				continue
			}
			flush()
			hdr = line
			continue
		}
		lookup(line)
	}
	flush()
}

func (r *runner) sequence(m string) {
	t := r.open(m)
	defer t.Close()
	s, ok := t.(table.Sequencer)
	name := t.Name()
	if typ, n := r.split(m); typ == "cdb" {
		name = "cdb:" + table.DBFile(typ, n)
	}
	if !ok {
		r.fatal("table %s: sequence operation is not supported", name)
	}
	err := s.Seq(func(k, v string) error {
		if k == "" {
			r.warn("table %s: empty lookup key value is not allowed", t.Name())
		}
		r.printValue(t, k, v, true)
		return nil
	})
	if errors.Is(err, table.ErrSeqNotSupported) {
		r.fatal("table %s: sequence operation is not supported", name)
	}
	if err != nil {
		r.fatal("table %s: sequence error: %v", t.Name(), err)
	}
}

// updatable opens an indexed table for -i or -d, with Postfix's refusal
// for the other types.
func (r *runner) updatable(m string) *table.Builder {
	typ, name := r.split(m)
	if !table.BulkCreatable(typ) {
		if _, err := table.Open(typ+":"+name, r.flags, table.Warn(func(string, ...any) {})); err != nil {
			r.fatal("%s", err)
		}
		r.fatal("%s:%s map requires O_RDONLY access mode", typ, name)
	}
	b, err := table.Update(typ, name, r.flags, table.Warn(r.warn))
	if err != nil {
		r.fatal("%s", err)
	}
	return b
}

func (r *runner) delete(m string, keys []string) bool {
	b := r.updatable(m)
	found := false
	for _, k := range keys {
		if b.Delete(k) {
			found = true
		}
	}
	if found {
		if err := b.Commit(); err != nil {
			r.fatal("%v", err)
		}
	} else {
		b.Abort()
	}
	return found
}

func (r *runner) deletes(maps []string) int {
	var keys []string
	in := bufio.NewReader(r.Stdin)
	for {
		line, err := in.ReadString('\n')
		if line == "" && err != nil {
			break
		}
		keys = append(keys, strings.TrimSuffix(line, "\n"))
	}
	found := false
	for _, m := range maps {
		if r.delete(m, keys) {
			found = true
		}
	}
	return exitStatus(found)
}

func (r *runner) build(m string) {
	typ, name := r.split(m)
	var src io.Reader
	srcName := name
	var st os.FileInfo
	var b *table.Builder
	var err error
	if r.incr {
		src, srcName = r.Stdin, "stdin"
		b = r.updatable(m)
	} else {
		if !table.BulkCreatable(typ) {
			_, cerr := table.Create(typ, name, 0, r.flags)
			r.fatal("%s", cerr)
		}
		f, err := os.Open(name)
		if err != nil {
			r.fatal("open %s: %s", name, strerror.Text(err))
		}
		defer f.Close()
		src = f
		if st, err = f.Stat(); err != nil {
			r.fatal("fstat %s: %s", name, strerror.Text(err))
		}
		perm := os.FileMode(0644)
		if r.save && st.Mode().IsRegular() {
			perm &^= 022 | (^st.Mode().Perm() & 077)
		}
		if restore := r.becomeOwner(st); restore != nil {
			defer restore()
		}
		if b, err = table.Create(typ, name, perm, r.flags, table.Warn(r.warn)); err != nil {
			r.fatal("%s", err)
		}
	}
	put := func(key, value string, lineno int) error {
		if r.flags&table.ValueIsFile != 0 {
			enc, err := filesToBase64(value)
			if err != nil {
				r.warn("%s, line %d: %s: skipping this entry", srcName, lineno, err)
				return nil
			}
			value = enc
		}
		return b.Put(key, value)
	}
	if r.Alias {
		err = table.ParseAliases(src, srcName, r.warn, put)
	} else {
		err = table.ParseSource(src, srcName, false, r.warn, put)
	}
	if err != nil {
		b.Abort()
		r.fatal("%v", err)
	}
	if r.Alias {
		b.PutReplace("@", "@", false)
		b.PutReplace("YP_LAST_MODIFIED", fmt.Sprintf("%010d", time.Now().Unix()), true)
		b.PutReplace("YP_MASTER_NAME", r.myhost, true)
	}
	if err := b.Commit(); err != nil {
		r.fatal("%v", err)
	}
}

// becomeOwner switches the effective uid/gid to the source file's owner
// when running as root (unless -o), as Postfix does; it returns the
// function that switches back, or nil.
func (r *runner) becomeOwner(st os.FileInfo) func() {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !r.asOwn || !ok || os.Getuid() != 0 {
		return nil
	}
	uid, gid := int(sys.Uid), int(sys.Gid)
	if uid == os.Geteuid() && gid == os.Getegid() {
		return nil
	}
	groups, _ := syscall.Getgroups()
	if err := syscall.Setgroups([]int{gid}); err != nil {
		r.fatal("setgroups: %s", strerror.Text(err))
	}
	if err := syscall.Setegid(gid); err != nil {
		r.fatal("set_eugid: setegid(%d): %s", gid, strerror.Text(err))
	}
	if err := syscall.Seteuid(uid); err != nil {
		r.fatal("set_eugid: seteuid(%d): %s", uid, strerror.Text(err))
	}
	return func() {
		syscall.Seteuid(0)
		syscall.Setegid(0)
		syscall.Setgroups(groups)
	}
}

// filesToBase64 implements postmap -F: the value names files (separated
// by commas or blanks) whose concatenated content is stored in base64.
func filesToBase64(value string) (string, error) {
	var buf []byte
	for _, f := range strings.FieldsFunc(value, func(c rune) bool {
		return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
	}) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("open %s: %s", f, strerror.Text(err))
		}
		buf = append(buf, b...)
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}
