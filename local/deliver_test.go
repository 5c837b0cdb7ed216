package local

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"postern/pkg/config"
	"postern/pkg/table"
	pb "postern/proto"
)

const (
	sent   = pb.DeliveryStatus_DELIVERY_SENT
	deferd = pb.DeliveryStatus_DELIVERY_DEFER
	bounce = pb.DeliveryStatus_DELIVERY_BOUNCE
)

func TestMaildirInHomeHasOwnerAndHeaders(t *testing.T) {
	e := newEnv(t, "alice")
	e.cfg.Set("home_mailbox", "Maildir/")
	e.start()
	to := e.u("alice") + "@test"
	_, res := e.deliver("sender@example.org", testMessage, to)
	e.wantResult(res[0], sent, "2.0.0", "^delivered to maildir$")
	md := filepath.Join(e.users["alice"].home, "Maildir")
	files := maildirFiles(t, md)
	if len(files) != 1 {
		t.Fatalf("%d files in Maildir/new", len(files))
	}
	want := "Return-Path: <sender@example.org>\nX-Original-To: " + to + "\nDelivered-To: " + to + "\n" + testMessage
	if files[0] != want {
		t.Errorf("maildir file:\n%s\nwant:\n%s", files[0], want)
	}
	ents, _ := os.ReadDir(filepath.Join(md, "new"))
	uid, _ := ownerOf(t, filepath.Join(md, "new", ents[0].Name()))
	if uid != e.users["alice"].uid {
		t.Errorf("maildir file owned by %d, want %d", uid, e.users["alice"].uid)
	}
	e.wantLog(`: to=<` + to + `>, relay=local, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/0/[0-9.]+, dsn=2\.0\.0, status=sent \(delivered to maildir\)`)
}

func TestMboxInSpool(t *testing.T) {
	e := newEnv(t, "alice")
	e.start()
	to := e.u("alice") + "@test"
	_, res := e.deliver("", testMessage, to)
	e.wantResult(res[0], sent, "2.0.0", "^delivered to mailbox$")
	path := filepath.Join(e.spool, e.u("alice"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, "From MAILER-DAEMON  ") || !strings.Contains(s, "\nReturn-Path: <>\nX-Original-To: "+to+"\nDelivered-To: "+to+"\nFrom: Sender") ||
		!strings.Contains(s, "\n>From the body\n") || !strings.HasSuffix(s, "line two\n\n") {
		t.Errorf("mbox:\n%s", s)
	}
	uid, _ := ownerOf(t, path)
	fi, _ := os.Stat(path)
	if uid != e.users["alice"].uid || fi.Mode().Perm() != 0600 {
		t.Errorf("mailbox owner %d mode %v", uid, fi.Mode())
	}
	e.wantLog(`status=sent \(delivered to mailbox\)`)
}

func TestUnknownUserBounces(t *testing.T) {
	e := newEnv(t)
	e.start()
	_, res := e.deliver("s@example.org", testMessage, "NoSuchUser+x@test")
	e.wantResult(res[0], bounce, "5.1.1", `^unknown user: "nosuchuser\+x"$`)
	e.wantLog(`to=<NoSuchUser\+x@test>, relay=local, .*dsn=5\.1\.1, status=bounced \(unknown user: "nosuchuser\+x"\)`)
}

func TestDeliveredToLoopBounces(t *testing.T) {
	e := newEnv(t, "alice")
	e.start()
	to := e.u("alice") + "@test"
	_, res := e.deliver("s@example.org", "Delivered-To: "+strings.ToUpper(to)+"\n"+testMessage, to)
	e.wantResult(res[0], bounce, "5.4.6", "^mail forwarding loop for "+to+"$")
	if _, err := os.Stat(filepath.Join(e.spool, e.u("alice"))); err == nil {
		t.Error("looping message was delivered")
	}
}

func TestSymlinkedMailboxIsRefused(t *testing.T) {
	e := newEnv(t, "alice")
	e.start()
	target := filepath.Join(e.dir, "elsewhere")
	os.WriteFile(target, nil, 0666)
	mbox := filepath.Join(e.spool, e.u("alice"))
	if err := os.Symlink(target, mbox); err != nil {
		t.Fatal(err)
	}
	os.Lchown(mbox, e.users["alice"].uid, e.users["alice"].gid)
	_, res := e.deliver("s@example.org", testMessage, e.u("alice")+"@test")
	e.wantResult(res[0], bounce, "5.2.0", "^cannot update mailbox "+mbox+" for user "+e.u("alice")+". file is a symbolic link$")
	e.wantLog(`warning: cannot update mailbox .* file is a symbolic link`)
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Error("symlink target was written")
	}
}

