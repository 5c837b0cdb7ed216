// End-to-end tests of outbound delivery between hosts (issue 6): several
// postern instances, each on its own loopback address and port 25, test
// SMTP servers, and a DNS server run by the test that gives the MX and A
// records every instance's resolver_conf_file points at. The instances
// create local users and bind port 25, so the tests run as root (CI);
// elsewhere they skip.
package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ti "postern/internal/testinstance"
	"postern/pkg/dnsbl/dnstest"
	"postern/smtp/smtptest"
)

// The daemons of the outbound mail path.
var relayPrograms = []string{"pickup", "cleanup", "qmgr", "trivial-rewrite", "local", "bounce", "smtpd", "smtp", "lmtp", "error"}

// nextHost hands out the loopback addresses 127.0.0.N, one per host of
// every test, so that parallel tests never share one.
var nextHost atomic.Int32

func init() { nextHost.Store(19) }

func hostAddr() string { return fmt.Sprintf("127.0.0.%d", nextHost.Add(1)) }

// nextUser makes local account names unique across parallel tests.
var nextUser atomic.Int32

func userName(prefix string) string { return fmt.Sprintf("pt%s%d", prefix, nextUser.Add(1)) }

// multihost skips unless root, makes sure the programs and the test
// account exist (before any test goes parallel), and marks t parallel.
func multihost(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("multi-host tests bind port 25 and create users: need root")
	}
	for _, p := range relayPrograms {
		if !ti.Built(p) {
			t.Fatalf("program %s is not built", p)
		}
	}
	if err := ti.EnsureTestAccount(); err != nil {
		t.Fatal(err)
	}
	t.Parallel()
}

