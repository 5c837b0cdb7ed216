package rewrite

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"postern/pkg/address"
	"postern/pkg/config"
)

// Rewriting contexts (Postfix's rewrite rule set names).
const (
	ContextLocal  = "local"
	ContextRemote = "remote"
)

// Rewriter rewrites and resolves addresses with one configuration. It is
// safe for concurrent use.
type Rewriter struct {
	configDir                      string
	myhostname, myorigin, mydomain string
	remoteDomain                   string // remote_header_rewrite_domain
	emptyAddr                      string // empty_address_recipient

	swapBang, percentHack, appendAtOrigin, appendDotMydomain bool
	resolveDequoted, resolveNullDomain, resolveNumericDomain bool
	allowMinUser, showUnknownTable, helpfulWarnings          bool
	ownerRequestSpecial, transportParent                     bool
	rcptDelim                                                string

	localTransport, virtualTransport, relayTransport, defaultTransport string
	relayhost                                                          string
	nullRelayKey, nullDefXportKey                                      string

	mydest, virtAlias, virtMailbox, relayDomains *DomainList
	transport, sndRelay, sndDefXport             *Maps

	// ownAddrs are the addresses of inet_interfaces and proxy_interfaces.
	ownAddrs map[netip.Addr]bool
}

// New builds a Rewriter from a configuration and opens the tables it needs
// (mydestination and the domain lists, transport_maps,
// sender_dependent_relayhost_maps, sender_dependent_default_transport_maps).
// Daemons call it before they drop privileges.
func New(cfg *config.Config) (*Rewriter, error) {
	r := &Rewriter{
		configDir:        cfg.ConfigDir(),
		myhostname:       cfg.Get("myhostname"),
		myorigin:         cfg.Get("myorigin"),
		mydomain:         cfg.Get("mydomain"),
		remoteDomain:     cfg.Get("remote_header_rewrite_domain"),
		emptyAddr:        cfg.Get("empty_address_recipient"),
		rcptDelim:        cfg.Get("recipient_delimiter"),
		localTransport:   cfg.Get("local_transport"),
		virtualTransport: cfg.Get("virtual_transport"),
		relayTransport:   cfg.Get("relay_transport"),
		defaultTransport: cfg.Get("default_transport"),
		relayhost:        cfg.Get("relayhost"),
		nullRelayKey:     cfg.Get("empty_address_relayhost_maps_lookup_key"),
		nullDefXportKey:  cfg.Get("empty_address_default_transport_maps_lookup_key"),
	}
	for _, p := range cfg.List("parent_domain_matches_subdomains") {
		if p == "transport_maps" {
			r.transportParent = true
		}
	}
	// Debian: a myorigin that is a file name means the file's first line.
	if strings.HasPrefix(r.myorigin, "/") {
		o, err := firstLine(r.myorigin)
		if err != nil {
			return nil, fmt.Errorf("myorigin: %v", err)
		}
		r.myorigin = o
	}
	for _, b := range []struct {
		name string
		v    *bool
	}{
		{"swap_bangpath", &r.swapBang},
		{"allow_percent_hack", &r.percentHack},
		{"append_at_myorigin", &r.appendAtOrigin},
		{"append_dot_mydomain", &r.appendDotMydomain},
		{"resolve_dequoted_address", &r.resolveDequoted},
		{"resolve_null_domain", &r.resolveNullDomain},
		{"resolve_numeric_domain", &r.resolveNumericDomain},
		{"allow_min_user", &r.allowMinUser},
		{"show_user_unknown_table_name", &r.showUnknownTable},
		{"helpful_warnings", &r.helpfulWarnings},
		{"owner_request_special", &r.ownerRequestSpecial},
	} {
		v, err := cfg.Bool(b.name)
		if err != nil {
			return nil, err
		}
		*b.v = v
	}
	var err error
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.mydest, err = OpenDomainList(cfg, "mydestination", MatchExact); err != nil {
		return nil, err
	}
	if r.virtAlias, err = OpenDomainList(cfg, "virtual_alias_domains", MatchExact); err != nil {
		return nil, err
	}
	if r.virtMailbox, err = OpenDomainList(cfg, "virtual_mailbox_domains", MatchExact); err != nil {
		return nil, err
	}
	if r.relayDomains, err = OpenDomainList(cfg, "relay_domains", MatchDotParent); err != nil {
		return nil, err
	}
	if r.transport, err = OpenMaps(cfg, "transport_maps"); err != nil {
		return nil, err
	}
	if r.sndRelay, err = OpenMaps(cfg, "sender_dependent_relayhost_maps"); err != nil {
		return nil, err
	}
	if r.sndDefXport, err = OpenMaps(cfg, "sender_dependent_default_transport_maps"); err != nil {
		return nil, err
	}
	if r.ownAddrs, err = interfaceAddrs(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if sc.Scan() {
		return strings.TrimSpace(sc.Text()), nil
	}
	return "", sc.Err()
}

// interfaceAddrs returns the addresses of inet_interfaces ("all": every
// interface address of the host; "loopback-only": 127.0.0.1 and ::1; else
// the listed addresses and host names) and of proxy_interfaces.
func interfaceAddrs(cfg *config.Config) (map[netip.Addr]bool, error) {
	own := map[netip.Addr]bool{}
	var names []string
	for _, e := range cfg.List("inet_interfaces") {
		switch strings.ToLower(e) {
		case "all":
			ifs, err := net.InterfaceAddrs()
			if err != nil {
				return nil, fmt.Errorf("inet_interfaces: %v", err)
			}
			for _, a := range ifs {
				if n, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(n.IP); ok {
						own[ip.Unmap()] = true
					}
				}
			}
		case "loopback-only":
			own[netip.MustParseAddr("127.0.0.1")] = true
			own[netip.IPv6Loopback()] = true
		default:
			names = append(names, e)
		}
	}
	names = append(names, cfg.List("proxy_interfaces")...)
	for _, n := range names {
		n = strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")
		if ip, err := netip.ParseAddr(n); err == nil {
			own[ip.Unmap()] = true
			continue
		}
		ips, err := net.LookupHost(n)
		if err != nil {
			return nil, fmt.Errorf("inet_interfaces: host not found: %s", n)
		}
		for _, s := range ips {
			if ip, err := netip.ParseAddr(s); err == nil {
				own[ip.Unmap()] = true
			}
		}
	}
	return own, nil
}

