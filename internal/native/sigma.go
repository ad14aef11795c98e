package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/sigmawatch"
)

// Sigma is the Sigma detector's rule set (*sigmawatch.Watch implements
// it).
type Sigma interface {
	Load(ctx context.Context, files []sigmawatch.File) (*sigmawatch.Report, error)
	Current() *sigmawatch.Report
}

// maxRuleFiles bounds the files of one PUT /v1/sigma/rules.
const maxRuleFiles = 5000

// putSigmaRules serves PUT /v1/sigma/rules: the body is a JSON list of
// rule files [{"File":"name.yml","Text":"<YAML>"}, …] (or {"Files":[…]});
// they replace the rule set, which applies to the events committed from
// then on. It answers the load report: every rule loaded and every rule
// or file not loaded, by name and reason. The rule set is the server's,
// so only the management account (or the local-mode key) may load it.
func (n *Native) putSigmaRules(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	var files []sigmawatch.File
	if err := json.Unmarshal(req.Body, &files); err != nil {
		var doc struct{ Files []sigmawatch.File }
		if err2 := json.Unmarshal(req.Body, &doc); err2 != nil || doc.Files == nil {
			req.Params = map[string]any{}
			return nil, badParam("The body must be a JSON list of rule files such as [{\"File\":\"rule.yml\",\"Text\":\"title: …\"}]: %s.", awsapi.Clip(err.Error(), 128))
		}
		files = doc.Files
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, f.File)
	}
	req.Params = map[string]any{"files": names}
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Management {
		return nil, &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
			Message: "Only the organisation's management account may load Sigma rules, which run over every account's events."}
	}
	if len(files) > maxRuleFiles {
		return nil, badParam("At most %d rule files may be loaded at once; got %d.", maxRuleFiles, len(files))
	}
	rep, err := n.sigma.Load(ctx, files)
	var le *sigmawatch.LoadError
	if errors.As(err, &le) {
		return nil, badParam("%s.", le.Reason)
	}
	if err != nil {
		return nil, fmt.Errorf("load sigma rules: %w", err)
	}
	return jsonResponse(rep)
}

// getSigmaRules serves GET /v1/sigma/rules: the active rule set's load
// report.
func (n *Native) getSigmaRules(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	req.Params = map[string]any{}
	if _, _, err := awsapi.Authenticated(ctx); err != nil {
		return nil, err
	}
	return jsonResponse(n.sigma.Current())
}
