package trail

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
)

// EventSelector is a basic event selector, as PutEventSelectors takes it.
type EventSelector struct {
	ReadWriteType                 string         `json:"ReadWriteType,omitempty"` // ReadOnly, WriteOnly or All (default)
	IncludeManagementEvents       *bool          `json:"IncludeManagementEvents,omitempty"`
	DataResources                 []DataResource `json:"DataResources"`
	ExcludeManagementEventSources []string       `json:"ExcludeManagementEventSources,omitempty"`
}

// DataResource selects data events of one resource type.
type DataResource struct {
	Type   string   `json:"Type"`
	Values []string `json:"Values"`
}

// AdvancedEventSelector is one advanced selector: an event matches when
// every field selector does.
type AdvancedEventSelector struct {
	Name           string                  `json:"Name,omitempty"`
	FieldSelectors []AdvancedFieldSelector `json:"FieldSelectors"`
}

// AdvancedFieldSelector is the condition on one field; every operator
// given must hold.
type AdvancedFieldSelector struct {
	Field         string   `json:"Field"`
	Equals        []string `json:"Equals,omitempty"`
	StartsWith    []string `json:"StartsWith,omitempty"`
	EndsWith      []string `json:"EndsWith,omitempty"`
	NotEquals     []string `json:"NotEquals,omitempty"`
	NotStartsWith []string `json:"NotStartsWith,omitempty"`
	NotEndsWith   []string `json:"NotEndsWith,omitempty"`
}

// Selectors are a trail's event selectors: basic or advanced, never both.
// The zero value is CloudTrail's default for a new trail: all management
// events, no data events.
type Selectors struct {
	Basic    []EventSelector
	Advanced []AdvancedEventSelector
}

// Quotas on selectors, as CloudTrail sets them.
const (
	MaxSelectors      = 5
	MaxDataResources  = 250
	MaxAdvancedValues = 500
)

// SelectorError is what PutEventSelectors answers as
// InvalidEventSelectorsException.
type SelectorError struct{ msg string }

func (e *SelectorError) Error() string { return e.msg }

func selErr(format string, args ...any) error { return &SelectorError{fmt.Sprintf(format, args...)} }

var (
	fieldRE        = regexp.MustCompile(`^[\w|\d|\.|_]+$`)
	excludeSources = map[string]bool{"kms.amazonaws.com": true, "rdsdata.amazonaws.com": true}
	// advancedFields are the fields advanced selectors may name; the
	// value says whether only Equals is allowed.
	advancedFields = map[string]bool{
		"eventCategory": true, "readOnly": true, "resources.type": true,
		"eventSource": false, "eventName": false, "eventType": false, "resources.ARN": false,
		"sessionCredentialFromConsole": false, "userIdentity.arn": false, "errorCode": false, "vpcEndpointId": false,
	}
	dataTypes = map[string]string{ // data resource type → the ARN prefix that selects all
		"AWS::S3::Object":         "arn:aws:s3",
		"AWS::Lambda::Function":   "arn:aws:lambda",
		"AWS::DynamoDB::Table":    "arn:aws:dynamodb",
		"AWS::S3Outposts::Object": "arn:aws:s3-outposts",
	}
)

// Validate checks the selectors against CloudTrail's rules and quotas.
func (s Selectors) Validate() error {
	if len(s.Basic) > 0 && len(s.Advanced) > 0 {
		return selErr("You cannot apply both event selectors and advanced event selectors to a trail.")
	}
	if len(s.Basic) > MaxSelectors || len(s.Advanced) > MaxSelectors {
		return selErr("A trail can have at most %d event selectors.", MaxSelectors)
	}
	resources := 0
	for i, es := range s.Basic {
		switch es.ReadWriteType {
		case "", "ReadOnly", "WriteOnly", "All":
		default:
			return selErr("EventSelectors[%d].ReadWriteType %q is not valid; use ReadOnly, WriteOnly or All.", i, es.ReadWriteType)
		}
		for _, src := range es.ExcludeManagementEventSources {
			if !excludeSources[src] {
				return selErr("ExcludeManagementEventSources may contain only kms.amazonaws.com and rdsdata.amazonaws.com; got %q.", src)
			}
		}
		for j, dr := range es.DataResources {
			all, ok := dataTypes[dr.Type]
			if !ok {
				return selErr("EventSelectors[%d].DataResources[%d].Type %q is not a supported data resource type.", i, j, dr.Type)
			}
			for _, v := range dr.Values {
				if v != all && !strings.HasPrefix(v, all+":") {
					return selErr("Value %s for data resource type %s is not valid: it must be %s or an ARN beginning %s:.", v, dr.Type, all, all)
				}
			}
			resources += len(dr.Values)
		}
	}
	if resources > MaxDataResources {
		return selErr("A trail can have at most %d data resources; these selectors have %d.", MaxDataResources, resources)
	}
	values := 0
	for i, as := range s.Advanced {
		if len(as.Name) > 1000 {
			return selErr("AdvancedEventSelectors[%d].Name is longer than 1000 characters.", i)
		}
		if len(as.FieldSelectors) == 0 {
			return selErr("AdvancedEventSelectors[%d] has no FieldSelectors.", i)
		}
		hasCategory := false
		for _, fs := range as.FieldSelectors {
			if len(fs.Field) == 0 || len(fs.Field) > 1000 || !fieldRE.MatchString(fs.Field) {
				return selErr("Field %q is not valid.", fs.Field)
			}
			equalsOnly, ok := advancedFields[fs.Field]
			if !ok {
				return selErr("Field %s is not a supported field for advanced event selectors.", fs.Field)
			}
			if fs.Field == "eventCategory" {
				hasCategory = true
			}
			ops := [][]string{fs.Equals, fs.StartsWith, fs.EndsWith, fs.NotEquals, fs.NotStartsWith, fs.NotEndsWith}
			n := 0
			for k, op := range ops {
				if op == nil {
					continue
				}
				if len(op) == 0 {
					return selErr("Operators for field %s must each have at least one value.", fs.Field)
				}
				if equalsOnly && k != 0 {
					return selErr("Field %s supports only the Equals operator.", fs.Field)
				}
				for _, v := range op {
					if len(v) < 1 || len(v) > 2048 {
						return selErr("Values for field %s must be 1 to 2048 characters long.", fs.Field)
					}
				}
				n += len(op)
			}
			if n == 0 {
				return selErr("Field %s has no operator.", fs.Field)
			}
			values += n
		}
		if !hasCategory {
			return selErr("AdvancedEventSelectors[%d] must have a field selector for eventCategory.", i)
		}
	}
	if values > MaxAdvancedValues {
		return selErr("A trail can have at most %d values across all advanced event selector conditions; these have %d.", MaxAdvancedValues, values)
	}
	return nil
}

