package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDir(t *testing.T) {
	t.Setenv("MAIL_CONFIG", "")
	if Dir("") != DefaultDir {
		t.Errorf("default dir %q", Dir(""))
	}
	t.Setenv("MAIL_CONFIG", "/env/dir")
	if Dir("") != "/env/dir" || Dir("/flag") != "/flag" {
		t.Errorf("-c must win over MAIL_CONFIG, MAIL_CONFIG over the default")
	}
}

func TestLoadAndOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/main.cf", []byte("myhostname = mx.example.test\nmyorigin = $mydomain\n"), 0644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Get("myorigin"); got != "example.test" {
		t.Errorf("myorigin = %q", got)
	}
	if got := c.Get("config_directory"); got != dir {
		t.Errorf("config_directory = %q, want %q", got, dir)
	}
	c.Set("myhostname", "other.test")
	if got := c.Get("mydestination"); !strings.HasPrefix(got, "other.test, localhost.test") {
		t.Errorf("an override must be seen by references: mydestination = %q", got)
	}
	if !c.IsSet("myorigin") || c.IsSet("mydestination") {
		t.Errorf("IsSet is about main.cf only")
	}
}

func TestTypedValues(t *testing.T) {
	c := testConfig(t, `
biff = Yes
soft_bounce = maybe
hash_queue_depth = abc
smtpd_recipient_limit = 1000
minimal_backoff_time = 300
maximal_queue_lifetime = 5
delay_warning_time = 4h
trigger_timeout = 5x
mydestination = a, b  c,{d e}, ,f
`)
	if b, err := c.Bool("biff"); err != nil || !b {
		t.Errorf("biff: %v %v", b, err)
	}
	if _, err := c.Bool("soft_bounce"); err == nil || err.Error() != "bad boolean configuration: soft_bounce = maybe" {
		t.Errorf("soft_bounce: %v", err)
	}
	if _, err := c.Int("hash_queue_depth"); err == nil || err.Error() != "bad numerical configuration: hash_queue_depth = abc" {
		t.Errorf("hash_queue_depth: %v", err)
	}
	if n, err := c.Int("smtpd_recipient_limit"); err != nil || n != 1000 {
		t.Errorf("smtpd_recipient_limit: %v %v", n, err)
	}
	if d, err := c.Time("minimal_backoff_time"); err != nil || d != 300*time.Second {
		t.Errorf("minimal_backoff_time: %v %v", d, err)
	}
	if d, err := c.Time("maximal_queue_lifetime"); err != nil || d != 5*24*time.Hour {
		t.Errorf("maximal_queue_lifetime (default unit d): %v %v", d, err)
	}
	if d, err := c.Time("delay_warning_time"); err != nil || d != 4*time.Hour {
		t.Errorf("delay_warning_time: %v %v", d, err)
	}
	if _, err := c.Time("trigger_timeout"); err == nil || err.Error() != "parameter trigger_timeout: bad time value or unit: 5x" {
		t.Errorf("trigger_timeout: %v", err)
	}
	if got := c.List("mydestination"); !reflect.DeepEqual(got, []string{"a", "b", "c", "d e", "f"}) {
		t.Errorf("list: %q", got)
	}
}

func TestDefaultsAreExpandable(t *testing.T) {
	c := New()
	for _, p := range Params() {
		if _, err := c.ExpandValue(p.Name); err != nil {
			t.Errorf("default of %s does not expand: %v", p.Name, err)
		}
	}
	if got := c.Get("smtpd_relay_restrictions"); got != "" {
		t.Errorf("compatibility_level 0 must leave smtpd_relay_restrictions empty, got %q", got)
	}
	c.Set("compatibility_level", "3.6")
	if got := c.Get("smtpd_relay_restrictions"); got != "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination" {
		t.Errorf("smtpd_relay_restrictions at 3.6 = %q", got)
	}
}

func TestHostDefaults(t *testing.T) {
	c := New()
	h := c.Get("myhostname")
	if !strings.Contains(h, ".") {
		t.Errorf("myhostname %q must be qualified", h)
	}
	if d := c.Get("mydomain"); !strings.HasSuffix(h, "."+d) {
		t.Errorf("mydomain %q must be myhostname minus its first label (%q)", d, h)
	}
	c.Set("mynetworks_style", "host")
	if n := c.Get("mynetworks"); !strings.Contains(n, "127.0.0.1/32") {
		t.Errorf("mynetworks (host style) %q lacks 127.0.0.1/32", n)
	}
	c2 := New()
	c2.Set("mynetworks_style", "subnet")
	if n := c2.Get("mynetworks"); !strings.Contains(n, "127.0.0.0/8") {
		t.Errorf("mynetworks (subnet style) %q lacks 127.0.0.0/8", n)
	}
}
