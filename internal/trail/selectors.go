package trail

import (
	"fmt"
	"regexp"
	"slices"
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

// Quotas on selectors, as CloudTrail sets them: at most 5 basic
// selectors, 250 data resource values across them, and 500 values across
// every condition of a trail's advanced selectors.
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
	resourceTypeRE = regexp.MustCompile(`^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$`)
	excludeSources = map[string]bool{"kms.amazonaws.com": true, "rdsdata.amazonaws.com": true}
	dataTypes      = map[string]string{ // data resource type → the ARN prefix that selects all
		"AWS::S3::Object":         "arn:aws:s3",
		"AWS::Lambda::Function":   "arn:aws:lambda",
		"AWS::DynamoDB::Table":    "arn:aws:dynamodb",
		"AWS::S3Outposts::Object": "arn:aws:s3-outposts",
	}
)

// fieldRule is what one advanced-selector field accepts.
type fieldRule struct {
	equalsOnly    bool     // only the Equals operator
	notEqualsOnly bool     // only the NotEquals operator
	single        bool     // exactly one value
	values        []string // the values allowed; nil = any
	pattern       *regexp.Regexp
	required      bool
}

// Advanced-selector event categories a trail accepts. (Event data stores
// also take Insight, ConfigurationItem, Evidence and ActivityAuditLog.)
const (
	categoryManagement      = "Management"
	categoryData            = "Data"
	categoryNetworkActivity = "NetworkActivity"
)

var (
	ruleCategory = fieldRule{equalsOnly: true, single: true, required: true}
	ruleReadOnly = fieldRule{equalsOnly: true, single: true, values: []string{"true", "false"}}
	ruleAny      = fieldRule{}
	// trailFields are the fields a trail's advanced selectors may name,
	// by event category, as CloudTrail documents them for trails.
	trailFields = map[string]map[string]fieldRule{
		categoryManagement: {
			"eventCategory": ruleCategory,
			"readOnly":      ruleReadOnly,
			"eventSource":   {notEqualsOnly: true, values: []string{"kms.amazonaws.com", "rdsdata.amazonaws.com"}},
		},
		categoryData: {
			"eventCategory":                ruleCategory,
			"readOnly":                     ruleReadOnly,
			"resources.type":               {equalsOnly: true, single: true, pattern: resourceTypeRE, required: true},
			"resources.ARN":                ruleAny,
			"eventName":                    ruleAny,
			"eventSource":                  ruleAny,
			"eventType":                    ruleAny,
			"sessionCredentialFromConsole": ruleAny,
			"userIdentity.arn":             ruleAny,
		},
		categoryNetworkActivity: {
			"eventCategory": ruleCategory,
			"eventSource":   {equalsOnly: true, single: true, required: true},
			"eventName":     ruleAny,
			"errorCode":     {equalsOnly: true, single: true, values: []string{"VpceAccessDenied"}},
			"vpcEndpointId": ruleAny,
		},
	}
	// lakeOnlyCategories are eventCategory values only event data stores
	// take.
	lakeOnlyCategories = map[string]bool{"Insight": true, "ConfigurationItem": true, "Evidence": true, "ActivityAuditLog": true}
)

// Validate checks the selectors against CloudTrail's rules and quotas for
// trails.
func (s Selectors) Validate() error {
	if len(s.Basic) > 0 && len(s.Advanced) > 0 {
		return selErr("You cannot apply both event selectors and advanced event selectors to a trail.")
	}
	if len(s.Basic) > MaxSelectors {
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
		n, err := as.validate(i)
		if err != nil {
			return err
		}
		values += n
	}
	if values > MaxAdvancedValues {
		return selErr("A trail can have at most %d values across all advanced event selector conditions; these have %d.", MaxAdvancedValues, values)
	}
	return nil
}