// Match reports whether the trail's selectors select rec.
func (s Selectors) Match(rec *event.Record) bool {
	switch {
	case len(s.Advanced) > 0:
		for _, as := range s.Advanced {
			if as.match(rec) {
				return true
			}
		}
		return false
	case len(s.Basic) > 0:
		for _, es := range s.Basic {
			if es.match(rec) {
				return true
			}
		}
		return false
	default:
		return rec.ManagementEvent && rec.EventCategory == event.CategoryManagement
	}
}

func (es EventSelector) match(rec *event.Record) bool {
	switch es.ReadWriteType {
	case "ReadOnly":
		if !rec.ReadOnly {
			return false
		}
	case "WriteOnly":
		if rec.ReadOnly {
			return false
		}
	}
	if rec.EventCategory == event.CategoryManagement {
		if es.IncludeManagementEvents != nil && !*es.IncludeManagementEvents {
			return false
		}
		for _, src := range es.ExcludeManagementEventSources {
			if rec.EventSource == src {
				return false
			}
		}
		return true
	}
	if rec.EventCategory != event.CategoryData {
		return false
	}
	for _, dr := range es.DataResources {
		all := dataTypes[dr.Type]
		for _, r := range rec.Resources {
			if r.Type != dr.Type {
				continue
			}
			for _, v := range dr.Values {
				if v == all || strings.HasPrefix(r.Name, v) {
					return true
				}
			}
		}
	}
	return false
}

func (as AdvancedEventSelector) match(rec *event.Record) bool {
	for _, fs := range as.FieldSelectors {
		vals := fieldValues(rec, fs.Field)
		ok := false
		for _, v := range vals {
			if fs.holds(v) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// holds reports whether every operator given holds for v.
func (fs AdvancedFieldSelector) holds(v string) bool {
	any := func(vals []string, f func(string, string) bool) bool {
		for _, x := range vals {
			if f(v, x) {
				return true
			}
		}
		return false
	}
	eq := func(a, b string) bool { return a == b }
	if fs.Equals != nil && !any(fs.Equals, eq) ||
		fs.StartsWith != nil && !any(fs.StartsWith, strings.HasPrefix) ||
		fs.EndsWith != nil && !any(fs.EndsWith, strings.HasSuffix) ||
		fs.NotEquals != nil && any(fs.NotEquals, eq) ||
		fs.NotStartsWith != nil && any(fs.NotStartsWith, strings.HasPrefix) ||
		fs.NotEndsWith != nil && any(fs.NotEndsWith, strings.HasSuffix) {
		return false
	}
	return true
}

// fieldValues gives the values of an advanced-selector field in rec;
// resources.* fields have one value per resource, and a missing field
// reads as "" so that Not operators can hold for it.
func fieldValues(rec *event.Record, field string) []string {
	switch field {
	case "eventCategory":
		return []string{rec.EventCategory}
	case "eventSource":
		return []string{rec.EventSource}
	case "eventName":
		return []string{rec.EventName}
	case "eventType":
		return []string{rec.EventType}
	case "errorCode":
		return []string{rec.ErrorCode}
	case "readOnly":
		if rec.ReadOnly {
			return []string{"true"}
		}
		return []string{"false"}
	case "resources.type", "resources.ARN":
		var out []string
		for _, r := range rec.Resources {
			if field == "resources.type" {
				out = append(out, r.Type)
			} else {
				out = append(out, r.Name)
			}
		}
		if len(out) == 0 {
			out = []string{""}
		}
		return out
	case "userIdentity.arn":
		return []string{fastjson.GetString(rec.Raw, "userIdentity", "arn")}
	case "sessionCredentialFromConsole":
		v := fastjson.GetString(rec.Raw, "sessionCredentialFromConsole")
		if v == "" && fastjson.GetBool(rec.Raw, "sessionCredentialFromConsole") {
			v = "true"
		}
		return []string{v}
	case "vpcEndpointId":
		return []string{fastjson.GetString(rec.Raw, "vpcEndpointId")}
	}
	return []string{""}
}
