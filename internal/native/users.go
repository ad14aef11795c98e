package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/users"
)

// Users is the console users' store the /v1/console/users endpoints
// manage (*users.Store implements it).
type Users interface {
	List(ctx context.Context) ([]users.User, error)
	Get(ctx context.Context, name string) (users.User, error)
	Add(ctx context.Context, u users.NewUser) (users.User, error)
	Remove(ctx context.Context, name string) error
	SetPassword(ctx context.Context, name, password string) error
	BeginMFA(ctx context.Context, name string) (users.Enrolment, error)
	ConfirmMFA(ctx context.Context, name, code string) error
	RemoveMFA(ctx context.Context, name string) error
	SetPolicies(ctx context.Context, name string, refs []string) (users.User, error)
	Principal(u users.User) *auth.Principal
}

// registerUsers binds the console users' endpoints. Passwords and MFA
// secrets never reach a self-audit record: each operation sets the
// record's parameters and response itself.
func (n *Native) registerUsers(r *awsapi.PathRouter) {
	r.RegisterRawResources("GET /v1/console/users", "ListConsoleUsers", true, nil, n.listUsers)
	r.RegisterRawResources("POST /v1/console/users", "CreateConsoleUser", false, nil, n.createUser)
	r.RegisterRawResources("DELETE /v1/console/users/{name}", "DeleteConsoleUser", false, consoleUserResource, n.deleteUser)
	r.RegisterRawResources("PUT /v1/console/users/{name}/password", "UpdateConsoleUserPassword", false, consoleUserResource, n.setUserPassword)
	r.RegisterRawResources("POST /v1/console/users/{name}/mfa", "CreateConsoleUserMFADevice", false, consoleUserResource, n.beginUserMFA)
	r.RegisterRawResources("POST /v1/console/users/{name}/mfa/confirm", "EnableConsoleUserMFADevice", false, consoleUserResource, n.confirmUserMFA)
	r.RegisterRawResources("DELETE /v1/console/users/{name}/mfa", "DeactivateConsoleUserMFADevice", false, consoleUserResource, n.removeUserMFA)
	r.RegisterRawResources("PUT /v1/console/users/{name}/policies", "PutConsoleUserPolicies", false, consoleUserResource, n.setUserPolicies)
}

// userView is a console user on the wire.
type userView struct {
	Name, Account, ARN string
	Admin, MFA         bool
	MFAPending         bool   `json:",omitempty"`
	Created            string // RFC 3339
	LastSignIn         string `json:",omitempty"`
	LockedSeconds      int64  `json:",omitempty"`
	// Policies are the user's policy references; absent: the configured
	// default.
	Policies []string `json:",omitempty"`
}

func (n *Native) userView(u users.User) userView {
	v := userView{Name: u.Name, Account: u.Account, ARN: n.users.Principal(u).ARN, Admin: u.Admin, MFA: u.MFA, MFAPending: u.MFAPending,
		Created: u.Created.UTC().Format(time.RFC3339), LockedSeconds: int64(u.LockedFor / time.Second), Policies: u.Policies}
	if !u.LastSignIn.IsZero() {
		v.LastSignIn = u.LastSignIn.UTC().Format(time.RFC3339)
	}
	return v
}

func usersDenied(p *auth.Principal, account string) error {
	what := "the console users"
	if account != "" {
		what = "the console users of account " + account
	}
	return &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
		Message: fmt.Sprintf("%s may not manage %s: only the organisation's management account manages console users.", p.ARN, what)}
}

// listUsers serves GET /v1/console/users: {"Users":[...]}, the users the
// caller may manage, by name.
func (n *Native) listUsers(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if !n.mayManageUsers(p, "") {
		return nil, usersDenied(p, "")
	}
	all, err := n.users.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list console users: %w", err)
	}
	out := struct{ Users []userView }{Users: []userView{}}
	for _, u := range all {
		if n.mayManageUsers(p, u.Account) {
			out.Users = append(out.Users, n.userView(u))
		}
	}
	return jsonResponse(out)
}

// createUser serves POST /v1/console/users with
// {"Name":…,"Account":…,"Admin":bool,"Password":…,"Policies":[…]}.
func (n *Native) createUser(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	var in struct {
		Name, Account, Password string
		Admin                   bool
		Policies                []string
	}
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badParam("The body must be a JSON object such as {\"Name\":\"alice\",\"Account\":\"111122223333\",\"Admin\":false,\"Password\":\"…\"}: %s.", awsapi.Clip(err.Error(), 128))
	}
	params := map[string]any{"userName": in.Name, "account": in.Account, "admin": in.Admin}
	if len(in.Policies) > 0 {
		params["policies"] = in.Policies
	}
	req.Params = params
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if !n.mayManageUsers(p, in.Account) {
		return nil, usersDenied(p, in.Account)
	}
	u, err := n.users.Add(ctx, users.NewUser{Name: in.Name, Account: in.Account, Admin: in.Admin, Password: in.Password, Policies: in.Policies})
	if err != nil {
		return nil, userError(err, in.Name)
	}
	v := n.userView(u)
	out, err := jsonResponse(struct{ User userView }{v})
	if out != nil {
		out.Response = map[string]any{"user": map[string]any{"userName": v.Name, "arn": v.ARN, "admin": v.Admin, "policies": v.Policies}}
	}
	return out, err
}

