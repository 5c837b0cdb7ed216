package local

import (
	"fmt"
	"strings"
	"time"

	"postern/pkg/config"
)

// params are the main.cf parameters local(8) reads.
type params struct {
	aliasMaps          []string
	forwardPath        []string // raw (unexpanded) elements
	allowCommands      map[string]bool
	allowFiles         map[string]bool
	defaultPrivs       string
	homeMailbox        string
	spoolDir           string
	mailboxCommand     string
	commandShell       string
	commandTimeLimit   time.Duration
	exportEnv          []string
	cmdFilter          string
	fwdFilter          string
	deliveredHdr       map[string]bool
	origRcpt           bool
	ownerRequest       bool
	expandOwner        bool
	dupLimit           int
	mailboxSizeLimit   int64
	messageSizeLimit   int64
	strictOwnership    bool
	luserRelay         string
	myorigin           string
	mydestination      []string
	delimiter          string
	lockMethods        map[string]bool
	lockAttempts       int
	lockDelay          time.Duration
	staleLock          time.Duration
	execDir            string
	myhostname         string
	relayName          string // the service name, "local"
	recipientDelimiter string
}

func loadParams(c *config.Config) (*params, error) {
	p := &params{
		aliasMaps:        c.List("alias_maps"),
		allowCommands:    set(c.List("allow_mail_to_commands")),
		allowFiles:       set(c.List("allow_mail_to_files")),
		defaultPrivs:     c.Get("default_privs"),
		homeMailbox:      c.Get("home_mailbox"),
		spoolDir:         c.Get("mail_spool_directory"),
		mailboxCommand:   rawOr(c, "mailbox_command"),
		commandShell:     c.Get("local_command_shell"),
		exportEnv:        c.List("export_environment"),
		cmdFilter:        c.Get("command_expansion_filter"),
		fwdFilter:        c.Get("forward_expansion_filter"),
		deliveredHdr:     set(c.List("prepend_delivered_header")),
		luserRelay:       rawOr(c, "luser_relay"),
		myorigin:         strings.ToLower(c.Get("myorigin")),
		mydestination:    c.List("mydestination"),
		delimiter:        c.Get("recipient_delimiter"),
		lockMethods:      set(c.List("mailbox_delivery_lock")),
		execDir:          rawOr(c, "command_execution_directory"),
		myhostname:       c.Get("myhostname"),
		relayName:        "local",
		forwardPath:      splitForwardPath(rawOr(c, "forward_path")),
		dupLimit:         1000,
		lockAttempts:     20,
		lockDelay:        time.Second,
		staleLock:        500 * time.Second,
		commandTimeLimit: 1000 * time.Second,
	}
	p.recipientDelimiter = p.delimiter
	var err error
	bools := []struct {
		name string
		v    *bool
	}{
		{"enable_original_recipient", &p.origRcpt},
		{"owner_request_special", &p.ownerRequest},
		{"expand_owner_alias", &p.expandOwner},
		{"strict_mailbox_ownership", &p.strictOwnership},
	}
	for _, b := range bools {
		if *b.v, err = c.Bool(b.name); err != nil {
			return nil, err
		}
	}
	if p.mailboxSizeLimit, err = c.Size("mailbox_size_limit"); err != nil {
		return nil, err
	}
	if p.messageSizeLimit, err = c.Size("message_size_limit"); err != nil {
		return nil, err
	}
	if p.mailboxSizeLimit > 0 && p.messageSizeLimit > 0 && p.mailboxSizeLimit < p.messageSizeLimit {
		return nil, fmt.Errorf("configuration error: mailbox_size_limit is smaller than message_size_limit")
	}
	if n, err := c.Int("duplicate_filter_limit"); err == nil {
		p.dupLimit = int(n)
	}
	if n, err := c.Int("deliver_lock_attempts"); err == nil {
		p.lockAttempts = int(n)
	}
	if d, err := c.Time("deliver_lock_delay"); err == nil {
		p.lockDelay = d
	}
	if d, err := c.Time("stale_lock_time"); err == nil {
		p.staleLock = d
	}
	if d, err := c.Time("command_time_limit"); err == nil {
		p.commandTimeLimit = d
	}
	return p, nil
}

// rawOr returns a parameter's raw text: forward_path is expanded per
// recipient ($home, $user ...), not once at start-up.
func rawOr(c *config.Config, name string) string {
	v, _ := c.Raw(name)
	return v
}

// splitForwardPath splits forward_path on commas and whitespace outside
// ${...} expressions.
func splitForwardPath(s string) []string {
	var out []string
	depth := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '{':
				depth++
				continue
			case '}':
				if depth > 0 {
					depth--
				}
				continue
			}
			if depth > 0 || (s[i] != ',' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n') {
				continue
			}
		}
		if f := s[start:i]; f != "" {
			out = append(out, f)
		}
		start = i + 1
	}
	return out
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, v := range list {
		m[strings.ToLower(v)] = true
	}
	return m
}
