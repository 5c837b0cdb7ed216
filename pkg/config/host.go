package config

import (
	"net"
	"os"
	"strconv"
	"strings"
)

// Host-derived defaults, computed as Postfix computes them:
//
//	myhostname  the system host name; a name without a dot gets
//	            ".localdomain" appended (hostname "vm" → "vm.localdomain")
//	mydomain    myhostname minus its first label
//	mynetworks  the networks of this host's interfaces, per
//	            mynetworks_style: "host" (each address alone), "subnet"
//	            (each interface's subnet) or "class" (its class A/B/C net);
//	            IPv4 first, then IPv6 as [addr]/len

func (c *Config) hostDefault(name string) string {
	switch name {
	case "myhostname":
		return c.cachedHost("myhostname", defaultHostname)
	case "mydomain":
		return domainOf(c.Get("myhostname"))
	case "mynetworks":
		style := strings.ToLower(c.Get("mynetworks_style"))
		return c.cachedHost("mynetworks "+style, func() string { return computeMynetworks(style) })
	}
	return ""
}

// cachedHost memoises what is read from the host (its name, its
// interfaces): that does not change during a process's life, while the
// parameters it is combined with may be overridden.
func (c *Config) cachedHost(key string, compute func() string) string {
	c.mu.Lock()
	v, ok := c.host[key]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = compute()
	c.mu.Lock()
	if c.host == nil {
		c.host = map[string]string{}
	}
	c.host[key] = v
	c.mu.Unlock()
	return v
}

func defaultHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	h = strings.ToLower(h)
	if !strings.Contains(h, ".") {
		h += ".localdomain"
	}
	return h
}

func domainOf(host string) string {
	if i := strings.IndexByte(host, '.'); i >= 0 && i+1 < len(host) {
		return host[i+1:]
	}
	return "localdomain"
}

func computeMynetworks(style string) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "127.0.0.0/8 [::1]/128"
	}
	var v4, v6 []string
	seen := map[string]bool{}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		var s string
		ones, bits := ipn.Mask.Size()
		ip := ipn.IP
		switch strings.ToLower(style) {
		case "host":
			ones = bits
		case "class":
			if ip4 := ip.To4(); ip4 != nil {
				switch {
				case ip4[0] < 128:
					ones = 8
				case ip4[0] < 192:
					ones = 16
				case ip4[0] < 224:
					ones = 24
				}
			}
		}
		netIP := ip.Mask(net.CIDRMask(ones, bits))
		if ip4 := netIP.To4(); ip4 != nil && bits == 32 {
			s = ip4.String() + "/" + strconv.Itoa(ones)
			if !seen[s] {
				v4 = append(v4, s)
			}
		} else {
			s = "[" + netIP.String() + "]/" + strconv.Itoa(ones)
			if !seen[s] {
				v6 = append(v6, s)
			}
		}
		seen[s] = true
	}
	return strings.Join(append(v4, v6...), " ")
}
