// Package dnsresolve is the DNS client of the smtp and lmtp delivery agents:
// MX lookups (with RFC 7505 null MX) and host address lookups (A, AAAA),
// with the outcomes and error texts of Postfix's dns_lookup(3), which the
// agents put in their delivery status:
//
//	Host or domain name not found. Name service error for name=example.org type=A: Host not found
//	Host or domain name not found. Name service error for name=example.org type=MX: Host not found, try again
//	Host or domain name not found. Name service error for name=example.org type=AAAA: Host found but no data record of requested type
//
// The name servers come from a resolv.conf file (postern's
// resolver_conf_file), read by Load before a daemon chroots, with the
// syntax of postern/pkg/dnsbl (the one parser of that file), including the
// postern extension "nameserver 127.0.0.1:5353" that names a port, so that
// tests can run their own DNS server. Queries go over UDP, and over TCP
// when a reply is truncated.
package dnsresolve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"postern/pkg/dnsbl"
)

// Status is the outcome of a lookup, Postfix's DNS_* codes.
type Status int

const (
	// OK: records were found.
	OK Status = iota
	// NotFound: NXDOMAIN, or the name exists without records of the type
	// (NODATA). Postfix's DNS_NOTFOUND.
	NotFound
	// Retry: a temporary failure (timeout, SERVFAIL, network error).
	// Postfix's DNS_RETRY: defer (4.4.3).
	Retry
	// Fail: a permanent failure of the server (REFUSED, FORMERR,
	// NOTIMP): Postfix's DNS_FAIL (5.4.3).
	Fail
	// Invalid: a malformed reply or name. Postfix's DNS_INVAL (5.4.4).
	Invalid
	// NullMX: the domain has the single record "MX 0 ." (RFC 7505).
	NullMX
)

// Error is a failed lookup: its status and Postfix's text.
type Error struct {
	Status Status
	Name   string
	Type   string // "MX", "A", "AAAA"
	// NoData is set for NotFound when the name exists without records of
	// the type.
	NoData bool
}

func (e *Error) Error() string {
	var why string
	switch e.Status {
	case NotFound:
		why = "Host not found"
		if e.NoData {
			why = "Host found but no data record of requested type"
		}
	case Retry:
		why = "Host not found, try again"
	case Fail:
		why = "Non-recoverable error"
	case Invalid:
		why = "Malformed or unexpected name server reply"
	case NullMX:
		return "Domain " + e.Name + " does not accept mail (nullMX)"
	}
	return "Host or domain name not found. Name service error for name=" + e.Name + " type=" + e.Type + ": " + why
}

// DSN returns the status code Postfix gives a delivery that failed on
// this error: 4.4.3 for a temporary failure, 5.4.4 for a name not found
// or an invalid reply, 5.4.3 for a permanent server failure, 5.1.0 for a
// null MX.
func (e *Error) DSN() string {
	switch e.Status {
	case Retry:
		return "4.4.3"
	case Fail:
		return "5.4.3"
	case NullMX:
		return "5.1.0"
	}
	return "5.4.4"
}

// StatusOf returns the Status of an error from this package (Retry for any
// other error).
func StatusOf(err error) Status {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	var ne *NativeError
	if errors.As(err, &ne) {
		return ne.Status
	}
	if err == nil {
		return OK
	}
	return Retry
}

// DSNOf returns the delivery status code for a lookup error of this
// package (see Error.DSN); 4.4.3 for any other error.
func DSNOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.DSN()
	}
	if StatusOf(err) == NotFound {
		return "5.4.4"
	}
	return "4.4.3"
}

// MX is one mail exchanger.
type MX struct {
	Pref uint16
	Host string // without the final dot
}

// Resolver asks the name servers of a resolv.conf file. It is safe for
// concurrent use.
type Resolver struct {
	Servers  []string // host:port
	Timeout  time.Duration
	Attempts int
}

// Load reads the resolv.conf file at path (see postern/pkg/dnsbl for the
// syntax). A missing file gives the C library's default, 127.0.0.1:53.
func Load(path string) (*Resolver, error) {
	r, err := dnsbl.New(path)
	if err != nil {
		return nil, err
	}
	return &Resolver{Servers: r.Servers, Timeout: r.Timeout, Attempts: r.Attempts}, nil
}

