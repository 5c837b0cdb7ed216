package smtp

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// nextHop is a parsed next-hop destination.
type nextHop struct {
	// Unix is the socket path of an LMTP "unix:PATH" destination
	// (relative paths are relative to queue_directory, the cwd).
	Unix string
	// Host is the domain or host name, or an IP address, without
	// brackets.
	Host string
	Port int
	// MX is set when Host is a domain whose MX records are looked up
	// (SMTP without brackets).
	MX bool
	// Bracketed is set for "[host]".
	Bracketed bool
}

// parseNexthop parses a next hop as trivial-rewrite gives it (from
// relayhost, transport_maps, or the recipient domain):
//
//	example.org            MX lookup (SMTP), port defPort
//	example.org:587        MX lookup, port 587
//	[mail.example.org]     no MX lookup: the host's A/AAAA records
//	[192.0.2.1]:2525       that address and port
//	[ipv6:2001:db8::1]     an IPv6 address
//	inet:host:port         (LMTP, also accepted by SMTP)
//	unix:/path, unix:private/dovecot-lmtp   (LMTP only)
//
// A port may be a number or a service name (smtp, submission, smtps, lmtp).
// LMTP never looks up MX records.
func parseNexthop(s string, lmtp bool, defPort int) (*nextHop, error) {
	orig := s
	if rest, ok := strings.CutPrefix(s, "unix:"); ok {
		if !lmtp {
			return nil, fmt.Errorf("unix-domain destination not supported by SMTP: %s", orig)
		}
		if rest == "" {
			return nil, fmt.Errorf("bad destination: %s", orig)
		}
		return &nextHop{Unix: rest}, nil
	}
	s = strings.TrimPrefix(s, "inet:")
	nh := &nextHop{Port: defPort}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return nil, fmt.Errorf("bad destination: %s", orig)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return nil, fmt.Errorf("bad destination: %s", orig)
			}
			port = p
		}
		nh.Bracketed = true
		if len(host) > 5 && strings.EqualFold(host[:5], "ipv6:") {
			host = host[5:]
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if strings.Contains(host, ":") {
			return nil, fmt.Errorf("bad destination: %s", orig)
		}
	}
	if port != "" {
		p, err := parsePort(port)
		if err != nil {
			return nil, fmt.Errorf("bad destination: %s: %v", orig, err)
		}
		nh.Port = p
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || strings.ContainsAny(host, " \t[]/@") {
		return nil, fmt.Errorf("bad destination: %s", orig)
	}
	nh.Host = host
	nh.MX = !lmtp && !nh.Bracketed
	return nh, nil
}

var wellKnownPorts = map[string]int{"smtp": 25, "submission": 587, "smtps": 465, "submissions": 465, "lmtp": 24}

func parsePort(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 65535 {
			return 0, fmt.Errorf("bad port %q", s)
		}
		return n, nil
	}
	if n, ok := wellKnownPorts[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := net.LookupPort("tcp", s)
	if err != nil {
		return 0, fmt.Errorf("unknown service %q", s)
	}
	return n, nil
}
