package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// notices records what delivery publishes; the first fails fails.
type notices struct {
	mu    sync.Mutex
	fails int
	got   []notice
}

type notice struct{ account, topic, subject, message, dedup string }

func (n *notices) Publish(ctx context.Context, account, topicARN, subject, message, dedupID string) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fails > 0 {
		n.fails--
		return "", errors.New("store unavailable")
	}
	n.got = append(n.got, notice{account, topicARN, subject, message, dedupID})
	return "m", nil
}

// TestDeliveryNotifiesTheTrailsTopic: a trail with an SnsTopicName gets
// CloudTrail's notice per log file; a failed publish is retried with the
// file, not lost.
func TestDeliveryNotifiesTheTrailsTopic(t *testing.T) {
	pub := &notices{fails: 1}
	f := newFixture(t, delivery.Options{Notices: pub}, "logs")
	start := f.clk.Now()
	doc, _ := json.Marshal(struct {
		trail.Settings
		SnsTopicName string
	}{trail.Settings{S3BucketName: "logs", IsLogging: true, StartLoggingTime: &start}, "alerts"})
	arn := trail.ARN{Region: "eu-west-1", Account: "111111111111", Name: "t"}.String()
	if err := f.st.CreateTrail(context.Background(), store.Trail{ARN: arn, Name: "t", Account: "111111111111", HomeRegion: "eu-west-1",
		Doc: doc, Created: start, Updated: start}); err != nil {
		t.Fatal(err)
	}
	f.trails++
	f.d.Wake()
	f.settle()
	f.clk.Set(t0.Add(10 * time.Second))
	f.ingest("111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(2 * time.Minute))
	deadline := time.Now().Add(20 * time.Second)
	for {
		f.settle()
		pub.mu.Lock()
		n := len(pub.got)
		pub.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		f.clk.Set(f.clk.Now().Add(time.Second))
	}
	files := f.files("logs")
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if len(files) != 1 || len(pub.got) != 1 {
		t.Fatalf("%d files, notices %+v", len(files), pub.got)
	}
	n := pub.got[0]
	key := files[0].key.String()
	if n.account != "111111111111" || n.topic != "arn:aws:sns:eu-west-1:111111111111:alerts" ||
		n.message != `{"s3Bucket":"logs","s3ObjectKey":["`+key+`"]}` || n.dedup != "cloudtrail-log:logs/"+key {
		t.Fatalf("%+v", n)
	}
}
