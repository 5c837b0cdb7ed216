// Package postconf is the postconf command: it shows and edits main.cf and
// master.cf exactly as Postfix's postconf(1) does, so that scripts and
// administrators get the same output, warnings and exit codes.
//
//	postconf [-dfhHnx] [-c dir] [-C class] [-o name=value] [name ...]
//	postconf -e [-c dir] name=value ...     (an argument with "=" implies -e)
//	postconf -X | -# [-c dir] name ...
//	postconf -M[fx] [service[/type] ...]     -Me, -MX, -M# edit entries
//	postconf -F[hHx] [service[/type[/field]] ...]   -Fe edits fields
//	postconf -P[hHx] [service[/type[/name]] ...]    -Pe, -PX edit -o options
//	postconf -m | -l | -a | -A
//
// Values go to standard output; warnings and fatal errors to standard error
// as "postconf: warning: ..." and "postconf: fatal: ..."; the exit status is
// 0 after warnings and 1 after a fatal error.
package postconf

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"postern/pkg/getopt"
	"sort"
	"strings"

	"postern/pkg/config"
)

// fatalError ends the command with exit status 1.
type fatalError struct{ msg string }

// Main runs postconf; args[0] is the name it was invoked by.
func Main(args []string) (status int) {
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	// Messages carry the name the program was invoked by, as Postfix's do.
	p := &pc{out: out, prog: args[0]}
	defer func() {
		out.Flush()
		for _, f := range p.cleanup {
			f()
		}
		if r := recover(); r != nil {
			f, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			fmt.Fprintf(os.Stderr, "%s: fatal: %s\n", p.prog, f.msg)
			status = 1
		}
	}()
	p.run(args[1:])
	return 0
}

// Command modes.
const (
	modeMain   = iota // main.cf parameters (-p, the default)
	modeMaster        // master.cf entries (-M)
	modeField         // master.cf fields (-F)
	modeParam         // master.cf -o parameters (-P)
	modeTables        // -m
	modeLocks         // -l
	modeSASLServer
	modeSASLClient
)

type pc struct {
	out  *bufio.Writer
	prog string

	mode                           int
	configDir                      string
	defaults, nonDefault           bool // -d, -n
	fold, hideName, hideValue      bool // -f, -h, -H
	expand                         bool // -x
	edit, remove, comment          bool // -e, -X, -#
	classes                        map[string]bool
	overrides                      [][2]string // -o
	dir                            string
	cfg                            *config.Config
	master                         *config.MasterFile
	known                          map[string]string // name -> class: builtin, service, user
	serviceDefaults                map[string]string
	undefinedMain, undefinedMaster []string
	cleanup                        []func() // run at exit: remove a temporary file left by a fatal error
}

func (p *pc) fatalf(format string, a ...any) {
	panic(fatalError{fmt.Sprintf(format, a...)})
}

func (p *pc) warnf(format string, a ...any) {
	p.out.Flush()
	fmt.Fprintf(os.Stderr, "%s: warning: %s\n", p.prog, fmt.Sprintf(format, a...))
}

