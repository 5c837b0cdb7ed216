package sasl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mech is a mechanism announced by the Dovecot server.
type Mech struct {
	Name  string
	Flags []string
}

// Has reports whether the mechanism has the flag.
func (m Mech) Has(flag string) bool {
	for _, f := range m.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// Dovecot is a client of a Dovecot auth server. It is safe for concurrent
// use.
type Dovecot struct {
	// Path is the unix socket.
	Path string
	// Timeout bounds each exchange with the server (default 30s).
	Timeout time.Duration

	mu    sync.Mutex
	mechs []Mech
	id    uint32
}

// NewDovecot returns a client for the auth socket at path.
func NewDovecot(path string) *Dovecot { return &Dovecot{Path: path} }

func (d *Dovecot) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 30 * time.Second
}

// handshake connects and reads the server's greeting up to DONE.
func (d *Dovecot) handshake(ctx context.Context) (net.Conn, *bufio.Reader, []Mech, error) {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", d.Path)
	if err != nil {
		return nil, nil, nil, err
	}
	c.SetDeadline(time.Now().Add(d.timeout()))
	if _, err := fmt.Fprintf(c, "VERSION\t1\t2\nCPID\t%d\n", os.Getpid()); err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	br := bufio.NewReaderSize(c, 4096)
	var mechs []Mech
	for {
		line, err := readLine(br)
		if err != nil {
			c.Close()
			return nil, nil, nil, err
		}
		f := strings.Split(line, "\t")
		switch f[0] {
		case "VERSION":
			if len(f) < 2 || f[1] != "1" {
				c.Close()
				return nil, nil, nil, fmt.Errorf("unsupported Dovecot auth protocol version: %s", strings.Join(f[1:], "."))
			}
		case "MECH":
			if len(f) >= 2 {
				mechs = append(mechs, Mech{Name: strings.ToUpper(f[1]), Flags: f[2:]})
			}
		case "DONE":
			return c, br, mechs, nil
		}
	}
}

// readLine reads one protocol line without its newline; lines are bounded.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", errors.New("Dovecot auth server line too long")
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(line[:len(line)-1]), "\r"), nil
}

// Mechanisms returns the server's mechanisms (cached after the first
// successful handshake).
func (d *Dovecot) Mechanisms(ctx context.Context) ([]Mech, error) {
	d.mu.Lock()
	m := d.mechs
	d.mu.Unlock()
	if m != nil {
		return m, nil
	}
	c, _, mechs, err := d.handshake(ctx)
	if err != nil {
		return nil, err
	}
	c.Close()
	if len(mechs) == 0 {
		return nil, errors.New("no SASL authentication mechanisms")
	}
	d.mu.Lock()
	d.mechs = mechs
	d.mu.Unlock()
	return mechs, nil
}

// Filter returns the names of the mechanisms that the security options
// allow (Postfix's smtpd_sasl_security_options words: noanonymous,
// noplaintext, nodictionary, noactive, mutual_auth, forward_secrecy).
func Filter(mechs []Mech, options []string) []string {
	var out []string
next:
	for _, m := range mechs {
		if m.Has("private") {
			continue
		}
		for _, o := range options {
			switch strings.ToLower(o) {
			case "noanonymous":
				if m.Has("anonymous") {
					continue next
				}
			case "noplaintext":
				if m.Has("plaintext") {
					continue next
				}
			case "nodictionary":
				if m.Has("dictionary") {
					continue next
				}
			case "noactive":
				if m.Has("active") {
					continue next
				}
			case "mutual_auth":
				if !m.Has("mutual-auth") {
					continue next
				}
			case "forward_secrecy":
				if !m.Has("forward-secrecy") {
					continue next
				}
			}
		}
		out = append(out, m.Name)
	}
	return out
}

// Request describes one authentication.
type Request struct {
	Mech     string
	Service  string // "smtp"
	LocalIP  string
	RemoteIP string
	Secured  bool // TLS is active
	// InitialResponse is the base64 text of the client's initial
	// response ("=" for an empty one); HasInitial says whether there was
	// one.
	InitialResponse string
	HasInitial      bool
}

// Status of a step.
type Status int

const (
	Continue Status = iota // Challenge holds the next challenge
	OK                     // authenticated as User
	Fail                   // rejected: Reason
	Temp                   // temporary failure: Reason
)

