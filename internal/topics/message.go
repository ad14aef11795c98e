// The SNS message document delivered to HTTP/HTTPS and email-json
// endpoints, and its signature.

package topics

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"
)

// Paths opentrail serves without SigV4 for subscribers (Handler): the
// signing certificate, the SubscribeURL and the UnsubscribeURL.
const (
	PublicPrefix    = "/_opentrail/sns/"
	CertPath        = PublicPrefix + "cert.pem"
	ConfirmPath     = PublicPrefix + "confirm"
	UnsubscribePath = PublicPrefix + "unsubscribe"
)

// timestampLayout is SNS's Timestamp format.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// messageAttr is a MessageAttributes member of the message document.
type messageAttr struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// document is the JSON body SNS POSTs, members in SNS's order.
type document struct {
	Type              string                 `json:"Type"`
	MessageID         string                 `json:"MessageId"`
	Token             string                 `json:"Token,omitempty"`
	TopicArn          string                 `json:"TopicArn"`
	Subject           string                 `json:"Subject,omitempty"`
	Message           string                 `json:"Message"`
	SubscribeURL      string                 `json:"SubscribeURL,omitempty"`
	Timestamp         string                 `json:"Timestamp"`
	SignatureVersion  string                 `json:"SignatureVersion"`
	Signature         string                 `json:"Signature"`
	SigningCertURL    string                 `json:"SigningCertURL"`
	UnsubscribeURL    string                 `json:"UnsubscribeURL,omitempty"`
	MessageAttributes map[string]messageAttr `json:"MessageAttributes,omitempty"`
}

// StringToSign is SNS's canonical string of a message document: the
// name and value of each signed member on its own line, in order;
// Subject only when present.
func StringToSign(typ, messageID, token, topicARN, subject, message, subscribeURL, timestamp string) string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", message)
	add("MessageId", messageID)
	if typ == kindNotification {
		if subject != "" {
			add("Subject", subject)
		}
	} else {
		add("SubscribeURL", subscribeURL)
	}
	add("Timestamp", timestamp)
	if typ != kindNotification {
		add("Token", token)
	}
	add("TopicArn", topicARN)
	add("Type", typ)
	return b.String()
}

// sign returns the base64 RSA PKCS#1 v1.5 signature of s: SHA1 for
// SignatureVersion 1, SHA256 for 2.
func (t *Topics) sign(version, s string) (string, error) {
	var sig []byte
	var err error
	if version == "2" {
		h := sha256.Sum256([]byte(s))
		sig, err = rsa.SignPKCS1v15(rand.Reader, t.key, crypto.SHA256, h[:])
	} else {
		h := sha1.Sum([]byte(s))
		sig, err = rsa.SignPKCS1v15(rand.Reader, t.key, crypto.SHA1, h[:])
	}
	if err != nil {
		return "", fmt.Errorf("sign message: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// build returns the signed message document of m for subscription s.
func (t *Topics) build(m *message, s *Subscription, sigVersion string) ([]byte, error) {
	if sigVersion != "2" {
		sigVersion = "1"
	}
	d := document{Type: m.kind, MessageID: m.id, TopicArn: m.topicARN, Message: m.message,
		Timestamp: m.created.UTC().Format(timestampLayout), SignatureVersion: sigVersion, SigningCertURL: t.publicURL() + CertPath}
	if m.kind == kindNotification {
		d.Subject = m.subject
		d.UnsubscribeURL = t.publicURL() + UnsubscribePath + "?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(s.ARN)
		for k, a := range m.attrs {
			v := a.StringValue
			if strings.HasPrefix(a.DataType, "Binary") {
				v = base64.StdEncoding.EncodeToString(a.BinaryValue)
			}
			if d.MessageAttributes == nil {
				d.MessageAttributes = map[string]messageAttr{}
			}
			d.MessageAttributes[k] = messageAttr{Type: a.DataType, Value: v}
		}
	} else {
		d.Token = s.Token
		d.SubscribeURL = t.subscribeURL(m.topicARN, s.Token)
	}
	sig, err := t.sign(sigVersion, StringToSign(d.Type, d.MessageID, d.Token, d.TopicArn, d.Subject, d.Message, d.SubscribeURL, d.Timestamp))
	if err != nil {
		return nil, err
	}
	d.Signature = sig
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&d); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func (t *Topics) subscribeURL(topicARN, token string) string {
	return t.publicURL() + ConfirmPath + "?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(topicARN) + "&Token=" + token
}

// CertificatePEM returns the signing certificate served at CertPath.
func (t *Topics) CertificatePEM() []byte { return t.certPEM }

// loadSigner reads the signing key and certificate, or makes and stores
// them on the first start.
func (t *Topics) loadSigner(ctx context.Context) error {
	var keyPEM, certPEM string
	err := t.db.QueryRowContext(ctx, `SELECT key_pem, cert_pem FROM sns_signing WHERE id = 1`).Scan(&keyPEM, &certPEM)
	if errors.Is(err, sql.ErrNoRows) {
		keyPEM, certPEM, err = t.newSigner()
		if err != nil {
			return err
		}
		if _, err := t.db.ExecContext(ctx, `INSERT INTO sns_signing (id, key_pem, cert_pem) VALUES (1, ?, ?)`, keyPEM, certPEM); err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("read signing key: %w", err)
	}
	kb, _ := pem.Decode([]byte(keyPEM))
	cb, _ := pem.Decode([]byte(certPEM))
	if kb == nil || cb == nil {
		return errors.New("read signing key: the stored key or certificate is not PEM")
	}
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return fmt.Errorf("read signing key: %w", err)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return fmt.Errorf("read signing certificate: %w", err)
	}
	t.key, t.cert, t.certPEM = key, cert, []byte(certPEM)
	return nil
}

func (t *Topics) newSigner() (string, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", fmt.Errorf("make signing key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	now := t.now()
	host := t.publicURL()
	if u, err := url.Parse(host); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host, Organization: []string{"opentrail notifications"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(20, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     []string{host},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("make signing certificate: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}