// run parses the options getopt-style (combined flags such as -nf, -Mf,
// option values attached or in the next argument, "--" ends options) and
// runs the command.
func (p *pc) run(args []string) {
	p.mode = modeMain
	args, err := getopt.Parse(args, "aAb:c:C:defFhHlmMno:pPt:vxX#", func(c byte, v string) error {
		switch c {
		case 'c':
			p.configDir = v
		case 'o':
			name, value, err := config.SplitNameValue(v)
			if err != nil {
				p.fatalf("%s", err)
			}
			p.overrides = append(p.overrides, [2]string{name, value})
		case 'C':
			p.classes = map[string]bool{}
			for _, cl := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				if cl != "builtin" && cl != "service" && cl != "user" && cl != "all" {
					p.fatalf("invalid parameter class: %s", cl)
				}
				p.classes[cl] = true
			}
		case 'b', 't':
			p.fatalf("-%c is not supported", c)
		case 'a':
			p.mode = modeSASLServer
		case 'A':
			p.mode = modeSASLClient
		case 'd':
			p.defaults = true
		case 'e':
			p.edit = true
		case 'f':
			p.fold = true
		case 'F':
			p.mode = modeField
		case 'h':
			p.hideName = true
		case 'H':
			p.hideValue = true
		case 'l':
			p.mode = modeLocks
		case 'm':
			p.mode = modeTables
		case 'M':
			p.mode = modeMaster
		case 'n':
			p.nonDefault = true
		case 'p':
			p.mode = modeMain
		case 'P':
			p.mode = modeParam
		case 'x':
			p.expand = true
		case 'X':
			p.remove = true
		case '#':
			p.comment = true
		case 'v':
		}
		return nil
	})
	if err != nil {
		p.out.Flush()
		fmt.Fprintf(os.Stderr, "%s: %v\n", p.prog, err)
		p.usage()
	}
	p.dir = config.Dir(p.configDir)

	switch p.mode {
	case modeTables:
		p.printList(tableTypes)
		return
	case modeLocks:
		p.printList([]string{"flock", "fcntl", "dotlock"})
		return
	case modeSASLServer:
		p.printList([]string{"dovecot"})
		return
	case modeSASLClient:
		return
	}

	n := 0
	for _, b := range []bool{p.edit, p.remove, p.comment} {
		if b {
			n++
		}
	}
	if n > 1 {
		p.fatalf("specify one of -e, -X or -#")
	}
	if n == 0 && p.mode != modeMaster {
		for _, a := range args {
			if strings.Contains(a, "=") {
				p.edit = true
				break
			}
		}
	}
	if p.edit || p.remove || p.comment {
		switch p.mode {
		case modeMain:
			p.editMain(args)
		case modeMaster, modeField, modeParam:
			p.editMaster(args)
		}
		return
	}

	switch p.mode {
	case modeMain:
		p.showMain(args)
	case modeMaster:
		p.load(true)
		p.showMasterEntries(args)
		p.flagUnusedMaster()
	case modeField:
		p.load(true)
		p.showMasterFields(args)
		p.flagUnusedMaster()
	case modeParam:
		p.load(true)
		p.showMasterParams(args)
		p.flagUnusedMaster()
	}
}

func (p *pc) usage() {
	p.fatalf("usage: %s [-a (server SASL types)] [-A (client SASL types)] [-b (bounce templates)] [-c config_dir] [-C param_class] [-d (defaults)] [-e (edit)] [-f (fold lines)] [-F (master.cf fields)] [-h (no names)] [-H (no values)] [-l (lock types)] [-m (map types)] [-M (master.cf)] [-n (non-default parameters)] [-o name=value (override parameter value)] [-p (main.cf, default)] [-P (master.cf parameters)] [-t (server certificate)] [-T (TLS info)] [-v (verbose)] [-x (expand parameter values)] [-X (exclude)] [-# (comment-out)] [name...]", p.prog)
}

// tableTypes are the lookup table types postern supports (postconf -m).
var tableTypes = []string{"cdb", "cidr", "environ", "fail", "hash", "inline", "pcre", "pipemap", "regexp", "static", "texthash", "unionmap", "unix"}

func (p *pc) printList(l []string) {
	for _, s := range l {
		fmt.Fprintln(p.out, s)
	}
}

// load reads main.cf (fatal when missing) and master.cf (a warning when
// missing, unless masterRequired), and works out which names are known.
func (p *pc) load(masterRequired bool) {
	// Postfix reads main.cf first, except for the master.cf modes.
	if masterRequired {
		p.loadMaster(true)
		p.loadMain()
	} else {
		p.loadMain()
		p.loadMaster(false)
	}
	p.classify()
}

