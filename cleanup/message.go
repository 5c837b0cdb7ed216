package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"postern/pkg/header"
	"postern/pkg/log"
	"postern/pkg/queue"
	pb "postern/proto"
)

// message is one submission being written.
type message struct {
	s   *Server
	ctx context.Context
	env *pb.SubmitEnvelope

	id      string
	state   string        // queue.Incoming, queue.Hold, or "" (discard)
	w       *queue.Writer // nil when discarding
	arrival time.Time

	sender   string          // rewritten envelope sender
	pending  []*pb.Recipient // envelope recipients not yet written
	late     []*pb.Recipient // recipients that came after the content began
	extract  []*pb.Recipient
	seen     map[string]bool // duplicate elimination
	nrcpt    int
	firstTo  string // for log lines
	started  bool   // content begun (envelope written)
	size     int64
	cache    map[string]string // rewrite results of this message
	split    *header.Splitter
	hdr      headerState
	rejected *rejection // set by header processing
}

func newMessage(s *Server, ctx context.Context, env *pb.SubmitEnvelope) *message {
	m := &message{s: s, ctx: ctx, env: env, seen: map[string]bool{}, cache: map[string]string{}}
	m.arrival = s.Now()
	if env.ArrivalTimeUs > 0 {
		m.arrival = time.UnixMicro(env.ArrivalTimeUs)
	}
	return m
}

func (m *message) flag(f pb.SubmitFlag) bool { return m.env.Flags&uint32(f) != 0 }

// localHeaders reports whether header addresses are rewritten and missing
// headers added: local submissions, not mail from remote SMTP clients
// (reference README item 11).
func (m *message) localHeaders() bool {
	return m.env.RewriteContext == "" || m.env.RewriteContext == "local"
}

func (m *message) rewriteContext() string {
	if m.env.RewriteContext == "" {
		return "local"
	}
	return m.env.RewriteContext
}

// open creates the queue file (none for a discarded message).
func (m *message) open() error {
	switch {
	case m.flag(pb.SubmitFlag_SUBMIT_FLAG_DISCARD):
		m.id = m.s.discardID()
		return nil
	case m.flag(pb.SubmitFlag_SUBMIT_FLAG_HOLD):
		m.state = queue.Hold
	default:
		m.state = queue.Incoming
	}
	w, err := m.s.Queue.Create(m.state)
	if err != nil {
		return err
	}
	m.w = w
	m.id = w.ID()
	return nil
}

func (m *message) abort() {
	if m.w != nil {
		m.w.Abort()
	}
}

// run reads the rest of the call and writes the message; a non-nil result
// is the final reply (or errAborted/errGone).
func (m *message) run(first *pb.SubmitRequest, st pb.Cleanup_SubmitServer) *rejection {
	req := first
	for {
		if rej := m.request(req); rej != nil {
			return rej
		}
		if req.Abort {
			return errAborted
		}
		if req.End {
			return m.finish()
		}
		var err error
		req, err = st.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				// The client closed without end: a protocol error.
				return errProto
			}
			return errGone
		}
		if req.Envelope != nil {
			return errProto
		}
	}
}

// request handles the recipients and content of one request.
func (m *message) request(req *pb.SubmitRequest) *rejection {
	if req.Abort {
		return nil
	}
	if m.started {
		m.late = append(m.late, req.Recipients...)
	} else {
		m.pending = append(m.pending, req.Recipients...)
	}
	m.extract = append(m.extract, req.Extracted...)
	if len(req.Content) == 0 {
		return nil
	}
	if rej := m.start(); rej != nil {
		return rej
	}
	m.size += int64(len(req.Content))
	if m.s.MessageSizeLimit > 0 && m.size > m.s.MessageSizeLimit && !m.flag(pb.SubmitFlag_SUBMIT_FLAG_NOTIFY) {
		return errSize
	}
	if _, err := m.split.Write(req.Content); err != nil {
		return m.asRejection(err)
	}
	return m.rejected
}

func (m *message) asRejection(err error) *rejection {
	var r *rejection
	if errors.As(err, &r) {
		return r
	}
	log.Warningf("%s: %v", m.id, err)
	return errWrite
}

// start writes the envelope (sender and the recipients so far) and the
// headers that go first, before the first content.
func (m *message) start() *rejection {
	if m.started {
		return nil
	}
	m.started = true
	// Envelope sender: rewrite in the local context, then the hook.
	m.sender = m.env.Sender
	if m.sender != "" {
		r, err := m.rewrite([]string{m.sender})
		if err != nil {
			return m.rewriteFailed(err)
		}
		m.sender = r[0]
		if strings.EqualFold(m.sender, "MAILER-DAEMON@"+m.s.MyOrigin) {
			m.sender = ""
		}
		m.sender = m.mapSender(m.sender)
	}
	if m.w != nil {
		if err := m.w.SetEnvelope(m.envelope()); err != nil {
			return m.asRejection(err)
		}
	}
	if rej := m.addRecipients(m.pending, false); rej != nil {
		return rej
	}
	m.pending = nil
	m.split = &header.Splitter{
		Limit:      m.s.HeaderSizeLimit,
		Header:     m.header,
		EndHeaders: m.endHeaders,
		Body:       m.body,
	}
	if uid := m.attr("submit_uid"); uid != "" && !m.flag(pb.SubmitFlag_SUBMIT_FLAG_NOTIFY) {
		// Postfix's Received: header of a local submission.
		m.hdr.any = true
		return m.out(fmt.Sprintf("Received: by %s (%s, from userid %s)\n\tid %s; %s\n",
			m.s.MyHostname, m.s.MailName, uid, m.id, header.Date(m.arrival.Local())))
	}
	return nil
}

