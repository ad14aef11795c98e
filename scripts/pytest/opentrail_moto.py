"""pytest plugin: run moto's CloudTrail tests against a real opentrail server.

Loaded by scripts/moto with `-p opentrail_moto`. Each test gets its own
`opentrail serve` on a free loopback port with a fresh data directory
(the tests reuse trail and bucket names, and opentrail has no reset API).
moto runs in server mode, so every boto3 client its decorator makes talks
to that server, signing with moto's default credentials, which the server's
configuration gives to account 123456789012, the management account of an
organisation.

Tests listed as exempt in docs/api-coverage.md (OPENTRAIL_MOTO_EXEMPT_DOC)
are deselected; an exempt id that matches no collected test is an error,
so the list cannot drift from the suite.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

# moto reads these when it is imported, so they are set before the tests
# (and moto) are.
os.environ["TEST_SERVER_MODE"] = "true"
os.environ["MOTO_CALL_RESET_API"] = "false"
# Nothing from the user's AWS configuration may reach the clients.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
for _k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(_k, None)

import pytest  # noqa: E402
from moto.core import models as _moto_models  # noqa: E402

ACCOUNT = "123456789012"
# The server accepts moto's default credentials for that account, which
# is the management account of an organisation (moto's tests create
# organisation trails from it, as only a management account may).
CREDS = {"AWS_ACCESS_KEY_ID": ACCOUNT, "AWS_SECRET_ACCESS_KEY": "test"}
CONFIG = f"""organization:
  id: o-motopeers1
  management_account: "{ACCOUNT}"
principals:
  - access_key_id: "{ACCOUNT}"
    secret_access_key: test
    account: "{ACCOUNT}"
    type: Root
"""

_orig_init = _moto_models.MockAWS.__init__


def _init(self, *args, **kwargs):
    _orig_init(self, *args, **kwargs)
    self._fake_creds = dict(CREDS)


_moto_models.MockAWS.__init__ = _init


# moto's decorator reads the server endpoint once, when a test module is
# imported; each test here has its own server, so the endpoint is read at
# call time instead.
def _endpoint_get(self):
    return os.environ["TEST_SERVER_MODE_ENDPOINT"]


_moto_models.ServerModeMockAWS._test_server_mode_endpoint = property(
    _endpoint_get, lambda self, value: None
)


def _exempt_ids():
    doc = os.environ.get("OPENTRAIL_MOTO_EXEMPT_DOC")
    if not doc:
        return {}
    out = {}
    with open(doc, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\| `(test_\w+\.py::[^`]+)` \| (.+) \|\s*$", line)
            if m:
                out[m.group(1)] = m.group(2)
    if not out:
        raise pytest.UsageError(f"{doc}: no exempt moto tests found; the table is missing or malformed")
    return out


def pytest_collection_modifyitems(session, config, items):
    exempt = _exempt_ids()
    keep, drop, seen = [], [], set()
    for item in items:
        key = f"{os.path.basename(item.fspath)}::{item.name}"
        if key in exempt:
            drop.append(item)
            seen.add(key)
        else:
            keep.append(item)
    missing = sorted(set(exempt) - seen)
    if missing:
        raise pytest.UsageError(
            "docs/api-coverage.md exempts moto tests that were not collected "
            "(renamed or removed? update the table): " + ", ".join(missing)
        )
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def opentrail_server():
    binary = os.environ["OPENTRAIL_BIN"]
    data = tempfile.mkdtemp(prefix="opentrail-moto-")
    log_path = os.path.join(data, "server.log")
    config_path = os.path.join(data, "opentrail.yml")
    with open(config_path, "w", encoding="utf-8") as f:
        f.write(CONFIG)
    proc = None
    try:
        for _attempt in range(3):
            port = _free_port()
            log = open(log_path, "ab")
            proc = subprocess.Popen(
                [binary, "serve", "--addr", f"127.0.0.1:{port}", "--data", os.path.join(data, "data"), "--config", config_path],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )
            log.close()
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            up = False
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=1):
                        up = True
                        break
                except OSError:
                    time.sleep(0.05)
            if up:
                break
            proc.kill()
            proc.wait()
            proc = None
        if proc is None:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                pytest.fail("opentrail serve did not start:\n" + f.read())
        os.environ["TEST_SERVER_MODE_ENDPOINT"] = url
        yield url
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, -signal.SIGTERM):
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    print(f"opentrail serve exited with {proc.returncode}:\n{f.read()}")
        shutil.rmtree(data, ignore_errors=True)