func (p *pc) loadMain() {
	if p.defaults {
		// -d ignores main.cf entirely.
		p.cfg = config.New()
		return
	}
	f, err := config.ParseMainCF(filepath.Join(p.dir, "main.cf"))
	if err != nil {
		p.fatalf("%s", err)
	}
	for _, w := range f.Warnings {
		p.warnf("%s", w)
	}
	p.cfg = config.FromFile(p.dir, f)
}

func (p *pc) loadMaster(required bool) {
	mpath := filepath.Join(p.dir, "master.cf")
	mf, err := config.ReadMasterCF(mpath)
	if err != nil {
		var me *config.MasterError
		if required || asMasterError(err, &me) {
			p.fatalf("%s", err)
		}
		p.warnf("%s", err)
		mf = &config.MasterFile{Path: mpath}
	}
	for _, w := range mf.Warnings {
		p.warnf("%s", w)
	}
	p.master = mf
}

func asMasterError(err error, me **config.MasterError) bool {
	e, ok := err.(*config.MasterError)
	if ok {
		*me = e
	}
	return ok
}

// classify builds the table of known names: built-in (the catalogue),
// service (derived from master.cf transports) and user-defined (main.cf
// names that some main.cf value or master.cf -o value references), and
// notes references to names that have no value anywhere.
func (p *pc) classify() {
	p.known = map[string]string{}
	for _, prm := range config.Params() {
		p.known[prm.Name] = "builtin"
	}
	p.serviceDefaults = map[string]string{}
	for _, sp := range config.ServiceParams(p.master.Services) {
		p.serviceDefaults[sp.Name] = sp.Default
		p.known[sp.Name] = "service"
	}
	mainVals := map[string]string{}
	if f := p.cfg.MainCF(); f != nil {
		for _, e := range f.Entries {
			mainVals[e.Name] = e.Value
		}
	}
	// Service-defined names get their default unless main.cf sets them.
	for n, d := range p.serviceDefaults {
		if _, ok := mainVals[n]; !ok && p.known[n] == "service" {
			if _, isBuiltin := config.Lookup(n); !isBuiltin {
				p.cfg.Set(n, d)
			}
		}
	}
	undefined := func(seen map[string]bool, list *[]string, name string, local map[string]bool) {
		if _, ok := mainVals[name]; ok {
			if p.known[name] == "" {
				p.known[name] = "user"
			}
			return
		}
		if p.known[name] != "" || local[name] || seen[name] {
			return
		}
		seen[name] = true
		*list = append(*list, name)
	}
	seenMain := map[string]bool{}
	if f := p.cfg.MainCF(); f != nil {
		for _, e := range f.Entries {
			for _, r := range References(e.Value) {
				undefined(seenMain, &p.undefinedMain, r, nil)
			}
		}
	}
	seenMaster := map[string]bool{}
	for _, s := range p.master.Services {
		local := map[string]bool{}
		for _, o := range s.Overrides() {
			local[o[0]] = true
		}
		for _, o := range s.Overrides() {
			for _, r := range References(o[1]) {
				undefined(seenMaster, &p.undefinedMaster, r, local)
			}
		}
	}
	if p.defaults {
		return
	}
	for _, n := range p.undefinedMain {
		p.warnf("%s: undefined parameter: %s", filepath.Join(p.dir, "main.cf"), n)
	}
	for _, n := range p.undefinedMaster {
		p.warnf("%s: undefined parameter: %s", p.master.Path, n)
	}
	for _, o := range p.overrides {
		p.cfg.Set(o[0], o[1])
	}
}