func TestMailboxCommandTempfailDefers(t *testing.T) {
	e := newEnv(t, "alice")
	e.cfg.Set("mailbox_command", `/bin/sh -c "echo some diagnostic; exit 75"`)
	e.start()
	_, res := e.deliver("s@example.org", testMessage, e.u("alice")+"@test")
	e.wantResult(res[0], deferd, "4.3.0", `^temporary failure\. Command output: some diagnostic $`)
	e.wantLog(`dsn=4\.3\.0, status=deferred \(temporary failure\. Command output: some diagnostic \)`)
}

func TestMailboxCommandRunsAsUserWithEnvironment(t *testing.T) {
	e := newEnv(t, "alice")
	out := filepath.Join(e.dir, "out")
	os.Mkdir(out, 0o777)
	os.Chmod(out, 0o777)
	// $EXTENSION is left to the shell: mailbox_command is not expanded.
	e.cfg.Set("mailbox_command", "/bin/sh -c 'id -u >"+out+"/uid; env >"+out+"/env; cat >"+out+"/msg; echo \"$EXTENSION\" >"+out+"/ext'")
	e.start()
	to := e.u("alice") + "+tag@test"
	_, res := e.deliver("s@example.org", testMessage, to)
	e.wantResult(res[0], sent, "2.0.0", "^delivered to command: /bin/sh")
	uid, _ := os.ReadFile(filepath.Join(out, "uid"))
	if strings.TrimSpace(string(uid)) != strconv.Itoa(e.users["alice"].uid) {
		t.Errorf("command ran as uid %s", uid)
	}
	envb, _ := os.ReadFile(filepath.Join(out, "env"))
	for _, want := range []string{
		"HOME=" + e.users["alice"].home, "USER=" + e.u("alice"), "LOGNAME=" + e.u("alice"),
		"EXTENSION=tag", "LOCAL=" + e.u("alice") + "+tag", "DOMAIN=test", "RECIPIENT=" + to,
		"SENDER=s@example.org", "ORIGINAL_RECIPIENT=" + to, "SHELL=/bin/sh",
	} {
		if !strings.Contains("\n"+string(envb), "\n"+want+"\n") {
			t.Errorf("environment lacks %s:\n%s", want, envb)
		}
	}
	if ext, _ := os.ReadFile(filepath.Join(out, "ext")); string(ext) != "tag\n" {
		t.Errorf("$EXTENSION in mailbox_command gave %q", ext)
	}
	msg, _ := os.ReadFile(filepath.Join(out, "msg"))
	if !strings.HasPrefix(string(msg), "From s@example.org  ") || !strings.Contains(string(msg), "\nReturn-Path: <s@example.org>\nX-Original-To: "+to+"\nDelivered-To: "+to+"\n"+testMessage) {
		t.Errorf("command input:\n%s", msg)
	}
}

func TestCommandExitStatuses(t *testing.T) {
	e := newEnv(t, "alice")
	e.start()
	for _, tc := range []struct {
		cmd  string
		st   pb.DeliveryStatus
		dsn  string
		text string
	}{
		{"exit 67;", bounce, "5.1.1", "^user unknown$"},
		{"exit 1;", bounce, "5.3.0", `^Command died with status 1: "exit 1;"$`},
		{"echo 5.7.0 mailbox disabled by policy; exit 1", bounce, "5.7.0", "^mailbox disabled by policy $"},
		{"kill -9 $$", deferd, "4.3.0", `^Command died with signal 9: `},
		{"exit 77;", bounce, "5.7.0", "^permission denied$"},
	} {
		e.srv.p.mailboxCommand = tc.cmd
		_, res := e.deliver("s@example.org", testMessage, e.u("alice")+"@test")
		e.wantResult(res[0], tc.st, tc.dsn, tc.text)
	}
}

