package smtpd

import (
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"
)

// setupTLS reads smtpd_tls_* (certificates are read here, before the
// jail). The mapping of Postfix's OpenSSL settings onto crypto/tls:
//
//   - smtpd_tls_security_level none/may/encrypt; when empty, the legacy
//     smtpd_enforce_tls (encrypt) and smtpd_use_tls (may).
//   - smtpd_tls_chain_files (key and certificates in one or more PEM
//     files), else smtpd_tls_cert_file with smtpd_tls_key_file (default:
//     the cert file), and smtpd_tls_eccert_file/eckey_file as a second
//     certificate; Go picks by the client's signature algorithms.
//   - smtpd_tls_protocols (may) / smtpd_tls_mandatory_protocols
//     (encrypt, wrapper mode): ">=TLSv1.2", "<=TLSv1.3", "!TLSv1" and
//     plain lists become MinVersion/MaxVersion (Go cannot leave holes,
//     so the range from the lowest to the highest allowed is used).
//     SSLv2/SSLv3 do not exist in Go.
//   - smtpd_tls_ciphers / mandatory_ciphers: Go's default suites are all
//     of OpenSSL's "high" grade, which every Postfix grade (export, low,
//     medium, high) includes; "null" is not supported.
//     smtpd_tls_exclude_ciphers names (OpenSSL style, e.g. "CBC",
//     "SHA1", "AES128", "ECDHE-RSA-AES128-SHA") remove the TLS 1.2
//     suites whose OpenSSL name contains them (TLS 1.3 suites are fixed).
//   - Session tickets: on, unless smtpd_tls_session_cache_timeout = 0 or
//     tls_session_ticket_cipher is empty (Postfix's two switches for
//     tickets). There is no server-side session cache.
func (s *Server) setupTLS() error {
	c := s.Cfg
	level := strings.ToLower(c.Get("smtpd_tls_security_level"))
	if level == "" {
		if b, _ := c.Bool("smtpd_enforce_tls"); b {
			level = "encrypt"
		} else if b, _ := c.Bool("smtpd_use_tls"); b {
			level = "may"
		} else {
			level = "none"
		}
	}
	switch level {
	case "none", "may", "encrypt":
	case "dane", "dane-only", "fingerprint", "verify", "secure":
		level = "encrypt"
	default:
		return fmt.Errorf("invalid smtpd_tls_security_level value: %s", level)
	}
	if s.WrapperMode {
		level = "encrypt"
	}
	s.TLSLevel = level
	if level == "none" {
		return nil
	}
	var certs []tls.Certificate
	if chain := c.List("smtpd_tls_chain_files"); len(chain) > 0 {
		var pem []byte
		for _, f := range chain {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("cannot load TLS chain file %s: %v", f, err)
			}
			pem = append(pem, b...)
			pem = append(pem, '\n')
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return fmt.Errorf("smtpd_tls_chain_files: %v", err)
		}
		certs = append(certs, cert)
	} else {
		for _, p := range [][2]string{{"smtpd_tls_cert_file", "smtpd_tls_key_file"}, {"smtpd_tls_eccert_file", "smtpd_tls_eckey_file"}} {
			cf := c.Get(p[0])
			if cf == "" {
				continue
			}
			kf := c.Get(p[1])
			if kf == "" {
				kf = cf
			}
			cert, err := tls.LoadX509KeyPair(cf, kf)
			if err != nil {
				return fmt.Errorf("cannot load certificate and key from %s and %s: %v", cf, kf, err)
			}
			certs = append(certs, cert)
		}
	}
	if len(certs) == 0 {
		s.Log.Warningf("No server certs available. TLS won't be enabled")
		return nil
	}
	protoParam := "smtpd_tls_protocols"
	if level == "encrypt" {
		protoParam = "smtpd_tls_mandatory_protocols"
	}
	minV, maxV, err := tlsVersions(c.Get(protoParam))
	if err != nil {
		return fmt.Errorf("%s: %v", protoParam, err)
	}
	cfg := &tls.Config{Certificates: certs, MinVersion: minV, MaxVersion: maxV}
	if ex := c.List("smtpd_tls_exclude_ciphers"); len(ex) > 0 {
		for _, cs := range tls.CipherSuites() {
			name := opensslName(cs.ID)
			keep := true
			for _, e := range ex {
				if strings.Contains(name, strings.ToUpper(e)) {
					keep = false
				}
			}
			if keep {
				cfg.CipherSuites = append(cfg.CipherSuites, cs.ID)
			}
		}
	}
	timeout, err := c.Time("smtpd_tls_session_cache_timeout")
	if err != nil {
		return err
	}
	if timeout == 0 || c.Get("tls_session_ticket_cipher") == "" {
		cfg.SessionTicketsDisabled = true
	}
	s.TLS = cfg
	return nil
}

