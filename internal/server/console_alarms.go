package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/cisclient"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/sigmawatch"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// consoleCIS runs the CIS pack's status for the console exactly as
// `opentrail cis status` does (cis.Status over cisclient), with the
// client's requests served in process as the console user (inProcess).
type consoleCIS struct{ s *Server }

func (c consoleCIS) Status(ctx context.Context, region string, opts cis.StatusOptions) (*cis.Report, error) {
	caller := awsapi.CallerFrom(ctx)
	if caller == nil {
		return nil, errors.New("cis status: no caller")
	}
	api := cisclient.New(client.NewInProcess(region, inProcess{s: c.s, caller: caller}))
	return cis.Status(ctx, api, opts)
}

// inProcess is an http.RoundTripper serving a client's requests with the
// server's own routers, as caller: the service is the credential scope's
// (the placeholder signature is not checked), and the routers validate,
// scope to the caller's account and audit as for any request.
type inProcess struct {
	s      *Server
	caller *awsapi.Caller
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	a, err := sigv4.Parse(req)
	if err != nil {
		return nil, err
	}
	var serve func(http.ResponseWriter, *http.Request, []byte)
	if strings.HasPrefix(req.URL.Path, "/v1/") {
		serve = t.s.native.Handle
	} else if serve, err = t.s.apiHandler(req, a.Service); err != nil {
		return nil, err
	}
	c := *t.caller
	c.Service, c.Region, c.RequestID = a.Service, a.Region, awsapi.NewUUID()
	r := req.WithContext(awsapi.WithCaller(req.Context(), &c))
	r.Header.Set("User-Agent", c.UserAgent)
	r.RemoteAddr = c.SourceIP + ":0"
	w := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	serve(w, r, body)
	return &http.Response{StatusCode: w.status, Status: http.StatusText(w.status), Header: w.header,
		Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

// consoleSigma finds rules of the Sigma detector's active set.
type consoleSigma struct{ w *sigmawatch.Watch }

func (c consoleSigma) SigmaRule(id string) (sigmawatch.LoadedRule, bool) {
	if c.w == nil {
		return sigmawatch.LoadedRule{}, false
	}
	rep := c.w.Current()
	if rep == nil {
		return sigmawatch.LoadedRule{}, false
	}
	for _, r := range rep.Loaded {
		if r.ID == id {
			return r, true
		}
	}
	return sigmawatch.LoadedRule{}, false
}
