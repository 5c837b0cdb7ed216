package policy

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"postern/pkg/dnsbl"
	"postern/pkg/table"
)

// Stage is the SMTP command a check is made for.
type Stage int

const (
	StageConnect Stage = iota
	StageHelo
	StageMail
	StageRcpt
	StageData
	StageEndOfData
	StageETRN
	StageVRFY
)

// String returns the stage as the log names it ("RCPT", "END-OF-MESSAGE").
func (st Stage) String() string {
	switch st {
	case StageConnect:
		return "CONNECT"
	case StageHelo:
		return "HELO"
	case StageMail:
		return "MAIL"
	case StageRcpt:
		return "RCPT"
	case StageData:
		return "DATA"
	case StageEndOfData:
		return "END-OF-MESSAGE"
	case StageETRN:
		return "ETRN"
	case StageVRFY:
		return "VRFY"
	}
	return "UNKNOWN"
}

// Session is what smtpd knows about the client and the current command.
// smtpd keeps one Session per connection and updates its fields as the
// dialogue goes on; the policy engine keeps per-session state (cached
// results of the delayed client/helo/sender lists, a pending
// defer_if_permit) in unexported fields, so a Session must not be copied
// between Checks.
type Session struct {
	ClientAddr netip.Addr
	ClientPort int
	// ClientName is the verified client host name, "unknown" (or "")
	// when there is none; ReverseClientName the unverified PTR name.
	ClientName, ReverseClientName string
	Helo                          string // HELO/EHLO argument, "" before HELO
	Sender                        string // MAIL FROM address ("" is the null sender at StageMail and later)
	Recipient                     string // RCPT TO (or VRFY) address of this check
	SASLMethod, SASLUser          string // set after a successful AUTH
	TLS                           bool   // the session is encrypted
	// Pipelined is set when the client sent this command before the
	// reply to the previous one without having negotiated PIPELINING
	// (reject_unauth_pipelining).
	Pipelined bool
	QueueID   string // queue ID once the queue file exists, else ""
	Protocol  string // "SMTP", "ESMTP" ... ("" before HELO/EHLO)
	// RecipientCount is the number of recipients accepted so far in this
	// transaction (before the one being checked at StageRcpt).
	RecipientCount int
	Size           int64 // MAIL FROM SIZE= (0 when not given)
	// ETRNDomain is the ETRN argument (StageETRN).
	ETRNDomain string

	mu    sync.Mutex
	cache map[string]*listResult // delayed list results, by list and key
	// pendingDIP is a defer_if_permit raised at an earlier stage
	// (smtpd_delay_reject = no), applied at RCPT.
	pendingDIP *reply
}

// Action is what smtpd must do with the command.
type Action int

const (
	Dunno Action = iota // no restriction decided: accept
	Permit
	Reject     // 5xx reply
	Defer      // 4xx reply
	Discard    // accept, then discard the whole message
	Hold       // accept, put the message on hold
	Redirect   // accept, replace all recipients by Decision.Redirect
	Filter     // accept, route the message via Decision.Filter
	Disconnect // send the reply (421 or 521), then close the connection
)

func (a Action) String() string {
	return [...]string{"dunno", "permit", "reject", "defer", "discard", "hold", "redirect", "filter", "disconnect"}[a]
}

// Decision is the outcome of a Check.
//
// When Action is Reject, Defer or Disconnect, smtpd replies
// "Code DSN Text" (Reply does that) and logs RejectLog. Otherwise the
// command is accepted; then the message flags apply to the whole message
// (they may be set together: Action names the strongest, Discard > Hold >
// Redirect > Filter), Prepend lists headers to put above smtpd's own
// Received: (not at StageEndOfData, where Postfix ignores PREPEND), and
// Warn lists log lines, each to be logged as "QUEUEID: LINE" (NOQUEUE
// without a queue ID): "warn: ...", "hold: ...", "discard: ...",
// "redirect: ...", "filter: ...", "reject_warning: ...". Warn lines are
// set for rejections too.
type Decision struct {
	Action   Action
	Code     int
	DSN      string
	Text     string
	Redirect string
	Filter   string
	Prepend  []string
	Warn     []string
	Hold     bool
	Discard  bool
}

// Reply returns the SMTP reply line of a rejection: "554 5.7.1 <x>: Relay
// access denied".
func (d Decision) Reply() string {
	if d.DSN == "" {
		return fmt.Sprintf("%d %s", d.Code, d.Text)
	}
	return fmt.Sprintf("%d %s %s", d.Code, d.DSN, d.Text)
}

// Rejected reports whether the command is refused (Reject, Defer or
// Disconnect).
func (d Decision) Rejected() bool {
	return d.Action == Reject || d.Action == Defer || d.Action == Disconnect
}