func (m *message) rewriteFailed(err error) *rejection {
	log.Warningf("%s: address rewriting failed: %v", m.id, err)
	return errRewrite
}

func (m *message) attr(name string) string {
	for _, a := range m.env.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// envelope builds the queue file's envelope.
func (m *message) envelope() *queue.Envelope {
	e := &queue.Envelope{
		ArrivalTime:    m.arrival,
		Sender:         m.sender,
		SenderFullName: m.env.FullName,
		RewriteContext: m.rewriteContext(),
	}
	for _, a := range m.env.Attrs {
		if a.Name != "rewrite_context" { // the envelope field decides
			e.SetAttr(a.Name, a.Value)
		}
	}
	if m.env.Filter != "" {
		e.Attrs = append(e.Attrs, queue.Attr{Name: "content_filter", Value: m.env.Filter})
	}
	return e
}

// rewrite canonicalises addresses with one call for what this message has
// not rewritten yet.
func (m *message) rewrite(addrs []string) ([]string, error) {
	out := make([]string, len(addrs))
	var ask []string
	for _, a := range addrs {
		if _, ok := m.cache[a]; !ok && a != "" {
			ask = append(ask, a)
			m.cache[a] = a // placeholder; filled below
		}
	}
	if len(ask) > 0 {
		if m.s.Rewrite == nil {
			return nil, errors.New("no rewriting service")
		}
		r, err := m.s.Rewrite(m.ctx, "local", ask)
		if err != nil {
			for _, a := range ask {
				delete(m.cache, a)
			}
			return nil, err
		}
		for i, a := range ask {
			m.cache[a] = r[i]
		}
	}
	for i, a := range addrs {
		if a == "" {
			continue
		}
		out[i] = m.cache[a]
	}
	return out, nil
}

// addRecipients rewrites, maps and writes recipients, dropping duplicates
// (same DSN ORCPT, NOTIFY, original and final address: Postfix's key with
// enable_original_recipient = yes).
func (m *message) addRecipients(rs []*pb.Recipient, extracted bool) *rejection {
	if len(rs) == 0 {
		return nil
	}
	addrs := make([]string, len(rs))
	for i, r := range rs {
		addrs[i] = r.Address
		if m.env.Redirect != "" {
			addrs[i] = m.env.Redirect
		}
	}
	final, err := m.rewrite(addrs)
	if err != nil {
		return m.rewriteFailed(err)
	}
	for i, r := range rs {
		orig := r.Original
		if orig == "" {
			orig = r.Address
		}
		for _, a := range m.mapRecipient(final[i]) {
			key := r.Orcpt + "\x00" + fmt.Sprint(r.Notify) + "\x00" + orig + "\x00" + a
			if m.seen[key] {
				continue
			}
			m.seen[key] = true
			if m.nrcpt == 0 {
				m.firstTo = a
			}
			m.nrcpt++
			if m.w == nil {
				continue
			}
			if err := m.w.AddRecipient(queue.Recipient{
				Address: a, OrigAddress: orig, ORCPT: r.Orcpt, Notify: int(r.Notify & 15),
			}); err != nil {
				return m.asRejection(err)
			}
		}
	}
	return nil
}

// mapSender and mapRecipient are where canonical_maps,
// sender_canonical_maps, recipient_canonical_maps, masquerade_domains
// and (recipients only) virtual_alias_maps will apply, in that order,
// after trivial-rewrite and before duplicate elimination
// (addressing-and-rewriting.md section 2). Not implemented yet: they pass
// the address through unchanged. A table lookup failure must become
// 451 4.6.0 (alias expansion) or 451 4.3.0 for the whole message.
func (m *message) mapSender(addr string) string { return addr }

func (m *message) mapRecipient(addr string) []string { return []string{addr} }

// mapHeaderAddress is the same hook for header addresses (canonical and
// masquerading, never virtual aliases); sender tells which class.
func (m *message) mapHeaderAddress(addr string, sender bool) string { return addr }

// out writes content to the queue file.
func (m *message) out(s string) *rejection {
	if m.w == nil {
		return nil
	}
	if _, err := io.WriteString(m.w, s); err != nil {
		return m.asRejection(err)
	}
	return nil
}

func (m *message) outBytes(p []byte) error {
	if m.w == nil {
		return nil
	}
	_, err := m.w.Write(p)
	return err
}

// finish ends the content and writes the recipients that go after it.
func (m *message) finish() *rejection {
	if rej := m.start(); rej != nil {
		return rej
	}
	if err := m.split.Close(); err != nil {
		return m.asRejection(err)
	}
	if m.rejected != nil {
		return m.rejected
	}
	if rej := m.addRecipients(m.late, true); rej != nil {
		return rej
	}
	if rej := m.addRecipients(m.extract, true); rej != nil {
		return rej
	}
	if m.nrcpt == 0 {
		return errNoRcpt
	}
	return nil
}

// commit makes the file durable; a discarded message is dropped here.
func (m *message) commit() error {
	if m.w == nil {
		return nil
	}
	return m.w.Commit()
}
