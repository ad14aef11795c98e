package event_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

func TestParseLenientRepairs(t *testing.T) {
	opts := event.LenientOptions{Time: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), Account: "111122223333", Region: "eu-west-1"}
	tests := []struct {
		name, in string
		check    func(t *testing.T, r *event.Record)
	}{
		{"space time", `{"eventVersion":"1.08","eventTime":"2022-12-11 19:42:55.5","eventID":"e1","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","recipientAccountId":"123456789012"}`,
			func(t *testing.T, r *event.Record) {
				if want := time.Date(2022, 12, 11, 19, 42, 55, 5e8, time.UTC); !r.EventTime.Equal(want) {
					t.Errorf("EventTime = %v, want %v", r.EventTime, want)
				}
			}},
		{"redacted time and no version or id", `{"eventTime":"redacted","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","recipientAccountId":"123456789012"}`,
			func(t *testing.T, r *event.Record) {
				if !r.EventTime.Equal(opts.Time) || r.EventVersion != event.UnknownVersion || len(r.EventID) != 36 {
					t.Errorf("got time %v version %q id %q", r.EventTime, r.EventVersion, r.EventID)
				}
			}},
		{"bad accounts", `{"eventVersion":"1.08","eventTime":"2022-12-11T19:42:55Z","eventID":"e1","eventSource":"s","eventName":"n","awsRegion":"US-EAST-1","userIdentity":{"accountId":"12948575929274"},"recipientAccountId":"123456789"}`,
			func(t *testing.T, r *event.Record) {
				if r.AccountID != opts.Account || r.AWSRegion != "us-east-1" {
					t.Errorf("account %q region %q", r.AccountID, r.AWSRegion)
				}
			}},
		{"nulls and duplicates", `{"eventVersion":"1.08","eventTime":"2022-12-11T19:42:55Z","eventID":"e1","eventSource":"s","eventName":"n","awsRegion":"us-east-1","recipientAccountId":"123456789012","additionalEventData":null,"resources":null,"x":1,"x":2}`,
			func(t *testing.T, r *event.Record) {
				if bytes.Contains(r.Raw, []byte(`"x":2`)) || !bytes.Contains(r.Raw, []byte(`"x":1`)) {
					t.Errorf("raw %s", r.Raw)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := event.Parse([]byte(tt.in)); err == nil {
				t.Fatal("strict Parse accepts the input; the test is meaningless")
			}
			r, reps, err := event.ParseLenient([]byte(tt.in), opts)
			if err != nil {
				t.Fatalf("ParseLenient: %v (repairs %v)", err, reps)
			}
			if len(reps) == 0 {
				t.Fatal("no repairs reported")
			}
			// The repaired record passes the strict parser and records what changed.
			again, err := event.Parse(r.Raw)
			if err != nil {
				t.Fatalf("Parse(repaired) = %v\n%s", err, r.Raw)
			}
			if again.EventID != r.EventID {
				t.Errorf("eventID changed on reparse")
			}
			var m map[string]json.RawMessage
			json.Unmarshal(r.Raw, &m)
			if _, ok := m[event.RepairsMember]; !ok {
				t.Errorf("repaired record lacks %s: %s", event.RepairsMember, r.Raw)
			}
			// Deterministic: the same input gives the same record.
			r2, _, _ := event.ParseLenient([]byte(tt.in), opts)
			if !bytes.Equal(r.Raw, r2.Raw) {
				t.Errorf("not deterministic")
			}
			tt.check(t, r)
		})
	}
}

func TestParseLenientLeavesValidAndSyntax(t *testing.T) {
	good := `{"eventVersion":"1.08","eventTime":"2022-12-11T19:42:55Z","eventID":"e1","eventSource":"s","eventName":"n","awsRegion":"us-east-1","recipientAccountId":"123456789012"}`
	r, reps, err := event.ParseLenient([]byte(good), event.LenientOptions{})
	if err != nil || reps != nil || string(r.Raw) != good {
		t.Fatalf("valid record: %v %v %s", err, reps, r.Raw)
	}
	_, _, err = event.ParseLenient([]byte(`{"eventVersion":`), event.LenientOptions{})
	var se *event.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("syntax error: got %v", err)
	}
}

