package engine

// grow doubles the ring buffer of a full subscriber queue (SubscriberOptions.KeepQoS1),
// keeping the deliveries in order, and returns the new size. Hold sub.mu.
func (sub *Subscriber) grow() int {
	old := sub.queue
	q := make([]Delivery, 2*len(old))
	n := copy(q, old[sub.head:])
	copy(q[n:], old[:sub.head])
	sub.queue, sub.head = q, 0
	return len(q)
}

// shrinkIdle gives back the memory of a queue that grew, once it is empty. Hold sub.mu.
func (sub *Subscriber) shrinkIdle() {
	if sub.count == 0 && len(sub.queue) > sub.opts.QueueLen {
		sub.queue, sub.head = make([]Delivery, sub.opts.QueueLen), 0
	}
}
