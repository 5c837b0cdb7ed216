// Package dnsbl is the small DNS client of smtpd's access policy: DNS
// blocklist queries (reject_rbl_client, reject_rhsbl_*) and the "does this
// domain exist as a mail destination" test of reject_unknown_*_domain.
//
// It talks to the name servers of a resolv.conf file (postern's
// resolver_conf_file, read once by New, before a daemon chroots) with
// github.com/miekg/dns, over UDP with a fall-back to TCP for truncated
// answers, with the timeout and attempts of the file's "options" line
// (defaults 5s and 2, as the C library).
//
// # resolv.conf
//
//	nameserver 192.0.2.53
//	nameserver 2001:db8::53
//	nameserver 127.0.0.1:5353      (postern extension: a port)
//	nameserver [::1]:5353          (postern extension: a port)
//	options timeout:2 attempts:3
//
// Only "nameserver" and "options timeout:N attempts:N" are used; other lines
// are ignored. A server written with a port is a postern extension (the C
// library ignores such a line) that lets tests point a daemon at a DNS
// server on an unprivileged port. Without any usable nameserver line the
// resolver asks 127.0.0.1:53, as the C library does.
//
// # RESULTS
//
// Every lookup reports a Status: Found, NotFound (NXDOMAIN, or the name
// exists without records of the type) or TempFail (timeout, SERVFAIL,
// REFUSED, a network error). Callers decide what a temporary failure means:
// for DNSBLs it means "not listed", for reject_unknown_*_domain a
// temporary reply.
package dnsbl

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Status is the outcome of a lookup.
type Status int

const (
	Found Status = iota
	NotFound
	TempFail
)

func (s Status) String() string {
	switch s {
	case Found:
		return "found"
	case NotFound:
		return "not found"
	}
	return "temporary failure"
}

// Resolver asks the configured name servers. It is safe for concurrent use.
type Resolver struct {
	Servers  []string // host:port
	Timeout  time.Duration
	Attempts int
}

// New reads the resolv.conf file at path. A missing file gives the C
// library's defaults (127.0.0.1:53).
func New(path string) (*Resolver, error) {
	r := &Resolver{Timeout: 5 * time.Second, Attempts: 2}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			r.Servers = []string{"127.0.0.1:53"}
			return r, nil
		}
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if s, ok := ServerAddr(fields[1]); ok {
				r.Servers = append(r.Servers, s)
			}
		case "options":
			for _, o := range fields[1:] {
				k, v, _ := strings.Cut(o, ":")
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					continue
				}
				switch k {
				case "timeout":
					r.Timeout = time.Duration(min(n, 30)) * time.Second
				case "attempts":
					r.Attempts = min(n, 5)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(r.Servers) == 0 {
		r.Servers = []string{"127.0.0.1:53"}
	}
	return r, nil
}

// ServerAddr turns a nameserver entry ("192.0.2.1", "2001:db8::1",
// "127.0.0.1:5353", "[::1]:5353") into host:port.
func ServerAddr(s string) (string, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(a.WithZone("").String(), "53"), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), true
	}
	return "", false
}

// Query asks for name/qtype and returns the answer section of a
// successful reply.
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) ([]dns.RR, Status) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	attempts := max(r.Attempts, 1)
	for range attempts {
		for _, srv := range r.Servers {
			if ctx.Err() != nil {
				return nil, TempFail
			}
			in, err := r.exchange(ctx, m, srv)
			if err != nil {
				continue
			}
			switch in.Rcode {
			case dns.RcodeSuccess:
				var rrs []dns.RR
				for _, rr := range in.Answer {
					if rr.Header().Rrtype == qtype {
						rrs = append(rrs, rr)
					}
				}
				if len(rrs) == 0 {
					return nil, NotFound
				}
				return rrs, Found
			case dns.RcodeNameError:
				return nil, NotFound
			}
			// SERVFAIL, REFUSED ...: try the next server.
		}
	}
	return nil, TempFail
}

func (r *Resolver) exchange(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: r.Timeout}
	in, _, err := c.ExchangeContext(ctx, m, srv)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, srv)
	}
	return in, err
}

// LookupA returns the IPv4 addresses of name.
func (r *Resolver) LookupA(ctx context.Context, name string) ([]netip.Addr, Status) {
	rrs, st := r.Query(ctx, name, dns.TypeA)
	var out []netip.Addr
	for _, rr := range rrs {
		if a, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4()); ok {
			out = append(out, a)
		}
	}
	return out, st
}

