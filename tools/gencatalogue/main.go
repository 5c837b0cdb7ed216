// Command gencatalogue regenerates pkg/config/catalogue.toml from an
// installed Postfix (Debian's 3.7.11 was used): names and defaults from
// `postconf -C builtin -d`, descriptions and time units from postconf(5).
// Types and readers are inferred, then corrected by the tables below.
// Postern's own differences and its own parameters are also kept here, so
// that running the tool again reproduces the committed file.
//
// It is run by hand and never needed by the normal build:
//
//	go run ./tools/gencatalogue -o pkg/config/catalogue.toml
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

type param struct {
	name, typ, def, unit, desc string
	postfixDef                 string // set when postern's default differs
	note                       string // comment written above the entry
	host, postern, readOnly    bool
	min, max                   *int64
	readers                    []string
}

type transportParam struct {
	suffix, typ, def, unit, desc string
	pipeOnly                     bool
}

// postern's differences from Postfix. The note is written as a comment.
var overrides = map[string]struct{ def, note string }{
	"config_directory":          {"/etc/postern", "postern's configuration lives in /etc/postern (DESIGN: Names and places)"},
	"meta_directory":            {"/etc/postern", "follows config_directory"},
	"queue_directory":           {"/var/spool/postern", "DESIGN: Names and places"},
	"data_directory":            {"/var/lib/postern", "DESIGN: Names and places"},
	"mail_owner":                {"postern", "DESIGN: Names and places"},
	"syslog_name":               {"${multi_instance_name?{$multi_instance_name}:{postern}}", "log lines read postern/smtpd[PID] (DESIGN: Logging)"},
	"daemon_directory":          {"/usr/libexec/postern", "where packages install the daemons; a test instance points it at bin/"},
	"shlib_directory":           {"no", "postern has no shared libraries or database plugins (Postfix's value when they are compiled out)"},
	"html_directory":            {"no", "upstream Postfix's default; postern installs no HTML files"},
	"readme_directory":          {"no", "upstream Postfix's default; postern installs no README files"},
	"sample_directory":          {"/etc/postern", "follows config_directory"},
	"mail_name":                 {"Postern", "decision: the banner says \"ESMTP Postern\" and Received: headers say \"(Postern)\", as Postfix capitalises its own name"},
	"mail_version":              {"0.1.0", "postern's own version"},
	"mail_release_date":         {"20261122", "postern's own release date (YYYYMMDD)"},
	"smtpd_forbid_bare_newline": {"normalize", "current Postfix (3.9+) default; 3.7.11 has \"no\""},
}

// host-derived defaults: the value is computed at run time.
var hostDerived = map[string]bool{"myhostname": true, "mydomain": true, "mynetworks": true}

// per-process names that a configuration cannot set.
var readOnly = map[string]bool{"process_id": true, "process_name": true, "service_name": true}

// type corrections where the inference gets it wrong.
var typeFix = map[string]string{
	"smtpd_forbid_bare_newline":             "string", // normalize | yes | reject | no
	"compatibility_level":                   "string", // dotted number
	"mail_version":                          "string",
	"mail_release_date":                     "string",
	"smtpd_banner":                          "string",
	"lmtp_lhlo_name":                        "string",
	"smtp_helo_name":                        "string",
	"default_privs":                         "string",
	"process_id":                            "int",
	"line_length_limit":                     "int",
	"header_size_limit":                     "size",
	"body_checks_size_limit":                "size",
	"message_size_limit":                    "size",
	"mailbox_size_limit":                    "size",
	"virtual_mailbox_limit":                 "size",
	"bounce_size_limit":                     "size",
	"queue_minfree":                         "size",
	"smtpd_forbid_bare_newline_reject_code": "int",
	"mynetworks":                            "list",
	"lmtp_min_data_rate":                    "int",
	"smtp_min_data_rate":                    "int",
	"smtpd_min_data_rate":                   "int",
	"tls_random_bytes":                      "int",
	"tls_daemon_random_bytes":               "int",
	"berkeley_db_create_buffer_size":        "size",
	"berkeley_db_read_buffer_size":          "size",
	"smtpd_sasl_response_limit":             "size",
}

