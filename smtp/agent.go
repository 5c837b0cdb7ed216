package smtp

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"postern/pkg/delivery"
	"postern/pkg/dnsresolve"
	"postern/pkg/log"
	"postern/pkg/queue"
	pb "postern/proto"
)

// Agent is the Delivery service of smtp(8) and lmtp(8).
type Agent struct {
	pb.UnimplementedDeliveryServer
	Settings *Settings
	Resolver *dnsresolve.Resolver
	// Log receives the log lines; nil means the default logger.
	Log *log.Logger
	// QueueDir is queue_directory; "" means the current directory (the
	// daemon runs there).
	QueueDir string
	// Now, when set, replaces time.Now in the logged delays (tests).
	Now func() time.Time

	cache connCache
}

// New returns an agent with the given settings and resolver.
func New(st *Settings, r *dnsresolve.Resolver) *Agent {
	return &Agent{Settings: st, Resolver: r}
}

func (a *Agent) logger() *log.Logger {
	if a.Log != nil {
		return a.Log
	}
	return log.Default()
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Close ends the cached connections.
func (a *Agent) Close() { a.cache.closeAll(a.Settings) }

// rcpt is one recipient of a request and what happened to it.
type rcpt struct {
	r   *pb.DeliverRecipient
	res *pb.RecipientResult // final result, nil while pending
	// soft is the latest temporary failure, kept while another server
	// may still take the recipient; it becomes the result when none does.
	soft *pb.RecipientResult
}

// job is one delivery request.
type job struct {
	a     *Agent
	ctx   context.Context
	req   *pb.DeliverRequest
	qf    *queue.File
	env   *queue.Envelope
	size  int64
	rcpts []*rcpt

	connDone time.Time
	connUse  int
	// talked is set once a server took part in a transaction (or
	// refused the message on its merits): the destination is alive.
	talked bool
}

// Deliver delivers one message to the recipients of one next hop and
// answers per recipient.
func (a *Agent) Deliver(ctx context.Context, req *pb.DeliverRequest) (*pb.DeliverReply, error) {
	j := &job{a: a, ctx: ctx, req: req}
	for _, r := range req.GetRecipients() {
		j.rcpts = append(j.rcpts, &rcpt{r: r})
	}
	last := j.run()
	reply := &pb.DeliverReply{}
	for _, rc := range j.rcpts {
		if rc.res == nil {
			// Every path finishes every recipient; this is a safety net.
			j.finish(rc, deferResult("4.3.0", "mail system internal error", ""))
		}
		reply.Results = append(reply.Results, rc.res)
	}
	if last != nil && !j.talked {
		// Nothing but connection, greeting, handshake or DNS failures:
		// qmgr counts this toward the destination's dead-site limit.
		reply.SiteFailure = true
		reply.SiteFailureText = last.text
	}
	return reply, nil
}

func deferResult(dsn, text, relay string) *pb.RecipientResult {
	st := pb.DeliveryStatus_DELIVERY_DEFER
	if strings.HasPrefix(dsn, "5") {
		st = pb.DeliveryStatus_DELIVERY_BOUNCE
	}
	if relay == "" {
		relay = "none"
	}
	return &pb.RecipientResult{Status: st, Dsn: dsn, Text: text, Relay: relay}
}

// finish records a recipient's final result and logs it.
func (j *job) finish(rc *rcpt, res *pb.RecipientResult) {
	if rc.res != nil {
		return
	}
	res.Index = rc.r.GetIndex()
	rc.res = res
	rc.soft = nil
	t := delivery.Timing{ConnDone: j.connDone}
	if j.connUse > 1 {
		t.ConnUse = j.connUse
	}
	delivery.LogResultTiming(j.a.Log, j.req.GetQueueId(), j.req, rc.r, res, t, j.a.now())
}

// soft records a temporary failure: final when final is set, else kept
// for the next server.
func (j *job) soft(rc *rcpt, res *pb.RecipientResult, final bool) {
	if final {
		j.finish(rc, res)
		return
	}
	res.Index = rc.r.GetIndex()
	rc.soft = res
}

func (j *job) pending() []*rcpt {
	var p []*rcpt
	for _, rc := range j.rcpts {
		if rc.res == nil {
			p = append(p, rc)
		}
	}
	return p
}

// failAll ends every pending recipient with the same status.
func (j *job) failAll(dsn, text, relay string) {
	for _, rc := range j.pending() {
		j.finish(rc, deferResult(dsn, text, relay))
	}
}

// run delivers and returns the last session failure (nil when a server
// took the message or refused it on its merits).
func (j *job) run() *sessErr {
	a, st := j.a, j.a.Settings
	path := j.req.GetQueueName() + "/" + j.req.GetQueueId()
	if a.QueueDir != "" {
		path = filepath.Join(a.QueueDir, path)
	}
	qf, err := queue.Open(path)
	if err != nil {
		a.logger().QWarningf(j.req.GetQueueId(), "open queue file %s: %v", path, err)
		j.failAll("4.3.0", "queue file read error", "")
		j.talked = true
		return nil
	}
	defer qf.Close()
	env, err := qf.Envelope()
	if err != nil {
		a.logger().QWarningf(j.req.GetQueueId(), "read queue file %s: %v", path, err)
		j.failAll("4.3.0", "queue file read error", "")
		j.talked = true
		return nil
	}
	j.qf, j.env, j.size = qf, env, qf.MessageSize()

	nh, err := parseNexthop(j.req.GetNexthop(), st.LMTP, st.Port)
	if err != nil {
		a.logger().Warningf("%v", err)
		j.failAll("4.3.5", err.Error(), "")
		j.talked = true
		return nil
	}
	key := j.req.GetNexthop()

	// A connection cached by an earlier delivery to this next hop.
	for {
		s := a.cache.get(key, st)
		if s == nil {
			break
		}
		s.reuses++
		j.connDone, j.connUse = a.now(), s.reuses+1
		serr := j.transact(s, true, true)
		if serr == errStale {
			s.close()
			continue
		}
		j.release(key, s)
		if serr != nil {
			for _, rc := range j.pending() {
				j.finish(rc, deferResult(serr.dsn, serr.text, s.relay))
			}
			return serr
		}
		return nil
	}
	j.connUse = 0

	targets, fail := j.resolve(nh)
	if fail != nil {
		j.failAll(fail.dsn, fail.text, "")
		if fail.dsn[0] == '4' {
			return fail
		}
		j.talked = true
		return nil
	}

	var last *sessErr
	sessions := 0
	limit := len(targets)
	if st.MXAddressLimit > 0 && limit > st.MXAddressLimit {
		limit = st.MXAddressLimit
	}
	for i := 0; i < limit && len(j.pending()) > 0; i++ {
		if j.ctx.Err() != nil {
			last = &sessErr{dsn: "4.4.2", text: "delivery request cancelled"}
			break
		}
		t := targets[i]
		final := i == limit-1 || (st.MXSessionLimit > 0 && sessions+1 >= st.MXSessionLimit)
		s, serr := a.connect(t, nh, false)
		if serr != nil && serr.tlsRetry {
			a.logger().Infof("%s", serr.text)
			s, serr = a.connect(t, nh, true)
		}
		if serr != nil {
			last = serr
			if serr.connect {
				a.logger().Infof("%s", serr.text)
			} else {
				sessions++
				if !final {
					a.logger().QInfof(j.req.GetQueueId(), "%s", serr.text)
				}
			}
			relay := t.relay()
			if serr.connect {
				relay = "none" // Postfix: no connection, no relay
			}
			for _, rc := range j.pending() {
				j.soft(rc, deferResult(serr.dsn, serr.text, relay), false)
			}
			if st.MXSessionLimit > 0 && sessions >= st.MXSessionLimit {
				break
			}
			continue
		}
		sessions++
		j.connDone = a.now()
		serr = j.transact(s, final, false)
		j.release(key, s)
		if serr != nil {
			last = serr
			if !final {
				a.logger().QInfof(j.req.GetQueueId(), "%s", serr.text)
			}
			for _, rc := range j.pending() {
				j.soft(rc, deferResult(serr.dsn, serr.text, s.relay), false)
			}
			continue
		}
		last = nil
		if final {
			break
		}
	}
	for _, rc := range j.pending() {
		if rc.soft != nil {
			j.finish(rc, rc.soft)
		} else if last != nil {
			j.finish(rc, deferResult(last.dsn, last.text, ""))
		} else {
			j.finish(rc, deferResult("4.4.1", "no route to destination "+nh.Host, ""))
		}
	}
	return last
}

// release caches a usable session for the next delivery to the same next
// hop, or ends it.
func (j *job) release(key string, s *session) {
	st := j.a.Settings
	if s.broken || s.backup || st.CacheTimeLimit <= 0 ||
		(st.ReuseCountLimit > 0 && s.uses >= st.ReuseCountLimit) ||
		(st.ReuseTimeLimit > 0 && time.Since(s.created) >= st.ReuseTimeLimit) {
		s.quit(st.QuitTimeout, st.SkipQuitResponse)
		return
	}
	j.a.cache.put(key, s, st)
}

// resolve turns the next hop into the addresses to try, in order, as
// Postfix's smtp_domain_addr and smtp_host_addr do.
func (j *job) resolve(nh *nextHop) ([]dialTarget, *sessErr) {
	st := j.a.Settings
	if nh.Unix != "" {
		path := nh.Unix
		if j.a.QueueDir != "" && !filepath.IsAbs(path) {
			path = filepath.Join(j.a.QueueDir, path)
		}
		return []dialTarget{{host: st.MyHostname, addr: path, unix: true}}, nil
	}
	// Loop detection is Postfix's for SMTP to the standard port; a next
	// hop with its own port (a content filter on [127.0.0.1]:10025) is
	// not a loop.
	loopCheck := !st.LMTP && nh.Port == st.Port
	if nh.MX && st.DNS && j.a.Resolver != nil {
		mxs, err := j.a.Resolver.LookupMX(j.ctx, nh.Host, st.Randomize)
		switch dnsresolve.StatusOf(err) {
		case dnsresolve.OK:
			return j.mxTargets(nh, mxs, loopCheck)
		case dnsresolve.NotFound:
			// No MX: the domain itself, RFC 5321 section 5.1.
		default:
			return nil, &sessErr{dsn: dnsresolve.DSNOf(err), text: err.Error()}
		}
	}
	addrs, err := j.hostAddrs(nh.Host)
	if err != nil {
		return nil, &sessErr{dsn: dnsresolve.DSNOf(err), text: err.Error()}
	}
	if loopCheck && j.anySelf(addrs) {
		return nil, &sessErr{dsn: "5.4.6", text: fmt.Sprintf("mail for %s loops back to myself", nh.Host)}
	}
	var ts []dialTarget
	for _, ad := range addrs {
		ts = append(ts, dialTarget{host: nh.Host, addr: ad.String(), port: nh.Port})
	}
	return ts, nil
}

func (j *job) mxTargets(nh *nextHop, mxs []dnsresolve.MX, loopCheck bool) ([]dialTarget, *sessErr) {
	st := j.a.Settings
	type prefTarget struct {
		pref uint16
		addr netip.Addr
		t    dialTarget
	}
	var list []prefTarget
	var lastErr error
	for _, mx := range mxs {
		addrs, err := j.hostAddrs(mx.Host)
		if err != nil {
			lastErr = err
			continue
		}
		for _, ad := range addrs {
			list = append(list, prefTarget{mx.Pref, ad, dialTarget{host: mx.Host, addr: ad.String(), port: nh.Port}})
		}
	}
	if len(list) == 0 {
		j.a.logger().Warningf("no MX host for %s has a valid address record", nh.Host)
		dsn := dnsresolve.DSNOf(lastErr)
		if st.DeferIfNoMXAddress {
			dsn = "4.4.4"
		}
		return nil, &sessErr{dsn: dsn, text: lastErr.Error()}
	}
	if loopCheck {
		bestPref, bestFound := mxs[0].Pref, list[0].pref
		for _, p := range list {
			if !j.isSelf(p.addr) {
				continue
			}
			// Keep only the hosts strictly better than this one.
			var kept []prefTarget
			for _, q := range list {
				if q.pref < p.pref {
					kept = append(kept, q)
				}
			}
			if len(kept) == 0 {
				if bestPref != bestFound {
					return nil, &sessErr{dsn: "4.4.4", text: fmt.Sprintf("unable to find primary relay for %s", nh.Host)}
				}
				return nil, &sessErr{dsn: "5.4.6", text: fmt.Sprintf("mail for %s loops back to myself", nh.Host)}
			}
			list = kept
			break
		}
	}
	ts := make([]dialTarget, len(list))
	for i, p := range list {
		ts[i] = p.t
		ts[i].backup = p.pref != mxs[0].Pref
	}
	return ts, nil
}

// hostAddrs looks up a host's addresses with the smtp_host_lookup methods.
func (j *job) hostAddrs(host string) ([]netip.Addr, error) {
	st := j.a.Settings
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	var err error
	for _, m := range st.HostLookup {
		var addrs []netip.Addr
		switch {
		case m == "dns" && st.DNS && j.a.Resolver != nil:
			addrs, err = j.a.Resolver.LookupHost(j.ctx, host, st.V4, st.V6, st.Randomize)
		case m == "native" || (m == "dns" && (!st.DNS || j.a.Resolver == nil)):
			addrs, err = dnsresolve.NativeLookupHost(j.ctx, host, st.V4, st.V6)
		default:
			continue
		}
		if err == nil {
			return addrs, nil
		}
	}
	if err == nil {
		err = &dnsresolve.NativeError{Status: dnsresolve.NotFound, Text: "unable to look up host " + host + ": Name or service not known"}
	}
	return nil, err
}

func (j *job) isSelf(a netip.Addr) bool {
	for _, s := range j.a.Settings.Self {
		if s == a {
			return true
		}
	}
	return false
}

func (j *job) anySelf(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if j.isSelf(a) {
			return true
		}
	}
	return false
}
