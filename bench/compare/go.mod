module github.com/emqgo/emqgo/bench/compare

go 1.26.0

replace github.com/emqgo/emqgo => ../..

require (
	github.com/eclipse/paho.golang v0.23.0
	github.com/emqgo/emqgo v0.0.0
	github.com/mochi-mqtt/server/v2 v2.7.9
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/rs/xid v1.4.0 // indirect
)
