// The unauthenticated endpoints subscribers reach: the signing
// certificate, the SubscribeURL and the UnsubscribeURL.

package topics

import (
	"encoding/xml"
	"errors"
	"net/http"
)

const xmlns = "http://sns.amazonaws.com/doc/2010-03-31/"

// Handler serves GET CertPath, ConfirmPath and UnsubscribePath. The
// server routes PublicPrefix to it without SigV4: the certificate is
// public, a confirmation needs the token sent to the endpoint, and an
// unsubscription the subscription's ARN (which holds a random UUID), as
// SNS's own links.
func (t *Topics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CertPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(t.certPEM)
	})
	mux.HandleFunc("GET "+ConfirmPath, func(w http.ResponseWriter, r *http.Request) {
		arn, err := t.ConfirmSubscription(r.Context(), r.URL.Query().Get("TopicArn"), r.URL.Query().Get("Token"), false)
		if err != nil {
			writeXMLError(w, err)
			return
		}
		writeXML(w, struct {
			XMLName xml.Name `xml:"ConfirmSubscriptionResponse"`
			NS      string   `xml:"xmlns,attr"`
			ARN     string   `xml:"ConfirmSubscriptionResult>SubscriptionArn"`
			ReqID   string   `xml:"ResponseMetadata>RequestId"`
		}{NS: xmlns, ARN: arn, ReqID: newUUID()})
	})
	mux.HandleFunc("GET "+UnsubscribePath, func(w http.ResponseWriter, r *http.Request) {
		arn := r.URL.Query().Get("SubscriptionArn")
		subs, err := t.subscriptions(r.Context(), `arn = ?`, arn)
		if err == nil && len(subs) == 1 && subs[0].Attrs["AuthenticateOnUnsubscribe"] == "true" {
			err = &Error{Code: "AuthorizationError", Status: http.StatusForbidden,
				Message: "This subscription requires an authenticated Unsubscribe call; use aws sns unsubscribe"}
		}
		if err == nil {
			err = t.unsubscribe(r.Context(), arn)
		}
		if err != nil {
			writeXMLError(w, err)
			return
		}
		writeXML(w, struct {
			XMLName xml.Name `xml:"UnsubscribeResponse"`
			NS      string   `xml:"xmlns,attr"`
			ReqID   string   `xml:"ResponseMetadata>RequestId"`
		}{NS: xmlns, ReqID: newUUID()})
	})
	return mux
}

func writeXML(w http.ResponseWriter, v any) {
	b, _ := xml.Marshal(v)
	w.Header().Set("Content-Type", "text/xml")
	w.Write(append([]byte(xml.Header), b...))
}

func writeXMLError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: "InternalError", Message: "The request could not be completed; try again.", Status: http.StatusInternalServerError}
	}
	b, _ := xml.Marshal(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		NS      string   `xml:"xmlns,attr"`
		Type    string   `xml:"Error>Type"`
		Code    string   `xml:"Error>Code"`
		Message string   `xml:"Error>Message"`
		ReqID   string   `xml:"RequestId"`
	}{NS: xmlns, Type: "Sender", Code: e.Code, Message: e.Message, ReqID: newUUID()})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	w.Write(append([]byte(xml.Header), b...))
}
