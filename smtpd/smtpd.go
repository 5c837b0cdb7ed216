package smtpd

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/rpc"
	"postern/pkg/sasl"
	"postern/pkg/service"
)

// Main is the smtpd daemon's entry point.
func Main(args []string) int {
	var srv *Server
	return service.Main(args, &service.Daemon{
		PreJail: func(s *service.Service) error {
			var err error
			if srv, err = NewServer(s.Config); err != nil {
				return err
			}
			return srv.initPolicy()
		},
		PostJail: func(s *service.Service) error {
			conn, err := rpc.Private(".", "cleanup")
			if err != nil {
				return err
			}
			srv.Submitter = CleanupSubmitter{Conn: conn}
			return nil
		},
		HandleConn: func(ctx context.Context, s *service.Service, conn net.Conn) {
			srv.ServeConn(ctx, conn)
		},
	})
}

// Server holds what every session of one smtpd process shares: the
// settings read from main.cf once, TLS and SASL, the per-client
// connection counts and the policy and cleanup clients.
type Server struct {
	Cfg *config.Config

	Hostname       string // myhostname
	Banner         string // smtpd_banner, expanded
	MailName       string // mail_name, for Received:
	SizeLimit      int64  // message_size_limit (0: none)
	RecipientLimit int
	Timeout        time.Duration
	HardErrors     int
	SoftErrors     int
	ErrorSleep     time.Duration
	JunkLimit      int
	HeloRequired   bool
	DisableVRFY    bool
	SMTPUTF8       bool
	StrictRFC821   bool
	LineLimit      int
	DiscardEHLO    map[string]bool // smtpd_discard_ehlo_keywords (upper case)
	Forbidden      []string        // smtpd_forbidden_commands (plain words)
	PeernameLookup bool
	ForbidPipe     bool // smtpd_forbid_unauth_pipelining

	BareNewline     string // "normalize", "reject" or "no"
	BareReject      int    // smtpd_forbid_bare_newline_reject_code
	BareExclusions  []netip.Prefix
	EventExceptions []netip.Prefix // smtpd_client_event_limit_exceptions
	ConnLimit       int            // smtpd_client_connection_count_limit

	// TLS: nil when no certificate is configured.
	TLS            *tls.Config
	TLSLevel       string // "none", "may", "encrypt"
	WrapperMode    bool
	TLSAuthOnly    bool
	TLSReceived    bool // smtpd_tls_received_header
	TLSLogLevel    int
	SASLEnable     bool
	SASL           *sasl.Dovecot
	SASLSecOpts    []string
	SASLTLSSecOpts []string
	SASLAuthHeader bool
	// AcceptBareLF turns off the bare-LF reject for sendmail -bs.
	Local bool

	Submitter Submitter
	Policy    Policy
	Log       *log.Logger
	// Resolver does the reverse lookups (nil: net.DefaultResolver).
	Resolver *net.Resolver
	// Now is the clock (tests).
	Now func() time.Time

	mu     sync.Mutex
	counts map[netip.Addr]int
}

func cfgInt(c *config.Config, name string) (int, error) {
	v, err := c.Int(name)
	return int(v), err
}