func TestAliases(t *testing.T) {
	e := newEnv(t, "alice", "bob", "carol")
	out := filepath.Join(e.dir, "out")
	os.Mkdir(out, 0o777)
	os.Chmod(out, 0o777)
	a, b := e.u("alice"), e.u("bob")
	inc := filepath.Join(e.dir, "list.inc")
	os.WriteFile(inc, []byte("# comment\n"+a+"\n"+out+"/inc.mbox\n\"|id -u >"+out+"/inc.uid\"\n"), 0644)
	e.aliases("carol", strings.Join([]string{
		"list: " + a + ", " + b,
		"dup: " + a + ", " + a + ", " + b + ", " + a + "@test, dup2",
		"dup2: " + a,
		"cmd: \"|id -u >" + out + "/cmd.uid\"",
		"tofile: " + out + "/file.mbox",
		"remote: someone@elsewhere.example",
		"inc: :include:" + inc,
		"big: " + a + ", far@elsewhere.example",
		"owner-big: " + b,
		"selfish: selfish, " + b,
		"loop1: loop2",
		"loop2: loop1",
		"ws: " + a + " " + b,
	}, "\n"))
	e.start()
	count := func(user string) int {
		data, _ := os.ReadFile(filepath.Join(e.spool, user))
		return strings.Count(string(data), "\nReturn-Path: ")
	}
	reset := func() {
		os.Remove(filepath.Join(e.spool, a))
		os.Remove(filepath.Join(e.spool, b))
	}

	_, res := e.deliver("s@example.org", testMessage, "list@test")
	e.wantResult(res[0], sent, "2.0.0", "delivered to mailbox")
	if count(a) != 1 || count(b) != 1 {
		t.Errorf("list: %d, %d deliveries", count(a), count(b))
	}
	e.wantLog(`to=<` + a + `@test>, orig_to=<list@test>, relay=local, .*status=sent \(delivered to mailbox\)`)
	reset()

	_, res = e.deliver("s@example.org", testMessage, "dup@test")
	e.wantResult(res[0], sent, "2.0.0", "delivered to mailbox")
	if count(a) != 1 || count(b) != 1 {
		t.Errorf("dup: %d, %d deliveries", count(a), count(b))
	}
	data, _ := os.ReadFile(filepath.Join(e.spool, a))
	if !strings.Contains(string(data), "\nDelivered-To: dup@test\n") {
		t.Errorf("alias member lacks Delivered-To: dup@test (frozen_delivered_to):\n%s", data)
	}
	reset()

	e.deliver("s@example.org", testMessage, "ws@test")
	if count(a) != 1 || count(b) != 1 {
		t.Errorf("ws: %d, %d deliveries", count(a), count(b))
	}
	reset()

	// Commands and files run as the owner of the alias file.
	_, res = e.deliver("s@example.org", testMessage, "cmd@test")
	e.wantResult(res[0], sent, "2.0.0", "^delivered to command: id -u >")
	if uid, _ := os.ReadFile(filepath.Join(out, "cmd.uid")); strings.TrimSpace(string(uid)) != strconv.Itoa(e.users["carol"].uid) {
		t.Errorf("alias command ran as %q, want carol %d", uid, e.users["carol"].uid)
	}
	_, res = e.deliver("s@example.org", testMessage, "tofile@test")
	e.wantResult(res[0], sent, "2.0.0", "^delivered to file: "+out+"/file.mbox$")
	if uid, _ := ownerOf(t, filepath.Join(out, "file.mbox")); uid != e.users["carol"].uid {
		t.Errorf("alias file owned by %d", uid)
	}

	// Remote members are forwarded as a new message.
	_, res = e.deliver("s@example.org", testMessage, "remote@test")
	e.wantResult(res[0], sent, "2.0.0", "^forwarded as FWD0001$")
	msgs := e.cleanup.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d forwarded messages", len(msgs))
	}
	m := msgs[0]
	if m.env.Sender != "s@example.org" || m.env.Origin != "local" || m.env.RewriteContext != "local" ||
		!reflect.DeepEqual(addrs(m.rcpts), []string{"someone@elsewhere.example"}) || m.rcpts[0].Original != "remote@test" ||
		m.content != "Delivered-To: remote@test\n"+testMessage {
		t.Errorf("forwarded: %+v %v %q", m.env, m.rcpts, m.content)
	}
	e.wantLog(`to=<remote@test>, relay=local, .*status=sent \(forwarded as FWD0001\)`)

	// :include: owned by root: addresses delivered, file and command
	// restricted.
	_, res = e.deliver("s@example.org", testMessage, "inc@test")
	if count(a) != 1 {
		t.Errorf("include: %d deliveries", count(a))
	}
	e.wantResult(res[0], bounce, "5.7.1", "^mail to file is restricted$")
	e.wantLog(`to=<inc@test>, .*dsn=5\.7\.1, status=bounced \(mail to command is restricted\)`)
	reset()

	// owner-big: the expansion is resubmitted with sender owner-big@test.
	_, res = e.deliver("s@example.org", testMessage, "big@test")
	e.wantResult(res[0], sent, "2.0.0", "^forwarded as FWD0002$")
	msgs = e.cleanup.messages()
	m = msgs[len(msgs)-1]
	if m.env.Sender != "owner-big@test" || !reflect.DeepEqual(addrs(m.rcpts), []string{a + "@test", "far@elsewhere.example"}) {
		t.Errorf("owner alias forwarded %q %v", m.env.Sender, addrs(m.rcpts))
	}

	// Self reference: selfish is delivered to the user selfish (unknown).
	_, res = e.deliver("s@example.org", testMessage, "selfish@test")
	e.wantResult(res[0], bounce, "5.1.1", `^unknown user: "selfish"$`)
	if count(b) != 1 {
		t.Errorf("selfish: %d deliveries to bob", count(b))
	}

	_, res = e.deliver("s@example.org", testMessage, "loop1@test")
	e.wantResult(res[0], bounce, "5.4.6", "^recipient nesting limit exceeded$")
}

