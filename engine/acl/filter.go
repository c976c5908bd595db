package acl

// Filter is one topic filter of an allow rule that comes from outside acl.conf: the ACL rows an
// auth backend returns (Redis HGETALL mqtt_acl:%u, SQL mqtt_acl tables...). It matches as an
// allow rule of acl.conf does (strictly, see the package documentation), with %u and %c levels
// substituted. A Filter is immutable and safe for concurrent use.
type Filter struct {
	f filter
}

// CompileFilter checks the topic filter s and compiles it; the error says what is wrong.
func CompileFilter(s string) (Filter, error) {
	f, err := compileFilter(s, false)
	if err != nil {
		return Filter{}, err
	}
	return Filter{f: f}, nil
}

// String is the filter as written.
func (f Filter) String() string { return f.f.text }

// Allows reports whether the filter covers the request of c: publishing to the topic name
// topic (access Publish) or subscribing to the topic filter topic (access Subscribe). It
// allocates nothing and retains neither c nor topic.
func (f Filter) Allows(c *Client, access Access, topic []byte) bool {
	if access != Publish && access != Subscribe {
		panic("BUG: acl.Filter.Allows needs access Publish or Subscribe, got " + access.String())
	}
	return f.f.match(c, topic, access == Subscribe, true)
}
