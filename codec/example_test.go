package codec_test

import (
	"fmt"

	"github.com/emqgo/emqgo/codec"
)

// A connection's read loop: frame packets off the front of the buffer,
// decode them in place, and Clone what must outlive the buffer.
func ExampleFrame() {
	// Two packets as read from a socket, the second one incomplete.
	buf := []byte{
		0x30, 0x0A, 0, 3, 'a', '/', 'b', 'h', 'e', 'l', 'l', 'o', // PUBLISH a/b "hello"
		0xC0, // first byte of a PINGREQ
	}
	var pub codec.Publish // reused for every PUBLISH of the connection
	var kept []*codec.Publish
	for {
		h, err := codec.Frame(buf, 1<<20)
		if err != nil {
			fmt.Println("close:", err, "reason", byte(codec.CodeOf(err)))
			return
		}
		if h.Total == 0 {
			fmt.Printf("need more bytes (%d buffered)\n", len(buf))
			break
		}
		if h.Type == codec.TypePublish {
			if err := pub.Decode(buf[:h.Total], codec.V311); err != nil {
				fmt.Println("close:", err)
				return
			}
			fmt.Printf("%s %s %q\n", h.Type, pub.Topic, pub.Payload)
			kept = append(kept, pub.Clone()) // e.g. a retained message
		}
		buf = buf[h.Total:]
	}
	fmt.Printf("kept %s\n", kept[0].Topic)
	// Output:
	// PUBLISH a/b "hello"
	// need more bytes (1 buffered)
	// kept a/b
}

// Fan-out: encode the shared part of an outbound PUBLISH once, then only
// each subscriber's header; the payload is written from the shared buffer.
func ExamplePublishHeader() {
	payload := []byte("21.5")
	var props codec.Properties
	props.SetContentType([]byte("text/plain"))

	var h codec.PublishHeader
	h.Prepare([]byte("room/1/temp"), &props, len(payload))

	var scratch []byte
	for i, d := range []codec.Delivery{
		{Version: codec.V311, QoS: 0},
		{Version: codec.V5, QoS: 1, PacketID: 7, SubscriptionIDs: []uint32{3}},
	} {
		start := len(scratch)
		scratch = h.AppendTo(scratch, d)
		// conn.Writev([][]byte{scratch[start:], payload})
		fmt.Printf("subscriber %d: %d header bytes + %d payload bytes\n", i, len(scratch)-start, len(payload))
	}
	// Output:
	// subscriber 0: 15 header bytes + 4 payload bytes
	// subscriber 1: 33 header bytes + 4 payload bytes
}
