package middleware

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzAmend checks that amend, given any JSON object, sets the members it
// is asked to (merging objects) and keeps every other member as it was;
// given anything else it returns its input.
func FuzzAmend(f *testing.F) {
	f.Add([]byte(`{"eventVersion":"1.09","errorCode":"Found","requestParameters":{"a":"}{,\"["},"recipientAccountId":"1"}`))
	f.Add([]byte(`{"a":[1,{"b":"]"}],"c":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"additionalEventData":{"outcome":"unknown"}}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		var before map[string]any
		if json.Unmarshal(rec, &before) != nil || before == nil || !json.Valid(rec) || !bytes.HasPrefix(rec, []byte("{")) {
			return
		}
		out := amend(rec, map[string]any{"recipientAccountId": account,
			"additionalEventData": map[string]any{"bytesTransferredIn": 3}})
		if bytes.Equal(out, rec) {
			return // not compact, as capture.Record writes: left alone
		}
		var after map[string]any
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("amend(%s) = %s: %v", rec, out, err)
		}
		if after["recipientAccountId"] != account {
			t.Errorf("recipientAccountId not set: %s", out)
		}
		ad, _ := after["additionalEventData"].(map[string]any)
		if ad["bytesTransferredIn"] != float64(3) {
			t.Errorf("additionalEventData not merged: %s", out)
		}
		if old, ok := before["additionalEventData"].(map[string]any); ok {
			for k, v := range old {
				if k != "bytesTransferredIn" && !reflect.DeepEqual(ad[k], v) {
					t.Errorf("additionalEventData.%s lost in the merge: %s", k, out)
				}
			}
		}
		for k, v := range before {
			if k == "recipientAccountId" || k == "additionalEventData" {
				continue
			}
			if !reflect.DeepEqual(after[k], v) {
				t.Errorf("member %s changed: %v → %v", k, v, after[k])
			}
		}
	})
}
