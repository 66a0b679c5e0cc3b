// Sarama's scenarios (see ../scenarios.txt), built against Debian's golang-github-shopify-sarama-dev
// (Sarama 1.22.1, 2019) in GOPATH mode.
//
//	sarama-compat RESULTS_FILE SCENARIOS_TXT        runs every scenario, each in a child process
//	sarama-compat --one ID RESULT_FILE              runs one scenario (the child)
//
// Each scenario runs in its own process, killed after its time limit, so that a hung client
// (goroutines blocked on a dead connection) cannot leak into the next scenario.
// Environment: GREGOR_BOOTSTRAP, GREGOR_PREFIX, GREGOR_CTL.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/ioutil"
	"log"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

// The highest Kafka version this Sarama knows (sarama.MaxVersion). Every request version it
// selects from it is one Kafka 4.1 still accepts, except where noted in FINDINGS.md.
var kafkaVersion = sarama.V2_2_0_0

var (
	bootstrap = os.Getenv("GREGOR_BOOTSTRAP")
	prefix    = os.Getenv("GREGOR_PREFIX")
	runID     = os.Getenv("SARAMA_RUNID")
)

// outcome of one scenario
type outcome struct {
	status, detail string
}

func pass(format string, a ...interface{}) outcome {
	return outcome{"pass", fmt.Sprintf(format, a...)}
}
func fail(format string, a ...interface{}) outcome {
	return outcome{"fail", fmt.Sprintf(format, a...)}
}
func unsupported(format string, a ...interface{}) outcome {
	return outcome{"unsupported", fmt.Sprintf(format, a...)}
}

// failure aborts a scenario with a fail outcome (recovered in runOne).
type failure struct{ o outcome }

func must(err error, format string, a ...interface{}) {
	if err != nil {
		panic(failure{fail("%s: %v", fmt.Sprintf(format, a...), err)})
	}
}
func check(ok bool, format string, a ...interface{}) {
	if !ok {
		panic(failure{fail(format, a...)})
	}
}

type scenario struct {
	fn      func() outcome
	timeout time.Duration
}

var scenarios = map[string]scenario{
	"metadata":                   {scMetadata, 40 * time.Second},
	"create_topic":               {scCreateTopic, 40 * time.Second},
	"delete_topic":               {scDeleteTopic, 40 * time.Second},
	"create_partitions":          {scCreatePartitions, 40 * time.Second},
	"produce_consume_none":       {func() outcome { return produceConsume(sarama.CompressionNone) }, 60 * time.Second},
	"produce_consume_gzip":       {func() outcome { return produceConsume(sarama.CompressionGZIP) }, 60 * time.Second},
	"produce_consume_snappy":     {func() outcome { return produceConsume(sarama.CompressionSnappy) }, 60 * time.Second},
	"produce_consume_lz4":        {func() outcome { return produceConsume(sarama.CompressionLZ4) }, 60 * time.Second},
	"produce_consume_zstd":       {func() outcome { return produceConsume(sarama.CompressionZSTD) }, 60 * time.Second},
	"keys_headers_timestamps":    {scKeysHeadersTimestamps, 40 * time.Second},
	"log_append_time":            {scLogAppendTime, 40 * time.Second},
	"acks_0":                     {func() outcome { return acks(sarama.NoResponse, "0") }, 40 * time.Second},
	"acks_1":                     {func() outcome { return acks(sarama.WaitForLocal, "1") }, 40 * time.Second},
	"acks_all":                   {func() outcome { return acks(sarama.WaitForAll, "all") }, 40 * time.Second},
	"partitioner":                {scPartitioner, 40 * time.Second},
	"offsets_for_times":          {scOffsetsForTimes, 40 * time.Second},
	"seek":                       {scSeek, 40 * time.Second},
	"group_consume_commit":       {scGroupConsumeCommit, 60 * time.Second},
	"group_rebalance":            {scGroupRebalance, 90 * time.Second},
	"group_resume_after_restart": {scGroupResumeAfterRestart, 90 * time.Second},
	"admin_groups":               {scAdminGroups, 60 * time.Second},
	"admin_configs":              {scAdminConfigs, 40 * time.Second},
	"idempotent_producer":        {scIdempotentProducer, 60 * time.Second},
	"large_records":              {scLargeRecords, 60 * time.Second},
	"empty_topic":                {scEmptyTopic, 40 * time.Second},
	"nonexistent_topic":          {scNonexistentTopic, 40 * time.Second},
	"many_partitions":            {scManyPartitions, 60 * time.Second},
	"commit_unknown_topic":       {scCommitUnknownTopic, 40 * time.Second},
	"static_member_expiry":       {scStaticMemberExpiry, 10 * time.Second},
	"describe_group_configs":     {scDescribeGroupConfigs, 40 * time.Second},
	"authorized_operations":      {scAuthorizedOperations, 10 * time.Second},
}

func main() {
	log.SetFlags(0)
	if len(os.Args) == 4 && os.Args[1] == "--one" {
		runOne(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) != 3 {
		log.Fatalf("usage: %s RESULTS_FILE SCENARIOS_TXT | --one ID RESULT_FILE", os.Args[0])
	}
	if bootstrap == "" {
		log.Fatal("GREGOR_BOOTSTRAP is not set")
	}
	if runID == "" {
		runID = strconv.FormatInt(time.Now().Unix(), 10)
		os.Setenv("SARAMA_RUNID", runID)
	}
	results, err := os.OpenFile(os.Args[1], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer results.Close()
	// The harness gives a client 420 s, build included: scenarios share what is left, so that a
	// hanging broker makes the remaining scenarios fail instead of the whole run timing out.
	budget := 330 * time.Second
	if b, err := strconv.Atoi(os.Getenv("SARAMA_BUDGET_SECONDS")); err == nil {
		budget = time.Duration(b) * time.Second
	}
	deadline := time.Now().Add(budget)
	for _, id := range scenarioIDs(os.Args[2]) {
		start := time.Now()
		o := runChild(id, deadline)
		line, _ := json.Marshal(map[string]string{"client": "sarama", "scenario": id, "status": o.status, "detail": oneLine(o.detail)})
		results.Write(append(line, '\n'))
		log.Printf("sarama: %s %s (%.1f s)", id, o.status, time.Since(start).Seconds())
	}
}

func scenarioIDs(path string) []string {
	raw, err := ioutil.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids = append(ids, strings.TrimSpace(strings.SplitN(line, "|", 2)[0]))
	}
	return ids
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// runChild runs one scenario in a child process, killed after the scenario's time limit.
func runChild(id string, deadline time.Time) outcome {
	sc, ok := scenarios[id]
	if !ok {
		return fail("scenario not implemented by the sarama suite")
	}
	if left := time.Until(deadline); left < sc.timeout {
		if left < 5*time.Second {
			return fail("not run: the suite's time budget is spent (earlier scenarios timed out)")
		}
		sc.timeout = left
	}
	out, err := ioutil.TempFile("", "sarama-result-")
	if err != nil {
		return fail("temp file: %v", err)
	}
	out.Close()
	defer os.Remove(out.Name())
	ctx, cancel := context.WithTimeout(context.Background(), sc.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "--one", id, out.Name())
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
	runErr := cmd.Run()
	raw, _ := ioutil.ReadFile(out.Name())
	var o struct{ Status, Detail string }
	if len(raw) > 0 && json.Unmarshal(raw, &o) == nil {
		return outcome{o.Status, o.Detail}
	}
	tail := lastLines(stderr.String(), 3)
	if ctx.Err() != nil {
		return fail("timed out after %s; last log: %s", sc.timeout, tail)
	}
	return fail("crashed (%v) without a result; last log: %s", runErr, tail)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func runOne(id, resultPath string) {
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
	var o outcome
	func() {
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(failure); ok {
					o = f.o
				} else {
					o = fail("panic: %v", r)
				}
			}
		}()
		o = scenarios[id].fn()
	}()
	raw, _ := json.Marshal(map[string]string{"Status": o.status, "Detail": o.detail})
	ioutil.WriteFile(resultPath, raw, 0o644)
	os.Exit(0) // do not wait for goroutines a scenario left behind
}

// ---------------------------------------------------------------------------------------------
// Helpers

func topicName(s string) string { return prefix + s + "-" + runID }

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = kafkaVersion
	c.ClientID = "gregor-compat-sarama"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 10 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Max = 5
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Retry.Backoff = 200 * time.Millisecond
	c.Producer.Timeout = 5 * time.Second
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 250 * time.Millisecond
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	// A retention makes the offset manager send OffsetCommit v2; with the default (0) Sarama 1.22
	// sends v1, which Kafka 4.0 removed (KIP-896). See FINDINGS.md.
	c.Consumer.Offsets.Retention = 24 * time.Hour
	c.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	c.Consumer.Group.Session.Timeout = 6 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	c.Consumer.Group.Rebalance.Timeout = 15 * time.Second
	c.Consumer.Group.Rebalance.Retry.Backoff = 500 * time.Millisecond
	c.Admin.Timeout = 10 * time.Second
	return c
}

