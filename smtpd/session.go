package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"postern/pkg/address"
	"postern/pkg/dotreader"
	"postern/pkg/policy"
	pb "postern/proto"
)

// The commands in the order of the disconnect statistics.
var cmdOrder = []string{"helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy", "etrn", "quit", "unknown"}

// errClose ends the session after the reply already sent.
var errClose = errors.New("close session")

// session is one SMTP conversation.
type session struct {
	srv *Server
	ctx context.Context

	raw  net.Conn // the accepted connection (for FIONREAD)
	conn net.Conn // raw or the TLS connection over it
	br   *bufio.Reader
	bw   *bufio.Writer

	addr       netip.Addr
	port       int
	localAddr  string
	name       string // verified client name or "unknown"
	revName    string // reverse (PTR) name or "unknown"
	namaddr    string // name[addr]
	rfcAddr    string // addr, or IPv6:addr
	helo       string
	esmtp      bool
	pipelining bool // EHLO offered PIPELINING
	tls        *tls.ConnectionState
	saslMethod string
	saslUser   string
	where      string // the command being served, for "lost connection after"
	errors     int
	junk       int
	illPipe    bool
	denied     string // access denied at connect: reply for every command
	lastCode   int

	ok, total map[string]int

	tx *transaction
	ps *policy.Session
}

// transaction is the state from MAIL to the end of the message.
type transaction struct {
	sender     string
	size       int64 // SIZE=
	body       string
	smtputf8   bool
	envid, ret string
	rcpts      []*pb.Recipient
	tried      int // RCPT commands
	sub        Submission
	queueID    string
	hold       bool
	discard    bool
	redirect   string
	filter     string
	prepend    []string
	lastRcpt   string
	// BDAT
	bdat    *dataSink
	bdatLF  *dotreader.LFWriter
	bdatErr *reply
}

// reply is an SMTP reply.
type reply struct {
	code int
	dsn  string
	text string
}

func (r reply) String() string {
	if r.dsn == "" {
		return fmt.Sprintf("%d %s", r.code, r.text)
	}
	return fmt.Sprintf("%d %s %s", r.code, r.dsn, r.text)
}

// timedConn sets smtpd_timeout before every read and write.
type timedConn struct {
	c net.Conn
	t time.Duration
}

func (t timedConn) Read(p []byte) (int, error) {
	if t.t > 0 {
		t.c.SetReadDeadline(time.Now().Add(t.t))
	}
	return t.c.Read(p)
}

func (t timedConn) Write(p []byte) (int, error) {
	if t.t > 0 {
		t.c.SetWriteDeadline(time.Now().Add(t.t))
	}
	return t.c.Write(p)
}

func (s *session) setConn(c net.Conn) {
	s.conn = c
	tc := timedConn{c, s.srv.Timeout}
	s.br = bufio.NewReaderSize(tc, 4096)
	s.bw = bufio.NewWriterSize(tc, 4096)
}

// ServeConn serves one SMTP session on conn and closes it.
func (srv *Server) ServeConn(ctx context.Context, conn net.Conn) {
	s := &session{srv: srv, ctx: ctx, raw: conn, where: "CONNECT",
		ok: map[string]int{}, total: map[string]int{}}
	defer conn.Close()
	s.setConn(conn)
	s.identify()
	srv.Log.Infof("connect from %s", s.namaddr)
	if s.addr.IsValid() && !srv.acquire(s.addr) {
		n := srv.count(s.addr)
		srv.release(s.addr)
		srv.Log.Warningf("Connection concurrency limit exceeded: %d from %s for service %s", n, s.namaddr, srv.Cfg.Get("service_name"))
		s.send(reply{421, "4.7.0", srv.Hostname + " Error: too many connections from " + s.addr.String()})
		s.flush()
		s.logDisconnect()
		return
	}
	defer func() {
		if s.addr.IsValid() {
			srv.release(s.addr)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			srv.Log.Warningf("%s: panic in session after %s: %v\n%s", s.namaddr, s.where, r, debug.Stack())
		}
		s.abortTx()
		s.logDisconnect()
	}()
	if err := s.run(); err != nil && err != errClose {
		s.ioError(err)
	}
}

func (srv *Server) count(a netip.Addr) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.counts[a]
}