// range checks (inclusive) that Postfix makes when a program reads the value.
var ranges = map[string][2]*int64{
	"hash_queue_depth":                      {i64(1), nil},
	"default_process_limit":                 {i64(1), nil},
	"default_destination_concurrency_limit": {i64(0), nil},
	"initial_destination_concurrency":       {i64(1), nil},
	"default_destination_recipient_limit":   {i64(0), nil},
	"qmgr_message_active_limit":             {i64(1), nil},
	"qmgr_message_recipient_limit":          {i64(1), nil},
	"max_use":                               {i64(1), nil},
	"smtpd_recipient_limit":                 {i64(1), nil},
	"smtpd_soft_error_limit":                {i64(0), nil},
	"smtpd_hard_error_limit":                {i64(1), nil},
	"hopcount_limit":                        {i64(1), nil},
	"duplicate_filter_limit":                {i64(0), nil},
	"header_size_limit":                     {i64(1), nil},
	"line_length_limit":                     {i64(1), nil},
	"message_size_limit":                    {i64(0), nil},
	"mailbox_size_limit":                    {i64(0), nil},
	"bounce_size_limit":                     {i64(1), nil},
	"delay_logging_resolution_limit":        {i64(0), i64(6)},
	"smtpd_client_connection_count_limit":   {i64(0), nil},
	"smtpd_client_connection_rate_limit":    {i64(0), nil},
	"virtual_minimum_uid":                   {i64(1), nil},
	"unknown_local_recipient_reject_code":   {i64(400), i64(599)},
	"access_map_reject_code":                {i64(400), i64(599)},
	"access_map_defer_code":                 {i64(400), i64(599)},
}

// readers for global parameters that the heuristics cannot see.
var readersFix = map[string][]string{
	"myhostname":           {"all"},
	"mydomain":             {"all"},
	"myorigin":             {"cleanup", "trivial-rewrite", "local", "smtpd", "sendmail", "bounce"},
	"mydestination":        {"trivial-rewrite", "smtpd", "local"},
	"mynetworks":           {"smtpd", "postscreen", "cleanup", "local"},
	"relayhost":            {"trivial-rewrite"},
	"default_transport":    {"trivial-rewrite"},
	"relay_transport":      {"trivial-rewrite"},
	"local_transport":      {"trivial-rewrite"},
	"virtual_transport":    {"trivial-rewrite"},
	"transport_maps":       {"trivial-rewrite"},
	"relay_domains":        {"trivial-rewrite", "smtpd", "flush"},
	"message_size_limit":   {"smtpd", "cleanup", "sendmail", "pickup", "qmgr", "smtp"},
	"alias_maps":           {"local"},
	"alias_database":       {"newaliases", "postalias"},
	"canonical_maps":       {"cleanup"},
	"virtual_alias_maps":   {"cleanup", "smtpd"},
	"header_checks":        {"cleanup"},
	"body_checks":          {"cleanup"},
	"content_filter":       {"cleanup", "pickup", "smtpd", "qmqpd"},
	"notify_classes":       {"smtpd", "cleanup", "bounce", "qmgr", "local"},
	"soft_bounce":          {"all"},
	"local_recipient_maps": {"smtpd"},
	"relay_recipient_maps": {"smtpd"},
	"compatibility_level":  {"all"},
}

// postern's own parameters.
var posternParams = []param{
	{
		name: "resolver_conf_file", typ: "string", def: "/etc/resolv.conf",
		desc:    "The resolver configuration file (resolv.conf(5) syntax) that postern's DNS client reads; tests point it at their own DNS server.",
		readers: []string{"smtpd", "smtp", "postscreen", "cleanup", "trivial-rewrite", "verify"},
	},
}

