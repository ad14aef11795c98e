package delivery_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// createTrailDoc is createTrail with extra members in the trail document
// (the control plane keeps InsightSelectors there).
func (f *fixture) createTrailDoc(name, account, home string, set trail.Settings, extra map[string]any) string {
	f.t.Helper()
	arn := trail.ARN{Region: home, Account: account, Name: name}.String()
	start := f.clk.Now()
	set.IsLogging, set.StartLoggingTime = true, &start
	doc, _ := json.Marshal(set)
	var m map[string]any
	json.Unmarshal(doc, &m)
	for k, v := range extra {
		m[k] = v
	}
	doc, _ = json.Marshal(m)
	if err := f.st.CreateTrail(context.Background(), store.Trail{ARN: arn, Name: name, Account: account, HomeRegion: home, Doc: doc, Created: start, Updated: start}); err != nil {
		f.t.Fatal(err)
	}
	f.trails++
	f.d.Wake()
	f.settle()
	return arn
}

// appendRaw stores records given as JSON.
func (f *fixture) appendRaw(raws ...string) {
	f.t.Helper()
	var recs []*event.Record
	for _, r := range raws {
		rec, err := event.Parse([]byte(r))
		if err != nil {
			f.t.Fatalf("%v\n%s", err, r)
		}
		recs = append(recs, rec)
	}
	if _, err := f.st.Append(context.Background(), recs, time.Time{}); err != nil {
		f.t.Fatal(err)
	}
}

// objects returns every object of a bucket by key: the records of log and
// Insights files, and the raw JSON of digests.
func (f *fixture) objects(bucket string) (files map[string][]string, digests map[string][]byte) {
	f.t.Helper()
	b, _ := f.bk.Bucket(context.Background(), bucket)
	infos, _, err := b.List(context.Background(), "", "", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	files, digests = map[string][]string{}, map[string][]byte{}
	for _, in := range infos {
		data, _, err := b.Get(context.Background(), in.Key)
		if err != nil {
			f.t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			f.t.Fatalf("%s: %v", in.Key, err)
		}
		plain, _ := io.ReadAll(zr)
		if strings.Contains(in.Key, "/CloudTrail-Digest/") {
			digests[in.Key] = plain
			continue
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(plain, &doc); err != nil {
			f.t.Fatalf("%s: %v", in.Key, err)
		}
		for _, r := range doc.Records {
			files[in.Key] = append(files[in.Key], string(r))
		}
	}
	return files, digests
}

func insightRecord(id, typ, state string, at time.Time) string {
	return fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"%s","awsRegion":"eu-west-1","eventID":"%s","eventType":"AwsCloudTrailInsight",`+
		`"recipientAccountId":"111111111111","sharedEventID":"%s-shared","insightDetails":{"state":"%s","eventSource":"ec2.amazonaws.com",`+
		`"eventName":"RunInstances","insightType":"%s","insightContext":{}},"eventCategory":"Insight"}`,
		at.Format(time.RFC3339), id, id, state, typ)
}

func aggregatedRecord(id, dim, name string, at time.Time) string {
	return fmt.Sprintf(`{"eventVersion":"1.0","accountId":"111111111111","eventId":"%s","eventCategory":"Aggregated","eventType":"AwsAggregatedEvent",`+
		`"awsRegion":"eu-west-1","eventSource":"s3.amazonaws.com","timeWindow":{"windowStart":"%s","windowEnd":"%s","windowSize":"PT5M"},`+
		`"summary":{"primaryDimension":{"dimension":"%s","statistics":[{"name":"%s","value":3}],"aggregationType":"Count"},"details":[]}}`,
		id, at.Format(time.RFC3339), at.Add(5*time.Minute).Format(time.RFC3339), dim, name)
}

// Insights events go only to trails with Insights selectors of their
// type, into CloudTrail-Insight/ files that no digest lists; aggregated
// events go to the log files of trails that aggregate with their
// template.
func TestDeliveryInsightsAndAggregatedEvents(t *testing.T) {
	f := newFixture(t, delivery.Options{}, "ins", "plain", "agg")
	ins := f.createTrailDoc("ins", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "ins", LogFileValidationEnabled: true},
		map[string]any{"InsightSelectors": []map[string]string{{"InsightType": "ApiCallRateInsight"}}})
	plain := f.createTrail("plain", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "plain"})
	agg := f.createTrail("agg", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "agg",
		AggregationConfigurations: []trail.AggregationConfiguration{{Templates: []string{trail.TemplateAPIActivity}, EventCategory: "Data"}}})

	f.clk.Set(t0.Add(10 * time.Second))
	mgmt := f.ingest("111111111111/eu-west-1/Management")
	f.appendRaw(
		insightRecord("11111111-0000-4000-8000-000000000001", "ApiCallRateInsight", "Start", t0),
		insightRecord("11111111-0000-4000-8000-000000000002", "ApiErrorRateInsight", "Start", t0),
		aggregatedRecord("22222222-0000-5000-8000-000000000001", "eventName", "GetObject", t0),
		aggregatedRecord("22222222-0000-5000-8000-000000000002", "userIdentity", "arn:aws:iam::111111111111:user/alice", t0),
	)
	f.clk.Set(t0.Add(61 * time.Minute)) // past the first digest period
	for _, arn := range []string{ins, plain, agg} {
		f.waitDelivered(arn, t0.Add(time.Minute))
	}

	files, digests := f.objects("ins")
	var logRecs, insightRecs []string
	var insightKeys []string
	for k, recs := range files {
		switch {
		case strings.Contains(k, "/CloudTrail-Insight/"):
			if _, err := layout.ParseInsight(k); err != nil {
				t.Errorf("Insights file key: %v", err)
			}
			insightKeys = append(insightKeys, k)
			insightRecs = append(insightRecs, recs...)
		default:
			if _, err := layout.ParseLog(k); err != nil {
				t.Errorf("log file key: %v", err)
			}
			logRecs = append(logRecs, recs...)
		}
	}
	if len(insightRecs) != 1 || !strings.Contains(insightRecs[0], `"insightType":"ApiCallRateInsight"`) {
		t.Errorf("Insights files hold %v, want the ApiCallRateInsight record only", insightRecs)
	}
	if len(logRecs) != 1 || !strings.Contains(logRecs[0], mgmt[0]) {
		t.Errorf("log files hold %v, want the management event only", logRecs)
	}
	if len(digests) == 0 {
		t.Fatal("no digest written")
	}
	for k, d := range digests {
		if bytes.Contains(d, []byte("CloudTrail-Insight")) {
			t.Errorf("digest %s lists an Insights file: %s", k, d)
		}
	}

	files, _ = f.objects("plain")
	for k, recs := range files {
		if strings.Contains(k, "CloudTrail-Insight") || len(recs) != 1 || !strings.Contains(recs[0], mgmt[0]) {
			t.Errorf("trail without Insights: %s holds %v", k, recs)
		}
	}

	files, _ = f.objects("agg")
	var aggRecs []string
	for k, recs := range files {
		if !strings.Contains(k, "/CloudTrail/") {
			t.Errorf("aggregating trail wrote %s", k)
		}
		aggRecs = append(aggRecs, recs...)
	}
	if len(aggRecs) != 2 || !strings.Contains(strings.Join(aggRecs, "\n"), `"eventId":"22222222-0000-5000-8000-000000000001"`) ||
		strings.Contains(strings.Join(aggRecs, "\n"), "000000000002") {
		t.Errorf("aggregating trail's log files hold %v, want the management event and the API_ACTIVITY record", aggRecs)
	}
}
