package console

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opentrail/opentrail/internal/cloudtrailwire"
	"github.com/opentrail/opentrail/internal/trail"
)

// Data resource types the simple form offers, and the value of each that
// selects every resource.
const (
	s3Object       = "AWS::S3::Object"
	lambdaFunction = "AWS::Lambda::Function"
	allS3          = "arn:aws:s3"
	allLambda      = "arn:aws:lambda"
	s3ARNPrefix    = "arn:aws:s3:::"
	kmsSource      = "kms.amazonaws.com"
	rdsDataSource  = "rdsdata.amazonaws.com"
)

// readWrite says which of read and write events a ReadWriteType selects.
func readWrite(rw string) string {
	switch rw {
	case "ReadOnly":
		return "read only"
	case "WriteOnly":
		return "write only"
	}
	return "read and write"
}

var excludedNames = map[string]string{kmsSource: "AWS KMS events", rdsDataSource: "Amazon RDS Data API events"}

// describeSelectors says in words what a trail's event selectors select,
// one line per selected kind of event, as CloudTrail's console summarises
// them: "Management events: read and write; excluding AWS KMS events",
// "Data events: S3 objects in bucket logs, write only".
func describeSelectors(basic []trail.EventSelector, adv []trail.AdvancedEventSelector) []string {
	if len(adv) > 0 {
		out := make([]string, 0, len(adv))
		for _, as := range adv {
			line := describeAdvanced(as)
			if as.Name != "" {
				line = fmt.Sprintf("%q — %s", as.Name, line)
			}
			out = append(out, line)
		}
		return out
	}
	if len(basic) == 0 {
		return []string{"Management events: read and write (CloudTrail's default)"}
	}
	var out []string
	for _, es := range basic {
		rw := readWrite(es.ReadWriteType)
		if es.IncludeManagementEvents == nil || *es.IncludeManagementEvents {
			line := "Management events: " + rw
			for _, src := range es.ExcludeManagementEventSources {
				line += "; excluding " + sourceName(src)
			}
			out = append(out, line)
		}
		for _, dr := range es.DataResources {
			out = append(out, "Data events: "+describeResources(dr.Type, dr.Values)+", "+rw)
		}
		if es.IncludeManagementEvents != nil && !*es.IncludeManagementEvents && len(es.DataResources) == 0 {
			out = append(out, "Nothing (a selector without management events or data resources)")
		}
	}
	return out
}

func sourceName(src string) string {
	if n, ok := excludedNames[src]; ok {
		return n
	}
	return src + " events"
}

// describeResources names the resources of a data resource type that
// values (ARN prefixes, or the type's "all" value) select.
func describeResources(typ string, values []string) string {
	var parts []string
	for _, v := range values {
		parts = append(parts, describeResource(typ, v))
	}
	if len(parts) == 0 {
		return resourceTypeName(typ) + " (no resources listed)"
	}
	return strings.Join(parts, "; ")
}

func describeResource(typ, v string) string {
	switch typ {
	case s3Object:
		if v == allS3 || v == s3ARNPrefix {
			return "S3 objects in all buckets"
		}
		bucket, prefix, _ := strings.Cut(strings.TrimPrefix(v, s3ARNPrefix), "/")
		if prefix == "" {
			return "S3 objects in bucket " + bucket
		}
		return "S3 objects in bucket " + bucket + " under prefix " + prefix
	case lambdaFunction:
		if v == allLambda {
			return "Lambda invocations of all functions"
		}
		name := v
		if i := strings.Index(v, ":function:"); i >= 0 {
			name = v[i+len(":function:"):]
		}
		return "Lambda invocations of function " + name
	case "AWS::DynamoDB::Table":
		if v == "arn:aws:dynamodb" {
			return "DynamoDB items in all tables"
		}
		name := v
		if i := strings.Index(v, ":table/"); i >= 0 {
			name = v[i+len(":table/"):]
		}
		return "DynamoDB items in table " + name
	}
	return resourceTypeName(typ) + " " + v
}

func resourceTypeName(typ string) string {
	switch typ {
	case s3Object:
		return "S3 objects"
	case lambdaFunction:
		return "Lambda invocations"
	case "AWS::DynamoDB::Table":
		return "DynamoDB items"
	}
	return typ
}