func newClient(c *sarama.Config) sarama.Client {
	if c == nil {
		c = config()
	}
	client, err := sarama.NewClient([]string{bootstrap}, c)
	must(err, "connect to %s", bootstrap)
	return client
}

func newAdmin() sarama.ClusterAdmin {
	admin, err := sarama.NewClusterAdmin([]string{bootstrap}, config())
	must(err, "cluster admin")
	return admin
}

func createTopic(admin sarama.ClusterAdmin, topic string, partitions int32, configs map[string]*string) {
	err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs}, false)
	must(err, "CreateTopic %s (%d partitions)", topic, partitions)
}

func strp(s string) *string { return &s }

// describeTopic reads the topic's metadata with auto-creation off (ClusterAdmin.DescribeTopics).
func describeTopic(admin sarama.ClusterAdmin, topic string) *sarama.TopicMetadata {
	md, err := admin.DescribeTopics([]string{topic})
	must(err, "DescribeTopics %s", topic)
	check(len(md) == 1, "DescribeTopics %s answered %d topics", topic, len(md))
	return md[0]
}

type record struct {
	key, value []byte
	headers    []sarama.RecordHeader
	ts         time.Time
}

// produceAll sends every message with a SyncProducer; partition and offset are filled in.
func produceAll(c *sarama.Config, msgs []*sarama.ProducerMessage) {
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	must(err, "producer")
	defer p.Close()
	err = p.SendMessages(msgs)
	if errs, ok := err.(sarama.ProducerErrors); ok && len(errs) > 0 {
		must(errs[0].Err, "produce (%d of %d records failed; first)", len(errs), len(msgs))
	}
	must(err, "produce")
}

// consumeRange reads partition p of topic from offset `from` until `count` records have been read.
func consumeRange(client sarama.Client, topic string, p int32, from int64, count int, wait time.Duration) []*sarama.ConsumerMessage {
	consumer, err := sarama.NewConsumerFromClient(client)
	must(err, "consumer")
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, p, from)
	must(err, "ConsumePartition %s/%d from %d (it first asks ListOffsets v1 for the oldest and newest offsets)", topic, p, from)
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	deadline := time.After(wait)
	for len(out) < count {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case e := <-pc.Errors():
			must(e.Err, "consuming %s/%d", topic, p)
		case <-deadline:
			return out
		}
	}
	return out
}

// keyed messages: key-i / value-i with text that compresses
func keyedMessages(topic, tag string, n int) []*sarama.ProducerMessage {
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder(fmt.Sprintf("%s-key-%05d", tag, i)),
			Value: sarama.StringEncoder(fmt.Sprintf("%s-value-%05d-%s", tag, i, strings.Repeat("the quick brown fox ", 1+i%5))),
		}
	}
	return msgs
}

func enc(e sarama.Encoder) []byte {
	if e == nil {
		return nil
	}
	b, _ := e.Encode()
	return b
}

// verifyAtOffsets reads every partition the messages went to and checks that each acknowledged
// (partition, offset) holds exactly that record, that nothing else is there, and hence that the
// order per partition is the order of production.
func verifyAtOffsets(client sarama.Client, msgs []*sarama.ProducerMessage) string {
	byPart := map[int32][]*sarama.ProducerMessage{}
	for _, m := range msgs {
		byPart[m.Partition] = append(byPart[m.Partition], m)
	}
	topic := msgs[0].Topic
	for p, ms := range byPart {
		sort.Slice(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
		for i := 1; i < len(ms); i++ {
			check(ms[i].Offset == ms[i-1].Offset+1, "partition %d: acknowledged offsets %d then %d (not contiguous)", p, ms[i-1].Offset, ms[i].Offset)
		}
		got := consumeRange(client, topic, p, ms[0].Offset, len(ms), 15*time.Second)
		check(len(got) == len(ms), "partition %d: read %d records from offset %d, wrote %d", p, len(got), ms[0].Offset, len(ms))
		for i, g := range got {
			w := ms[i]
			check(g.Offset == w.Offset, "partition %d: read offset %d, expected %d", p, g.Offset, w.Offset)
			check(bytes.Equal(g.Key, enc(w.Key)) && bytes.Equal(g.Value, enc(w.Value)),
				"partition %d offset %d: read key %q, wrote %q (or the value differs)", p, g.Offset, g.Key, enc(w.Key))
		}
		hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		must(err, "high watermark of %s/%d (ListOffsets v1)", topic, p)
		check(hwm == ms[len(ms)-1].Offset+1, "partition %d: high watermark %d, last acknowledged offset %d", p, hwm, ms[len(ms)-1].Offset)
	}
	return fmt.Sprintf("%d records read back equal at their acknowledged offsets (%d partitions, order kept, high watermarks match)", len(msgs), len(byPart))
}

// ---------------------------------------------------------------------------------------------
// Scenarios

func scMetadata() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("metadata")
	createTopic(admin, topic, 2, nil)
	client := newClient(nil)
	defer client.Close()
	must(client.RefreshMetadata(), "refresh metadata")
	brokers := client.Brokers()
	check(len(brokers) == 1, "%d brokers listed, expected 1", len(brokers))
	check(brokers[0].Addr() == bootstrap, "broker listed at %s, bootstrap %s", brokers[0].Addr(), bootstrap)
	controller, err := client.Controller()
	must(err, "controller")
	check(controller.ID() == brokers[0].ID(), "controller %d is not the listed broker %d", controller.ID(), brokers[0].ID())
	topics, err := client.Topics()
	must(err, "topics")
	found := false
	for _, t := range topics {
		found = found || t == topic
	}
	check(found, "topic %s not listed (%d topics)", topic, len(topics))
	parts, err := client.Partitions(topic)
	must(err, "partitions of %s", topic)
	check(len(parts) == 2, "%s has %d partitions, created with 2", topic, len(parts))
	// Sarama's Client does not show the cluster id; its Metadata v5 response has it.
	md, err := controller.GetMetadata(&sarama.MetadataRequest{Version: 5, Topics: []string{}})
	must(err, "Metadata v5")
	check(md.ClusterID != nil && *md.ClusterID != "", "Metadata v5 has no cluster id")
	return pass("broker %d at %s (controller); %d topics listed incl. %s with 2 partitions; cluster id %s (from the Metadata v5 response: Client does not expose it)",
		brokers[0].ID(), brokers[0].Addr(), len(topics), topic, *md.ClusterID)
}

