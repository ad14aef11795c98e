package eventrules

import (
	"encoding/json"
	"strings"
	"time"
)

// Vars are the predefined variables an InputTemplate may name besides its
// InputPathsMap: <aws.events.rule-arn>, <aws.events.rule-name>,
// <aws.events.event.ingestion-time> and <aws.events.event.json> (the
// whole event).
type Vars struct {
	RuleARN, RuleName string
	IngestionTime     time.Time
}

// Predefined variable names.
const (
	varRuleARN   = "aws.events.rule-arn"
	varRuleName  = "aws.events.rule-name"
	varIngestion = "aws.events.event.ingestion-time"
	varEvent     = "aws.events.event.json"
)

// IsPredefined reports whether name is one of the predefined variables,
// which an InputPathsMap may not redefine.
func IsPredefined(name string) bool {
	return strings.HasPrefix(name, "aws.events.")
}

// Render applies a transformer to an event: each <name> of the template
// whose name is a key of PathsMap or a predefined variable is replaced by
// the value selected. A string value inside a JSON string of the template
// is inserted as the string's characters (JSON-escaped); anywhere else a
// value is inserted as JSON (a string with its quotes). A path that selects
// nothing gives null outside a string and nothing inside one. Other text,
// and <name>s that are not variables, are kept as they are.
func Render(tr *Transformer, env []byte, v Vars) string {
	vals := make(map[string][]byte, len(tr.PathsMap)+4)
	for name, path := range tr.PathsMap {
		if b, ok := SelectPath(env, path); ok {
			vals[name] = b
		} else {
			vals[name] = nil
		}
	}
	str := func(s string) []byte { b, _ := json.Marshal(s); return b }
	vals[varRuleARN] = str(v.RuleARN)
	vals[varRuleName] = str(v.RuleName)
	vals[varIngestion] = str(v.IngestionTime.UTC().Format(time.RFC3339))
	vals[varEvent] = env

	t := tr.Template
	var b strings.Builder
	inString := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '\\' && inString && i+1 < len(t):
			b.WriteByte(c)
			b.WriteByte(t[i+1])
			i++
			continue
		case c == '"':
			inString = !inString
		case c == '<':
			end := strings.IndexByte(t[i+1:], '>')
			if end < 0 {
				break
			}
			name := t[i+1 : i+1+end]
			val, known := vals[name]
			if !known {
				break
			}
			switch {
			case val == nil && inString:
			case val == nil:
				b.WriteString("null")
			case inString && len(val) > 0 && val[0] == '"':
				b.Write(val[1 : len(val)-1])
			default:
				b.Write(val)
			}
			i += end + 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
