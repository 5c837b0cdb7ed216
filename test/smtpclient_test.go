// End-to-end tests of the smtp and lmtp delivery agents: the agent's gRPC
// Delivery service on a unix socket in a temporary queue directory, as
// qmgr reaches it, a DNS server and test SMTP/LMTP servers run by the test
// on loopback addresses.
package test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/config"
	"postern/pkg/dnsbl/dnstest"
	"postern/pkg/dnsresolve"
	"postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/rpc"
	pb "postern/proto"
	"postern/smtp"
	"postern/smtp/smtptest"
)

// agentService starts the agent (smtp, or lmtp) on dir/private/SERVICE and
// returns a Delivery client and the log reader.
func agentService(t *testing.T, dir, service string, lmtp bool, set func(*config.Config)) (pb.DeliveryClient, func() string) {
	t.Helper()
	c := config.New()
	c.Set("myhostname", "mx.self.test")
	c.Set("inet_interfaces", "127.0.0.1")
	c.Set("inet_protocols", "ipv4")
	c.Set("smtp_connection_cache_time_limit", "30s")
	set(c)
	st, err := smtp.LoadSettings(c, lmtp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dnsresolve.Load(c.Get("resolver_conf_file"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "maillog-"+service)
	l, err := log.New(log.Options{Program: service, SyslogName: "postern", File: logPath, Hostname: "mx.self.test"})
	if err != nil {
		t.Fatal(err)
	}
	a := smtp.New(st, r)
	a.Log, a.QueueDir = l, dir
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	ln, err := net.Listen("unix", filepath.Join(dir, "private", service))
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(rpc.Creds()))
	pb.RegisterDeliveryServer(g, a)
	go g.Serve(ln)
	conn, err := rpc.Private(dir, service)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop(); a.Close(); l.Close() })
	return pb.NewDeliveryClient(conn), func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
}

func deliverRequest(t *testing.T, dir, nexthop, sender string, rcpts ...string) *pb.DeliverRequest {
	id := smtptest.WriteMessage(t, dir, &queue.Envelope{Sender: sender}, rcpts,
		"From: <"+sender+">\nSubject: smtp client test\n\nbody\n.dot line\n")
	now := time.Now()
	req := &pb.DeliverRequest{QueueId: id, QueueName: queue.Active, Nexthop: nexthop, Sender: sender,
		ArrivalTimeUs: now.UnixMicro(), ActiveTimeUs: now.UnixMicro(), RequestTimeUs: now.UnixMicro()}
	for i, r := range rcpts {
		req.Recipients = append(req.Recipients, &pb.DeliverRecipient{Index: uint32(i), Address: r})
	}
	return req
}

