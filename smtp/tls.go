package smtp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// errCertName: the server's certificate is trusted but names another host.
var errCertName = errors.New("server certificate does not match the expected name")

// tlsConfig builds the client configuration for one handshake.
//
//	may, encrypt  no certificate check (Postfix: "Untrusted"/"Anonymous")
//	verify        chain checked against smtp_tls_CAfile (or the system
//	              roots), name = the MX host name (smtp_tls_verify_cert_match
//	              = hostname)
//	secure        chain checked, name = the next-hop domain or a subdomain
//	              of it (smtp_tls_secure_cert_match = nexthop, dot-nexthop)
//
// dane and dane-only are run as "may" and "encrypt" until TLSA lookups
// exist (TODO).
func (a *Agent) tlsConfig(level, host string, nh *nextHop) *tls.Config {
	st := a.Settings
	cfg := &tls.Config{
		InsecureSkipVerify: true, // checked below for verify/secure
		Certificates:       st.Certificates,
		MinVersion:         tls.VersionTLS10,
	}
	switch st.TLSServerName {
	case "":
	case "hostname":
		cfg.ServerName = host
	case "nexthop":
		if nh != nil {
			cfg.ServerName = nh.Host
		}
	default:
		cfg.ServerName = st.TLSServerName
	}
	if level != "verify" && level != "secure" {
		return cfg
	}
	var names []string
	var dotNexthop string
	if level == "verify" {
		names = []string{host}
	} else if nh != nil {
		names = []string{nh.Host}
		dotNexthop = "." + strings.ToLower(nh.Host)
	}
	roots := st.RootCAs
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no server certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, b := range raw {
			c, err := x509.ParseCertificate(b)
			if err != nil {
				return err
			}
			certs[i] = c
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := certs[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
		}
		for _, n := range names {
			if certs[0].VerifyHostname(n) == nil {
				return nil
			}
		}
		if dotNexthop != "" {
			for _, d := range certs[0].DNSNames {
				if strings.HasSuffix(strings.ToLower(d), dotNexthop) && !strings.HasPrefix(d, "*") {
					return nil
				}
			}
		}
		return errCertName
	}
	return cfg
}

// loadTLS reads the CA file and the client certificate (before the jail).
func loadTLS(st *Settings, caFile, certFile, keyFile string, chainFiles []string) error {
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("cannot read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificates in CA file %s", caFile)
		}
		st.RootCAs = pool
	}
	for _, f := range chainFiles {
		// A chain file holds the key and its certificate chain.
		c, err := tls.LoadX509KeyPair(f, f)
		if err != nil {
			return fmt.Errorf("cannot load chain file %s: %w", f, err)
		}
		st.Certificates = append(st.Certificates, c)
	}
	if certFile != "" && len(chainFiles) == 0 {
		if keyFile == "" {
			keyFile = certFile
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("cannot load client certificate %s: %w", certFile, err)
		}
		st.Certificates = append(st.Certificates, c)
	}
	return nil
}
