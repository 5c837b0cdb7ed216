package rewrite

import (
	"strings"

	"postern/pkg/address"
)

// transportLookup applies transport_maps to res (Postfix's transport_lookup):
// the keys are the full recipient, the recipient without its address
// extension, the domain, its parent domains as ".parent" (or "parent" when
// transport_maps is in parent_domain_matches_subdomains), then "*". regexp
// and pcre tables see only the full recipient and "*".
func (r *Rewriter) transportLookup(res *Resolution, rcptDomain string) error {
	addr := res.Recipient
	v, found, err := r.transport.Find(addr, false)
	if err != nil || found {
		if found {
			updateEntry(res, v, rcptDomain)
		}
		return err
	}
	if stripped, ok := address.StripExtension(addr, r.rcptDelim, r.ownerRequestSpecial); ok {
		v, found, err := r.transport.Find(stripped, true)
		if err != nil || found {
			if found {
				updateEntry(res, v, rcptDomain)
			}
			return err
		}
	}
	for name := address.Domain(addr); name != ""; {
		v, found, err := r.transport.Find(name, true)
		if err != nil || found {
			if found {
				updateEntry(res, v, rcptDomain)
			}
			return err
		}
		i := strings.IndexByte(name[1:], '.')
		if i < 0 {
			break
		}
		name = name[i+1:]
		if r.transportParent {
			name = name[1:]
		}
	}
	v, found, err = r.transport.Find("*", false)
	if found {
		updateEntry(res, v, rcptDomain)
	}
	return err
}

// updateEntry applies a transport table result "transport:nexthop":
// ":nexthop" or ":" keeps the transport (and the nexthop when none is
// given); "transport" or "transport:" sets the transport and resets the
// nexthop to the recipient domain ("Address is undeliverable" for the
// error transport).
func updateEntry(res *Resolution, value, rcptDomain string) {
	channel, nexthop, _ := strings.Cut(value, ":")
	if channel == "" {
		if nexthop != "" {
			res.Nexthop = nexthop
		}
		return
	}
	res.Transport = channel
	switch {
	case nexthop != "":
		res.Nexthop = nexthop
	case channel != "error":
		res.Nexthop = rcptDomain
	default:
		res.Nexthop = "Address is undeliverable"
	}
}

// FindAddress looks an address up in m with Postfix's mail_addr_find key
// order for user+ext@domain (recipient_delimiter "+"):
//
//	user+ext@domain, user@domain, then (only when domain is local, see
//	IsLocal, or there is no domain) user+ext and user, then @domain.
//
// regexp and pcre tables are asked only the full address. A lookup error
// is returned as err.
func (r *Rewriter) FindAddress(m *Maps, addr string) (value string, found bool, err error) {
	if v, ok, err := m.Find(addr, false); ok || err != nil {
		return v, ok, err
	}
	local, domain, has := address.Split(addr)
	base, _, ext := address.SplitExtension(local, r.rcptDelim, r.ownerRequestSpecial)
	if has && ext {
		if v, ok, err := m.Find(base+"@"+domain, true); ok || err != nil {
			return v, ok, err
		}
	}
	localOK := !has
	if has {
		if localOK, err = r.IsLocal(domain); err != nil {
			return "", false, err
		}
	}
	if localOK {
		if has {
			if v, ok, err := m.Find(local, true); ok || err != nil {
				return v, ok, err
			}
		}
		if ext {
			if v, ok, err := m.Find(base, true); ok || err != nil {
				return v, ok, err
			}
		}
	}
	if has {
		return m.Find("@"+domain, true)
	}
	return "", false, nil
}