// per-transport names that exist because master.cf has a transport of that
// name (postconf -C service): transport + "_" + suffix.
var transportParams = []transportParam{
	{"delivery_slot_cost", "int", "$default_delivery_slot_cost", "", "How often the queue manager lets a message of this transport preempt another.", false},
	{"delivery_slot_discount", "int", "$default_delivery_slot_discount", "", "The percentage of delivery slots a message of this transport earns while preempted.", false},
	{"delivery_slot_loan", "int", "$default_delivery_slot_loan", "", "Delivery slots loaned to a message of this transport before it may preempt.", false},
	{"destination_concurrency_failed_cohort_limit", "int", "$default_destination_concurrency_failed_cohort_limit", "", "How many pseudo-cohorts must suffer connection or handshake failure before a destination of this transport is marked dead.", false},
	{"destination_concurrency_limit", "int", "$default_destination_concurrency_limit", "", "The maximal number of parallel deliveries to the same destination via this transport.", false},
	{"destination_concurrency_negative_feedback", "string", "$default_destination_concurrency_negative_feedback", "", "The per-destination amount of delivery concurrency negative feedback for this transport.", false},
	{"destination_concurrency_positive_feedback", "string", "$default_destination_concurrency_positive_feedback", "", "The per-destination amount of delivery concurrency positive feedback for this transport.", false},
	{"destination_rate_delay", "time", "$default_destination_rate_delay", "s", "The delay between deliveries to the same destination via this transport.", false},
	{"destination_recipient_limit", "int", "$default_destination_recipient_limit", "", "The maximal number of recipients per message delivery via this transport.", false},
	{"extra_recipient_limit", "int", "$default_extra_recipient_limit", "", "The extra recipient space the queue manager may use for this transport.", false},
	{"initial_destination_concurrency", "int", "$initial_destination_concurrency", "", "The initial per-destination concurrency level for parallel delivery via this transport.", false},
	{"minimum_delivery_slots", "int", "$default_minimum_delivery_slots", "", "How many recipients a message of this transport must have before it may preempt others.", false},
	{"recipient_limit", "int", "$default_recipient_limit", "", "The maximal number of recipients of this transport the queue manager keeps in memory.", false},
	{"recipient_refill_delay", "time", "$default_recipient_refill_delay", "s", "The delay before the queue manager refills a message's in-memory recipients for this transport.", false},
	{"recipient_refill_limit", "int", "$default_recipient_refill_limit", "", "How many recipients of this transport the queue manager reads at a time when refilling.", false},
	{"time_limit", "time", "$command_time_limit", "s", "The time limit for delivery to an external command via this pipe(8) transport.", true},
	{"transport_rate_delay", "time", "$default_transport_rate_delay", "s", "The delay between deliveries via this transport, to any destination.", false},
}

func i64(v int64) *int64 { return &v }

var programs = map[string]string{
	"anvil": "anvil", "bounce": "bounce", "cleanup": "cleanup", "discard": "discard",
	"dnsblog": "dnsblog", "error": "error", "flush": "flush", "local": "local",
	"lmtp": "smtp", "master": "master", "oqmgr": "qmgr", "pickup": "pickup",
	"pipe": "pipe", "postlogd": "postlogd", "postscreen": "postscreen", "proxymap": "proxymap",
	"qmgr": "qmgr", "qmqpd": "qmqpd", "scache": "scache", "showq": "showq", "smtp": "smtp",
	"smtpd": "smtpd", "spawn": "spawn", "tlsmgr": "tlsmgr", "tlsproxy": "tlsproxy",
	"trivial-rewrite": "trivial-rewrite", "verify": "verify", "virtual": "virtual",
	"postalias": "postalias", "postcat": "postcat", "postconf": "postconf", "postdrop": "postdrop",
	"postfix": "postern", "postkick": "postkick", "postlock": "postlock", "postlog": "postlog",
	"postmap": "postmap", "postmulti": "postmulti", "postqueue": "postqueue", "postsuper": "postsuper",
	"sendmail": "sendmail",
}

