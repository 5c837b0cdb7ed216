package trivialrewrite

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"postern/pkg/config"
	"postern/pkg/rewrite"
	"postern/pkg/service"
)

func testConfig(kv ...string) *config.Config {
	c := config.New()
	for _, l := range [][]string{{
		"compatibility_level", "3.6",
		"myhostname", "mx.pfref.test",
		"mydomain", "pfref.test",
		"myorigin", "$mydomain",
		"mydestination", "$myhostname, localhost.$mydomain, localhost, $mydomain",
		"inet_interfaces", "127.0.0.1",
		"recipient_delimiter", "+",
		"virtual_alias_domains", "valias.test",
	}, kv} {
		for i := 0; i+1 < len(l); i += 2 {
			c.Set(l[i], l[i+1])
		}
	}
	return c
}

// serve runs the daemon's gRPC registration on a unix socket in a
// temporary directory, as master would hand it over, and returns a client
// connection.
func serve(t *testing.T, cfg *config.Config) (*daemon, *grpc.ClientConn) {
	t.Helper()
	d := &daemon{}
	s := &service.Service{Config: cfg}
	if err := d.preJail(s); err != nil {
		t.Fatal(err)
	}
	if err := d.postJail(s); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "rewrite")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	d.register(s, g)
	go g.Serve(l)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return d, conn
}

func TestServerThroughClient(t *testing.T) {
	_, conn := serve(t, testConfig("relayhost", "[smarthost.example]:587"))
	c := rewrite.NewClient(conn)
	ctx := context.Background()

	got, err := c.Rewrite(ctx, "local", []string{"pfa", "host!user", "", "@hop.example:pfa@pfref.test"})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{"pfa@pfref.test", "user@host", "", "pfa@pfref.test"} {
		if got[i] != w {
			t.Errorf("Rewrite[%d] = %q, want %q", i, got[i], w)
		}
	}
	if got, _ := c.Rewrite(ctx, "remote", []string{"pfa"}); got[0] != "pfa" {
		t.Errorf("remote Rewrite = %q", got[0])
	}
	if _, err := c.Rewrite(ctx, "bogus", []string{"pfa"}); err == nil {
		t.Error("unknown context accepted")
	}

	res, err := c.Resolve(ctx, "", []string{"pfa@pfref.test", "x@example.com", "info@valias.test", "user@a@b.example", "x@bad..test"})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []struct {
		transport, nexthop, rcpt string
		flags                    uint32
	}{
		{"local", "mx.pfref.test", "pfa@pfref.test", rewrite.ClassLocal | rewrite.FlagFinal},
		{"smtp", "[smarthost.example]:587", "x@example.com", rewrite.ClassDefault},
		{"error", "5.1.1 User unknown in virtual alias table", "info@valias.test", rewrite.ClassAlias | rewrite.FlagFinal},
		{"smtp", "[smarthost.example]:587", "user@a@b.example", rewrite.ClassDefault | rewrite.FlagRouted},
		{"error", rewrite.BadSyntaxText, "x@bad..test", rewrite.ClassDefault | rewrite.FlagError},
	} {
		r := res[i]
		if r.Transport != w.transport || r.Nexthop != w.nexthop || r.Recipient != w.rcpt || r.Flags != w.flags {
			t.Errorf("Resolve[%d] = %v, want %+v", i, r, w)
		}
	}
}

func TestServerLookupFailure(t *testing.T) {
	_, conn := serve(t, testConfig("transport_maps", "fail:broken"))
	res, err := rewrite.NewClient(conn).Resolve(context.Background(), "", []string{"x@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Flags&rewrite.FlagFail == 0 {
		t.Errorf("flags %#x: no FlagFail", res[0].Flags)
	}
}

// A rebuilt table makes the daemon's Run return, so that service drains
// the requests in progress and exits for master to start a fresh one.
func TestRestartOnTableChange(t *testing.T) {
	tm := filepath.Join(t.TempDir(), "transport")
	if err := os.WriteFile(tm, []byte("a.test smtp:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := serve(t, testConfig("transport_maps", "texthash:"+tm))
	tableCheckInterval = time.Millisecond
	defer func() { tableCheckInterval = time.Second }()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- d.run(ctx, nil) }()
	if err := os.WriteFile(tm, []byte("a.test smtp:\nb.test relay:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
