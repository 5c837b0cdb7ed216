package rewrite

import (
	"errors"
	"strings"

	"postern/pkg/address"
	"postern/pkg/log"
	pb "postern/proto"
)

// Resolution flags and classes, the values of pb.ResolveFlag.
const (
	FlagFinal    = uint32(pb.ResolveFlag_RESOLVE_FLAG_FINAL)
	FlagRouted   = uint32(pb.ResolveFlag_RESOLVE_FLAG_ROUTED)
	FlagError    = uint32(pb.ResolveFlag_RESOLVE_FLAG_ERROR)
	FlagFail     = uint32(pb.ResolveFlag_RESOLVE_FLAG_FAIL)
	ClassLocal   = uint32(pb.ResolveFlag_RESOLVE_CLASS_LOCAL)
	ClassAlias   = uint32(pb.ResolveFlag_RESOLVE_CLASS_ALIAS)
	ClassVirtual = uint32(pb.ResolveFlag_RESOLVE_CLASS_VIRTUAL)
	ClassRelay   = uint32(pb.ResolveFlag_RESOLVE_CLASS_RELAY)
	ClassDefault = uint32(pb.ResolveFlag_RESOLVE_CLASS_DEFAULT)

	// ClassMask selects the class bits of a flags word.
	ClassMask = ClassLocal | ClassAlias | ClassVirtual | ClassRelay | ClassDefault
)

// Resolution is where a recipient goes: the master.cf transport, its next
// hop and the recipient address to deliver to, with flags (FlagX | ClassX).
type Resolution struct {
	Transport string
	Nexthop   string
	Recipient string
	Flags     uint32
}

// Proto returns r as the gRPC message.
func (r Resolution) Proto() *pb.Resolution {
	return &pb.Resolution{Transport: r.Transport, Nexthop: r.Nexthop, Recipient: r.Recipient, Flags: r.Flags}
}

// Class returns the class bits of r.Flags.
func (r Resolution) Class() uint32 { return r.Flags & ClassMask }

// BadSyntaxText is the error transport's next hop (the bounce reason) for a
// recipient with FlagError, as Postfix's qmgr words it.
const BadSyntaxText = "5.1.3 bad address syntax"

// Resolve resolves a recipient to (transport, nexthop, recipient, flags),
// as trivial-rewrite's "resolve" request (Postfix's resolve_addr). sender
// is the envelope sender, used by the sender_dependent_* maps ("" is the
// null sender).
//
// The address is first canonicalised (Rewrite, local context: a bare
// "user" becomes user@$myorigin). Then every local domain is stripped from
// the right, and while the rest still holds routing operators ("@", "!"
// with swap_bangpath, "%" with allow_percent_hack; also inside a quoted
// local part with resolve_dequoted_address) it is rewritten again and the
// loop continues: user%remote.example@localdomain resolves to
// user@remote.example. An empty local part becomes $empty_address_recipient
// (the null address resolves to MAILER-DAEMON@$myhostname, local). A
// local-class recipient keeps the (last) local domain it had.
//
// Classes, the first that matches: local (the domain was stripped as
// local), virtual alias (virtual_alias_domains: transport error, next hop
// "5.1.1 User unknown in virtual alias table"), virtual mailbox
// (virtual_mailbox_domains: $virtual_transport, the domain), relay
// (relay_domains: $relay_transport) and default ($default_transport, or
// sender_dependent_default_transport_maps). For relay and default the next
// hop is sender_dependent_relayhost_maps, else $relayhost, else the
// domain. A nexthop written in the class's transport parameter
// (local:$myhostname, relay:[gw]:25) overrides those; transport_maps
// overrides all of them (but never the virtual alias class): keys
// user+ext@domain, user@domain, domain, .parent.domain ..., "*".
//
// Flags: FlagRouted when the recipient's local part still holds "@", "!" or
// "%"; FlagError for a bad domain (not a valid host name or address
// literal) or a recipient starting with "-" (unless allow_min_user), with
// transport "error" and next hop BadSyntaxText; FlagFail, with a warning
// in the log, when a table lookup failed (try again later);
// FlagFinal for the local, virtual alias and virtual mailbox classes.
//
// relocated_maps is not consulted here: cleanup and qmgr own that table
// (the reference puts it last, after transport_maps, in this same
// precedence).
//
// When FlagFail is set Resolve also returns ErrLookup: the caller must try
// again later (a deferral, or smtpd's 451 4.3.0).
func (r *Rewriter) Resolve(sender, addr string) (Resolution, error) {
	res := r.resolve(sender, addr)
	if res.Flags&FlagFail != 0 {
		return res, ErrLookup
	}
	return res, nil
}

