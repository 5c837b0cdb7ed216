package smtpd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"postern/pkg/sasl/sasltest"
)

// writeCert makes a self-signed certificate for mx.example.test and
// returns the cert and key file names.
func writeCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.example.test"},
		DNSNames:     []string{"mx.example.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cf, kf
}

func tlsHarness(t *testing.T, params ...string) *harness {
	dir := t.TempDir()
	cf, kf := writeCert(t, dir)
	auth := filepath.Join(dir, "auth")
	srv, err := sasltest.Start(auth, map[string]string{"alice": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return newHarness(t, append([]string{
		"smtpd_tls_cert_file=" + cf, "smtpd_tls_key_file=" + kf,
		"smtpd_tls_security_level=may", "smtpd_tls_loglevel=1",
		"smtpd_sasl_auth_enable=yes", "smtpd_sasl_type=dovecot", "smtpd_sasl_path=" + auth,
		"smtpd_tls_auth_only=yes", "mynetworks=10.99.99.0/24",
	}, params...)...)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestSTARTTLSAndAuthLOGIN(t *testing.T) {
	h := tlsHarness(t, "smtpd_tls_received_header=yes", "smtpd_sasl_authenticated_header=yes")
	c := h.dial()
	c.reply()
	c.expect("EHLO client.example.test", "250-mx.example.test\n250-PIPELINING\n250-SIZE 10240000\n250-VRFY\n250-ETRN\n250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING")
	c.expect("AUTH PLAIN", "503 5.5.1 Error: authentication not enabled")
	c.expect("STARTTLS", "220 2.0.0 Ready to start TLS")
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c = &client{t: t, c: tc, br: newReader(tc)}
	c.expect("MAIL FROM:<a@b>", "250 2.1.0 Ok")
	c.expect("RSET", "250 2.0.0 Ok")
	c.expect("EHLO client.example.test", "250-mx.example.test\n250-PIPELINING\n250-SIZE 10240000\n250-VRFY\n250-ETRN\n250-AUTH PLAIN LOGIN\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING")
	c.expect("AUTH LOGIN", "334 "+b64("Username:"))
	c.expect(b64("alice"), "334 "+b64("Password:"))
	c.expect(b64("wrong"), "535 5.7.8 Error: authentication failed: (reason unavailable)")
	c.expect("AUTH LOGIN "+b64("alice"), "334 "+b64("Password:"))
	c.expect("*", "501 5.7.0 Authentication aborted")
	c.expect("AUTH PLAIN "+b64("\x00tempfail\x00x"), "454 4.7.0 Temporary authentication failure: temporary lookup failure")
	c.expect("AUTH CRAM-MD5", "535 5.7.8 Error: authentication failed: Invalid authentication mechanism")
	c.expect("AUTH LOGIN", "334 "+b64("Username:"))
	c.expect(b64("alice"), "334 "+b64("Password:"))
	c.expect(b64("secret"), "235 2.7.0 Authentication successful")
	c.expect("AUTH PLAIN", "503 5.5.1 Error: already authenticated")
	c.expect("MAIL FROM:<alice@client.example.test>", "250 2.1.0 Ok")
	c.expect("RCPT TO:<someone@elsewhere.test>", "250 2.1.5 Ok")
	c.expect("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: tls\r\n\r\nx\r\n.\r\n")
	if r := c.reply(); r != "250 2.0.0 Ok: queued as 4A001" {
		t.Fatalf("got %q", r)
	}
	c.expect("QUIT", "221 2.0.0 Bye")
	h.waitLog(`Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_[A-Z0-9_]+ \((128/128|256/256) bits\) key-exchange [A-Za-z0-9]+`)
	h.waitLog(`warning: unknown\[127\.0\.0\.1\]: SASL LOGIN authentication failed: \(reason unavailable\), sasl_username=alice`)
	h.waitLog(`warning: unknown\[127\.0\.0\.1\]: SASL LOGIN authentication aborted`)
	h.waitLog(`4A001: client=unknown\[127\.0\.0\.1\], sasl_method=LOGIN, sasl_username=alice`)
	h.waitLog(`disconnect from unknown\[127\.0\.0\.1\] ehlo=2 starttls=1 auth=1/7 mail=2 rcpt=1 data=1 rset=1 quit=1 commands=10/16`)
	if strings.Contains(h.log(), "secret") || strings.Contains(h.log(), b64("secret")) {
		t.Error("password in the log")
	}
	q := h.cleanup.queued()
	content := q[0].content.String()
	lines := strings.Split(content, "\n")
	if lines[0] != "Received: from client.example.test (unknown [127.0.0.1])" ||
		!strings.HasPrefix(lines[1], "\t(using TLSv1.3 with cipher TLS_") ||
		!strings.HasPrefix(lines[2], "\t key-exchange ") ||
		lines[3] != "\t(No client certificate requested)" ||
		lines[4] != "\t(Authenticated sender: alice)" ||
		lines[5] != "\tby mx.example.test (Postern) with ESMTPSA id 4A001" {
		t.Errorf("Received:\n%s", content)
	}
	attrs := map[string]string{}
	for _, a := range q[0].env.Attrs {
		attrs[a.Name] = a.Value
	}
	if attrs["sasl_method"] != "LOGIN" || attrs["sasl_username"] != "alice" {
		t.Errorf("attrs %v", attrs)
	}
}

func TestGoSMTPClientPlainAuth(t *testing.T) {
	h := tlsHarness(t)
	c, err := gosmtp.DialStartTLS(h.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(gosasl.NewPlainClient("", "alice", "secret")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("alice@client.example.test", []string{"x@elsewhere.test", "y@elsewhere.test"}, strings.NewReader("Subject: go-smtp\r\n\r\nhello\r\n.leading dot\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	q := h.cleanup.queued()
	if len(q) != 1 || len(q[0].rcpts) != 2 || !strings.HasSuffix(q[0].content.String(), "\n\nhello\n.leading dot\n") {
		t.Fatalf("queued %d: %q", len(q), q[0].content.String())
	}
	if !strings.Contains(q[0].content.String(), "with ESMTPSA id 4A001;\n") {
		t.Errorf("content %q", q[0].content.String())
	}
}

func TestTLSEncryptRequired(t *testing.T) {
	h := tlsHarness(t, "smtpd_tls_security_level=encrypt")
	c := h.dial()
	c.greet()
	c.expect("MAIL FROM:<a@b>", "530 5.7.0 Must issue a STARTTLS command first")
	c.expect("AUTH PLAIN", "530 5.7.0 Must issue a STARTTLS command first")
	c.expect("NOOP", "250 2.0.0 Ok")
	c.expect("QUIT", "221 2.0.0 Bye")
}

func TestWrapperMode(t *testing.T) {
	h := tlsHarness(t, "smtpd_tls_wrappermode=yes", "smtpd_tls_session_cache_timeout=0")
	if !h.srv.TLS.SessionTicketsDisabled {
		t.Error("session tickets on with smtpd_tls_session_cache_timeout=0")
	}
	c, err := gosmtp.DialTLS(h.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered in wrapper mode")
	}
	if !c.SupportsAuth("PLAIN") {
		t.Error("AUTH not offered in wrapper mode")
	}
	c.Quit()
}

func TestTLSVersions(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		min, max uint16
	}{
		{">=TLSv1", tls.VersionTLS10, tls.VersionTLS13},
		{"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", tls.VersionTLS12, tls.VersionTLS13},
		{">=TLSv1.2 <=TLSv1.2", tls.VersionTLS12, tls.VersionTLS12},
		{"TLSv1.3", tls.VersionTLS13, tls.VersionTLS13},
		{"", tls.VersionTLS10, tls.VersionTLS13},
	} {
		mn, mx, err := tlsVersions(tc.spec)
		if err != nil || mn != tc.min || mx != tc.max {
			t.Errorf("%q: %x %x %v", tc.spec, mn, mx, err)
		}
	}
	if _, _, err := tlsVersions("TLSv9"); err == nil {
		t.Error("TLSv9 accepted")
	}
	if n := opensslName(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); n != "ECDHE-RSA-AES128-GCM-SHA256" {
		t.Errorf("openssl name %s", n)
	}
	if n := opensslName(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256); n != "ECDHE-ECDSA-CHACHA20-POLY1305" {
		t.Errorf("openssl name %s", n)
	}
}