// validate checks advanced selector i and returns how many values its
// conditions hold.
func (as AdvancedEventSelector) validate(i int) (int, error) {
	if len(as.Name) > 1000 {
		return 0, selErr("AdvancedEventSelectors[%d].Name is longer than 1000 characters.", i)
	}
	if len(as.FieldSelectors) == 0 {
		return 0, selErr("AdvancedEventSelectors[%d] has no FieldSelectors.", i)
	}
	category := ""
	seen := map[string]bool{}
	for _, fs := range as.FieldSelectors {
		if len(fs.Field) == 0 || len(fs.Field) > 1000 || !fieldRE.MatchString(fs.Field) {
			return 0, selErr("AdvancedEventSelectors[%d]: Field %q is not valid.", i, fs.Field)
		}
		if seen[fs.Field] {
			return 0, selErr("AdvancedEventSelectors[%d] has more than one field selector for %s; put every condition on a field in one field selector.", i, fs.Field)
		}
		seen[fs.Field] = true
		if fs.Field == "eventCategory" {
			if err := ruleCategory.check(i, fs); err != nil {
				return 0, err
			}
			category = fs.Equals[0]
		}
	}
	if category == "" {
		return 0, selErr("AdvancedEventSelectors[%d] must have a field selector for eventCategory (Equals Management, Data or NetworkActivity).", i)
	}
	rules, ok := trailFields[category]
	switch {
	case !ok && lakeOnlyCategories[category]:
		return 0, selErr("AdvancedEventSelectors[%d]: eventCategory %s is only for event data stores; a trail takes Management, Data or NetworkActivity.", i, category)
	case !ok:
		return 0, selErr("AdvancedEventSelectors[%d]: eventCategory %q is not valid; use Management, Data or NetworkActivity.", i, truncate(category, 64))
	}
	n := 0
	for _, fs := range as.FieldSelectors {
		rule, ok := rules[fs.Field]
		if !ok {
			return 0, selErr("AdvancedEventSelectors[%d]: Field %s is not supported for %s events on a trail; the fields are %s.", i, fs.Field, category, fieldList(rules))
		}
		if err := rule.check(i, fs); err != nil {
			return 0, err
		}
		n += len(fs.Equals) + len(fs.StartsWith) + len(fs.EndsWith) + len(fs.NotEquals) + len(fs.NotStartsWith) + len(fs.NotEndsWith)
	}
	for _, f := range sortedKeys(rules) {
		if rules[f].required && !seen[f] {
			return 0, selErr("AdvancedEventSelectors[%d]: %s events need a field selector for %s.", i, category, f)
		}
	}
	return n, nil
}

// check applies the rule to field selector fs of advanced selector i.
func (r fieldRule) check(i int, fs AdvancedFieldSelector) error {
	ops := []struct {
		name string
		vals []string
	}{
		{"Equals", fs.Equals}, {"StartsWith", fs.StartsWith}, {"EndsWith", fs.EndsWith},
		{"NotEquals", fs.NotEquals}, {"NotStartsWith", fs.NotStartsWith}, {"NotEndsWith", fs.NotEndsWith},
	}
	n := 0
	for _, op := range ops {
		if op.vals == nil {
			continue
		}
		if len(op.vals) == 0 {
			return selErr("AdvancedEventSelectors[%d]: %s of field %s must have at least one value.", i, op.name, fs.Field)
		}
		if r.equalsOnly && op.name != "Equals" {
			return selErr("AdvancedEventSelectors[%d]: field %s supports only the Equals operator; got %s.", i, fs.Field, op.name)
		}
		if r.notEqualsOnly && op.name != "NotEquals" {
			return selErr("AdvancedEventSelectors[%d]: field %s supports only the NotEquals operator; got %s.", i, fs.Field, op.name)
		}
		for _, v := range op.vals {
			if len(v) < 1 || len(v) > 2048 {
				return selErr("AdvancedEventSelectors[%d]: values for field %s must be 1 to 2048 characters long.", i, fs.Field)
			}
			if r.values != nil && !slices.Contains(r.values, v) {
				return selErr("AdvancedEventSelectors[%d]: %q is not a valid value for field %s; use %s.", i, truncate(v, 64), fs.Field, strings.Join(r.values, " or "))
			}
			if r.pattern != nil && !r.pattern.MatchString(v) {
				return selErr("AdvancedEventSelectors[%d]: %q is not a resource type; %s takes a type such as AWS::S3::Object.", i, truncate(v, 64), fs.Field)
			}
		}
		n += len(op.vals)
	}
	if n == 0 {
		return selErr("AdvancedEventSelectors[%d]: field %s has no operator.", i, fs.Field)
	}
	if r.single && n != 1 {
		return selErr("AdvancedEventSelectors[%d]: field %s takes exactly one value; got %d.", i, fs.Field, n)
	}
	return nil
}

func sortedKeys(m map[string]fieldRule) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func fieldList(m map[string]fieldRule) string {
	return strings.Join(sortedKeys(m), ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
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
