package aggregate

import (
	"bytes"
	"cmp"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// MaxStatistics is how many values a detail dimension lists at most: the
// most frequent, ties by name.
const MaxStatistics = 10

// idNamespace is the namespace of the name-based (version 5) UUIDs that
// serve as aggregated events' eventId.
var idNamespace = [16]byte{0x6f, 0x70, 0x65, 0x6e, 0x74, 0x72, 0x61, 0x69, 0x6c, 0x2d, 0x61, 0x67, 0x67, 0x72, 0x65, 0x67}

// EventID returns the eventId of the record of one window and group: a
// version 5 UUID of the window's identity, so that a replay names it
// again.
func EventID(account, region, source, template, primary string, windowStart time.Time) string {
	h := sha1.New()
	h.Write(idNamespace[:])
	for _, s := range []string{account, region, source, template, primary, windowStart.UTC().Format(time.RFC3339)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// records builds the records of the given windows, in a fixed order.
func (s *state) records(windows []int64) ([]*event.Record, error) {
	slices.Sort(windows)
	var out []*event.Record
	for _, ws := range windows {
		w := s.open[ws]
		keys := make([]groupKey, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b groupKey) int {
			return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.region, b.region), cmp.Compare(a.source, b.source),
				cmp.Compare(a.template, b.template), cmp.Compare(a.primary, b.primary))
		})
		for _, k := range keys {
			raw := Build(k.account, k.region, k.source, k.template, k.primary, time.UnixMilli(ws), w[k].n, w[k].dims)
			rec, err := event.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("aggregated event does not parse: %w", err)
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// Build returns the JSON of one aggregated event: the group's primary
// value with its count n, and each of the template's detail dimensions
// that has values in dims (dimension → value → count).
func Build(account, region, source, template, primary string, windowStart time.Time, n int64, dims map[string]map[string]int64) []byte {
	start := windowStart.UTC()
	var b bytes.Buffer
	b.WriteString(`{"eventVersion":"1.0","accountId":`)
	str(&b, account)
	b.WriteString(`,"eventId":`)
	str(&b, EventID(account, region, source, template, primary, start))
	b.WriteString(`,"eventCategory":"Aggregated","eventType":"AwsAggregatedEvent","awsRegion":`)
	str(&b, region)
	b.WriteString(`,"eventSource":`)
	str(&b, source)
	b.WriteString(`,"timeWindow":{"windowStart":"`)
	b.WriteString(start.Format(time.RFC3339))
	b.WriteString(`","windowEnd":"`)
	b.WriteString(start.Add(Window).Format(time.RFC3339))
	b.WriteString(`","windowSize":"PT5M"},"summary":{"primaryDimension":`)
	td := templateDims[template]
	dimension(&b, td.primary, []stat{{primary, n}})
	b.WriteString(`,"details":[`)
	first := true
	for _, d := range td.details {
		m := dims[d]
		if len(m) == 0 {
			continue
		}
		stats := make([]stat, 0, len(m))
		for name, c := range m {
			stats = append(stats, stat{name, c})
		}
		slices.SortFunc(stats, func(a, b stat) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
		if len(stats) > MaxStatistics {
			stats = stats[:MaxStatistics]
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		dimension(&b, d, stats)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

type stat struct {
	name string
	n    int64
}

func dimension(b *bytes.Buffer, dim string, stats []stat) {
	b.WriteString(`{"dimension":`)
	str(b, dim)
	b.WriteString(`,"statistics":[`)
	for i, s := range stats {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":`)
		str(b, s.name)
		b.WriteString(`,"value":`)
		b.WriteString(strconv.FormatInt(s.n, 10))
		b.WriteByte('}')
	}
	b.WriteString(`],"aggregationType":"Count"}`)
}

// str writes s as a JSON string, escaping only what JSON requires (as
// CloudTrail writes records).
func str(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}
