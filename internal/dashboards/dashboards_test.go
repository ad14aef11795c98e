package dashboards_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opentrail/opentrail/internal/dashboards"
	"github.com/opentrail/opentrail/internal/store"
)

func openStore(t *testing.T) *dashboards.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := dashboards.Open(context.Background(), st.DB())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSaveListGetDelete(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	w := []dashboards.Widget{{Title: "Top callers", SQL: "SELECT eventName, count(*) FROM cloudtrail_events GROUP BY 1", Chart: dashboards.ChartTopN, LinkKey: "EventName"}}
	a := &dashboards.Dashboard{Account: "111111111111", Owner: "arn:aws:iam::111111111111:user/alice", Title: "Mine", Widgets: w}
	b := &dashboards.Dashboard{Account: "222222222222", Owner: "arn:aws:iam::222222222222:user/bob", Title: "Theirs", Widgets: w}
	for _, d := range []*dashboards.Dashboard{a, b} {
		if err := s.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if a.ID == "" || a.ID == b.ID {
		t.Fatalf("ids %q %q", a.ID, b.ID)
	}
	mine, err := s.List(ctx, []string{"111111111111"})
	if err != nil || len(mine) != 1 || mine[0].Title != "Mine" || mine[0].Widgets[0] != w[0] {
		t.Fatalf("list = %+v, %v", mine, err)
	}
	all, _ := s.List(ctx, nil)
	if len(all) != 2 {
		t.Fatalf("management sees %d", len(all))
	}
	if _, err := s.Get(ctx, b.ID, []string{"111111111111"}); !errors.Is(err, dashboards.ErrNotFound) {
		t.Fatalf("another account's dashboard: %v", err)
	}
	if got, err := s.Get(ctx, b.ID, nil); err != nil || got.Owner != b.Owner {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if err := s.Delete(ctx, b.ID, []string{"111111111111"}); !errors.Is(err, dashboards.ErrNotFound) {
		t.Fatalf("deleted another account's dashboard: %v", err)
	}
	if err := s.Delete(ctx, b.ID, []string{"222222222222"}); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.List(ctx, nil); len(all) != 1 {
		t.Fatalf("after delete: %d", len(all))
	}
}

func TestValidate(t *testing.T) {
	ok := dashboards.Widget{Title: "t", SQL: "SELECT 1", Chart: "bar"}
	for name, d := range map[string]dashboards.Dashboard{
		"no title":   {Widgets: []dashboards.Widget{ok}},
		"no widgets": {Title: "x"},
		"bad chart":  {Title: "x", Widgets: []dashboards.Widget{{Title: "t", SQL: "SELECT 1", Chart: "radar"}}},
		"bad link":   {Title: "x", Widgets: []dashboards.Widget{{Title: "t", SQL: "SELECT 1", Chart: "bar", LinkKey: "Password"}}},
		"no sql":     {Title: "x", Widgets: []dashboards.Widget{{Title: "t", Chart: "bar"}}},
	} {
		if err := d.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
