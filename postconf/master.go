package postconf

import (
	"fmt"
	"os"
	"path/filepath"
	"postern/pkg/strerror"
	"sort"
	"strings"

	"postern/pkg/config"
)

// servicePattern is a parsed "service[/type[/field-or-name]]" request;
// missing parts and "*" match anything.
type servicePattern struct {
	raw   string
	parts []string
	hits  int
}

func (p *pc) parsePatterns(args []string, maxParts int, what string) []*servicePattern {
	var out []*servicePattern
	for _, a := range args {
		parts := strings.Split(a, "/")
		if len(parts) > maxParts || a == "" {
			p.fatalf("%s", what)
		}
		for _, s := range parts {
			if s == "" {
				p.fatalf("%s", what)
			}
		}
		out = append(out, &servicePattern{raw: a, parts: parts})
	}
	return out
}

func (sp *servicePattern) part(i int) string {
	if i < len(sp.parts) {
		return sp.parts[i]
	}
	return "*"
}

func (sp *servicePattern) matches(s *config.Service) bool {
	n, t := sp.part(0), sp.part(1)
	return (n == "*" || n == s.Name) && (t == "*" || t == s.Type)
}

func (p *pc) reportUnmatched(pats []*servicePattern) {
	for _, sp := range pats {
		if sp.hits == 0 {
			p.warnf("unmatched request: \"%s\"", sp.raw)
		}
	}
}

// serviceExpander returns the -x expansion of -o values for one service:
// its -o settings and service_name apply on top of main.cf.
func (p *pc) serviceExpander(s *config.Service) func(string) string {
	if !p.expand {
		return nil
	}
	c := config.FromFile(p.dir, p.cfg.MainCF())
	for n, d := range p.serviceDefaults {
		if !c.IsSet(n) {
			if _, ok := config.Lookup(n); !ok {
				c.Set(n, d)
			}
		}
	}
	for _, o := range p.overrides {
		c.Set(o[0], o[1])
	}
	for _, o := range s.Overrides() {
		c.Set(o[0], o[1])
	}
	c.Set("service_name", s.Name)
	return func(v string) string {
		x, err := c.Expand(v)
		if err != nil {
			p.warnf("%s", err)
			p.fatalf("macro processing error")
		}
		return x
	}
}

func (p *pc) showMasterEntries(args []string) {
	pats := p.parsePatterns(args, 2, "-M option requires service_name[/type]")
	for _, s := range p.master.Services {
		if len(pats) == 0 {
			fmt.Fprintln(p.out, s.Format(p.fold, p.serviceExpander(s)))
			continue
		}
		for _, sp := range pats {
			if sp.matches(s) {
				sp.hits++
				fmt.Fprintln(p.out, s.Format(p.fold, p.serviceExpander(s)))
			}
		}
	}
	p.out.Flush()
	p.reportUnmatched(pats)
}

