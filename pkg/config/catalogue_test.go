package config

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func testCatalogue(t *testing.T) *catalogue {
	t.Helper()
	c, err := parseCatalogue(catalogueTOML)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalogueParses(t *testing.T) {
	c := testCatalogue(t)
	if len(c.Param) < 800 {
		t.Errorf("only %d parameters", len(c.Param))
	}
	if len(c.TransportParam) == 0 {
		t.Error("no transport_param entries")
	}
	if _, err := parseCatalogue("[[param]]\nname = \"x\"\nbogus = 1\n"); err == nil {
		t.Error("unknown key accepted")
	}
}

var validTypes = map[string]bool{TypeString: true, TypeBool: true, TypeInt: true, TypeTime: true, TypeSize: true, TypeList: true}

func TestCatalogueEntries(t *testing.T) {
	c := testCatalogue(t)
	seen := map[string]bool{}
	prev := ""
	for _, p := range c.Param {
		if p.Name == "" {
			t.Errorf("entry after %q has no name", prev)
			continue
		}
		if seen[p.Name] {
			t.Errorf("%s: duplicate", p.Name)
		}
		seen[p.Name] = true
		if p.Name < prev {
			t.Errorf("%s: not sorted (after %s)", p.Name, prev)
		}
		prev = p.Name
		if !validTypes[p.Type] {
			t.Errorf("%s: bad type %q", p.Name, p.Type)
		}
		if strings.TrimSpace(p.Desc) == "" || strings.Contains(p.Desc, "\n") {
			t.Errorf("%s: desc must be one non-empty line", p.Name)
		}
		if len(p.Readers) == 0 {
			t.Errorf("%s: no readers", p.Name)
		}
		if p.Type == TypeTime {
			if !strings.Contains("smhdw", p.Unit) || len(p.Unit) != 1 {
				t.Errorf("%s: time parameter with bad unit %q", p.Name, p.Unit)
			}
		} else if p.Unit != "" {
			t.Errorf("%s: unit %q on a %s parameter", p.Name, p.Unit, p.Type)
		}
		if (p.Host || p.ReadOnly) && p.Default != "" {
			t.Errorf("%s: host-derived or read-only with default %q", p.Name, p.Default)
		}
		if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
			t.Errorf("%s: min %d > max %d", p.Name, *p.Min, *p.Max)
		}
		if (p.Min != nil || p.Max != nil) && p.Type != TypeInt && p.Type != TypeSize {
			t.Errorf("%s: range on a %s parameter", p.Name, p.Type)
		}
		if p.PostfixDefault != "" && p.PostfixDefault == p.Default {
			t.Errorf("%s: postfix_default equals default", p.Name)
		}
		if p.Postern && p.PostfixDefault != "" {
			t.Errorf("%s: postern's own parameter with a postfix_default", p.Name)
		}
	}
	for _, tp := range c.TransportParam {
		if tp.Suffix == "" || !validTypes[tp.Type] || tp.Desc == "" || tp.Default == "" {
			t.Errorf("transport_param %+v incomplete", tp)
		}
		if (tp.Type == TypeTime) != (tp.Unit != "") {
			t.Errorf("transport_param %s: unit %q with type %s", tp.Suffix, tp.Unit, tp.Type)
		}
	}
}

// literalise replaces $name, ${name} and ${...} expressions by repl so that
// the surrounding literal text can be checked. Every literal alternative of a
// ${name?{a}:{b}} or ${{x} op {y} ? {a} : {b}} expression is returned as well.
func literalise(s, repl string) (string, []string) {
	var out strings.Builder
	var alts []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			out.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '{', '(':
			depth, j := 0, i+1
			for ; j < len(s); j++ {
				switch s[j] {
				case '{', '(':
					depth++
				case '}', ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			expr := s[i:min(j+1, len(s))]
			for _, m := range catAltRe.FindAllStringSubmatch(expr, -1) {
				if a := strings.TrimSpace(m[1]); a != "" && !strings.Contains(a, "$") {
					alts = append(alts, a)
				}
			}
			out.WriteString(repl)
			i = j
		default:
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			out.WriteString(repl)
			i = j - 1
		}
	}
	return out.String(), alts
}

// the chosen branch of ${...?{a}:{b}}, without nested expressions.
var catAltRe = regexp.MustCompile(`[?:]\s*\{([^{}]*)\}`)

var (
	catTimeRe = regexp.MustCompile(`^[0-9]+[smhdw]?$`)
	catIntRe  = regexp.MustCompile(`^-?[0-9]+$`)
)