// TestParseLenientPanther: every panther-analysis record that the strict
// parser rejects is repaired when a time for records without one is given
// (an importer gives the day of the file's date folder); without it, the
// records that have no readable eventTime are rejected with ErrNoEventTime,
// never given an invented time, and every other record is still repaired.
func TestParseLenientPanther(t *testing.T) {
	f, err := os.Open("../../../shared/testdata/public/panther-analysis/panther_cloudtrail_rule_test_records.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	day := event.LenientOptions{Time: time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)}
	strictFail, noTime, n := 0, 0, 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		n++
		if _, err := event.Parse([]byte(line)); err != nil {
			strictFail++
		}
		if _, reps, err := event.ParseLenient([]byte(line), day); err != nil {
			t.Errorf("record %d: %v (repairs %v)", n, err, reps)
		}
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		s, _ := m["eventTime"].(string)
		_, perr := time.Parse(time.RFC3339, s)
		_, _, err := event.ParseLenient([]byte(line), event.LenientOptions{})
		switch {
		case perr != nil && !strings.Contains(s, " "):
			noTime++
			if !errors.Is(err, event.ErrNoEventTime) {
				t.Errorf("record %d (eventTime %q) without a time: err %v, want ErrNoEventTime", n, s, err)
			}
		case err != nil:
			t.Errorf("record %d: %v", n, err)
		}
	}
	if n != 464 || strictFail == 0 || noTime == 0 {
		t.Fatalf("read %d records, %d failing strictly, %d without a time; want 464 and some of each", n, strictFail, noTime)
	}
}

