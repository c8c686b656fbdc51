package bench

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/messaging"
)

const (
	topicProduce = "bench-produce"
	topicConsume = "bench-consume"
	recordSize   = 1024
)

// kafkaTarget is an embedded kfake broker and a Toxiproxy proxy in front
// of it. Clients reach the broker directly with no route, or through the
// proxy with Route{broker: proxy} (the broker advertises its own address,
// so the route applies to every connection, not only the bootstrap one).
type kafkaTarget struct {
	cluster *kfake.Cluster
	broker  string
	proxied map[string]string
}

func newKafkaTarget(ctx context.Context, e *env) (*kafkaTarget, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topicProduce, topicConsume))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	broker := c.ListenAddrs()[0]
	p, err := e.proxy(ctx, broker)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &kafkaTarget{cluster: c, broker: broker, proxied: map[string]string{broker: p}}, nil
}

func (k *kafkaTarget) close() { k.cluster.Close() }

// config is the services' Kafka configuration (idempotent producer,
// acks=all), direct or through the proxy.
func (k *kafkaTarget) config(viaProxy bool) messaging.Config {
	c := messaging.Config{Brokers: []string{k.broker}, ClientID: "faultline-bench"}
	if viaProxy {
		c.Route = k.proxied
	}
	return c
}

func newProducer(k *kafkaTarget, viaProxy bool) (*messaging.Producer, error) {
	return messaging.NewProducer(k.config(viaProxy))
}

func record(topic string, i int64, value []byte) events.Message {
	return events.Message{Topic: topic, Key: strconv.FormatInt(i, 10), Value: value}
}

// producePair measures messaging.Producer.Send (each call waits for the
// broker's acknowledgement) from workers goroutines, direct and proxied,
// in alternating rounds.
func (k *kafkaTarget) producePair(ctx context.Context, workers int, cfg Config) (direct, proxied Measurement, err error) {
	pd, err := newProducer(k, false)
	if err != nil {
		return direct, proxied, err
	}
	defer pd.Close()
	pp, err := newProducer(k, true)
	if err != nil {
		return direct, proxied, err
	}
	defer pp.Close()
	value := make([]byte, recordSize)
	send := func(p *messaging.Producer) func(context.Context, int64) error {
		return func(ctx context.Context, i int64) error { return p.Send(ctx, record(topicProduce, i, value)) }
	}
	name := fmt.Sprintf("sarama produce 1 KB, %d goroutine(s), ", workers)
	return alternate(ctx, cfg, "msg", name+"direct", name+"proxied", workers, send(pd), send(pp))
}

// fill writes n records to topicConsume (direct, bounded by a deadline).
func (k *kafkaTarget) fill(ctx context.Context, n int, workers int) error {
	p, err := messaging.NewProducer(k.config(false))
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	value := make([]byte, recordSize)
	var next, failed atomic.Int64
	done := make(chan struct{}, workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := next.Add(1); i <= int64(n) && ctx.Err() == nil; i = next.Add(1) {
				if err := p.Send(ctx, record(topicConsume, i, value)); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	if f := failed.Load(); f > 0 || ctx.Err() != nil {
		return fmt.Errorf("fill %s: %d of %d records failed (%v)", topicConsume, f, n, ctx.Err())
	}
	return nil
}

// consume measures one consumer-group member reading n records, from the
// first record to the n-th (group join excluded).
func (k *kafkaTarget) consume(ctx context.Context, name, group string, viaProxy bool, n int, cfg Config) (Measurement, error) {
	sc, err := messaging.SaramaConfig(k.config(viaProxy))
	if err != nil {
		return Measurement{}, err
	}
	cg, err := sarama.NewConsumerGroup([]string{k.broker}, group, sc)
	if err != nil {
		return Measurement{}, fmt.Errorf("consumer group: %w", err)
	}
	defer cg.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second+cfg.Window)
	defer cancel()
	h := &countingHandler{want: int64(n), done: cancel}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{topicConsume}, h); err != nil && ctx.Err() == nil {
			return Measurement{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	got := h.count.Load()
	if got < int64(n) {
		return Measurement{}, fmt.Errorf("%s: read %d/%d records before the deadline", name, got, n)
	}
	first, last := h.first.Load().(time.Time), h.last.Load().(time.Time)
	secs := last.Sub(first).Seconds()
	m := Measurement{Name: name, Unit: "msg", Ops: got - 1, Seconds: secs}
	if secs > 0 {
		m.PerSecond = float64(got-1) / secs
	}
	return m, nil
}

// countingHandler counts records and ends the session at want.
type countingHandler struct {
	want        int64
	count       atomic.Int64
	first, last atomic.Value // time.Time
	done        context.CancelFunc
}

func (h *countingHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *countingHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *countingHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case <-s.Context().Done():
			return nil
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			s.MarkMessage(m, "")
			n := h.count.Add(1)
			now := time.Now()
			if n == 1 {
				h.first.Store(now)
			}
			if n == h.want {
				h.last.Store(now)
				h.done()
			}
		}
	}
}

// kafkaRatios: produce (16 and 1 goroutines) and consume, proxied versus
// direct.
func kafkaRatios(ctx context.Context, e *env, cfg Config) ([]Ratio, error) {
	k, err := newKafkaTarget(ctx, e)
	if err != nil {
		return nil, err
	}
	defer k.close()
	var out []Ratio
	for _, workers := range []int{cfg.Workers, 1} {
		d, p, err := k.producePair(ctx, workers, cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, ratio(fmt.Sprintf("sarama produce 1 KB, %d goroutine(s), acks=all: proxied / direct", workers), p, d))
	}
	if err := k.fill(ctx, cfg.Messages, cfg.Workers); err != nil {
		return nil, err
	}
	// Reading 20k records takes ~0.1 s and one round varies by 2x: five
	// alternating rounds per side, each a fresh group reading the topic
	// from the start; the figure is each side's median round.
	d := Measurement{Name: "sarama consume 1 KB, consumer group, direct", Unit: "msg"}
	p := Measurement{Name: "sarama consume 1 KB, consumer group, proxied", Unit: "msg"}
	rates := map[*Measurement][]float64{}
	for r := 0; r < 5; r++ {
		for _, side := range []struct {
			m        *Measurement
			viaProxy bool
		}{{&d, false}, {&p, true}} {
			m, err := k.consume(ctx, side.m.Name, fmt.Sprintf("bench-%v-%d", side.viaProxy, r), side.viaProxy, cfg.Messages, cfg)
			if err != nil {
				return nil, err
			}
			side.m.Ops += m.Ops
			side.m.Seconds += m.Seconds
			rates[side.m] = append(rates[side.m], m.PerSecond)
		}
	}
	for _, m := range []*Measurement{&d, &p} {
		m.PerSecond = median(rates[m])
		fmt.Fprintf(cfg.Progress, "  %-52s %s (median of 5)\n", m.Name, m)
	}
	out = append(out, ratio(fmt.Sprintf("sarama consume 1 KB, one group member, %d records, median of 5: proxied / direct", cfg.Messages), p, d))
	return out, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