// setUserPolicies serves PUT /v1/console/users/{name}/policies with
// {"Policies":[…]} (empty: the configured default): {"User":{…}}.
func (n *Native) setUserPolicies(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	var in struct{ Policies []string }
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badParam("The body must be a JSON object such as {\"Policies\":[\"read-only\"]}: %s.", awsapi.Clip(err.Error(), 128))
	}
	u, err := n.managedUser(ctx, req, map[string]any{"policies": in.Policies})
	if err != nil {
		return nil, err
	}
	if u, err = n.users.SetPolicies(ctx, u.Name, in.Policies); err != nil {
		return nil, userError(err, u.Name)
	}
	v := n.userView(u)
	out, err := jsonResponse(struct{ User userView }{v})
	if out != nil {
		out.Response = map[string]any{"user": map[string]any{"userName": v.Name, "policies": v.Policies}}
	}
	return out, err
}

// userError maps the store's errors to the API's.
func userError(err error, name string) error {
	var ie *users.InputError
	switch {
	case errors.As(err, &ie):
		return badParam("%s", ie.Msg)
	case errors.Is(err, users.ErrExists):
		return &awsapi.Error{Code: "EntityAlreadyExistsException", Status: http.StatusConflict,
			Message: fmt.Sprintf("A console user named %s exists already.", awsapi.Clip(name, 64))}
	case errors.Is(err, users.ErrNotFound):
		return noSuchUser(name)
	case errors.Is(err, users.ErrWrongCode):
		return badParam("The MFA code is not the one the device shows now; enter the current 6-digit code.")
	case errors.Is(err, users.ErrNoEnrolment):
		return badParam("No MFA device of %s is waiting to be confirmed; start with POST /v1/console/users/%s/mfa.", awsapi.Clip(name, 64), awsapi.Clip(name, 64))
	}
	return fmt.Errorf("console user %s: %w", name, err)
}

func noSuchUser(name string) error {
	return &awsapi.Error{Code: "NoSuchEntityException", Status: http.StatusNotFound,
		Message: fmt.Sprintf("The console user %s does not exist.", awsapi.Clip(name, 64))}
}

// managedUser returns the path's user if the caller may manage it; a
// user of an account the caller may not manage is reported as missing.
func (n *Native) managedUser(ctx context.Context, req *awsapi.RawRequest, params map[string]any) (users.User, error) {
	name := userPathName(req.HTTP)
	if params == nil {
		params = map[string]any{}
	}
	params["userName"] = name
	req.Params = params
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return users.User{}, err
	}
	if !n.mayManageUsers(p, "") {
		return users.User{}, usersDenied(p, "")
	}
	u, err := n.users.Get(ctx, name)
	if err == nil && !n.mayManageUsers(p, u.Account) {
		err = users.ErrNotFound
	}
	if err != nil {
		return users.User{}, userError(err, name)
	}
	return u, nil
}

// userPathName is the {name} of /v1/console/users/{name}[/…] (the router
// matches patterns but does not set path values).
func userPathName(r *http.Request) string {
	parts := strings.Split(r.URL.Path, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// deleteUser serves DELETE /v1/console/users/{name}.
func (n *Native) deleteUser(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	u, err := n.managedUser(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	if err := n.users.Remove(ctx, u.Name); err != nil {
		return nil, userError(err, u.Name)
	}
	return jsonResponse(struct{}{})
}

// setUserPassword serves PUT /v1/console/users/{name}/password with
// {"Password":…}.
func (n *Native) setUserPassword(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	var in struct{ Password string }
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badParam("The body must be a JSON object such as {\"Password\":\"…\"}: %s.", awsapi.Clip(err.Error(), 128))
	}
	u, err := n.managedUser(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	if err := n.users.SetPassword(ctx, u.Name, in.Password); err != nil {
		return nil, userError(err, u.Name)
	}
	return jsonResponse(struct{}{})
}

// beginUserMFA serves POST /v1/console/users/{name}/mfa: a new device's
// secret, {"Secret":…,"URI":"otpauth://…"}, waiting for a code from it
// (…/mfa/confirm). The secret is not in the self-audit record.
func (n *Native) beginUserMFA(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	u, err := n.managedUser(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	e, err := n.users.BeginMFA(ctx, u.Name)
	if err != nil {
		return nil, userError(err, u.Name)
	}
	out, err := jsonResponse(struct{ Secret, URI string }{e.Secret, e.URI})
	if out != nil {
		out.Response = map[string]any{"userName": u.Name, "mfaDevice": "pending"}
	}
	return out, err
}

// confirmUserMFA serves POST /v1/console/users/{name}/mfa/confirm with
// {"Code":"123456"}: the device counts from now on.
func (n *Native) confirmUserMFA(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	var in struct{ Code string }
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, badParam("The body must be a JSON object such as {\"Code\":\"123456\"}: %s.", awsapi.Clip(err.Error(), 128))
	}
	u, err := n.managedUser(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	if err := n.users.ConfirmMFA(ctx, u.Name, strings.TrimSpace(in.Code)); err != nil {
		return nil, userError(err, u.Name)
	}
	return jsonResponse(struct{}{})
}

// removeUserMFA serves DELETE /v1/console/users/{name}/mfa.
func (n *Native) removeUserMFA(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	u, err := n.managedUser(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	if err := n.users.RemoveMFA(ctx, u.Name); err != nil {
		return nil, userError(err, u.Name)
	}
	return jsonResponse(struct{}{})
}
