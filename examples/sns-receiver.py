#!/usr/bin/env python3
"""An HTTP endpoint for SNS subscriptions, for trying `opentrail cis`.

    python3 examples/sns-receiver.py 127.0.0.1:4748

It confirms a subscription by visiting the SubscribeURL of the
SubscriptionConfirmation message, and prints every notification's subject
and message, one line each, flushed at once. Python's standard library only.
"""
import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            msg = json.loads(body)
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        if msg.get("Type") == "SubscriptionConfirmation":
            urllib.request.urlopen(msg["SubscribeURL"]).read()
            print("confirmed subscription to", msg.get("TopicArn"), flush=True)
        elif msg.get("Type") == "Notification":
            print(msg.get("Subject") or "(no subject)", "|", msg.get("Message"), flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:4748").rpartition(":")
    HTTPServer((host or "127.0.0.1", int(port)), Receiver).serve_forever()
