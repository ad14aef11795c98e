// Package eventpattern implements the EventBridge event-pattern language:
// Compile checks a pattern the way EventBridge's PutRule and
// TestEventPattern do (an invalid pattern gives an *Error whose Message is
// the InvalidEventPatternException message AWS returns), Pattern.Match tests
// one event, Set holds many patterns indexed by the exact values they
// require so that an event meets only the patterns that can match it, and
// CloudTrailEvent wraps a CloudTrail record in the envelope EventBridge puts
// CloudTrail events in on the default bus.
//
// The language: every leaf of a pattern is an array of alternatives (OR
// within a field, AND across fields); exact strings, numbers (compared by
// value), true, false and null; prefix, suffix and their equals-ignore-case
// forms; equals-ignore-case; wildcard; anything-but (values, lists, and its
// prefix, suffix, equals-ignore-case and wildcard forms); numeric ranges;
// exists; cidr (IPv4 and IPv6); "$or"; nested objects. An event is seen as
// its leaves, each named by the dot-joined path of keys leading to it (so
// an event key "a.b" and nested keys "a" then "b" name the same field);
// arrays contribute each element under the array's path, and the fields of
// one branch must be found in the same element of any array they share.
// When a key appears twice in a pattern object, the later one wins.
package eventpattern