var prefixReaders = []struct{ prefix, reader string }{
	{"smtpd_", "smtpd"}, {"smtp_", "smtp"}, {"lmtp_", "smtp"}, {"postscreen_", "postscreen"},
	{"qmgr_", "qmgr"}, {"local_delivery_", "local"}, {"virtual_mailbox_", "virtual"},
	{"virtual_minimum_uid", "virtual"}, {"virtual_uid_maps", "virtual"}, {"virtual_gid_maps", "virtual"},
	{"address_verify_", "verify"}, {"anvil_", "anvil"}, {"tlsproxy_", "tlsproxy"},
	{"tlsmgr_", "tlsmgr"}, {"tls_", "tlsmgr"}, {"postlogd_", "postlogd"}, {"qmqpd_", "qmqpd"},
	{"fast_flush_", "flush"}, {"flush_", "flush"}, {"bounce_", "bounce"}, {"cleanup_", "cleanup"},
	{"pipe_", "pipe"}, {"sendmail_", "sendmail"}, {"connection_cache_", "scache"},
	{"header_checks", "cleanup"}, {"mime_header_checks", "cleanup"}, {"nested_header_checks", "cleanup"},
	{"milter_", "cleanup"}, {"non_smtpd_milters", "cleanup"}, {"dnsblog_", "dnsblog"},
	{"mailbox_", "local"}, {"forward_", "local"}, {"allow_mail_to_", "local"}, {"home_mailbox", "local"},
	{"luser_relay", "local"}, {"biff", "local"}, {"default_delivery_slot_", "qmgr"},
	{"default_destination_", "qmgr"}, {"default_recipient_", "qmgr"}, {"default_extra_recipient", "qmgr"},
	{"default_transport_rate", "qmgr"}, {"default_minimum_delivery", "qmgr"}, {"initial_destination", "qmgr"},
	{"transport_", "qmgr"}, {"minimal_backoff", "qmgr"}, {"maximal_backoff", "qmgr"}, {"queue_run_delay", "qmgr"},
	{"maximal_queue_lifetime", "qmgr"}, {"delay_warning_time", "qmgr"},
	{"masquerade_", "cleanup"}, {"canonical_", "cleanup"}, {"sender_canonical", "cleanup"}, {"recipient_canonical", "cleanup"},
	{"postmulti_", "postmulti"}, {"multi_instance_", "postmulti"}, {"master_", "master"},
}

