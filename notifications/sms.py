"""The SMS channel's way out: segment counting and the backends that hand a text to whoever
sends it (`SMS_BACKEND`).

- `file` (the embedded default) appends one JSON line per text to `SMS_FILE_DIR/<day>.jsonl`:
  to, text, template code, params, idempotency key. Development, tests, demos.
- `console` prints each text.
- `http` POSTs to the operator's SMS platform (`SMS_HTTP_URL`) a JSON body

      {"to", "sign_name", "template_code", "params", "text", "segments", "idempotency_key"}

  signed like the webhooks (`X-Whistle-Signature: sha256=<HMAC-SHA256 of the raw body>` with
  `SMS_HTTP_SECRET`), the key also in `X-Whistle-Delivery`, within the (connect, read)
  timeouts of `SMS_HTTP_TIMEOUT`. A 2xx answer accepts the text (`{"message_id": …}` names
  it for the delivery receipt); 408, 429 and 5xx, timeouts and refused connections are
  temporary (the outbox retries with backoff); any other answer is a refusal, retried only
  when its body says `{"temporary": true}`.

Which texts are sent, when, and to whom is decided elsewhere (`notifications.sms_channel`).
"""

from __future__ import annotations

import json
import math
import sys
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import urllib3
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

# A text in Chinese (UCS-2) fits 70 characters in one SMS; a longer one is split into parts of
# 67 (the other 3 carry the concatenation header).
SINGLE = 70
PART = 67


def sms_length(text: str) -> int:
    """Characters as the network counts them: UTF-16 code units (an emoji outside the basic
    plane takes two)."""
    return len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    """How many SMS the text takes: 1 up to 70 characters, else one per 67."""
    n = sms_length(text)
    if n == 0:
        return 0
    return 1 if n <= SINGLE else math.ceil(n / PART)


@dataclass(frozen=True)
class SmsMessage:
    to: str
    text: str  # the whole text, sign name included
    template_code: str
    params: dict
    key: str  # the idempotency key: every try of one message carries the same
    sign_name: str = ""
    segments: int = field(default=0)

    def as_json(self) -> dict:
        return {
            "to": self.to,
            "sign_name": self.sign_name,
            "template_code": self.template_code,
            "params": self.params,
            "text": self.text,
            "segments": self.segments or sms_segments(self.text),
            "idempotency_key": self.key,
        }


@dataclass(frozen=True)
class SmsSent:
    """What the backend learnt: the platform's id of the message (for its receipt) and the
    HTTP status, where there is one."""

    provider_id: str = ""
    status_code: int | None = None


class SmsError(Exception):
    """The text was not accepted. `temporary`: trying again later may work."""

    def __init__(self, message: str, *, code: int | None = None, temporary: bool = True):
        super().__init__(message)
        self.message = message
        self.code = code
        self.temporary = temporary


class BaseBackend:
    def send(self, message: SmsMessage) -> SmsSent:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Prints each text (development)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> SmsSent:
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(f"SMS to {message.to} [{message.template_code}] {message.key}\n")
            stream.write(message.text + "\n" + "-" * 40 + "\n")
            stream.flush()
        return SmsSent()


class FileBackend(BaseBackend):
    """One JSON line per text in `<directory>/<YYYY-MM-DD>.jsonl` (local date)."""

    def __init__(self, directory=None) -> None:
        self.directory = directory

    def send(self, message: SmsMessage) -> SmsSent:
        from pathlib import Path

        directory = Path(self.directory or settings.SMS_FILE_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        line = {"at": timezone.localtime().isoformat(timespec="seconds"), **message.as_json()}
        data = (json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode()
        path = directory / f"{timezone.localdate().isoformat()}.jsonl"
        # One write() per line in append mode: lines of parallel relays do not interleave.
        with open(path, "ab", buffering=0) as f:
            f.write(data)
        return SmsSent()


_TEMPORARY_CODES = {408, 425, 429}
_local = threading.local()


def _pool(url: str) -> urllib3.PoolManager:
    """One pool of kept-alive connections per thread (a new TLS handshake per text would cost
    more than the text); through the environment's proxy for this address, if it names one."""
    pools = getattr(_local, "pools", None)
    if pools is None:
        pools = _local.pools = {}
    pool = pools.get(url)
    if pool is None:
        proxy = _proxy_for(url)
        kw = {"retries": False, "maxsize": 2}
        pool = urllib3.ProxyManager(proxy, **kw) if proxy else urllib3.PoolManager(**kw)
        pools[url] = pool
    return pool


def _proxy_for(url: str) -> str | None:
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    if parts.hostname and proxy_bypass(parts.hostname):
        return None
    return getproxies().get(parts.scheme)


class HttpBackend(BaseBackend):
    """The operator's SMS platform over HTTPS (see the module's docstring for the protocol)."""

    def __init__(self, url: str | None = None, secret: str | None = None, timeout=None) -> None:
        self.url = url if url is not None else settings.SMS_HTTP_URL
        self.secret = secret if secret is not None else settings.SMS_HTTP_SECRET
        self.timeout = timeout or settings.SMS_HTTP_TIMEOUT

    def send(self, message: SmsMessage) -> SmsSent:
        from .services import DELIVERY_HEADER, SIGNATURE_HEADER, sign

        if not self.url:
            raise SmsError("SMS_HTTP_URL is not set", temporary=False)
        body = json.dumps(message.as_json(), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self.secret, body),
            DELIVERY_HEADER: message.key,
            "User-Agent": "Whistle-SMS/1",
        }
        connect, read = self.timeout
        try:
            response = _pool(self.url).request(
                "POST",
                self.url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=connect, read=read),
                redirect=False,
                retries=False,
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise SmsError("timeout") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise SmsError(f"{type(exc).__name__}: {exc}") from exc
        code = response.status
        try:
            answer = json.loads(response.data or b"{}")
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if 200 <= code < 300:
            return SmsSent(provider_id=str(answer.get("message_id") or "")[:64], status_code=code)
        reason = str(answer.get("error") or answer.get("message") or "")[:200]
        temporary = code >= 500 or code in _TEMPORARY_CODES or answer.get("temporary") is True
        raise SmsError(
            f"HTTP {code}" + (f": {reason}" if reason else ""), code=code, temporary=temporary
        )


BACKENDS = {
    "console": ConsoleBackend,
    "file": FileBackend,
    "http": HttpBackend,
}


@lru_cache(maxsize=4)
def _backend_class(name: str) -> type[BaseBackend]:
    return BACKENDS.get(name) or import_string(name)


def get_backend() -> BaseBackend:
    """The backend `SMS_BACKEND` names (a short name or a dotted path), configured from the
    current settings."""
    return _backend_class(settings.SMS_BACKEND)()
