package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ti "postern/internal/testinstance"
)

const dovecotBin = "/usr/sbin/dovecot"

// startDovecot runs a private Dovecot (no protocols, no listeners but the
// auth socket) under dir with a passwd-file user, and returns the auth
// socket's path. Dovecot is stopped when the test ends.
func startDovecot(t *testing.T, dir, user, pass string) string {
	t.Helper()
	if _, err := os.Stat(dovecotBin); err != nil {
		t.Skip("dovecot is not installed (apt-get install dovecot-core)")
	}
	sock := filepath.Join(dir, "auth")
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte(user+":{PLAIN}"+pass+"::::::\n"), 0644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
auth_verbose = yes
default_internal_user = nobody
default_login_user = nobody
passdb {
  driver = passwd-file
  args = scheme=PLAIN %[2]s
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener %[3]s {
    mode = 0666
  }
}
service anvil {
  chroot =
}
`, dir, passwd, sock)
	cf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(cf, []byte(conf), 0644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dovecotBin, "-F", "-c", cf)
	out, _ := os.Create(filepath.Join(dir, "dovecot.out"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		out.Close()
	})
	if !ti.Poll(10*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }) {
		b, _ := os.ReadFile(filepath.Join(dir, "dovecot.out"))
		l, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
		t.Fatalf("dovecot did not create %s:\n%s\n%s", sock, b, l)
	}
	return sock
}

// pyAuth is a Python smtplib client: argv = host port source user
// password mech rcpt; it prints one line per step: "<step> <code> <text>".
const pyAuth = `import smtplib, sys
host, port, src, user, pw, mech, rcpt = sys.argv[1:8]
s = smtplib.SMTP(host, int(port), source_address=(src, 0), timeout=30)
s.ehlo("client.example.test")
print("ehlo-auth", s.has_extn("auth"), s.esmtp_features.get("auth", ""))
s.user, s.password = user, pw
try:
    code, resp = s.auth(mech, getattr(s, "auth_" + mech.lower()), initial_response_ok=(mech == "PLAIN"))
except smtplib.SMTPAuthenticationError as e:
    code, resp = e.smtp_code, e.smtp_error
print("auth", code, resp.decode())
code, resp = s.mail("sender@client.example.test")
print("mail", code, resp.decode())
code, resp = s.rcpt(rcpt)
print("rcpt", code, resp.decode())
if code == 250:
    code, resp = s.data(b"Subject: authenticated\r\n\r\nhello from an authenticated client\r\n")
    print("data", code, resp.decode())
s.quit()
`

func pySession(t *testing.T, addr, src, user, pw, mech, rcpt string) map[string]string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("python3", "-c", pyAuth, host, port, src, user, pw, mech, rcpt).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 smtplib: %v\n%s", err, out)
	}
	res := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		res[k] = v
	}
	return res
}

// AUTH PLAIN and LOGIN against a real Dovecot: relaying from outside
// mynetworks is permitted once authenticated, a wrong password gets
// 535 5.7.8, the log names the method and user but never the password.
func TestAuthDovecot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creates local users: needs root")
	}
	const user, pass = "ptsasl", "s3cret-Pw!42"
	ddir, err := os.MkdirTemp("", "pt-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(ddir, 0755)
	t.Cleanup(func() { os.RemoveAll(ddir) })
	sock := startDovecot(t, ddir, user, pass)

	in, addr := start(t, map[string]string{
		"mynetworks":               "127.0.0.1/32",
		"smtpd_relay_restrictions": "permit_mynetworks permit_sasl_authenticated reject_unauth_destination",
		"smtpd_sasl_auth_enable":   "yes",
		"smtpd_sasl_type":          "dovecot",
		"smtpd_sasl_path":          sock,
		"smtpd_tls_auth_only":      "no",
	})
	alice := in.AddUser("ptauth")
	in.Start()

	// Unauthenticated from 127.0.0.2: no relaying.
	r := pySession(t, addr, "127.0.0.2", user, "wrong-password", "PLAIN", "someone@elsewhere.test")
	if strings.Join(strings.Fields(r["ehlo-auth"]), " ") != "True PLAIN LOGIN" {
		t.Errorf("EHLO AUTH: %q", r["ehlo-auth"])
	}
	if !strings.HasPrefix(r["auth"], "535 5.7.8 Error: authentication failed") {
		t.Errorf("wrong password: %q", r["auth"])
	}
	if r["rcpt"] != "554 5.7.1 <someone@elsewhere.test>: Relay access denied" {
		t.Errorf("relay without auth: %q", r["rcpt"])
	}
	in.WaitLog(`warning: \S+\[127\.0\.0\.2\]: SASL PLAIN authentication failed`)

	// LOGIN with a wrong password.
	r = pySession(t, addr, "127.0.0.2", user, "wrong-password", "LOGIN", "someone@elsewhere.test")
	if !strings.HasPrefix(r["auth"], "535 5.7.8 Error: authentication failed") {
		t.Errorf("LOGIN wrong password: %q", r["auth"])
	}
	in.WaitLog(`warning: \S+\[127\.0\.0\.2\]: SASL LOGIN authentication failed`)

	// PLAIN: relaying to another domain is permitted and queued.
	r = pySession(t, addr, "127.0.0.2", user, pass, "PLAIN", "someone@elsewhere.test")
	if r["auth"] != "235 2.7.0 Authentication successful" {
		l, _ := os.ReadFile(filepath.Join(ddir, "dovecot.log"))
		t.Fatalf("AUTH PLAIN: %q\ndovecot.log:\n%s\nmaillog:\n%s", r["auth"], l, in.Log())
	}
	if r["rcpt"] != "250 2.1.5 Ok" || !strings.HasPrefix(r["data"], "250 2.0.0 Ok: queued as ") {
		t.Errorf("relay after AUTH PLAIN: rcpt %q data %q", r["rcpt"], r["data"])
	}
	in.WaitLog(`postern/smtpd\[\d+\]: [0-9A-Za-z]+: client=\S+\[127\.0\.0\.2\], sasl_method=PLAIN, sasl_username=ptsasl$`)

	// LOGIN: the message arrives for a local user, ESMTPA in Received:.
	r = pySession(t, addr, "127.0.0.2", user, pass, "LOGIN", "ptauth@mx.example.test")
	if r["auth"] != "235 2.7.0 Authentication successful" {
		t.Fatalf("AUTH LOGIN: %q", r["auth"])
	}
	if !strings.HasPrefix(r["data"], "250 2.0.0 Ok: queued as ") {
		t.Errorf("after AUTH LOGIN: %v", r)
	}
	in.WaitLog(`client=\S+\[127\.0\.0\.2\], sasl_method=LOGIN, sasl_username=ptsasl$`)
	got := in.WaitMaildir(filepath.Join(alice.Home, "Maildir"), 1)[0]
	if !strings.Contains(got, "with ESMTPA id ") {
		t.Errorf("no ESMTPA in Received:\n%s", got)
	}
	if !strings.Contains(got, "hello from an authenticated client") {
		t.Errorf("body:\n%s", got)
	}

	// Neither the password nor its base64 forms are ever logged.
	log := in.Log()
	for _, secret := range []string{pass, "wrong-password",
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass)),
		base64.StdEncoding.EncodeToString([]byte(pass)),
		base64.StdEncoding.EncodeToString([]byte("wrong-password"))} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds a secret %q:\n%s", secret, log)
		}
	}
}
