// Package service is the home of the broker's side services, one sub-package each
// (engine/service/<name>): the HTTP API, the dashboard, $SYS topics, trace, bridges, the
// cluster and authentication backends. A side service is built only on engine's exported API
// (engine.Node) and the engine libraries; it runs on the side pool or goroutines of its own and
// reaches the event loops only through Node. engine never imports a service and services never
// import each other; cmd/emqx wires them in. tools/depcheck enforces this. The package itself
// holds nothing.
package service
