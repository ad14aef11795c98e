package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/store"
)

func TestTrailsCRUDAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const acct, other = "111122223333", "444455556666"
	mk := func(account, region, name, doc string) store.Trail {
		return store.Trail{
			ARN:  "arn:aws:cloudtrail:" + region + ":" + account + ":trail/" + name,
			Name: name, Account: account, HomeRegion: region, Doc: []byte(doc),
			Created: base, Updated: base,
		}
	}
	a := mk(acct, "us-east-1", "audit", `{"S3BucketName":"b1"}`)
	b := mk(acct, "eu-west-1", "audit", `{"S3BucketName":"b2"}`)
	c := mk(other, "us-east-1", "audit", `{"S3BucketName":"b3"}`)
	for _, tr := range []store.Trail{a, b, c} {
		if err := s.CreateTrail(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateTrail(ctx, a); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate create: %v, want ErrExists", err)
	}
	got, err := s.GetTrail(ctx, a.ARN)
	if err != nil || got.Name != "audit" || got.Account != acct || got.HomeRegion != "us-east-1" ||
		string(got.Doc) != `{"S3BucketName":"b1"}` || !got.Created.Equal(base) {
		t.Errorf("get: %+v %v", got, err)
	}
	if _, err := s.GetTrail(ctx, "arn:aws:cloudtrail:us-east-1:111122223333:trail/none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}
	list, err := s.ListTrails(ctx, acct)
	if err != nil || len(list) != 2 || list[0].ARN != b.ARN || list[1].ARN != a.ARN {
		t.Errorf("list: %+v %v", list, err)
	}

	later := base.Add(time.Hour)
	upd := a
	upd.Doc, upd.Updated = []byte(`{"S3BucketName":"b9"}`), later
	if err := s.UpdateTrail(ctx, upd); err != nil {
		t.Fatal(err)
	}
	missing := mk(acct, "us-west-2", "nope", `{}`)
	if err := s.UpdateTrail(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
	if err := s.DeleteTrail(ctx, b.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTrail(ctx, b.ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	got, err = s.GetTrail(ctx, a.ARN)
	if err != nil || string(got.Doc) != `{"S3BucketName":"b9"}` || !got.Updated.Equal(later) || !got.Created.Equal(base) {
		t.Errorf("after reopen: %+v %v", got, err)
	}
	list, err = s.ListTrails(ctx, acct)
	if err != nil || len(list) != 1 {
		t.Errorf("list after reopen: %+v %v", list, err)
	}
	list, err = s.ListTrails(ctx, other)
	if err != nil || len(list) != 1 || list[0].ARN != c.ARN {
		t.Errorf("other account: %+v %v", list, err)
	}
}
