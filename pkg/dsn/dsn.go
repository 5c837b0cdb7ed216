package dsn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Class is the kind of notification (Postfix's template classes).
type Class int

const (
	// Failure is a non-delivery report ("Undelivered Mail Returned to
	// Sender").
	Failure Class = iota
	// Delay is a delay notice ("Delayed Mail (still being retried)").
	Delay
	// Success is a DSN success notice ("Successful Mail Delivery
	// Report").
	Success
)

// DSN NOTIFY bits and RET values (Postfix's values, as in pkg/queue).
const (
	NotifyNever   = 1
	NotifySuccess = 2
	NotifyFailure = 4
	NotifyDelay   = 8

	RetFull = 1
	RetHdrs = 2
)

// Original is the message a notification is about.
type Original struct {
	QueueID    string
	Sender     string // "" is the null sender
	EnvelopeID string // DSN ENVID
	Arrival    time.Time
	Ret        int    // RetFull, RetHdrs or 0 (the class's default)
	Encoding   string // "7bit", "8bit" or "" (queue file attribute)
	SMTPUTF8   bool
	// Size is the content length (message_size).
	Size int64
	// Content reads the message, headers and body, LF line ends. nil:
	// the message is not available (a placeholder line is sent).
	Content io.Reader
}

// Recipient is one recipient's status in a report.
type Recipient struct {
	Address  string // final recipient
	Original string // original recipient ("" or equal to Address: not expanded)
	ORCPT    string // DSN ORCPT verbatim, e.g. "rfc822;a@example.org"
	// Action is "failed", "delayed", "delivered", "relayed" or
	// "expanded". A failure report says "failed" whatever it is.
	Action string
	Status string // "5.1.1"
	// MTAType and MTAName make Remote-MTA ("dns", "mx.example.org").
	MTAType, MTAName string
	// DiagType and DiagText make Diagnostic-Code ("smtp", "550 5.1.1
	// ..."); without them it is "X-Postfix; Reason".
	DiagType, DiagText string
	// Reason is the text of the human-readable part (what the log says
	// in parentheses after status=).
	Reason string
}

// Report is one notification message.
type Report struct {
	Class Class
	// PostmasterCopy: a copy for the postmaster (double bounce, or
	// notify_classes): postmaster subject, Auto-Submitted:
	// auto-generated, no template text.
	PostmasterCopy bool

	MyHostname string // $myhostname
	MyOrigin   string // $myorigin (From:, unqualified To:)
	MailName   string // $mail_name (Received:)

	// Time is when the notification is made (Date:, the boundary).
	Time time.Time
	// QueueID is the notification's own queue ID (Received:,
	// Message-Id:); empty leaves both headers to cleanup.
	QueueID string
	// To is the recipient of the notification (the To: header).
	To string

	// SizeLimit is bounce_size_limit: a larger original is returned as
	// headers only. 0: no limit.
	SizeLimit int64
	// DelayWarningTime and MaxQueueLifetime fill in the delay template
	// and Will-Retry-Until.
	DelayWarningTime time.Duration
	MaxQueueLifetime time.Duration

	Original   Original
	Recipients []Recipient
}

// Subject returns the Subject: of the report.
func (r *Report) Subject() string {
	switch r.Class {
	case Delay:
		if r.PostmasterCopy {
			return "Postmaster Warning: Delayed Mail"
		}
		return "Delayed Mail (still being retried)"
	case Success:
		return "Successful Mail Delivery Report"
	}
	if r.PostmasterCopy {
		return "Postmaster Copy: Undelivered Mail"
	}
	return "Undelivered Mail Returned to Sender"
}

// Boundary returns the MIME boundary: QUEUEID.UNIXTIME/myhostname.
func (r *Report) Boundary() string {
	return fmt.Sprintf("%s.%d/%s", r.Original.QueueID, r.Time.Unix(), r.MyHostname)
}

// HeadersOnly reports whether the original is returned as headers only.
func (r *Report) HeadersOnly() bool {
	if r.Class != Failure || r.Original.Ret == RetHdrs {
		return true
	}
	// Postfix: "When truncating a large message, don't damage the MIME
	// structure: send the message headers only."
	if r.SizeLimit > 0 && r.Original.Content != nil &&
		(r.Original.Size <= 0 || r.Original.Size > r.SizeLimit) {
		return true
	}
	return false
}

// Date formats t as Postfix's mail_date does:
// "Sat, 21 Nov 2026 23:28:56 +0000 (UTC)" (day padded with a blank).
func Date(t time.Time) string {
	return t.Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)")
}

