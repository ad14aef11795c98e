package server

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/alarmrule"
	"github.com/opentrail/opentrail/internal/alarms"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/findings"
)

// An alarm going to ALARM is a finding: detector cis for the pack's
// alarms, alarm for the others; a transition reported twice counts once,
// and other transitions raise nothing.
func TestAlarmTransitionsBecomeFindings(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	quiet := slog.New(slog.DiscardHandler)
	fd, err := findings.Open(findings.Config{DB: db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{log: quiet, findings: fd}
	ctx := context.Background()
	at := time.Date(2026, 12, 5, 5, 0, 0, 0, time.UTC)
	pack := alarms.Alarm{Account: "111111111111", Region: "us-east-1", Name: cis.NamePrefix + "root-account-usage",
		Description: cis.Marker + " (CIS AWS Foundations Benchmark v3.0.0 4.3): root account usage",
		State:       alarmrule.Alarm, StateReason: "Threshold Crossed", StateUpdated: at}
	mine := alarms.Alarm{Account: "111111111111", Region: "us-east-1", Name: "CIS-lookalike", Description: "mine",
		State: alarmrule.Alarm, StateUpdated: at}
	s.alarmSignal(ctx, pack, alarmrule.OK, "t-1", []string{"ev-1", "ev-2"})
	s.alarmSignal(ctx, pack, alarmrule.OK, "t-1", []string{"ev-1", "ev-2"})
	s.alarmSignal(ctx, mine, alarmrule.OK, "t-2", nil)
	back := mine
	back.State = alarmrule.OK
	s.alarmSignal(ctx, back, alarmrule.Alarm, "t-3", nil)
	fs, _, err := fd.List(ctx, findings.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*findings.Finding{}
	for _, f := range fs {
		got[f.Detector] = f
	}
	if len(fs) != 2 || got["cis"] == nil || got["alarm"] == nil {
		t.Fatalf("findings %+v", fs)
	}
	if f := got["cis"]; f.RuleID != pack.ARN() || f.Count != 1 || f.Severity != findings.SeverityMedium ||
		f.Title != pack.Name+": "+pack.Description || len(f.EventIDs) != 2 || !f.LastSeen.Equal(at) {
		t.Errorf("cis finding %+v", f)
	}
	if f := got["alarm"]; f.RuleID != mine.ARN() || f.Severity != findings.SeverityMedium {
		t.Errorf("alarm finding %+v", f)
	}
}
