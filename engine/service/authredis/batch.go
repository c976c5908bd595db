package authredis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The plugin's commands go to Redis in pipelines. A connect storm asks Redis once per client
// (HMGET) from thousands of side-pool goroutines at once; sent one by one, each command costs
// a pool checkout, a write and a read system call and several goroutine wake-ups on the
// broker, and a read and a write on the Redis server, and the pool's few connections queue the
// rest. Here a few sender goroutines (one per pool connection) each take what is queued, up to
// maxBatch commands, and send it as one pipeline: one write and a few reads for the whole
// batch, on both sides. With one command waiting the batch is that command alone: nothing
// waits to fill a batch, so an idle plugin answers as fast as before.

// maxBatch bounds the commands of one pipeline.
const maxBatch = 256

// errClosed answers the commands of a plugin that is closing.
var errClosed = errors.New("authredis: plugin closed")

// call is one command waiting for its pipeline. The sender sets val and err, then closes done.
type call struct {
	ctx  context.Context // the caller's; a call whose caller gave up is not sent
	args []any
	val  any
	err  error
	done chan struct{}
}

// batcher owns the sender goroutines. Safe for concurrent use; close stops them.
type batcher struct {
	client  redis.UniversalClient
	timeout time.Duration // bounds one pipeline (the plugin's query timeout)
	queue   chan *call
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup

	pipelines atomic.Uint64 // pipelines sent (for the tests: fewer than commands under load)
}

// newBatcher starts senders goroutines sending the calls queued on it through client.
func newBatcher(client redis.UniversalClient, senders int, timeout time.Duration) *batcher {
	b := &batcher{client: client, timeout: timeout, queue: make(chan *call, 4*maxBatch), stop: make(chan struct{})}
	b.wg.Add(senders)
	for range senders {
		go b.send()
	}
	return b
}

// do sends args in the next pipeline and waits for its reply, or until ctx ends (the error is
// then ctx's).
func (b *batcher) do(ctx context.Context, args []any) (any, error) {
	c := &call{ctx: ctx, args: args, done: make(chan struct{})}
	select {
	case b.queue <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.stop:
		return nil, errClosed
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.stop:
		return nil, errClosed
	}
}

// close stops the senders once their pipelines are answered; calls not yet sent fail with
// errClosed. Later calls of close do nothing.
func (b *batcher) close() {
	b.stopped.Do(func() { close(b.stop) })
	b.wg.Wait()
}

// send is a sender goroutine: it takes the first queued call, whatever else is queued (up to
// maxBatch), and sends them as one pipeline.
func (b *batcher) send() {
	defer b.wg.Done()
	batch := make([]*call, 0, maxBatch)
	cmds := make([]*redis.Cmd, 0, maxBatch)
	for {
		select {
		case c := <-b.queue:
			batch = append(batch[:0], c)
		case <-b.stop:
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case c := <-b.queue:
				batch = append(batch, c)
			default:
				break gather
			}
		}
		b.exec(batch, cmds)
		clear(batch)
	}
}

// exec sends batch as one pipeline and hands each call its reply. Calls whose caller already
// gave up are answered with their context's error and not sent.
func (b *batcher) exec(batch []*call, cmds []*redis.Cmd) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	pipe := b.client.Pipeline()
	cmds = cmds[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			cmds = append(cmds, nil)
			continue
		}
		cmds = append(cmds, pipe.Do(ctx, c.args...))
	}
	var failed error
	if pipe.Len() > 0 {
		b.pipelines.Add(1)
		_, failed = pipe.Exec(ctx)
	}
	for i, c := range batch {
		if cmd := cmds[i]; cmd != nil {
			c.val, c.err = cmd.Result()
			if c.val == nil && c.err == nil {
				// Not answered: the pipeline failed before this command's reply (a dial or
				// handshake error is not copied to every command). Every reply read has a
				// value or an error (a nil reply is redis.Nil).
				c.err = failed
				if c.err == nil {
					c.err = errors.New("authredis: the pipeline returned no reply for the command")
				}
			}
		}
		close(c.done)
	}
	clear(cmds)
}
