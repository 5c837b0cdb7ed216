package smtp

import (
	"sync"
	"time"
)

// connCache keeps idle sessions by next hop for
// smtp_connection_cache_time_limit, so that the next delivery to the
// same destination skips the connect, greeting, EHLO and TLS handshake
// (Postfix's scache, inside the agent process: postern's agent serves many
// deliveries at once, so a process-local cache is shared by all of them).
type connCache struct {
	mu   sync.Mutex
	idle map[string][]*cachedSession
}

type cachedSession struct {
	s     *session
	timer *time.Timer
}

// put keeps s idle under key; after the cache time limit it is closed
// with QUIT.
func (c *connCache) put(key string, s *session, st *Settings) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle == nil {
		c.idle = map[string][]*cachedSession{}
	}
	cs := &cachedSession{s: s}
	cs.timer = time.AfterFunc(st.CacheTimeLimit, func() {
		if c.remove(key, cs) {
			s.quit(st.QuitTimeout, st.SkipQuitResponse)
		}
	})
	c.idle[key] = append(c.idle[key], cs)
}

// remove takes cs out of the cache; false when someone else took it.
func (c *connCache) remove(key string, cs *cachedSession) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.idle[key]
	for i, x := range list {
		if x == cs {
			c.idle[key] = append(list[:i:i], list[i+1:]...)
			if len(c.idle[key]) == 0 {
				delete(c.idle, key)
			}
			return true
		}
	}
	return false
}

// get takes the most recently used idle session for key, or nil. Sessions
// past smtp_connection_reuse_time_limit are closed instead.
func (c *connCache) get(key string, st *Settings) *session {
	for {
		c.mu.Lock()
		list := c.idle[key]
		if len(list) == 0 {
			c.mu.Unlock()
			return nil
		}
		cs := list[len(list)-1]
		c.idle[key] = list[:len(list)-1]
		if len(c.idle[key]) == 0 {
			delete(c.idle, key)
		}
		c.mu.Unlock()
		cs.timer.Stop()
		if st.ReuseTimeLimit > 0 && time.Since(cs.s.created) >= st.ReuseTimeLimit {
			cs.s.quit(st.QuitTimeout, st.SkipQuitResponse)
			continue
		}
		return cs.s
	}
}

// closeAll ends every cached session.
func (c *connCache) closeAll(st *Settings) {
	c.mu.Lock()
	all := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, list := range all {
		for _, cs := range list {
			cs.timer.Stop()
			cs.s.quit(st.QuitTimeout, st.SkipQuitResponse)
		}
	}
}
