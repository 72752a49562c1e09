package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkQueueHandoff measures publish → consumer hand-off → settle on
// one queue, with the consumer on its own goroutine as a link's is.
func BenchmarkQueueHandoff(b *testing.B) {
	for _, consumers := range []int{1, 4} {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) {
			q := newQueue("bench", limits{maxMsgs: 10_000, maxBytes: -1})
			m := &message{p: props{"_size": int64(100)}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			got := make(chan struct{}, 1024)
			for i := range consumers {
				c, _ := q.attach(fmt.Sprint(i), nil, false)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						it, err := c.next(ctx, 100, nil)
						if err != nil {
							return
						}
						c.settle(it, outcome{kind: outcomeAccepted})
						got <- struct{}{}
					}
				}()
			}
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				for range b.N {
					for q.publish(m) != nil { // full: let consumers catch up
					}
				}
			}()
			for range b.N {
				<-got
			}
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}

// BenchmarkQueuesParallel publishes to and consumes from independent
// queues in parallel: there is no lock shared between them.
func BenchmarkQueuesParallel(b *testing.B) {
	var mu sync.Mutex
	n := 0
	m := &message{p: props{"_size": int64(100)}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		n++
		q := newQueue(fmt.Sprint("q", n), limits{maxMsgs: -1, maxBytes: -1})
		mu.Unlock()
		c, _ := q.attach("c", nil, false)
		for pb.Next() {
			_ = q.publish(m)
			it, _ := c.poll(1)
			c.settle(it, outcome{kind: outcomeAccepted})
		}
	})
}
