package httpapi

import (
	"fmt"
	"net/http"

	"github.com/klauspost/compress/gzhttp"

	"github.com/emqgo/emqgo/engine"
)

// NewHandler returns the API's request handler for node, as Start serves it, without
// listening anywhere: the dashboard mounts it on its own port (the same endpoints and
// authentication, nothing private). Only opts' API fields are used (Apps, Tokens, Alarms,
// Plugins, MaxBodyBytes, Log). Safe for concurrent use for the node's lifetime.
func NewHandler(node *engine.Node, opts Options) http.Handler {
	opts.withDefaults()
	s := &Server{node: node, opts: opts}
	return s.handler()
}

// Handler returns the handler the Server serves, for mounting it elsewhere too.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// handler is the router behind gzip compression.
func (s *Server) handler() http.Handler {
	gz, err := gzhttp.NewWrapper(gzhttp.EnableZstd(false))
	if err != nil {
		panic(fmt.Sprintf("BUG: gzip wrapper: %v", err))
	}
	return gz(s.routes())
}
