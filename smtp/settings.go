package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"postern/pkg/config"
)

// Settings are the main.cf parameters the agent obeys, read once at
// start-up. In LMTP mode every smtp_NAME is read as lmtp_NAME
// (smtp_helo_name as lmtp_lhlo_name, smtp_helo_timeout as
// lmtp_lhlo_timeout).
type Settings struct {
	LMTP        bool
	HeloName    string
	Port        int // smtp_tcp_port / lmtp_tcp_port
	MyHostname  string
	DiscardEHLO map[string]bool

	BindAddress, BindAddress6 netip.Addr

	ConnectTimeout, HeloTimeout, MailTimeout, RcptTimeout          time.Duration
	DataInitTimeout, DataXferTimeout, DataDoneTimeout, QuitTimeout time.Duration
	StartTLSTimeout, RsetTimeout                                   time.Duration
	SkipQuitResponse, Skip5xxGreeting, NeverSendEHLO               bool

	MXAddressLimit, MXSessionLimit int
	Randomize                      bool
	DNS                            bool     // DNS lookups enabled
	HostLookup                     []string // "dns", "native"
	V4, V6                         bool     // inet_protocols
	DeferIfNoMXAddress             bool
	// Self are this host's addresses (inet_interfaces, proxy_interfaces):
	// an MX host with one of them is this host (mail loop check).
	Self []netip.Addr

	TLSLevel      string // none, may, encrypt, verify, secure
	TLSServerName string
	TLSLogLevel   int
	RootCAs       *x509.CertPool // nil: the system roots
	Certificates  []tls.Certificate

	CacheTimeLimit  time.Duration // idle time of a cached connection (0: no caching)
	ReuseTimeLimit  time.Duration
	ReuseCountLimit int

	LineLengthLimit int
	AssumeFinal     bool // lmtp_assume_final
}

