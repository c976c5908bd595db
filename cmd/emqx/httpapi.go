package main

import (
	"context"
	"log/slog"

	"github.com/emqgo/emqgo/cmd/internal/wire"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/service/httpapi"
)

// startHTTPAPI serves the HTTP API and /metrics on management.listener.http for node, and
// returns the function that stops it gracefully (bounded by its context). With the key unset
// there is nothing to serve and stop does nothing.
func startHTTPAPI(node *engine.Node, cfg *config.Config, log *slog.Logger) (stop func(context.Context), err error) {
	opts, ok := wire.HTTPAPI(cfg, log)
	if !ok {
		return func(context.Context) {}, nil
	}
	api, err := httpapi.Start(node, opts)
	if err != nil {
		return nil, err
	}
	log.Info("HTTP API listening", "key", "management.listener.http", "address", api.Addr())
	return func(ctx context.Context) {
		if err := api.Stop(ctx); err != nil {
			log.Warn("HTTP API did not stop cleanly", "error", err)
		}
	}, nil
}
