package local

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"postern/pkg/log"
	"postern/pkg/strerror"
	"postern/pkg/table"
)

// alias expands a.local (then a.user) through alias_maps. done is false
// when no alias applies.
func (d *delivery) alias(a attr) (status, bool) {
	names := []string{a.local}
	if a.ext != "" {
		names = append(names, a.user)
	}
	for _, name := range names {
		// Self reference: "name: name, other" delivers to the user name.
		if a.expType == expAlias && a.expFrom == name {
			return stOK, false
		}
		for _, t := range d.s.aliasTables() {
			value, found, err := t.Lookup(name)
			if err != nil {
				log.QWarningf(d.req.QueueId, "%s: lookup of %s: %v", t.Name(), name, err)
				return d.deferTo(a, "4.3.0", "alias database unavailable"), true
			}
			if !found {
				continue
			}
			return d.expandAlias(a, t, name, value), true
		}
	}
	return stOK, false
}

func (d *delivery) expandAlias(a attr, t table.Table, name, value string) status {
	na := a
	na.level++
	na.expType = expAlias
	na.expFrom = name
	if !strings.HasPrefix(name, "owner-") {
		if _, ok, err := t.Lookup("owner-" + name); err == nil && ok {
			na.owner = "owner-" + name
			na.sender = "owner-" + name + "@" + d.s.p.myorigin
		}
	}
	u := userAttr{creds: d.s.tableOwner(t), set: true}
	for _, target := range ParseTargets(value) {
		if st := d.token(na, u, target); st != stOK {
			return st
		}
	}
	return stOK
}

// tableOwner returns the privileges of alias deliveries from t: the
// owner of its file, or default_privs when that is root or the table has
// no file.
func (s *Server) tableOwner(t table.Table) Creds {
	typ, name, _ := table.SplitSpec(t.Name())
	var path string
	switch typ {
	case "hash", "cdb":
		path = table.DBFile(typ, name)
	case "texthash", "regexp", "pcre", "cidr":
		path = name
	default:
		return s.defaultPrivs
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil || st.Uid == 0 {
		return s.defaultPrivs
	}
	return s.credsOfUID(int(st.Uid), int(st.Gid))
}

// credsOfUID returns uid with its passwd primary group (gid when it has no
// passwd entry).
func (s *Server) credsOfUID(uid, gid int) Creds {
	if pw, err := lookupUID(uid); err == nil {
		gid = pw.gid
	}
	return Creds{UID: uid, GID: gid, Groups: []int{}}
}

// privs returns the credentials a file or command delivery really runs
// with: never root.
func (s *Server) privs(c Creds) Creds {
	if c.UID == 0 {
		return s.defaultPrivs
	}
	if c.Groups == nil {
		c.Groups = []int{}
	}
	return c
}

// checkCreds refuses, in developer mode, to act as another user.
func checkCreds(c Creds) (string, bool) {
	if devMode() && c.UID != os.Geteuid() {
		return fmt.Sprintf("cannot deliver as uid %d: postern runs as uid %d, not as root, and delivers only to its own user", c.UID, os.Geteuid()), false
	}
	return "", true
}

// readTargets reads a .forward or :include: file: every line that does
// not start with "#" is an address list.
func readTargets(r io.Reader) ([]string, error) {
	var out []string
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, ParseTargets(line)...)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// ParseFile parses the content of a .forward or :include: file into
// targets (exported for the fuzz test and for tools).
func ParseFile(data string) []string {
	t, _ := readTargets(strings.NewReader(data))
	return t
}

// include delivers to the targets of an :include: file, with the
// privileges of its owner (or the current ones when root owns it).
func (d *delivery) include(a attr, u userAttr, path string) status {
	if !strings.HasPrefix(path, "/") {
		log.QWarningf(d.req.QueueId, ":include:%s: path is not absolute", path)
		return d.bounce(a, "5.3.5", "mail system configuration error")
	}
	if d.seen("include " + path) {
		return stOK
	}
	creds := d.s.privs(u.creds)
	if msg, ok := checkCreds(creds); !ok {
		return d.deferTo(a, "4.3.0", msg)
	}
	var targets []string
	var st syscall.Stat_t
	var problem string
	err := asUser(creds, func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			return err
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			problem = "is not a regular file"
			return nil
		}
		if st.Mode&0o002 != 0 {
			problem = "is world writable"
			return nil
		}
		targets, err = readTargets(f)
		return err
	})
	if err != nil {
		log.QWarningf(d.req.QueueId, "cannot open include file %s: %s", path, errText(err))
		return d.bounce(a, "5.3.5", "mail system configuration error")
	}
	if problem != "" {
		log.QWarningf(d.req.QueueId, "file %s %s", path, problem)
		return d.bounce(a, "5.3.5", "mail system configuration error")
	}
	nu := u
	if st.Uid != 0 {
		nu = userAttr{creds: d.s.credsOfUID(int(st.Uid), int(st.Gid)), set: true}
		if pw, err := lookupUID(int(st.Uid)); err == nil {
			nu.home, nu.shell, nu.logname = pw.home, pw.shell, pw.name
		}
	}
	na := a
	na.level++
	na.expType = expInclude
	na.expFrom = path
	for _, t := range targets {
		if st := d.token(na, nu, t); st != stOK {
			return st
		}
	}
	return stOK
}

// dotForward looks for the user's .forward along forward_path. done is
// false when there is none (or it is refused, or empty): then the mailbox.
func (d *delivery) dotForward(a attr, pw *passwd) (status, bool) {
	if a.expType == expForward && a.expFrom == a.user {
		return stOK, false
	}
	creds := Creds{UID: pw.uid, GID: pw.gid, Groups: []int{}}
	if _, ok := checkCreds(creds); !ok {
		return stOK, false
	}
	vars := d.macroVars(a, pw)
	for _, elem := range d.s.p.forwardPath {
		path := expandMacros(elem, vars, d.s.p.fwdFilter)
		if path == "" {
			continue
		}
		var targets []string
		found := false
		var problem string
		err := asUser(creds, func() error {
			var lst syscall.Stat_t
			if err := syscall.Lstat(path, &lst); err != nil {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return nil
			}
			defer f.Close()
			var st syscall.Stat_t
			if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
				return err
			}
			found = true
			switch {
			case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
				problem = "is not a regular file"
			case st.Uid != 0 && int(st.Uid) != pw.uid:
				problem = fmt.Sprintf("has bad owner uid %d", st.Uid)
			case st.Mode&0o002 != 0:
				problem = "is world writable"
			case st.Mode&0o020 != 0:
				problem = "is group writable"
			default:
				targets, err = readTargets(f)
			}
			return err
		})
		if err != nil {
			log.QWarningf(d.req.QueueId, "cannot read file %s: %s", path, errText(err))
			return d.deferTo(a, "4.3.0", "mail system configuration error"), true
		}
		if !found {
			continue
		}
		if problem != "" {
			log.QWarningf(d.req.QueueId, "file %s %s", path, problem)
			return stOK, false
		}
		if len(targets) == 0 {
			return stOK, false
		}
		na := a
		na.level++
		na.expType = expForward
		na.expFrom = a.user
		na.owner = a.user
		u := userAttr{creds: creds, set: true, home: pw.home, shell: pw.shell, logname: pw.name}
		for _, t := range targets {
			if st := d.token(na, u, t); st != stOK {
				return st, true
			}
		}
		return stOK, true
	}
	return stOK, false
}

func errText(err error) string { return strerror.Text(err) }
