// Package rewrite is postern's address rewriting and resolving engine,
// Postfix's trivial-rewrite(8) as a library: the trivial-rewrite daemon
// serves it over gRPC (Server), other programs may use it in-process
// (New), and daemons call the daemon through a caching Client.
//
// # REWRITE
//
// Rewrite(context, address) canonicalises an address in internal form
// (see postern/pkg/address) in the "local" context (envelope addresses;
// headers of local mail) or the "remote" one (headers of mail from
// remote clients, only when remote_header_rewrite_domain is set): source
// routes stripped, host!user and user%host turned into user@host
// (swap_bangpath, allow_percent_hack), @$myorigin appended
// (append_at_myorigin), .$mydomain appended to a dotless domain
// (append_dot_mydomain), a trailing dot removed. The null address stays
// empty.
//
// # RESOLVE
//
// Resolve(sender, address) says where a recipient goes: Resolution holds
// the master.cf transport, the next hop, the recipient to deliver to and
// flags (the pb.ResolveFlag values: FlagRouted, FlagError, FlagFail,
// FlagFinal and one class, ClassLocal, ClassAlias, ClassVirtual,
// ClassRelay or ClassDefault). The classes, transports and next-hop
// precedence are Postfix's (addressing-and-rewriting.md, section 1; see
// Resolve). A recipient with bad syntax gets FlagError and the "error"
// transport with the next hop "5.1.3 bad address syntax"; a table that
// cannot be read gives FlagFail (and ErrLookup): try again later.
//
// relocated_maps is not consulted here (it is applied by cleanup/qmgr).
//
// # TABLES
//
// mydestination, virtual_alias_domains, virtual_mailbox_domains and
// relay_domains are domain lists (DomainList: names, /file/names,
// type:table lookups, !negation; relay_domains matches subdomains when it
// is in parent_domain_matches_subdomains). transport_maps,
// sender_dependent_relayhost_maps and sender_dependent_default_transport_maps
// are Maps. All are opened by New; Changed names a table whose file
// changed since, and the daemon then restarts.
//
// # CLIENT
//
// NewClient(conn) wraps the gRPC connection to private/rewrite. Rewrite
// and Resolve take a batch of addresses and make at most one call for
// the addresses not in the cache (CacheSize entries, CacheTTL).
package rewrite
