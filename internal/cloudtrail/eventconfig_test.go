package cloudtrail

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"testing"

	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/trail"
)

func TestEventConfiguration(t *testing.T) {
	e := newEnv(t, Options{})
	e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("audit", ``))
	call := func(op, body string) (int, string) { return e.call(servicetest.AcctA, servicetest.RegionA, op, body) }

	status, body := call("GetEventConfiguration", `{"TrailName":"audit"}`)
	if want := `{"TrailARN":"` + servicetest.TrailARNA + `"}`; status != 200 || body != want {
		t.Errorf("before: %d %s, want %s", status, body, want)
	}
	cfg := `[{"Templates":["API_ACTIVITY","RESOURCE_ACCESS"],"EventCategory":"Data"}]`
	status, body = call("PutEventConfiguration", `{"TrailName":"audit","AggregationConfigurations":`+cfg+`}`)
	want := `{"TrailARN":"` + servicetest.TrailARNA + `","AggregationConfigurations":` + cfg + `}`
	if status != 200 || body != want {
		t.Errorf("put: %d\n got %s\nwant %s", status, body, want)
	}
	if status, body = call("GetEventConfiguration", `{"TrailName":"`+servicetest.TrailARNA+`"}`); status != 200 || body != want {
		t.Errorf("get: %d %s", status, body)
	}
	// Stored in the trail's settings document, where the aggregator reads it.
	tr, err := e.st.GetTrail(t.Context(), servicetest.TrailARNA)
	if err != nil {
		t.Fatal(err)
	}
	set, err := trail.DecodeSettings(tr.Doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.AggregationTemplates(); len(got) != 2 || got[0] != "API_ACTIVITY" || got[1] != "RESOURCE_ACCESS" {
		t.Errorf("stored templates = %v", got)
	}
	// An empty list turns aggregation off.
	if status, _ = call("PutEventConfiguration", `{"TrailName":"audit","AggregationConfigurations":[]}`); status != 200 {
		t.Errorf("turn off: %d", status)
	}
	if _, body = call("GetEventConfiguration", `{"TrailName":"audit"}`); body != `{"TrailARN":"`+servicetest.TrailARNA+`"}` {
		t.Errorf("after off: %s", body)
	}

	for _, tc := range []struct{ name, op, body, code, msg string }{
		{"neither", "GetEventConfiguration", `{}`, "InvalidParameterCombinationException", "Specify either TrailName or EventDataStore."},
		{"both", "PutEventConfiguration", `{"TrailName":"audit","EventDataStore":"eds","AggregationConfigurations":[]}`,
			"InvalidParameterCombinationException", "Specify either TrailName or EventDataStore, not both."},
		{"event data store", "GetEventConfiguration", `{"EventDataStore":"eds"}`, "UnsupportedOperationException",
			"Event configuration of an event data store (MaxEventSize, ContextKeySelectors) is not supported by this server; name a trail with TrailName to configure its aggregated events."},
		{"max size on trail", "PutEventConfiguration", `{"TrailName":"audit","MaxEventSize":"Large","AggregationConfigurations":[]}`,
			"InvalidParameterCombinationException", "MaxEventSize and ContextKeySelectors apply to event data stores only; for a trail, specify AggregationConfigurations."},
		{"missing configs", "PutEventConfiguration", `{"TrailName":"audit"}`, "InvalidParameterException", "AggregationConfigurations is required for a trail."},
		{"two configs", "PutEventConfiguration", `{"TrailName":"audit","AggregationConfigurations":[` + cfg[1:len(cfg)-1] + `,` + cfg[1:len(cfg)-1] + `]}`,
			"InvalidParameterException", "AggregationConfigurations holds 2 configurations; at most 1 is allowed."},
		{"management", "PutEventConfiguration", `{"TrailName":"audit","AggregationConfigurations":[{"Templates":["API_ACTIVITY"],"EventCategory":"Management"}]}`,
			"InvalidParameterException", `EventCategory "Management" is not valid for aggregation; the only valid value is Data.`},
		{"bad template", "PutEventConfiguration", `{"TrailName":"audit","AggregationConfigurations":[{"Templates":["TOP_TALKERS"],"EventCategory":"Data"}]}`,
			"InvalidParameterException", `Template "TOP_TALKERS" is not valid; use API_ACTIVITY, RESOURCE_ACCESS or USER_ACTIONS.`},
		{"no templates", "PutEventConfiguration", `{"TrailName":"audit","AggregationConfigurations":[{"Templates":[],"EventCategory":"Data"}]}`,
			"InvalidParameterException", `Templates holds 0 values; specify 1 to 50 of API_ACTIVITY, RESOURCE_ACCESS, USER_ACTIONS.`},
		{"repeated template", "PutEventConfiguration", `{"TrailName":"audit","AggregationConfigurations":[{"Templates":["USER_ACTIONS","USER_ACTIONS"],"EventCategory":"Data"}]}`,
			"InvalidParameterException", `Template USER_ACTIONS appears more than once.`},
		{"unknown trail", "GetEventConfiguration", `{"TrailName":"nope"}`, "TrailNotFoundException", ""},
	} {
		status, body := call(tc.op, tc.body)
		if tc.msg == "" {
			if status != 400 || !strings.Contains(body, tc.code) {
				t.Errorf("%s: %d %s", tc.name, status, body)
			}
			continue
		}
		servicetest.WantError(t, status, body, 400, tc.code, tc.msg)
	}
	// The home region rule of every trail change applies.
	status, body = e.call(servicetest.AcctA, "eu-west-1", "PutEventConfiguration", `{"TrailName":"`+servicetest.TrailARNA+`","AggregationConfigurations":[]}`)
	if status != 400 || !strings.Contains(body, "InvalidHomeRegionException") {
		t.Errorf("other region: %d %s", status, body)
	}
}