func TestCatalogueDefaultsMatchTypes(t *testing.T) {
	for _, p := range Params() {
		if p.Host || p.ReadOnly {
			continue
		}
		var re *regexp.Regexp
		repl := "1"
		switch p.Type {
		case TypeTime:
			re = catTimeRe
		case TypeInt, TypeSize:
			re = catIntRe
		case TypeBool:
			re, repl = regexp.MustCompile(`^(?i:yes|no)$`), "yes"
		default:
			continue
		}
		lit, alts := literalise(p.Default, repl)
		if !re.MatchString(lit) {
			t.Errorf("%s (%s): default %q does not parse", p.Name, p.Type, p.Default)
		}
		// Literal alternatives take the place of the expression.
		suffix := ""
		if p.Type == TypeTime && strings.HasSuffix(lit, "s") && strings.HasPrefix(p.Default, "${") {
			suffix = "s"
		}
		for _, a := range alts {
			if !re.MatchString(a+suffix) && !(p.Type == TypeBool && re.MatchString(a)) {
				// compatibility_level operands such as {3.6} are not values.
				if regexp.MustCompile(`^[0-9.]+$`).MatchString(a) && strings.Contains(p.Default, "level") {
					continue
				}
				t.Errorf("%s (%s): alternative %q in %q does not parse", p.Name, p.Type, a, p.Default)
			}
		}
	}
}

func TestLookupAndParams(t *testing.T) {
	p, ok := Lookup("myhostname")
	if !ok || !p.Host || p.Type != TypeString {
		t.Errorf("Lookup(myhostname) = %+v, %v", p, ok)
	}
	if p, ok := Lookup("maximal_queue_lifetime"); !ok || p.Type != TypeTime || p.Unit != "d" || p.Default != "5d" {
		t.Errorf("Lookup(maximal_queue_lifetime) = %+v, %v", p, ok)
	}
	if p, ok := Lookup("delay_warning_time"); !ok || p.Unit != "h" {
		t.Errorf("Lookup(delay_warning_time) = %+v, %v", p, ok)
	}
	if p, ok := Lookup("hash_queue_depth"); !ok || p.Type != TypeInt || p.Min == nil || *p.Min != 1 {
		t.Errorf("Lookup(hash_queue_depth) = %+v, %v", p, ok)
	}
	if p, ok := Lookup("queue_directory"); !ok || p.Default != "/var/spool/postern" || p.PostfixDefault != "/var/spool/postfix" {
		t.Errorf("Lookup(queue_directory) = %+v, %v", p, ok)
	}
	if p, ok := Lookup("resolver_conf_file"); !ok || !p.Postern {
		t.Errorf("Lookup(resolver_conf_file) = %+v, %v", p, ok)
	}
	if _, ok := Lookup("relay_destination_concurrency_limit"); ok {
		t.Error("service-derived name in the catalogue")
	}
	if _, ok := Lookup("no_such_parameter"); ok {
		t.Error("Lookup(no_such_parameter) found")
	}
	ps := Params()
	if !sort.SliceIsSorted(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name }) {
		t.Error("Params not sorted")
	}
	ps[0] = nil // a copy: must not disturb the catalogue
	if Params()[0] == nil {
		t.Error("Params returns the internal slice")
	}

	tr := []string{"smtp", "relay", "local", "uucp"}
	pipe := map[string]bool{"uucp": true}
	if tp, tname, ok := LookupTransportParam("relay_destination_concurrency_limit", tr, pipe); !ok || tname != "relay" || tp.Default != "$default_destination_concurrency_limit" {
		t.Errorf("LookupTransportParam(relay_destination_concurrency_limit) = %+v, %q, %v", tp, tname, ok)
	}
	if _, _, ok := LookupTransportParam("uucp_time_limit", tr, pipe); !ok {
		t.Error("uucp_time_limit not found")
	}
	if _, _, ok := LookupTransportParam("relay_time_limit", tr, pipe); ok {
		t.Error("relay_time_limit found for a non-pipe transport")
	}
	if _, _, ok := LookupTransportParam("nosuch_destination_concurrency_limit", tr, pipe); ok {
		t.Error("unknown transport accepted")
	}
}

