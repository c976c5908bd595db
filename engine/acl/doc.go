// Package acl parses EMQX's etc/acl.conf and decides publish and subscribe requests with it.
//
// # File format
//
// The file is a sequence of Erlang terms, each ended by '.'; '%' starts a comment to the end
// of the line; white space may appear anywhere between tokens. A rule is
//
//	{allow | deny, Who, Access, Topics}.
//	{allow | deny, all}.                 % matches every request
//
// Who is one of
//
//	all                                  every client
//	{user, "name"}   {username, "name"}  the client with this username ({user, all}: every client)
//	{client, "id"}   {clientid, "id"}    the client with this client id ({client, all}: every client)
//	{ipaddr, "127.0.0.1"}                a peer address, IPv4 or IPv6, or a CIDR: "192.168.0.0/24", "fd00::/8"
//	{ipaddrs, ["10.0.0.0/8", "::1"]}     any of these addresses or CIDRs (EMQX 5 form)
//	{'and', [Who, …]}                    every clause matches (an empty list matches everyone)
//	{'or', [Who, …]}                     some clause matches (an empty list matches no one)
//
// Access is subscribe, publish or pubsub (EMQX 5's all is accepted as pubsub). Topics is a
// list of topic filters ["t/+", "a/#"] and literal topics {eq, "#"}; a single binary
// <<"t/1">> is accepted instead of the list, as EMQX 3.x/4.x accept it, but a bare "t/1" is
// an error (Erlang reads it as a character list and EMQX fails to load such a file).
// Strings are Erlang strings with Erlang's escapes (\n, \t, \", \\, \x41, \x{263a}, \101,
// \^A …), adjacent strings concatenate, and <<"…">> is accepted wherever a string is.
// Atoms may be quoted ('allow'); the reserved words and and or may also be written bare.
// Anything else (an unknown atom such as {usr, "x"} or access pub, a regular expression
// {username, {re, "…"}}, EMQX 5's {publish, [{qos, 1}]}) is an error naming line and column.
//
// # Matching
//
// Rules are tried from the top; a rule matches a request when its access covers the request,
// its Who matches the client and one of its topics matches the request's topic. The first
// matching rule decides; if none matches, Check returns NoMatch and the caller applies
// acl_nomatch.
//
// A topic level that is exactly %u or %c is replaced by the client's username or client id
// before matching (compared level by level, nothing is built); a client without a username
// (or with an empty one) never matches a topic containing %u, likewise %c. The substituted
// value is literal: a username "+" is no wildcard. %u inside a longer level ("x%u") is not
// a placeholder, as in EMQX. {eq, T} compares the request's whole topic with T byte for byte
// and substitutes nothing: {eq, "#"} matches only a subscription to "#" itself.
//
// For publish, a rule's filter is matched against the topic name by MQTT's wildcard rules.
// For subscribe, the requested filter is matched against the rule's filter word by word,
// where the request's own + and # are plain words except that a rule's + or # covers them.
//
// EMQX (3.x, 4.x and 5.x alike) runs emqx_topic:match on word lists here, which skips two
// checks MQTT makes elsewhere: a rule "#" or "+/…" matches topics starting with '$', and a
// rule's "+" also consumes a subscription's "#" (so rule "a/+" matches a subscription to
// "a/#", which receives a/b/c too). Copying that would let an allow rule grant more than it
// says; not copying it would let a deny rule such as {deny, all, pubsub, ["#"]} stop covering
// $SYS. This package therefore matches
//
//   - allow rules strictly: a leading + or # does not match a '$' level, and a subscription
//     is allowed only when every topic it can receive is covered by the rule;
//   - deny rules exactly as EMQX does.
//
// So a request is never allowed where EMQX would deny it. Examples (subscribe):
//
//	rule filter   subscription    allow rule   deny rule (= EMQX)
//	#             a/+             match        match
//	#             $SYS/brokers    no match     match
//	$SYS/#        $SYS/brokers    match        match
//	a/+           a/b             match        match
//	a/+           a/+             match        match
//	a/+           a/#             no match     match
//	a/+           +/b             no match     no match
//	a/#           a               match        match
//	{eq, "#"}     #               match        match
//	{eq, "#"}     a/#             no match     no match
//
// and for publish, rule "#" does not match "$SYS/x" in an allow rule but does in a deny rule,
// while rule "$SYS/#" matches it in both. The default etc/acl.conf lists "$SYS/#" beside "#"
// in its allow rule and "$SYS/#" in its deny rule, so it decides the same in both readings.
//
// # Concurrency and lifetime
//
// Parse and Load build a new immutable *Rules; Check and the listing methods may be called
// from any number of goroutines at once. Reloading the file is the engine's job: compile the
// new file and swap an atomic.Pointer[Rules]; a failed reload keeps the old rules.
//
// # Imports
//
// acl is a core library: it imports the standard library and etc (the embedded default file),
// never engine; engine checks requests with it and cmd/internal/wire loads the file.
package acl
