package local

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"postern/pkg/log"
	"postern/pkg/mailbox"
)

// headers returns the lines local(8) prepends (Return-Path:,
// X-Original-To:, Delivered-To:); kind is "file" or "command" for
// prepend_delivered_header.
func (d *delivery) headers(a attr, kind string) []byte {
	var b strings.Builder
	sender := a.sender
	if sender != "" {
		sender = mailbox.QuoteLocal(sender)
	}
	b.WriteString("Return-Path: <" + sender + ">\n")
	if d.s.p.origRcpt && d.origRcpt != "" {
		b.WriteString("X-Original-To: " + d.origRcpt + "\n")
	}
	if d.s.p.deliveredHdr[kind] {
		b.WriteString("Delivered-To: " + d.deliveredTo + "\n")
	}
	return []byte(b.String())
}

func (d *delivery) message(a attr, kind string) mailbox.Message {
	return mailbox.Message{
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
	spool := false
	if hm := d.s.p.homeMailbox; hm != "" {
		path = filepath.Join(pw.home, hm)
		if strings.HasSuffix(hm, "/") {
			path += "/"
		}
	} else if dir := d.s.p.spoolDir; strings.HasSuffix(dir, "/") {
		path = dir + a.user + "/"
	} else {
		path = filepath.Join(dir, a.user)
		spool = true
	}
	if strings.HasSuffix(path, "/") {
		_, err := deliverMaildir(strings.TrimSuffix(path, "/"), user, d.message(a, "file"), mailbox.MaildirOptions{SizeLimit: d.s.p.mailboxSizeLimit})
		if err != nil {
			dsn, text := mailboxErr(err)
			return d.fail(a, dsn, text)
		}
		return d.sent(a, "delivered to maildir")
	}
	o := d.s.mboxOptions()
	o.Spool = spool
	if err := deliverMbox(path, user, d.message(a, "file"), o); err != nil {
		dsn, text := mailboxErr(err)
		text = fmt.Sprintf("cannot update mailbox %s for user %s. %s", path, a.user, text)
		if dsn[0] == '5' {
			log.QWarningf(d.req.QueueId, "%s", text)
		}
		return d.fail(a, dsn, text)
	}
	return d.sent(a, "delivered to mailbox")
}

func (s *Server) mboxOptions() mailbox.MboxOptions {
	return mailbox.MboxOptions{
		SizeLimit:         s.p.mailboxSizeLimit,
		DotLock:           s.p.lockMethods["dotlock"],
		FcntlLock:         s.p.lockMethods["fcntl"],
		FlockLock:         s.p.lockMethods["flock"],
		CreateMode:        0600,
		LockTimeout:       time.Duration(s.p.lockAttempts) * s.p.lockDelay,
		NoStrictOwnership: !s.p.strictOwnership,
	}
}

// mailboxErr returns the DSN and text of a mailbox delivery error.
func mailboxErr(err error) (string, string) {
	var me *mailbox.Error
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
		if _, err := deliverMaildir(strings.TrimSuffix(path, "/"), creds, d.message(a, "file"), mailbox.MaildirOptions{SizeLimit: d.s.p.mailboxSizeLimit}); err != nil {
			dsn, text := mailboxErr(err)
			return d.fail(a, dsn, text)
		}
		return d.sent(a, "delivered to maildir")
	}
	o := d.s.mboxOptions()
	o.File = true
	if err := deliverMbox(path, creds, d.message(a, "file"), o); err != nil {
		dsn, text := mailboxErr(err)
		return d.fail(a, dsn, fmt.Sprintf("cannot append message to file %s: %s", path, text))
	}
	return d.sent(a, "delivered to file: "+path)
}
