package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultDir is the configuration directory when neither -c nor
// MAIL_CONFIG names another.
const DefaultDir = "/etc/postern"

// Dir returns the configuration directory: the -c flag value if given,
// else $MAIL_CONFIG, else DefaultDir.
func Dir(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("MAIL_CONFIG"); env != "" {
		return env
	}
	return DefaultDir
}

// Config is the configuration of one process: built-in defaults (the
// catalogue and host-derived values), main.cf, and overrides (master.cf
// "-o name=value", postconf -o, per-process names such as service_name).
// Values are kept raw and expanded when read, as Postfix does.
type Config struct {
	dir       string
	main      *File
	mainVals  map[string]string
	overrides map[string]string

	mu        sync.Mutex
	host      map[string]string // computed host-derived defaults
	undefined map[string]bool
}

// New returns a configuration of built-in defaults only (postconf -d).
func New() *Config {
	return &Config{
		dir:       DefaultDir,
		mainVals:  map[string]string{},
		overrides: map[string]string{},
	}
}

// Load reads DIR/main.cf on top of the built-in defaults.
func Load(dir string) (*Config, error) {
	f, err := ParseMainCF(filepath.Join(dir, "main.cf"))
	if err != nil {
		return nil, err
	}
	c := FromFile(dir, f)
	return c, nil
}

// FromFile builds a configuration from an already parsed main.cf that was
// read from directory dir.
func FromFile(dir string, f *File) *Config {
	c := New()
	c.dir = dir
	c.main = f
	for _, e := range f.Entries {
		c.mainVals[e.Name] = e.Value
	}
	return c
}

// ConfigDir returns the directory the configuration was read from.
func (c *Config) ConfigDir() string { return c.dir }

// MainCF returns the parsed main.cf, or nil for New().
func (c *Config) MainCF() *File { return c.main }

// Set overrides a parameter, like master.cf's "-o name=value".
func (c *Config) Set(name, value string) {
	c.overrides[name] = value
}

// IsSet reports whether main.cf sets name.
func (c *Config) IsSet(name string) bool {
	_, ok := c.mainVals[name]
	return ok
}

// Raw returns the unexpanded value of name: an override, else the main.cf
// value, else the built-in default. ok is false for a name that has no
// value anywhere.
func (c *Config) Raw(name string) (string, bool) {
	if v, ok := c.overrides[name]; ok {
		return v, true
	}
	if v, ok := c.mainVals[name]; ok {
		return v, true
	}
	return c.Default(name)
}

// Default returns the built-in default text of name: the catalogue's, or
// for host-derived names the value computed on this host.
func (c *Config) Default(name string) (string, bool) {
	if name == "config_directory" {
		return c.dir, true
	}
	p, ok := Lookup(name)
	if !ok {
		return "", false
	}
	if p.Host {
		return c.hostDefault(name), true
	}
	return p.Default, true
}

// Expand expands $name references in s against this configuration.
func (c *Config) Expand(s string) (string, error) {
	x := expander{lookup: c.Raw, undefined: c.noteUndefined}
	return x.expand(s, 0)
}

// ExpandValue returns the expanded value of name, or an error for a
// loop or a malformed expression.
func (c *Config) ExpandValue(name string) (string, error) {
	raw, ok := c.Raw(name)
	if !ok {
		return "", nil
	}
	return c.Expand(raw)
}

// Get returns the expanded value of name ("" for an unknown name). An
// expansion error yields the empty string; programs that must report it
// use ExpandValue.
func (c *Config) Get(name string) string {
	v, err := c.ExpandValue(name)
	if err != nil {
		return ""
	}
	return v
}

func (c *Config) noteUndefined(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.undefined == nil {
		c.undefined = map[string]bool{}
	}
	c.undefined[name] = true
}

// Undefined returns, sorted, the names that expansion so far referenced
// with $ but that have no value anywhere.
func (c *Config) Undefined() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.undefined))
	for n := range c.undefined {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Bool returns a boolean parameter ("yes"/"no", any case).
func (c *Config) Bool(name string) (bool, error) {
	v, err := c.ExpandValue(name)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(v) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("bad boolean configuration: %s = %s", name, v)
}

// Int returns an integer parameter, checked against the catalogue's range.
func (c *Config) Int(name string) (int64, error) {
	v, err := c.ExpandValue(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad numerical configuration: %s = %s", name, v)
	}
	return n, checkRange(name, n)
}

// Size returns a size parameter in bytes.
func (c *Config) Size(name string) (int64, error) {
	return c.Int(name)
}

func checkRange(name string, n int64) error {
	p, ok := Lookup(name)
	if !ok {
		return nil
	}
	if p.Min != nil && n < *p.Min {
		return fmt.Errorf("invalid %s parameter value %d < %d", name, n, *p.Min)
	}
	if p.Max != nil && n > *p.Max {
		return fmt.Errorf("invalid %s parameter value %d > %d", name, n, *p.Max)
	}
	return nil
}

// Time returns a time parameter: a number with an optional unit s, m, h,
// d or w; a bare number means the parameter's default unit.
func (c *Config) Time(name string) (time.Duration, error) {
	v, err := c.ExpandValue(name)
	if err != nil {
		return 0, err
	}
	unit := "s"
	if p, ok := Lookup(name); ok && p.Unit != "" {
		unit = p.Unit
	}
	d, err := ParseTime(v, unit)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: bad time value or unit: %s", name, v)
	}
	return d, nil
}

// ParseTime parses a Postfix time value ("300s", "5d", "1h", "10") with
// defaultUnit for a bare number.
func ParseTime(v, defaultUnit string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("bad time value %q", v)
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, err
	}
	unit := v[i:]
	if unit == "" {
		unit = defaultUnit
	}
	var mult time.Duration
	switch unit {
	case "s":
		mult = time.Second
	case "m":
		mult = time.Minute
	case "h":
		mult = time.Hour
	case "d":
		mult = 24 * time.Hour
	case "w":
		mult = 7 * 24 * time.Hour
	default:
		return 0, fmt.Errorf("bad time unit %q", unit)
	}
	if n > int64((1<<63-1)/mult) {
		return 0, fmt.Errorf("time value %q out of range", v)
	}
	return time.Duration(n) * mult, nil
}

// List returns a list parameter, expanded and split on commas and
// whitespace; a {braced group} stays one element (braces removed).
func (c *Config) List(name string) []string {
	return SplitList(c.Get(name))
}

// SplitList splits a Postfix list value on commas and whitespace, keeping
// "{...}" groups (which may contain both) as one element without their
// braces, as Postfix's mystrtokq does for restriction lists.
func SplitList(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		if c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			i++
			continue
		}
		j := i
		for j < len(s) {
			c := s[j]
			if c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				break
			}
			if c == '{' {
				if e := matchClose(s, j, '{', '}'); e >= 0 {
					j = e + 1
					continue
				}
			}
			j++
		}
		tok := s[i:j]
		if len(tok) >= 2 && tok[0] == '{' && tok[len(tok)-1] == '}' {
			tok = strings.TrimSpace(tok[1 : len(tok)-1])
		}
		out = append(out, tok)
		i = j
	}
	return out
}
