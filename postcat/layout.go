package postcat

import (
	"encoding/binary"
	"strconv"

	"postern/pkg/queue"
)

// Offsets of the header fields that postcat shows as records (see the
// FILE FORMAT section of pkg/queue).
const (
	offCreate  = 8
	offArrival = 16
	offSizes   = 24
	headerSize = 64
)

// envelopeAttrs lists the named attributes of the envelope section in
// the order pkg/queue's Writer.SetEnvelope writes them: the attributes
// it knows, then ret_flags and smtputf8, then the others.
func envelopeAttrs(e *queue.Envelope) []queue.Attr {
	known := []queue.Attr{
		{Name: "rewrite_context", Value: e.RewriteContext},
		{Name: "envelope_id", Value: e.EnvelopeID},
		{Name: "encoding", Value: e.Encoding},
		{Name: "client_name", Value: e.ClientName},
		{Name: "reverse_client_name", Value: e.ReverseClientName},
		{Name: "client_address", Value: e.ClientAddr},
		{Name: "client_port", Value: e.ClientPort},
		{Name: "helo_name", Value: e.HeloName},
		{Name: "protocol_name", Value: e.Protocol},
		{Name: "sasl_method", Value: e.SASLMethod},
		{Name: "sasl_username", Value: e.SASLUsername},
		{Name: "sasl_sender", Value: e.SASLSender},
		{Name: "log_ident", Value: e.LogIdent},
		{Name: "verp_delimiters", Value: e.VERPDelimiters},
	}
	var out []queue.Attr
	for _, a := range known {
		if a.Value != "" {
			out = append(out, a)
		}
	}
	if e.Ret != 0 {
		out = append(out, queue.Attr{Name: "ret_flags", Value: strconv.Itoa(e.Ret)})
	}
	if e.SMTPUTF8 {
		out = append(out, queue.Attr{Name: "smtputf8", Value: "1"})
	}
	return append(out, e.Attrs...)
}

// layout holds the file offsets of the records, for -o and -s.
//
// pkg/queue does not report record offsets, so postcat computes them
// from the decoded values and the record encoding that pkg/queue
// documents (type byte, uvarint length, payload, 4-byte CRC). The
// computation is checked: when the envelope records computed do not end
// exactly where the content begins (a file written with attributes in
// another order, or a future format), every envelope offset is unknown
// ("?"). In the extracted section the order of attributes and
// recipients is not reported either, so their offsets are known only
// when the section holds one kind of record.
type layout struct {
	known    bool // envelope offsets verified
	xknown   bool // extracted offsets unambiguous
	sender   int64
	fullName int64
	attrs    []int64
	xattrs   []int64
	rcpts    []int64
	end      int64 // trailer offset
}

// fieldOff returns the offset of the sender (0) or full name (1) record.
func (l *layout) fieldOff(which int) int64 {
	if l == nil {
		return noOffset
	}
	if which == 0 {
		return l.sender
	}
	return l.fullName
}

func (l *layout) endOff() int64 {
	if l == nil {
		return noOffset
	}
	return l.end
}

func (l *layout) attr(i int) int64 {
	if l == nil || !l.known || i >= len(l.attrs) {
		return noOffset
	}
	return l.attrs[i]
}

func (l *layout) xattr(i int) int64 {
	if l == nil || !l.xknown || i >= len(l.xattrs) {
		return noOffset
	}
	return l.xattrs[i]
}

func (l *layout) rcpt(i int) int64 {
	if l == nil || i >= len(l.rcpts) || l.rcpts[i] < 0 {
		return noOffset
	}
	return l.rcpts[i]
}

func uvarintLen(v uint64) int64 {
	var b [binary.MaxVarintLen64]byte
	return int64(binary.PutUvarint(b[:], v))
}

func strLen(s string) int64 { return uvarintLen(uint64(len(s))) + int64(len(s)) }

func recLen(payload int64) int64 { return 1 + uvarintLen(uint64(payload)) + payload + 4 }

// layout computes the offsets, only when -o or -s asks for them (it
// reads the recipients once more and keeps one offset per recipient).
func (c *cat) layout(qf *queue.File, env *queue.Envelope, contentOff int64) *layout {
	if !c.opt.offsets && c.opt.skip == 0 {
		return nil
	}
	l := &layout{sender: headerSize, fullName: noOffset}
	off := int64(headerSize) + recLen(strLen(env.Sender))
	if env.SenderFullName != "" {
		l.fullName = off
		off += recLen(strLen(env.SenderFullName))
	}
	for _, a := range envelopeAttrs(env) {
		l.attrs = append(l.attrs, off)
		off += recLen(strLen(a.Name) + strLen(a.Value))
	}
	xoff := contentOff + qf.MessageSize()
	xrcpt := int64(0)
	var xr []int // indexes of extracted recipients
	err := qf.Recipients(func(r queue.Recipient) error {
		n := recLen(2 + strLen(r.Address) + strLen(r.OrigAddress) + strLen(r.ORCPT))
		if r.Extracted {
			l.rcpts = append(l.rcpts, xrcpt) // relative, fixed below
			xr = append(xr, r.Index)
			xrcpt += n
		} else {
			l.rcpts = append(l.rcpts, off)
			off += n
		}
		return nil
	})
	if err != nil {
		// The printing pass reports the error.
		return nil
	}
	l.known = off == contentOff
	if !l.known {
		l.sender, l.fullName = noOffset, noOffset
		for i := range l.rcpts {
			l.rcpts[i] = noOffset
		}
	}
	xattrLen := int64(0)
	for _, a := range env.Extracted {
		l.xattrs = append(l.xattrs, xoff+xattrLen)
		xattrLen += recLen(strLen(a.Name) + strLen(a.Value))
	}
	l.xknown = len(env.Extracted) == 0 || len(xr) == 0
	for _, i := range xr {
		if l.xknown {
			l.rcpts[i] += xoff + xattrLen
		} else {
			l.rcpts[i] = noOffset
		}
	}
	l.end = xoff + xattrLen + xrcpt
	return l
}