// MessageID returns the Message-Id: value Postfix's cleanup gives a
// message: <YYYYMMDDhhmmss.QUEUEID@myhostname>, UTC.
func MessageID(t time.Time, queueID, host string) string {
	return "<" + t.UTC().Format("20060102150405") + "." + queueID + "@" + host + ">"
}

// Write writes the report, reading the original's content as it goes.
// It returns the first error of w or of the content reader.
func (r *Report) Write(w io.Writer) error {
	if r.Time.IsZero() {
		return errors.New("dsn: report without time")
	}
	b := bufio.NewWriterSize(w, 32<<10)
	e := &emitter{w: b}
	r.writeHeader(e)
	r.writeText(e)
	r.writeStatus(e)
	if e.err != nil {
		return e.err
	}
	if err := r.writeOriginal(e); err != nil {
		return err
	}
	if e.err != nil {
		return e.err
	}
	return b.Flush()
}

// emitter writes lines and remembers the first error.
type emitter struct {
	w   *bufio.Writer
	err error
}

func (e *emitter) line(s string) {
	if e.err != nil {
		return
	}
	if _, err := e.w.WriteString(s); err != nil {
		e.err = err
		return
	}
	e.err = e.w.WriteByte('\n')
}

func (e *emitter) linef(format string, a ...any) { e.line(fmt.Sprintf(format, a...)) }

// wrap writes s as Postfix's line_wrap(s, 79, 4) does.
func (e *emitter) wrap(s string) {
	lineWrap(s, wrapLength, wrapIndent, func(indent int, text string) {
		e.line(strings.Repeat(" ", indent) + text)
	})
}

const (
	wrapLength = 79
	wrapIndent = 4
)

// encoding returns the MIME encoding that applies to the whole message
// (Postfix's mime_encoding): 8bit for 8bit originals, the template's (7bit)
// for 7bit ones, none otherwise.
func (r *Report) encoding() string {
	switch r.Original.Encoding {
	case "8bit":
		return "8bit"
	case "7bit":
		return "7bit"
	}
	return ""
}

func (r *Report) writeHeader(e *emitter) {
	date := Date(r.Time)
	if r.QueueID != "" {
		e.linef("Received: by %s (%s)", r.MyHostname, r.MailName)
		e.linef("\tid %s; %s", r.QueueID, date)
	}
	e.linef("Date: %s", date)
	e.linef("From: Mail Delivery System <MAILER-DAEMON@%s>", r.MyOrigin)
	e.linef("Subject: %s", r.Subject())
	e.linef("To: %s", r.headerAddress(r.To))
	if r.PostmasterCopy {
		e.line("Auto-Submitted: auto-generated")
	} else {
		e.line("Auto-Submitted: auto-replied")
	}
	e.line("MIME-Version: 1.0")
	e.line("Content-Type: multipart/report; report-type=delivery-status;")
	e.linef("\tboundary=\"%s\"", r.Boundary())
	if enc := r.encoding(); enc != "" {
		e.linef("Content-Transfer-Encoding: %s", enc)
	}
	if r.QueueID != "" {
		e.linef("Message-Id: %s", MessageID(r.Time, r.QueueID, r.MyHostname))
	}
	e.line("")
	e.line("This is a MIME-encapsulated message.")
}

// headerAddress is the To: form of addr: local part quoted where needed,
// qualified with myorigin when it has no domain.
func (r *Report) headerAddress(addr string) string {
	addr = Printable(addr)
	if addr != "" && !strings.Contains(addr, "@") && r.MyOrigin != "" {
		addr += "@" + r.MyOrigin
	}
	return QuoteLocal(addr)
}

func (r *Report) writeText(e *emitter) {
	e.line("")
	e.linef("--%s", r.Boundary())
	e.line("Content-Description: Notification")
	if r.encoding() == "8bit" {
		e.line("Content-Type: text/plain; charset=utf-8")
		e.line("Content-Transfer-Encoding: 8bit")
	} else {
		e.line("Content-Type: text/plain; charset=us-ascii")
	}
	e.line("")
	if !r.PostmasterCopy {
		for _, l := range r.template() {
			e.line(l)
		}
	}
	for _, rc := range r.Recipients {
		e.line("")
		orig := Printable(rc.Original)
		addr := Printable(rc.Address)
		if orig != "" && !strings.EqualFold(orig, addr) {
			e.wrap(fmt.Sprintf("<%s> (expanded from <%s>): %s", addr, orig, Printable(rc.Reason)))
		} else {
			e.wrap(fmt.Sprintf("<%s>: %s", addr, Printable(rc.Reason)))
		}
	}
}