func scCreateTopic() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("create")
	createTopic(admin, topic, 3, map[string]*string{"retention.ms": strp("3600000")})
	md := describeTopic(admin, topic)
	check(md.Err == sarama.ErrNoError, "metadata for the new topic: %v", md.Err)
	check(len(md.Partitions) == 3, "new topic has %d partitions, expected 3", len(md.Partitions))
	err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	check(err != nil && strings.Contains(err.Error(), sarama.ErrTopicAlreadyExists.Error()), "creating it again: %v, expected %v", err, sarama.ErrTopicAlreadyExists)
	return pass("created with 3 partitions and retention.ms=3600000; metadata shows 3; creating it again: %v", err)
}

func scDeleteTopic() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("delete")
	createTopic(admin, topic, 3, nil)
	must(admin.DeleteTopic(topic), "DeleteTopic")
	var md *sarama.TopicMetadata
	for i := 0; i < 50; i++ {
		md = describeTopic(admin, topic)
		if md.Err == sarama.ErrUnknownTopicOrPartition {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	check(md.Err == sarama.ErrUnknownTopicOrPartition, "metadata after delete: %v, %d partitions", md.Err, len(md.Partitions))
	client := newClient(nil)
	defer client.Close()
	topics, err := client.Topics()
	must(err, "topics")
	for _, t := range topics {
		check(t != topic, "deleted topic still listed")
	}
	var cerr error
	for i := 0; i < 50; i++ {
		cerr = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false)
		if cerr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	must(cerr, "re-creating the deleted topic")
	md = describeTopic(admin, topic)
	check(md.Err == sarama.ErrNoError && len(md.Partitions) == 2, "re-created topic: %v, %d partitions", md.Err, len(md.Partitions))
	return pass("deleted; metadata answers %v and the listing omits it; re-created with 2 partitions", sarama.ErrUnknownTopicOrPartition)
}

func scCreatePartitions() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("grow")
	createTopic(admin, topic, 3, nil)
	must(admin.CreatePartitions(topic, 5, nil, false), "CreatePartitions to 5")
	md := describeTopic(admin, topic)
	check(len(md.Partitions) == 5, "after CreatePartitions: %d partitions, expected 5", len(md.Partitions))
	err := admin.CreatePartitions(topic, 4, nil, false)
	check(err != nil, "shrinking to 4 partitions was accepted")
	return pass("grown from 3 to 5 partitions, metadata shows 5; shrinking refused: %v", err)
}

func produceConsume(codec sarama.CompressionCodec) outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("pc-" + codec.String())
	createTopic(admin, topic, 3, nil)
	c := config()
	c.Producer.Compression = codec
	c.Producer.Flush.Messages = 100
	c.Producer.Flush.Frequency = 20 * time.Millisecond
	msgs := keyedMessages(topic, codec.String(), 1000)
	if codec == sarama.CompressionZSTD {
		return produceConsumeZstd(c, msgs)
	}
	produceAll(c, msgs)
	client := newClient(nil)
	defer client.Close()
	return pass("%s: %s", codec, verifyAtOffsets(client, msgs))
}

// Sarama 1.22 sends zstd batches in Produce v3 (it never sends v7) and fetches with v4.
// Kafka >= 2.1 refuses zstd in Produce < v7 with UNSUPPORTED_COMPRESSION_TYPE
// (ProduceRequest.validateRecords; IBM/sarama#1252, fixed in Sarama 1.26).
func produceConsumeZstd(c *sarama.Config, msgs []*sarama.ProducerMessage) outcome {
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	must(err, "producer")
	err = p.SendMessages(msgs)
	p.Close()
	if errs, ok := err.(sarama.ProducerErrors); ok && len(errs) > 0 {
		err = errs[0].Err
	}
	if err == sarama.ErrUnsupportedCompressionType {
		return fail("zstd: Sarama 1.22 sends zstd batches in Produce v3; Kafka (>= 2.1, so 4.1) and Gregor refuse them: %v (Produce v7 is required; IBM/sarama#1252, fixed in Sarama 1.26)", err)
	}
	must(err, "produce")
	client := newClient(nil)
	defer client.Close()
	detail := verifyAtOffsets(client, msgs)
	return fail("zstd: Gregor accepted zstd batches in Produce v3, which Kafka 4.1 refuses with UNSUPPORTED_COMPRESSION_TYPE (ProduceRequest.validateRecords: zstd needs v7); read back: %s", detail)
}

