package policy

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"postern/pkg/config"
	"postern/pkg/dnsbl"
	"postern/pkg/log"
	"postern/pkg/table"
)

// Checker evaluates the restriction lists of one smtpd configuration. It
// is safe for concurrent use by many sessions.
type Checker struct {
	cfg      *config.Config
	resolver Resolver
	dns      DNS
	warnf    func(format string, a ...any)

	dnsServer string

	lists   map[string][]string // restriction list parameters, split
	classes map[string][]string // smtpd_restriction_classes

	mynetworks *netList

	delayReject       bool
	heloRequired      bool
	relayBeforeRcpt   bool
	rejectUnlistedRcp bool
	rejectUnlistedSnd bool
	softBounce        bool
	showTableName     bool
	parentMatches     bool // smtpd_access_maps in parent_domain_matches_subdomains
	nullKey           string
	delimiters        string
	doubleBounce      string

	codes map[string]int // *_code parameters

	unknownAddrTempfail string // unknown_address_tempfail_action
	unknownHeloTempfail string
	rblTemplate         string
	rblReplyMaps        []table.Table

	localRcptMaps, virtAliasMaps, virtMailboxMaps, relayRcptMaps, relocatedMaps []table.Table

	tmu    sync.Mutex
	tables map[string]table.Table
}

// restriction list parameter names, by the list they hold.
const (
	listClient = "smtpd_client_restrictions"
	listHelo   = "smtpd_helo_restrictions"
	listSender = "smtpd_sender_restrictions"
	listRelay  = "smtpd_relay_restrictions"
	listRcpt   = "smtpd_recipient_restrictions"
	listData   = "smtpd_data_restrictions"
	listEOD    = "smtpd_end_of_data_restrictions"
	listETRN   = "smtpd_etrn_restrictions"
)

var codeParams = []string{
	"reject_code", "defer_code", "relay_domains_reject_code", "access_map_reject_code",
	"access_map_defer_code", "invalid_hostname_reject_code", "non_fqdn_reject_code",
	"unknown_address_reject_code", "unknown_client_reject_code", "unknown_hostname_reject_code",
	"unknown_local_recipient_reject_code", "unknown_virtual_alias_reject_code",
	"unknown_virtual_mailbox_reject_code", "unknown_relay_recipient_reject_code",
	"maps_rbl_reject_code", "multi_recipient_bounce_reject_code", "plaintext_reject_code",
}

var codeDefaults = map[string]int{
	"reject_code": 554, "defer_code": 450, "relay_domains_reject_code": 554,
	"access_map_reject_code": 554, "access_map_defer_code": 450,
	"invalid_hostname_reject_code": 501, "non_fqdn_reject_code": 504,
	"unknown_address_reject_code": 450, "unknown_client_reject_code": 450,
	"unknown_hostname_reject_code": 450, "unknown_local_recipient_reject_code": 550,
	"unknown_virtual_alias_reject_code": 550, "unknown_virtual_mailbox_reject_code": 550,
	"unknown_relay_recipient_reject_code": 550, "maps_rbl_reject_code": 554,
	"multi_recipient_bounce_reject_code": 550, "plaintext_reject_code": 450,
}

// relayRequired are the restrictions of which smtpd_relay_restrictions or
// smtpd_recipient_restrictions must hold one (the open-relay guard).
var relayRequired = map[string]bool{
	"reject_unauth_destination": true, "defer_unauth_destination": true,
	"reject": true, "defer": true, "defer_if_permit": true, "check_relay_domains": true,
}