// dnsZone runs a DNS server with the records and returns a resolv.conf
// naming it (readable by the unprivileged daemons).
func dnsZone(t *testing.T, zone map[string][]string) string {
	t.Helper()
	ns := dnstest.Serve(t, zone)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	p := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(p, []byte("nameserver "+ns+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mxZone adds "DOMAIN. MX" and the A records of its MX hosts
// mxN.DOMAIN (N from 1, in the order given) to zone.
func mxZone(zone map[string][]string, domain string, mx ...string) {
	var rrs []string
	for i, spec := range mx {
		pref, addr, _ := strings.Cut(spec, " ")
		host := fmt.Sprintf("mx%d.%s.", i+1, domain)
		rrs = append(rrs, fmt.Sprintf("%s. 60 IN MX %s %s", domain, pref, host))
		zone[host+" A"] = []string{host + " 60 IN A " + addr}
	}
	zone[domain+". MX"] = rrs
}

// host is one postern instance listening on Addr:25.
type host struct {
	*ti.Instance
	Addr, Name string
}

// newHost makes an instance named name (its myhostname) on a loopback
// address of its own (addr: "" for the next free one) that uses the DNS
// server of resolv; main overrides any parameter. It is not started.
func newHost(t *testing.T, name, addr, resolv string, main map[string]string) *host {
	t.Helper()
	if addr == "" {
		addr = hostAddr()
	}
	params := map[string]string{
		"myhostname":         name,
		"inet_interfaces":    addr,
		"smtp_bind_address":  addr,
		"resolver_conf_file": resolv,
		"home_mailbox":       "Maildir/",
		"mynetworks":         "127.0.0.0/8",
		"smtpd_banner":       "$myhostname ESMTP Postern",
	}
	for k, v := range main {
		params[k] = v
	}
	o := ti.MailOptions(t, params)
	o.MasterCF = ti.MailMasterCF(t, addr+":25 inet n - n - - smtpd\n")
	in := ti.New(t, o)
	in.SetAliases("")
	return &host{Instance: in, Addr: addr, Name: name}
}

// send submits msg with sendmail as u to rcpts.
func (h *host) send(t *testing.T, u *ti.User, subject string, rcpts ...string) {
	t.Helper()
	msg := "Subject: " + subject + "\n\nbody of " + subject + "\n"
	if out, code := h.Sendmail(u, msg, append([]string{"-i"}, rcpts...)...); code != 0 {
		t.Fatalf("sendmail %v: exit %d: %s", rcpts, code, out)
	}
}

func maildir(u *ti.User) string { return filepath.Join(u.Home, "Maildir") }

// checkDSN checks that a delivery status notification says action about
// rcpt, with the text want somewhere in it.
func checkDSN(t *testing.T, dsn, action, rcpt, want string) {
	t.Helper()
	for _, w := range []string{"From: Mail Delivery System <MAILER-DAEMON@", "Content-Type: message/delivery-status",
		"Final-Recipient: rfc822; " + rcpt, "Action: " + action, want} {
		if !strings.Contains(dsn, w) {
			t.Errorf("DSN lacks %q:\n%s", w, dsn)
		}
	}
}

// Delivery by MX preference: the MX 10 host gets the mail, the MX 20 host
// nothing.
func TestMultihostMXPreference(t *testing.T) {
	multihost(t)
	aAddr, bAddr, cAddr := hostAddr(), hostAddr(), hostAddr()
	zone := map[string][]string{}
	mxZone(zone, "dest.test", "10 "+bAddr, "20 "+cAddr)
	resolv := dnsZone(t, zone)
	a := newHost(t, "a.sender.test", aAddr, resolv, nil)
	b := newHost(t, "b.dest.test", bAddr, resolv, map[string]string{"mydestination": "localhost, $myhostname, dest.test"})
	c := newHost(t, "c.dest.test", cAddr, resolv, map[string]string{"relay_domains": "dest.test"})
	sender := a.AddUser(userName("mxs"))
	rcpt := b.AddUser(userName("mxr"))
	a.Start()
	b.Start()
	c.Start()

	a.send(t, sender, "by preference", rcpt.Name+"@dest.test")
	got := b.WaitMaildir(maildir(rcpt), 1)[0]
	if !strings.Contains(got, "Received: from a.sender.test") || !strings.Contains(got, "by b.dest.test") {
		t.Errorf("Received: headers do not show a.sender.test to b.dest.test:\n%s", got)
	}
	if !strings.Contains(got, "\nbody of by preference\n") {
		t.Errorf("body:\n%s", got)
	}
	a.WaitLog(`postern/smtp\[\d+\]: [0-9A-Za-z]+: to=<` + rcpt.Name + `@dest\.test>, relay=mx1\.dest\.test\[` + regexp.QuoteMeta(bAddr) +
		`\]:25, delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as [0-9A-Za-z]+\)`)
	b.WaitLog(`postern/smtpd\[\d+\]: [0-9A-Za-z]+: client=a\.sender\.test\[` + regexp.QuoteMeta(aAddr) + `\]|client=unknown\[` + regexp.QuoteMeta(aAddr) + `\]`)
	a.WaitQueueEmpty()
	if strings.Contains(c.Log(), "client=") {
		t.Errorf("the MX 20 host got a message:\n%s", c.Log())
	}
}

// Fallback: with the primary MX down the backup MX takes the mail, queues
// it, and delivers it to the primary once that comes up.
func TestMultihostBackupMXQueuesUntilPrimaryUp(t *testing.T) {
	multihost(t)
	aAddr, bAddr, cAddr := hostAddr(), hostAddr(), hostAddr()
	zone := map[string][]string{}
	mxZone(zone, "dest.test", "10 "+bAddr, "20 "+cAddr)
	resolv := dnsZone(t, zone)
	a := newHost(t, "a.sender.test", aAddr, resolv, nil)
	b := newHost(t, "b.dest.test", bAddr, resolv, map[string]string{"mydestination": "localhost, $myhostname, dest.test"})
	c := newHost(t, "c.dest.test", cAddr, resolv, map[string]string{"relay_domains": "dest.test"})
	sender := a.AddUser(userName("fbs"))
	rcpt := b.AddUser(userName("fbr"))
	a.Start()
	c.Start()

	a.send(t, sender, "via the backup", rcpt.Name+"@dest.test")
	a.WaitLog(`postern/smtp\[\d+\]: connect to mx1\.dest\.test\[` + regexp.QuoteMeta(bAddr) + `\]:25: Connection refused`)
	a.WaitLog(`to=<` + rcpt.Name + `@dest\.test>, relay=mx2\.dest\.test\[` + regexp.QuoteMeta(cAddr) + `\]:25, .*status=sent`)
	// The backup MX does not deliver to itself (it is MX 20): it tries
	// only the primary and defers.
	line := c.WaitLog(`to=<` + rcpt.Name + `@dest\.test>, relay=none, .*status=deferred \(connect to mx1\.dest\.test\[` + regexp.QuoteMeta(bAddr) + `\]:25: Connection refused\)`)
	if strings.Contains(c.Log(), "loops back to myself") {
		t.Errorf("backup MX saw a loop: %s", line)
	}
	if c.QueueEmpty() {
		t.Fatal("the backup MX queue is empty although the primary is down")
	}

	b.Start()
	got := b.WaitMaildir(maildir(rcpt), 1)[0]
	if !strings.Contains(got, "by c.dest.test") || !strings.Contains(got, "by b.dest.test") || !strings.Contains(got, "from a.sender.test") {
		t.Errorf("the message did not travel a → c → b:\n%s", got)
	}
	c.WaitLog(`to=<` + rcpt.Name + `@dest\.test>, relay=mx1\.dest\.test\[` + regexp.QuoteMeta(bAddr) + `\]:25, .*status=sent`)
	c.WaitQueueEmpty()
}

// relayhost: everything not local goes to [addr]:port, without MX lookups.
func TestMultihostRelayhost(t *testing.T) {
	multihost(t)
	sinkAddr := hostAddr()
	sink := smtptest.Start(t, smtptest.Options{Addr: sinkAddr + ":0"})
	resolv := dnsZone(t, map[string][]string{})
	a := newHost(t, "a.sender.test", "", resolv, map[string]string{"relayhost": fmt.Sprintf("[%s]:%d", sinkAddr, sink.Port)})
	sender := a.AddUser(userName("rhs"))
	a.Start()
	a.send(t, sender, "through the relayhost", "someone@nowhere.test", "other@elsewhere.test")
	a.WaitLog(fmt.Sprintf(`to=<someone@nowhere\.test>, relay=%s\[%s\]:%d, .*status=sent`, regexp.QuoteMeta(sinkAddr), regexp.QuoteMeta(sinkAddr), sink.Port))
	a.WaitQueueEmpty()
	msgs := sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("relayhost got %d transactions, want 1 with both recipients", len(msgs))
	}
	m := msgs[0]
	if m.From != sender.Name+"@a.sender.test" || len(m.To) != 2 || !slices.Contains(m.To, "someone@nowhere.test") || !slices.Contains(m.To, "other@elsewhere.test") {
		t.Errorf("envelope from=%s to=%v", m.From, m.To)
	}
	if !strings.Contains(m.Data, "Subject: through the relayhost\r\n") || !strings.HasSuffix(m.Data, "\r\nbody of through the relayhost\r\n") {
		t.Errorf("data:\n%q", m.Data)
	}
}

// A transport_maps route sends one domain to its own server; the rest
// goes by MX.
func TestMultihostTransportMaps(t *testing.T) {
	multihost(t)
	routeAddr, mxAddr := hostAddr(), hostAddr()
	routed := smtptest.Start(t, smtptest.Options{Addr: routeAddr + ":0"})
	byMX := smtptest.Start(t, smtptest.Options{Addr: mxAddr + ":25"})
	zone := map[string][]string{}
	mxZone(zone, "routed.test", "10 "+mxAddr) // not to be used
	mxZone(zone, "plain.test", "10 "+mxAddr)
	resolv := dnsZone(t, zone)
	a := newHost(t, "a.sender.test", "", resolv, map[string]string{"transport_maps": "texthash:$config_directory/transport"})
	a.WriteFile("transport", fmt.Sprintf("routed.test  smtp:[%s]:%d\n", routeAddr, routed.Port))
	sender := a.AddUser(userName("tms"))
	a.Start()
	a.send(t, sender, "routed", "x@routed.test")
	a.send(t, sender, "by mx", "y@plain.test")
	a.WaitLog(fmt.Sprintf(`to=<x@routed\.test>, relay=%s\[%s\]:%d, .*status=sent`, regexp.QuoteMeta(routeAddr), regexp.QuoteMeta(routeAddr), routed.Port))
	a.WaitLog(`to=<y@plain\.test>, relay=mx1\.plain\.test\[` + regexp.QuoteMeta(mxAddr) + `\]:25, .*status=sent`)
	a.WaitQueueEmpty()
	if m := routed.Messages(); len(m) != 1 || strings.Join(m[0].To, ",") != "x@routed.test" {
		t.Errorf("routed server got %+v", m)
	}
	if m := byMX.Messages(); len(m) != 1 || strings.Join(m[0].To, ",") != "y@plain.test" {
		t.Errorf("MX server got %+v", m)
	}
}

// Null MX (RFC 7505) and an MX that points back at this host: both
// bounce at once with a DSN to the sender.
func TestMultihostNullMXAndLoopBounce(t *testing.T) {
	multihost(t)
	aAddr := hostAddr()
	zone := map[string][]string{
		"nullmx.test. MX": {"nullmx.test. 60 IN MX 0 ."},
	}
	mxZone(zone, "loop.test", "10 "+aAddr)
	resolv := dnsZone(t, zone)
	a := newHost(t, "a.sender.test", aAddr, resolv, nil)
	u1, u2 := a.AddUser(userName("nms")), a.AddUser(userName("lps"))
	a.Start()

	a.send(t, u1, "to a null MX", "nobody@nullmx.test")
	a.WaitLog(`to=<nobody@nullmx\.test>, relay=none, .*dsn=5\.1\.0, status=bounced \(Domain nullmx\.test does not accept mail \(nullMX\)\)`)
	dsn := a.WaitMaildir(maildir(u1), 1)[0]
	checkDSN(t, dsn, "failed", "nobody@nullmx.test", "does not accept mail (nullMX)")
	if !strings.Contains(dsn, "Status: 5.1.0") || !strings.Contains(dsn, "Subject: to a null MX") {
		t.Errorf("DSN status or returned headers:\n%s", dsn)
	}

	a.send(t, u2, "to myself", "me@loop.test")
	a.WaitLog(`to=<me@loop\.test>, relay=none, .*dsn=5\.4\.6, status=bounced \(mail for loop\.test loops back to myself\)`)
	dsn = a.WaitMaildir(maildir(u2), 1)[0]
	checkDSN(t, dsn, "failed", "me@loop.test", "mail for loop.test loops back to myself")
	a.WaitQueueEmpty()
	if strings.Contains(a.Log(), "postern/smtpd[") && strings.Contains(a.Log(), "client=") {
		t.Errorf("the looping mail was sent to this host's own smtpd:\n%s", a.Log())
	}
}

// flakyServer is an SMTP server that answers the first RCPT with 450
// and later ones with 250, and counts the messages it takes.
type flakyServer struct {
	Port  int
	mu    sync.Mutex
	rcpts int
	got   []string
}

func startFlaky(t *testing.T, addr string) *flakyServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &flakyServer{Port: ln.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *flakyServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	say := func(l string) { fmt.Fprintf(c, "%s\r\n", l) }
	say("220 flaky.test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-flaky.test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
			say("250 2.0.0 Ok")
		case strings.HasPrefix(cmd, "RCPT"):
			s.mu.Lock()
			s.rcpts++
			first := s.rcpts == 1
			s.mu.Unlock()
			if first {
				say("450 4.2.0 Mailbox busy, try again")
			} else {
				say("250 2.1.5 Ok")
			}
		case cmd == "DATA":
			say("354 go ahead")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(l)
			}
			s.mu.Lock()
			s.got = append(s.got, data.String())
			s.mu.Unlock()
			say("250 2.0.0 Ok: queued as FLAKY1")
		case cmd == "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			say("502 5.5.2 Error: command not recognized")
		}
	}
}

