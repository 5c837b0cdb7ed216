package smtp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// session is one connection to an SMTP or LMTP server, after the greeting
// and the EHLO/LHLO handshake (and STARTTLS when used).
type session struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	dw   *deadlineWriter

	host    string // the server's name: MX host, nexthop host, or myhostname for unix
	addr    string // its IP address, or the socket path
	port    int    // 0 for unix sockets
	namaddr string // host[addr]
	relay   string // host[addr]:port as logged

	lmtp      bool
	esmtp     bool
	ext       map[string]string // EHLO keywords (upper case) -> parameters
	sizeLimit int64
	tls       bool

	created time.Time
	uses    int  // transactions done on this connection
	reuses  int  // times taken from the connection cache
	backup  bool // connected to a backup MX host
	broken  bool // unusable: I/O error, timeout, 421
}

// sessErr is a failure of the connection or of the server as a whole:
// timeout, lost connection, bad greeting, refused handshake. It defers the
// session's recipients (or sends them to the next server).
type sessErr struct {
	dsn  string
	text string
	// reply is the server's reply when there was one (diagnostic).
	reply *Reply
	// connect is set for a failure to connect (logged on its own line).
	connect bool
	// tlsRetry: a "may" TLS handshake failed; try the same server again
	// in plaintext.
	tlsRetry bool
}

func (e *sessErr) Error() string { return e.text }

// what the session was doing, for "lost connection with X while ..." and
// "conversation with X timed out while ..." (Postfix's wording).
const (
	phaseGreeting = "receiving the initial server greeting"
	phaseStartTLS = "receiving the STARTTLS response"
	phaseMail     = "sending MAIL FROM"
	phaseRcpt     = "sending RCPT TO"
	phaseData     = "sending DATA command"
	phaseBody     = "sending message body"
	phaseDot      = "sending end of data -- message may be sent more than once"
	phaseRset     = "sending final RSET"
	phaseQuit     = "sending QUIT"
)

func phaseHelo(cmd string) string { return "performing the " + cmd + " handshake" }

// ioErr turns an I/O error into the session failure Postfix reports.
func (s *session) ioErr(err error, phase string) *sessErr {
	s.broken = true
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &sessErr{dsn: "4.4.2", text: fmt.Sprintf("conversation with %s timed out while %s", s.namaddr, phase)}
	}
	if errors.Is(err, errMalformed) {
		return &sessErr{dsn: "4.4.2", text: fmt.Sprintf("malformed reply from %s while %s", s.namaddr, phase)}
	}
	return &sessErr{dsn: "4.4.2", text: fmt.Sprintf("lost connection with %s while %s", s.namaddr, phase)}
}

// read reads one reply within timeout.
func (s *session) read(timeout time.Duration, phase string) (*Reply, *sessErr) {
	if timeout > 0 {
		s.conn.SetReadDeadline(time.Now().Add(timeout))
	}
	r, err := readReply(s.br)
	if err != nil {
		return nil, s.ioErr(err, phase)
	}
	if r.Code == 421 {
		// RFC 5321 section 3.8: the server is closing the channel;
		// the reply still answers the command.
		s.broken = true
	}
	return r, nil
}

// write queues a command line; flush sends what is queued.
func (s *session) write(line string) {
	s.bw.WriteString(line)
	s.bw.WriteString("\r\n")
}

func (s *session) flush(timeout time.Duration, phase string) *sessErr {
	if timeout > 0 {
		s.conn.SetWriteDeadline(time.Now().Add(timeout))
	}
	if err := s.bw.Flush(); err != nil {
		return s.ioErr(err, phase)
	}
	return nil
}

// cmd sends one command and reads its reply.
func (s *session) cmd(line string, timeout time.Duration, phase string) (*Reply, *sessErr) {
	s.write(line)
	if err := s.flush(timeout, phase); err != nil {
		return nil, err
	}
	return s.read(timeout, phase)
}

// said is Postfix's text for a server reply to a command.
func (s *session) said(r *Reply, cmd string) string {
	return fmt.Sprintf("host %s said: %s (in reply to %s command)", s.namaddr, r.String(), cmd)
}

