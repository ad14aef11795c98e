package users

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

func TestUserPolicies(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	// A store made before policies existed: the old table, one user.
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE cu_users (name VARCHAR PRIMARY KEY, account VARCHAR NOT NULL, admin BOOLEAN NOT NULL,
		principal_id VARCHAR NOT NULL, password_hash VARCHAR NOT NULL, mfa_secret VARCHAR, mfa_pending VARCHAR,
		mfa_last_step BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL, last_signin BIGINT NOT NULL DEFAULT 0,
		is_default BOOLEAN NOT NULL DEFAULT false)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO cu_users (name, account, admin, principal_id, password_hash, created) VALUES
		('old', '222222222222', false, 'AIDAOLD', 'x', 1), ('boss', '111111111111', true, 'AIDABOSS', 'x', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	e := open(t, path, false)
	old, err := e.s.Get(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if old.Policies != nil || e.s.Principal(old).Policies != nil {
		t.Errorf("a user of an old store has the configured default: %v", old.Policies)
	}
	boss, _ := e.s.Get(ctx, "boss")
	if want := []string{"administrator"}; !reflect.DeepEqual(boss.Policies, want) || !reflect.DeepEqual(e.s.Principal(boss).Policies, want) {
		t.Errorf("an admin of an old store: %v", boss.Policies)
	}

	u, err := e.s.Add(ctx, NewUser{Name: "auditor", Account: "222222222222", Password: "auditor-password-1",
		Policies: []string{"read-only", " ./extra.json ", "read-only", ""}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"read-only", "./extra.json"}
	if !reflect.DeepEqual(u.Policies, want) {
		t.Errorf("added %v", u.Policies)
	}
	got, _ := e.s.Get(ctx, "auditor")
	if !reflect.DeepEqual(got.Policies, want) || !reflect.DeepEqual(e.s.Principal(got).Policies, want) {
		t.Errorf("stored %v", got.Policies)
	}
	a := e.add(t, "admin2", "111111111111", true)
	if !reflect.DeepEqual(a.Policies, []string{"administrator"}) {
		t.Errorf("admin %v", a.Policies)
	}

	if u, err = e.s.SetPolicies(ctx, "auditor", []string{"ingest-only"}); err != nil || !reflect.DeepEqual(u.Policies, []string{"ingest-only"}) {
		t.Fatalf("SetPolicies: %v %v", u.Policies, err)
	}
	if u, err = e.s.SetPolicies(ctx, "auditor", nil); err != nil || u.Policies != nil {
		t.Fatalf("SetPolicies(nil): %v %v", u.Policies, err)
	}
	if got, _ := e.s.Get(ctx, "auditor"); got.Policies != nil {
		t.Errorf("cleared: %v", got.Policies)
	}
	if _, err := e.s.SetPolicies(ctx, "nobody", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}

	// CheckPolicy refuses a reference the authorizer cannot compile.
	e.s.cfg.CheckPolicy = func(ref string) error {
		if ref == "bogus" {
			return errors.New("no built-in policy bogus")
		}
		return nil
	}
	_, err = e.s.SetPolicies(ctx, "auditor", []string{"read-only", "bogus"})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Msg != "Policy bogus cannot be used: no built-in policy bogus." {
		t.Errorf("bogus: %v", err)
	}
}
