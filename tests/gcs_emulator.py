"""A Cloud Storage emulator for tests, reached by both of the project's storage stacks.

    Beam's gcsio (google-cloud-storage) --STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT--┐
    TensorFlow's gs:// (libcurl) --https_proxy, CONNECT www.googleapis.com:443, TLS---┴-> proxy -> emulator

`gcp-storage-emulator` (pure Python, in memory) serves the JSON API over plain
HTTP. google-cloud-storage honours STORAGE_EMULATOR_HOST; TensorFlow's GCS
filesystem has its endpoints compiled in (www.googleapis.com,
storage.googleapis.com) but libcurl honours `https_proxy`, so a proxy here
accepts CONNECT for those two hosts, terminates TLS with a certificate of a CA
made for this run (TensorFlow trusts it through CURL_CA_BUNDLE), and forwards
each request to the emulator. Both stacks go through the proxy, which evens out
where the emulator and the real service differ (`_Proxy`'s docstring lists
them). Credentials: TensorFlow takes GOOGLE_AUTH_TOKEN_FOR_TESTING as its
token; Beam's gcsio asks google.auth.default() once per process (--no_auth
does not reach it) and retries it for ~20 s when it finds nothing, so
GOOGLE_APPLICATION_CREDENTIALS names a user-credentials file holding an access
token valid until 2999, which google-auth uses as it is, with no network.

Everything runs in one subprocess (`python -m tests.gcs_emulator`), which
prints its port and stops when its stdin closes, so it never outlives the
tests. `GcsEmulator` starts it and gives the environment for the test process
and the commands it runs.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import http.client
import http.server
import json
import logging
import pathlib
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

TLS_HOSTS = ("www.googleapis.com", "storage.googleapis.com")  # TensorFlow's compiled-in endpoints
TOKEN = "emulator-token"
PROJECT = "emulator-project"
CONTROL_PATH = "/_emulator/"  # the proxy's own requests (holding requests), not the emulator's


class GcsEmulator:
    """The emulator subprocess: `start()`, `environ()`, `stop()` (or use it as a context manager).

    Args:
      workdir: where the CA certificate and the credentials file go.
      bucket: a bucket created at start.
    """

    def __init__(self, workdir, bucket: str = "test-bucket"):
        self.workdir = pathlib.Path(workdir)
        self.bucket = bucket
        self.port = None
        self._process = None
        self._ca_file = None

    def start(self) -> GcsEmulator:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "emulator.log", "w")  # the proxy's log of every request
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.gcs_emulator",
                "--workdir",
                str(self.workdir),
                "--bucket",
                self.bucket,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=pathlib.Path(__file__).resolve().parent.parent,
        )
        log.close()
        line = self._process.stdout.readline()
        if not line:
            self._process.wait()
            raise RuntimeError(f"the emulator did not start: {(self.workdir / 'emulator.log').read_text()}")
        started = json.loads(line)
        self.port, self._ca_file = started["port"], started["ca_file"]
        return self

    def environ(self) -> dict[str, str]:
        """The variables that send both storage stacks (of this process and of subprocesses) here."""
        proxy = f"http://127.0.0.1:{self.port}"
        return {
            "STORAGE_EMULATOR_HOST": proxy,  # google-cloud-storage (Beam's gcsio)
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "GOOGLE_APPLICATION_CREDENTIALS": str(_write_user_credentials(self.workdir)),
            "NO_GCE_CHECK": "true",  # google.auth and TensorFlow: no metadata-server probe
            "https_proxy": proxy,  # libcurl (TensorFlow's gs://)
            "HTTPS_PROXY": proxy,
            "no_proxy": "127.0.0.1,localhost",
            "NO_PROXY": "127.0.0.1,localhost",
            "CURL_CA_BUNDLE": self._ca_file,
            "GOOGLE_AUTH_TOKEN_FOR_TESTING": TOKEN,  # TensorFlow's token; no OAuth exchange
            # Read by TensorFlow when it is imported: for the commands, not for this process.
            # It fills a whole read-ahead buffer for every file it opens (~0.1 s each at the default size).
            "GCS_READAHEAD_BUFFER_SIZE_BYTES": str(1 << 20),
            # A request that fails is retried 10 times over ~3 minutes by default: here over ~1 s.
            "GCS_RETRY_CONFIG_MAX_RETRIES": "3",
            "GCS_RETRY_CONFIG_INIT_DELAY_TIME_US": "100000",
            "GCS_RETRY_CONFIG_MAX_DELAY_TIME_US": "1000000",
        }

    def hold(self, pattern: str) -> None:
        """Holds every request (request line and body) matching the regex `pattern` until `release`,
        then drops it unanswered: a test kills the process that sent it at that exact step."""
        self._control("hold", {"pattern": pattern})

    def held(self) -> list[int]:
        """How many requests each active `hold` has caught so far."""
        return self._control("held")["held"]

    def release(self) -> None:
        """Ends every hold; the requests held are dropped."""
        self._control("release")

    def wait_held(self, process: subprocess.Popen, timeout: float = 240) -> None:
        """Waits until a `hold` caught a request of `process` (a failure if it ended first)."""
        deadline = time.time() + timeout
        while not any(self.held()):
            if process.poll() is not None:
                raise AssertionError(f"the process ended (status {process.returncode}) before a held request")
            if time.time() > deadline:
                raise AssertionError(f"no request held in {timeout} s")
            time.sleep(0.05)

    def objects(self, prefix: str = "") -> list[str]:
        """The gs:// URLs of every object whose name starts with `prefix`, from the JSON API itself
        (no client's caches, directory markers included)."""
        query = urllib.parse.urlencode({"prefix": prefix})
        listing = self._request("GET", f"/storage/v1/b/{self.bucket}/o?{query}")
        return sorted(self.url(item["name"]) for item in listing.get("items", []))

    def _control(self, command: str, payload: dict | None = None) -> dict:
        return self._request("POST", CONTROL_PATH + command, json.dumps(payload or {}))

    def _request(self, method: str, path: str, body: str | None = None) -> dict:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            content = response.read()
            assert response.status == 200, f"{method} {path}: {response.status} {content[:500]!r}"
            return json.loads(content)
        finally:
            connection.close()

    def url(self, *parts: str) -> str:
        """gs://BUCKET/parts..."""
        return "/".join([f"gs://{self.bucket}", *parts])

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.stdin.close()  # the server stops when its stdin closes
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()
        self._process = None

    def __enter__(self) -> GcsEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _write_user_credentials(workdir: pathlib.Path) -> pathlib.Path:
    """A google-auth user-credentials file whose access token is current until 2999: never refreshed."""
    path = workdir / "credentials.json"
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "emulator",
                "client_secret": "emulator",
                "refresh_token": "emulator",
                "token": TOKEN,
                "expiry": "2999-01-01T00:00:00Z",
            }
        )
    )
    return path