// LoadSettings reads the agent's parameters; lmtp selects the lmtp_
// names. It runs before the jail (it reads the TLS files and resolves
// inet_interfaces host names).
func LoadSettings(c *config.Config, lmtp bool) (*Settings, error) {
	prefix := "smtp_"
	if lmtp {
		prefix = "lmtp_"
	}
	name := func(n string) string {
		if lmtp {
			switch n {
			case "helo_name":
				return "lmtp_lhlo_name"
			case "helo_timeout":
				return "lmtp_lhlo_timeout"
			case "discard_ehlo_keywords":
				return "lmtp_discard_lhlo_keywords"
			}
		}
		return prefix + n
	}
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	tm := func(n string) time.Duration {
		d, err := c.Time(name(n))
		note(err)
		return d
	}
	in := func(n string) int {
		v, err := c.Int(name(n))
		note(err)
		return int(v)
	}
	bl := func(n string) bool {
		v, err := c.Bool(name(n))
		note(err)
		return v
	}
	s := &Settings{
		LMTP:             lmtp,
		HeloName:         c.Get(name("helo_name")),
		MyHostname:       c.Get("myhostname"),
		ConnectTimeout:   tm("connect_timeout"),
		HeloTimeout:      tm("helo_timeout"),
		MailTimeout:      tm("mail_timeout"),
		RcptTimeout:      tm("rcpt_timeout"),
		DataInitTimeout:  tm("data_init_timeout"),
		DataXferTimeout:  tm("data_xfer_timeout"),
		DataDoneTimeout:  tm("data_done_timeout"),
		QuitTimeout:      tm("quit_timeout"),
		StartTLSTimeout:  tm("starttls_timeout"),
		RsetTimeout:      tm("rset_timeout"),
		SkipQuitResponse: bl("skip_quit_response"),
		Skip5xxGreeting:  bl("skip_5xx_greeting"),
		MXAddressLimit:   in("mx_address_limit"),
		MXSessionLimit:   in("mx_session_limit"),
		Randomize:        bl("randomize_addresses"),
		CacheTimeLimit:   tm("connection_cache_time_limit"),
		ReuseTimeLimit:   tm("connection_reuse_time_limit"),
		ReuseCountLimit:  in("connection_reuse_count_limit"),
		LineLengthLimit:  in("line_length_limit"),
		TLSServerName:    c.Get(name("tls_servername")),
		TLSLogLevel:      in("tls_loglevel"),
		DiscardEHLO:      map[string]bool{},
		DeferIfNoMXAddress: func() bool {
			v, _ := c.Bool(name("defer_if_no_mx_address_found"))
			return v
		}(),
	}
	if !lmtp {
		s.NeverSendEHLO = bl("never_send_ehlo")
	}
	if lmtp {
		s.AssumeFinal = bl("assume_final")
	}
	for _, k := range c.List(name("discard_ehlo_keywords")) {
		s.DiscardEHLO[strings.ToUpper(k)] = true
	}
	port, err := parsePort(c.Get(name("tcp_port")))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name("tcp_port"), err)
	}
	s.Port = port
	for _, b := range []struct {
		param string
		dst   *netip.Addr
	}{{name("bind_address"), &s.BindAddress}, {name("bind_address6"), &s.BindAddress6}} {
		if v := c.Get(b.param); v != "" {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return nil, fmt.Errorf("%s: bad address %q", b.param, v)
			}
			*b.dst = a
		}
	}

	// DNS: smtp_dns_support_level (disabled, enabled, dnssec), or the
	// older disable_dns_lookups.
	s.DNS = true
	if lvl := c.Get(name("dns_support_level")); lvl == "disabled" {
		s.DNS = false
	} else if lvl == "" {
		if v, _ := c.Bool("disable_dns_lookups"); v {
			s.DNS = false
		}
	}
	s.HostLookup = c.List(name("host_lookup"))
	if len(s.HostLookup) == 0 {
		s.HostLookup = []string{"dns"}
	}
	protos := c.List("inet_protocols")
	for _, p := range protos {
		switch strings.ToLower(p) {
		case "all":
			s.V4, s.V6 = true, true
		case "ipv4":
			s.V4 = true
		case "ipv6":
			s.V6 = true
		}
	}
	if !s.V4 && !s.V6 {
		s.V4 = true
	}

	// TLS.
	s.TLSLevel = strings.ToLower(c.Get(name("tls_security_level")))
	if s.TLSLevel == "" {
		switch {
		case boolParam(c, name("enforce_tls")) && boolParam(c, name("tls_enforce_peername")):
			s.TLSLevel = "verify"
		case boolParam(c, name("enforce_tls")):
			s.TLSLevel = "encrypt"
		case boolParam(c, name("use_tls")):
			s.TLSLevel = "may"
		default:
			s.TLSLevel = "none"
		}
	}
	switch s.TLSLevel {
	case "none", "may", "encrypt", "verify", "secure":
	case "dane":
		s.TLSLevel = "may" // TODO: DANE once TLSA lookups exist.
	case "dane-only", "fingerprint":
		s.TLSLevel = "encrypt" // TODO: DANE and fingerprint matching.
	default:
		return nil, fmt.Errorf("%s: unknown TLS security level %q", name("tls_security_level"), s.TLSLevel)
	}
	if err := loadTLS(s, c.Get(name("tls_CAfile")), c.Get(name("tls_cert_file")), c.Get(name("tls_key_file")), c.List(name("tls_chain_files"))); err != nil {
		return nil, err
	}
	s.Self = selfAddrs(c)
	if firstErr != nil {
		return nil, firstErr
	}
	return s, nil
}

func boolParam(c *config.Config, n string) bool {
	v, _ := c.Bool(n)
	return v
}

// selfAddrs lists this host's addresses as Postfix's own_inet_addr and
// proxy_inet_addr do: inet_interfaces ("all": every interface address,
// "loopback-only": 127.0.0.1 and ::1) and proxy_interfaces.
func selfAddrs(c *config.Config) []netip.Addr {
	var out []netip.Addr
	add := func(list []string) {
		for _, v := range list {
			switch strings.ToLower(v) {
			case "all":
				ifa, _ := net.InterfaceAddrs()
				for _, a := range ifa {
					if pfx, err := netip.ParsePrefix(a.String()); err == nil {
						out = append(out, pfx.Addr().Unmap())
					}
				}
			case "loopback-only":
				out = append(out, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"))
			default:
				v = strings.Trim(v, "[]")
				if a, err := netip.ParseAddr(v); err == nil {
					out = append(out, a.Unmap())
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				ips, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", v)
				cancel()
				for _, a := range ips {
					out = append(out, a.Unmap())
				}
			}
		}
	}
	add(c.List("inet_interfaces"))
	add(c.List("proxy_interfaces"))
	return out
}
