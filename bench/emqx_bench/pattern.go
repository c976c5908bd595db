package main

import (
	"fmt"
	"strconv"
	"strings"
)

// patternVars are the values a topic, filter or client id pattern may refer to.
type patternVars struct {
	Index    int    // %i: the client's index within its role (publisher i, subscriber i), from 0
	Role     string // %r: "pub", "sub" or "conn"
	ClientID string // %c: the client identifier (not available inside the client id pattern)
	Run      string // %n: a short random run tag, so that two runs never share client ids
}

// checkPattern reports an unknown or dangling % directive in p.
func checkPattern(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			continue
		}
		if i+1 == len(p) {
			return fmt.Errorf("pattern %q ends with a lone %%", p)
		}
		switch p[i+1] {
		case 'i', 'r', 'c', 'n', '%':
			i++
		default:
			return fmt.Errorf("pattern %q: unknown directive %%%c (known: %%i index, %%r role, %%c client id, %%n run tag, %%%% a percent sign)", p, p[i+1])
		}
	}
	return nil
}

// expandPattern replaces the directives of p (checked by checkPattern) with vars.
func expandPattern(p string, v patternVars) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' || i+1 == len(p) {
			b.WriteByte(c)
			continue
		}
		i++
		switch p[i] {
		case 'i':
			b.WriteString(strconv.Itoa(v.Index))
		case 'r':
			b.WriteString(v.Role)
		case 'c':
			b.WriteString(v.ClientID)
		case 'n':
			b.WriteString(v.Run)
		default:
			b.WriteByte(p[i])
		}
	}
	return b.String()
}
