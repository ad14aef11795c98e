package cloudtrail

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
	ctdata "github.com/opentrail/opentrail/internal/cloudtraildata"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/servicetest"
)

// storeAuditor feeds self-audit records into the store, as the server's
// auditor does through group commit.
type storeAuditor struct {
	t  *testing.T
	st *servicetest.Store
}

func (a *storeAuditor) Audit(rec []byte) {
	r, err := event.Parse(rec)
	if err != nil {
		a.t.Errorf("self-audit record does not parse: %v\n%s", err, rec)
		return
	}
	a.st.Add(r)
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
	st := servicetest.NewStore()
	ing := &servicetest.Ingester{Store: st, Source: ctdata.SourcePutAuditEvents}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Logger: quiet,
		Options: Options{Retention: 20 * 365 * 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	aud := &storeAuditor{t: t, st: st}
	ctRouter := awsapi.NewRouter("cloudtrail", aud, quiet)
	svc.Register(ctRouter)
	dataRouter := awsapi.NewRESTRouter("cloudtrail-data", aud, quiet)
	data, err := ctdata.New(ctdata.Config{Channels: st, Ingester: ing, Status: svc, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	data.Register(dataRouter)

	const stratusAcct, stratusRegion = "056392974792", "sagov-westsouth-1r"
	alice := servicetest.Principal(stratusAcct)
	bob := servicetest.Principal(servicetest.AcctB)
	srv := testServer(t, map[string]*auth.Principal{alice.AccessKeyID: alice, bob.AccessKeyID: bob}, ctRouter, dataRouter)

	recs := loadStratus(t)
	st.Add(recs...)
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
		Destinations: []cttypes.Destination{{Type: cttypes.DestinationTypeEventDataStore, Location: aws.String(servicetest.EDSARN)}},
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
		Destinations: []cttypes.Destination{{Type: cttypes.DestinationTypeEventDataStore, Location: aws.String(servicetest.EDSARN)}}})
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
	_, err = ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("second")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" {
		t.Errorf("CreateEventDataStore: %T %v", err, err)
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

// TestSDKTrails drives the trail control plane with the real
// aws-sdk-go-v2 client: every response parses and errors arrive typed.
func TestSDKTrails(t *testing.T) {
	ctx := context.Background()
	st := servicetest.NewStore()
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctRouter := awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(ctRouter)
	alice, bob := servicetest.Principal(servicetest.AcctA), servicetest.Principal(servicetest.AcctB)
	srv := testServer(t, map[string]*auth.Principal{alice.AccessKeyID: alice, bob.AccessKeyID: bob}, ctRouter, awsapi.NewRESTRouter("cloudtrail-data", nil, quiet))
	client := func(p *auth.Principal, region string) *cloudtrail.Client {
		return cloudtrail.New(cloudtrail.Options{Region: region,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: "secret"}, nil
			}),
			BaseEndpoint: aws.String(srv.URL), HTTPClient: &http.Client{Transport: bufferedBody{srv.Client().Transport}},
			Retryer: aws.NopRetryer{}})
	}
	ct := client(alice, servicetest.RegionA)

	created, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{
		Name: aws.String("sdk-trail"), S3BucketName: aws.String("audit-logs"), S3KeyPrefix: aws.String("org"),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true),
		TagsList: []cttypes.Tag{{Key: aws.String("team"), Value: aws.String("sec")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.TrailARN)
	if arn != "arn:aws:cloudtrail:eu-central-1:210987654321:trail/sdk-trail" || !aws.ToBool(created.LogFileValidationEnabled) ||
		!aws.ToBool(created.IsMultiRegionTrail) || aws.ToString(created.S3KeyPrefix) != "org" {
		t.Errorf("create: %+v", created)
	}

	// The multi-region trail shows in another region with its home region.
	desc, err := client(alice, servicetest.RegionB).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{TrailNameList: []string{"sdk-trail"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.TrailList) != 1 || aws.ToString(desc.TrailList[0].HomeRegion) != servicetest.RegionA || aws.ToString(desc.TrailList[0].TrailARN) != arn {
		t.Errorf("describe from %s: %+v", servicetest.RegionB, desc.TrailList)
	}
	got, err := ct.GetTrail(ctx, &cloudtrail.GetTrailInput{Name: aws.String(arn)})
	if err != nil || aws.ToString(got.Trail.Name) != "sdk-trail" || aws.ToBool(got.Trail.HasCustomEventSelectors) {
		t.Errorf("get: %+v %v", got, err)
	}
	pager := cloudtrail.NewListTrailsPaginator(ct, &cloudtrail.ListTrailsInput{})
	var listed []string
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Trails {
			listed = append(listed, aws.ToString(s.TrailARN))
		}
	}
	if len(listed) != 1 || listed[0] != arn {
		t.Errorf("list: %v", listed)
	}

	status, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("sdk-trail")})
	if err != nil || aws.ToBool(status.IsLogging) || status.StartLoggingTime != nil {
		t.Errorf("status of new trail: %+v %v", status, err)
	}
	before := time.Now().Add(-time.Second)
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("sdk-trail")}); err != nil {
		t.Fatal(err)
	}
	status, err = ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(arn)})
	if err != nil || !aws.ToBool(status.IsLogging) || status.StartLoggingTime == nil || status.StartLoggingTime.Before(before) ||
		aws.ToString(status.TimeLoggingStarted) != status.StartLoggingTime.UTC().Format("2006-01-02T15:04:05Z") {
		t.Errorf("status after start: %+v %v", status, err)
	}
	if _, err := ct.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("sdk-trail")}); err != nil {
		t.Fatal(err)
	}
	status, err = ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(arn)})
	if err != nil || aws.ToBool(status.IsLogging) || status.StopLoggingTime == nil {
		t.Errorf("status after stop: %+v %v", status, err)
	}
	var home *cttypes.InvalidHomeRegionException
	if _, err := client(alice, servicetest.RegionB).StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("sdk-trail")}); !errors.As(err, &home) {
		t.Errorf("stop from another region: %v", err)
	}

	sel, err := ct.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String("sdk-trail")})
	if err != nil || len(sel.EventSelectors) != 1 || sel.EventSelectors[0].ReadWriteType != cttypes.ReadWriteTypeAll ||
		!aws.ToBool(sel.EventSelectors[0].IncludeManagementEvents) {
		t.Errorf("default selectors: %+v %v", sel, err)
	}
	put, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("sdk-trail"),
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{Name: aws.String("s3 writes"), FieldSelectors: []cttypes.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
			{Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}},
			{Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::audit-logs/"}},
		}}}})
	if err != nil || aws.ToString(put.TrailARN) != arn || len(put.AdvancedEventSelectors) != 1 || len(put.EventSelectors) != 0 {
		t.Errorf("put advanced: %+v %v", put, err)
	}
	sel, err = ct.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String(arn)})
	if err != nil || len(sel.AdvancedEventSelectors) != 1 || len(sel.AdvancedEventSelectors[0].FieldSelectors) != 3 ||
		sel.AdvancedEventSelectors[0].FieldSelectors[2].StartsWith[0] != "arn:aws:s3:::audit-logs/" {
		t.Errorf("get advanced: %+v %v", sel, err)
	}
	var badSel *cttypes.InvalidEventSelectorsException
	_, err = ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("sdk-trail"),
		EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeReadOnly}},
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"Management"}}}}}})
	if !errors.As(err, &badSel) {
		t.Errorf("both selector kinds: %v", err)
	}
	var noInsights *cttypes.InsightNotEnabledException
	if _, err := ct.GetInsightSelectors(ctx, &cloudtrail.GetInsightSelectorsInput{TrailName: aws.String("sdk-trail")}); !errors.As(err, &noInsights) {
		t.Errorf("insights before put: %v", err)
	}
	if _, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("sdk-trail"),
		InsightSelectors: []cttypes.InsightSelector{{InsightType: cttypes.InsightTypeApiCallRateInsight}}}); err != nil {
		t.Fatal(err)
	}
	ins, err := ct.GetInsightSelectors(ctx, &cloudtrail.GetInsightSelectorsInput{TrailName: aws.String("sdk-trail")})
	if err != nil || len(ins.InsightSelectors) != 1 || ins.InsightSelectors[0].InsightType != cttypes.InsightTypeApiCallRateInsight {
		t.Errorf("insights: %+v %v", ins, err)
	}

	if _, err := ct.AddTags(ctx, &cloudtrail.AddTagsInput{ResourceId: aws.String(arn),
		TagsList: []cttypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.RemoveTags(ctx, &cloudtrail.RemoveTagsInput{ResourceId: aws.String(arn),
		TagsList: []cttypes.Tag{{Key: aws.String("team")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := ct.ListTags(ctx, &cloudtrail.ListTagsInput{ResourceIdList: []string{arn}})
	if err != nil || len(tags.ResourceTagList) != 1 || len(tags.ResourceTagList[0].TagsList) != 1 ||
		aws.ToString(tags.ResourceTagList[0].TagsList[0].Key) != "env" || aws.ToString(tags.ResourceTagList[0].TagsList[0].Value) != "prod" {
		t.Errorf("tags: %+v %v", tags, err)
	}

	var badName *cttypes.InvalidTrailNameException
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("-bad"), S3BucketName: aws.String("b-1")}); !errors.As(err, &badName) {
		t.Errorf("bad name: %v", err)
	}
	var exists *cttypes.TrailAlreadyExistsException
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("sdk-trail"), S3BucketName: aws.String("b-1")}); !errors.As(err, &exists) {
		t.Errorf("duplicate: %v", err)
	}
	var badARN *cttypes.CloudTrailARNInvalidException
	if _, err := ct.GetTrail(ctx, &cloudtrail.GetTrailInput{Name: aws.String("arn:aws:cloudtrail:x")}); !errors.As(err, &badARN) {
		t.Errorf("bad ARN: %v", err)
	}
	var notFound *cttypes.TrailNotFoundException
	if _, err := client(bob, servicetest.RegionA).GetTrail(ctx, &cloudtrail.GetTrailInput{Name: aws.String(arn)}); !errors.As(err, &notFound) {
		t.Errorf("other account: %v", err)
	} else if want := "Unknown trail: " + arn + " for the user: " + servicetest.AcctB; notFound.ErrorMessage() != want {
		t.Errorf("message %q, want %q", notFound.ErrorMessage(), want)
	}

	if _, err := ct.DeleteTrail(ctx, &cloudtrail.DeleteTrailInput{Name: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("sdk-trail")}); !errors.As(err, &notFound) {
		t.Errorf("after delete: %v", err)
	}
}
