"""Helpers shared by the SDK scripts: a real HTTP receiver in a thread, and waiting."""

import http.server
import json
import threading
import time
import urllib.parse
import urllib.request


class Receiver:
    """Records every request; `handler(method, path, query, headers, body)` returns (status, text)."""

    def __init__(self, handler=None):
        self.requests = []
        self.handler = handler or (lambda *a: (200, "ok"))
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parsed = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
                outer.requests.append(
                    {"method": self.command, "path": parsed.path, "query": query,
                     "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                status, text = outer.handler(self.command, parsed.path, query, self.headers, body)
                data = (text or "").encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self, path=None):
        return [r for r in self.requests if r["method"] == "POST" and (path is None or r["path"] == path)]


def wait(what, check, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def admin(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + "/__sandbox" + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")