// operators names the advanced-selector operators.
var operators = []struct {
	name string
	get  func(trail.AdvancedFieldSelector) []string
}{
	{"is", func(f trail.AdvancedFieldSelector) []string { return f.Equals }},
	{"starts with", func(f trail.AdvancedFieldSelector) []string { return f.StartsWith }},
	{"ends with", func(f trail.AdvancedFieldSelector) []string { return f.EndsWith }},
	{"is not", func(f trail.AdvancedFieldSelector) []string { return f.NotEquals }},
	{"does not start with", func(f trail.AdvancedFieldSelector) []string { return f.NotStartsWith }},
	{"does not end with", func(f trail.AdvancedFieldSelector) []string { return f.NotEndsWith }},
}

// describeAdvanced says what one advanced selector selects.
func describeAdvanced(as trail.AdvancedEventSelector) string {
	category, rw, typ := "", "read and write", ""
	var conds []string
	var s3Prefixes []string
	for _, f := range as.FieldSelectors {
		switch {
		case f.Field == "eventCategory" && len(f.Equals) == 1:
			category = f.Equals[0]
			continue
		case f.Field == "readOnly" && len(f.Equals) == 1:
			rw = map[string]string{"true": "read only", "false": "write only"}[f.Equals[0]]
			continue
		case f.Field == "resources.type" && len(f.Equals) == 1:
			typ = f.Equals[0]
			continue
		case f.Field == "eventSource" && len(f.NotEquals) > 0 && len(f.Equals)+len(f.StartsWith)+len(f.EndsWith)+len(f.NotStartsWith)+len(f.NotEndsWith) == 0:
			for _, src := range f.NotEquals {
				conds = append(conds, "excluding "+sourceName(src))
			}
			continue
		case f.Field == "resources.ARN" && len(f.StartsWith) > 0 && len(f.Equals)+len(f.EndsWith)+len(f.NotEquals)+len(f.NotStartsWith)+len(f.NotEndsWith) == 0:
			s3Prefixes = f.StartsWith
			continue
		}
		for _, op := range operators {
			if vals := op.get(f); len(vals) > 0 {
				conds = append(conds, f.Field+" "+op.name+" "+strings.Join(vals, " or "))
			}
		}
	}
	var line string
	switch category {
	case "Management":
		line = "Management events: " + rw
	case "Data":
		what := resourceTypeName(typ)
		if len(s3Prefixes) > 0 {
			if typ == s3Object || typ == lambdaFunction {
				what = describeResources(typ, s3Prefixes)
			} else {
				conds = append([]string{"resources.ARN starts with " + strings.Join(s3Prefixes, " or ")}, conds...)
			}
		}
		if what == "" {
			what = "every resource type"
		}
		line = "Data events: " + what + ", " + rw
	case "NetworkActivity":
		line = "Network activity events: " + rw
	default:
		line = category + " events: " + rw
	}
	if len(s3Prefixes) > 0 && category != "Data" {
		conds = append(conds, "resources.ARN starts with "+strings.Join(s3Prefixes, " or "))
	}
	for _, c := range conds {
		line += "; " + c
	}
	return line
}

// describeInsights names a trail's Insights types.
func describeInsights(sel []cloudtrailwire.InsightSelector) []string {
	var out []string
	for _, is := range sel {
		name := map[string]string{"ApiCallRateInsight": "API call rate", "ApiErrorRateInsight": "API error rate"}[is.InsightType]
		if name == "" {
			name = is.InsightType
		}
		cats := "management events"
		if len(is.EventCategories) > 0 {
			cats = strings.ToLower(strings.Join(is.EventCategories, " and ")) + " events"
		}
		out = append(out, name+" of "+cats)
	}
	return out
}

// selectorsJSON is the selectors as PutEventSelectors takes them.
func selectorsJSON(basic []trail.EventSelector, adv []trail.AdvancedEventSelector) string {
	var v any = adv
	if len(adv) == 0 {
		if len(basic) == 0 {
			return ""
		}
		v = basic
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
