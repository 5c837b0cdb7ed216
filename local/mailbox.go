package local

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"postern/pkg/log"
)

// headers returns the lines local(8) prepends (Return-Path:,
// X-Original-To:, Delivered-To:); kind is "file" or "command" for
// prepend_delivered_header.
func (d *delivery) headers(a attr, kind string) []byte {
	var b strings.Builder
	b.WriteString("Return-Path: <" + quoteAddress(a.sender) + ">\n")
	if d.s.p.origRcpt && d.origRcpt != "" {
		b.WriteString("X-Original-To: " + d.origRcpt + "\n")
	}
	if d.s.p.deliveredHdr[kind] {
		b.WriteString("Delivered-To: " + d.deliveredTo + "\n")
	}
	return []byte(b.String())
}

// fromLine is the mbox separator written before a message piped to a
// command: "From sender  asctime".
func fromLine(sender string, t time.Time) string {
	if sender == "" {
		sender = "MAILER-DAEMON"
	} else {
		sender = quoteAddress(sender)
	}
	return fmt.Sprintf("From %s  %s\n", sender, t.Format("Mon Jan _2 15:04:05 2006"))
}

// quoteAddress quotes a local part that needs it (Postfix's
// quote_822_local).
func quoteAddress(addr string) string {
	local, domain := splitAddress(addr)
	if local == "" || !needsQuote(local) {
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
	if strings.Contains(addr, "@") {
		b.WriteString("@" + domain)
	}
	return b.String()
}

func needsQuote(local string) bool {
	prev := byte('.')
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"[]", c) >= 0 {
			return true
		}
		if c == '.' && prev == '.' {
			return true
		}
		prev = c
	}
	return prev == '.'
}

func (d *delivery) message(a attr, kind string) Message {
	return Message{
		Sender:      a.sender,
		ArrivalTime: d.qf.ArrivalTime(),
		Prepend:     d.headers(a, kind),
		Content:     d.qf.ContentReader(),
	}
}

// mailbox delivers to the user's mailbox: mailbox_command, home_mailbox
// or mail_spool_directory.
func (d *delivery) mailbox(a attr, pw *passwd) status {
	if d.seen("mailbox " + a.user) {
		return stOK
	}
	user := Creds{UID: pw.uid, GID: pw.gid, Groups: []int{}}
	u := userAttr{creds: user, set: true, home: pw.home, shell: pw.shell, logname: pw.name}
	if cmd := d.s.p.mailboxCommand; cmd != "" {
		c := d.s.privs(user)
		if msg, ok := checkCreds(c); !ok {
			return d.deferTo(a, "4.3.0", msg)
		}
		return d.runCommand(a, u, c, cmd)
	}
	if msg, ok := checkCreds(user); !ok {
		return d.deferTo(a, "4.3.0", msg)
	}
	// TODO: mailbox_transport(_maps), mailbox_command_maps and
	// fallback_transport(_maps) are not implemented.
	var path string
	creds := user
	if hm := d.s.p.homeMailbox; hm != "" {
		path = filepath.Join(pw.home, hm)
		if strings.HasSuffix(hm, "/") {
			path += "/"
		}
	} else {
		spool := d.s.p.spoolDir
		if strings.HasSuffix(spool, "/") {
			path = spool + a.user + "/"
		} else {
			path = filepath.Join(spool, a.user)
			var st syscall.Stat_t
			if err := syscall.Stat(spool, &st); err == nil && st.Mode&0o002 == 0 && st.Mode&0o020 != 0 {
				creds.GID = int(st.Gid) // group-writable spool (Debian: 2775 root:mail)
			}
		}
	}
	if strings.HasSuffix(path, "/") {
		_, err := deliverMaildir(strings.TrimSuffix(path, "/"), creds, d.message(a, "file"), MaildirOptions{SizeLimit: d.s.p.mailboxSizeLimit})
		if err != nil {
			dsn, text := mailboxErr(err)
			return d.fail(a, dsn, "maildir delivery failed: "+text)
		}
		return d.sent(a, "delivered to maildir")
	}
	err := deliverMbox(path, creds, d.message(a, "file"), d.s.mboxOptions())
	if err != nil {
		dsn, text := mailboxErr(err)
		if strings.Contains(text, "symbolic link") {
			log.QWarningf(d.req.QueueId, "cannot update mailbox %s for user %s. %s", path, a.user, text)
		}
		return d.fail(a, dsn, fmt.Sprintf("cannot update mailbox %s for user %s. %s", path, a.user, text))
	}
	return d.sent(a, "delivered to mailbox")
}

func (s *Server) mboxOptions() MboxOptions {
	return MboxOptions{
		SizeLimit:   s.p.mailboxSizeLimit,
		DotLock:     s.p.lockMethods["dotlock"],
		FcntlLock:   s.p.lockMethods["fcntl"],
		FlockLock:   s.p.lockMethods["flock"],
		CreateMode:  0600,
		LockTimeout: time.Duration(s.p.lockAttempts) * s.p.lockDelay,
	}
}

// mailboxErr returns the DSN and text of a mailbox delivery error.
func mailboxErr(err error) (string, string) {
	var me *MailboxError
	if errors.As(err, &me) {
		dsn := me.DSN
		if dsn == "" {
			dsn = "5.2.0"
			if me.Temp {
				dsn = "4.2.0"
			}
		}
		return dsn, me.Text
	}
	return "4.3.0", err.Error()
}

// file delivers to a /file/name target of an alias, .forward or include.
func (d *delivery) file(a attr, u userAttr, path string) status {
	if !d.s.p.allowFiles[a.expType] {
		return d.bounce(a, "5.7.1", "mail to file is restricted")
	}
	creds := d.s.privs(u.creds)
	if !u.set {
		creds = d.s.defaultPrivs
	}
	if d.seen(fmt.Sprintf("file %d %s", creds.UID, path)) {
		return stOK
	}
	if msg, ok := checkCreds(creds); !ok {
		return d.deferTo(a, "4.3.0", msg)
	}
	if strings.HasSuffix(path, "/") {
		if _, err := deliverMaildir(strings.TrimSuffix(path, "/"), creds, d.message(a, "file"), MaildirOptions{SizeLimit: d.s.p.mailboxSizeLimit}); err != nil {
			dsn, text := mailboxErr(err)
			return d.fail(a, dsn, "maildir delivery failed: "+text)
		}
		return d.sent(a, "delivered to maildir")
	}
	if err := deliverMbox(path, creds, d.message(a, "file"), d.s.mboxOptions()); err != nil {
		dsn, text := mailboxErr(err)
		return d.fail(a, dsn, fmt.Sprintf("cannot append message to file %s: %s", path, text))
	}
	return d.sent(a, "delivered to file: "+path)
}