func TestAliasesOwnedByRootRunAsDefaultPrivs(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(e.dir, "out")
	os.Mkdir(out, 0o777)
	os.Chmod(out, 0o777)
	// A hash: table built as postalias builds it, owned by root.
	src := filepath.Join(e.dir, "aliases")
	os.WriteFile(src, []byte("cmd: \"|id -u >"+out+"/uid\"\n"), 0644)
	b, err := table.Create("hash", src, 0644, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(src)
	table.ParseAliases(f, src, t.Logf, func(k, v string, _ int) error { return b.Put(k, v) })
	f.Close()
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	e.cfg.Set("alias_maps", "hash:"+src)
	e.start()
	_, res := e.deliver("s@example.org", testMessage, "cmd@test")
	e.wantResult(res[0], sent, "2.0.0", "delivered to command")
	nobody, _ := lookupUser("nobody")
	if uid, _ := os.ReadFile(filepath.Join(out, "uid")); strings.TrimSpace(string(uid)) != strconv.Itoa(nobody.uid) {
		t.Errorf("root-owned alias command ran as %q, want nobody", uid)
	}
}

func TestAliasExtension(t *testing.T) {
	e := newEnv(t, "alice")
	e.aliases("", "list: "+e.u("alice")+"\n")
	e.start()
	_, res := e.deliver("s@example.org", testMessage, "LIST+tag@test")
	e.wantResult(res[0], sent, "2.0.0", "delivered to mailbox")
	e.wantLog(`to=<` + e.u("alice") + `@test>, orig_to=<LIST\+tag@test>`)
}

func TestDotForward(t *testing.T) {
	e := newEnv(t, "alice", "bob")
	out := filepath.Join(e.dir, "out")
	os.Mkdir(out, 0o777)
	os.Chmod(out, 0o777)
	a := e.users["alice"]
	fwd := filepath.Join(a.home, ".forward")
	os.WriteFile(fwd, []byte(a.name+", far@elsewhere.example, "+e.u("bob")+"\n\"|id -u >"+out+"/fwd.uid\"\n"), 0644)
	os.Chown(fwd, a.uid, a.gid)
	e.start()
	to := a.name + "+tag@test"
	_, res := e.deliver("s@example.org", testMessage, to)
	e.wantResult(res[0], sent, "2.0.0", "")
	data, _ := os.ReadFile(filepath.Join(e.spool, a.name))
	if strings.Count(string(data), "\nReturn-Path: ") != 1 {
		t.Errorf("self delivery: %q", data)
	}
	e.wantLog(`to=<` + a.name + `@test>, orig_to=<` + regexpQuote(to) + `>, relay=local, .*status=sent \(delivered to mailbox\)`)
	if uid, _ := os.ReadFile(filepath.Join(out, "fwd.uid")); strings.TrimSpace(string(uid)) != strconv.Itoa(a.uid) {
		t.Errorf(".forward command ran as %q, want %d", uid, a.uid)
	}
	msgs := e.cleanup.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d forwarded messages", len(msgs))
	}
	m := msgs[0]
	if m.env.Sender != "s@example.org" || !reflect.DeepEqual(addrs(m.rcpts), []string{"far@elsewhere.example", e.u("bob") + "@test"}) ||
		m.rcpts[0].Original != to || !strings.HasPrefix(m.content, "Delivered-To: "+to+"\n") {
		t.Errorf("forwarded %+v %v %q", m.env, addrs(m.rcpts), m.content)
	}
	e.wantLog(`to=<` + regexpQuote(to) + `>, relay=local, .*status=sent \(forwarded as FWD0001\)`)
	if _, err := os.Stat(filepath.Join(e.spool, e.u("bob"))); err == nil {
		t.Error("bob got an inline delivery from alice's .forward")
	}
}