// identify finds the client's address and names.
func (s *session) identify() {
	s.name, s.revName = "unknown", "unknown"
	if s.srv.Local {
		s.addr = netip.MustParseAddr("127.0.0.1")
		s.name, s.revName = "localhost", "localhost"
	} else if ap, err := netip.ParseAddrPort(s.raw.RemoteAddr().String()); err == nil {
		s.addr = ap.Addr().Unmap()
		s.port = int(ap.Port())
	}
	if la, err := netip.ParseAddrPort(s.raw.LocalAddr().String()); err == nil {
		s.localAddr = la.Addr().Unmap().String()
	}
	if s.addr.IsValid() && !s.srv.Local && s.srv.PeernameLookup {
		s.lookupNames()
	}
	s.rfcAddr = s.addr.String()
	if s.addr.Is6() {
		s.rfcAddr = "IPv6:" + s.rfcAddr
	}
	if !s.addr.IsValid() {
		s.rfcAddr = "unknown"
	}
	s.namaddr = s.name + "[" + s.addrString() + "]"
}

func (s *session) addrString() string {
	if !s.addr.IsValid() {
		return "unknown"
	}
	return s.addr.String()
}

// lookupNames does the reverse lookup and the forward confirmation
// (Postfix's smtpd_peer.c): the reverse name is the PTR name; the client
// name is that name only when it resolves back to the address.
func (s *session) lookupNames() {
	r := s.srv.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	names, err := r.LookupAddr(ctx, s.addr.String())
	if err != nil || len(names) == 0 {
		return
	}
	name := strings.TrimSuffix(names[0], ".")
	if !address.ValidHostname(name) {
		return
	}
	s.revName = name
	addrs, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return
	}
	for _, a := range addrs {
		if a.Unmap() == s.addr {
			s.name = name
			return
		}
	}
}

// ioError logs the end of a session that the client did not end.
func (s *session) ioError(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.srv.Log.Infof("timeout after %s from %s", s.where, s.namaddr)
		s.send(reply{421, "4.4.2", s.srv.Hostname + " Error: timeout exceeded"})
		s.flush()
		return
	}
	s.srv.Log.Infof("lost connection after %s from %s", s.where, s.namaddr)
}

func (s *session) logDisconnect() {
	var b strings.Builder
	okAll, totAll := 0, 0
	for _, c := range cmdOrder {
		t := s.total[c]
		if t == 0 {
			continue
		}
		o := s.ok[c]
		okAll += o
		totAll += t
		if o == t {
			fmt.Fprintf(&b, " %s=%d", c, o)
		} else {
			fmt.Fprintf(&b, " %s=%d/%d", c, o, t)
		}
	}
	if okAll == totAll && totAll > 0 {
		fmt.Fprintf(&b, " commands=%d", okAll)
	} else {
		fmt.Fprintf(&b, " commands=%d/%d", okAll, totAll)
	}
	s.srv.Log.Infof("disconnect from %s%s", s.namaddr, b.String())
}

// send writes a reply (buffered: see readCommand). A 4xx/5xx reply
// counts as an error; past smtpd_soft_error_limit every reply waits
// smtpd_error_sleep_time first.
func (s *session) send(r reply) {
	s.sendCounted(r, r.code >= 400)
}

func (s *session) sendCounted(r reply, count bool) {
	if count {
		s.errors++
	}
	if s.errors >= s.srv.SoftErrors && s.srv.SoftErrors >= 0 && s.srv.ErrorSleep > 0 && s.errors > 0 {
		s.flush()
		select {
		case <-time.After(s.srv.ErrorSleep):
		case <-s.ctx.Done():
		}
	}
	s.lastCode = r.code
	s.bw.WriteString(r.String())
	s.bw.WriteString("\r\n")
}

// sendLines writes a multi-line reply.
func (s *session) sendLines(code int, lines []string) {
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(s.bw, "%d%s%s\r\n", code, sep, l)
	}
	s.lastCode = code
}

func (s *session) flush() error { return s.bw.Flush() }

// pending reports whether the client has sent data that we have not read
// yet: in our buffer, or in the kernel's (FIONREAD on the socket).
func (s *session) pending() bool {
	if s.br.Buffered() > 0 {
		return true
	}
	c := s.raw
	for {
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			break
		}
		c = u.Unwrap()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n > 0
}

// checkPipelining notes improper pipelining: input that is already
// there when we answer a command after which the client must wait
// (RFC 2920 section 3.1), or any command when PIPELINING was not
// negotiated. It reports whether the session must end
// (smtpd_forbid_unauth_pipelining).
func (s *session) checkPipelining(after string) bool {
	if s.illPipe || !s.pending() {
		return false
	}
	s.illPipe = true
	peek, _ := s.br.Peek(min(s.br.Buffered(), 100))
	s.srv.Log.Infof("improper command pipelining after %s from %s: %s", after, s.namaddr, escape(peek))
	if s.srv.ForbidPipe {
		s.send(reply{554, "5.5.0", "Error: SMTP protocol synchronization"})
		s.flush()
		return true
	}
	return false
}

