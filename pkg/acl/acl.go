// Package acl answers the questions Postfix's set-gid and public commands
// ask before they act for an ordinary user: may this user use that
// configuration directory (alternate_config_directories), and is the user
// on a list such as authorized_submit_users, authorized_mailq_users or
// authorized_flush_users.
package acl

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"postern/pkg/config"
	"postern/pkg/table"
)

// defaultConfigDir is the compiled-in default configuration directory, the
// one whose main.cf lists the other directories ordinary users may name.
// Postfix's is fixed at compile time; nothing can change it at run time.
// Test builds set it with -ldflags "-X postern/pkg/acl.defaultConfigDir=DIR".
var defaultConfigDir = config.DefaultDir

// DefaultConfigDir returns the compiled-in default configuration directory.
func DefaultConfigDir() string { return defaultConfigDir }

// ConfigDir reports whether the invoking user may use the configuration
// directory dir. Root may use any; others only the compiled-in default and
// those listed in its main.cf's alternate_config_directories or
// multi_instance_directories. On refusal it returns Postfix's error and
// fatal texts.
func ConfigDir(dir string) (errText, fatalText string, ok bool) {
	defaultDir := defaultConfigDir
	dir = filepath.Clean(dir)
	if os.Getuid() == 0 || dir == filepath.Clean(defaultDir) {
		return "", "", true
	}
	if c, err := config.Load(defaultDir); err == nil {
		for _, p := range []string{"alternate_config_directories", "multi_instance_directories"} {
			for _, d := range c.List(p) {
				if filepath.Clean(d) == dir {
					return "", "", true
				}
			}
		}
	}
	return "unauthorized configuration directory name: " + dir,
		fmt.Sprintf("specify \"alternate_config_directories = %s\" or \"multi_instance_directories = %s\" in %s/main.cf",
			dir, dir, defaultDir), false
}

// UserAllowed reports whether the user name is allowed by the list in
// parameter param (authorized_submit_users and the like): names,
// type:table lookups (the user name is the key; static:anyone allows
// everybody) and !negations; the first match decides, no match refuses.
// A table that cannot be read is an error.
func UserAllowed(c *config.Config, param, name string) (bool, error) {
	for _, e := range c.List(param) {
		neg := false
		for strings.HasPrefix(e, "!") {
			neg = !neg
			e = e[1:]
		}
		match := false
		if strings.Contains(e, ":") {
			t, err := table.Open(e, 0)
			if err != nil {
				return false, fmt.Errorf("%s: %v", param, err)
			}
			_, found, err := t.Lookup(name)
			t.Close()
			if err != nil {
				return false, fmt.Errorf("%s: %s: table lookup problem: %v", param, e, err)
			}
			match = found
		} else {
			match = strings.EqualFold(e, name)
		}
		if match {
			return !neg, nil
		}
	}
	return false, nil
}

// UserName returns the login name of uid, or its number as a string.
func UserName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}