func fieldIndex(name string) int {
	for i, n := range config.MasterFieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

func (p *pc) showMasterFields(args []string) {
	pats := p.parsePatterns(args, 3, "-F option requires service_name[/type[/field]]")
	for _, sp := range pats {
		if f := sp.part(2); f != "*" && fieldIndex(f) < 0 {
			p.fatalf("-F option requires service_name[/type[/field]]")
		}
	}
	printAll := func(s *config.Service) {
		for i := range config.MasterFieldNames {
			p.printMasterField(s, i)
		}
	}
	for _, s := range p.master.Services {
		if len(pats) == 0 {
			printAll(s)
			continue
		}
		for _, sp := range pats {
			if sp.matches(s) {
				sp.hits++
				if f := sp.part(2); f == "*" {
					printAll(s)
				} else {
					p.printMasterField(s, fieldIndex(f))
				}
			}
		}
	}
	p.out.Flush()
	p.reportUnmatched(pats)
}

func (p *pc) printMasterField(s *config.Service, field int) {
	const lineLimit = 80
	var b strings.Builder
	n := 0
	if !p.hideName {
		b.WriteString(s.Name + "/" + s.Type + "/" + config.MasterFieldNames[field] + " = ")
		n = b.Len()
		if p.hideValue {
			fmt.Fprintln(p.out, strings.TrimSuffix(b.String(), " = "))
			return
		}
		if n+len(s.Fields()[field]) > lineLimit {
			b.WriteString("\n    ")
			n = 4
		}
	}
	if field == 7 {
		b.WriteString(s.CommandText(p.fold, n, p.serviceExpander(s)))
	} else {
		b.WriteString(s.Fields()[field])
	}
	fmt.Fprintln(p.out, b.String())
}

// serviceParams returns the -o settings of every entry with s's name and
// type (Postfix keeps one table per service name and type).
func (p *pc) serviceParams(s *config.Service) map[string]string {
	m := map[string]string{}
	for _, t := range p.master.Services {
		if t.Key() == s.Key() {
			for _, o := range t.Overrides() {
				m[o[0]] = o[1]
			}
		}
	}
	return m
}

func (p *pc) showMasterParams(args []string) {
	pats := p.parsePatterns(args, 3, "-P option requires service_name[/type[/parameter]]")
	printParam := func(s *config.Service, name, value string) {
		if x := p.serviceExpander(s); x != nil {
			value = x(value)
		}
		if p.hideName {
			p.printLine(value)
		} else {
			p.printLine(s.Key() + "/" + name + " = " + value)
		}
	}
	printAll := func(s *config.Service, params map[string]string) {
		names := make([]string, 0, len(params))
		for n := range params {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			printParam(s, n, params[n])
		}
	}
	for _, s := range p.master.Services {
		params := p.serviceParams(s)
		if len(params) == 0 {
			continue
		}
		if len(pats) == 0 {
			printAll(s, params)
			continue
		}
		for _, sp := range pats {
			if !sp.matches(s) {
				continue
			}
			if name := sp.part(2); name == "*" {
				printAll(s, params)
				sp.hits++
			} else if v, ok := params[name]; ok {
				printParam(s, name, v)
				sp.hits++
			}
		}
	}
	p.out.Flush()
	p.reportUnmatched(pats)
}

// masterEdit is one requested change to master.cf.
type masterEdit struct {
	sp    *servicePattern
	value string          // -Me entry text, -Fe field value, -Pe parameter value
	entry *config.Service // -Me: the parsed new entry
	done  bool
}

// editMaster carries out -Me, -MX, -M#, -Fe, -Pe and -PX. master.cf is
// rewritten through a temporary file renamed into place; lines of entries
// that are not edited are copied unchanged, edited entries are written in
// the postconf -Mf layout.
func (p *pc) editMaster(args []string) {
	if p.mode == modeField && !p.edit {
		p.fatalf("-F option cannot be used with -X or -#")
	}
	if p.mode == modeParam && p.comment {
		p.fatalf("-P option cannot be used with -#")
	}
	var edits []*masterEdit
	for _, a := range args {
		e := &masterEdit{}
		key := a
		if p.edit {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				p.fatalf("missing '=' after attribute name: \"%s\"", a)
			}
			key, e.value = strings.TrimSpace(k), strings.TrimSpace(v)
		}
		parts := strings.Split(key, "/")
		want := map[int]int{modeMaster: 2, modeField: 3, modeParam: 3}[p.mode]
		if len(parts) != want {
			switch p.mode {
			case modeMaster:
				p.fatalf("-M%s requires service_name/type", map[bool]string{true: "e", false: map[bool]string{true: "X", false: "#"}[p.remove]}[p.edit])
			case modeField:
				p.fatalf("-Fe requires service_name/type/field_name")
			default:
				p.fatalf("-P%s requires service_name/type/parameter", map[bool]string{true: "e", false: "X"}[p.edit])
			}
		}
		e.sp = &servicePattern{raw: a, parts: parts}
		if p.mode == modeMaster && p.edit {
			s, warns, err := config.ParseMasterEntry(e.value)
			for _, w := range warns {
				p.warnf("%s", w)
			}
			if err != nil {
				if me, ok := err.(*config.MasterError); ok && me.Text == "" {
					p.fatalf("-Me: %s", me.Msg)
				}
				p.fatalf("%s", err)
			}
			if s.Name != parts[0] || s.Type != parts[1] {
				p.fatalf("-Me: service name/type mismatch: %s %s", s.Key(), key)
			}
			e.entry = s
		}
		if p.mode == modeField {
			fi := fieldIndex(parts[2])
			if fi < 0 {
				p.fatalf("invalid field name: \"%s\"", parts[2])
			}
			if fi <= 1 && strings.ContainsAny(e.value, " \t") {
				p.fatalf("-Fe: bad value for %s field: \"%s\"", parts[2], e.value)
			}
		}
		edits = append(edits, e)
	}

	path := filepath.Join(p.dir, "master.cf")
	tmp := p.createTemp(path)
	data, err := os.ReadFile(path)
	if err != nil {
		p.fatalf("open %s for reading: %s", path, strerror.Text(err))
	}
	mf, err := config.ParseMasterText(path, string(data))
	if err != nil {
		p.fatalf("%s", err)
	}
	for _, w := range mf.Warnings {
		p.warnf("%s", w)
	}
	// Physical line ranges of each entry: from its first line up to the
	// last continuation line before the next entry.
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	entryAt := map[int]*config.Service{}
	for _, s := range mf.Services {
		entryAt[s.Line] = s
	}
	var b strings.Builder
	for i := 0; i < len(lines); {
		s := entryAt[i+1]
		if s == nil {
			b.WriteString(lines[i])
			i++
			continue
		}
		// The block of an entry runs up to the next entry: its
		// continuation lines and any comment or blank lines among or after
		// them. An edited entry is written after those comment lines.
		end := i + 1
		for end < len(lines) && entryAt[end+1] == nil {
			end++
		}
		block := lines[i:end]
		i = end
		changed, replacement := p.applyMasterEdits(s, edits)
		if !changed {
			for _, l := range block {
				b.WriteString(l)
			}
			continue
		}
		var own, keep []string
		for _, l := range block {
			t := strings.TrimRight(l, "\r\n")
			trimmed := strings.TrimLeft(t, " \t\r\f\v")
			if trimmed == "" || trimmed[0] == '#' || len(own) > 0 && trimmed == t {
				if !p.comment {
					keep = append(keep, withNewline(l))
					continue
				}
			}
			own = append(own, l)
		}
		// Postfix writes an entry replaced by -Me before the comment lines
		// of its block, one changed by -Fe, -Pe or -PX after them.
		if p.mode != modeMaster {
			b.WriteString(strings.Join(keep, ""))
		}
		switch {
		case replacement == nil && p.comment:
			for _, l := range own {
				t := strings.TrimLeft(l, " \t")
				if t == "" || t[0] == '#' {
					b.WriteString(withNewline(l))
				} else {
					b.WriteString(withNewline("#" + l))
				}
			}
		case replacement == nil:
			// deleted
		default:
			b.WriteString(replacement.Format(true, nil) + "\n")
		}
		if p.mode == modeMaster {
			b.WriteString(strings.Join(keep, ""))
		}
	}
	if p.mode == modeMaster && p.edit {
		for _, e := range edits {
			if !e.done {
				if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
					b.WriteString("\n")
				}
				b.WriteString(e.entry.Format(true, nil) + "\n")
				e.done = true
			}
		}
	}
	if p.mode == modeField || p.mode == modeParam {
		for _, e := range edits {
			if !e.done {
				p.warnf("unmatched service_name/type: \"%s\"", e.sp.raw)
			}
		}
	}
	p.commitTemp(tmp, path, b.String())
}