// Result is the server's answer to one step.
type Result struct {
	Status    Status
	Challenge string // base64, for Continue
	User      string // for OK (and sometimes Fail)
	Reason    string // for Fail and Temp
}

// Conversation is one authentication exchange.
type Conversation struct {
	d  *Dovecot
	c  net.Conn
	br *bufio.Reader
	id uint32
}

// validBase64 is Postfix's is_valid_base64: the alphabet only, so that no
// TAB or newline can reach the protocol stream.
func validBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// Start sends the AUTH request and returns the server's first answer.
// A connection problem is a Temp result, not an error.
func (d *Dovecot) Start(ctx context.Context, req Request) (*Conversation, Result) {
	if req.HasInitial && !validBase64(req.InitialResponse) {
		return nil, Result{Status: Fail, Reason: "Invalid base64 data in initial response"}
	}
	if !validMechName(req.Mech) {
		return nil, Result{Status: Fail, Reason: "Invalid authentication mechanism"}
	}
	c, br, mechs, err := d.handshake(ctx)
	if err != nil {
		return nil, Result{Status: Temp, Reason: "Can't connect to authentication server"}
	}
	d.mu.Lock()
	if d.mechs == nil && len(mechs) > 0 {
		d.mechs = mechs
	}
	d.id++
	id := d.id
	d.mu.Unlock()
	found := false
	for _, m := range mechs {
		if strings.EqualFold(m.Name, req.Mech) {
			found = true
		}
	}
	if !found {
		c.Close()
		return nil, Result{Status: Fail, Reason: "Invalid authentication mechanism"}
	}
	svc := req.Service
	if svc == "" {
		svc = "smtp"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "AUTH\t%d\t%s\tservice=%s\tnologin\tlip=%s\trip=%s", id, req.Mech, svc, clean(req.LocalIP), clean(req.RemoteIP))
	if req.Secured {
		b.WriteString("\tsecured")
	}
	if req.HasInitial {
		b.WriteString("\tresp=" + req.InitialResponse)
	}
	b.WriteString("\n")
	cv := &Conversation{d: d, c: c, br: br, id: id}
	c.SetDeadline(time.Now().Add(d.timeout()))
	if _, err := c.Write([]byte(b.String())); err != nil {
		c.Close()
		return nil, Result{Status: Temp, Reason: "Connection lost to authentication server"}
	}
	return cv, cv.reply()
}

func validMechName(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Next sends the client's response (base64) and returns the answer.
func (cv *Conversation) Next(resp string) Result {
	if !validBase64(resp) {
		return Result{Status: Fail, Reason: "Invalid base64 data in continued response"}
	}
	cv.c.SetDeadline(time.Now().Add(cv.d.timeout()))
	if _, err := fmt.Fprintf(cv.c, "CONT\t%d\t%s\n", cv.id, resp); err != nil {
		return Result{Status: Temp, Reason: "Connection lost to authentication server"}
	}
	return cv.reply()
}

// Close ends the exchange.
func (cv *Conversation) Close() {
	if cv != nil && cv.c != nil {
		cv.c.Close()
	}
}

func (cv *Conversation) reply() Result {
	for {
		line, err := readLine(cv.br)
		if err != nil {
			return Result{Status: Temp, Reason: "Connection lost to authentication server"}
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			continue
		}
		if id, err := strconv.ParseUint(f[1], 10, 32); err != nil || uint32(id) != cv.id {
			continue
		}
		args := f[2:]
		switch f[0] {
		case "OK":
			r := Result{Status: OK}
			parseArgs(args, &r)
			if r.User == "" {
				return Result{Status: Fail, Reason: "Authentication backend error"}
			}
			return r
		case "CONT":
			if len(args) == 0 {
				return Result{Status: Fail, Reason: "Authentication backend error"}
			}
			return Result{Status: Continue, Challenge: args[0]}
		case "FAIL":
			r := Result{Status: Fail}
			parseArgs(args, &r)
			for _, a := range args {
				if a == "temp" {
					r.Status = Temp
				}
			}
			return r
		}
	}
}

func parseArgs(args []string, r *Result) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "user="); ok {
			r.User = clean(v)
		} else if v, ok := strings.CutPrefix(a, "reason="); ok && r.Status != OK {
			r.Reason = clean(v)
		}
	}
}
