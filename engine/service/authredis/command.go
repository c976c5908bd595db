package authredis

import (
	"fmt"
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// Command is a Redis command of the plugin's configuration (auth_cmd, super_cmd, acl_cmd)
// split into its words. Placeholders are substituted inside each word, so a value becomes
// (part of) one argument of the command and is sent length-prefixed: a user name with spaces,
// quotes or line breaks cannot add arguments or commands. Immutable once parsed.
type Command struct {
	words []string
	// uses tells which placeholders appear: a command needing a value the client lacks
	// (no user name, no certificate) is not run.
	uses placeholderSet
}

type placeholderSet uint8

const (
	useUsername placeholderSet = 1 << iota // %u
	useClientID                            // %c
	useAddr                                // %a
	useCertCN                              // %C
	useCertDN                              // %d
)

// ParseCommand splits a command line of the configuration into words (separated by spaces or
// tabs). The placeholders are %u (user name), %c (client id), %a (peer IP address), %C and %d
// (common name and subject of the client's TLS certificate); any other '%' is literal, as in
// EMQX. An empty line is an error.
func ParseCommand(line string) (Command, error) {
	words := strings.Fields(line)
	if len(words) == 0 {
		return Command{}, fmt.Errorf("empty command")
	}
	c := Command{words: words}
	for _, w := range words {
		for i := 0; i+1 < len(w); i++ {
			if w[i] != '%' {
				continue
			}
			switch w[i+1] {
			case 'u':
				c.uses |= useUsername
			case 'c':
				c.uses |= useClientID
			case 'a':
				c.uses |= useAddr
			case 'C':
				c.uses |= useCertCN
			case 'd':
				c.uses |= useCertDN
			}
		}
	}
	return c, nil
}

// String is the command as configured (words joined by one space).
func (c Command) String() string { return strings.Join(c.words, " ") }

// IsZero reports whether c is unset (the key was left empty).
func (c Command) IsZero() bool { return len(c.words) == 0 }

// Args returns the command's arguments for client ci, ready for the Redis client, and false
// when ci has no value for a placeholder the command uses: a client without a user name is
// not looked up by "mqtt_user:%u" (the plugin ignores it), nor one without a TLS client
// certificate by a command with %C or %d.
func (c Command) Args(ci *engine.ClientInfo) ([]any, bool) {
	var addr string
	if ci.Peer.IsValid() {
		addr = ci.Peer.Addr().Unmap().String()
	}
	switch {
	case c.uses&useUsername != 0 && ci.Username == "",
		c.uses&useClientID != 0 && ci.ClientID == "",
		c.uses&useAddr != 0 && addr == "",
		c.uses&useCertCN != 0 && ci.CertCN == "",
		c.uses&useCertDN != 0 && ci.CertDN == "":
		return nil, false
	}
	args := make([]any, len(c.words))
	for i, w := range c.words {
		if strings.IndexByte(w, '%') < 0 {
			args[i] = w
			continue
		}
		var sb strings.Builder
		for j := 0; j < len(w); j++ {
			if w[j] == '%' && j+1 < len(w) {
				switch w[j+1] {
				case 'u':
					sb.WriteString(ci.Username)
					j++
					continue
				case 'c':
					sb.WriteString(ci.ClientID)
					j++
					continue
				case 'a':
					sb.WriteString(addr)
					j++
					continue
				case 'C':
					sb.WriteString(ci.CertCN)
					j++
					continue
				case 'd':
					sb.WriteString(ci.CertDN)
					j++
					continue
				}
			}
			sb.WriteByte(w[j])
		}
		args[i] = sb.String()
	}
	return args, true
}