var tlsVersionNames = []struct {
	name string
	v    uint16
}{
	{"TLSV1", tls.VersionTLS10},
	{"TLSV1.1", tls.VersionTLS11},
	{"TLSV1.2", tls.VersionTLS12},
	{"TLSV1.3", tls.VersionTLS13},
}

// tlsVersions maps a Postfix protocol list onto a version range.
func tlsVersions(spec string) (minV, maxV uint16, err error) {
	allowed := map[uint16]bool{}
	for _, n := range tlsVersionNames {
		allowed[n.v] = true
	}
	lookup := func(name string) (uint16, bool) {
		name = strings.ToUpper(name)
		for _, n := range tlsVersionNames {
			if n.name == name {
				return n.v, true
			}
		}
		return 0, name == "SSLV2" || name == "SSLV3"
	}
	var listed []uint16
	for _, w := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == ':' }) {
		switch {
		case strings.HasPrefix(w, ">="):
			v, ok := lookup(w[2:])
			if !ok {
				return 0, 0, fmt.Errorf("invalid TLS protocol: %s", w)
			}
			for k := range allowed {
				if k < v {
					allowed[k] = false
				}
			}
		case strings.HasPrefix(w, "<="):
			v, ok := lookup(w[2:])
			if !ok {
				return 0, 0, fmt.Errorf("invalid TLS protocol: %s", w)
			}
			for k := range allowed {
				if k > v {
					allowed[k] = false
				}
			}
		case strings.HasPrefix(w, "!"):
			v, ok := lookup(w[1:])
			if !ok {
				return 0, 0, fmt.Errorf("invalid TLS protocol: %s", w)
			}
			allowed[v] = false
		default:
			v, ok := lookup(w)
			if !ok {
				return 0, 0, fmt.Errorf("invalid TLS protocol: %s", w)
			}
			if v != 0 {
				listed = append(listed, v)
			}
		}
	}
	if len(listed) > 0 {
		for k := range allowed {
			keep := false
			for _, l := range listed {
				keep = keep || l == k
			}
			allowed[k] = allowed[k] && keep
		}
	}
	for _, n := range tlsVersionNames {
		if allowed[n.v] {
			if minV == 0 {
				minV = n.v
			}
			maxV = n.v
		}
	}
	if minV == 0 {
		return 0, 0, fmt.Errorf("no TLS protocol left in %q", spec)
	}
	return minV, maxV, nil
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// opensslName returns OpenSSL's name of a cipher suite (the name Postfix
// logs); TLS 1.3 suites have the same name in both.
func opensslName(id uint16) string {
	n := tls.CipherSuiteName(id)
	if strings.HasPrefix(n, "TLS_AES") || strings.HasPrefix(n, "TLS_CHACHA20") {
		return n
	}
	n = strings.TrimPrefix(n, "TLS_")
	n = strings.Replace(n, "_WITH_", "_", 1)
	n = strings.Replace(n, "AES_128_", "AES128_", 1)
	n = strings.Replace(n, "AES_256_", "AES256_", 1)
	n = strings.Replace(n, "CHACHA20_POLY1305_SHA256", "CHACHA20_POLY1305", 1)
	n = strings.Replace(n, "3DES_EDE_CBC", "DES_CBC3", 1)
	n = strings.ReplaceAll(n, "_", "-")
	// OpenSSL drops "CBC" from AES-CBC suites and writes "RSA" key
	// exchange suites without the prefix: RSA-AES128-SHA -> AES128-SHA.
	n = strings.Replace(n, "-CBC-", "-", 1)
	n = strings.TrimPrefix(n, "RSA-")
	return n
}

