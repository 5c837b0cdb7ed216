package smtpd

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"postern/pkg/address"
	"postern/pkg/config"
)

// The access policy interface. pkg/policy (the restriction engine) is
// written beside smtpd; until it is wired in, these types mirror its API
// one for one and a minimal stand-in (standinPolicy) applies Postfix's
// default relay rule.

// Stage is the SMTP stage a policy check runs at.
type Stage int

// The stages.
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

var stageNames = [...]string{"CONNECT", "HELO", "MAIL", "RCPT", "DATA", "END-OF-MESSAGE", "ETRN", "VRFY"}

func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "UNKNOWN"
}

// PolicySession is what the policy sees of a session.
type PolicySession struct {
	ClientAddr                    netip.Addr
	ClientPort                    int
	ClientName, ReverseClientName string
	Helo                          string
	Sender                        string
	Recipient                     string
	SASLMethod, SASLUser          string
	TLS                           bool
	Pipelined                     bool
	QueueID                       string
	Protocol                      string
	RecipientCount                int
	Size                          int64
}

// Action is a policy verdict.
type Action int

// The actions.
const (
	Dunno Action = iota
	Permit
	Reject
	Defer
	Discard
	Hold
	Redirect
	Filter
	Disconnect
)

// Decision is a policy answer.
type Decision struct {
	Action           Action
	Code             int
	DSN              string
	Text             string
	Redirect, Filter string
	Prepend          []string
	Warn             []string
}

// Policy checks a session at a stage.
type Policy interface {
	Check(ctx context.Context, stage Stage, s *PolicySession) Decision
}

// standinPolicy is smtpd_relay_restrictions' default
// (permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination)
// with mydestination as the only local domains.
type standinPolicy struct {
	mynetworks []netip.Prefix
	local      map[string]bool
}

func newStandinPolicy(c *config.Config) *standinPolicy {
	p := &standinPolicy{mynetworks: parseNetworks(c.List("mynetworks")), local: map[string]bool{}}
	for _, d := range c.List("mydestination") {
		p.local[strings.ToLower(d)] = true
	}
	return p
}

func (p *standinPolicy) Check(_ context.Context, stage Stage, s *PolicySession) Decision {
	if stage != StageRcpt {
		return Decision{}
	}
	if inNetworks(p.mynetworks, s.ClientAddr) || s.SASLUser != "" {
		return Decision{Action: Permit}
	}
	if _, dom, ok := address.Split(s.Recipient); ok && p.local[strings.ToLower(dom)] {
		return Decision{Action: Permit}
	}
	return Decision{Action: Defer, Code: 454, DSN: "4.7.1",
		Text: fmt.Sprintf("<%s>: Relay access denied", s.Recipient)}
}

// initPolicy installs the policy engine (or the stand-in).
func (s *Server) initPolicy() error {
	if s.Policy == nil {
		s.Policy = newStandinPolicy(s.Cfg)
	}
	return nil
}
