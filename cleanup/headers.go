package cleanup

import (
	"fmt"
	"strings"

	"postern/pkg/header"
	"postern/pkg/log"
)

// headerState is what cleanup remembers of the primary header block.
type headerState struct {
	seen    map[string]bool // canonical names of known headers seen
	resent  bool            // a Resent- header was seen
	hops    int             // Received: headers
	sepNeed bool            // the body began without a separator line
	any     bool            // a header was written
}

// header handles one header of the primary header block (Postfix's
// cleanup_header_callback): count hops, log the message ID, drop
// message_drop_headers, rewrite address headers in the local context,
// copy everything else unchanged.
func (m *message) header(f *header.Field) error {
	if m.rejected != nil {
		return nil
	}
	info, known := header.Lookup(f.Name)
	if !known {
		return m.writeHeader(f.Raw)
	}
	if m.hdr.seen == nil {
		m.hdr.seen = map[string]bool{}
	}
	m.hdr.seen[info.Name] = true
	if info.Resent {
		m.hdr.resent = true
	}
	switch info.Name {
	case "Received":
		m.hdr.hops++
		if m.s.HopcountLimit > 0 && m.hdr.hops >= m.s.HopcountLimit {
			if m.rejected == nil {
				log.Warningf("%s: message rejected: hopcount exceeded", m.id)
			}
			m.rejected = errHops
			return nil
		}
	case "Message-Id":
		log.QInfof(m.id, "message-id=%s", logValue(f.Value))
	case "Resent-Message-Id":
		log.QInfof(m.id, "resent-message-id=%s", logValue(f.Value))
	}
	if m.s.DropHeaders[strings.ToLower(info.Name)] {
		return nil
	}
	if info.Kind == header.Other || !m.localHeaders() {
		return m.writeHeader(f.Raw)
	}
	l, ok := header.ParseAddressList(string(f.Value))
	if !ok {
		return m.writeHeader(f.Raw)
	}
	addrs := l.Addresses()
	rw, err := m.rewrite(addrs)
	if err != nil {
		return m.rewriteFailed(err)
	}
	for i, a := range rw {
		if a != "" {
			rw[i] = m.mapHeaderAddress(a, info.Kind == header.Sender)
		}
	}
	l.SetAddresses(rw)
	return m.writeHeader(l.Format(info.Name))
}

// logValue is a header value as Postfix logs it: leading blanks removed,
// folding undone.
func logValue(v []byte) string {
	s := strings.TrimLeft(string(v), " \t")
	return strings.NewReplacer("\n", "", "\r", "").Replace(s)
}

func (m *message) writeHeader(p []byte) error {
	m.hdr.any = true
	return m.outBytes(p)
}

// endHeaders adds what a local submission lacks (Postfix's
// cleanup_header_done_callback): (Resent-)Message-Id:, (Resent-)Date:,
// (Resent-)From:, then undisclosed_recipients_header when there is no
// visible recipient header and it is set.
func (m *message) endHeaders(blank bool) error {
	if m.rejected != nil {
		return nil
	}
	if m.localHeaders() || m.s.AlwaysAddMissing {
		prefix := ""
		if m.hdr.resent {
			prefix = "Resent-"
		}
		if !m.hdr.seen[prefix+"Message-Id"] {
			id := fmt.Sprintf("<%s.%s@%s>", m.arrival.UTC().Format("20060102150405"), m.id, m.s.MyHostname)
			if err := m.writeHeader([]byte(prefix + "Message-Id: " + id + "\n")); err != nil {
				return err
			}
			if m.hdr.resent {
				log.QInfof(m.id, "resent-message-id=%s", id)
			} else {
				log.QInfof(m.id, "message-id=%s", id)
			}
		}
		if !m.hdr.seen[prefix+"Date"] {
			if err := m.writeHeader([]byte(prefix + "Date: " + header.Date(m.arrival.Local()) + "\n")); err != nil {
				return err
			}
		}
		if !m.hdr.seen[prefix+"From"] {
			if err := m.writeHeader([]byte(prefix + "From: " + m.fromValue() + "\n")); err != nil {
				return err
			}
		}
		if m.s.UndisclosedRcpt != "" && !m.hdr.seen["To"] && !m.hdr.seen["Cc"] &&
			!m.hdr.seen["Resent-To"] && !m.hdr.seen["Resent-Cc"] {
			if err := m.writeHeader([]byte(m.s.UndisclosedRcpt + "\n")); err != nil {
				return err
			}
		}
	}
	if m.hdr.resent && !m.hdr.seen["Message-Id"] {
		// Postfix logs the (absent) original message ID of a resent message.
		log.QInfof(m.id, "message-id=<>")
	}
	if blank {
		return m.outBytes([]byte{'\n'})
	}
	// The body (if any) begins without a separator: insert one before it.
	m.hdr.sepNeed = m.hdr.any
	return nil
}

// fromValue is the generated From: "Full Name <sender>" (Postfix's
// hfrom_format = standard), or the bare address without a full name;
// the null sender is MAILER-DAEMON.
func (m *message) fromValue() string {
	if m.sender == "" {
		return "MAILER-DAEMON"
	}
	addr := header.QuoteAddress(m.sender)
	name := strings.TrimSpace(m.env.FullName)
	if name == "" {
		return addr
	}
	return quotePhrase(name) + " <" + addr + ">"
}

// quotePhrase quotes a display name that holds RFC 5322 specials.
func quotePhrase(s string) string {
	if !strings.ContainsAny(s, "()<>@,;:\\\"[]") && !hasControl(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' || c == '\r' {
			c = ' '
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// body copies body bytes.
func (m *message) body(p []byte) error {
	if m.rejected != nil {
		return nil
	}
	if m.hdr.sepNeed {
		m.hdr.sepNeed = false
		if err := m.outBytes([]byte{'\n'}); err != nil {
			return err
		}
	}
	return m.outBytes(p)
}