func scKeysHeadersTimestamps() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("khts")
	createTopic(admin, topic, 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	type rec struct {
		key, value []byte
		headers    []sarama.RecordHeader
		ts         time.Time
	}
	want := []rec{
		{[]byte("k-1"), []byte("v-1"), []sarama.RecordHeader{{Key: []byte("h1"), Value: []byte("a")}, {Key: []byte("h1"), Value: []byte("b")}, {Key: []byte("hnull"), Value: nil}, {Key: []byte("hempty"), Value: []byte{}}}, base},
		{nil, []byte("null key"), []sarama.RecordHeader{{Key: []byte("only"), Value: []byte("one")}}, base.Add(1500 * time.Millisecond)},
		{[]byte("null value"), nil, nil, base.Add(-24 * time.Hour)},
		{[]byte{}, []byte{}, nil, base.Add(7 * time.Millisecond)},
		{[]byte{0, 1, 2, 255}, []byte{255, 0, 10, 13}, []sarama.RecordHeader{{Key: []byte("bin"), Value: []byte{0, 255}}}, base.Add(3 * time.Millisecond)},
	}
	var msgs []*sarama.ProducerMessage
	for _, r := range want {
		m := &sarama.ProducerMessage{Topic: topic, Partition: 0, Headers: r.headers, Timestamp: r.ts}
		if r.key != nil {
			m.Key = sarama.ByteEncoder(r.key)
		}
		if r.value != nil {
			m.Value = sarama.ByteEncoder(r.value)
		}
		msgs = append(msgs, m)
	}
	c := config()
	c.Producer.Partitioner = sarama.NewManualPartitioner
	produceAll(c, msgs)
	client := newClient(nil)
	defer client.Close()
	got := consumeRange(client, topic, 0, msgs[0].Offset, len(want), 15*time.Second)
	check(len(got) == len(want), "read %d records, wrote %d", len(got), len(want))
	for i, g := range got {
		w := want[i]
		check((g.Key == nil) == (w.key == nil) && bytes.Equal(g.Key, w.key), "record %d: key %q (nil %v), wrote %q (nil %v)", i, g.Key, g.Key == nil, w.key, w.key == nil)
		check((g.Value == nil) == (w.value == nil) && bytes.Equal(g.Value, w.value), "record %d: value %q (nil %v), wrote %q (nil %v)", i, g.Value, g.Value == nil, w.value, w.value == nil)
		check(g.Timestamp.Equal(w.ts), "record %d: timestamp %v, wrote %v", i, g.Timestamp.UnixNano()/1e6, w.ts.UnixNano()/1e6)
		check(len(g.Headers) == len(w.headers), "record %d: %d headers, wrote %d", i, len(g.Headers), len(w.headers))
		for j, h := range g.Headers {
			wh := w.headers[j]
			check(bytes.Equal(h.Key, wh.Key) && bytes.Equal(h.Value, wh.Value) && (h.Value == nil) == (wh.Value == nil),
				"record %d header %d: %q=%q (nil %v), wrote %q=%q (nil %v)", i, j, h.Key, h.Value, h.Value == nil, wh.Key, wh.Value, wh.Value == nil)
		}
	}
	return pass("%d records: keys (null, empty, binary), values (null, empty, binary), headers (repeated key, null and empty values, in order) and explicit CreateTime timestamps (one a day old) read back equal", len(want))
}

func scLogAppendTime() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("lat")
	createTopic(admin, topic, 1, map[string]*string{"message.timestamp.type": strp("LogAppendTime")})
	created := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	msgs := keyedMessages(topic, "lat", 10)
	for _, m := range msgs {
		m.Timestamp = created
	}
	t0 := time.Now().Truncate(time.Millisecond)
	produceAll(config(), msgs)
	t1 := time.Now()
	client := newClient(nil)
	defer client.Close()
	got := consumeRange(client, topic, 0, 0, 10, 15*time.Second)
	check(len(got) == 10, "read %d records, wrote 10", len(got))
	for i, g := range got {
		check(bytes.Equal(g.Value, enc(msgs[i].Value)), "record %d differs", i)
		check(!g.Timestamp.Before(t0) && !g.Timestamp.After(t1), "record %d: timestamp %v, produced with CreateTime %v between %v and %v",
			i, g.Timestamp.UnixNano()/1e6, created.UnixNano()/1e6, t0.UnixNano()/1e6, t1.UnixNano()/1e6)
	}
	return pass("records produced with CreateTime one hour old read back stamped with the broker's time (%d, within the produce window); Sarama applies the batch's LogAppendTime flag but does not expose the type", got[0].Timestamp.UnixNano()/1e6)
}

func acks(a sarama.RequiredAcks, name string) outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("acks" + name)
	createTopic(admin, topic, 2, nil)
	c := config()
	c.Producer.RequiredAcks = a
	msgs := keyedMessages(topic, "acks"+name, 200)
	produceAll(c, msgs)
	client := newClient(nil)
	defer client.Close()
	if a != sarama.NoResponse {
		return pass("acks=%s: %s", name, verifyAtOffsets(client, msgs))
	}
	// acks=0: no offsets come back; read both partitions and match every record.
	want := map[string]string{}
	for _, m := range msgs {
		want[string(enc(m.Key))] = string(enc(m.Value))
	}
	read := 0
	for p := int32(0); p < 2; p++ {
		hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		must(err, "high watermark (ListOffsets v1)")
		got := consumeRange(client, topic, p, sarama.OffsetOldest, int(hwm), 15*time.Second)
		check(len(got) == int(hwm), "partition %d: read %d of %d", p, len(got), hwm)
		last := -1
		for _, g := range got {
			v, ok := want[string(g.Key)]
			check(ok && v == string(g.Value), "partition %d offset %d: unexpected record %q", p, g.Offset, g.Key)
			delete(want, string(g.Key))
			i, _ := strconv.Atoi(strings.TrimPrefix(string(g.Key), "acks0-key-"))
			check(i > last, "partition %d: %q read after record %d (order)", p, g.Key, last)
			last = i
			read++
		}
	}
	check(len(want) == 0, "%d records never arrived", len(want))
	return pass("acks=0: all %d records read back equal, order kept per partition", read)
}

// fnv1a32 is FNV-1a, 32 bits, written out here to check Sarama's default partitioner independently.
func fnv1a32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func scPartitioner() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("partitioner")
	const n = 6
	createTopic(admin, topic, n, nil)
	msgs := keyedMessages(topic, "part", 300)
	produceAll(config(), msgs) // default partitioner: sarama.NewHashPartitioner
	counts := make([]int, n)
	for _, m := range msgs {
		// Sarama's HashPartitioner: int32(fnv1a(key)) % n, negated when negative.
		p := int32(fnv1a32(enc(m.Key))) % n
		if p < 0 {
			p = -p
		}
		check(m.Partition == p, "key %q went to partition %d, FNV-1a places it in %d", enc(m.Key), m.Partition, p)
		counts[p]++
	}
	client := newClient(nil)
	defer client.Close()
	verifyAtOffsets(client, msgs)
	return pass("300 keys on 6 partitions (%v) placed as Sarama's default HashPartitioner computes (FNV-1a 32, computed independently here) and read back there; note: Sarama 1.22 has no murmur2 partitioner (NewReferenceHashPartitioner is FNV-1a with Java's abs), so keys land elsewhere than with the Java client", counts)
}

func scOffsetsForTimes() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("oft")
	createTopic(admin, topic, 1, nil)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	msgs := keyedMessages(topic, "oft", 30)
	for i, m := range msgs {
		m.Timestamp = base.Add(time.Duration(i/3*100) * time.Millisecond) // 3 records per timestamp, 100 ms apart
	}
	produceAll(config(), msgs)
	client := newClient(nil)
	defer client.Close()
	ms := func(t time.Time) int64 { return t.UnixNano() / 1e6 }
	type q struct {
		ts   int64
		want int64
	}
	queries := []q{
		{ms(base) - 1000, 0},
		{ms(base), 0},
		{ms(base) + 1, 3},
		{ms(base) + 450, 15},
		{ms(base) + 500, 15},
		{ms(base) + 900, 27},
		{ms(base) + 901, -1},
		{ms(time.Now()) + 60000, -1},
	}
	var parts []string
	for _, qu := range queries {
		got, err := client.GetOffset(topic, 0, qu.ts)
		must(err, "GetOffset(timestamp %d) (ListOffsets v1)", qu.ts)
		hint := ""
		if got == -1 && qu.want >= 0 {
			hint = " (Sarama 1.22 leaves max_timestamp -1 in the record batches it sends; Kafka rewrites it from the records on append, LogValidator, so a broker that keeps it finds no batch by time)"
		}
		check(got == qu.want, "offset for timestamp base%+d ms: %d, expected %d%s", qu.ts-ms(base), got, qu.want, hint)
		parts = append(parts, fmt.Sprintf("%+d→%d", qu.ts-ms(base), got))
	}
	return pass("Client.GetOffset by timestamp (base+ms→offset): %s (-1: none)", strings.Join(parts, " "))
}