// LookupTXT returns the TXT strings of name, each record's strings joined.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, Status) {
	rrs, st := r.Query(ctx, name, dns.TypeTXT)
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, st
}

// LookupPTR returns the names of addr's PTR records, without the final dot.
func (r *Resolver) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, Status) {
	rev, err := dns.ReverseAddr(addr.String())
	if err != nil {
		return nil, NotFound
	}
	rrs, st := r.Query(ctx, rev, dns.TypePTR)
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.TrimSuffix(rr.(*dns.PTR).Ptr, "."))
	}
	return out, st
}

// MailHost reports whether domain can receive mail: it has MX records, or
// else A or AAAA records. nullMX is true for a single "MX 0 ." record
// (RFC 7505): the domain exists but accepts no mail. A temporary failure
// of the MX lookup is TempFail; a temporary failure of the address lookups
// without any answer is TempFail too.
func (r *Resolver) MailHost(ctx context.Context, domain string) (st Status, nullMX bool) {
	rrs, st := r.Query(ctx, domain, dns.TypeMX)
	switch st {
	case Found:
		if len(rrs) == 1 && rrs[0].(*dns.MX).Mx == "." {
			return Found, true
		}
		return Found, false
	case TempFail:
		return TempFail, false
	}
	temp := false
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		_, st := r.Query(ctx, domain, t)
		if st == Found {
			return Found, false
		}
		if st == TempFail {
			temp = true
		}
	}
	if temp {
		return TempFail, false
	}
	return NotFound, false
}

// ReverseName returns the DNSBL query name of addr under zone:
// 4.3.2.1.zone for 1.2.3.4, the 32 reversed nibbles for IPv6.
func ReverseName(addr netip.Addr, zone string) string {
	addr = addr.Unmap()
	var b strings.Builder
	if addr.Is4() {
		a := addr.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(a[i])))
			b.WriteByte('.')
		}
	} else {
		a := addr.As16()
		const hex = "0123456789abcdef"
		for i := 15; i >= 0; i-- {
			b.WriteByte(hex[a[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[a[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(zone)
	return b.String()
}

// Filter is the "=127.0.0.2", "=127.0.0.[2..11]" or "=127.0.0.[2;4]" part
// of a DNSBL restriction: each of the four octets is a set of values.
type Filter struct {
	octets [4][]octetRange
}

type octetRange struct{ lo, hi int }

// ParseFilter parses a filter without its leading "=".
func ParseFilter(s string) (*Filter, error) {
	var f Filter
	parts := splitOctets(s)
	if len(parts) != 4 {
		return nil, errors.New("bad DNSBL reply filter: " + s)
	}
	for i, p := range parts {
		var elems []string
		if strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") {
			elems = strings.Split(p[1:len(p)-1], ";")
		} else {
			elems = []string{p}
		}
		for _, e := range elems {
			lo, hi, isRange := strings.Cut(e, "..")
			if !isRange {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || l < 0 || h > 255 || l > h {
				return nil, errors.New("bad DNSBL reply filter: " + s)
			}
			f.octets[i] = append(f.octets[i], octetRange{l, h})
		}
	}
	return &f, nil
}

// splitOctets splits on dots outside brackets.
func splitOctets(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 && !(i+1 < len(s) && s[i+1] == '.') && !(i > 0 && s[i-1] == '.') {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// Match reports whether an A record matches the filter.
func (f *Filter) Match(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	for i, rs := range f.octets {
		ok := false
		for _, r := range rs {
			if int(b[i]) >= r.lo && int(b[i]) <= r.hi {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Listing is a positive DNSBL answer.
type Listing struct {
	Addrs  []netip.Addr
	Reason string // the TXT record, "" when there is none
}

// Check looks name up (a ReverseName or "domain.zone") and reports a
// listing when an A record exists that passes filter (nil: any). DNS
// failures count as "not listed", as in Postfix.
func (r *Resolver) Check(ctx context.Context, name string, filter *Filter) (*Listing, bool) {
	addrs, st := r.LookupA(ctx, name)
	if st != Found {
		return nil, false
	}
	var hit []netip.Addr
	for _, a := range addrs {
		if filter == nil || filter.Match(a) {
			hit = append(hit, a)
		}
	}
	if len(hit) == 0 {
		return nil, false
	}
	l := &Listing{Addrs: hit}
	if txt, st := r.LookupTXT(ctx, name); st == Found {
		l.Reason = strings.Join(txt, " ")
	}
	return l, true
}