// NewServer reads the configuration (and the TLS keys: call it before
// the jail).
func NewServer(c *config.Config) (*Server, error) {
	s := &Server{Cfg: c, Log: log.Default(), Now: time.Now, counts: map[netip.Addr]int{}}
	s.Hostname = c.Get("myhostname")
	s.Banner = c.Get("smtpd_banner")
	s.MailName = c.Get("mail_name")
	var err error
	if s.SizeLimit, err = c.Size("message_size_limit"); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{
		{"smtpd_recipient_limit", &s.RecipientLimit},
		{"smtpd_hard_error_limit", &s.HardErrors},
		{"smtpd_soft_error_limit", &s.SoftErrors},
		{"smtpd_junk_command_limit", &s.JunkLimit},
		{"line_length_limit", &s.LineLimit},
		{"smtpd_client_connection_count_limit", &s.ConnLimit},
		{"smtpd_tls_loglevel", &s.TLSLogLevel},
	} {
		if *p.dst, err = cfgInt(c, p.name); err != nil {
			return nil, err
		}
	}
	if s.LineLimit < 512 {
		s.LineLimit = 512
	}
	if s.Timeout, err = c.Time("smtpd_timeout"); err != nil {
		return nil, err
	}
	if s.ErrorSleep, err = c.Time("smtpd_error_sleep_time"); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		name string
		dst  *bool
	}{
		{"smtpd_helo_required", &s.HeloRequired},
		{"disable_vrfy_command", &s.DisableVRFY},
		{"smtputf8_enable", &s.SMTPUTF8},
		{"strict_rfc821_envelopes", &s.StrictRFC821},
		{"smtpd_peername_lookup", &s.PeernameLookup},
		{"smtpd_forbid_unauth_pipelining", &s.ForbidPipe},
		{"smtpd_tls_wrappermode", &s.WrapperMode},
		{"smtpd_tls_auth_only", &s.TLSAuthOnly},
		{"smtpd_tls_received_header", &s.TLSReceived},
		{"smtpd_sasl_auth_enable", &s.SASLEnable},
		{"smtpd_sasl_authenticated_header", &s.SASLAuthHeader},
	} {
		if *p.dst, err = c.Bool(p.name); err != nil {
			return nil, err
		}
	}
	s.DiscardEHLO = map[string]bool{}
	for _, k := range c.List("smtpd_discard_ehlo_keywords") {
		s.DiscardEHLO[strings.ToUpper(k)] = true
	}
	for _, w := range c.List("smtpd_forbidden_commands") {
		if !strings.Contains(w, ":") && !strings.HasPrefix(w, "{") {
			s.Forbidden = append(s.Forbidden, strings.ToUpper(w))
		}
	}
	switch v := strings.ToLower(c.Get("smtpd_forbid_bare_newline")); v {
	case "yes", "normalize":
		s.BareNewline = "normalize"
	case "reject", "no":
		s.BareNewline = v
	default:
		return nil, fmt.Errorf("bad smtpd_forbid_bare_newline value: %s", v)
	}
	if s.BareReject, err = cfgInt(c, "smtpd_forbid_bare_newline_reject_code"); err != nil {
		return nil, err
	}
	s.BareExclusions = parseNetworks(c.List("smtpd_forbid_bare_newline_exclusions"))
	s.EventExceptions = parseNetworks(c.List("smtpd_client_event_limit_exceptions"))
	s.SASLSecOpts = c.List("smtpd_sasl_security_options")
	s.SASLTLSSecOpts = c.List("smtpd_sasl_tls_security_options")
	if err := s.setupTLS(); err != nil {
		return nil, err
	}
	if s.SASLEnable {
		if t := c.Get("smtpd_sasl_type"); t != "dovecot" {
			return nil, fmt.Errorf("unsupported SASL server implementation: %s (postern supports smtpd_sasl_type = dovecot)", t)
		}
		// A relative path is relative to queue_directory, where the
		// daemon runs after the jail (chrooted or not): keep it so.
		path := c.Get("smtpd_sasl_path")
		s.SASL = sasl.NewDovecot(path)
	}
	return s, nil
}

// parseNetworks reads the address and CIDR entries of a list such as
// mynetworks ("127.0.0.0/8", "[::1]/128", "192.0.2.1"); table entries
// (type:name) are skipped.
func parseNetworks(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, w := range list {
		w = strings.TrimPrefix(w, "[")
		w = strings.Replace(w, "]", "", 1)
		if p, err := netip.ParsePrefix(w); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(w); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

func inNetworks(nets []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range nets {
		if p.Contains(a) || p.Contains(netip.AddrFrom16(a.As16())) {
			return true
		}
	}
	return false
}

// acquire counts a connection from addr; it reports false when the
// client is over smtpd_client_connection_count_limit. Postfix's anvil
// counts per service across processes; postern counts per process, which
// serves many sessions (see doc.go).
func (s *Server) acquire(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[a]++
	return s.ConnLimit <= 0 || s.counts[a] <= s.ConnLimit || inNetworks(s.EventExceptions, a)
}

func (s *Server) release(a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[a]--; s.counts[a] <= 0 {
		delete(s.counts, a)
	}
}