// addrType is the DSN address type of addr: "utf-8" for a non-ASCII
// address of an SMTPUTF8 message, else "rfc822".
func (r *Report) addrType(addr string) string {
	if r.Original.SMTPUTF8 && !isASCII(addr) {
		return "utf-8"
	}
	return "rfc822"
}

func (r *Report) writeStatus(e *emitter) {
	e.line("")
	e.linef("--%s", r.Boundary())
	e.line("Content-Description: Delivery report")
	if r.Original.SMTPUTF8 {
		e.line("Content-Type: message/global-delivery-status")
		if r.encoding() == "8bit" {
			e.line("Content-Transfer-Encoding: 8bit")
		}
	} else {
		e.line("Content-Type: message/delivery-status")
	}
	e.line("")
	e.linef("Reporting-MTA: dns; %s", r.MyHostname)
	if envid := Printable(r.Original.EnvelopeID); envid != "" {
		e.linef("Original-Envelope-Id: %s", envid)
	}
	e.linef("X-Postfix-Queue-ID: %s", r.Original.QueueID)
	sender := r.senderText()
	e.linef("X-Postfix-Sender: %s; %s", r.addrType(sender), sender)
	if !r.Original.Arrival.IsZero() {
		e.linef("Arrival-Date: %s", Date(r.Original.Arrival))
	}
	for _, rc := range r.Recipients {
		e.line("")
		addr := Printable(rc.Address)
		e.linef("Final-Recipient: %s; %s", r.addrType(addr), addr)
		orig := Printable(rc.Original)
		if orig == "" {
			orig = addr
		}
		if orcpt := Printable(rc.ORCPT); orcpt != "" {
			e.linef("Original-Recipient: %s", orcpt)
		} else {
			e.linef("Original-Recipient: %s; %s", r.addrType(orig), orig)
		}
		action := Printable(rc.Action)
		if r.Class == Failure {
			action = "failed"
		}
		e.linef("Action: %s", action)
		e.linef("Status: %s", Printable(rc.Status))
		if rc.MTAType != "" && rc.MTAName != "" {
			e.wrap(fmt.Sprintf("Remote-MTA: %s; %s", Printable(rc.MTAType), Printable(rc.MTAName)))
		}
		if rc.DiagType != "" && rc.DiagText != "" {
			e.wrap(fmt.Sprintf("Diagnostic-Code: %s; %s", Printable(rc.DiagType), Printable(rc.DiagText)))
		} else {
			e.wrap(fmt.Sprintf("Diagnostic-Code: X-Postfix; %s", Printable(rc.Reason)))
		}
		if r.Class == Delay {
			e.linef("Will-Retry-Until: %s", Date(r.Original.Arrival.Add(r.MaxQueueLifetime)))
		}
	}
}

// senderText is the original sender as the report shows it: quoted local
// part, MAILER-DAEMON@myhostname for the null sender.
func (r *Report) senderText() string {
	if r.Original.Sender == "" {
		return "MAILER-DAEMON@" + r.MyHostname
	}
	return QuoteLocal(Printable(r.Original.Sender))
}

func (r *Report) writeOriginal(e *emitter) error {
	hdrs := r.HeadersOnly()
	e.line("")
	e.linef("--%s", r.Boundary())
	desc := "Message"
	if hdrs {
		desc = "Message Headers"
	}
	if r.Class != Success {
		desc = "Undelivered " + desc
	}
	e.linef("Content-Description: %s", desc)
	switch {
	case r.Original.SMTPUTF8 && hdrs:
		e.line("Content-Type: message/global-headers")
	case r.Original.SMTPUTF8:
		e.line("Content-Type: message/global")
	case hdrs:
		e.line("Content-Type: text/rfc822-headers")
	default:
		e.line("Content-Type: message/rfc822")
	}
	if r.encoding() == "8bit" {
		e.line("Content-Transfer-Encoding: 8bit")
	}
	e.line("")
	if r.Original.Content == nil {
		e.line("\t--- Undelivered message unavailable ---")
	} else {
		e.linef("Return-Path: <%s>", r.senderText())
		if e.err != nil {
			return e.err
		}
		if err := copyOriginal(e.w, r.Original.Content, hdrs); err != nil {
			return err
		}
	}
	// Postfix returns before this terminator when the original is
	// unavailable, which leaves the multipart unclosed; postern closes it.
	e.line("")
	e.linef("--%s--", r.Boundary())
	return e.err
}

