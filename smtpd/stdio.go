package smtpd

import (
	"context"
	"net"
	"os"
	"time"

	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/policy"
)

// ServeStdio runs one SMTP session on in/out for sendmail -bs, as
// Postfix's "smtpd -S": the client is localhost[127.0.0.1], there is no
// TLS, no AUTH and no relay control (the caller is a local user, like any
// sendmail caller), and the message goes where sub puts it (sendmail's
// postdrop path into maildrop/, whence pickup hands it to cleanup). The
// session logs as "smtpd". It returns the exit status (0).
func ServeStdio(cfg *config.Config, in, out *os.File, sub Submitter, lg *log.Logger) int {
	cfg.Set("smtpd_tls_security_level", "none")
	cfg.Set("smtpd_tls_wrappermode", "no")
	cfg.Set("smtpd_sasl_auth_enable", "no")
	srv, err := NewServer(cfg)
	if err != nil {
		lg.Fatalf("%v", err)
		return 75
	}
	srv.Local = true
	srv.PeernameLookup = false
	srv.Log = lg
	srv.Submitter = sub
	srv.Policy = permitAll{}
	srv.ConnLimit = 0
	srv.ServeConn(context.Background(), &stdioConn{in: in, out: out})
	return 0
}

// permitAll is the policy of a local sendmail -bs session.
type permitAll struct{}

func (permitAll) Check(context.Context, policy.Stage, *policy.Session) policy.Decision {
	return policy.Decision{}
}

// stdioConn is stdin and stdout as a net.Conn.
type stdioConn struct{ in, out *os.File }

var localhost = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

func (c *stdioConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *stdioConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *stdioConn) Close() error                { return nil }
func (c *stdioConn) LocalAddr() net.Addr         { return localhost }
func (c *stdioConn) RemoteAddr() net.Addr        { return localhost }
func (c *stdioConn) SetDeadline(t time.Time) error {
	c.in.SetReadDeadline(t)
	c.out.SetWriteDeadline(t)
	return nil
}
func (c *stdioConn) SetReadDeadline(t time.Time) error  { c.in.SetReadDeadline(t); return nil }
func (c *stdioConn) SetWriteDeadline(t time.Time) error { c.out.SetWriteDeadline(t); return nil }