// cipherBits is the strength Postfix logs as usebits/algbits.
func cipherBits(id uint16) int {
	n := tls.CipherSuiteName(id)
	switch {
	case strings.Contains(n, "AES_128"):
		return 128
	case strings.Contains(n, "3DES"):
		return 112
	}
	return 256
}

// tlsSummary is the text after "from host[addr]: " in Postfix's TLS log
// line and inside the Received: header: "TLSv1.3 with cipher
// TLS_AES_128_GCM_SHA256 (128/128 bits)".
func tlsSummary(cs *tls.ConnectionState) string {
	b := cipherBits(cs.CipherSuite)
	return fmt.Sprintf("%s with cipher %s (%d/%d bits)", tlsVersionName(cs.Version), opensslName(cs.CipherSuite), b, b)
}

func keyExchange(cs *tls.ConnectionState) string {
	if cs.CurveID == 0 {
		return ""
	}
	return cs.CurveID.String()
}

// tlsReceivedLines are the Received: lines for a TLS session:
//
//	(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)
//	 key-exchange X25519)
//	(No client certificate requested)
func tlsReceivedLines(cs *tls.ConnectionState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\t(using %s", tlsSummary(cs))
	if kx := keyExchange(cs); kx != "" {
		fmt.Fprintf(&b, "\n\t key-exchange %s", kx)
	}
	b.WriteString(")\n\t(No client certificate requested)\n")
	return b.String()
}

// tlsOffered: STARTTLS goes into the EHLO list.
func (s *session) tlsOffered() bool {
	return s.tls == nil && !s.srv.Local && s.srv.TLSLevel != "none" && !s.srv.WrapperMode
}

func (s *session) cmdStartTLS(arg string) error {
	if !s.tlsOffered() {
		s.send(reply{502, "5.5.1", "Error: command not implemented"})
		return nil
	}
	if arg != "" {
		s.syntax("STARTTLS")
		return nil
	}
	if s.tx != nil {
		s.send(reply{503, "5.5.1", "Error: MAIL transaction in progress"})
		return nil
	}
	if s.srv.TLS == nil {
		s.send(reply{454, "4.7.0", "TLS not available due to local problem"})
		return nil
	}
	s.sendCounted(reply{220, "2.0.0", "Ready to start TLS"}, false)
	if err := s.flush(); err != nil {
		return err
	}
	// Plaintext the client sent after STARTTLS must not be taken as
	// commands of the TLS session (CVE-2011-0411, command injection).
	if s.pending() {
		s.illPipe = true
	}
	if err := s.startTLS(); err != nil {
		s.lastCode = 0 // starttls=0/1
		return errClose
	}
	// RFC 3207 section 4.2: forget everything learnt before.
	s.helo, s.esmtp, s.pipelining = "", false, false
	s.abortTx()
	return nil
}

// startTLS runs the server handshake on the raw connection.
func (s *session) startTLS() error {
	tc := tls.Server(s.raw, s.srv.TLS)
	t := s.srv.Timeout
	if t <= 0 {
		t = 300 * time.Second
	}
	tc.SetDeadline(time.Now().Add(t))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		s.srv.Log.Warningf("TLS library problem: %v", err)
		s.srv.Log.Infof("SSL_accept error from %s: %v", s.namaddr, err)
		s.srv.Log.Infof("lost connection after %s from %s", s.where, s.namaddr)
		return err
	}
	tc.SetDeadline(time.Time{})
	cs := tc.ConnectionState()
	s.tls = &cs
	s.setConn(tc)
	if s.srv.TLSLogLevel >= 1 {
		line := tlsSummary(&cs)
		if kx := keyExchange(&cs); kx != "" {
			line += " key-exchange " + kx
		}
		s.srv.Log.Infof("Anonymous TLS connection established from %s: %s", s.namaddr, line)
	}
	return nil
}