func (s *flakyServer) messages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// A 4xx reply defers the recipient; the retry after the backoff time
// delivers it.
func TestMultihostTemporaryFailureThenRetry(t *testing.T) {
	multihost(t)
	fAddr := hostAddr()
	flaky := startFlaky(t, fAddr+":25")
	zone := map[string][]string{}
	mxZone(zone, "flaky.test", "10 "+fAddr)
	a := newHost(t, "a.sender.test", "", dnsZone(t, zone), nil)
	sender := a.AddUser(userName("tfs"))
	a.Start()
	a.send(t, sender, "retry me", "user@flaky.test")
	a.WaitLog(`to=<user@flaky\.test>, relay=mx1\.flaky\.test\[` + regexp.QuoteMeta(fAddr) + `\]:25, .*dsn=4\.2\.0, status=deferred \(host mx1\.flaky\.test\[` +
		regexp.QuoteMeta(fAddr) + `\] said: 450 4\.2\.0 Mailbox busy, try again \(in reply to RCPT TO command\)\)`)
	a.WaitLog(`to=<user@flaky\.test>, relay=mx1\.flaky\.test\[` + regexp.QuoteMeta(fAddr) + `\]:25, .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as FLAKY1\)`)
	a.WaitQueueEmpty()
	if n := flaky.messages(); n != 1 {
		t.Errorf("server took %d messages, want 1", n)
	}
	if ti.Maildir(maildir(sender)) != nil {
		t.Errorf("the sender got a notice: %v", ti.Maildir(maildir(sender)))
	}
}