// TestSDKEventConfiguration drives the operations with aws-sdk-go-v2,
// which must decode the answers and the modeled errors.
func TestSDKEventConfiguration(t *testing.T) {
	ctx := context.Background()
	st := servicetest.NewStore()
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctRouter := awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(ctRouter)
	alice := servicetest.Principal(servicetest.AcctA)
	srv := testServer(t, map[string]*auth.Principal{alice.AccessKeyID: alice}, ctRouter, awsapi.NewRESTRouter("cloudtrail-data", nil, quiet))
	ct := cloudtrail.New(cloudtrail.Options{Region: servicetest.RegionA,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "secret"}, nil
		}),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: &http.Client{Transport: bufferedBody{srv.Client().Transport}},
		Retryer: aws.NopRetryer{}})
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("agg"), S3BucketName: aws.String("audit-logs")}); err != nil {
		t.Fatal(err)
	}
	put, err := ct.PutEventConfiguration(ctx, &cloudtrail.PutEventConfigurationInput{TrailName: aws.String("agg"),
		AggregationConfigurations: []cttypes.AggregationConfiguration{{EventCategory: cttypes.EventCategoryAggregationData,
			Templates: []cttypes.Template{cttypes.TemplateUserActions}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(put.AggregationConfigurations) != 1 || put.AggregationConfigurations[0].Templates[0] != cttypes.TemplateUserActions ||
		!strings.HasSuffix(aws.ToString(put.TrailARN), ":trail/agg") {
		t.Errorf("put: %+v", put)
	}
	got, err := ct.GetEventConfiguration(ctx, &cloudtrail.GetEventConfigurationInput{TrailName: aws.String("agg")})
	if err != nil || len(got.AggregationConfigurations) != 1 || got.AggregationConfigurations[0].EventCategory != cttypes.EventCategoryAggregationData {
		t.Errorf("get: %+v %v", got, err)
	}
	_, err = ct.GetEventConfiguration(ctx, &cloudtrail.GetEventConfigurationInput{TrailName: aws.String("missing")})
	var nf *cttypes.TrailNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown trail: %v", err)
	}
	_, err = ct.PutEventConfiguration(ctx, &cloudtrail.PutEventConfigurationInput{TrailName: aws.String("agg"),
		AggregationConfigurations: []cttypes.AggregationConfiguration{{EventCategory: "Management", Templates: []cttypes.Template{"API_ACTIVITY"}}}})
	var ip *cttypes.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Errorf("Management category: %v", err)
	}
}
