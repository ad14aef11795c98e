package awsapi

import (
	"sort"
	"strings"
)

// OperationInfo describes one registered operation, for tests and tools
// that must cover every operation (the self-audit check, the
// authorization mapping).
type OperationInfo struct {
	Service  string // the router's service: "cloudtrail", "logs", "opentrail" (native), ...
	Name     string // the operation, as the self-audit record's eventName
	ReadOnly bool
	// Method and Path say how a REST or path-routed operation is called
	// (Path may hold {wildcards}); empty for operations named by
	// X-Amz-Target or the query protocol's Action.
	Method, Path string
}

// OperationList lists r's operations, by name.
func (r *Router) OperationList() []OperationInfo {
	out := make([]OperationInfo, 0, len(r.ops))
	for _, op := range r.ops {
		out = append(out, OperationInfo{Service: r.d.service, Name: op.name, ReadOnly: op.readOnly})
	}
	sortOperations(out)
	return out
}

// OperationList lists r's operations, by name.
func (r *RESTRouter) OperationList() []OperationInfo {
	out := make([]OperationInfo, 0, len(r.routes))
	for key, op := range r.routes {
		method, path, _ := strings.Cut(key, " ")
		out = append(out, OperationInfo{Service: r.d.service, Name: op.name, ReadOnly: op.readOnly, Method: method, Path: path})
	}
	sortOperations(out)
	return out
}

// OperationList lists r's operations, by name.
func (r *PathRouter) OperationList() []OperationInfo {
	out := append([]OperationInfo(nil), r.listed...)
	sortOperations(out)
	return out
}

func sortOperations(l []OperationInfo) {
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name || l[i].Name == l[j].Name && l[i].Path < l[j].Path })
}