// copyOriginal copies the content to w, only the header block when hdrs,
// and ends it with a newline if it does not end with one.
func copyOriginal(w *bufio.Writer, content io.Reader, hdrs bool) error {
	br := bufio.NewReaderSize(content, 32<<10)
	last := byte('\n')
	atLineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if hdrs && atLineStart && !isHeaderLine(chunk) {
				break
			}
			if _, werr := w.Write(chunk); werr != nil {
				return werr
			}
			last = chunk[len(chunk)-1]
			atLineStart = last == '\n'
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if last != '\n' {
		return w.WriteByte('\n')
	}
	return nil
}

// isHeaderLine reports whether line continues the header block: a
// continuation (leading blank or tab) or "name:" (Postfix's IS_HEADER).
func isHeaderLine(line []byte) bool {
	if line[0] == ' ' || line[0] == '\t' {
		return true
	}
	i := 0
	for i < len(line) {
		c := line[i]
		if c == ':' {
			break
		}
		if c <= ' ' || c >= 0x7f {
			break
		}
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return i < len(line) && line[i] == ':'
}

// template returns the template text of the class (Postfix's default
// bounce(5) templates).
func (r *Report) template() []string {
	head := []string{"This is the mail system at host " + r.MyHostname + "."}
	help := []string{
		"For further assistance, please send mail to postmaster.",
		"",
		"If you do so, please include this problem report. You can",
		"delete your own text from the attached returned message.",
		"",
		"                   The mail system",
	}
	var body []string
	switch r.Class {
	case Delay:
		body = []string{
			"####################################################################",
			"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
			"####################################################################",
			"",
			fmt.Sprintf("Your message could not be delivered for more than %d hour(s).", int64(r.DelayWarningTime/time.Hour)),
			fmt.Sprintf("It will be retried until it is %d day(s) old.", int64(r.MaxQueueLifetime/(24*time.Hour))),
			"",
		}
		body = append(body, help...)
	case Success:
		body = []string{
			"Your message was successfully delivered to the destination(s)",
			"listed below. If the message was delivered to mailbox you will",
			"receive no further notifications. Otherwise you may still receive",
			"notifications of mail delivery errors from other systems.",
			"",
			"                   The mail system",
		}
	default:
		body = []string{
			"I'm sorry to have to inform you that your message could not",
			"be delivered to one or more recipients. It's attached below.",
			"",
		}
		body = append(body, help...)
	}
	out := append(head, "")
	return append(out, body...)
}

// lineWrap splits s into lines of at most length columns at blanks, as
// Postfix's line_wrap() does: the first line unindented, the others
// indented by indent; a word longer than a line stays whole.
func lineWrap(s string, length, indent int, out func(indent int, text string)) {
	curIndent := 0
	start := 0
	word := 0
	for word >= 0 {
		nextSpace := word + strings.IndexAny(s[word:], " \t")
		if nextSpace < word {
			nextSpace = len(s)
		}
		if word > start && nextSpace-start > length-curIndent {
			out(curIndent, trimRightSpace(s[start:word]))
			for word < len(s) && isSpace(s[word]) {
				word++
			}
			if start == 0 {
				curIndent += indent
				if curIndent > length {
					curIndent = 0
				}
			}
			start = word
		}
		if nextSpace < len(s) {
			word = nextSpace + 1
		} else {
			word = -1
		}
	}
	out(curIndent, trimRightSpace(s[start:]))
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func trimRightSpace(s string) string {
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Printable replaces control characters and malformed UTF-8 with "?", as
// Postfix's printable() does with logged text before it goes into a
// notification.
func Printable(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f || c >= 0x80 {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		c, size := utf8.DecodeRuneInString(s)
		switch {
		case c == utf8.RuneError && size <= 1:
			b.WriteByte('?')
		case c < ' ' || c == 0x7f || (c >= 0x80 && c < 0xa0):
			b.WriteByte('?')
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// QuoteLocal quotes the local part of addr when RFC 5322 requires it
// (Postfix's quote_822_local): a local part that is not a dot-atom is put
// in double quotes with '"' and '\' escaped. An address already quoted is
// left alone.
func QuoteLocal(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr, ""
	if at >= 0 {
		local, domain = addr[:at], addr[at:]
	}
	if local == "" || isDotAtom(local) || isQuoted(local) {
		return addr
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if local[i] == '"' || local[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String() + domain
}

func isQuoted(s string) bool {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return false
		}
	}
	return true
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == '.' {
			continue
		}
		if c <= ' ' || c == 0x7f || strings.IndexByte(`()<>[]:;@\,"`, c) >= 0 {
			return false
		}
	}
	return true
}
