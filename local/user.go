package local

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"

	"postern/pkg/table"
)

// passwd is one /etc/passwd entry.
type passwd struct {
	name, home, shell string
	uid, gid          int
}

var errNoUser = errors.New("no such user")

// lookupUser finds a user by name in table.PasswdFile (getpwnam).
func lookupUser(name string) (*passwd, error) {
	return scanPasswd(func(p *passwd) bool { return p.name == name })
}

// lookupUID finds a user by uid (getpwuid).
func lookupUID(uid int) (*passwd, error) {
	return scanPasswd(func(p *passwd) bool { return p.uid == uid })
}

func scanPasswd(match func(*passwd) bool) (*passwd, error) {
	f, err := os.Open(table.PasswdFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 7 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		uid, err1 := strconv.Atoi(fields[2])
		gid, err2 := strconv.Atoi(fields[3])
		if err1 != nil || err2 != nil {
			continue
		}
		p := &passwd{name: fields[0], uid: uid, gid: gid, home: fields[5], shell: fields[6]}
		if match(p) {
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errNoUser
}
