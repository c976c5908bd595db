// Command ferretdb runs FerretDB v1 (a MongoDB wire-protocol server) over its SQLite backend,
// for the tests of emqx_auth_mongo: MongoDB is not packaged for Debian. It is a module of its
// own, so that FerretDB's dependencies stay out of the broker's go.mod; the tests build it
// once per package and start it on a free port.
//
//	go run . -listen 127.0.0.1:27017 -dir /tmp/ferret [-tls 127.0.0.1:27018 -cert c.pem -key k.pem]
//
// It prints "ready" on standard output once it accepts connections, and stops on SIGTERM or
// SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to serve MongoDB's protocol on")
	tlsListen := flag.String("tls", "", "TCP address to serve it over TLS on (needs -cert and -key)")
	cert := flag.String("cert", "", "server certificate (PEM) of the TLS listener")
	key := flag.String("key", "", "its private key (PEM)")
	dir := flag.String("dir", "", "directory of the SQLite databases (required)")
	verbose := flag.Bool("v", false, "log FerretDB's lines to standard error")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb: -dir is required")
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
	var out io.Writer = io.Discard
	if *verbose {
		out = os.Stderr
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen, TLS: *tlsListen, TLSCertFile: *cert, TLSKeyFile: *key},
		Logger:   slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Handler:  "sqlite",
		// The backend wants a URI naming a directory, with its trailing slash.
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Println("ready")
	f.Run(ctx)
}
