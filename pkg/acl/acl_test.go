package acl

import (
	"testing"

	"postern/pkg/config"
)

func TestUserAllowed(t *testing.T) {
	for _, c := range []struct {
		list, name string
		want       bool
	}{
		{"static:anyone", "joe", true},
		{"", "joe", false},
		{"root, joe", "Joe", true},
		{"root, joe", "ann", false},
		{"!joe, static:anyone", "joe", false},
		{"!joe, static:anyone", "ann", true},
		{"inline:{ann=ok}", "ann", true},
		{"inline:{ann=ok}", "bob", false},
	} {
		cfg := config.New()
		cfg.Set("authorized_mailq_users", c.list)
		got, err := UserAllowed(cfg, "authorized_mailq_users", c.name)
		if err != nil || got != c.want {
			t.Errorf("%q, %q: got %v, %v; want %v", c.list, c.name, got, err, c.want)
		}
	}
	cfg := config.New()
	cfg.Set("authorized_mailq_users", "nosuchtype:/x")
	if _, err := UserAllowed(cfg, "authorized_mailq_users", "joe"); err == nil {
		t.Error("a bad table was not an error")
	}
}