func TestSMTPClientDeliversByMXWithPerRecipientResultsAndReusesTheConnection(t *testing.T) {
	primary := smtptest.Start(t, smtptest.Options{Addr: "127.0.0.3:0"})
	port := strconv.Itoa(primary.Port)
	backup := smtptest.Start(t, smtptest.Options{Addr: "127.0.0.2:" + port})
	ns := dnstest.Serve(t, map[string][]string{
		"remote.test. MX":    {"remote.test. 60 IN MX 10 mx1.remote.test.", "remote.test. 60 IN MX 20 mx2.remote.test."},
		"mx1.remote.test. A": {"mx1.remote.test. 60 IN A 127.0.0.3"},
		"mx2.remote.test. A": {"mx2.remote.test. 60 IN A 127.0.0.2"},
		"nullmx.test. MX":    {"nullmx.test. 60 IN MX 0 ."},
		"dead.test. MX":      {"dead.test. 60 IN MX 10 mx.dead.test."},
		"mx.dead.test. A":    {"mx.dead.test. 60 IN A 127.0.0.5"},
	})
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	os.WriteFile(resolv, []byte("nameserver "+ns+"\n"), 0o644)
	client, readLog := agentService(t, dir, "smtp", false, func(c *config.Config) {
		c.Set("resolver_conf_file", resolv)
		c.Set("smtp_tcp_port", port)
	})
	ctx := context.Background()

	reply, err := client.Deliver(ctx, deliverRequest(t, dir, "remote.test", "sender@self.test", "ok1@remote.test", "rej1@remote.test", "tmp1@remote.test"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		st   pb.DeliveryStatus
		text string
	}{
		{pb.DeliveryStatus_DELIVERY_SENT, "250 2.0.0 OK: queued"},
		{pb.DeliveryStatus_DELIVERY_BOUNCE, "host mx1.remote.test[127.0.0.3] said: 550 5.1.1 <rej1@remote.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)"},
		{pb.DeliveryStatus_DELIVERY_DEFER, "said: 451 4.2.0 <tmp1@remote.test>: Recipient address rejected: Greylisted (in reply to RCPT TO command)"},
	}
	for i, w := range want {
		r := reply.Results[i]
		if r.Index != uint32(i) || r.Status != w.st || !strings.Contains(r.Text, w.text) {
			t.Errorf("recipient %d: %v", i, r)
		}
	}
	if m := primary.Messages(); len(m) != 1 || !strings.Contains(m[0].Data, "\r\n.dot line\r\n") {
		t.Errorf("primary got %+v", m)
	}

	// A second message to the same next hop uses the cached connection.
	reply, err = client.Deliver(ctx, deliverRequest(t, dir, "remote.test", "sender@self.test", "ok2@remote.test"))
	if err != nil || reply.Results[0].Status != pb.DeliveryStatus_DELIVERY_SENT {
		t.Fatalf("%v %v", reply, err)
	}
	if primary.Conns() != 1 {
		t.Errorf("primary saw %d connections", primary.Conns())
	}
	log := readLog()
	for _, w := range []string{
		"postern/smtp[",
		"to=<ok1@remote.test>, relay=mx1.remote.test[127.0.0.3]:" + port + ", delay=",
		"dsn=5.1.1, status=bounced (host mx1.remote.test[127.0.0.3] said: 550 5.1.1 <rej1@remote.test>",
		"to=<ok2@remote.test>, relay=mx1.remote.test[127.0.0.3]:" + port + ", conn_use=2, delay=",
	} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	_ = backup

	// Null MX: bounced at once, without a connection.
	reply, err = client.Deliver(ctx, deliverRequest(t, dir, "nullmx.test", "sender@self.test", "x@nullmx.test"))
	if err != nil || reply.Results[0].Status != pb.DeliveryStatus_DELIVERY_BOUNCE || reply.Results[0].Dsn != "5.1.0" {
		t.Errorf("null MX: %v %v", reply, err)
	}
	// A dead destination: deferred, and a site failure for qmgr.
	reply, err = client.Deliver(ctx, deliverRequest(t, dir, "dead.test", "sender@self.test", "x@dead.test"))
	if err != nil || reply.Results[0].Status != pb.DeliveryStatus_DELIVERY_DEFER || !reply.SiteFailure ||
		reply.Results[0].Text != "connect to mx.dead.test[127.0.0.5]:"+port+": Connection refused" {
		t.Errorf("dead destination: %v %v", reply, err)
	}
}

func TestLMTPClientDeliversToAUnixSocketInTheQueueDirectory(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	sink := smtptest.Start(t, smtptest.Options{Addr: filepath.Join(dir, "private", "dovecot-lmtp"), Unix: true, LMTP: true})
	client, readLog := agentService(t, dir, "lmtp", true, func(c *config.Config) {
		c.Set("resolver_conf_file", filepath.Join(dir, "no-resolv.conf"))
	})
	reply, err := client.Deliver(context.Background(), deliverRequest(t, dir, "unix:private/dovecot-lmtp", "sender@self.test", "alice@self.test", "lrej@self.test"))
	if err != nil {
		t.Fatal(err)
	}
	if reply.Results[0].Status != pb.DeliveryStatus_DELIVERY_SENT || reply.Results[1].Status != pb.DeliveryStatus_DELIVERY_BOUNCE ||
		!strings.HasSuffix(reply.Results[1].Text, "Mailbox full (in reply to end of DATA command)") {
		t.Errorf("results %v", reply.Results)
	}
	if len(sink.Messages()) != 1 {
		t.Error("nothing delivered")
	}
	if log := readLog(); !strings.Contains(log, "postern/lmtp[") || !strings.Contains(log, "to=<alice@self.test>, relay=mx.self.test["+filepath.Join(dir, "private", "dovecot-lmtp")+"], delay=") {
		t.Errorf("log:\n%s", log)
	}
}