// referenceExclusions are snake_case words in the reference documents that
// appear in parameter-like positions but are not main.cf parameters:
// queue-file and log attributes, macro names, examples of bad or user-defined
// names, and parameters removed from Postfix.
var referenceExclusions = map[string]string{
	"a_x": "loop example", "b_x": "loop example", "test_banner": "user-defined example",
	"arrival_time": "queue file attribute", "create_time": "queue file attribute",
	"conn_use": "log field", "diag_text": "DSN attribute", "diag_type": "DSN attribute",
	"dsn_notify": "queue file attribute", "dsn_orig_rcpt": "queue file attribute",
	"dsn_return": "queue file attribute", "envelope_id": "queue file attribute",
	"envelope_recipient": "class name", "envelope_sender": "class name",
	"header_recipient": "class name", "header_sender": "class name",
	"fail_cohorts": "log field", "forced_expire": "queue file attribute",
	"message_size": "queue file attribute", "mta_mname": "DSN attribute", "mta_type": "DSN attribute",
	"notify_flags": "queue file attribute", "orig_rcpt": "queue file attribute",
	"orig_to": "queue file attribute", "original_recipient": "queue file attribute",
	"queue_id": "postqueue -j field", "queue_name": "postqueue -j field",
	"ret_flags": "queue file attribute", "rewrite_context": "trivial-rewrite attribute",
	"safe_open": "Postfix function", "use_envelope_from": "Debian-only local option",
	"generic_maps": "smtp_generic_maps in prose", "smtpd_tls": "prefix in prose",
	"smtpd_access_maps": "parent_domain_matches_subdomains keyword, not a parameter",
	"empty_one":         "user-defined example", "newparam_x": "user-defined example",
	"nosuch_param": "unknown-name example", "undefined_param": "undefined-name example",
}

// Restriction and action names (permit_mynetworks, reject_rbl_client ...).
var restrictionRe = regexp.MustCompile(`^(check|permit|reject|defer|warn_if)_`)

// Snake_case words in backquotes, before "=", or in a table cell.
var referenceNameRe = regexp.MustCompile("(?m)(?:`|\\| |^)([a-z0-9]+(?:_[a-z0-9]+)+)(?: ?=|`| \\||(?: / [a-z0-9_]+)+)")
var catSnakeRe = regexp.MustCompile(`[a-z0-9]+(?:_[a-z0-9]+)+`)

func TestCatalogueHasReferenceNames(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "reference")
	files, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	if len(files) == 0 {
		t.Skipf("no reference documents in %s", dir)
	}
	transports := []string{"smtp", "relay", "local", "virtual", "lmtp", "error", "retry", "discard"}
	found := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range referenceNameRe.FindAllString(string(data), -1) {
			for _, name := range catSnakeRe.FindAllString(m, -1) {
				if restrictionRe.MatchString(name) || referenceExclusions[name] != "" {
					continue
				}
				if _, _, ok := LookupTransportParam(name, transports, nil); ok {
					continue
				}
				if _, ok := Lookup(name); !ok && !found[name] {
					t.Errorf("%s (named in %s) is not in the catalogue", name, filepath.Base(f))
				}
				found[name] = true
			}
		}
	}
	// Parameter names without an underscore cannot be told from words.
	for _, name := range []string{"biff", "mydestination", "mydomain", "myhostname", "mynetworks", "myorigin", "relayhost"} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s is not in the catalogue", name)
		}
	}
	if len(found) < 150 {
		t.Errorf("only %d parameter names found in the reference", len(found))
	}
}

// postconfDefaults runs Debian's postconf -d with an empty main.cf.
func postconfDefaults(t *testing.T, dir string, class string) map[string]string {
	t.Helper()
	out, err := exec.Command("postconf", "-c", dir, "-C", class, "-d").Output()
	if err != nil {
		t.Fatalf("postconf -C %s -d: %v", class, err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " =")
		if ok {
			m[name] = strings.TrimPrefix(val, " ")
		}
	}
	return m
}

func TestCatalogueMatchesPostconf(t *testing.T) {
	if _, err := exec.LookPath("postconf"); err != nil {
		t.Skip("postconf (Postfix) is not installed")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pf := postconfDefaults(t, dir, "builtin")
	for name, def := range pf {
		p, ok := Lookup(name)
		switch {
		case !ok:
			t.Errorf("%s: in postconf -d, not in the catalogue", name)
		case p.Postern:
			t.Errorf("%s: marked postern's own but Postfix has it", name)
		case p.Host || p.ReadOnly:
		case p.PostfixDefault != "":
			if p.PostfixDefault != def {
				t.Errorf("%s: postfix_default %q, postconf -d says %q", name, p.PostfixDefault, def)
			}
		case p.Default != def:
			t.Errorf("%s: default %q, postconf -d says %q", name, p.Default, def)
		}
	}
	for _, p := range Params() {
		if _, ok := pf[p.Name]; !ok && !p.Postern {
			t.Errorf("%s: not a Postfix builtin parameter and not marked postern", p.Name)
		}
	}

	// With Debian's master.cf, every service-derived name must be a known
	// per-transport family with its default (local's two builtin ones aside).
	mastercf, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), mastercf, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, def := range postconfDefaults(t, dir, "service") {
		if _, ok := Lookup(name); ok {
			continue // builtin names that a master.cf transport also claims
		}
		matched := false
		for _, tp := range TransportParams() {
			if strings.HasSuffix(name, "_"+tp.Suffix) && tp.Default == def {
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("service-derived %s = %s matches no transport_param", name, def)
		}
	}
}