func scSeek() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("seek")
	createTopic(admin, topic, 1, nil)
	msgs := keyedMessages(topic, "seek", 100)
	produceAll(config(), msgs)
	client := newClient(nil)
	defer client.Close()
	got := consumeRange(client, topic, 0, 57, 43, 15*time.Second)
	check(len(got) == 43, "from offset 57: read %d records, expected 43", len(got))
	for i, g := range got {
		check(g.Offset == int64(57+i) && bytes.Equal(g.Value, enc(msgs[57+i].Value)), "from offset 57: record %d is offset %d %q", i, g.Offset, g.Key)
	}
	// A second partition consumer on the same consumer, from the last offset.
	got = consumeRange(client, topic, 0, 99, 1, 15*time.Second)
	check(len(got) == 1 && got[0].Offset == 99 && bytes.Equal(got[0].Value, enc(msgs[99].Value)), "from offset 99: %d records", len(got))
	return pass("ConsumePartition from offset 57 read offsets 57..99 equal; from 99 the last record")
}

// ---- consumer groups

type groupHandler struct {
	mu       sync.Mutex
	msgs     []*sarama.ConsumerMessage
	sessions []sessionInfo
	// markBelow: mark a message only when its offset is below this (per partition); nil marks all
	markBelow map[int32]int64
}

type sessionInfo struct {
	generation int32
	claims     []int32
}

func (h *groupHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var parts []int32
	for _, ps := range s.Claims() {
		parts = append(parts, ps...)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	h.sessions = append(h.sessions, sessionInfo{s.GenerationID(), parts})
	return nil
}
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		if h.markBelow == nil || m.Offset < h.markBelow[m.Partition] {
			s.MarkMessage(m, "")
		}
		h.mu.Unlock()
	}
	return nil
}
func (h *groupHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}
func (h *groupHandler) lastSession() (sessionInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.sessions) == 0 {
		return sessionInfo{}, false
	}
	return h.sessions[len(h.sessions)-1], true
}

type member struct {
	group   sarama.ConsumerGroup
	handler *groupHandler
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	err     error
}

// startMember joins the group and consumes in a loop (Sarama 1.22's Consume returns at every
// rebalance and must be called again).
func startMember(groupID, topic string, h *groupHandler) *member {
	g, err := sarama.NewConsumerGroup([]string{bootstrap}, groupID, config())
	must(err, "NewConsumerGroup %s", groupID)
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{group: g, handler: h, cancel: cancel, done: make(chan struct{})}
	go func() {
		for e := range g.Errors() {
			m.mu.Lock()
			m.err = e
			m.mu.Unlock()
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, h); err != nil {
				m.mu.Lock()
				m.err = err
				m.mu.Unlock()
				if err == sarama.ErrClosedConsumerGroup {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	return m
}

func (m *member) lastErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// stop leaves the group; the session's release flushes the marked offsets.
func (m *member) stop() {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
	}
	m.group.Close()
}

func waitFor(what string, d time.Duration, cond func() bool, errf func() error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	var e error
	if errf != nil {
		e = errf()
	}
	panic(failure{fail("timed out waiting for %s (last client error: %v)", what, e)})
}

func committed(admin sarama.ClusterAdmin, group, topic string, parts []int32) map[int32]int64 {
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	must(err, "ListConsumerGroupOffsets (OffsetFetch v1)")
	out := map[int32]int64{}
	for _, p := range parts {
		b := resp.GetBlock(topic, p)
		check(b != nil, "no committed offset block for %s/%d", topic, p)
		must(kerr(b.Err), "committed offset of %s/%d", topic, p)
		out[p] = b.Offset
	}
	return out
}

func kerr(e sarama.KError) error {
	if e == sarama.ErrNoError {
		return nil
	}
	return e
}

func checkRecords(got []*sarama.ConsumerMessage, msgs []*sarama.ProducerMessage, what string) {
	want := map[string]*sarama.ProducerMessage{}
	for _, m := range msgs {
		want[fmt.Sprintf("%d/%d", m.Partition, m.Offset)] = m
	}
	seen := map[string]bool{}
	for _, g := range got {
		k := fmt.Sprintf("%d/%d", g.Partition, g.Offset)
		w, ok := want[k]
		check(ok, "%s: read %s (%q), not expected", what, k, g.Key)
		check(!seen[k], "%s: read %s twice", what, k)
		seen[k] = true
		check(bytes.Equal(g.Key, enc(w.Key)) && bytes.Equal(g.Value, enc(w.Value)), "%s: %s holds %q, wrote %q", what, k, g.Key, enc(w.Key))
	}
	check(len(seen) == len(want), "%s: read %d of %d records", what, len(seen), len(want))
}

func scGroupConsumeCommit() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic, group := topicName("gcc"), topicName("gcc-group")
	createTopic(admin, topic, 3, nil)
	msgs := keyedMessages(topic, "gcc", 300)
	produceAll(config(), msgs)
	h := &groupHandler{}
	m := startMember(group, topic, h)
	waitFor("the first member to read 300 records", 30*time.Second, func() bool { return h.count() >= 300 }, m.lastErr)
	time.Sleep(300 * time.Millisecond) // nothing more may arrive
	m.stop()
	checkRecords(h.msgs, msgs, "first member")
	offs := committed(admin, group, topic, []int32{0, 1, 2})
	for p, o := range offs {
		hwm := int64(0)
		for _, mm := range msgs {
			if mm.Partition == p && mm.Offset+1 > hwm {
				hwm = mm.Offset + 1
			}
		}
		check(o == hwm, "partition %d: committed %d, read up to %d", p, o, hwm)
	}
	more := keyedMessages(topic, "gcc-more", 12)
	produceAll(config(), more)
	h2 := &groupHandler{}
	m2 := startMember(group, topic, h2)
	waitFor("the second member to read the 12 new records", 30*time.Second, func() bool { return h2.count() >= 12 }, m2.lastErr)
	time.Sleep(500 * time.Millisecond)
	m2.stop()
	checkRecords(h2.msgs, more, "second member")
	return pass("member 1 read all 300 (3 partitions), committed offsets = end offsets %v; a new member read only the 12 records produced after the commit", offs)
}

func scGroupRebalance() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic, group := topicName("grb"), topicName("grb-group")
	createTopic(admin, topic, 6, nil)
	var members []*member
	for i := 0; i < 3; i++ {
		members = append(members, startMember(group, topic, &groupHandler{}))
	}
	defer func() {
		for _, m := range members {
			go m.stop()
		}
	}()
	balanced := func(ms []*member, each int) func() bool {
		return func() bool {
			var gen int32 = -1
			seen := map[int32]bool{}
			for _, m := range ms {
				s, ok := m.handler.lastSession()
				if !ok || len(s.claims) != each || (gen != -1 && s.generation != gen) {
					return false
				}
				gen = s.generation
				for _, p := range s.claims {
					seen[p] = true
				}
			}
			return len(seen) == 6
		}
	}
	lastErr := func() error {
		for _, m := range members {
			if e := m.lastErr(); e != nil {
				return e
			}
		}
		return nil
	}
	describe := func() string {
		var s []string
		for _, m := range members {
			si, _ := m.handler.lastSession()
			s = append(s, fmt.Sprintf("gen %d %v", si.generation, si.claims))
		}
		return strings.Join(s, "; ")
	}
	waitFor("3 members with 2 partitions each", 40*time.Second, balanced(members, 2), lastErr)
	first := describe()
	leaving := members[0]
	members = members[1:]
	leaving.stop()
	waitFor("2 members with 3 partitions each after one left", 30*time.Second, balanced(members, 3), lastErr)
	return pass("3 members: %s; after one left (LeaveGroup): %s", first, describe())
}

