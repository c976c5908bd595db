package acl

// Explain is Check that also says which rule decided: it returns the first rule that matches
// the request (found true), or found false when none does (Check's NoMatch). The rule is a
// copy owned by the caller; rule.Permission is the decision.
//
// Explain scans every rule in file order (no index), allocates the rule's text, and is meant
// for diagnostics (the HTTP API's ACL explanation), not for the message path. Its decision is
// always Check's. Safe for concurrent use; a nil *Rules matches nothing.
func (r *Rules) Explain(c *Client, access Access, topic []byte) (rule Rule, found bool) {
	if access != Publish && access != Subscribe {
		panic("BUG: acl.Explain needs access Publish or Subscribe, got " + access.String())
	}
	if r == nil {
		return Rule{}, false
	}
	sub := access == Subscribe
	addr := peerAddr(c.Addr)
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.decide(c, addr, access, topic, sub) != NoMatch {
			return Rule{Line: ru.line, Permission: ru.permission, Text: ru.text()}, true
		}
	}
	return Rule{}, false
}