// Query asks for name/qtype and returns the records of that type in the
// answer section.
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	tname := dns.TypeToString[qtype]
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return nil, &Error{Status: Invalid, Name: name, Type: tname}
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	st := Retry
	for range max(r.Attempts, 1) {
		for _, srv := range r.Servers {
			if ctx.Err() != nil {
				return nil, &Error{Status: Retry, Name: name, Type: tname}
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
					return nil, &Error{Status: NotFound, Name: name, Type: tname, NoData: true}
				}
				return rrs, nil
			case dns.RcodeNameError:
				return nil, &Error{Status: NotFound, Name: name, Type: tname}
			case dns.RcodeRefused, dns.RcodeNotImplemented, dns.RcodeFormatError:
				st = Fail
			}
			// SERVFAIL and the rest: try the next server.
		}
	}
	return nil, &Error{Status: st, Name: name, Type: tname}
}

func (r *Resolver) exchange(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: timeout}
	in, _, err := c.ExchangeContext(ctx, m, srv)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, srv)
	}
	return in, err
}

// LookupMX returns the MX records of domain sorted by preference, hosts of
// equal preference in random order when shuffle is set (Postfix's
// smtp_randomize_addresses). A single "MX 0 ." record gives an *Error with
// status NullMX; NXDOMAIN and NODATA give NotFound (the caller then uses the
// domain itself, RFC 5321 section 5.1).
func (r *Resolver) LookupMX(ctx context.Context, domain string, shuffle bool) ([]MX, error) {
	rrs, err := r.Query(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	var mxs []MX
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		mxs = append(mxs, MX{Pref: mx.Preference, Host: strings.TrimSuffix(mx.Mx, ".")})
	}
	// RFC 7505 section 3: a null MX is a single record with an empty
	// (root) exchange; the preference should be 0 but is not checked.
	if len(mxs) == 1 && mxs[0].Host == "" {
		return nil, &Error{Status: NullMX, Name: domain, Type: "MX"}
	}
	mxs = slices.DeleteFunc(mxs, func(m MX) bool { return m.Host == "" })
	if shuffle {
		rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	}
	slices.SortStableFunc(mxs, func(a, b MX) int { return int(a.Pref) - int(b.Pref) })
	return mxs, nil
}

// LookupHost returns the addresses of name: A records when v4 is set,
// AAAA records when v6 is set (Postfix's inet_protocols), in that order,
// each family shuffled when shuffle is set. A name that is an IP address
// is returned as is. When no address is found the error of the first
// family asked is returned (the A lookup's, as Postfix reports it),
// unless the other family failed temporarily, which wins: a retry may
// still find an address.
func (r *Resolver) LookupHost(ctx context.Context, name string, v4, v6, shuffle bool) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	var addrs []netip.Addr
	var first, retry error
	for _, t := range []struct {
		on    bool
		qtype uint16
	}{{v4, dns.TypeA}, {v6, dns.TypeAAAA}} {
		if !t.on {
			continue
		}
		rrs, err := r.Query(ctx, name, t.qtype)
		if err != nil {
			if first == nil {
				first = err
			}
			if StatusOf(err) == Retry && retry == nil {
				retry = err
			}
			continue
		}
		var fam []netip.Addr
		for _, rr := range rrs {
			var ip net.IP
			switch rr := rr.(type) {
			case *dns.A:
				ip = rr.A
			case *dns.AAAA:
				ip = rr.AAAA
			}
			if a, ok := netip.AddrFromSlice(ip); ok {
				fam = append(fam, a.Unmap())
			}
		}
		if shuffle {
			rand.Shuffle(len(fam), func(i, j int) { fam[i], fam[j] = fam[j], fam[i] })
		}
		addrs = append(addrs, fam...)
	}
	if len(addrs) > 0 {
		return addrs, nil
	}
	if retry != nil {
		return nil, retry
	}
	if first == nil {
		first = &Error{Status: NotFound, Name: name, Type: "A"}
	}
	return nil, first
}

// NativeLookupHost resolves name with the system resolver (Postfix's
// smtp_host_lookup = native, or DNS lookups disabled). Its error text is
// Postfix's: "unable to look up host NAME: Name or service not known",
// with Status NotFound for an unknown name and Retry otherwise.
func NativeLookupHost(ctx context.Context, name string, v4, v6 bool) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	var addrs []netip.Addr
	for _, a := range ips {
		a = a.Unmap()
		if (a.Is4() && v4) || (a.Is6() && v6) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) > 0 {
		return addrs, nil
	}
	st, why := NotFound, "Name or service not known"
	var de *net.DNSError
	if errors.As(err, &de) && (de.IsTemporary || de.IsTimeout) {
		st, why = Retry, "Temporary failure in name resolution"
	}
	return nil, &NativeError{Status: st, Text: fmt.Sprintf("unable to look up host %s: %s", name, why)}
}

// NativeError is a failure of NativeLookupHost.
type NativeError struct {
	Status Status
	Text   string
}

func (e *NativeError) Error() string { return e.Text }