func scGroupResumeAfterRestart() outcome {
	admin := newAdmin()
	topic, group := topicName("gra"), topicName("gra-group")
	createTopic(admin, topic, 2, nil)
	msgs := keyedMessages(topic, "gra", 200)
	produceAll(config(), msgs)
	ends := map[int32]int64{}
	for _, m := range msgs {
		if m.Offset+1 > ends[m.Partition] {
			ends[m.Partition] = m.Offset + 1
		}
	}
	half := map[int32]int64{0: ends[0] / 2, 1: ends[1] / 2}
	h := &groupHandler{markBelow: half}
	m := startMember(group, topic, h)
	waitFor("the first member to read 200 records", 30*time.Second, func() bool { return h.count() >= 200 }, m.lastErr)
	m.stop()
	offs := committed(admin, group, topic, []int32{0, 1})
	check(offs[0] == half[0] && offs[1] == half[1], "committed %v, marked up to %v", offs, half)
	admin.Close()

	ctl := os.Getenv("GREGOR_CTL")
	check(ctl != "", "GREGOR_CTL is not set")
	out, err := exec.Command(ctl, "restart").CombinedOutput()
	must(err, "%s restart: %s", ctl, lastLines(string(out), 2))

	admin2 := newAdmin()
	defer admin2.Close()
	offs2 := committed(admin2, group, topic, []int32{0, 1})
	check(offs2[0] == half[0] && offs2[1] == half[1], "after restart the group's committed offsets are %v, expected %v", offs2, half)
	var rest []*sarama.ProducerMessage
	for _, mm := range msgs {
		if mm.Offset >= half[mm.Partition] {
			rest = append(rest, mm)
		}
	}
	h2 := &groupHandler{}
	m2 := startMember(group, topic, h2)
	waitFor(fmt.Sprintf("the new member to read the %d uncommitted records", len(rest)), 40*time.Second, func() bool { return h2.count() >= len(rest) }, m2.lastErr)
	time.Sleep(300 * time.Millisecond)
	m2.stop()
	checkRecords(h2.msgs, rest, "member after restart")
	return pass("committed %v of ends %v, broker restarted, committed offsets still %v, a new member read exactly the %d records from there", offs, ends, offs2, len(rest))
}

func scAdminGroups() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic, group := topicName("adg"), topicName("adg-group")
	createTopic(admin, topic, 2, nil)
	msgs := keyedMessages(topic, "adg", 20)
	produceAll(config(), msgs)
	h := &groupHandler{}
	m := startMember(group, topic, h)
	waitFor("the member to read 20 records", 30*time.Second, func() bool { return h.count() >= 20 }, m.lastErr)
	time.Sleep(500 * time.Millisecond) // let the marked offsets be committed (CommitInterval 200 ms)

	groups, err := admin.ListConsumerGroups()
	must(err, "ListConsumerGroups")
	check(groups[group] == "consumer", "ListConsumerGroups: %s has protocol type %q (%d groups listed)", group, groups[group], len(groups))
	desc, err := admin.DescribeConsumerGroups([]string{group})
	must(err, "DescribeConsumerGroups")
	check(len(desc) == 1, "DescribeConsumerGroups returned %d groups", len(desc))
	d := desc[0]
	check(d.Err == sarama.ErrNoError && d.GroupId == group, "describe: %v %s", d.Err, d.GroupId)
	check(d.State == "Stable" && d.ProtocolType == "consumer" && d.Protocol == "range", "describe: state %q, protocol type %q, protocol %q", d.State, d.ProtocolType, d.Protocol)
	check(len(d.Members) == 1, "describe: %d members", len(d.Members))
	for _, md := range d.Members {
		a, err := md.GetMemberAssignment()
		must(err, "member assignment")
		ps := a.Topics[topic]
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		check(len(ps) == 2 && ps[0] == 0 && ps[1] == 1, "member assignment %v", a.Topics)
		meta, err := md.GetMemberMetadata()
		must(err, "member metadata")
		check(len(meta.Topics) == 1 && meta.Topics[0] == topic, "member subscription %v", meta.Topics)
		check(md.ClientId == "gregor-compat-sarama", "member client id %q", md.ClientId)
	}

	// Deleting a group with a member is refused (NON_EMPTY_GROUP).
	client := newClient(nil)
	defer client.Close()
	broker, err := client.Coordinator(group)
	must(err, "coordinator of %s", group)
	resp, err := broker.DeleteGroups(&sarama.DeleteGroupsRequest{Groups: []string{group}})
	must(err, "DeleteGroups (while a member is active)")
	check(resp.GroupErrorCodes[group] == sarama.ErrNonEmptyGroup, "deleting a group with a member: %v, expected %v", resp.GroupErrorCodes[group], sarama.ErrNonEmptyGroup)
	m.stop()
	desc, err = admin.DescribeConsumerGroups([]string{group})
	must(err, "DescribeConsumerGroups after the member left")
	check(len(desc) == 1 && desc[0].State == "Empty" && len(desc[0].Members) == 0, "after the member left: state %q, %d members", desc[0].State, len(desc[0].Members))
	resp, err = broker.DeleteGroups(&sarama.DeleteGroupsRequest{Groups: []string{group}})
	must(err, "DeleteGroups")
	must(kerr(resp.GroupErrorCodes[group]), "DeleteGroups %s", group)
	groups, err = admin.ListConsumerGroups()
	must(err, "ListConsumerGroups after delete")
	_, still := groups[group]
	check(!still, "deleted group still listed")
	desc, err = admin.DescribeConsumerGroups([]string{group})
	must(err, "DescribeConsumerGroups after delete")
	check(len(desc) == 1 && desc[0].State == "Dead", "deleted group described as %q", desc[0].State)
	return pass("ListConsumerGroups lists it (consumer); DescribeConsumerGroups: Stable, range, 1 member with partitions 0,1 and its subscription; delete while active: %v; after the member left: Empty; deleted (Broker.DeleteGroups: ClusterAdmin 1.22 has no DeleteConsumerGroup), no longer listed, described as Dead", sarama.ErrNonEmptyGroup)
}

