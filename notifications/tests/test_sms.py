"""SMS backends, chosen by settings.SMS_BACKEND like Django's email backends."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from notifications import sms
from notifications.sms import SmsMessage, get_connection, send_sms
from notifications.sms.backends import console, file, locmem, webhook

TEXT = SmsMessage(to="+15550001", body="Hi Jane, this is Alan.", from_name="Alan Agent")


@pytest.fixture
def gateway():
    """A tiny SMS gateway on 127.0.0.1: records requests, answers with `gateway.status`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            server.received.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "json": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(server.status)
            if server.status in (301, 302, 307):
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.received, server.status = [], 202
    server.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_get_connection_follows_the_setting(settings):
    settings.SMS_BACKEND = "notifications.sms.backends.console.SmsBackend"
    assert isinstance(get_connection(), console.SmsBackend)
    settings.SMS_BACKEND = "notifications.sms.backends.locmem.SmsBackend"
    assert isinstance(get_connection(), locmem.SmsBackend)


def test_locmem_backend_keeps_texts_in_the_outbox(sms_outbox):
    assert send_sms("+1555", "hello", from_name="Alan") == 1
    assert sms.outbox == [SmsMessage(to="+1555", body="hello", from_name="Alan")]


def test_console_backend_writes_the_text_to_its_stream():
    stream = io.StringIO()
    assert console.SmsBackend(stream=stream).send_messages([TEXT]) == 1
    out = stream.getvalue()
    assert "SMS to +15550001 from Alan Agent" in out
    assert "Hi Jane, this is Alan." in out
    assert console.SmsBackend(stream=stream).send_messages([]) == 0


def test_file_backend_writes_one_file_per_connection(tmp_path, settings):
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    backend = file.SmsBackend()
    assert backend.send_messages([TEXT, TEXT]) == 2
    [written] = (tmp_path / "sms").iterdir()
    assert written.read_text().count("SMS to +15550001") == 2


def test_file_backend_needs_a_path(settings):
    settings.SMS_FILE_PATH = ""
    with pytest.raises(ImproperlyConfigured):
        file.SmsBackend()


def test_webhook_backend_posts_json_with_the_bearer_token(gateway, settings):
    settings.SMS_WEBHOOK_URL = gateway.url
    settings.SMS_WEBHOOK_TOKEN = "s3cret"
    settings.SMS_BACKEND = "notifications.sms.backends.webhook.SmsBackend"
    assert send_sms(TEXT.to, TEXT.body, from_name=TEXT.from_name) == 1
    [request] = gateway.received
    assert request["path"] == "/sms/send"
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["json"] == {"to": "+15550001", "body": TEXT.body, "from_name": "Alan Agent"}


@pytest.mark.parametrize("status", [400, 401, 500, 503, 302])
def test_webhook_backend_raises_on_anything_but_2xx(gateway, status):
    gateway.status = status
    backend = webhook.SmsBackend(url=gateway.url, token="t", timeout=5)
    with pytest.raises(webhook.SmsDeliveryError, match=f"HTTP {status}"):
        backend.send_messages([TEXT])
    assert len(gateway.received) == 1  # a redirect is not followed


def test_webhook_backend_fail_silently_counts_only_sent_texts(gateway):
    gateway.status = 500
    backend = webhook.SmsBackend(url=gateway.url, token="t", fail_silently=True)
    assert backend.send_messages([TEXT, TEXT]) == 0


def test_webhook_backend_raises_when_the_gateway_is_unreachable(gateway):
    url = gateway.url
    gateway.shutdown()
    gateway.server_close()
    with pytest.raises(webhook.SmsDeliveryError, match="unreachable"):
        webhook.SmsBackend(url=url, token="", timeout=2).send_messages([TEXT])


def test_webhook_backend_needs_an_http_url(settings):
    settings.SMS_WEBHOOK_URL = ""
    with pytest.raises(ImproperlyConfigured):
        webhook.SmsBackend()
    with pytest.raises(ImproperlyConfigured):
        webhook.SmsBackend(url="file:///etc/passwd")


def test_welcome_text_goes_through_the_webhook_and_a_failure_is_retried(
    team, agent, gateway, settings, django_capture_on_commit_callbacks
):
    from notifications.models import Kind, OutboxMessage, Status
    from routing.tests.helpers import new_contact, rule

    settings.SMS_BACKEND = "notifications.sms.backends.webhook.SmsBackend"
    settings.SMS_WEBHOOK_URL, settings.SMS_WEBHOOK_TOKEN = gateway.url, "tok"
    gateway.status = 503
    rule(team, "Agent", agent)
    contact = new_contact(team, django_capture_on_commit_callbacks, phone="+15557777")
    text = OutboxMessage.objects.get(contact=contact, kind=Kind.WELCOME_TEXT)
    assert (text.status, text.attempts) == (Status.PENDING, 1)
    assert text.last_error == "SmsDeliveryError: SMS webhook answered HTTP 503"
    gateway.status = 200
    from notifications.services import message_deliver

    assert message_deliver(message_id=text.pk, now=text.next_attempt_at) == Status.SENT
    assert [r["json"]["to"] for r in gateway.received] == ["+15557777", "+15557777"]
