package table

import (
	"bufio"
	"fmt"
	"os"
	"postern/pkg/strerror"
	"strings"
)

// memTable is a table held in memory: texthash: and inline:.
type memTable struct {
	name  string
	flags Flags
	fold  bool
	m     map[string]string
	keys  []string // insertion order, for Seq
	st    stamp
}

func (t *memTable) Name() string  { return t.name }
func (t *memTable) Changed() bool { return t.st.changed() }
func (t *memTable) Close() error  { return nil }
func (t *memTable) Lookup(key string) (string, bool, error) {
	if t.fold {
		key = fold(key, t.flags)
	}
	v, ok := t.m[key]
	return v, ok, nil
}
func (t *memTable) Seq(fn func(key, value string) error) error {
	for _, k := range t.keys {
		if err := fn(k, t.m[k]); err != nil {
			return err
		}
	}
	return nil
}

func openTexthash(path string, flags Flags, o *options) (Table, error) {
	st := stampOf(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %s", path, strerror.Text(err))
	}
	defer f.Close()
	t := &memTable{name: "texthash:" + path, flags: flags, fold: true, m: map[string]string{}, st: st}
	err = ParseSource(f, path, true, o.warn, func(key, value string, lineno int) error {
		k := fold(key, flags)
		if _, dup := t.m[k]; dup {
			switch {
			case flags&DupReplace != 0:
				t.m[k] = value
			case flags&DupIgnore != 0:
			default:
				o.warn("%s, line %d: duplicate entry: \"%s\"", path, lineno, key)
			}
			return nil
		}
		t.m[k] = value
		t.keys = append(t.keys, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", path, err)
	}
	return t, nil
}

// splitBraced splits s at separators (any of seps) outside braces,
// dropping empty fields, like Postfix's mystrtokq(). ok is false for
// unbalanced braces.
func splitBraced(s, seps string) (fields []string, ok bool) {
	depth := 0
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth < 0 {
				return nil, false
			}
		}
		if depth == 0 && strings.IndexByte(seps, c) >= 0 {
			if start >= 0 {
				fields = append(fields, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth != 0 {
		return nil, false
	}
	if start >= 0 {
		fields = append(fields, s[start:])
	}
	return fields, true
}

const blanks = " \t\r\n"

// unbrace strips one level of {} from s and trims blanks inside.
func unbrace(s string) (string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return s, false
	}
	return strings.Trim(s[1:len(s)-1], blanks), true
}

func openInline(name string, flags Flags) (Table, error) {
	spec := "inline:" + name
	bad := fmt.Errorf("bad syntax: %q; need \"inline:{name=value...}\"", spec)
	inner, ok := unbrace(name)
	if !ok {
		return nil, bad
	}
	items, ok := splitBraced(inner, ", \t\r\n")
	if !ok || len(items) == 0 {
		return nil, bad
	}
	t := &memTable{name: spec, flags: flags, m: map[string]string{}}
	for _, it := range items {
		if s, braced := unbrace(it); braced {
			it = s
		}
		k, v, ok := strings.Cut(it, "=")
		k = strings.Trim(k, blanks)
		v = strings.Trim(v, blanks)
		if !ok || k == "" {
			return nil, fmt.Errorf("missing '=' after attribute name: %q; need \"inline:{name=value...}\"", spec)
		}
		if _, dup := t.m[k]; !dup {
			t.keys = append(t.keys, k)
		}
		t.m[k] = v
	}
	return t, nil
}

// staticTable is "static:value": every key is found with that value.
type staticTable struct{ name, value string }

func openStatic(name string) Table {
	v := name
	if s, ok := unbrace(name); ok {
		v = s
	}
	return &staticTable{name: "static:" + name, value: v}
}

func (t *staticTable) Lookup(string) (string, bool, error) { return t.value, true, nil }
func (t *staticTable) Name() string                        { return t.name }
func (t *staticTable) Changed() bool                       { return false }
func (t *staticTable) Close() error                        { return nil }

// composite is unionmap: or pipemap:.
type composite struct {
	name    string
	pipe    bool
	members []Table
}

func openComposite(typ, name string, flags Flags, o *options) (Table, error) {
	spec := typ + ":" + name
	bad := fmt.Errorf("bad syntax: %q; need \"%s:{type:name...}\"", spec, typ)
	inner, ok := unbrace(name)
	if !ok {
		return nil, bad
	}
	items, ok := splitBraced(inner, ", \t\r\n")
	if !ok || len(items) == 0 {
		return nil, bad
	}
	c := &composite{name: spec, pipe: typ == "pipemap"}
	for _, it := range items {
		m, err := open(it, flags, o)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.members = append(c.members, m)
	}
	return c, nil
}

func (c *composite) Name() string { return c.name }
func (c *composite) Changed() bool {
	for _, m := range c.members {
		if m.Changed() {
			return true
		}
	}
	return false
}
func (c *composite) Close() error {
	var first error
	for _, m := range c.members {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Lookup of a unionmap queries every member and joins the results found
// with ","; of a pipemap, feeds each member's result to the next.
func (c *composite) Lookup(key string) (string, bool, error) {
	if c.pipe {
		for _, m := range c.members {
			v, ok, err := m.Lookup(key)
			if err != nil || !ok {
				return "", false, err
			}
			key = v
		}
		return key, true, nil
	}
	var res []string
	for _, m := range c.members {
		v, ok, err := m.Lookup(key)
		if err != nil {
			return "", false, err
		}
		if ok {
			res = append(res, v)
		}
	}
	if len(res) == 0 {
		return "", false, nil
	}
	return strings.Join(res, ","), true, nil
}

// unixTable is unix:passwd.byname or unix:group.byname, read from
// /etc/passwd and /etc/group on every lookup (no NSS).
type unixTable struct {
	name  string
	file  string
	flags Flags
}

// PasswdFile and GroupFile are the files unix: tables read (variables
// for tests).
var (
	PasswdFile = "/etc/passwd"
	GroupFile  = "/etc/group"
)

func openUnix(name string, flags Flags) (Table, error) {
	switch name {
	case "passwd.byname":
		return &unixTable{name: "unix:" + name, file: PasswdFile, flags: flags}, nil
	case "group.byname":
		return &unixTable{name: "unix:" + name, file: GroupFile, flags: flags}, nil
	}
	return nil, fmt.Errorf("unknown table: unix:%s", name)
}

func (t *unixTable) Name() string  { return t.name }
func (t *unixTable) Changed() bool { return false }
func (t *unixTable) Close() error  { return nil }

// Lookup returns the whole passwd(5) line (name:passwd:uid:gid:gecos:
// home:shell) or group(5) line of the named user or group.
func (t *unixTable) Lookup(key string) (string, bool, error) {
	key = fold(key, t.flags)
	f, err := os.Open(t.file)
	if err != nil {
		return "", false, fmt.Errorf("table %s: open %s: %s", t.name, t.file, strerror.Text(err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if n, _, ok := strings.Cut(line, ":"); ok && n == key && key != "" {
			return line, true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", false, fmt.Errorf("table %s: read %s: %v", t.name, t.file, err)
	}
	return "", false, nil
}
