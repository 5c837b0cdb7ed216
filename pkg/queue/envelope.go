package queue

import (
	"strconv"
	"time"
)

// Attr is a named attribute.
type Attr struct {
	Name, Value string
}

// Envelope is what a queue file says about a message besides its
// recipients and content.
type Envelope struct {
	// CreateTime is when the file was created (the time in its ID).
	// Set by the writer; ignored by SetEnvelope.
	CreateTime time.Time
	// ArrivalTime is message_arrival_time. Zero in SetEnvelope means
	// CreateTime.
	ArrivalTime time.Time

	Sender         string // "" is the null sender <>
	SenderFullName string

	RewriteContext string // "local" or "remote"
	EnvelopeID     string // DSN ENVID
	Ret            int    // DSN RET: RetFull, RetHdrs or 0
	Encoding       string // "7bit", "8bit" or ""
	SMTPUTF8       bool

	// Client information, for logs and the Received: header.
	ClientName        string
	ReverseClientName string
	ClientAddr        string
	ClientPort        string
	HeloName          string
	Protocol          string
	SASLMethod        string
	SASLUsername      string
	SASLSender        string
	LogIdent          string
	VERPDelimiters    string

	// Attrs are other named attributes of the envelope section, in order.
	Attrs []Attr
	// Extracted are the named attributes of the extracted section
	// (written with Writer.AddAttr after the content). Read only.
	Extracted []Attr
}

// Recipient is one envelope recipient.
type Recipient struct {
	Address     string
	OrigAddress string // original_recipient, before rewriting/aliasing
	ORCPT       string // DSN ORCPT verbatim, e.g. "rfc822;a@example.org"
	Notify      int    // NotifyNever | NotifySuccess | NotifyFailure | NotifyDelay, or 0

	// Filled in by readers.
	Index       int    // position in the file, from 0; MarkDone takes it
	Done        bool   // delivered (or bounced) already
	Extracted   bool   // from the extracted section (sendmail -t)
	DelayReason string // the latest delay reason recorded, or ""
}

// fields maps the named attributes postern knows to Envelope fields.
func (e *Envelope) fields() []struct {
	name string
	p    *string
} {
	return []struct {
		name string
		p    *string
	}{
		{"rewrite_context", &e.RewriteContext},
		{"envelope_id", &e.EnvelopeID},
		{"encoding", &e.Encoding},
		{"client_name", &e.ClientName},
		{"reverse_client_name", &e.ReverseClientName},
		{"client_address", &e.ClientAddr},
		{"client_port", &e.ClientPort},
		{"helo_name", &e.HeloName},
		{"protocol_name", &e.Protocol},
		{"sasl_method", &e.SASLMethod},
		{"sasl_username", &e.SASLUsername},
		{"sasl_sender", &e.SASLSender},
		{"log_ident", &e.LogIdent},
		{"verp_delimiters", &e.VERPDelimiters},
	}
}

// namedAttrs lists every named attribute of the envelope section.
func (e *Envelope) namedAttrs() []Attr {
	var out []Attr
	for _, f := range e.fields() {
		if *f.p != "" {
			out = append(out, Attr{f.name, *f.p})
		}
	}
	if e.Ret != 0 {
		out = append(out, Attr{"ret_flags", strconv.Itoa(e.Ret)})
	}
	if e.SMTPUTF8 {
		out = append(out, Attr{"smtputf8", "1"})
	}
	return append(out, e.Attrs...)
}

// SetAttr stores a named attribute: in its Envelope field when postern
// knows the name (rewrite_context, envelope_id, ret_flags, smtputf8 "1",
// client_name ...), else in Attrs. Readers and writers of the envelope share
// this one mapping.
func (e *Envelope) SetAttr(name, value string) {
	for _, f := range e.fields() {
		if f.name == name {
			*f.p = value
			return
		}
	}
	switch name {
	case "ret_flags":
		if n, err := strconv.Atoi(value); err == nil {
			e.Ret = n
			return
		}
	case "smtputf8":
		if value == "1" {
			e.SMTPUTF8 = true
			return
		}
	}
	e.Attrs = append(e.Attrs, Attr{name, value})
}
