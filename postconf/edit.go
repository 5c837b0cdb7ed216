package postconf

import (
	"os"
	"path/filepath"
	"postern/pkg/strerror"
	"strings"

	"postern/pkg/config"
)

// editMain carries out -e (set), -X (remove) and -# (comment out) on
// main.cf, as Postfix does: a matching entry is replaced in place by
// "name = value" (or removed, or each of its lines commented out) and its
// continuation lines go with it; comments, blank lines and all other
// entries are copied unchanged; names not found are appended (-e) or
// ignored (-X, -#). The file is replaced through a temporary file.
func (p *pc) editMain(args []string) {
	type change struct {
		value string
		found bool
	}
	changes := map[string]*change{}
	var order []string
	for _, a := range args {
		if p.edit {
			name, value, err := config.SplitNameValue(a)
			if err != nil {
				p.fatalf("%s", err)
			}
			if _, ok := changes[name]; !ok {
				order = append(order, name)
			}
			changes[name] = &change{value: value}
		} else {
			if _, ok := changes[a]; !ok {
				order = append(order, a)
			}
			changes[a] = &change{}
		}
	}
	path := filepath.Join(p.dir, "main.cf")
	tmp := p.createTemp(path)
	data, err := os.ReadFile(path)
	if err != nil {
		p.fatalf("open %s for reading: %s", path, strerror.Text(err))
	}
	counts := map[string]int{}
	for _, ll := range config.LogicalLines(data, nil) {
		if name, _, err := config.SplitNameValue(ll.Text); err == nil && changes[name] != nil {
			if counts[name]++; counts[name] == 2 {
				p.warnf("%s: multiple entries for \"%s\"", path, name)
			}
		}
	}
	var b strings.Builder
	var current *change // the entry being edited, for its continuation lines
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		text := strings.TrimRight(line, "\n")
		trimmed := strings.TrimLeft(text, " \t\r\f\v")
		if trimmed == "" || trimmed[0] == '#' {
			b.WriteString(line)
			continue
		}
		if trimmed != text { // continuation line
			switch {
			case current == nil:
				b.WriteString(line)
			case p.comment:
				b.WriteString("#" + line)
			}
			continue
		}
		current = nil
		name := text
		if i := strings.IndexAny(text, " \t="); i >= 0 {
			name = text[:i]
		}
		c, ok := changes[name]
		if !ok {
			b.WriteString(line)
			continue
		}
		current = c
		c.found = true
		switch {
		case p.edit:
			b.WriteString(name + " = " + c.value + "\n")
		case p.comment:
			b.WriteString("#" + line)
		}
	}
	if p.edit {
		s := b.String()
		if s != "" && !strings.HasSuffix(s, "\n") {
			b.WriteString("\n")
		}
		for _, n := range order {
			if c := changes[n]; !c.found {
				b.WriteString(n + " = " + c.value + "\n")
			}
		}
	}
	if p.comment || p.remove {
		// Keep a final newline that a commented last line lacks.
		s := b.String()
		if s != "" && !strings.HasSuffix(s, "\n") && strings.HasSuffix(string(data), "\n") {
			b.WriteString("\n")
		}
	}
	p.commitTemp(tmp, path, b.String())
}
