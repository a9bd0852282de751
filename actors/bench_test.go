package actors_test

import (
	"context"
	"testing"

	"github.com/walrus-go/walrus-go/actors"
)

// BenchmarkAsk measures one request/response round trip through a mailbox.
func BenchmarkAsk(b *testing.B) {
	sys, err := actors.New("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Stop()
	ref, err := actors.Spawn(sys, "counter", newCounter)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := actors.Ask(ctx, ref, func(r actors.Reply[int]) counterMsg { return get{r} }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend measures one-way message throughput with backpressure (blocking Send).
func BenchmarkSend(b *testing.B) {
	sys, err := actors.New("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Stop()
	ref, err := actors.Spawn(sys, "counter", newCounter)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ref.Send(ctx, add{1}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := actors.Ask(ctx, ref, func(r actors.Reply[int]) counterMsg { return get{r} }); err != nil {
		b.Fatal(err)
	}
}
