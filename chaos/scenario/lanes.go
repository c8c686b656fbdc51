package scenario

// Scenarios about the Kafka brokers themselves (issue 4): a broker crash
// and restart, and one broker of three cut off. They need what only some
// stacks have (a broker the harness can kill, several brokers), say so
// through Applies, and add a breakdown read back from Kafka to the result.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/IBM/sarama"

	"github.com/faultline-harness/faultline/chaos/stack"
	"github.com/faultline-harness/faultline/services/events"
	"github.com/faultline-harness/faultline/services/order"
)

// ErrNotApplicable is returned by Execute when the scenario cannot run on the
// given stack (Scenario.Applies said why): callers skip it, it is not a
// harness failure.
var ErrNotApplicable = errors.New("scenario not applicable to this stack")

// Breakdown is a scenario's own table, printed under the result's tables
// (Scenario.Report fills it).
type Breakdown struct {
	Title   string     `json:"title"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Notes   []string   `json:"notes,omitempty"`
}

func (r *Result) writeBreakdown(w io.Writer) {
	b := r.Breakdown
	if b == nil {
		return
	}
	fmt.Fprintf(w, "\n%s\n", b.Title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(b.Columns, "\t")+"\t")
	for _, row := range b.Rows {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	for _, n := range b.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// Names of the broker scenarios.
const (
	ScenarioBrokerRestart = "kafka-broker-restart"
	ScenarioOneBrokerDown = "one-broker-down"
)

func init() {
	all = append(all, brokerRestart(), oneBrokerDown())
}

// DefaultBrokerDown is how long kafka-broker-restart keeps the broker
// down before starting it again (Options.BrokerDown overrides it): long
// enough that the outbox, not a lucky reconnect, absorbs the outage.
const DefaultBrokerDown = 5 * time.Second

// brokerRestart: SIGKILL the broker mid-load, keep it down for
// DefaultBrokerDown, then start it again on the same data, as a supervisor
// would after a crash. On the real lane the restart itself (a new JVM, log
// recovery) adds its own seconds.
func brokerRestart() Scenario {
	return Scenario{
		Name: ScenarioBrokerRestart,
		Description: "the Kafka broker is killed (SIGKILL on the real lane; kfake closed on the embedded lane), stays down 5 s, and is restarted on the same data; " +
			"async must keep accepting and complete every accepted order with no duplicated effect, sync does not use Kafka",
		Schedule: []Action{{Fault: BrokerStop(), For: DefaultBrokerDown}},
		Applies: func(st *stack.Stack) error {
			if st.BrokerControl() == nil {
				return fmt.Errorf("%w: the harness cannot kill this broker; on the real lane start it with `make kafka-local` and set KAFKA_LOCAL_DIR", stack.ErrNoBrokerControl)
			}
			return nil
		},
		Report: func(ctx context.Context, st *stack.Stack, res *Result) error {
			a, err := auditEvents(ctx, st, res.StartedAt)
			if err != nil {
				return err
			}
			var window *[2]time.Time
			var notes []string
			for _, s := range res.Schedule.Steps {
				if s.Fault.Type != FaultBrokerStop || s.AppliedAt.IsZero() || s.RemovedAt.IsZero() {
					continue
				}
				window = &[2]time.Time{s.AppliedAt, s.RemovedAt}
				down := s.RemovedAt.Sub(s.AppliedAt)
				notes = append(notes, fmt.Sprintf("broker killed at %.1fs, answering again at %.1fs: down %s (kill to ready; %s)",
					s.AppliedAt.Sub(res.StartedAt).Seconds(), s.RemovedAt.Sub(res.StartedAt).Seconds(), down.Round(time.Millisecond), restartKind(st)))
				res.BrokerDownSeconds = down.Round(time.Millisecond).Seconds()
			}
			b := a.breakdown("per partition: orders accepted while the broker was down (in fault) and how long their events waited", nil, window)
			b.Notes = append(notes, b.Notes...)
			res.Breakdown = b
			return nil
		},
	}
}

// HopVictimBroker is one-broker-down's hop: every proxy of the broker
// victimBroker picks.
const HopVictimBroker = "victim-broker"

// oneBrokerDown: three brokers, each behind its own proxies; every proxy
// to one of them is disabled. At the Kafka level only the partitions it
// leads become unavailable; the breakdown shows what that does to orders
// on every partition.
func oneBrokerDown() Scenario {
	return Scenario{
		Name: ScenarioOneBrokerDown,
		Description: "one Kafka broker of three cut off (its advertised, order and inventory proxies disabled; it leads some partitions, coordinates no group): " +
			"only its partitions are unavailable; the breakdown shows which orders stalled",
		Schedule: []Action{{Fault: Down(HopVictimBroker)}},
		Hops: map[string]func(context.Context, *stack.Stack) ([]string, error){
			HopVictimBroker: func(ctx context.Context, st *stack.Stack) ([]string, error) {
				v, err := victimBroker(ctx, st)
				if err != nil {
					return nil, err
				}
				return v.Proxies(), nil
			},
		},
		Stack: func(c *stack.Config) { c.Brokers = max(c.Brokers, 3) },
		Applies: func(st *stack.Stack) error {
			if len(st.Brokers) < 2 {
				return fmt.Errorf("needs at least 2 Kafka brokers, the stack has %d (the embedded lane starts 3; a real cluster needs one proxy per broker)", len(st.Brokers))
			}
			return nil
		},
		Report: func(ctx context.Context, st *stack.Stack, res *Result) error {
			v, err := victimBroker(ctx, st)
			if err != nil {
				return err
			}
			a, err := auditEvents(ctx, st, res.StartedAt)
			if err != nil {
				return err
			}
			faultStart := res.StartedAt.Add(time.Duration(res.Schedule.FaultStart * float64(time.Second)))
			faultEnd := res.StartedAt.Add(time.Duration(res.Schedule.FaultEnd * float64(time.Second)))
			res.Breakdown = a.breakdown(fmt.Sprintf("per partition, broker %d cut (*): orders accepted during the fault and how long their events waited", v.ID),
				&v.ID, &[2]time.Time{faultStart, faultEnd})
			return nil
		},
	}
}

// victimBroker picks the broker one-broker-down cuts: it leads some, but
// not all, order-placed partitions and coordinates neither consumer group
// (so only partition leadership is at stake), the fewest partitions, the
// lowest ID. Same stack, same answer.
func victimBroker(ctx context.Context, st *stack.Stack) (stack.BrokerInfo, error) {
	client, err := st.NewHarnessClient(ctx, true)
	if err != nil {
		return stack.BrokerInfo{}, fmt.Errorf("observe kafka: %w", err)
	}
	defer client.Close()
	coordinators := map[int32]bool{}
	for _, g := range []string{st.InventoryGroup, st.OrderGroup} {
		c, err := client.Coordinator(g)
		if err != nil {
			return stack.BrokerInfo{}, fmt.Errorf("coordinator of %s: %w", g, err)
		}
		coordinators[c.ID()] = true
	}
	leads := map[int32]int{}
	parts, err := client.Partitions(events.TopicOrderPlaced)
	if err != nil {
		return stack.BrokerInfo{}, err
	}
	for _, p := range parts {
		l, err := client.Leader(events.TopicOrderPlaced, p)
		if err != nil {
			return stack.BrokerInfo{}, err
		}
		leads[l.ID()]++
	}
	// Best: leads some but not all partitions and coordinates no group;
	// then fewer partitions; then the lower ID.
	best, bestScore := stack.BrokerInfo{}, -1
	for _, b := range st.Brokers {
		n := leads[b.ID]
		if n == 0 {
			continue
		}
		score := 100 - n
		if n < len(parts) {
			score += 1000
		}
		if !coordinators[b.ID] {
			score += 10000
		}
		if score > bestScore {
			best, bestScore = b, score
		}
	}
	if bestScore < 0 {
		return stack.BrokerInfo{}, fmt.Errorf("no broker leads a partition of %s", events.TopicOrderPlaced)
	}
	return best, nil
}

// eventAudit is what Kafka holds of one run: per partition, each order's
// order-placed and stock-outcome records (first write time, count).
type eventAudit struct {
	parts []partitionAudit
}

type partitionAudit struct {
	partition                   int32
	placedLeader, outcomeLeader map[string]int32 // by topic
	orders                      map[string]*orderEvents
	placedRecords, outRecords   int
}

type orderEvents struct {
	accepted            time.Time // the event's occurred_at: when order-service accepted the order
	placedAt, outcomeAt time.Time // first record's timestamp (when the producer sent it)
	placed, outcomes    int
}

// auditEvents reads every record of this run (timestamps from since-2s on)
// from order-placed and the stock-outcome topics, through each broker's
// own listener.
func auditEvents(ctx context.Context, st *stack.Stack, since time.Time) (*eventAudit, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client, err := st.NewHarnessClient(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("observe kafka: %w", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	from := since.Add(-2 * time.Second)
	byPart := map[int32]*partitionAudit{}
	topics := append([]string{events.TopicOrderPlaced}, order.StockOutcomeTopics...)
	for _, t := range topics {
		parts, err := client.Partitions(t)
		if err != nil {
			return nil, fmt.Errorf("partitions of %s: %w", t, err)
		}
		for _, p := range parts {
			pa := byPart[p]
			if pa == nil {
				pa = &partitionAudit{partition: p, placedLeader: map[string]int32{}, outcomeLeader: map[string]int32{}, orders: map[string]*orderEvents{}}
				byPart[p] = pa
			}
			if l, err := client.Leader(t, p); err == nil {
				if t == events.TopicOrderPlaced {
					pa.placedLeader[t] = l.ID()
				} else {
					pa.outcomeLeader[t] = l.ID()
				}
			}
			if err := readPartition(ctx, client, consumer, t, p, from, func(m *sarama.ConsumerMessage) {
				ev, err := events.Decode(m.Value)
				if err != nil || ev.OccurredAt.Before(from) && t == events.TopicOrderPlaced {
					return
				}
				o := pa.orders[ev.OrderID]
				if o == nil {
					if t != events.TopicOrderPlaced {
						return // an outcome of an order this run did not place
					}
					o = &orderEvents{}
					pa.orders[ev.OrderID] = o
				}
				if t == events.TopicOrderPlaced {
					pa.placedRecords++
					o.placed++
					if o.placedAt.IsZero() {
						o.accepted, o.placedAt = ev.OccurredAt, m.Timestamp
					}
					return
				}
				pa.outRecords++
				o.outcomes++
				if o.outcomeAt.IsZero() || m.Timestamp.Before(o.outcomeAt) {
					o.outcomeAt = m.Timestamp
				}
			}); err != nil {
				return nil, err
			}
		}
	}
	a := &eventAudit{}
	for _, pa := range byPart {
		a.parts = append(a.parts, *pa)
	}
	sort.Slice(a.parts, func(i, j int) bool { return a.parts[i].partition < a.parts[j].partition })
	return a, nil
}

// readPartition reads topic/partition from the first offset at or after
// from up to its end offset at the time of the call.
func readPartition(ctx context.Context, client sarama.Client, consumer sarama.Consumer, topic string, p int32, from time.Time, fn func(*sarama.ConsumerMessage)) error {
	end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return fmt.Errorf("end offset of %s/%d: %w", topic, p, err)
	}
	start, err := client.GetOffset(topic, p, from.UnixMilli())
	if err != nil {
		return fmt.Errorf("offset of %s/%d at %s: %w", topic, p, from, err)
	}
	if start < 0 || start >= end {
		return nil
	}
	pc, err := consumer.ConsumePartition(topic, p, start)
	if err != nil {
		return fmt.Errorf("read %s/%d: %w", topic, p, err)
	}
	defer pc.Close()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("read %s/%d up to offset %d: %w", topic, p, end, ctx.Err())
		case m := <-pc.Messages():
			fn(m)
			if m.Offset >= end-1 {
				return nil
			}
		case err := <-pc.Errors():
			return fmt.Errorf("read %s/%d: %w", topic, p, err)
		}
	}
}

// breakdown tabulates the audit per partition. With cut set, leaders equal
// to *cut are starred; with window set, only orders accepted inside it
// count in the "accepted in fault" columns.
func (a *eventAudit) breakdown(title string, cut *int32, window *[2]time.Time) *Breakdown {
	b := &Breakdown{Title: title, Columns: []string{
		"partition", "order-placed leader", "outcome leaders", "orders", "in fault",
		"max accept->placed s", "max placed->outcome s", "no outcome", "placed dup", "outcome dup",
	}}
	leader := func(id int32) string {
		s := strconv.Itoa(int(id))
		if cut != nil && id == *cut {
			s += "*"
		}
		return s
	}
	var totalOrders, totalPlacedDup, totalOutDup, totalMissing int
	for _, pa := range a.parts {
		var inFault, missing, placedDup, outDup int
		var maxPlace, maxOut float64
		for _, o := range pa.orders {
			if window == nil || (!o.accepted.Before(window[0]) && o.accepted.Before(window[1])) {
				inFault++
				maxPlace = max(maxPlace, o.placedAt.Sub(o.accepted).Seconds())
				if !o.outcomeAt.IsZero() {
					maxOut = max(maxOut, o.outcomeAt.Sub(o.placedAt).Seconds())
				}
			}
			if o.outcomes == 0 {
				missing++
			}
			placedDup += o.placed - 1
			outDup += max(0, o.outcomes-1)
		}
		var outLeaders []string
		for _, t := range order.StockOutcomeTopics {
			if id, ok := pa.outcomeLeader[t]; ok {
				outLeaders = append(outLeaders, leader(id))
			}
		}
		b.Rows = append(b.Rows, []string{
			strconv.Itoa(int(pa.partition)), leader(pa.placedLeader[events.TopicOrderPlaced]), strings.Join(outLeaders, ","),
			strconv.Itoa(len(pa.orders)), strconv.Itoa(inFault),
			fmt.Sprintf("%.1f", maxPlace), fmt.Sprintf("%.1f", maxOut),
			strconv.Itoa(missing), strconv.Itoa(placedDup), strconv.Itoa(outDup),
		})
		totalOrders += len(pa.orders)
		totalPlacedDup += placedDup
		totalOutDup += outDup
		totalMissing += missing
	}
	if cut != nil {
		for i, pa := range a.parts {
			if pa.placedLeader[events.TopicOrderPlaced] != *cut && b.Rows[i][5] != "0.0" {
				if f, _ := strconv.ParseFloat(b.Rows[i][5], 64); f >= 1 {
					b.Notes = append(b.Notes, fmt.Sprintf("partition %d's order-placed leader was not cut, yet its orders waited %.1fs for the relay: the outbox relay publishes in order, so one unavailable partition holds back every later order (head-of-line blocking)", pa.partition, f))
					break
				}
			}
		}
	}
	b.Notes = append(b.Notes,
		fmt.Sprintf("%d orders in Kafka; %d without an outcome event; %d order-placed records written more than once (relay resends), %d outcome records more than once (redelivered to inventory, which answered again; its ledger dedups)",
			totalOrders, totalMissing, totalPlacedDup, totalOutDup),
		"accept->placed: from order-service accepting the order to the order-placed record's timestamp (the relay's successful send); placed->outcome: to inventory's first stock outcome for it",
	)
	return b
}

func restartKind(st *stack.Stack) string {
	if st.Lane == stack.LaneEmbedded {
		return "embedded lane: kfake closed, then reopened on its data directory (the reopening takes milliseconds)"
	}
	return "real lane: SIGKILL, then a new JVM on the same log.dirs, log recovery and broker re-registration"
}