// dialTarget is one address to connect to.
type dialTarget struct {
	host string
	addr string // IP address or unix socket path
	port int
	unix bool
	// backup: a less preferred MX host than the best one; its sessions
	// are not cached under the next hop (as in Postfix, which saves a
	// session under the destination only for a best MX host).
	backup bool
}

func (t dialTarget) namaddr() string { return t.host + "[" + t.addr + "]" }

func (t dialTarget) relay() string {
	if t.unix {
		return t.namaddr()
	}
	return t.namaddr() + ":" + strconv.Itoa(t.port)
}

// connect opens a session: TCP (or unix) connect, greeting, EHLO/LHLO
// (HELO when EHLO is refused), STARTTLS per the TLS level, EHLO again.
// plain forbids STARTTLS (the retry after a failed "may" handshake).
func (a *Agent) connect(t dialTarget, nexthop *nextHop, plain bool) (*session, *sessErr) {
	st := a.Settings
	s := &session{host: t.host, addr: t.addr, port: t.port, namaddr: t.namaddr(), relay: t.relay(), lmtp: st.LMTP, backup: t.backup}
	var conn net.Conn
	var err error
	if t.unix {
		d := net.Dialer{Timeout: st.ConnectTimeout}
		conn, err = d.Dial("unix", t.addr)
	} else {
		d := net.Dialer{Timeout: st.ConnectTimeout}
		if ip := net.ParseIP(t.addr); ip != nil {
			if ip.To4() != nil && st.BindAddress.IsValid() {
				d.LocalAddr = &net.TCPAddr{IP: st.BindAddress.AsSlice()}
			} else if ip.To4() == nil && st.BindAddress6.IsValid() {
				d.LocalAddr = &net.TCPAddr{IP: st.BindAddress6.AsSlice()}
			}
		}
		conn, err = d.Dial("tcp", net.JoinHostPort(t.addr, strconv.Itoa(t.port)))
	}
	if err != nil {
		where := t.relay()
		return nil, &sessErr{dsn: "4.4.1", connect: true, text: fmt.Sprintf("connect to %s: %s", where, connectErrText(err))}
	}
	s.attach(conn)
	s.created = time.Now()

	greet, serr := s.read(st.HeloTimeout, phaseGreeting)
	if serr != nil {
		s.close()
		return nil, serr
	}
	if greet.Class() != 2 {
		s.close()
		dsn := greet.DSN
		if greet.Class() == 5 && st.Skip5xxGreeting {
			dsn = "4" + dsn[1:]
		}
		return nil, &sessErr{dsn: dsn, reply: greet, text: fmt.Sprintf("host %s refused to talk to me: %s", s.namaddr, greet.String())}
	}
	if serr := a.hello(s); serr != nil {
		s.close()
		return nil, serr
	}
	level := st.TLSLevel
	if plain {
		level = "none"
	}
	if level != "none" {
		_, offered := s.ext["STARTTLS"]
		switch {
		case offered:
			if serr := a.startTLS(s, level, nexthop); serr != nil {
				s.close()
				return nil, serr
			}
		case level != "may":
			s.quit(st.QuitTimeout, true)
			return nil, &sessErr{dsn: "4.7.4", text: fmt.Sprintf("TLS is required, but was not offered by host %s", s.namaddr)}
		}
	}
	return s, nil
}