// deadDest adds dead.test, whose MX has an address nothing listens on.
func deadDest(zone map[string][]string) {
	mxZone(zone, "dead.test", "10 "+hostAddr())
}

// maximal_queue_lifetime expiry returns the mail with a DSN (Action:
// failed) after the temporary failures.
func TestMultihostLifetimeExpiryBounces(t *testing.T) {
	multihost(t)
	zone := map[string][]string{}
	deadDest(zone)
	a := newHost(t, "a.sender.test", "", dnsZone(t, zone), map[string]string{
		"maximal_queue_lifetime": "5s", "bounce_queue_lifetime": "5s"})
	if out, code := a.Command(nil, "", "postconf", "-c", a.ConfigDir, "-h", "maximal_queue_lifetime", "bounce_queue_lifetime"); code != 0 || out != "5s\n5s\n" {
		t.Fatalf("postconf: exit %d: %q", code, out)
	}
	sender := a.AddUser(userName("les"))
	a.Start()
	a.send(t, sender, "never arrives", "user@dead.test")
	a.WaitLog(`to=<user@dead\.test>, relay=none, .*status=deferred \(connect to mx1\.dead\.test\[[\d.]+\]:25: Connection refused\)`)
	a.WaitLog(`postern/qmgr\[\d+\]: [0-9A-Za-z]+: from=<` + sender.Name + `@a\.sender\.test>, status=expired, returned to sender`)
	dsn := a.WaitMaildir(maildir(sender), 1)[0]
	checkDSN(t, dsn, "failed", "user@dead.test", "Connection refused")
	if !strings.Contains(dsn, "Subject: Undelivered Mail Returned to Sender") {
		t.Errorf("DSN subject:\n%s", dsn)
	}
	a.WaitQueueEmpty()
}

