package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/console"
)

// newConsole builds the web console over the services and components.
func (s *Server) newConsole() error {
	c, err := console.New(console.Config{
		Auth:          localAuth{dir: s.dir},
		API:           consoleAPI{s},
		DefaultRegion: "us-east-1",
		Local:         s.dir.IsLocal(),
		Logger:        s.log,
	})
	if err != nil {
		return err
	}
	s.console = c
	return nil
}

// ConsoleURL is the web console's address for a server listening on addr
// (host:port); an unspecified host (0.0.0.0, ::) becomes localhost.
func ConsoleURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// localAuth is local mode's console user: admin, password opentrail, the
// local account's administrator. Anywhere else nobody may sign in.
type localAuth struct{ dir *auth.Directory }

func (a localAuth) CheckPassword(ctx context.Context, in console.SignInAttempt) (*console.User, error) {
	if !a.dir.IsLocal() || in.UserName != "admin" || subtle.ConstantTimeCompare([]byte(in.Password), []byte("opentrail")) != 1 {
		return nil, &console.SignInError{Message: "Your user name or password is wrong."}
	}
	return &console.User{Name: "admin", Admin: true, Principal: &auth.Principal{
		AccountID: auth.LocalAccount, Type: "IAMUser", UserName: "admin",
		ARN: "arn:aws:iam::" + auth.LocalAccount + ":user/admin", PrincipalID: "AIDAOPENTRAILCONSOLE", Management: true,
	}}, nil
}

func (a localAuth) CheckMFA(ctx context.Context, in console.SignInAttempt, code string) (*console.User, error) {
	return nil, &console.SignInError{Message: "Your MFA code is wrong."}
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