// connectErrText is the strerror-like text Postfix logs after
// "connect to host[addr]:port: ".
func connectErrText(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "Connection timed out"
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Connection refused"
	case errors.Is(err, syscall.ENETUNREACH):
		return "Network is unreachable"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "No route to host"
	case errors.Is(err, syscall.ENOENT), errors.Is(err, os.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, syscall.EACCES):
		return "Permission denied"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "Cannot assign requested address"
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

func (s *session) attach(conn net.Conn) {
	s.conn = conn
	s.br = bufio.NewReaderSize(conn, 4096)
	s.dw = &deadlineWriter{conn: conn}
	s.bw = bufio.NewWriterSize(s.dw, 16384)
}

// hello sends EHLO (LHLO for LMTP), falling back to HELO when EHLO is
// refused (never for LMTP).
func (a *Agent) hello(s *session) *sessErr {
	st := a.Settings
	verb := "EHLO"
	if st.LMTP {
		verb = "LHLO"
	} else if st.NeverSendEHLO {
		verb = "HELO"
	}
	r, serr := s.cmd(verb+" "+st.HeloName, st.HeloTimeout, phaseHelo(verb))
	if serr != nil {
		return serr
	}
	if r.Class() != 2 && verb == "EHLO" {
		verb = "HELO"
		r, serr = s.cmd("HELO "+st.HeloName, st.HeloTimeout, phaseHelo(verb))
		if serr != nil {
			return serr
		}
	}
	if r.Class() != 2 {
		s.broken = true
		return &sessErr{dsn: r.DSN, reply: r, text: fmt.Sprintf("host %s refused to talk to me: %s", s.namaddr, r.String())}
	}
	s.esmtp = verb != "HELO"
	s.ext = map[string]string{}
	s.sizeLimit = 0
	if s.esmtp {
		for _, l := range r.Text()[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
			k = strings.ToUpper(k)
			if st.DiscardEHLO[k] {
				continue
			}
			s.ext[k] = v
			if k == "SIZE" {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 {
					s.sizeLimit = n
				}
			}
		}
	}
	return nil
}

func (a *Agent) startTLS(s *session, level string, nh *nextHop) *sessErr {
	st := a.Settings
	r, serr := s.cmd("STARTTLS", st.StartTLSTimeout, phaseStartTLS)
	if serr != nil {
		return serr
	}
	if r.Class() != 2 {
		if level == "may" {
			// Opportunistic: carry on in plaintext.
			return nil
		}
		s.broken = true
		return &sessErr{dsn: "4.7.5", reply: r, text: s.said(r, "STARTTLS")}
	}
	cfg := a.tlsConfig(level, s.host, nh)
	tc := tls.Client(s.conn, cfg)
	if st.StartTLSTimeout > 0 {
		tc.SetDeadline(time.Now().Add(st.StartTLSTimeout))
	}
	if err := tc.Handshake(); err != nil {
		s.broken = true
		var ce *tls.CertificateVerificationError
		text := "Cannot start TLS: handshake failure"
		if errors.As(err, &ce) || errors.Is(err, errCertName) {
			text = fmt.Sprintf("Server certificate not verified (%s)", s.namaddr)
		}
		if st.TLSLogLevel > 0 {
			a.logger().Infof("SSL_connect error to %s: %v", s.relay, err)
		}
		return &sessErr{dsn: "4.7.5", text: text, tlsRetry: level == "may"}
	}
	tc.SetDeadline(time.Time{})
	s.attach(tc)
	s.tls = true
	if st.TLSLogLevel > 0 {
		cs := tc.ConnectionState()
		kind := "Anonymous"
		if level == "verify" || level == "secure" {
			kind = "Verified"
		} else if len(cs.PeerCertificates) > 0 {
			kind = "Untrusted"
		}
		a.logger().Infof("%s TLS connection established to %s: %s with cipher %s", kind, s.relay, tlsVersion(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
	}
	return a.hello(s)
}

func tlsVersion(v uint16) string {
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
	return "TLS"
}

// quit ends the session: QUIT, and its reply unless skip is set
// (smtp_skip_quit_response), then close.
func (s *session) quit(timeout time.Duration, skip bool) {
	if s.conn == nil {
		return
	}
	if !s.broken {
		s.write("QUIT")
		if s.flush(timeout, phaseQuit) == nil && !skip {
			s.read(timeout, phaseQuit)
		}
	}
	s.close()
}

func (s *session) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// deadlineWriter gives every write of message content its own deadline
// (smtp_data_xfer_timeout is a per-write timeout in Postfix, not one for
// the whole message).
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	return w.conn.Write(p)
}

// setXferTimeout sets the per-write timeout of the content stream (0:
// the deadline set by flush applies).
func (s *session) setXferTimeout(d time.Duration) { s.dw.timeout = d }

var _ io.Writer = (*deadlineWriter)(nil)