// RejectLog returns the log line of a rejection in Postfix's layout,
// without the queue ID, which smtpd puts in front ("NOQUEUE" before the
// queue file exists):
//
//	reject: RCPT from host[addr]: 554 5.7.1 <x>: Relay access denied; from=<a> to=<b> proto=ESMTP helo=<h>
func RejectLog(stage Stage, s *Session, d Decision) string {
	return whatsup("reject", stage, s, d.Reply())
}

// whatsup formats Postfix's log_whatsup line.
func whatsup(what string, stage Stage, s *Session, text string) string {
	var b strings.Builder
	where := stage.String()
	if stage == StageHelo && strings.HasPrefix(strings.ToUpper(s.Protocol), "ESMTP") {
		where = "EHLO"
	}
	fmt.Fprintf(&b, "%s: %s from %s: %s;", what, where, namaddr(s), text)
	switch stage {
	case StageMail, StageRcpt, StageData, StageEndOfData:
		fmt.Fprintf(&b, " from=<%s>", s.Sender)
	default:
		if s.Sender != "" {
			fmt.Fprintf(&b, " from=<%s>", s.Sender)
		}
	}
	if (stage == StageRcpt || stage == StageVRFY) && s.Recipient != "" {
		fmt.Fprintf(&b, " to=<%s>", s.Recipient)
	}
	if s.Protocol != "" {
		fmt.Fprintf(&b, " proto=%s", s.Protocol)
	}
	if s.Helo != "" {
		fmt.Fprintf(&b, " helo=<%s>", s.Helo)
	}
	return b.String()
}

func clientName(s *Session) string {
	if s.ClientName == "" {
		return "unknown"
	}
	return s.ClientName
}

func namaddr(s *Session) string {
	return clientName(s) + "[" + s.ClientAddr.Unmap().String() + "]"
}

// Resolver classifies recipient addresses: trivial-rewrite's resolve
// request. The flags are proto/mail.proto's RESOLVE_* bits.
type Resolver interface {
	Resolve(ctx context.Context, sender, addr string) (Resolution, error)
}

// Resolution is the part of trivial-rewrite's answer the policy uses.
type Resolution struct {
	Transport, Nexthop, Recipient string
	Flags                         uint32
}

// DNS is what the policy asks the DNS (package postern/pkg/dnsbl
// implements it).
type DNS interface {
	Check(ctx context.Context, name string, filter *dnsbl.Filter) (*dnsbl.Listing, bool)
	MailHost(ctx context.Context, domain string) (dnsbl.Status, bool)
	LookupA(ctx context.Context, name string) ([]netip.Addr, dnsbl.Status)
}

// Option changes how New builds a Checker.
type Option func(*Checker)

// WithResolver replaces the trivial-rewrite client (tests use a fake).
func WithResolver(r Resolver) Option { return func(c *Checker) { c.resolver = r } }

// WithDNS replaces the DNS client.
func WithDNS(d DNS) Option { return func(c *Checker) { c.dns = d } }

// WithDNSServer makes DNS queries go to one server, host:port, instead of
// the servers of resolver_conf_file (tests run a server on a high port).
func WithDNSServer(addr string) Option { return func(c *Checker) { c.dnsServer = addr } }

// WithWarn replaces the function that logs configuration warnings
// (default: log.Warningf).
func WithWarn(fn func(format string, a ...any)) Option {
	return func(c *Checker) { c.warnf = fn }
}

// tableOpen opens a table named in the configuration. "proxy:" is opened
// directly (there is no proxymap). A table that cannot be opened becomes
// one whose lookups fail, as Postfix's surrogate tables do.
func (c *Checker) tableOpen(spec string) table.Table {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if t, ok := c.tables[spec]; ok {
		return t
	}
	name := strings.TrimPrefix(spec, "proxy:")
	var t table.Table
	typ, _, _ := table.SplitSpec(name)
	if typ == "nis" || typ == "nisplus" {
		// Postfix on a host without NIS: the table finds nothing.
		t = emptyTable(spec)
	} else {
		var err error
		t, err = table.Open(name, 0, table.Warn(c.warnf))
		if err != nil {
			c.warnf("%s is unavailable. %v", spec, err)
			t = &brokenTable{name: spec, err: err}
		}
	}
	c.tables[spec] = t
	return t
}

type emptyTable string

func (e emptyTable) Lookup(string) (string, bool, error) { return "", false, nil }
func (e emptyTable) Name() string                        { return string(e) }
func (e emptyTable) Changed() bool                       { return false }
func (e emptyTable) Close() error                        { return nil }

type brokenTable struct {
	name string
	err  error
}

func (b *brokenTable) Lookup(string) (string, bool, error) { return "", false, errConfig{b.err} }
func (b *brokenTable) Name() string                        { return b.name }
func (b *brokenTable) Changed() bool                       { return false }
func (b *brokenTable) Close() error                        { return nil }

// errConfig marks a table that could not be opened (451 4.3.5 Server
// configuration error instead of 451 4.3.0 Temporary lookup failure).
type errConfig struct{ err error }

func (e errConfig) Error() string { return e.err.Error() }