// TestParseLenientEventTime: a record without a readable eventTime takes
// its time from @timestamp (records exported through Logstash or
// Elasticsearch), then from LenientOptions.Time (the day of the file's
// date folder), and without either is rejected, never timed at the
// instant of the import. Every repair is recorded on the record.
func TestParseLenientEventTime(t *testing.T) {
	const rest = `"eventVersion":"1.08","eventID":"e1","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","recipientAccountId":"123456789012"`
	day := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		opts     event.LenientOptions
		want     time.Time // zero: rejected with ErrNoEventTime
	}{
		{"logstash", `{"@timestamp":"2023-02-03T04:05:06.789Z","@version":"1",` + rest + `}`, event.LenientOptions{Time: day},
			time.Date(2023, 2, 3, 4, 5, 6, 789e6, time.UTC)},
		{"unreadable eventTime, @timestamp", `{"eventTime":"redacted","@timestamp":"2023-02-03 04:05:06",` + rest + `}`, event.LenientOptions{},
			time.Date(2023, 2, 3, 4, 5, 6, 0, time.UTC)},
		{"date folder", `{` + rest + `}`, event.LenientOptions{Time: day}, day},
		{"unreadable @timestamp, date folder", `{"@timestamp":"yesterday",` + rest + `}`, event.LenientOptions{Time: day}, day},
		{"nothing", `{` + rest + `}`, event.LenientOptions{}, time.Time{}},
		{"unreadable both", `{"eventTime":"redacted","@timestamp":17,` + rest + `}`, event.LenientOptions{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, reps, err := event.ParseLenient([]byte(tt.in), tt.opts)
			if tt.want.IsZero() {
				if !errors.Is(err, event.ErrNoEventTime) || !strings.HasPrefix(err.Error(), "eventTime: ") {
					t.Fatalf("got %v, %v; want ErrNoEventTime", r, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !r.EventTime.Equal(tt.want) {
				t.Errorf("EventTime = %v, want %v", r.EventTime, tt.want)
			}
			if len(reps) == 0 || reps[0].Field != "eventTime" || !bytes.Contains(r.Raw, []byte(`"opentrailRepairs":[{"field":"eventTime"`)) {
				t.Errorf("repair not recorded: %v %s", reps, r.Raw)
			}
			if strings.Contains(tt.in, "@timestamp") && !bytes.Contains(r.Raw, []byte(`"@timestamp":`)) {
				t.Errorf("@timestamp dropped: %s", r.Raw)
			}
		})
	}
}

// TestParseLenientNotRecord: an object with none of eventTime, @timestamp,
// eventName and eventSource is not made into an "unknown" event.
func TestParseLenientNotRecord(t *testing.T) {
	opts := event.LenientOptions{Time: time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), Account: "123456789012", Region: "us-east-1"}
	for _, in := range []string{`{}`, `{"foo":"bar","n":1}`, `{"awsRegion":"us-east-1","eventID":"x","userIdentity":{"eventName":"nested"}}`} {
		if r, _, err := event.ParseLenient([]byte(in), opts); !errors.Is(err, event.ErrNotRecord) {
			t.Errorf("%s: got %v, %v; want ErrNotRecord", in, r, err)
		}
	}
	// One identifying member is enough for the record to be repaired.
	for _, in := range []string{`{"eventName":"GetObject"}`, `{"eventSource":"s3.amazonaws.com"}`, `{"@timestamp":"2023-02-03T04:05:06Z"}`} {
		if _, _, err := event.ParseLenient([]byte(in), opts); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// TestSameEvent: records are the same event when their compact bytes are
// equal; channel events also when only metadata.ingestionTime differs.
func TestSameEvent(t *testing.T) {
	parse := func(s string) *event.Record {
		t.Helper()
		r, err := event.Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const plain = `{"eventVersion":"1.08","eventTime":"2024-05-06T00:00:00Z","eventID":"e1","eventSource":"s","eventName":"n","awsRegion":"us-east-1","recipientAccountId":"123456789012"%s}`
	a := parse(fmt.Sprintf(plain, ""))
	if !event.SameEvent(a.Raw, parse(strings.ReplaceAll(fmt.Sprintf(plain, ""), ",", ", \n"))) {
		t.Error("whitespace made records differ")
	}
	if event.SameEvent(a.Raw, parse(fmt.Sprintf(plain, `,"x":1`))) {
		t.Error("an extra member was the same event")
	}
	reordered := `{"recipientAccountId":"123456789012","awsRegion":"us-east-1","eventName":"n","eventSource":"s","eventID":"e1","eventTime":"2024-05-06T00:00:00Z","eventVersion":"1.08"}`
	if !event.SameEvent(a.Raw, parse(reordered)) {
		t.Error("the same members in another order made records differ")
	}
	if event.SameEvent(parse(fmt.Sprintf(plain, `,"x":1`)).Raw, parse(fmt.Sprintf(plain, `,"x":1.0`))) {
		t.Error("numbers written differently were the same value")
	}
	if event.SameEvent(parse(fmt.Sprintf(plain, `,"x":{"a":1,"b":[1,2]}`)).Raw, parse(fmt.Sprintf(plain, `,"x":{"b":[2,1],"a":1}`))) {
		t.Error("arrays in another order were the same value")
	}
	const lake = `{"eventVersion":"1.09","eventTime":"2024-05-06T00:00:00Z","eventID":"e1","eventSource":"s","eventName":"n","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventCategory":"%s","UID":"u","metadata":{"ingestionTime":"%s","channelARN":"c"}}`
	l1 := parse(fmt.Sprintf(lake, "ActivityAuditLog", "2024-05-06T00:00:01Z"))
	if !event.SameEvent(l1.Raw, parse(fmt.Sprintf(lake, "ActivityAuditLog", "2024-05-07T09:00:00Z"))) {
		t.Error("a channel event retried later was another event")
	}
	if event.SameEvent(parse(fmt.Sprintf(lake, "Management", "2024-05-06T00:00:01Z")).Raw, parse(fmt.Sprintf(lake, "Management", "2024-05-07T09:00:00Z"))) {
		t.Error("metadata.ingestionTime was ignored outside channel events")
	}
	if event.SameEvent(l1.Raw, parse(strings.Replace(fmt.Sprintf(lake, "ActivityAuditLog", "2024-05-07T09:00:00Z"), `"UID":"u"`, `"UID":"v"`, 1))) {
		t.Error("a channel event with other content was the same event")
	}
	const lakeReordered = `{"metadata":{"channelARN":"c","ingestionTime":"2024-05-08T00:00:00Z"},"UID":"u","eventCategory":"ActivityAuditLog","recipientAccountId":"123456789012","awsRegion":"us-east-1","eventName":"n","eventSource":"s","eventID":"e1","eventTime":"2024-05-06T00:00:00Z","eventVersion":"1.09"}`
	if !event.SameEvent(l1.Raw, parse(lakeReordered)) {
		t.Error("a channel event retried later with its members in another order was another event")
	}
}
