package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtraildata"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/cloudtraildata/types"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
)

// storeAuditor feeds self-audit records into the store, as the server's
// auditor does through group commit.
type storeAuditor struct {
	t  *testing.T
	st *memStore
}

func (a *storeAuditor) Audit(rec []byte) {
	r, err := event.Parse(rec)
	if err != nil {
		a.t.Errorf("self-audit record does not parse: %v\n%s", err, rec)
		return
	}
	a.st.add(r)
}

// bufferedBody hands the transport a private copy of each request body.
// The SDK's smithy-go layer closes the request body as soon as the response
// headers arrive, which can race with the transport's final read of it and
// close the connection mid-response ("use of closed network connection",
// aws/aws-sdk-go-v2#2737; the SDK's default retryer retries it). The
// clients here run without retries, so the test removes the race instead.
type bufferedBody struct{ rt http.RoundTripper }

func (b bufferedBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		buf, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(buf))
	}
	return b.rt.RoundTrip(req)
}

var credentialRE = regexp.MustCompile(`Credential=([^/]+)/[0-9]{8}/([^/]+)/([^/]+)/aws4_request`)

// testServer routes by the SigV4 credential scope's service and puts a
// Caller for the signing access key in the context. It does not verify
// signatures: that is the server's job, tested there.
func testServer(t *testing.T, principals map[string]*auth.Principal, cloudtrailRouter *awsapi.Router, dataRouter *awsapi.RESTRouter) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		m := credentialRE.FindStringSubmatch(req.Header.Get("Authorization"))
		if m == nil || principals[m[1]] == nil {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 2<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c := &awsapi.Caller{
			Principal: principals[m[1]], Region: m[2], Service: m[3],
			SourceIP: "127.0.0.1", UserAgent: req.UserAgent(), RequestID: awsapi.NewUUID(),
		}
		req = req.WithContext(awsapi.WithCaller(req.Context(), c))
		switch m[3] {
		case "cloudtrail":
			cloudtrailRouter.Handle(w, req, body)
		case "cloudtrail-data":
			dataRouter.Handle(w, req, body)
		default:
			http.Error(w, "unknown service", http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// loadStratus parses the public Stratus Red Team detonation logs.
func loadStratus(t *testing.T) []*event.Record {
	t.Helper()
	files, err := filepath.Glob("../../../shared/testdata/public/stratus-red-team/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test data: %v", err)
	}
	var recs []*event.Record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, raw := range raws {
			r, err := event.Parse(raw)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			recs = append(recs, r)
		}
	}
	return recs
}

func TestSDKEndToEnd(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	ing := &memIngester{st: st}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, Ingester: ing, TokenKey: tokKey, Logger: quiet,
		Options: Options{Retention: 20 * 365 * 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	aud := &storeAuditor{t: t, st: st}
	ctRouter := awsapi.NewRouter("cloudtrail", aud, quiet)
	svc.Register(ctRouter)
	dataRouter := awsapi.NewRESTRouter("cloudtrail-data", aud, quiet)
	svc.RegisterData(dataRouter)

	const stratusAcct, stratusRegion = "056392974792", "sagov-westsouth-1r"
	alice := principal(stratusAcct)
	bob := principal(acctB)
	srv := testServer(t, map[string]*auth.Principal{alice.AccessKeyID: alice, bob.AccessKeyID: bob}, ctRouter, dataRouter)

	recs := loadStratus(t)
	st.add(recs...)
	want := map[string]string{}
	for _, r := range recs {
		if r.AccountID == stratusAcct && r.AWSRegion == stratusRegion && r.EventCategory == "Management" {
			want[r.EventID] = string(r.Raw)
		}
	}
	if len(want) < 20 {
		t.Fatalf("only %d test events", len(want))
	}

	creds := func(p *auth.Principal) aws.CredentialsProvider {
		return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: "secret"}, nil
		})
	}
	httpClient := &http.Client{Transport: bufferedBody{srv.Client().Transport}}
	ct := cloudtrail.New(cloudtrail.Options{Region: stratusRegion, Credentials: creds(alice),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: httpClient, Retryer: aws.NopRetryer{}})

	// LookupEvents through the SDK paginator: every event once, newest first.
	start := time.Now()
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(7)})
	got := map[string]bool{}
	var last time.Time
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		for _, ev := range page.Events {
			id := aws.ToString(ev.EventId)
			if got[id] {
				t.Fatalf("%s twice", id)
			}
			got[id] = true
			if raw, ok := want[id]; !ok || aws.ToString(ev.CloudTrailEvent) != raw {
				t.Errorf("event %s: unexpected or altered record", id)
			}
			if !last.IsZero() && ev.EventTime.After(last) {
				t.Errorf("not newest first at %s", id)
			}
			last = *ev.EventTime
			if ev.ReadOnly == nil || (*ev.ReadOnly != "true" && *ev.ReadOnly != "false") {
				t.Errorf("ReadOnly %v", ev.ReadOnly)
			}
		}
	}
	if len(got) != len(want) || pages != (len(want)+6)/7 {
		t.Errorf("paged %d of %d events in %d pages", len(got), len(want), pages)
	}
	t.Logf("paged %d events in %d pages in %v", len(got), pages, time.Since(start))

	// A lookup attribute, from the real data.
	out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("GetCallerIdentity")}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range out.Events {
		if aws.ToString(ev.EventName) != "GetCallerIdentity" {
			t.Errorf("EventName %s", aws.ToString(ev.EventName))
		}
	}

	// Typed errors.
	errorCases := []struct {
		name  string
		in    *cloudtrail.LookupEventsInput
		check func(error) bool
	}{
		{"bad key", &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: "Bogus", AttributeValue: aws.String("x")}}},
			func(err error) bool { var e *cttypes.InvalidLookupAttributesException; return errors.As(err, &e) }},
		{"max results", &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)},
			func(err error) bool { var e *cttypes.InvalidMaxResultsException; return errors.As(err, &e) }},
		{"time range", &cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now()), EndTime: aws.Time(time.Now().Add(-time.Hour))},
			func(err error) bool { var e *cttypes.InvalidTimeRangeException; return errors.As(err, &e) }},
		{"category", &cloudtrail.LookupEventsInput{EventCategory: "management"},
			func(err error) bool { var e *cttypes.InvalidEventCategoryException; return errors.As(err, &e) }},
		{"token", &cloudtrail.LookupEventsInput{NextToken: aws.String("forged")},
			func(err error) bool { var e *cttypes.InvalidNextTokenException; return errors.As(err, &e) }},
	}
	for _, tc := range errorCases {
		if _, err := ct.LookupEvents(ctx, tc.in); !tc.check(err) {
			t.Errorf("%s: got %T %v", tc.name, err, err)
		}
	}

	// Channels.
	cc, err := ct.CreateChannel(ctx, &cloudtrail.CreateChannelInput{
		Name: aws.String("app-events"), Source: aws.String("Custom"),
		Destinations: []cttypes.Destination{{Type: cttypes.DestinationTypeEventDataStore, Location: aws.String(edsARN)}},
		Tags:         []cttypes.Tag{{Key: aws.String("team"), Value: aws.String("sec")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(cc.ChannelArn), "arn:aws:cloudtrail:"+stratusRegion+":"+stratusAcct+":channel/") ||
		len(cc.Destinations) != 1 || len(cc.Tags) != 1 || aws.ToString(cc.Name) != "app-events" {
		t.Errorf("CreateChannel %+v", cc)
	}
	_, err = ct.CreateChannel(ctx, &cloudtrail.CreateChannelInput{Name: aws.String("app-events"), Source: aws.String("Custom"),
		Destinations: []cttypes.Destination{{Type: cttypes.DestinationTypeEventDataStore, Location: aws.String(edsARN)}}})
	if e := (*cttypes.ChannelAlreadyExistsException)(nil); !errors.As(err, &e) {
		t.Errorf("duplicate CreateChannel: %T %v", err, err)
	}
	gc, err := ct.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: cc.ChannelArn})
	if err != nil || aws.ToString(gc.Name) != "app-events" || gc.IngestionStatus == nil {
		t.Errorf("GetChannel %+v %v", gc, err)
	}
	lc, err := ct.ListChannels(ctx, &cloudtrail.ListChannelsInput{})
	if err != nil || len(lc.Channels) != 1 || aws.ToString(lc.Channels[0].ChannelArn) != aws.ToString(cc.ChannelArn) {
		t.Errorf("ListChannels %+v %v", lc, err)
	}
	_, err = ct.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String("0f5e3c2a-1111-4222-8333-444455556666")})
	if e := (*cttypes.ChannelNotFoundException)(nil); !errors.As(err, &e) {
		t.Errorf("GetChannel unknown: %T %v", err, err)
	}
	_, err = ct.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String("arn:aws:s3:::bucket")})
	if e := (*cttypes.ChannelARNInvalidException)(nil); !errors.As(err, &e) {
		t.Errorf("GetChannel bad ARN: %T %v", err, err)
	}

	// PutAuditEvents through cloudtrail-data, one entry failing.
	cd := cloudtraildata.New(cloudtraildata.Options{Region: stratusRegion, Credentials: creds(alice),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: httpClient, Retryer: aws.NopRetryer{}})
	good := eventDataFor(t, stratusAcct, "sdk-uid-1")
	in := &cloudtraildata.PutAuditEventsInput{ChannelArn: cc.ChannelArn, ExternalId: aws.String("ext-42"), AuditEvents: []cdtypes.AuditEvent{
		{Id: aws.String("one"), EventData: aws.String(good)},
		{Id: aws.String("two"), EventData: aws.String(good), EventDataChecksum: aws.String("AAAA")},
	}}
	pa, err := cd.PutAuditEvents(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(pa.Successful) != 1 || aws.ToString(pa.Successful[0].Id) != "one" || len(pa.Failed) != 1 ||
		aws.ToString(pa.Failed[0].ErrorCode) != "InvalidChecksum" {
		t.Errorf("PutAuditEvents %+v", pa)
	}
	retry, err := cd.PutAuditEvents(ctx, in)
	if err != nil || aws.ToString(retry.Successful[0].EventID) != aws.ToString(pa.Successful[0].EventID) {
		t.Errorf("retry %+v %v", retry, err)
	}
	_, err = cd.PutAuditEvents(ctx, &cloudtraildata.PutAuditEventsInput{ChannelArn: aws.String("0f5e3c2a-1111-4222-8333-444455556666"),
		AuditEvents: []cdtypes.AuditEvent{{Id: aws.String("a"), EventData: aws.String(good)}}})
	if e := (*cdtypes.ChannelNotFound)(nil); !errors.As(err, &e) {
		t.Errorf("unknown channel: %T %v", err, err)
	}
	_, err = cd.PutAuditEvents(ctx, &cloudtraildata.PutAuditEventsInput{ChannelArn: cc.ChannelArn,
		AuditEvents: []cdtypes.AuditEvent{{Id: aws.String("a"), EventData: aws.String(good)}, {Id: aws.String("a"), EventData: aws.String(good)}}})
	if e := (*cdtypes.DuplicatedAuditEventId)(nil); !errors.As(err, &e) {
		t.Errorf("duplicate ids: %T %v", err, err)
	}
	cdBob := cloudtraildata.New(cloudtraildata.Options{Region: stratusRegion, Credentials: creds(bob),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: httpClient, Retryer: aws.NopRetryer{}})
	_, err = cdBob.PutAuditEvents(ctx, &cloudtraildata.PutAuditEventsInput{ChannelArn: cc.ChannelArn,
		AuditEvents: []cdtypes.AuditEvent{{Id: aws.String("a"), EventData: aws.String(good)}}})
	if e := (*cdtypes.ChannelInsufficientPermission)(nil); !errors.As(err, &e) {
		t.Errorf("other account: %T %v", err, err)
	}

	if _, err := ct.DeleteChannel(ctx, &cloudtrail.DeleteChannelInput{Channel: cc.ChannelArn}); err != nil {
		t.Fatal(err)
	}
	_, err = ct.DeleteChannel(ctx, &cloudtrail.DeleteChannelInput{Channel: cc.ChannelArn})
	if e := (*cttypes.ChannelNotFoundException)(nil); !errors.As(err, &e) {
		t.Errorf("second DeleteChannel: %T %v", err, err)
	}

	// An error code the operation does not model still reaches the caller.
	_, err = ct.ListTrails(ctx, &cloudtrail.ListTrailsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" {
		t.Errorf("ListTrails: %T %v", err, err)
	}

	// The calls above were recorded and are visible in the event history.
	hist, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateChannel")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Events) != 2 { // the success and the duplicate
		t.Fatalf("%d CreateChannel events", len(hist.Events))
	}
	for _, ev := range hist.Events {
		if aws.ToString(ev.Username) != "alice" || aws.ToString(ev.ReadOnly) != "false" ||
			aws.ToString(ev.EventSource) != "cloudtrail.amazonaws.com" || aws.ToString(ev.AccessKeyId) != alice.AccessKeyID {
			t.Errorf("self-audit event %+v", ev)
		}
	}
	if !strings.Contains(aws.ToString(hist.Events[0].CloudTrailEvent), `"errorCode":"ChannelAlreadyExistsException"`) {
		t.Errorf("newest CreateChannel event: %s", aws.ToString(hist.Events[0].CloudTrailEvent))
	}
}

func eventDataFor(t *testing.T, account, uid string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"version": "1.0", "userIdentity": map[string]any{"type": "CustomUser", "principalId": "u-1"},
		"eventSource": "app.example.com", "eventName": "Login", "eventTime": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"UID": uid, "recipientAccountId": account,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