func main() {
	out := flag.String("o", "pkg/config/catalogue.toml", "output file")
	postconf := flag.String("postconf", "postconf", "the postconf command")
	manpage := flag.String("man", "/usr/share/man/man5/postconf.5.gz", "postconf(5) manual page")
	flag.Parse()

	defaults := builtinDefaults(*postconf)
	sections := manSections(*manpage)

	var params []param
	for name, def := range defaults {
		p := param{name: name, def: def}
		body := sections[name]
		if body == "" {
			log.Printf("warning: %s not in postconf(5)", name)
		}
		p.desc = firstSentence(body)
		p.typ, p.unit = inferType(name, def, body)
		if t, ok := typeFix[name]; ok {
			p.typ = t
			if t != "time" {
				p.unit = ""
			}
		}
		if o, ok := overrides[name]; ok {
			p.postfixDef = def
			p.def = o.def
			p.note = o.note
		}
		if hostDerived[name] {
			p.host, p.def = true, ""
		}
		if readOnly[name] {
			p.readOnly, p.def = true, ""
		}
		if r, ok := ranges[name]; ok {
			p.min, p.max = r[0], r[1]
		}
		p.readers = inferReaders(name, body)
		params = append(params, p)
	}
	// "The LMTP-specific version of the smtp_foo configuration parameter":
	// take the type and unit of the parameter referred to.
	byName := map[string]int{}
	for i, p := range params {
		byName[p.name] = i
	}
	for i, p := range params {
		if _, fixed := typeFix[p.name]; fixed {
			continue
		}
		m := versionOfRe.FindStringSubmatch(strings.Join(strings.Fields(p.desc), " "))
		if m == nil {
			continue
		}
		if j, ok := byName[m[1]]; ok && params[j].typ != p.typ {
			if params[j].typ == "time" || p.typ == "string" || p.typ == "int" {
				params[i].typ, params[i].unit = params[j].typ, params[j].unit
			}
		}
	}
	for i, p := range params {
		if m := timeDefRe.FindStringSubmatch(p.def); m != nil && p.typ != "time" {
			log.Printf("note: %s = %s inferred as %s, made time", p.name, p.def, p.typ)
			params[i].typ, params[i].unit = "time", "s"
		}
	}
	for _, p := range posternParams {
		p.postern = true
		params = append(params, p)
	}
	sort.Slice(params, func(i, j int) bool { return params[i].name < params[j].name })

	var b bytes.Buffer
	writeHeader(&b)
	for _, p := range params {
		writeParam(&b, p)
	}
	b.WriteString("\n# Per-transport parameters. Postfix creates these names for every master.cf\n")
	b.WriteString("# transport (postconf -C service): TRANSPORT_SUFFIX, e.g. relay_destination_concurrency_limit,\n")
	b.WriteString("# with the default shown. pipe_only: only for transports that run pipe(8).\n")
	for _, t := range transportParams {
		b.WriteString("\n[[transport_param]]\n")
		kv(&b, "suffix", t.suffix)
		kv(&b, "type", t.typ)
		kv(&b, "default", t.def)
		if t.unit != "" {
			kv(&b, "unit", t.unit)
		}
		kv(&b, "desc", t.desc)
		if t.pipeOnly {
			b.WriteString("pipe_only = true\n")
		}
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	counts := map[string]int{}
	for _, p := range params {
		counts[p.typ]++
	}
	log.Printf("%d parameters %v, %d per-transport suffixes", len(params), counts, len(transportParams))
}

func builtinDefaults(postconf string) map[string]string {
	dir, err := os.MkdirTemp("", "gencatalogue")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// An empty main.cf and no master.cf: only builtin names.
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), nil, 0o644); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(postconf, "-c", dir, "-C", "builtin", "-d")
	cmd.Stderr = io.Discard
	outb, err := cmd.Output()
	if err != nil {
		log.Fatalf("postconf: %v", err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(outb))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " =")
		if !ok {
			continue
		}
		m[name] = strings.TrimPrefix(val, " ")
	}
	return m
}

var shRe = regexp.MustCompile(`^\.SH ([A-Za-z0-9_]+) `)