// applyMasterEdits applies the edits that match s. It reports whether s
// changed; the replacement is nil when s is deleted or commented out.
func (p *pc) applyMasterEdits(s *config.Service, edits []*masterEdit) (bool, *config.Service) {
	changed := false
	cur := s
	for _, e := range edits {
		if e.sp.parts[0] != s.Name || e.sp.parts[1] != s.Type {
			continue
		}
		changed = true
		e.done = true
		switch p.mode {
		case modeMaster:
			if !p.edit {
				return true, nil
			}
			cur = e.entry
		case modeField:
			fi := fieldIndex(e.sp.parts[2])
			f := cur.Fields()
			if fi == 7 {
				f = append(f[:7], e.value)
			} else {
				f[fi] = e.value
			}
			ns, warns, err := config.ParseMasterEntry(joinFields(f))
			for _, w := range warns {
				p.warnf("%s", w)
			}
			if err != nil {
				if me, ok := err.(*config.MasterError); ok && me.Text != "" {
					p.fatalf("%s in \"%s\"", me.Msg, e.value)
				}
				p.fatalf("%s", err)
			}
			ns.Line = cur.Line
			cur = ns
		case modeParam:
			name := e.sp.parts[2]
			var args []string
			found := false
			inOpts := true
			for i := 0; i < len(cur.Args); i++ {
				a := cur.Args[i]
				if inOpts && (!strings.HasPrefix(a, "-") || a == "--") {
					inOpts = false
					if p.edit && !found {
						args = append(args, "-o", name+"="+e.value)
						found = true
					}
				}
				if inOpts && a == "-o" && i+1 < len(cur.Args) && strings.HasPrefix(cur.Args[i+1], name+"=") {
					found = true
					if p.edit {
						args = append(args, "-o", name+"="+e.value)
					}
					i++
					continue
				}
				if inOpts && len(a) > 1 && a[1] == 'o' && i+1 < len(cur.Args) {
					args = append(args, a, cur.Args[i+1])
					i++
					continue
				}
				args = append(args, a)
			}
			if p.edit && !found {
				args = append(args, "-o", name+"="+e.value)
			}
			ns := *cur
			ns.Args = args
			cur = &ns
		}
	}
	return changed, cur
}

// joinFields renders fields as one master.cf entry, bracing values with
// blanks so that they parse back the same.
func joinFields(f []string) string {
	var b strings.Builder
	for i, x := range f {
		if i > 0 {
			b.WriteByte(' ')
		}
		if i != 7 && strings.ContainsAny(x, " \t") && !strings.HasPrefix(x, "{") && i > 7 {
			b.WriteString("{" + x + "}")
		} else {
			b.WriteString(x)
		}
	}
	return b.String()
}

// createTemp creates PATH.tmp, where the new text of path is written
// before it is renamed into place (Postfix's postconf does the same, and
// fails the same way when the directory is missing).
func (p *pc) createTemp(path string) *os.File {
	tmp, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		p.fatalf("open %s: %s", path+".tmp", strerror.Text(err))
	}
	p.cleanup = append(p.cleanup, func() { tmp.Close(); os.Remove(tmp.Name()) })
	return tmp
}

// commitTemp writes text to tmp, syncs it, gives it path's mode and
// renames it over path.
func (p *pc) commitTemp(tmp *os.File, path, text string) {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	_, err := tmp.WriteString(text)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		p.fatalf("write %s: %s", tmp.Name(), strerror.Text(err))
	}
	p.cleanup = nil
}

func withNewline(l string) string {
	if strings.HasSuffix(l, "\n") {
		return l
	}
	return l + "\n"
}