// ErrLookup reports a failed table lookup during Resolve.
var ErrLookup = errors.New("address resolver lookup failure")

func (r *Rewriter) fail(res *Resolution, what string, err error) {
	log.Warningf("%s lookup failure: %v", what, err)
	res.Flags |= FlagFail
}

func (r *Rewriter) resolve(sender, input string) Resolution {
	var res Resolution
	addr := r.rewrite(input, r.myorigin, r.mydomain)

	var savedDomain string
	hasSaved, remote := false, false
	maxLoop := len(addr) + 100
	for loop := 0; ; loop++ {
		if loop > maxLoop {
			log.Warningf("resolve_addr: <%s>: giving up after %d iterations", input, loop)
			res.Flags |= FlagFail
			return res
		}
		local, domain, has := address.Split(addr)
		if has {
			// Trailing dot, but not ".." or "@.".
			if n := len(domain); n >= 2 && domain[n-1] == '.' && domain[n-2] != '.' {
				domain = domain[:n-1]
			}
		} else if strings.HasSuffix(addr, "@") && addr != "@" {
			// "user@": an empty domain, resolved (and flagged) as such
			// unless resolve_null_domain strips it.
			local, domain, has = addr[:len(addr)-1], "", !r.resolveNullDomain
			if r.resolveNullDomain {
				addr = local
				continue
			}
		}
		if has {
			if domain != "" {
				isLocal, err := r.IsLocal(domain)
				if err != nil {
					r.fail(&res, "mydestination", err)
					return res
				}
				if !isLocal {
					addr = local + "@" + domain
					remote = true
					break
				}
			}
			addr, savedDomain, hasSaved = local, domain, true
		}
		// After stripping a local domain: routing operators left?
		quoted := address.NeedsQuote(addr)
		if !quoted && (r.swapBang && strings.IndexByte(addr, '!') >= 0 ||
			r.percentHack && strings.IndexByte(addr, '%') >= 0) {
			addr = r.rewrite(addr, r.myorigin, r.mydomain)
			continue
		}
		if quoted && r.resolveDequoted && addr != "" {
			if na, ok := r.crack(addr); ok {
				addr = r.rewrite(na, r.myorigin, r.mydomain)
				continue
			}
		}
		if addr == "" {
			addr = r.emptyAddr
			if addr == "" || addr == "@" {
				addr = "MAILER-DAEMON"
			}
			continue
		}
		if !hasSaved {
			addr = addr + "@" + r.myhostname
			continue
		}
		break
	}

	rcpt := addr
	if !remote {
		rcpt = addr + "@" + savedDomain
	}
	rcptDomain := address.Domain(rcpt)
	switch {
	case strings.HasPrefix(rcptDomain, "["):
		if !address.ValidLiteral(rcptDomain) {
			res.Flags |= FlagError
		}
	case !address.ValidHostname(rcptDomain):
		if r.resolveNumericDomain && address.ValidHostAddr(rcptDomain) {
			rcptDomain = "[" + rcptDomain + "]"
			rcpt = address.Local(rcpt) + "@" + rcptDomain
			isLocal, err := r.IsLocal(rcptDomain)
			if err != nil {
				r.fail(&res, "mydestination", err)
				return res
			}
			remote = !isLocal
		} else {
			res.Flags |= FlagError
		}
	}
	res.Recipient = rcpt
	if res.Flags&FlagError != 0 {
		res.Flags |= ClassDefault
		res.Transport, res.Nexthop = "error", BadSyntaxText
		return res
	}
	if strings.ContainsAny(address.Local(rcpt), "@!%") {
		res.Flags |= FlagRouted
	}

	var transport string
	if remote {
		inAlias, err := r.virtAlias.Match(rcptDomain)
		if err != nil {
			r.fail(&res, "virtual_alias_domains", err)
			return res
		}
		if inAlias {
			if r.helpfulWarnings {
				r.warnBoth(rcptDomain, "virtual_alias_domains", "virtual_mailbox_domains", r.virtMailbox)
				r.warnBoth(rcptDomain, "virtual_alias_domains", "relay_domains", r.relayDomains)
			}
			transport = "error"
			res.Nexthop = "5.1.1 User unknown"
			if r.showUnknownTable {
				res.Nexthop += " in virtual alias table"
			}
			res.Flags |= ClassAlias | FlagFinal
		} else {
			inMailbox, err := r.virtMailbox.Match(rcptDomain)
			if err != nil {
				r.fail(&res, "virtual_mailbox_domains", err)
				return res
			}
			if inMailbox {
				if r.helpfulWarnings {
					r.warnBoth(rcptDomain, "virtual_mailbox_domains", "relay_domains", r.relayDomains)
				}
				transport, res.Nexthop = r.virtualTransport, rcptDomain
				res.Flags |= ClassVirtual | FlagFinal
			} else {
				inRelay, err := r.relayDomains.Match(rcptDomain)
				if err != nil {
					r.fail(&res, "relay_domains", err)
					return res
				}
				if inRelay {
					transport = r.relayTransport
					res.Flags |= ClassRelay
				} else {
					transport = r.defaultTransport
					if r.sndDefXport != nil {
						key := sender
						if key == "" {
							key = r.nullDefXportKey
						}
						v, found, err := r.FindAddress(r.sndDefXport, key)
						if err != nil {
							r.fail(&res, r.sndDefXport.Name, err)
							return res
						}
						if found {
							if v == "" {
								log.Warningf("%s: ignoring null lookup result for %s", r.sndDefXport.Name, key)
							} else if !strings.EqualFold(v, "DUNNO") {
								transport = v
							}
						}
					}
					res.Flags |= ClassDefault
				}
				// Off-host: sender-dependent relayhost, relayhost, or
				// the recipient domain.
				res.Nexthop = rcptDomain
				relay, found := "", false
				if r.sndRelay != nil {
					key := sender
					if key == "" {
						key = r.nullRelayKey
					}
					v, ok, err := r.FindAddress(r.sndRelay, key)
					if err != nil {
						r.fail(&res, r.sndRelay.Name, err)
						return res
					}
					if ok && v == "" {
						log.Warningf("%s: ignoring null lookup result for %s", r.sndRelay.Name, key)
						v = "DUNNO"
					}
					relay, found = v, ok
				}
				switch {
				case found && !strings.EqualFold(relay, "DUNNO"):
					res.Nexthop = relay
				case found:
				case r.relayhost != "":
					res.Nexthop = r.relayhost
				}
			}
		}
	} else {
		if r.helpfulWarnings {
			r.warnBoth(rcptDomain, "mydestination", "virtual_alias_domains", r.virtAlias)
			r.warnBoth(rcptDomain, "mydestination", "virtual_mailbox_domains", r.virtMailbox)
		}
		transport, res.Nexthop = r.localTransport, rcptDomain
		res.Flags |= ClassLocal | FlagFinal
	}

	// A nexthop written in the transport parameter (local:$myhostname,
	// relay:[gw]:25) overrides the one chosen above.
	if i := strings.IndexByte(transport, ':'); i >= 0 {
		if nh := transport[i+1:]; nh != "" {
			res.Nexthop = nh
		}
		transport = transport[:i]
	}
	if transport == "" {
		log.Warningf("file %s/main.cf: parameter %s: null transport is not allowed", r.configDir, r.blame(res.Flags))
		res.Flags |= FlagFail
		return res
	}
	res.Transport = transport

	// transport_maps overrides transport and nexthop of every class but
	// the virtual alias class.
	if r.transport != nil && res.Flags&ClassAlias == 0 {
		if err := r.transportLookup(&res, rcptDomain); err != nil {
			r.fail(&res, "transport_maps", err)
			return res
		}
	}

	// relocated_maps (error:5.1.6 User has moved to ...) would come here,
	// last; it belongs to cleanup/qmgr in postern and is not consulted.

	// A recipient that starts with "-" could pass as an option to a
	// command: bounce it, unless allow_min_user.
	if !r.allowMinUser && strings.HasPrefix(res.Recipient, "-") {
		res.Flags |= FlagError
		res.Transport, res.Nexthop = "error", BadSyntaxText
	}
	return res
}

// crack opens a quoted local part that holds a routing operator (the last
// "@", else the last "%" with allow_percent_hack, else a "!" with
// swap_bangpath) and returns it as an address to rewrite again.
func (r *Rewriter) crack(local string) (string, bool) {
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		return local, true
	}
	if i := strings.LastIndexByte(local, '%'); r.percentHack && i >= 0 {
		return local[:i] + "@" + local[i+1:], true
	}
	if i := strings.IndexByte(local, '!'); r.swapBang && i >= 0 {
		return local[i+1:] + "@" + local[:i], true
	}
	return "", false
}

func (r *Rewriter) warnBoth(domain, p1, p2 string, l *DomainList) {
	if ok, _ := l.Match(domain); ok {
		log.Warningf("do not list domain %s in BOTH %s and %s", domain, p1, p2)
	}
}

func (r *Rewriter) blame(flags uint32) string {
	switch {
	case flags&ClassLocal != 0:
		return "local_transport"
	case flags&ClassVirtual != 0:
		return "virtual_transport"
	case flags&ClassRelay != 0:
		return "relay_transport"
	case r.sndDefXport != nil:
		return "default_transport or " + r.sndDefXport.Name
	}
	return "default_transport"
}
