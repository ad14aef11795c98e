package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// The server's event store, shown as CloudTrail Lake's one event data
// store: ListEventDataStores and GetEventDataStore describe it, so that a
// script that looks up its event data store before querying finds the id
// to put in FROM. Its id is made once and kept in the store, so it
// survives restarts; its ARN carries the caller's account and the region
// the call was signed for, as every region's calls reach the same events.

const (
	codeEventDataStoreNotFound = "EventDataStoreNotFoundException"

	edsMetaKey = "lake/event-data-store"
	edsName    = "opentrail"
	edsEnabled = "ENABLED"
)

// edsIdentity is what the store keeps of the event data store.
type edsIdentity struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// edsCache holds the identity once read. The zero value is ready.
type edsCache struct {
	mu sync.Mutex
	id *edsIdentity
}

// eventDataStore returns the store's event data store identity, making
// and saving it on first use.
func (s *Service) eventDataStore(ctx context.Context) (edsIdentity, error) {
	st := s.meta
	if st == nil {
		return edsIdentity{}, awsapi.NewError(codeUnsupportedOperation, "Event data stores are not available on this server.")
	}
	c := &s.eds
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id != nil {
		return *c.id, nil
	}
	var id edsIdentity
	b, err := st.Meta(ctx, edsMetaKey)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &id); err != nil || !query.IsEventDataStoreID(id.ID) {
			return edsIdentity{}, fmt.Errorf("event data store identity in the store is damaged: %q", b)
		}
	case errors.Is(err, store.ErrNotFound):
		id = edsIdentity{ID: awsapi.NewUUID(), Created: s.now().UTC().Truncate(time.Second)}
		b, _ := json.Marshal(id)
		if err := st.SetMeta(ctx, edsMetaKey, b); err != nil {
			return edsIdentity{}, err
		}
	default:
		return edsIdentity{}, err
	}
	c.id = &id
	return id, nil
}

// EventDataStore is one entry of ListEventDataStores, and the shape of
// GetEventDataStore's response.
type EventDataStore struct {
	EventDataStoreArn            string
	Name                         string
	Status                       string
	AdvancedEventSelectors       []trail.AdvancedEventSelector
	MultiRegionEnabled           bool
	OrganizationEnabled          bool
	RetentionPeriod              *int `json:",omitempty"`
	TerminationProtectionEnabled bool
	CreatedTimestamp             awsapi.Time
	UpdatedTimestamp             awsapi.Time
}

// describeEDS describes the event data store to caller c.
func (s *Service) describeEDS(c *awsapi.Caller, id edsIdentity) EventDataStore {
	d := EventDataStore{
		EventDataStoreArn: cloudtrailarn.EventDataStore(c.Region, c.Principal.AccountID, id.ID),
		Name:              edsName,
		Status:            edsEnabled,
		// It holds every category opentrail stores.
		AdvancedEventSelectors: []trail.AdvancedEventSelector{{
			Name: "Every event opentrail stores",
			FieldSelectors: []trail.AdvancedFieldSelector{{
				Field:  "eventCategory",
				Equals: []string{event.CategoryManagement, event.CategoryData, event.CategoryInsight, "ActivityAuditLog"},
			}},
		}},
		MultiRegionEnabled:           true,
		OrganizationEnabled:          c.Principal.Management,
		TerminationProtectionEnabled: true,
		CreatedTimestamp:             awsapi.Time{Time: id.Created},
		UpdatedTimestamp:             awsapi.Time{Time: id.Created},
	}
	if days := int(s.opts.StoreRetention / (24 * time.Hour)); days > 0 {
		d.RetentionPeriod = &days
	}
	return d
}

// ListEventDataStoresInput is ListEventDataStores' request.
type ListEventDataStoresInput struct {
	NextToken  string
	MaxResults *int
}

// ListEventDataStoresOutput is ListEventDataStores' response.
type ListEventDataStoresOutput struct {
	EventDataStores []EventDataStore
	NextToken       string `json:",omitempty"`
}

// ListEventDataStores lists the one event data store. There is never a
// second page, so any NextToken is invalid.
func (s *Service) ListEventDataStores(ctx context.Context, in *ListEventDataStoresInput) (*ListEventDataStoresOutput, error) {
	c, _, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 1000) {
		return nil, awsapi.Errorf(codeInvalidMaxResults, "MaxResults must be between 1 and 1000; got %d.", *in.MaxResults)
	}
	if in.NextToken != "" {
		return nil, awsapi.NewError(codeInvalidNextToken, "The NextToken is not valid: there is only one event data store, so there is no next page.")
	}
	id, err := s.eventDataStore(ctx)
	if err != nil {
		return nil, err
	}
	return &ListEventDataStoresOutput{EventDataStores: []EventDataStore{s.describeEDS(c, id)}}, nil
}

// GetEventDataStoreInput is GetEventDataStore's request.
type GetEventDataStoreInput struct {
	EventDataStore string
}

// GetEventDataStore describes the event data store named by its ARN or id.
func (s *Service) GetEventDataStore(ctx context.Context, in *GetEventDataStoreInput) (*EventDataStore, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	ref := in.EventDataStore
	if ref == "" {
		return nil, awsapi.NewError(codeInvalidParameter, "EventDataStore is required.")
	}
	if n := len(ref); n < 3 || n > 256 || !allRunes(ref, cloudtrailarn.IsARNChar) {
		return nil, awsapi.Errorf(codeEventDataStoreARN, "%q is not a valid event data store ARN or ID.", awsapi.Clip(ref, 128))
	}
	want, account := ref, p.AccountID
	if strings.HasPrefix(ref, "arn:") {
		a, err := cloudtrailarn.Parse(ref, "eventdatastore")
		if err != nil {
			return nil, awsapi.Errorf(codeEventDataStoreARN, "%q is not a valid event data store ARN.", awsapi.Clip(ref, 128))
		}
		want, account = a.ID, a.Account
	}
	id, err := s.eventDataStore(ctx)
	if err != nil {
		return nil, err
	}
	if account != p.AccountID || !strings.EqualFold(want, id.ID) {
		return nil, awsapi.NewError(codeEventDataStoreNotFound, "The event data store was not found.")
	}
	d := s.describeEDS(c, id)
	return &d, nil
}
