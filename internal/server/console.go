package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/console"
	"github.com/opentrail/opentrail/internal/dashboards"
	"github.com/opentrail/opentrail/internal/geoip"
)

// newConsole builds the web console over the services and components.
func (s *Server) newConsole() error {
	history, err := s.historyDeps()
	if err != nil {
		return err
	}
	saved, err := dashboards.Open(context.Background(), s.store.DB())
	if err != nil {
		return err
	}
	if path := s.cfg.Console.GeoIPDatabase; path != "" {
		if s.geoip, err = geoip.Open(path); err != nil {
			return fmt.Errorf("console.geoip_database: %w", err)
		}
	}
	c, err := console.New(console.Config{
		Auth:          console.UsersAuth{Store: s.users},
		Users:         console.UserDeps{Store: s.users},
		Sessions:      console.UsersSessions{Store: s.users},
		API:           consoleAPI{s},
		DefaultRegion: "us-east-1",
		Local:         s.dir.IsLocal(),
		Alarms:        console.AlarmDeps{Regions: s.alarms, Deliveries: s.topics, CIS: consoleCIS{s}},
		Findings:      console.FindingDeps{Store: s.findings, Rules: consoleSigma{s.sigma}},
		Logger:        s.log,
		Trails:        s.consoleTrails(),
		History:       history,
		Dashboards:    console.DashboardDeps{Events: console.StoreQuerier(s.store), Saved: saved, GeoIP: s.geoip, Rollups: s.rollups},
	})
	if err != nil {
		return err
	}
	s.console = c
	// A user removed or whose password changed through the API is signed
	// out of the console too.
	s.users.OnSignOut(c.SignOut)
	return nil
}

// consoleTrails is what the trails pages read besides the CloudTrail API:
// delivery's status and files, and the accounts with trails.
func (s *Server) consoleTrails() console.TrailDeps {
	d := console.TrailDeps{Delivery: s.deliverer, Accounts: trailAccounts{s}}
	if o := orgOf(&s.cfg); o != nil {
		d.OrgID = o.ID
	}
	return d
}

// trailAccounts lists the accounts a management-account console user's
// trail list covers: every account with a trail, and the organisation's
// members.
type trailAccounts struct{ s *Server }

func (a trailAccounts) TrailAccounts(ctx context.Context) ([]string, error) {
	trails, err := a.s.store.AllTrails(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	if o := a.s.cfg.Organization; o != nil {
		out = append(out, o.Members...)
	}
	for _, t := range trails {
		if !slices.Contains(out, t.Account) {
			out = append(out, t.Account)
		}
	}
	return out, nil
}

// consoleAPI runs the console's API calls in process through the same
// routers signed requests reach, as JSON requests.
type consoleAPI struct{ s *Server }

func (a consoleAPI) Call(ctx context.Context, service, op string, in, out any) error {
	var target, ctype string
	rt := a.s.rpcRouter(service)
	switch service {
	case "cloudtrail":
		rt, target, ctype = a.s.cloudtrail, "CloudTrail_20131101."+op, "application/x-amz-json-1.1"
	case "monitoring":
		target, ctype = "GraniteServiceVersion20100801."+op, "application/x-amz-json-1.0"
	case "logs":
		target, ctype = "Logs_20140328."+op, "application/x-amz-json-1.1"
	case "events":
		target, ctype = "AWSEvents."+op, "application/x-amz-json-1.1"
	default:
		return fmt.Errorf("console: no in-process calls to %s", service)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", ctype)
	if c := awsapi.CallerFrom(ctx); c != nil {
		req.Header.Set("User-Agent", c.UserAgent)
		req.RemoteAddr = c.SourceIP + ":0"
	}
	w := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	rt.Handle(w, req, body)
	if w.status >= 300 {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
			Msg     string `json:"Message"`
		}
		json.Unmarshal(w.body.Bytes(), &e)
		code := e.Type
		if i := strings.LastIndexByte(code, '#'); i >= 0 {
			code = code[i+1:]
		}
		if e.Message == "" {
			e.Message = e.Msg
		}
		return &awsapi.Error{Code: code, Status: w.status, Message: e.Message}
	}
	if out == nil || w.body.Len() == 0 {
		return nil
	}
	return json.Unmarshal(w.body.Bytes(), out)
}

// bufferedResponse is an http.ResponseWriter into memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}
