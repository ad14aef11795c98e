package server

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/config"
)

// iamRouters builds a server as serve does and lists every operation of
// every router with its authorization mapping, by router.
func iamRouters(t *testing.T) []iamRouter {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return []iamRouter{
		{"cloudtrail", s.cloudtrail.IAMOperations()},
		{"cloudtrail-data", s.cloudtrailData.IAMOperations()},
		{"monitoring", s.monitoring.IAMOperations()},
		{"logs", s.logs.IAMOperations()},
		{"sns", s.sns.IAMOperations()},
		{"events", s.events.IAMOperations()},
		{"opentrail", s.native.IAMOperations()},
	}
}

type iamRouter struct {
	service string
	ops     []awsapi.IAMOperation
}

// TestEveryOperationIsMapped fails for an operation whose IAM action and
// resources were not decided.
func TestEveryOperationIsMapped(t *testing.T) {
	for _, r := range iamRouters(t) {
		if len(r.ops) == 0 {
			t.Errorf("%s: no operations", r.service)
		}
		for _, op := range r.ops {
			if !op.Mapped {
				t.Errorf("%s %s: no IAM resources decided (implement awsapi.IAMResourcer on its input, or register it with RegisterRawResources)", r.service, op.Name)
			}
		}
	}
}