func TestDotForwardBackslashUser(t *testing.T) {
	e := newEnv(t, "alice")
	a := e.users["alice"]
	fwd := filepath.Join(a.home, ".forward")
	os.WriteFile(fwd, []byte("\\"+a.name+"\n"), 0600)
	os.Chown(fwd, a.uid, a.gid)
	e.start()
	_, res := e.deliver("s@example.org", testMessage, a.name+"@test")
	e.wantResult(res[0], sent, "2.0.0", "^delivered to mailbox$")
}

func TestGroupWritableDotForwardIsRefused(t *testing.T) {
	e := newEnv(t, "alice")
	a := e.users["alice"]
	fwd := filepath.Join(a.home, ".forward")
	os.WriteFile(fwd, []byte("far@elsewhere.example\n"), 0664)
	os.Chmod(fwd, 0664)
	os.Chown(fwd, a.uid, a.gid)
	e.start()
	_, res := e.deliver("s@example.org", testMessage, a.name+"@test")
	e.wantResult(res[0], sent, "2.0.0", "^delivered to mailbox$")
	e.wantLog(`warning: file ` + regexpQuote(fwd) + ` is group writable`)
	if n := len(e.cleanup.messages()); n != 0 {
		t.Errorf("%d messages forwarded", n)
	}
	// Not owned by the user: refused too.
	os.Chmod(fwd, 0644)
	os.Chown(fwd, e.users["alice"].uid+1000, 0)
	e.deliver("s@example.org", testMessage, a.name+"@test")
	e.wantLog(fmt.Sprintf(`warning: file %s has bad owner uid %d`, regexpQuote(fwd), a.uid+1000))
}

func regexpQuote(s string) string {
	r := strings.NewReplacer(".", `\.`, "+", `\+`, "(", `\(`, ")", `\)`)
	return r.Replace(s)
}

func TestMailboxSizeLimitBounces(t *testing.T) {
	e := newEnv(t, "alice")
	e.cfg.Set("mailbox_size_limit", "100")
	e.cfg.Set("message_size_limit", "50")
	e.start()
	mbox := filepath.Join(e.spool, e.u("alice"))
	_, res := e.deliver("s@example.org", testMessage+strings.Repeat("x", 200)+"\n", e.u("alice")+"@test")
	e.wantResult(res[0], bounce, "5.2.2", "^cannot update mailbox "+regexpQuote(mbox)+" for user "+e.u("alice")+`\. error writing message: File too large$`)
}

func TestMailboxSizeLimitBelowMessageSizeLimitIsFatal(t *testing.T) {
	c := config.New()
	c.Set("mailbox_size_limit", "100")
	c.Set("message_size_limit", "1000")
	if _, err := NewServer(c, t.TempDir()); err == nil || !strings.Contains(err.Error(), "mailbox_size_limit is smaller than message_size_limit") {
		t.Errorf("NewServer: %v", err)
	}
}

func TestLuserRelayForwardsUnknownUsers(t *testing.T) {
	e := newEnv(t)
	e.cfg.Set("luser_relay", "$user+${extension}@elsewhere.example")
	e.start()
	_, res := e.deliver("s@example.org", testMessage, "nosuch+ext@test")
	e.wantResult(res[0], sent, "2.0.0", "^forwarded as FWD0001$")
	msgs := e.cleanup.messages()
	if len(msgs) != 1 || !reflect.DeepEqual(addrs(msgs[0].rcpts), []string{"nosuch+ext@elsewhere.example"}) {
		t.Errorf("forwarded %v", addrs(msgs[0].rcpts))
	}
}
