package smtp

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/pkg/config"
	"postern/pkg/dnsbl/dnstest"
	"postern/pkg/dnsresolve"
	"postern/pkg/log"
	"postern/pkg/queue"
	pb "postern/proto"
	"postern/smtp/smtptest"
)

// testbed is an agent with its own queue directory, log file and DNS
// server.
type testbed struct {
	t     *testing.T
	dir   string
	agent *Agent
	read  func() string
}

// newTestbed starts a DNS server for zone and an agent whose default port
// is port; set may change parameters before the settings are loaded.
func newTestbed(t *testing.T, zone map[string][]string, port int, lmtp bool, set func(c *config.Config)) *testbed {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	ns := "127.0.0.1:1"
	if zone != nil {
		ns = dnstest.Serve(t, zone)
	}
	os.WriteFile(conf, []byte("nameserver "+ns+"\noptions timeout:2 attempts:1\n"), 0o644)
	c := config.New()
	c.Set("myhostname", "mx.self.test")
	c.Set("inet_interfaces", "127.0.0.1")
	c.Set("inet_protocols", "ipv4")
	c.Set("smtp_tcp_port", strconv.Itoa(port))
	c.Set("lmtp_tcp_port", strconv.Itoa(port))
	c.Set("smtp_connection_cache_time_limit", "0")
	c.Set("lmtp_connection_cache_time_limit", "0")
	c.Set("resolver_conf_file", conf)
	if set != nil {
		set(c)
	}
	st, err := LoadSettings(c, lmtp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dnsresolve.Load(c.Get("resolver_conf_file"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "maillog")
	prog := "smtp"
	if lmtp {
		prog = "lmtp"
	}
	l, err := log.New(log.Options{Program: prog, SyslogName: "postern", File: logPath, Hostname: "mx.self.test"})
	if err != nil {
		t.Fatal(err)
	}
	a := New(st, r)
	a.Log, a.QueueDir = l, dir
	t.Cleanup(func() { a.Close(); l.Close() })
	return &testbed{t: t, dir: dir, agent: a, read: func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}}
}

const testContent = "From: a@sender.test\nTo: b@example.test\nSubject: test\n\nHello.\n.leading dot\n"

// deliver writes a message for rcpts and asks the agent to deliver it to
// nexthop.
func (b *testbed) deliver(nexthop, sender string, rcpts ...string) *pb.DeliverReply {
	return b.deliverEnv(nexthop, &queue.Envelope{Sender: sender}, testContent, rcpts...)
}

func (b *testbed) deliverEnv(nexthop string, env *queue.Envelope, content string, rcpts ...string) *pb.DeliverReply {
	b.t.Helper()
	id := smtptest.WriteMessage(b.t, b.dir, env, rcpts, content)
	now := time.Now()
	req := &pb.DeliverRequest{
		QueueId: id, QueueName: "active", Nexthop: nexthop, Sender: env.Sender,
		ArrivalTimeUs: now.Add(-time.Second).UnixMicro(), ActiveTimeUs: now.Add(-500 * time.Millisecond).UnixMicro(), RequestTimeUs: now.UnixMicro(),
	}
	for i, r := range rcpts {
		req.Recipients = append(req.Recipients, &pb.DeliverRecipient{Index: uint32(i), Address: r, Original: r})
	}
	reply, err := b.agent.Deliver(context.Background(), req)
	if err != nil {
		b.t.Fatal(err)
	}
	if len(reply.Results) != len(rcpts) {
		b.t.Fatalf("results %v", reply.Results)
	}
	return reply
}

func (b *testbed) wantLog(sub string) {
	b.t.Helper()
	if got := b.read(); !strings.Contains(got, sub) {
		b.t.Errorf("log lacks %q:\n%s", sub, got)
	}
}

func wantResult(t *testing.T, r *pb.RecipientResult, status pb.DeliveryStatus, dsn, text string) {
	t.Helper()
	if r.Status != status || r.Dsn != dsn || !strings.Contains(r.Text, text) {
		t.Errorf("result %v %s %q, want %v %s %q", r.Status, r.Dsn, r.Text, status, dsn, text)
	}
}

// sinks starts sinks on the given loopback addresses, all on one port.
func sinks(t *testing.T, o smtptest.Options, hosts ...string) (int, []*smtptest.Sink) {
	t.Helper()
	var out []*smtptest.Sink
	port := 0
	for _, h := range hosts {
		o.Addr = net.JoinHostPort(h, strconv.Itoa(port))
		k := smtptest.Start(t, o)
		port = k.Port
		out = append(out, k)
	}
	return port, out
}

var zone = map[string][]string{
	"example.test. MX":    {"example.test. 60 IN MX 20 mx2.example.test.", "example.test. 60 IN MX 10 mx1.example.test."},
	"mx1.example.test. A": {"mx1.example.test. 60 IN A 127.0.0.3"},
	"mx2.example.test. A": {"mx2.example.test. 60 IN A 127.0.0.2"},
	"down.test. MX":       {"down.test. 60 IN MX 10 mxdown.down.test.", "down.test. 60 IN MX 20 mx2.example.test."},
	"mxdown.down.test. A": {"mxdown.down.test. 60 IN A 127.0.0.4"},
	"nullmx.test. MX":     {"nullmx.test. 60 IN MX 0 ."},
	"loop.test. MX":       {"loop.test. 60 IN MX 10 mx.self.test."},
	"mx.self.test. A":     {"mx.self.test. 60 IN A 127.0.0.1"},
	"backup.test. MX":     {"backup.test. 60 IN MX 10 mx1.example.test.", "backup.test. 60 IN MX 20 mx.self.test."},
	"implicit.test. A":    {"implicit.test. 60 IN A 127.0.0.2"},
	"nomx.test. MX":       {"nomx.test. 60 IN MX 10 nowhere.nomx.test."},
}

func TestDeliveryByMXPreference(t *testing.T) {
	port, s := sinks(t, smtptest.Options{}, "127.0.0.2", "127.0.0.3")
	b := newTestbed(t, zone, port, false, nil)
	reply := b.deliver("example.test", "a@sender.test", "ok1@example.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "250 2.0.0 OK: queued")
	if len(s[1].Messages()) != 1 || len(s[0].Messages()) != 0 {
		t.Errorf("mx1 got %d, mx2 got %d messages", len(s[1].Messages()), len(s[0].Messages()))
	}
	b.wantLog("to=<ok1@example.test>, relay=mx1.example.test[127.0.0.3]:" + strconv.Itoa(port) + ", delay=")
	b.wantLog("dsn=2.0.0, status=sent (250 2.0.0 OK: queued)")
	if reply.Results[0].Relay != "mx1.example.test[127.0.0.3]:"+strconv.Itoa(port) || reply.SiteFailure {
		t.Errorf("reply %v", reply)
	}
	m := s[1].Messages()[0]
	if m.From != "a@sender.test" || len(m.To) != 1 || !strings.Contains(m.Data, "\r\n.leading dot\r\n") || !strings.HasPrefix(m.Data, "From: a@sender.test\r\n") {
		t.Errorf("message %+v", m)
	}
}

func TestFallbackToBackupMXWhenPrimaryRefusesConnections(t *testing.T) {
	port, s := sinks(t, smtptest.Options{}, "127.0.0.2")
	b := newTestbed(t, zone, port, false, nil)
	reply := b.deliver("down.test", "a@sender.test", "ok@down.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "queued")
	b.wantLog("connect to mxdown.down.test[127.0.0.4]:" + strconv.Itoa(port) + ": Connection refused")
	b.wantLog("relay=mx2.example.test[127.0.0.2]:" + strconv.Itoa(port))
	if len(s[0].Messages()) != 1 {
		t.Error("backup MX got nothing")
	}
}

func TestAllHostsDownDefersWithTheLastReasonAndReportsASiteFailure(t *testing.T) {
	b := newTestbed(t, zone, 9, false, nil) // port 9: nothing listens
	reply := b.deliver("down.test", "a@sender.test", "x@down.test", "y@down.test")
	for _, r := range reply.Results {
		wantResult(t, r, pb.DeliveryStatus_DELIVERY_DEFER, "4.4.1", "connect to mx2.example.test[127.0.0.2]:9: Connection refused")
	}
	if !reply.SiteFailure || !strings.Contains(reply.SiteFailureText, "Connection refused") {
		t.Errorf("site failure %v %q", reply.SiteFailure, reply.SiteFailureText)
	}
	b.wantLog("to=<x@down.test>, relay=none, delay=")
	b.wantLog("dsn=4.4.1, status=deferred (connect to mx2.example.test[127.0.0.2]:9: Connection refused)")
}

func TestBracketedNexthopWithPortSkipsMXAndLoopCheck(t *testing.T) {
	port, s := sinks(t, smtptest.Options{}, "127.0.0.1")
	b := newTestbed(t, nil, 25, false, nil) // no DNS server at all
	reply := b.deliver("[127.0.0.1]:"+strconv.Itoa(port), "a@sender.test", "ok@example.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "queued")
	if len(s[0].Messages()) != 1 {
		t.Error("nothing delivered")
	}
	b.wantLog("relay=127.0.0.1[127.0.0.1]:" + strconv.Itoa(port))
}

func TestImplicitMX(t *testing.T) {
	port, s := sinks(t, smtptest.Options{}, "127.0.0.2")
	b := newTestbed(t, zone, port, false, nil)
	reply := b.deliver("implicit.test", "a@sender.test", "ok@implicit.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "queued")
	b.wantLog("relay=implicit.test[127.0.0.2]:")
	if len(s[0].Messages()) != 1 {
		t.Error("nothing delivered")
	}
}

func TestNullMXBouncesAtOnce(t *testing.T) {
	b := newTestbed(t, zone, 9, false, nil)
	reply := b.deliver("nullmx.test", "a@sender.test", "x@nullmx.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_BOUNCE, "5.1.0", "Domain nullmx.test does not accept mail (nullMX)")
	if reply.SiteFailure {
		t.Error("a null MX is not a site failure")
	}
	b.wantLog("relay=none, delay=")
	b.wantLog("dsn=5.1.0, status=bounced (Domain nullmx.test does not accept mail (nullMX))")
}

func TestMXLoopingBackToMyselfBounces(t *testing.T) {
	b := newTestbed(t, zone, 2525, false, nil)
	reply := b.deliver("loop.test", "a@sender.test", "x@loop.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_BOUNCE, "5.4.6", "mail for loop.test loops back to myself")
	b.wantLog("status=bounced (mail for loop.test loops back to myself)")
}

func TestBackupMXOnlyTriesBetterHosts(t *testing.T) {
	// We are the second MX: only mx1 is tried.
	port, s := sinks(t, smtptest.Options{}, "127.0.0.3")
	b := newTestbed(t, zone, port, false, nil)
	reply := b.deliver("backup.test", "a@sender.test", "ok@backup.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "queued")
	if len(s[0].Messages()) != 1 {
		t.Error("nothing delivered")
	}
}

func TestNameServiceErrors(t *testing.T) {
	b := newTestbed(t, zone, 9, false, nil)
	reply := b.deliver("nosuch.test", "a@sender.test", "x@nosuch.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_BOUNCE, "5.4.4", "Host or domain name not found. Name service error for name=nosuch.test type=A: Host not found")
	reply = b.deliver("x.servfail", "a@sender.test", "x@x.servfail")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_DEFER, "4.4.3", "Host or domain name not found. Name service error for name=x.servfail type=MX: Host not found, try again")
	if !reply.SiteFailure {
		t.Error("a DNS failure should throttle the destination")
	}
	reply = b.deliver("nomx.test", "a@sender.test", "x@nomx.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_BOUNCE, "5.4.4", "name=nowhere.nomx.test type=A: Host not found")
	b.wantLog("warning: no MX host for nomx.test has a valid address record")
}

func TestPerRecipientReplies(t *testing.T) {
	port, _ := sinks(t, smtptest.Options{}, "127.0.0.2", "127.0.0.3")
	b := newTestbed(t, zone, port, false, nil)
	reply := b.deliver("example.test", "a@sender.test", "ok1@example.test", "rej1@example.test", "tmp1@example.test")
	p := strconv.Itoa(port)
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "250 2.0.0 OK: queued")
	wantResult(t, reply.Results[1], pb.DeliveryStatus_DELIVERY_BOUNCE, "5.1.1",
		"host mx1.example.test[127.0.0.3] said: 550 5.1.1 <rej1@example.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)")
	// The 4xx recipient was retried on the backup MX, which said the same.
	wantResult(t, reply.Results[2], pb.DeliveryStatus_DELIVERY_DEFER, "4.2.0",
		"host mx2.example.test[127.0.0.2] said: 451 4.2.0 <tmp1@example.test>: Recipient address rejected: Greylisted (in reply to RCPT TO command)")
	r := reply.Results[1]
	if r.DiagType != "smtp" || r.DiagText != "550 5.1.1 <rej1@example.test>: Recipient address rejected: User unknown" || r.Relay != "mx1.example.test[127.0.0.3]:"+p {
		t.Errorf("diagnostic %q %q %q", r.DiagType, r.DiagText, r.Relay)
	}
	if reply.SiteFailure {
		t.Error("recipient replies are not a site failure")
	}
	b.wantLog("to=<rej1@example.test>, relay=mx1.example.test[127.0.0.3]:" + p + ", delay=")
	b.wantLog("dsn=5.1.1, status=bounced (host mx1.example.test[127.0.0.3] said: 550 5.1.1 <rej1@example.test>: Recipient address rejected: User unknown (in reply to RCPT TO command))")
	b.wantLog("dsn=4.2.0, status=deferred (host mx2.example.test[127.0.0.2] said: 451 4.2.0")
}

func TestMailFromRefused(t *testing.T) {
	port, _ := sinks(t, smtptest.Options{}, "127.0.0.2")
	b := newTestbed(t, nil, 25, false, nil)
	nh := "[127.0.0.2]:" + strconv.Itoa(port)
	reply := b.deliver(nh, "mailrej@sender.test", "a@example.test", "b@example.test")
	for _, r := range reply.Results {
		wantResult(t, r, pb.DeliveryStatus_DELIVERY_BOUNCE, "5.7.1", "said: 550 5.7.1 Sender rejected (in reply to MAIL FROM command)")
	}
	reply = b.deliver(nh, "mailtmp@sender.test", "a@example.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_DEFER, "4.3.0", "(in reply to MAIL FROM command)")
}

func TestMessageLargerThanServerSizeLimitBounces(t *testing.T) {
	port, s := sinks(t, smtptest.Options{MaxSize: 40}, "127.0.0.2")
	b := newTestbed(t, nil, 25, false, nil)
	reply := b.deliver("[127.0.0.2]:"+strconv.Itoa(port), "a@sender.test", "a@example.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_BOUNCE, "5.3.4",
		"message size "+strconv.Itoa(len(testContent))+" exceeds size limit 40 of server 127.0.0.2[127.0.0.2]")
	if len(s[0].Messages()) != 0 {
		t.Error("the message was sent")
	}
}

func writePEM(t *testing.T, dir string, cert tls.Certificate) string {
	path := filepath.Join(dir, "ca.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644)
	return path
}

func TestSTARTTLS(t *testing.T) {
	cert, _ := smtptest.Cert(t, "mx1.example.test")
	port, s := sinks(t, smtptest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, "127.0.0.2", "127.0.0.3")
	ca := writePEM(t, t.TempDir(), cert)
	for _, level := range []string{"may", "encrypt", "verify"} {
		b := newTestbed(t, zone, port, false, func(c *config.Config) {
			c.Set("smtp_tls_security_level", level)
			c.Set("smtp_tls_CAfile", ca)
		})
		reply := b.deliver("[127.0.0.3]", "a@sender.test", "ok@example.test")
		if level == "verify" {
			// The certificate names mx1.example.test, not 127.0.0.3.
			wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_DEFER, "4.7.5", "Server certificate not verified")
			reply = b.deliver("example.test", "a@sender.test", "ok@example.test")
		}
		wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "queued")
	}
	msgs := s[1].Messages()
	if len(msgs) != 3 || !msgs[0].TLS || !msgs[1].TLS || !msgs[2].TLS {
		t.Errorf("messages %+v", msgs)
	}
}

func TestEncryptRefusesAServerWithoutSTARTTLS(t *testing.T) {
	port, s := sinks(t, smtptest.Options{}, "127.0.0.2")
	b := newTestbed(t, nil, 25, false, func(c *config.Config) { c.Set("smtp_tls_security_level", "encrypt") })
	reply := b.deliver("[127.0.0.2]:"+strconv.Itoa(port), "a@sender.test", "ok@example.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_DEFER, "4.7.4", "TLS is required, but was not offered by host 127.0.0.2[127.0.0.2]")
	if len(s[0].Messages()) != 0 || !reply.SiteFailure {
		t.Error("sent in plaintext, or not a site failure")
	}
}

func TestDSNParametersArePassedOn(t *testing.T) {
	port, s := sinks(t, smtptest.Options{DSN: true}, "127.0.0.2")
	b := newTestbed(t, nil, 25, false, nil)
	id := smtptest.WriteMessage(t, b.dir, &queue.Envelope{Sender: "a@sender.test", Encoding: "8bit"}, []string{"ok@example.test"}, testContent)
	req := &pb.DeliverRequest{QueueId: id, QueueName: "active", Nexthop: "[127.0.0.2]:" + strconv.Itoa(port), Sender: "a@sender.test",
		Envid: "env 42", Ret: queue.RetHdrs,
		Recipients: []*pb.DeliverRecipient{{Index: 0, Address: "ok@example.test", Original: "orig@example.test", Notify: queue.NotifySuccess | queue.NotifyFailure}}}
	reply, err := b.agent.Deliver(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r := reply.Results[0]; r.Status != pb.DeliveryStatus_DELIVERY_SENT || !r.NoSuccessNotice || r.Action != "relayed" {
		t.Errorf("result %v", r)
	}
	m := s[0].Messages()[0]
	ro := m.RcptOpts[0]
	if m.MailOpts.EnvelopeID != "env 42" || m.MailOpts.Return != "HDRS" || m.MailOpts.Body != "8BITMIME" || m.MailOpts.Size != int64(len(testContent)) {
		t.Errorf("mail options %+v", m.MailOpts)
	}
	if len(ro.Notify) != 2 || ro.OriginalRecipient != "orig@example.test" {
		t.Errorf("rcpt options %+v", ro)
	}
}

func TestLMTPPerRecipientReplies(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	sinkU := smtptest.Start(t, smtptest.Options{Addr: sock, Unix: true, LMTP: true})
	b := newTestbed(t, nil, 24, true, nil)
	reply := b.deliver("unix:"+sock, "a@sender.test", "ok@example.test", "lrej@example.test", "ltmp@example.test", "rej@example.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "250 2.0.0")
	wantResult(t, reply.Results[1], pb.DeliveryStatus_DELIVERY_BOUNCE, "5.2.2", "host mx.self.test["+sock+"] said: 552 5.2.2 <lrej@example.test> Mailbox full (in reply to end of DATA command)")
	wantResult(t, reply.Results[2], pb.DeliveryStatus_DELIVERY_DEFER, "4.2.2", "(in reply to end of DATA command)")
	wantResult(t, reply.Results[3], pb.DeliveryStatus_DELIVERY_BOUNCE, "5.1.1", "(in reply to RCPT TO command)")
	if len(sinkU.Messages()) != 1 {
		t.Error("nothing delivered")
	}
	b.wantLog("postern/lmtp[")
	b.wantLog("to=<ok@example.test>, relay=mx.self.test[" + sock + "], delay=")

	_, s := sinks(t, smtptest.Options{LMTP: true}, "127.0.0.2")
	reply = b.deliver("inet:127.0.0.2:"+strconv.Itoa(s[0].Port), "a@sender.test", "ok@example.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "250 2.0.0")
	b.wantLog("relay=127.0.0.2[127.0.0.2]:" + strconv.Itoa(s[0].Port))
}

func TestConnectionReuse(t *testing.T) {
	port, s := sinks(t, smtptest.Options{}, "127.0.0.2", "127.0.0.3")
	b := newTestbed(t, zone, port, false, func(c *config.Config) { c.Set("smtp_connection_cache_time_limit", "30s") })
	for i := 0; i < 3; i++ {
		reply := b.deliver("example.test", "a@sender.test", "ok@example.test")
		wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "queued")
	}
	if s[1].Conns() != 1 || len(s[1].Messages()) != 3 {
		t.Errorf("%d connections for %d messages", s[1].Conns(), len(s[1].Messages()))
	}
	b.wantLog("relay=mx1.example.test[127.0.0.3]:" + strconv.Itoa(port) + ", conn_use=2, delay=")
	b.wantLog(", conn_use=3, delay=")
}

func TestWriteContent(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		limit    int
	}{
		{"a\nb\n", "a\r\nb\r\n", 0},
		{".\n..x\n", "..\r\n...x\r\n", 0},
		{"no newline", "no newline\r\n", 0},
		{"crlf\r\nbare\rcr\n", "crlf\r\nbare\rcr\r\n", 0},
		{"abcdefgh\n.x\n", "abcd\r\n efg\r\n h\r\n..x\r\n", 4},
		{"", "", 0},
	} {
		var b strings.Builder
		w := newBufWriter(&b)
		werr, rerr := writeContent(w, strings.NewReader(tc.in), tc.limit)
		if werr != nil || rerr != nil || b.String() != tc.want {
			t.Errorf("%q: got %q (%v %v), want %q", tc.in, b.String(), werr, rerr, tc.want)
		}
	}
}

func TestParseNexthop(t *testing.T) {
	for _, tc := range []struct {
		in   string
		lmtp bool
		want nextHop
		bad  bool
	}{
		{"example.org", false, nextHop{Host: "example.org", Port: 25, MX: true}, false},
		{"example.org:587", false, nextHop{Host: "example.org", Port: 587, MX: true}, false},
		{"[mail.example.org]", false, nextHop{Host: "mail.example.org", Port: 25, Bracketed: true}, false},
		{"[192.0.2.1]:submission", false, nextHop{Host: "192.0.2.1", Port: 587, Bracketed: true}, false},
		{"[ipv6:2001:db8::1]:26", false, nextHop{Host: "2001:db8::1", Port: 26, Bracketed: true}, false},
		{"inet:localhost:24", true, nextHop{Host: "localhost", Port: 24}, false},
		{"unix:private/dovecot-lmtp", true, nextHop{Unix: "private/dovecot-lmtp"}, false},
		{"unix:/x", false, nextHop{}, true},
		{"[x", false, nextHop{}, true},
		{"a:b:c", false, nextHop{}, true},
		{"host:99999", false, nextHop{}, true},
	} {
		got, err := parseNexthop(tc.in, tc.lmtp, 25)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
	}
}

// scripted runs a server on addr that answers lines as script says:
// greeting first, then one reply per received line; "" means stall.
func scripted(t *testing.T, addr string, greeting string, replies map[string]string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(greeting + "\r\n"))
				br := newLineReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
					r, ok := replies[strings.ToUpper(verb)]
					if !ok {
						r = "250 2.0.0 Ok"
					}
					if r == "" {
						time.Sleep(5 * time.Second)
						return
					}
					c.Write([]byte(r + "\r\n"))
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTimeoutAndRefusedGreeting(t *testing.T) {
	port := scripted(t, "127.0.0.3:0", "421 4.3.2 mx1 busy", nil)
	scripted(t, "127.0.0.2:"+strconv.Itoa(port), "220 mx2 ESMTP", map[string]string{"EHLO": "250-mx2\r\n250 PIPELINING", "RCPT": ""})
	b := newTestbed(t, zone, port, false, func(c *config.Config) { c.Set("smtp_rcpt_timeout", "1s") })
	reply := b.deliver("example.test", "a@sender.test", "x@example.test")
	wantResult(t, reply.Results[0], pb.DeliveryStatus_DELIVERY_DEFER, "4.4.2", "conversation with mx2.example.test[127.0.0.2] timed out while sending RCPT TO")
	b.wantLog("host mx1.example.test[127.0.0.3] refused to talk to me: 421 4.3.2 mx1 busy")
	b.wantLog("relay=mx2.example.test[127.0.0.2]:" + strconv.Itoa(port) + ", delay=")
	if !reply.SiteFailure {
		t.Error("a timeout before any transaction is a site failure")
	}
}
