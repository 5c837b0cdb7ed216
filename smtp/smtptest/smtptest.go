// Package smtptest has what the smtp/lmtp agent's tests share: a test SMTP
// or LMTP server (github.com/emersion/go-smtp's server) that answers per
// recipient as the address says, a self-signed certificate for STARTTLS,
// and a queue file writer.
//
// Replies by address (local part prefix):
//
//	rej...    RCPT: 550 5.1.1 <addr>: Recipient address rejected: User unknown
//	tmp...    RCPT: 451 4.2.0 <addr>: Recipient address rejected: Greylisted
//	lrej...   LMTP, after DATA: 552 5.2.2 <addr> Mailbox full (go-smtp adds the address)
//	ltmp...   LMTP, after DATA: 452 4.2.2 <addr> Mailbox busy
//	sender mailrej...  MAIL: 550 5.7.1 Sender rejected
//	sender mailtmp...  MAIL: 451 4.3.0 Try again later
//	anything else      250
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postern/pkg/queue"
)

// Options configure a Sink.
type Options struct {
	// Addr is host:port to listen on ("127.0.0.2:0"); with Unix, a
	// socket path.
	Addr string
	Unix bool
	LMTP bool
	// MaxSize is announced with SIZE (0: no limit).
	MaxSize int64
	TLS     *tls.Config
	DSN     bool
	UTF8    bool
}

// Message is what the sink received in one transaction.
type Message struct {
	From     string
	MailOpts smtp.MailOptions
	To       []string
	RcptOpts []smtp.RcptOptions
	Data     string
	TLS      bool
}

// Sink is a running test server.
type Sink struct {
	Addr string
	Host string
	Port int

	mu    sync.Mutex
	msgs  []Message
	conns int
}

// Start runs a sink until the test ends.
func Start(t testing.TB, o Options) *Sink {
	t.Helper()
	network := "tcp"
	if o.Unix {
		network = "unix"
	}
	ln, err := net.Listen(network, o.Addr)
	if err != nil {
		t.Fatal(err)
	}
	k := &Sink{Addr: ln.Addr().String()}
	if !o.Unix {
		h, p, _ := net.SplitHostPort(k.Addr)
		k.Host = h
		k.Port, _ = strconv.Atoi(p)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		k.mu.Lock()
		k.conns++
		k.mu.Unlock()
		return &session{k: k, c: c}, nil
	}))
	srv.Domain = "sink.example.test"
	srv.LMTP = o.LMTP
	srv.MaxMessageBytes = o.MaxSize
	srv.TLSConfig = o.TLS
	srv.EnableDSN = o.DSN
	srv.EnableSMTPUTF8 = o.UTF8
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

// Messages returns what was received so far.
func (k *Sink) Messages() []Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Message(nil), k.msgs...)
}

// Conns is the number of connections accepted so far.
func (k *Sink) Conns() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.conns
}

type session struct {
	k   *Sink
	c   *smtp.Conn
	msg Message
}

func local(addr string) string {
	l, _, _ := strings.Cut(addr, "@")
	return strings.ToLower(l)
}

func (s *session) Reset()        { s.msg = Message{} }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	switch {
	case strings.HasPrefix(local(from), "mailrej"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender rejected"}
	case strings.HasPrefix(local(from), "mailtmp"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	s.msg = Message{From: from}
	if opts != nil {
		s.msg.MailOpts = *opts
	}
	return nil
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	switch l := local(to); {
	case strings.HasPrefix(l, "rej"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected: User unknown"}
	case strings.HasPrefix(l, "tmp"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "<" + to + ">: Recipient address rejected: Greylisted"}
	}
	s.msg.To = append(s.msg.To, to)
	if opts != nil {
		s.msg.RcptOpts = append(s.msg.RcptOpts, *opts)
	} else {
		s.msg.RcptOpts = append(s.msg.RcptOpts, smtp.RcptOptions{})
	}
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = string(b)
	_, s.msg.TLS = s.c.TLSConnectionState()
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, s.msg)
	s.k.mu.Unlock()
	return nil
}

func (s *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	if err := s.Data(r); err != nil {
		return err
	}
	for _, to := range s.msg.To {
		switch l := local(to); {
		case strings.HasPrefix(l, "lrej"):
			status.SetStatus(to, &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox full"})
		case strings.HasPrefix(l, "ltmp"):
			status.SetStatus(to, &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox busy"})
		default:
			status.SetStatus(to, nil)
		}
	}
	return nil
}

// Cert returns a self-signed certificate for the names (DNS names or IP
// addresses) and a pool that trusts it.
func Cert(t testing.TB, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// WriteMessage writes a queue file into dir/active and returns its ID.
// Recipients are numbered from 0 in the order given.
func WriteMessage(t testing.TB, dir string, env *queue.Envelope, rcpts []string, content string) string {
	t.Helper()
	q := queue.New(dir)
	if err := q.MakeDirs(0o700); err != nil {
		t.Fatal(err)
	}
	w, err := q.Create(queue.Incoming)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetEnvelope(env); err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		if err := w.AddRecipient(queue.Recipient{Address: r, OrigAddress: r}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	id := w.ID()
	if _, err := q.Move(id, queue.Incoming, queue.Active); err != nil {
		t.Fatal(err)
	}
	return id
}