func scAdminConfigs() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("cfg")
	createTopic(admin, topic, 1, map[string]*string{"retention.ms": strp("3600000")})
	// ClusterAdmin.DescribeConfig in Sarama 1.22 always sends DescribeConfigs v0 (removed in Kafka 4.0).
	_, adminErr := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})

	// The same request at v1 through Sarama's Broker API.
	client := newClient(nil)
	defer client.Close()
	controller, err := client.Controller()
	must(err, "controller")
	resp, err := controller.DescribeConfigs(&sarama.DescribeConfigsRequest{Version: 1, Resources: []*sarama.ConfigResource{
		{Type: sarama.TopicResource, Name: topic},
		// Sarama 1.22's BrokerResource is 5 (an ACL resource type); Kafka's BROKER config resource
		// is 4, which Sarama 1.22 names ClusterResource.
		{Type: sarama.ClusterResource, Name: strconv.Itoa(int(controller.ID()))},
	}})
	must(err, "DescribeConfigs v1")
	check(len(resp.Resources) == 2, "DescribeConfigs v1 answered %d resources", len(resp.Resources))
	entries := func(r *sarama.ResourceResponse) map[string]*sarama.ConfigEntry {
		check(r.ErrorCode == 0, "DescribeConfigs %s: error %d %s", r.Name, r.ErrorCode, r.ErrorMsg)
		out := map[string]*sarama.ConfigEntry{}
		for _, e := range r.Configs {
			out[e.Name] = e
		}
		return out
	}
	te := entries(resp.Resources[0])
	be := entries(resp.Resources[1])
	r := te["retention.ms"]
	// (v1 has a config source instead of v0's is_default; Sarama leaves Default false for v1.)
	check(r != nil && r.Value == "3600000" && r.Source == sarama.SourceTopic, "topic retention.ms: %+v", r)
	cp := te["cleanup.policy"]
	check(cp != nil && cp.Value == "delete" && cp.Source == sarama.SourceDefault, "topic cleanup.policy: %+v", cp)
	mm := be["message.max.bytes"]
	check(len(be) > 10 && mm != nil && mm.Value != "", "broker configs: %d entries, message.max.bytes %+v", len(be), mm)
	detail := fmt.Sprintf("Broker.DescribeConfigs v1: topic retention.ms=3600000 (topic override), cleanup.policy=delete (default), %d topic entries; broker %d: %d entries, message.max.bytes=%s", len(te), controller.ID(), len(be), mm.Value)
	if adminErr != nil {
		return fail("ClusterAdmin.DescribeConfig sends DescribeConfigs v0, removed in Kafka 4.0 (KIP-896), and fails: %v. The same request at v1 through Sarama's Broker API: %s", adminErr, detail)
	}
	return pass("ClusterAdmin.DescribeConfig (v0) answered; %s", detail)
}

func scIdempotentProducer() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("idem")
	createTopic(admin, topic, 3, nil)
	c := config()
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Retry.Max = 5
	c.Net.MaxOpenRequests = 1
	c.Producer.Flush.Messages = 50
	c.Producer.Flush.Frequency = 5 * time.Millisecond
	msgs := keyedMessages(topic, "idem", 1000)
	produceAll(c, msgs)
	client := newClient(nil)
	defer client.Close()
	return pass("Producer.Idempotent (InitProducerId v0, sequence numbers per partition): %s", verifyAtOffsets(client, msgs))
}

func scLargeRecords() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("large")
	createTopic(admin, topic, 1, nil)
	big := make([]byte, 1000000)
	for i := range big {
		big[i] = byte('a' + (i*7+i/13)%26)
	}
	c := config()
	// Sarama's own limit (Producer.MaxMessageBytes, 1000000) would refuse both records client-side.
	c.Producer.MaxMessageBytes = 2000000
	c.Producer.Retry.Max = 0
	m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("big"), Value: sarama.ByteEncoder(big)}
	produceAll(c, []*sarama.ProducerMessage{m})
	client := newClient(nil)
	defer client.Close()
	got := consumeRange(client, topic, 0, m.Offset, 1, 15*time.Second)
	check(len(got) == 1 && bytes.Equal(got[0].Value, big), "the 1,000,000-byte record was not read back equal")
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	must(err, "producer")
	defer p.Close()
	_, _, tooLarge := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("huge"), Value: sarama.ByteEncoder(make([]byte, 1100000))})
	check(tooLarge == sarama.ErrMessageSizeTooLarge, "producing 1,100,000 bytes: %v, expected %v", tooLarge, sarama.ErrMessageSizeTooLarge)
	hwm, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	must(err, "high watermark (ListOffsets v1)")
	check(hwm == m.Offset+1, "high watermark %d after the refused record", hwm)
	return pass("1,000,000-byte value read back equal; 1,100,000 bytes refused by the broker: %v", tooLarge)
}

func scEmptyTopic() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("empty")
	createTopic(admin, topic, 1, nil)
	client := newClient(nil)
	defer client.Close()
	lo, err := client.GetOffset(topic, 0, sarama.OffsetOldest)
	must(err, "GetOffset(oldest) (ListOffsets v1)")
	hi, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	must(err, "GetOffset(newest) (ListOffsets v1)")
	check(lo == 0 && hi == 0, "watermarks %d/%d, expected 0/0", lo, hi)
	consumer, err := sarama.NewConsumerFromClient(client)
	must(err, "consumer")
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	must(err, "ConsumePartition(oldest)")
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		return fail("read a record from an empty topic: offset %d", m.Offset)
	case e := <-pc.Errors():
		return fail("consumer error on an empty topic: %v", e.Err)
	case <-time.After(2 * time.Second):
	}
	check(pc.HighWaterMarkOffset() == 0, "partition consumer high watermark %d", pc.HighWaterMarkOffset())
	return pass("watermarks 0/0; a partition consumer from the oldest offset got no record and no error in 2 s")
}

func scNonexistentTopic() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("nosuch")
	md := describeTopic(admin, topic) // Metadata v5, allow_auto_topic_creation=false
	check(md.Err == sarama.ErrUnknownTopicOrPartition, "metadata for a missing topic: %v", md.Err)
	client := newClient(nil)
	defer client.Close()
	topics, err := client.Topics()
	must(err, "topics")
	for _, t := range topics {
		check(t != topic, "the missing topic was created although the request did not allow it")
	}
	// The client stays usable.
	other := topicName("after-nosuch")
	createTopic(admin, other, 1, nil)
	msgs := keyedMessages(other, "after", 5)
	produceAll(config(), msgs)
	verifyAtOffsets(client, msgs)
	return pass("ClusterAdmin.DescribeTopics (Metadata v5, auto-creation off) reports %v; the topic was not created; the same client then produces and consumes another topic (Sarama's Client asks with auto-creation on, so it is not used for the missing topic)", md.Err)
}