// New builds a Checker from the configuration: it splits the restriction
// lists, opens every table they name, local_recipient_maps and the
// virtual/relay/relocated maps, and reads resolver_conf_file (so call it
// before chroot). It fails, as Postfix's smtpd does, when neither
// smtpd_relay_restrictions nor smtpd_recipient_restrictions can refuse
// relaying.
func New(cfg *config.Config, opts ...Option) (*Checker, error) {
	c := &Checker{
		cfg:     cfg,
		warnf:   log.Warningf,
		lists:   map[string][]string{},
		classes: map[string][]string{},
		tables:  map[string]table.Table{},
		codes:   map[string]int{},
	}
	for _, o := range opts {
		o(c)
	}
	var err error
	boolean := func(name string, def bool) bool {
		if err != nil {
			return def
		}
		var v bool
		v, err = cfg.Bool(name)
		return v
	}
	c.delayReject = boolean("smtpd_delay_reject", true)
	c.heloRequired = boolean("smtpd_helo_required", false)
	c.relayBeforeRcpt = boolean("smtpd_relay_before_recipient_restrictions", true)
	c.rejectUnlistedRcp = boolean("smtpd_reject_unlisted_recipient", true)
	c.rejectUnlistedSnd = boolean("smtpd_reject_unlisted_sender", false)
	c.softBounce = boolean("soft_bounce", false)
	c.showTableName = boolean("show_user_unknown_table_name", true)
	if err != nil {
		return nil, err
	}
	for _, p := range codeParams {
		v := strings.TrimSpace(cfg.Get(p))
		n, err := strconv.Atoi(v)
		if v == "" {
			n = codeDefaults[p]
		} else if err != nil || n < 400 || n > 599 {
			return nil, fmt.Errorf("bad numerical configuration: %s = %s", p, v)
		}
		c.codes[p] = n
	}
	for _, l := range []string{listClient, listHelo, listSender, listRelay, listRcpt, listData, listEOD, listETRN} {
		c.lists[l] = config.SplitList(cfg.Get(l))
	}
	for _, name := range config.SplitList(cfg.Get("smtpd_restriction_classes")) {
		c.classes[name] = config.SplitList(cfg.Get(name))
	}
	if !c.hasRequired(c.lists[listRelay], 0) && !c.hasRequired(c.lists[listRcpt], 0) {
		return nil, fmt.Errorf("in parameter %s or %s, specify at least one working instance of: %s",
			listRelay, listRcpt,
			"reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains")
	}
	for _, p := range config.SplitList(cfg.Get("parent_domain_matches_subdomains")) {
		if p == "smtpd_access_maps" {
			c.parentMatches = true
		}
	}
	c.nullKey = cfg.Get("smtpd_null_access_lookup_key")
	c.delimiters = cfg.Get("recipient_delimiter")
	c.doubleBounce = cfg.Get("double_bounce_sender")
	c.unknownAddrTempfail = strings.TrimSpace(cfg.Get("unknown_address_tempfail_action"))
	c.unknownHeloTempfail = strings.TrimSpace(cfg.Get("unknown_helo_hostname_tempfail_action"))
	c.rblTemplate, _ = cfg.Raw("default_rbl_reply")
	if c.rblTemplate == "" {
		c.rblTemplate = "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}"
	}
	c.rblReplyMaps = c.maps("rbl_reply_maps")
	c.localRcptMaps = c.maps("local_recipient_maps")
	c.virtAliasMaps = c.maps("virtual_alias_maps")
	c.virtMailboxMaps = c.maps("virtual_mailbox_maps")
	c.relayRcptMaps = c.maps("relay_recipient_maps")
	c.relocatedMaps = c.maps("relocated_maps")

	c.mynetworks = c.parseNetList(cfg.Get("mynetworks"))

	// Open every table the lists name now, as Postfix does at start-up.
	for _, l := range c.lists {
		c.openListTables(l)
	}
	for _, l := range c.classes {
		c.openListTables(l)
	}

	if c.dns == nil {
		r, err := dnsbl.New(orDefault(cfg.Get("resolver_conf_file"), "/etc/resolv.conf"))
		if err != nil {
			return nil, fmt.Errorf("resolver_conf_file: %v", err)
		}
		if c.dnsServer != "" {
			r.Servers = []string{c.dnsServer}
		}
		c.dns = r
	}
	if c.resolver == nil {
		c.resolver = newRewriteResolver(".")
	}
	return c, nil
}

func orDefault(v, d string) string {
	if strings.TrimSpace(v) == "" {
		return d
	}
	return v
}

// maps opens the tables of a map-list parameter.
func (c *Checker) maps(param string) []table.Table {
	var out []table.Table
	for _, spec := range config.SplitList(c.cfg.Get(param)) {
		if !strings.Contains(spec, ":") {
			c.warnf("%s: table %q has no type: ignoring it", param, spec)
			continue
		}
		out = append(out, c.tableOpen(spec))
	}
	return out
}

// hasRequired reports whether a list (or a restriction class it names)
// holds a restriction that refuses mail.
func (c *Checker) hasRequired(list []string, depth int) bool {
	if depth > 10 {
		return false
	}
	for _, name := range list {
		n := strings.ToLower(name)
		if relayRequired[n] {
			return true
		}
		if cl, ok := c.classes[name]; ok && c.hasRequired(cl, depth+1) {
			return true
		}
	}
	return false
}

// restrictions that take the next list element as argument.
var takesArg = map[string]bool{
	"check_client_access": true, "check_reverse_client_hostname_access": true,
	"check_helo_access": true, "check_sender_access": true, "check_recipient_access": true,
	"check_etrn_access": true, "check_policy_service": true,
	"reject_rbl_client": true, "reject_rhsbl_client": true, "reject_rhsbl_reverse_client": true,
	"reject_rhsbl_helo": true, "reject_rhsbl_sender": true, "reject_rhsbl_recipient": true,
	"check_client_a_access": true, "check_helo_a_access": true, "check_sender_a_access": true,
	"check_recipient_a_access": true, "check_client_mx_access": true, "check_helo_mx_access": true,
	"check_sender_mx_access": true, "check_recipient_mx_access": true,
	"check_client_ns_access": true, "check_helo_ns_access": true, "check_sender_ns_access": true,
	"check_recipient_ns_access": true, "check_ccert_access": true, "check_sasl_access": true,
	"permit_dnswl_client": true, "permit_rhswl_client": true,
}

func (c *Checker) openListTables(list []string) {
	for i := 0; i < len(list); i++ {
		n := strings.ToLower(list[i])
		if takesArg[n] {
			if i+1 < len(list) && strings.HasPrefix(n, "check_") && strings.HasSuffix(n, "_access") {
				c.tableOpen(list[i+1])
			}
			i++
			continue
		}
		if strings.Contains(list[i], ":") {
			c.tableOpen(list[i])
		}
	}
}
