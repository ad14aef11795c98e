package server

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// HealthPath is the JSON health report, where LocalStack users find
// theirs at /_localstack/health.
const HealthPath = "/_opentrail/health"

// healthCheck answers the health endpoints from what the server shares
// with it: the front door's refusals, whether it serves yet and since
// when, and whether the built-in S3 API is on.
type healthCheck struct {
	door    *frontDoor
	ready   <-chan struct{}
	started *time.Time // set by Run before ready is closed
	s3      bool
}

// healthz answers GET /healthz: 200 "ok" when healthy; 200 "degraded: ..."
// when the front door refused or cut off requests in the last 30 s (the
// server is up and serves authenticated requests, so a load balancer
// should keep it, but someone should look); 503 "starting" before it
// serves. With ?verbose, and at HealthPath, the answer is the JSON report.
func (s *healthCheck) healthz(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == HealthPath || r.URL.Query().Has("verbose") {
		s.healthJSON(w)
		return
	}
	if !s.isReady() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if reasons := s.door.degraded(); len(reasons) > 0 {
		io.WriteString(w, "degraded: "+strings.Join(reasons, "; ")+"\n")
		return
	}
	io.WriteString(w, "ok\n")
}

func (s *healthCheck) isReady() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// health is the JSON health report.
type health struct {
	// Status is "ok", "degraded" or "starting".
	Status string `json:"status"`
	// Degraded says why, when Status is "degraded".
	Degraded []string `json:"degraded,omitempty"`
	// Services maps each service served to its state: "running",
	// "starting", or "disabled" (s3 when trails deliver to an external
	// S3-compatible service).
	Services map[string]string `json:"services"`
	Version  string            `json:"version"`
	// Revision and RevisionTime identify the source the binary was built
	// from, when the build recorded them.
	Revision     string `json:"revision,omitempty"`
	RevisionTime string `json:"revisionTime,omitempty"`
	// BodyBytesHeld and UnauthenticatedBodyBytesHeld are the request body
	// bytes in memory now, and the part of them whose request is not
	// authenticated yet.
	BodyBytesHeld                int64  `json:"bodyBytesHeld"`
	UnauthenticatedBodyBytesHeld int64  `json:"unauthenticatedBodyBytesHeld"`
	Uptime                       string `json:"uptime,omitempty"`
}

func (s *healthCheck) healthJSON(w http.ResponseWriter) {
	h := health{Status: "ok", Services: s.servedServices("running"),
		BodyBytesHeld: s.door.heldAll.Load(), UnauthenticatedBodyBytesHeld: s.door.heldUnauth.Load()}
	v := buildVersion()
	h.Version, h.Revision, h.RevisionTime = v.version, v.revision, v.time
	status := http.StatusOK
	if !s.isReady() {
		h.Status, h.Services, status = "starting", s.servedServices("starting"), http.StatusServiceUnavailable
	} else {
		h.Uptime = time.Since(*s.started).Round(time.Second).String()
		if h.Degraded = s.door.degraded(); len(h.Degraded) > 0 {
			h.Status = "degraded"
		}
	}
	b, _ := json.MarshalIndent(h, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// servedServices lists the services the server answers, all in state:
// the AWS APIs by their signing names, and the native endpoints
// (opentrail).
func (s *healthCheck) servedServices(state string) map[string]string {
	m := map[string]string{nativeService: state}
	for _, svc := range apiServices {
		m[svc] = state
	}
	if !s.s3 {
		m["s3"] = "disabled"
	}
	return m
}

type version struct{ version, revision, time string }

// buildVersion reads the module version and VCS revision the binary was
// built with: version "(devel)" for a build from a work tree.
var buildVersion = sync.OnceValue(func() version {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version{version: "unknown"}
	}
	v := version{version: bi.Main.Version}
	if v.version == "" {
		v.version = "(devel)"
	}
	modified := false
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			v.revision = st.Value
		case "vcs.time":
			v.time = st.Value
		case "vcs.modified":
			modified = st.Value == "true"
		}
	}
	if modified && v.revision != "" {
		v.revision += "+modified"
	}
	return v
})