// escape shows bytes as Postfix logs pipelined input: printable ASCII,
// with C escapes for CR, LF and TAB and \ooo for the rest.
func escape(p []byte) string {
	var b strings.Builder
	for _, c := range p {
		switch {
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\\':
			b.WriteString(`\\`)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// readLine reads one command line, flushing the pending replies first
// when the client has nothing more queued (so that a pipelined group is
// answered in one write). A line longer than line_length_limit is cut
// there and the rest skipped. bare reports a line ended by a bare LF.
func (s *session) readLine() (line string, bare bool, err error) {
	if s.br.Buffered() == 0 {
		if err := s.flush(); err != nil {
			return "", false, err
		}
	}
	var buf []byte
	for {
		chunk, err := s.br.ReadSlice('\n')
		if len(buf) < s.srv.LineLimit {
			buf = append(buf, chunk[:min(len(chunk), s.srv.LineLimit-len(buf))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", false, err
		}
		if n := len(chunk); n > 0 && chunk[n-1] == '\n' {
			bare = n < 2 || chunk[n-2] != '\r'
		}
		break
	}
	l := string(buf)
	l = strings.TrimSuffix(l, "\n")
	l = strings.TrimSuffix(l, "\r")
	return l, bare, nil
}

// run is the command loop.
func (s *session) run() error {
	srv := s.srv
	if srv.WrapperMode && srv.TLS != nil && !srv.Local {
		if err := s.startTLS(); err != nil {
			return errClose
		}
	}
	// Connect-stage policy (smtpd_client_restrictions without
	// smtpd_delay_reject).
	if s.checkPipelining("CONNECT") {
		return errClose
	}
	d := srv.Policy.Check(s.ctx, policy.StageConnect, s.policySession(""))
	if r, act := s.decide(policy.StageConnect, d, ""); act == actReject {
		s.send(r)
		s.denied = "Error: access denied for " + s.namaddr
	} else if act == actClose {
		s.send(r)
		s.flush()
		return errClose
	} else {
		s.sendCounted(reply{220, "", srv.Banner}, false)
	}
	for {
		if s.errors >= srv.HardErrors && srv.HardErrors > 0 {
			srv.Log.Infof("too many errors after %s from %s", s.where, s.namaddr)
			s.sendCounted(reply{421, "4.7.0", srv.Hostname + " Error: too many errors"}, false)
			s.flush()
			return errClose
		}
		if err := s.ctx.Err(); err != nil {
			s.sendCounted(reply{421, "4.3.2", srv.Hostname + " Service shutting down, closing transmission channel"}, false)
			s.flush()
			return errClose
		}
		line, bare, err := s.readLine()
		if err != nil {
			return err
		}
		if err := s.command(line, bare); err != nil {
			return err
		}
	}
}

const (
	actContinue = iota
	actReject
	actClose
)

// command serves one command line.
func (s *session) command(line string, bare bool) error {
	srv := s.srv
	verb, arg := splitCommand(line)
	if bare && srv.BareNewline == "reject" && !s.bareExcluded() {
		s.srv.Log.Infof("disconnect: bare <LF> received from %s after %s", s.namaddr, s.where)
		s.send(reply{srv.BareReject, "5.5.2", srv.Hostname + " Error: bare <LF> received"})
		s.flush()
		return errClose
	}
	h, known := handlers[verb]
	name := strings.ToLower(verb)
	if !known {
		name = "unknown"
	}
	// Non-SMTP commands (HTTP through a proxy) and lines that do not
	// start with a letter.
	if s.forbidden(verb, line) {
		srv.Log.Warningf("non-SMTP command from %s: %s", s.namaddr, printable(truncate(line, 100)))
		s.sendCounted(reply{221, "2.7.0", "Error: I can break rules, too. Goodbye."}, false)
		s.flush()
		return errClose
	}
	s.total[name]++
	s.lastCode = 0
	if known {
		s.where = verb
	} else {
		s.where = "UNKNOWN"
	}
	var err error
	switch {
	case !known:
		s.send(reply{500, "5.5.2", "Error: command not recognized"})
	case s.denied != "" && verb != "QUIT":
		s.send(reply{503, "5.7.0", s.denied})
	case srv.tlsRequired() && s.tls == nil && !h.preTLS:
		s.send(reply{530, "5.7.0", "Must issue a STARTTLS command first"})
	default:
		if h.junk {
			if s.junk++; s.junk > srv.JunkLimit {
				s.errors++
			}
		}
		err = h.fn(s, arg)
	}
	if s.lastCode > 0 && s.lastCode < 400 && (err == nil || err == errClose) || verb == "QUIT" {
		s.ok[name]++
	}
	if err != nil {
		return err
	}
	// RFC 2920: the client must wait after these, and after every
	// command when it did not see PIPELINING.
	if h.last || !s.pipelining {
		if s.checkPipelining(verb) {
			return errClose
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (s *session) forbidden(verb, line string) bool {
	if line == "" {
		return false
	}
	if c := line[0]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
		return true
	}
	for _, f := range s.srv.Forbidden {
		if f == verb || f+":" == verb {
			return true
		}
	}
	return false
}

func (s *session) bareExcluded() bool {
	return s.srv.Local || inNetworks(s.srv.BareExclusions, s.addr)
}

// protocol is the protocol_name: SMTP or ESMTP.
func (s *session) protocol() string {
	if s.esmtp {
		return "ESMTP"
	}
	return "SMTP"
}

// policySession brings the session's policy.Session up to date for a
// check (one Session per connection: the engine keeps state in it).
func (s *session) policySession(rcpt string) *policy.Session {
	p := s.ps
	if p == nil {
		p = &policy.Session{}
		s.ps = p
	}
	p.ClientAddr, p.ClientPort, p.ClientName, p.ReverseClientName = s.addr, s.port, s.name, s.revName
	p.Helo, p.Recipient, p.SASLMethod, p.SASLUser = s.helo, rcpt, s.saslMethod, s.saslUser
	p.TLS, p.Pipelined = s.tls != nil, s.illPipe
	p.Protocol = ""
	if s.helo != "" {
		p.Protocol = s.protocol()
	}
	p.Sender, p.QueueID, p.RecipientCount, p.Size = "", "", 0, 0
	if s.tx != nil {
		p.Sender = address.Quote(s.tx.sender)
		p.QueueID = s.tx.queueID
		p.RecipientCount = len(s.tx.rcpts)
		p.Size = s.tx.size
	}
	p.ETRNDomain = ""
	return p
}

// logID is the queue ID for log lines, or NOQUEUE.
func (s *session) logID() string {
	if s.tx != nil && s.tx.queueID != "" {
		return s.tx.queueID
	}
	return "NOQUEUE"
}

// rejectLog logs Postfix's "reject: STAGE from client: reply; from=<>
// to=<> proto= helo=<>" line for a rejection smtpd decides itself.
func (s *session) rejectLog(stage policy.Stage, r reply, rcpt string) {
	d := policy.Decision{Action: policy.Reject, Code: r.code, DSN: r.dsn, Text: r.text}
	if r.code < 500 {
		d.Action = policy.Defer
	}
	s.srv.Log.QInfof(s.logID(), "%s", policy.RejectLog(stage, s.policySession(rcpt), d))
}

// decide applies a policy decision: the reply to send when it rejects,
// and the message actions (hold, discard, redirect, filter, prepend)
// recorded in the transaction.
func (s *session) decide(stage policy.Stage, d policy.Decision, rcpt string) (reply, int) {
	for _, w := range d.Warn {
		s.srv.Log.QInfof(s.logID(), "%s", w)
	}
	if d.Rejected() {
		s.srv.Log.QInfof(s.logID(), "%s", policy.RejectLog(stage, s.ps, d))
		r := reply{d.Code, d.DSN, d.Text}
		if d.Action == policy.Disconnect {
			return r, actClose
		}
		return r, actReject
	}
	if tx := s.tx; tx != nil {
		tx.hold = tx.hold || d.Hold || d.Action == policy.Hold
		tx.discard = tx.discard || d.Discard || d.Action == policy.Discard
		if d.Redirect != "" {
			tx.redirect = d.Redirect
		}
		if d.Filter != "" {
			tx.filter = d.Filter
		}
		if stage != policy.StageEndOfData {
			tx.prepend = append(tx.prepend, d.Prepend...)
		}
	}
	return reply{}, actContinue
}

// abortTx forgets the transaction and aborts its submission.
func (s *session) abortTx() {
	if s.tx != nil && s.tx.sub != nil {
		s.tx.sub.Abort()
	}
	s.tx = nil
}

// tlsRequired: smtpd_tls_security_level = encrypt (or the legacy
// smtpd_enforce_tls).
func (srv *Server) tlsRequired() bool {
	return srv.TLSLevel == "encrypt" && !srv.Local
}

// itoa for the EHLO SIZE keyword.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