func manSections(path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	data, err := io.ReadAll(z)
	if err != nil {
		log.Fatal(err)
	}
	m := map[string]string{}
	cur := ""
	var body strings.Builder
	flush := func() {
		if cur != "" {
			m[cur] = body.String()
		}
		body.Reset()
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, ".SH") {
			flush()
			cur = ""
			if mm := shRe.FindStringSubmatch(line); mm != nil {
				cur = mm[1]
			}
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	flush()
	return m
}

var fontRe = regexp.MustCompile(`\\f[BIRPC]`)

// roffText turns roff source into plain text; paragraph breaks become "\n\n".
func roffText(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, ".") {
			switch {
			case strings.HasPrefix(line, ".PP"), strings.HasPrefix(line, ".IP"), strings.HasPrefix(line, ".sp"),
				strings.HasPrefix(line, ".nf"), strings.HasPrefix(line, ".RS"):
				b.WriteString("\n\n")
			}
			continue
		}
		line = fontRe.ReplaceAllString(line, "")
		line = strings.NewReplacer(`\-`, "-", `\(bu`, "*", `\e`, `\`, `\&`, "", `\(aq`, "'").Replace(line)
		b.WriteString(line)
		b.WriteByte(' ')
	}
	return b.String()
}

var sentenceEnd = regexp.MustCompile(`\.(\s|$)`)

func firstSentence(body string) string {
	text := roffText(body)
	para, _, _ := strings.Cut(strings.TrimSpace(text), "\n\n")
	para = strings.Join(strings.Fields(para), " ")
	// Skip abbreviations such as "e.g." and "etc." that end in a dot before a space.
	from := 0
	for {
		loc := sentenceEnd.FindStringIndex(para[from:])
		if loc == nil {
			return para
		}
		end := from + loc[0] + 1
		prev := para[:end-1]
		if strings.HasSuffix(prev, "e.g") || strings.HasSuffix(prev, "i.e") || strings.HasSuffix(prev, "etc") ||
			strings.HasSuffix(prev, "vs") || strings.HasSuffix(prev, "Ph.D") {
			from = end
			continue
		}
		return para[:end]
	}
}

var (
	unitRe      = regexp.MustCompile(`default time unit is ([smhdw])`)
	versionOfRe = regexp.MustCompile(`version of the ([a-z0-9_]+) (configuration )?parameter`)
	timeDefRe   = regexp.MustCompile(`^[0-9]+([smhdw])$`)
	refRe       = regexp.MustCompile(`^\$(\{[a-z0-9_]+\}|[a-z0-9_]+)$`)
	numRe       = regexp.MustCompile(`^-?[0-9]+$`)
	altRe       = regexp.MustCompile(`[?:]\s*\{([^{}]*)\}`)
)

var listSuffixes = []string{"_maps", "_restrictions", "_classes", "_domains", "_networks", "_milters",
	"_exceptions", "_interfaces", "_protocols", "_names", "_checks", "_keywords", "_exclusions",
	"_filter_classes", "_users", "_clients", "_ciphers_exclude", "_exclude_ciphers", "_files",
	"_reply_filter", "_dnsbl_sites", "_list", "_macros", "_commands", "_options", "_directories",
	"_transports", "_destinations", "_mechanism_filter", "_curves", "_workarounds"}

// alternatives returns the literal choices of a ${...?{a}:{b}} default, or
// the default itself.
func alternatives(def string) []string {
	if !strings.Contains(def, "${") {
		return []string{def}
	}
	var alts []string
	for _, m := range altRe.FindAllStringSubmatch(def, -1) {
		a := strings.TrimSpace(m[1])
		if a == "" || refRe.MatchString(a) {
			continue // empty, or a reference to another parameter
		}
		alts = append(alts, a)
	}
	return alts
}

func all(ss []string, f func(string) bool) bool {
	if len(ss) == 0 {
		return false
	}
	for _, s := range ss {
		if !f(s) {
			return false
		}
	}
	return true
}

func inferType(name, def, body string) (typ, unit string) {
	text := roffText(body)
	flat := strings.Join(strings.Fields(text), " ")
	if strings.Contains(flat, "Time units:") || strings.Contains(flat, "default time unit") {
		if m := unitRe.FindStringSubmatch(flat); m != nil {
			return "time", m[1]
		}
		if m := timeDefRe.FindStringSubmatch(def); m != nil {
			return "time", m[1]
		}
		return "time", "s"
	}
	alts := alternatives(def)
	if strings.HasSuffix(def, "s") && strings.HasPrefix(def, "${stress?") { // e.g. ${stress?{10}:{300}}s
		return "time", "s"
	}
	isBool := func(s string) bool { return s == "yes" || s == "no" }
	if all(alts, isBool) {
		return "bool", ""
	}
	if all(alts, numRe.MatchString) {
		first, _, _ := strings.Cut(flat, ". ")
		if strings.Contains(first, "bytes") || strings.Contains(first, "byte count") {
			return "size", ""
		}
		return "int", ""
	}
	for _, s := range listSuffixes {
		if strings.HasSuffix(name, s) {
			return "list", ""
		}
	}
	if strings.Contains(def, ",") && !strings.Contains(def, "${") {
		return "list", ""
	}
	if strings.Contains(flat, "Specify a list of") || strings.Contains(flat, "specify a list of") {
		return "list", ""
	}
	return "string", ""
}

var manRefRe = regexp.MustCompile(`\\fB([a-z-]+)\\fR\((1|8)\)`)

func inferReaders(name, body string) []string {
	if r, ok := readersFix[name]; ok {
		return r
	}
	set := map[string]bool{}
	for _, pr := range prefixReaders {
		if strings.HasPrefix(name, pr.prefix) {
			set[pr.reader] = true
			break
		}
	}
	// Daemons named in the first paragraph.
	first, _, _ := strings.Cut(body, "\n.PP")
	for _, m := range manRefRe.FindAllStringSubmatch(first, -1) {
		if p, ok := programs[m[1]]; ok {
			set[p] = true
		}
	}
	flat := strings.Join(strings.Fields(roffText(first)), " ")
	if strings.Contains(flat, "Postfix SMTP server") {
		set["smtpd"] = true
	}
	if strings.Contains(flat, "Postfix SMTP client") || strings.Contains(flat, "Postfix SMTP/LMTP client") ||
		strings.Contains(flat, "Postfix LMTP client") {
		set["smtp"] = true
	}
	if strings.Contains(flat, "queue manager") {
		set["qmgr"] = true
	}
	if strings.Contains(flat, "local delivery agent") || strings.Contains(flat, "local(8) delivery agent") {
		set["local"] = true
	}
	if strings.Contains(flat, "cleanup server") {
		set["cleanup"] = true
	}
	if len(set) == 0 {
		return []string{"all"}
	}
	var r []string
	for k := range set {
		r = append(r, k)
	}
	sort.Strings(r)
	return r
}

func writeHeader(b *bytes.Buffer) {
	b.WriteString(`# postern parameter catalogue: every main.cf parameter, embedded in every binary
# (pkg/config/catalogue.go). "postconf -d" prints from it; docs are generated from it.
#
# Generated by tools/gencatalogue from Debian's Postfix 3.7.11 ("postconf -C builtin -d"
# with an empty main.cf and no master.cf, and postconf(5)), then corrected by the tables
# in that program. Edit the generator and re-run it rather than editing by hand:
#     go run ./tools/gencatalogue -o pkg/config/catalogue.toml
#
# Each [[param]] has:
#   name      the main.cf name; entries are sorted by name
#   type      string | bool | int | time | size | list
#   default   the default text, raw, as "postconf -d" prints it ($name and ${...}
#             expressions are kept unexpanded; whitespace runs are collapsed)
#   unit      time parameters: the unit of a bare number (s, m, h, d or w)
#   min, max  optional inclusive range checks made when a program reads the value
#   desc      one line: the first sentence of the parameter's postconf(5) entry
#   readers   programs that read it (best effort); "all" for global parameters
#   host      optional: the default is computed from the host at run time; default is ""
#   read_only optional: a per-process value (process_id ...) that cannot be set
#   postern   optional: the parameter is postern's own, Postfix does not have it
#   postfix_default  where postern's default differs from Postfix's, Postfix's value
#                    (a comment above the entry says why)
#
# Not listed: the per-transport names that Postfix derives from master.cf transports
# (relay_destination_concurrency_limit ...); see [[transport_param]] at the end.
#
# compatibility_level keeps Postfix's built-in default 0; the main.cf that postern
# installs (etc/main.cf) sets compatibility_level = 3.6 as Debian's does.
`)
}

func kv(b *bytes.Buffer, k, v string) {
	fmt.Fprintf(b, "%s = %s\n", k, tomlString(v))
}

func writeParam(b *bytes.Buffer, p param) {
	b.WriteString("\n")
	if p.note != "" {
		fmt.Fprintf(b, "# postern: %s\n", p.note)
	}
	b.WriteString("[[param]]\n")
	kv(b, "name", p.name)
	kv(b, "type", p.typ)
	kv(b, "default", p.def)
	if p.postfixDef != "" {
		kv(b, "postfix_default", p.postfixDef)
	}
	if p.unit != "" {
		kv(b, "unit", p.unit)
	}
	if p.min != nil {
		fmt.Fprintf(b, "min = %d\n", *p.min)
	}
	if p.max != nil {
		fmt.Fprintf(b, "max = %d\n", *p.max)
	}
	if p.host {
		b.WriteString("host = true\n")
	}
	if p.readOnly {
		b.WriteString("read_only = true\n")
	}
	if p.postern {
		b.WriteString("postern = true\n")
	}
	kv(b, "desc", p.desc)
	qs := make([]string, len(p.readers))
	for i, r := range p.readers {
		qs[i] = tomlString(r)
	}
	fmt.Fprintf(b, "readers = [%s]\n", strings.Join(qs, ", "))
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u` + fmt.Sprintf("%04X", r))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