// delay_warning_time sends exactly one delay notice while the message
// stays deferred.
func TestMultihostOneDelayNotice(t *testing.T) {
	multihost(t)
	zone := map[string][]string{}
	deadDest(zone)
	a := newHost(t, "a.sender.test", "", dnsZone(t, zone), map[string]string{"delay_warning_time": "2s"})
	sender := a.AddUser(userName("dns"))
	a.Start()
	a.send(t, sender, "slow one", "user@dead.test")
	a.WaitLog(`postern/bounce\[\d+\]: [0-9A-Za-z]+: sender delay notification: [0-9A-Za-z]+`)
	notice := a.WaitMaildir(maildir(sender), 1)[0]
	checkDSN(t, notice, "delayed", "user@dead.test", "Connection refused")
	if !strings.Contains(notice, "Subject: Delayed Mail (still being retried)") {
		t.Errorf("delay notice subject:\n%s", notice)
	}
	// Two more delivery attempts, and still one notice.
	deferred := `to=<user@dead\.test>, .*status=deferred`
	n := a.CountLog(deferred)
	if !ti.Poll(20*time.Second, func() bool { return a.CountLog(deferred) >= n+2 }) {
		t.Fatalf("no further delivery attempts:\n%s", a.Log())
	}
	if c := a.CountLog(`sender delay notification`); c != 1 {
		t.Errorf("%d delay notices, want 1:\n%s", c, a.Log())
	}
	if m := ti.Maildir(maildir(sender)); len(m) != 1 {
		t.Errorf("sender has %d messages, want 1", len(m))
	}
	if a.QueueEmpty() {
		t.Error("the message left the queue")
	}
}

