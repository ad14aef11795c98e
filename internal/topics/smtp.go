// E-mail delivery over SMTP.

package topics

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sendEmail delivers a message (or a subscription confirmation) to an
// email or email-json subscription.
func (d *deliveries) sendEmail(ctx context.Context, j *job) outcome {
	var subject, body string
	switch {
	case j.msg.kind == kindConfirmation:
		subject = "Subscription confirmation for " + j.topic.ARN
		body = fmt.Sprintf("You have chosen to subscribe to the topic:\n%s\n\nTo confirm this subscription, click or visit the link below (if this was in error no action is necessary):\n%s\n",
			j.msg.topicARN, d.topics.subscribeURL(j.msg.topicARN, j.sub.Token))
	case j.sub.Protocol == ProtoEmailJSON:
		doc, err := d.topics.build(&j.msg, &j.sub, j.topic.Attrs["SignatureVersion"])
		if err != nil {
			return outcome{err: err.Error()}
		}
		subject, body = j.msg.subject, string(doc)
	default:
		subject = j.msg.subject
		body = j.msg.message + "\n\n--\nTo stop receiving these messages, unsubscribe: " + d.topics.publicURL() + UnsubscribePath +
			"?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(j.sub.ARN) + "\n"
	}
	if subject == "" {
		subject = "Notification from " + j.topic.ARN
	}
	err := d.sendMail(ctx, j.sub.Endpoint, subject, body)
	if err == nil {
		return outcome{}
	}
	o := outcome{err: err.Error()}
	var te *textproto.Error
	if errors.As(err, &te) {
		o.code = te.Code
		o.permanent = te.Code >= 500 && te.Code < 600 && te.Code != 554 // 5xx but a transaction failure: permanent
	}
	return o
}

// smtpSend sends one mail through the configured server.
func (d *deliveries) smtpSend(ctx context.Context, to, subject, body string) error {
	cfg := d.cfg.SMTP
	if cfg.Host == "" {
		return errors.New("e-mail delivery is not configured (notifications.smtp.host)")
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP server %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("SMTP HELO: %w", err)
	}
	if cfg.StartTLS {
		if err := c.StartTLS(&tls.Config{ServerName: cfg.Host}); err != nil {
			return fmt.Errorf("SMTP STARTTLS: %w", err)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return fmt.Errorf("SMTP AUTH: %w", err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("SMTP RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	msg := "From: " + cfg.From + "\r\nTo: " + to + "\r\nSubject: " + mime.QEncoding.Encode("utf-8", subject) +
		"\r\nDate: " + d.now().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n" + strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	return c.Quit()
}
