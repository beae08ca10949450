"""A small HTTP server for tests/e2e/fetch.sh, on 127.0.0.1 only.

Serves the files of one folder with byte ranges ("Range: bytes=N-" and
"bytes=N-M"), and a few misbehaviours chosen by the path's first part:
  /cut/F       the first request for F sends half the body, then hangs up
  /norange/F   ignores Range (always 200 and the whole file)
  /redirect/F  302 to /F (as the model hub sends its downloads to a CDN)
  /stall/F     sends the headers and a few bytes, then nothing
Writes the port it got into PORTFILE once listening, and one line per
request ("METHOD PATH RANGE") into LOG.

usage: fetch_server.py DIR PORTFILE LOG
"""
import http.server
import os
import re
import sys
import threading
import time

ROOT, PORTFILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
cut_done = set()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range", "-")
        with lock, open(LOG, "a") as f:
            f.write("GET %s %s\n" % (self.path, rng))
        parts = self.path.lstrip("/").split("/", 1)
        mode = parts[0] if len(parts) == 2 and parts[0] in ("cut", "norange", "redirect", "stall") else ""
        name = parts[1] if mode else self.path.lstrip("/")
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "/" + name)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.join(ROOT, os.path.basename(name))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        start, end = 0, len(data) - 1
        m = re.match(r"bytes=(\d+)-(\d*)$", rng) if mode != "norange" else None
        if m:
            start = int(m.group(1))
            if m.group(2):
                end = min(int(m.group(2)), end)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "none" if mode == "norange" else "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        body = data[start:end + 1]
        if mode == "cut":
            with lock:
                first = name not in cut_done
                cut_done.add(name)
            if first:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
        if mode == "stall":
            self.wfile.write(body[:16])
            self.wfile.flush()
            time.sleep(20)
            self.close_connection = True
            return
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