// A destination whose server accepts connections and never answers ties
// up its deliveries; mail to another destination still goes at once.
func TestMultihostDeadDestinationDoesNotStallOthers(t *testing.T) {
	multihost(t)
	hangAddr, liveAddr := hostAddr(), hostAddr()
	hang, err := net.Listen("tcp", hangAddr+":25")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.Map
	var accepted atomic.Int32
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			held.Store(c, true) // never greet
		}
	}()
	t.Cleanup(func() {
		hang.Close()
		held.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	})
	live := smtptest.Start(t, smtptest.Options{Addr: liveAddr + ":25"})
	zone := map[string][]string{}
	mxZone(zone, "hang.test", "10 "+hangAddr)
	mxZone(zone, "live.test", "10 "+liveAddr)
	a := newHost(t, "a.sender.test", "", dnsZone(t, zone), nil)
	sender := a.AddUser(userName("dds"))
	a.Start()
	for i := 0; i < 10; i++ {
		a.send(t, sender, fmt.Sprintf("stuck %d", i), fmt.Sprintf("u%d@hang.test", i))
	}
	if !ti.Poll(10*time.Second, func() bool { return accepted.Load() >= 1 }) {
		t.Fatal("no connection to the hanging server")
	}
	a.send(t, sender, "goes through", "someone@live.test")
	a.WaitLog(`to=<someone@live\.test>, relay=mx1\.live\.test\[` + regexp.QuoteMeta(liveAddr) + `\]:25, .*status=sent`)
	if m := live.Messages(); len(m) != 1 {
		t.Errorf("live server got %d messages", len(m))
	}
	if strings.Contains(a.Log(), "@hang.test>, relay") {
		t.Errorf("a delivery to the hanging server finished:\n%s", a.Log())
	}
}