func scManyPartitions() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic := topicName("many")
	createTopic(admin, topic, 100, nil)
	c := config()
	c.Producer.Partitioner = sarama.NewManualPartitioner
	var msgs []*sarama.ProducerMessage
	for p := int32(0); p < 100; p++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: p, Key: sarama.StringEncoder(fmt.Sprintf("k%d", p)), Value: sarama.StringEncoder(fmt.Sprintf("value for partition %d", p))})
	}
	produceAll(c, msgs)
	for _, m := range msgs {
		check(m.Offset == 0, "partition %d: acknowledged offset %d", m.Partition, m.Offset)
	}
	client := newClient(nil)
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	must(err, "consumer")
	defer consumer.Close()
	type got struct {
		p   int32
		msg *sarama.ConsumerMessage
		err error
	}
	ch := make(chan got, 100)
	for p := int32(0); p < 100; p++ {
		go func(p int32) {
			pc, err := consumer.ConsumePartition(topic, p, 0)
			if err != nil {
				ch <- got{p, nil, err}
				return
			}
			defer pc.AsyncClose()
			select {
			case m := <-pc.Messages():
				ch <- got{p, m, nil}
			case e := <-pc.Errors():
				ch <- got{p, nil, e.Err}
			case <-time.After(30 * time.Second):
				ch <- got{p, nil, errors.New("no record in 30 s")}
			}
		}(p)
	}
	for i := 0; i < 100; i++ {
		g := <-ch
		must(g.err, "partition %d", g.p)
		check(g.msg.Partition == g.p && g.msg.Offset == 0 && string(g.msg.Value) == fmt.Sprintf("value for partition %d", g.p), "partition %d: read %q", g.p, g.msg.Value)
	}
	return pass("100 partitions: one record produced to each (offset 0), each read back from its partition")
}

func scCommitUnknownTopic() outcome {
	admin := newAdmin()
	defer admin.Close()
	topic, missing, group := topicName("cut"), topicName("cut-missing"), topicName("cut-group")
	createTopic(admin, topic, 3, nil)
	client := newClient(nil)
	defer client.Close()
	coord, err := client.Coordinator(group)
	must(err, "coordinator of %s", group)
	// A commit outside any generation (generation -1, no member id), as Kafka's admin client sends
	// for alterConsumerGroupOffsets; v2, the oldest Kafka 4.1 accepts. ClusterAdmin 1.22 has no
	// AlterConsumerGroupOffsets, so this goes through Broker.CommitOffset.
	req := &sarama.OffsetCommitRequest{Version: 2, ConsumerGroup: group, ConsumerGroupGeneration: -1, RetentionTime: -1}
	req.AddBlock(topic, 0, 2, 0, "m")
	req.AddBlock(topic, 7, 2, 0, "m")
	req.AddBlock(missing, 0, 2, 0, "m")
	resp, err := coord.CommitOffset(req)
	must(err, "OffsetCommit v2")
	errOf := func(t string, p int32) sarama.KError {
		e, ok := resp.Errors[t][p]
		check(ok, "no answer for %s/%d: %v", t, p, resp.Errors)
		return e
	}
	check(errOf(topic, 0) == sarama.ErrNoError, "known partition: %v", errOf(topic, 0))
	check(errOf(topic, 7) == sarama.ErrUnknownTopicOrPartition, "partition 7 of 3: %v", errOf(topic, 7))
	check(errOf(missing, 0) == sarama.ErrUnknownTopicOrPartition, "missing topic: %v", errOf(missing, 0))
	got := committed(admin, group, topic, []int32{0, 1, 2})
	check(got[0] == 2 && got[1] == -1 && got[2] == -1, "committed offsets afterwards %v, expected 2 on partition 0 only", got)
	md := describeTopic(admin, missing)
	check(md.Err == sarama.ErrUnknownTopicOrPartition, "the missing topic is described with %v", md.Err)
	return pass("OffsetCommit v2 (Broker.CommitOffset; ClusterAdmin 1.22 has no AlterConsumerGroupOffsets): known partition committed, partition 7 of 3 and a missing topic %v", sarama.ErrUnknownTopicOrPartition)
}

func scStaticMemberExpiry() outcome {
	return unsupported("Sarama 1.22.1 has no static membership: no Config.Consumer.Group.InstanceId, and its JoinGroup (v0-v2) has no group.instance.id (JoinGroup v5+)")
}

// Kafka 4.1's group configs (GroupConfig).
var groupConfigs = []string{
	"consumer.heartbeat.interval.ms", "consumer.session.timeout.ms",
	"share.auto.offset.reset", "share.heartbeat.interval.ms", "share.isolation.level",
	"share.record.lock.duration.ms", "share.session.timeout.ms",
	"streams.heartbeat.interval.ms", "streams.num.standby.replicas", "streams.session.timeout.ms",
}

func scDescribeGroupConfigs() outcome {
	group := topicName("gcfg")
	client := newClient(nil)
	defer client.Close()
	controller, err := client.Controller()
	must(err, "controller")
	// Sarama 1.22 names no GROUP config resource; its ConfigResourceType is an int8, so Kafka's
	// 32 is given as a number. (ClusterResource is Kafka's BROKER, 4: see scAdminConfigs.)
	resp, err := controller.DescribeConfigs(&sarama.DescribeConfigsRequest{Version: 1, Resources: []*sarama.ConfigResource{
		{Type: sarama.ClusterResource, Name: strconv.Itoa(int(controller.ID()))},
		{Type: sarama.ConfigResourceType(32), Name: group},
	}})
	must(err, "DescribeConfigs v1")
	check(len(resp.Resources) == 2, "DescribeConfigs v1 answered %d resources", len(resp.Resources))
	entries := func(r *sarama.ResourceResponse) map[string]*sarama.ConfigEntry {
		check(r.ErrorCode == 0, "DescribeConfigs %s: error %d %s", r.Name, r.ErrorCode, r.ErrorMsg)
		out := map[string]*sarama.ConfigEntry{}
		for _, e := range r.Configs {
			out[e.Name] = e
		}
		return out
	}
	be, ge := entries(resp.Resources[0]), entries(resp.Resources[1])
	for _, n := range groupConfigs {
		check(ge[n] != nil, "group config %s missing (%d described)", n, len(ge))
	}
	bval := func(n string) string {
		e := be[n]
		check(e != nil, "broker config %s missing", n)
		return e.Value
	}
	// Kafka's consumer.* group defaults are the broker's group.consumer.* values.
	want := map[string]string{
		"consumer.session.timeout.ms":    bval("group.consumer.session.timeout.ms"),
		"consumer.heartbeat.interval.ms": bval("group.consumer.heartbeat.interval.ms"),
		"share.auto.offset.reset":        "latest",
		"share.isolation.level":          "read_uncommitted",
		"share.record.lock.duration.ms":  "30000",
		"streams.num.standby.replicas":   "0",
	}
	for n, v := range want {
		e := ge[n]
		check(e.Value == v && e.Source == sarama.SourceDefault, "group %s: %+v, expected default %s", n, e, v)
	}
	return pass("DescribeConfigs v1 (Broker.DescribeConfigs, resource type 32): %d group configs with defaults (consumer.session.timeout.ms %s, consumer.heartbeat.interval.ms %s: the broker's); not altered: Sarama 1.22 has no IncrementalAlterConfigs", len(ge), want["consumer.session.timeout.ms"], want["consumer.heartbeat.interval.ms"])
}

func scAuthorizedOperations() outcome {
	return unsupported("Sarama 1.22.1 sends Metadata up to v5 and DescribeGroups v0, neither with include_authorized_operations (Metadata v8+, DescribeGroups v3+); its ClusterAdmin.DescribeCluster is that Metadata request, not DescribeCluster")
}