// References returns the parameter names that value refers to with $name,
// ${name...} or $(name...), anywhere in it (both branches of conditionals
// included), in order of appearance.
func References(value string) []string {
	var out []string
	for i := 0; i < len(value); i++ {
		if value[i] != '$' || i+1 >= len(value) {
			continue
		}
		j := i + 1
		if value[j] == '$' {
			i = j
			continue
		}
		if value[j] == '{' || value[j] == '(' {
			j++
		}
		k := j
		for k < len(value) && isNameByte(value[k]) {
			k++
		}
		if k > j {
			out = append(out, value[j:k])
		}
	}
	return out
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// flagUnusedMain warns about main.cf names that nothing knows or uses.
func (p *pc) flagUnusedMain() {
	f := p.cfg.MainCF()
	if f == nil {
		return
	}
	last := map[string]string{}
	var order []string
	for _, e := range f.Entries {
		if _, ok := last[e.Name]; !ok {
			order = append(order, e.Name)
		}
		last[e.Name] = e.Value
	}
	for _, n := range order {
		if p.known[n] == "" {
			p.warnf("%s: unused parameter: %s=%s", f.Path, n, last[n])
		}
	}
}

// flagUnusedMaster warns about master.cf -o names that nothing knows or uses.
func (p *pc) flagUnusedMaster() {
	referenced := map[string]bool{}
	for _, s := range p.master.Services {
		for _, o := range s.Overrides() {
			for _, r := range References(o[1]) {
				referenced[r] = true
			}
		}
	}
	for _, s := range p.master.Services {
		for _, o := range s.Overrides() {
			if p.known[o[0]] == "" && !referenced[o[0]] {
				p.warnf("%s: unused parameter: %s=%s", p.master.Path, o[0], o[1])
			}
		}
	}
}

// showMain prints main.cf parameters.
func (p *pc) showMain(names []string) {
	p.load(false)
	values := p.cfg
	valueOf := func(name string) (string, bool) {
		switch name {
		case "process_id":
			return fmt.Sprint(os.Getpid()), true
		case "process_name":
			return filepath.Base(p.prog), true
		}
		if p.defaults {
			if d, ok := p.serviceDefaults[name]; ok {
				return d, true
			}
			return values.Default(name)
		}
		if v, ok := values.Raw(name); ok {
			return v, true
		}
		return "", false
	}
	inClass := func(name string) bool {
		if p.classes == nil || p.classes["all"] {
			return true
		}
		return p.classes[p.known[name]]
	}
	if len(names) > 0 {
		for _, n := range names {
			if p.known[n] == "" {
				p.warnf("%s: unknown parameter", n)
				continue
			}
			v, _ := valueOf(n)
			p.printParam(n, v, values)
		}
	} else {
		var list []string
		if p.nonDefault && !p.defaults {
			set := map[string]bool{}
			if p.dir != config.DefaultDir {
				set["config_directory"] = true
			}
			for _, e := range p.cfg.MainCF().Entries {
				if p.known[e.Name] != "" {
					set[e.Name] = true
				}
			}
			for n := range set {
				list = append(list, n)
			}
		} else {
			for n := range p.known {
				list = append(list, n)
			}
		}
		sort.Strings(list)
		for _, n := range list {
			if !inClass(n) {
				continue
			}
			v, ok := valueOf(n)
			if !ok && p.known[n] == "user" {
				continue
			}
			p.printParam(n, v, values)
		}
	}
	p.out.Flush()
	if !p.defaults {
		p.flagUnusedMain()
		p.flagUnusedMaster()
	}
}

func (p *pc) printParam(name, value string, c *config.Config) {
	if p.expand {
		v, err := c.Expand(value)
		if err != nil {
			p.warnf("%s", err)
			p.fatalf("macro processing error")
		}
		value = v
	}
	switch {
	case p.hideValue:
		p.printLine(name)
	case p.hideName:
		p.printLine(value)
	default:
		p.printLine(name + " = " + value)
	}
}

// printLine prints text with runs of blanks collapsed to one space; with
// -f, lines are folded before 80 columns with a 4-space indent.
func (p *pc) printLine(text string) {
	p.out.WriteString(foldLine(text, p.fold))
	p.out.WriteByte('\n')
}

func foldLine(text string, fold bool) string {
	const lineLimit, indent = 80, 4
	var b strings.Builder
	n := 0
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }) {
		if n > 0 {
			if !fold || n+len(w) < lineLimit {
				b.WriteByte(' ')
				n++
			} else {
				b.WriteString("\n    ")
				n = indent
			}
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