// dovecot runs a private Dovecot (LMTP on a unix socket, IMAP on a
// loopback port) under dir with one passwd-file user and returns the
// LMTP socket path and the IMAP port.
func dovecot(t *testing.T, dir, name, pass string, owner *user.User) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/dovecot"); err != nil {
			t.Skip("dovecot is not installed")
		}
		bin = "/usr/sbin/dovecot"
	}
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		t.Skip("dovecot-lmtpd is not installed")
	}
	if _, err := os.Stat("/usr/lib/dovecot/imap"); err != nil {
		t.Skip("dovecot-imapd is not installed")
	}
	for _, d := range []string{"run", "state", "home"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	home := filepath.Join(dir, "home", name)
	os.MkdirAll(home, 0o700)
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	os.Chown(home, uid, gid)
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte(fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s\n", name, pass, uid, gid, home)), 0o644)
	port := ti.FreePort(t)
	sock := filepath.Join(dir, "run", "dovecot-lmtp")
	conf := filepath.Join(dir, "dovecot.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = dovecot-postern-test-%[3]d
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %%Ln
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN %[2]s
}
userdb {
  driver = passwd-file
  args = %[2]s
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[3]d
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener %[4]s {
    mode = 0666
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`, dir, users, port, sock)), 0o644)
	cmd := exec.Command(bin, "-F", "-c", conf)
	out, _ := os.Create(filepath.Join(dir, "dovecot.out"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		out.Close()
	})
	ok := ti.Poll(10*time.Second, func() bool {
		if _, err := os.Stat(sock); err != nil {
			return false
		}
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if !ok {
		b, _ := os.ReadFile(filepath.Join(dir, "dovecot.out"))
		l, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
		t.Fatalf("dovecot did not come up:\n%s\n%s", b, l)
	}
	return sock, port
}

// LMTP into a real Dovecot, read back over IMAP.
func TestMultihostLMTPToDovecot(t *testing.T) {
	multihost(t)
	owner, err := user.Lookup(ti.TestUser)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sock, imapPort := dovecot(t, dir, "dovealice", "s3cret", owner)
	a := newHost(t, "a.sender.test", "", dnsZone(t, map[string][]string{}), map[string]string{"transport_maps": "texthash:$config_directory/transport"})
	a.WriteFile("transport", "dove.test  lmtp:unix:"+sock+"\n")
	sender := a.AddUser(userName("lms"))
	a.Start()
	a.send(t, sender, "into dovecot", "dovealice@dove.test", "nosuchuser@dove.test")
	a.WaitLog(`postern/lmtp\[\d+\]: [0-9A-Za-z]+: to=<dovealice@dove\.test>, relay=.*\[` + regexp.QuoteMeta(sock) + `\], .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 <dovealice@dove\.test> `)
	a.WaitLog(`postern/lmtp\[\d+\]: [0-9A-Za-z]+: to=<nosuchuser@dove\.test>, .*dsn=5\.1\.1, status=bounced \(host .* said: 550 5\.1\.1 <nosuchuser@dove\.test> User doesn't exist`)
	dsn := a.WaitMaildir(maildir(sender), 1)[0]
	checkDSN(t, dsn, "failed", "nosuchuser@dove.test", "User doesn't exist")
	a.WaitQueueEmpty()

	py := `import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.select("INBOX")
n = int(data[0])
typ, data = m.fetch(str(n), "(RFC822)")
sys.stdout.write("%d\n" % n)
sys.stdout.buffer.write(data[0][1])
m.logout()`
	out, err := exec.Command("python3", "-c", py, strconv.Itoa(imapPort), "dovealice", "s3cret").CombinedOutput()
	if err != nil {
		l, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
		t.Fatalf("imap: %v\n%s\ndovecot log:\n%s", err, out, l)
	}
	got := strings.ReplaceAll(string(out), "\r\n", "\n")
	if !strings.HasPrefix(got, "1\n") {
		t.Errorf("INBOX does not hold one message:\n%s", got)
	}
	for _, w := range []string{"Subject: into dovecot\n", "From: " + sender.Name, "\nbody of into dovecot\n", "Return-Path: <" + sender.Name + "@a.sender.test>"} {
		if !strings.Contains(got, w) {
			t.Errorf("message read over IMAP lacks %q:\n%s", w, got)
		}
	}
}