# --- The server process -------------------------------------------------------------------------------


def _make_tls_context(workdir: pathlib.Path) -> tuple[ssl.SSLContext, str]:
    """A CA made for this run and a certificate it signs for TLS_HOSTS; returns (server context, CA file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idx-tfrecords test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_HOSTS[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in TLS_HOSTS]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file = workdir / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    chain_file = workdir / "server.pem"
    chain_file.write_bytes(
        leaf.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain_file)
    return context, str(ca_file)


class _Emulator(http.server.ThreadingHTTPServer):
    """gcp-storage-emulator's request handler on a threading server, one request at a time.

    Its storage is not thread-safe; the threads only keep connections from queueing up in the
    listen backlog while a large request is handled.
    """

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, bucket: str):
        from gcp_storage_emulator.handlers import buckets
        from gcp_storage_emulator.server import RequestHandler
        from gcp_storage_emulator.storage import Storage

        storage = Storage(use_memory_fs=True)
        # Soft delete off, as on a scratch bucket: the emulator would otherwise keep every deleted
        # object (each checkpoint's temporary copy) in memory.
        buckets.create_bucket(bucket, storage)["softDeletePolicy"] = {"retentionDurationSeconds": "0"}
        lock = threading.Lock()

        class Handler(RequestHandler):
            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def handle_one_request(self):
                # Requests come from the proxy only, whole: holding the lock while reading is fine.
                with lock:
                    super().handle_one_request()

            def log_message(self, format, *args):  # the proxy logs every request
                pass

        super().__init__(("127.0.0.1", 0), functools.partial(Handler, storage))


class _Proxy(http.server.ThreadingHTTPServer):
    """Forwards plain requests and TLS tunnels (CONNECT to TLS_HOSTS) to the emulator.

    It evens out where the emulator and Cloud Storage differ:

    - A request body sent chunked (TensorFlow's uploads, which also carry a Content-Length) is
      forwarded whole with its length: the emulator reads Content-Length first.
    - An empty `uploadType=media` upload (TensorFlow's directory markers) crashes the emulator:
      it goes as the equivalent multipart upload of an empty object.
    - `GET .../b/BUCKET/storageLayout` (TensorFlow 2.21 asks it before renaming a directory) is
      answered here: a bucket with a flat namespace, as buckets are by default.
    - The emulator builds upload-session URLs from the Host header with http://; in a tunnel they
      become https:// again, as the client used.

    And it can hold requests for a test (`/_emulator/hold`): a request whose request line and
    body match a held pattern waits until `/_emulator/release` and is then dropped unanswered, as
    if its client had died before sending it, so a test can kill a process at an exact step.
    """

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, emulator_port: int, tls_context: ssl.SSLContext):
        self.emulator_port = emulator_port
        self.tls_context = tls_context
        self.holds_lock = threading.Lock()
        self.holds = []  # [(compiled pattern, [requests held so far])]
        self.released = threading.Event()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tunnel_host = None  # the host of a TLS tunnel this handler serves

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        self._started = None

    def log_message(self, format, *args):
        sys.stderr.write(f"{time.time():.3f} {self.tunnel_host or 'plain'}: {format % args}\n")

    def log_request(self, code="-", size="-"):
        took = f" {time.time() - self._started:.3f}s" if self._started else ""
        self.log_message('"%s" %s%s', self.requestline, code, took)

    def do_CONNECT(self):
        host, _, port = self.path.partition(":")
        if host not in TLS_HOSTS or port != "443":
            self.send_error(403, f"the test proxy only reaches {', '.join(TLS_HOSTS)}")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        try:
            tls = self.server.tls_context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log_message("TLS handshake failed: %s", e)
            return
        _TunnelHandler(host, tls, self.client_address, self.server)  # serves the tunnel's requests

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self):
        self._started = time.time()
        body = self._body()
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith(CONTROL_PATH) and not self.tunnel_host:
            self._control(url.path[len(CONTROL_PATH) :], body)
            return
        if self._held(body):
            self.close_connection = True
            self.log_message('"%s" held, then dropped', self.requestline)
            return
        path = url.path + (f"?{url.query}" if url.query else "")
        query = urllib.parse.parse_qs(url.query)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("transfer-encoding", "content-length", "connection", "proxy-connection")
        }
        if url.path.endswith("/storageLayout") and self.command == "GET":
            bucket = url.path.split("/")[-2]
            self._reply(200, {"Content-Type": "application/json"}, _storage_layout(bucket))
            return
        if self.command == "POST" and query.get("uploadType") == ["media"] and not body:
            path, headers, body = _as_multipart(url, query, headers)
        connection = http.client.HTTPConnection("127.0.0.1", self.server.emulator_port, timeout=300)
        try:
            connection.request(self.command, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
            reply = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in ("transfer-encoding", "content-length", "connection")
            }
        finally:
            connection.close()
        if self.tunnel_host and "Location" in reply:
            reply["Location"] = reply["Location"].replace("http://", "https://", 1)
        self._reply(response.status, reply, content)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

    def _held(self, body: bytes) -> bool:
        """Holds this request if a pattern matches it (see `_Proxy`); returns whether it was held."""
        text = self.requestline + "\n" + body.decode("latin-1")
        with self.server.holds_lock:
            matched = [held for pattern, held in self.server.holds if pattern.search(text)]
            for held in matched:
                held.append(self.requestline)
            released = self.server.released
        if matched:
            self.log_message("holding %r", text[:2000])
            released.wait()
        return bool(matched)

    def _control(self, command: str, body: bytes) -> None:
        server = self.server
        with server.holds_lock:
            if command == "hold":
                server.holds.append((re.compile(json.loads(body)["pattern"]), []))
            elif command == "release":
                server.holds = []
                server.released.set()
                server.released = threading.Event()
            elif command != "held":
                self._reply(404, {}, b"")
                return
            held = [len(requests) for _, requests in server.holds]
        self._reply(200, {"Content-Type": "application/json"}, json.dumps({"held": held}).encode())

    def _reply(self, status: int, headers: dict, content: bytes) -> None:
        self.send_response(status)
        self._started = None
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


class _TunnelHandler(_ProxyHandler):
    """Serves the requests of one TLS tunnel to `host`."""

    def __init__(self, host: str, *args):
        self.tunnel_host = host
        super().__init__(*args)


def _storage_layout(bucket: str) -> bytes:
    return json.dumps(
        {
            "kind": "storage#storageLayout",
            "bucket": bucket,
            "location": "US",
            "locationType": "multi-region",
            "hierarchicalNamespace": {"enabled": False},
        }
    ).encode()


def _as_multipart(url, query, headers):
    """An empty media upload as the equivalent multipart upload."""
    boundary = "emulator-boundary"
    name = query["name"][0]
    body = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
        f"{json.dumps({'name': name})}\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    query = {**query, "uploadType": ["multipart"]}
    path = url.path + "?" + urllib.parse.urlencode(query, doseq=True)
    headers = {**headers, "Content-Type": f"multipart/related; boundary={boundary}"}
    return path, headers, body


def _serve(workdir: pathlib.Path, bucket: str) -> None:
    logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)  # one warning per response otherwise
    tls_context, ca_file = _make_tls_context(workdir)
    emulator = _Emulator(bucket)
    proxy = _Proxy(emulator.server_address[1], tls_context)
    for server in (emulator, proxy):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": proxy.server_address[1], "ca_file": ca_file}), flush=True)
    while sys.stdin.read(1 << 16):  # until the parent closes stdin (or dies)
        pass
    proxy.shutdown()
    emulator.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, type=pathlib.Path)
    parser.add_argument("--bucket", required=True)
    args = parser.parse_args()
    _serve(args.workdir, args.bucket)


if __name__ == "__main__":
    main()