// Close releases the tables.
func (r *Rewriter) Close() {
	for _, l := range []*DomainList{r.mydest, r.virtAlias, r.virtMailbox, r.relayDomains} {
		l.Close()
	}
	for _, m := range []*Maps{r.transport, r.sndRelay, r.sndDefXport} {
		m.Close()
	}
}

// Changed returns the name of a table whose file changed since New
// ("hash:/etc/postern/transport"), or "" when none did. A daemon then
// exits after its current requests so that master starts a fresh one
// (Postfix: "table ... has changed -- restarting").
func (r *Rewriter) Changed() string {
	for _, l := range []*DomainList{r.mydest, r.virtAlias, r.virtMailbox, r.relayDomains} {
		if n := l.Changed(); n != "" {
			return n
		}
	}
	for _, m := range []*Maps{r.transport, r.sndRelay, r.sndDefXport} {
		if n := m.Changed(); n != "" {
			return n
		}
	}
	return ""
}

// SenderDependent reports whether resolving depends on the sender
// (sender_dependent_relayhost_maps or sender_dependent_default_transport_maps
// are set). When it does not, resolution results may be cached by
// recipient alone.
func (r *Rewriter) SenderDependent() bool {
	return r.sndRelay != nil || r.sndDefXport != nil
}

// Rewrite canonicalises an internal-form address in the given context
// (ContextLocal or ContextRemote), as trivial-rewrite's "rewrite" request
// does (Postfix's rewrite_tree):
//
//  1. The empty address stays empty; a lone "@" becomes empty.
//  2. A source route "@hop1,@hop2:user@domain" is stripped.
//  3. An address without "@", when its local part is not quoted: with
//     swap_bangpath "host!user" becomes "user@host" (at the first "!");
//     else with allow_percent_hack "user%host" becomes "user@host" (at the
//     last "%"); else with append_at_myorigin "@$myorigin" is appended.
//  4. With append_dot_mydomain a domain without a dot (not an address
//     literal) gets ".$mydomain".
//  5. One trailing dot of the domain is removed (not ".." or "@.").
//
// In the remote context $remote_header_rewrite_domain takes the place of
// both $myorigin and $mydomain; when it is empty (the default) nothing is
// appended. An unknown context is treated as local.
func (r *Rewriter) Rewrite(context, addr string) string {
	origin, domain := r.myorigin, r.mydomain
	if context == ContextRemote {
		origin, domain = r.remoteDomain, r.remoteDomain
	}
	return r.rewrite(addr, origin, domain)
}

func (r *Rewriter) rewrite(addr, origin, mydomain string) string {
	if addr == "" || addr == "@" {
		return ""
	}
	// Source route: "@a,@b:rest" (but not a lone "@a:").
	if addr[0] == '@' {
		if i := strings.IndexByte(addr, ':'); i >= 0 && i < len(addr)-1 {
			addr = addr[i+1:]
		}
	}
	local, domain, has := address.Split(addr)
	if !has && !address.NeedsQuote(local) {
		if i := strings.IndexByte(local, '!'); r.swapBang && i >= 0 {
			local, domain, has = local[i+1:], local[:i], true
		} else if i := strings.LastIndexByte(local, '%'); r.percentHack && i >= 0 {
			local, domain, has = local[:i], local[i+1:], true
		} else if r.appendAtOrigin && origin != "" {
			domain, has = origin, true
		}
	} else if !has && r.appendAtOrigin && origin != "" && !strings.HasSuffix(addr, "@") {
		// A quoted local part: no routing operators, only @$myorigin.
		domain, has = origin, true
	}
	if !has {
		return addr
	}
	if r.appendDotMydomain && mydomain != "" && domain != "" &&
		strings.IndexByte(domain, '[') < 0 && strings.IndexByte(domain, '.') < 0 {
		domain += "." + mydomain
	}
	if n := len(domain); n >= 2 && domain[n-1] == '.' && domain[n-2] != '.' {
		domain = domain[:n-1]
	}
	return local + "@" + domain
}

// IsLocal reports whether domain is a local destination (Postfix's
// resolve_local): after one trailing dot is removed, it is listed in
// mydestination, or it is an address literal of an address in
// inet_interfaces or proxy_interfaces. err reports a table lookup failure.
func (r *Rewriter) IsLocal(domain string) (bool, error) {
	d := strings.TrimSuffix(domain, ".")
	if d == "" || strings.HasSuffix(d, ".") {
		return false, nil
	}
	if ok, err := r.mydest.Match(d); ok || err != nil {
		return ok, err
	}
	if ip, ok := address.ParseLiteral(d); ok && r.ownAddrs[ip.Unmap()] {
		return true, nil
	}
	return false, nil
}

// Origin returns $myorigin (a file's first line on Debian).
func (r *Rewriter) Origin() string { return r.myorigin }
