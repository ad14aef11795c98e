package insights

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strconv"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// recordVersion is the eventVersion of the records made here (the
// version that carries insightDetails.sourceEventCategory).
const recordVersion = "1.09"

// uuidOf makes a UUID (version 5 layout) from a hash of parts, so that the
// same insight always gets the same ids.
func uuidOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var b [16]byte
	copy(b[:], h.Sum(nil))
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// sharedID is the sharedEventID of the insight of series k starting at
// minute start.
func sharedID(k key, start int64) string {
	return uuidOf("insight", k.Account, k.Region, k.Type, k.Category, k.Source, k.Name, k.ErrorCode, strconv.FormatInt(start, 10))
}

// num formats an average the way CloudTrail prints numbers: no exponent,
// at most ten decimals, no trailing zeros.
func num(v float64) string {
	v = math.Round(v*1e10) / 1e10
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func minuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }

// attribution is one attributions element.
type attribution struct {
	kind              int
	insight, baseline []valueAvg
}

// insightRecord builds one Insights record in CloudTrail's field order.
// For Start, insight is the first minute's rate and duration 1... the
// caller passes what the record states.
func insightRecord(k key, tr *transition, attrs []attribution) (*event.Record, error) {
	a := &tr.a
	shared := sharedID(k, a.Start)
	dur := a.Last - a.Start + 1
	avg, at := a.Sum/float64(dur), minuteTime(a.Last+1)
	if tr.state == "Start" {
		dur, avg, at = 1, a.First, minuteTime(a.Start)
	}
	b := make([]byte, 0, 1024)
	str := func(name, v string) {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
		b = strconv.AppendQuote(b, v)
	}
	b = append(b, '{')
	str("eventVersion", recordVersion)
	b = append(b, ',')
	str("eventTime", at.Format("2006-01-02T15:04:05Z"))
	b = append(b, ',')
	str("awsRegion", k.Region)
	b = append(b, ',')
	str("eventID", uuidOf(shared, tr.state))
	b = append(b, ',')
	str("eventType", "AwsCloudTrailInsight")
	b = append(b, ',')
	str("recipientAccountId", k.Account)
	b = append(b, ',')
	str("sharedEventID", shared)
	b = append(b, `,"insightDetails":{`...)
	str("state", tr.state)
	b = append(b, ',')
	str("eventSource", k.Source)
	b = append(b, ',')
	str("eventName", k.Name)
	b = append(b, ',')
	str("insightType", k.Type)
	if k.Type == TypeErrorRate {
		b = append(b, ',')
		str("errorCode", k.ErrorCode)
	}
	b = append(b, ',')
	str("sourceEventCategory", k.Category)
	b = append(b, `,"insightContext":{"statistics":{"baseline":{"average":`...)
	b = append(b, num(a.Baseline)...)
	b = append(b, `},"insight":{"average":`...)
	b = append(b, num(avg)...)
	b = append(b, `},"insightDuration":`...)
	b = strconv.AppendInt(b, dur, 10)
	b = append(b, `,"baselineDuration":`...)
	b = strconv.AppendInt(b, a.BaseMins, 10)
	b = append(b, `},"attributions":[`...)
	for i, at := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		str("attribute", attrNames[at.kind])
		for _, part := range []struct {
			name string
			vs   []valueAvg
		}{{"insight", at.insight}, {"baseline", at.baseline}} {
			b = append(b, `,"`...)
			b = append(b, part.name...)
			b = append(b, `":[`...)
			for j, v := range part.vs {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, '{')
				str("value", v.Value)
				b = append(b, `,"average":`...)
				b = append(b, num(v.Average)...)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `]}},"eventCategory":"Insight"}`...)
	return event.Parse(b)
}
