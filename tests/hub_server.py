#!/usr/bin/env python3
"""A fake Hugging Face hub for tests/test_download.c (standard library only).

    python3 tests/hub_server.py --port 0 --portfile /tmp/x/port

Binds 127.0.0.1, writes the chosen port to --portfile (atomically), serves
until killed (or until its parent process exits). It speaks the two hub endpoints the client uses:

    GET /api/models/<repo>/tree/<rev>?recursive=true[&cursor=N]
        JSON list of {"type", "path", "size", "oid", "lfs": {"oid", "size"}},
        paginated with a `Link: <next>; rel="next"` header where a repo asks.
    GET /<repo>/resolve/<rev>/<path>
        the file (Range supported); LFS files are first redirected (302) to a
        "CDN" path, as the real hub does, same host or, for the gated repo,
        "localhost" (another host, so a client must not send the token there).

Every file's content is SHAKE-256("<repo>/<path>") truncated to its size, so
the test computes the expected bytes on its own. Faults are injected per file
on its first GET after a reset: "cutoff" (full Content-Length, half the body,
then the socket closes), "503" and "429". Test hooks:

    GET /_stats  -> {"files": {"<repo>/<path>": {"gets": n, "ranges": [...],
                    "auth": [...]}}, "pages": {"<repo>": n}}
    GET /_reset  -> clears the stats and re-arms the faults.
"""
import argparse
import hashlib
import http.server
import json
import os
import socketserver
import threading
import time
import urllib.parse

TOKEN = "secret-token"
PAGE_SIZE = 2  # for repos with "paged": True

# repo -> {"files": [(path, size, is_lfs, fault or None)], options...}
REPOS = {
    "test/basic": {
        "files": [
            ("config.json", 731, False, None),
            ("sub/dir/nested.txt", 1234, False, None),
            ("model.safetensors", 3 * 1024 * 1024 + 17, True, None),
        ],
    },
    "test/flaky": {
        "files": [
            ("big.bin", 2 * 1024 * 1024 + 5, True, "cutoff"),
            ("small.txt", 4000, False, "cutoff"),
            ("busy.bin", 70000, True, "503"),
            ("rate.json", 500, False, "429"),
        ],
    },
    "test/badsha": {
        "files": [
            ("config.json", 100, False, None),
            ("model.safetensors", 1024 * 1024, True, None),
        ],
        "bad_sha": "model.safetensors",
    },
    "test/gated": {
        "files": [
            ("config.json", 300, False, None),
            ("model.safetensors", 1024 * 1024 + 3, True, None),
        ],
        "token": TOKEN,
        "cdn_host": "localhost",
    },
    "test/paged": {
        "files": [("f%d.txt" % i, 100 + i, False, None) for i in range(5)],
        "paged": True,
    },
    "test/badblob": {
        "files": [("config.json", 200, False, None)],
        "bad_oid": "config.json",
    },
    "test/gone": {
        "files": [("config.json", 50, False, None), ("lost.bin", 64, False, None)],
        "unservable": "lost.bin",
    },
    "test/evil": {
        "files": [("../escape.txt", 10, False, None)],
    },
}


def content(repo, path, size):
    return hashlib.shake_256(("%s/%s" % (repo, path)).encode()).digest(size)


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def listing(repo):
    """The tree API's entries for a repo, directories included."""
    spec = REPOS[repo]
    entries, dirs = [], set()
    for path, size, is_lfs, _ in spec["files"]:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs and ".." not in d:
                dirs.add(d)
                entries.append({"type": "directory", "path": d, "size": 0, "oid": "0" * 40})
        data = content(repo, path, size)
        e = {"type": "file", "path": path, "size": size}
        if is_lfs:
            sha = hashlib.sha256(data).hexdigest()
            if spec.get("bad_sha") == path:
                sha = hashlib.sha256(b"not the content").hexdigest()
            pointer = ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (sha, size)).encode()
            e["oid"] = git_blob_sha1(pointer)
            e["lfs"] = {"oid": sha, "size": size, "pointerSize": len(pointer)}
        else:
            e["oid"] = git_blob_sha1(data if spec.get("bad_oid") != path else b"other bytes")
        entries.append(e)
    return entries


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.files = {}  # "repo/path" -> {"gets", "ranges", "auth"}
        self.pages = {}  # repo -> listing pages served
        self.fired = set()  # faults already injected


STATE = State()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real hub

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def reply(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        self.reply(status, json.dumps({"error": message}),
                   {"Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message})

    def authorized(self, spec):
        want = spec.get("token")
        return want is None or self.headers.get("Authorization") == "Bearer " + want

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query)
        if path == "/_stats":
            with STATE.lock:
                body = json.dumps({"files": STATE.files, "pages": STATE.pages})
            return self.reply(200, body, {"Content-Type": "application/json"})
        if path == "/_reset":
            with STATE.lock:
                STATE.reset()
            return self.reply(200, "{}", {"Content-Type": "application/json"})
        if path.startswith("/api/models/"):
            return self.tree(path[len("/api/models/"):], query)
        if path.startswith("/_cdn/"):
            repo, _, rest = path[len("/_cdn/"):].partition("|")
            return self.serve_file(repo, rest, cdn=True)
        parts = path.lstrip("/").split("/", 4)  # ns, name, "resolve", rev, file
        if len(parts) == 5 and parts[2] == "resolve":
            return self.resolve("/".join(parts[:2]), parts[3], parts[4])
        self.error(404, "EntryNotFound", "no route for " + path)

    def tree(self, rest, query):
        # rest = "<ns>/<name>/tree/<rev>" (the revision is one %-encoded segment)
        parts = rest.split("/")
        if len(parts) < 4 or parts[2] != "tree":
            return self.error(404, "EntryNotFound", "bad tree path")
        repo, rev = "/".join(parts[:2]), "/".join(parts[3:])
        spec = REPOS.get(repo)
        if spec is None:
            return self.error(404, "RepoNotFound", "Repository not found")
        if not self.authorized(spec):
            return self.error(401, "GatedRepo", "Access to model %s is restricted" % repo)
        if rev != "main":
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        if query.get("recursive") != ["true"]:
            return self.error(400, "BadRequest", "this fake hub expects recursive=true")
        entries = listing(repo)
        headers = {"Content-Type": "application/json"}
        if spec.get("paged"):
            start = int(query.get("cursor", ["0"])[0])
            if start + PAGE_SIZE < len(entries):
                nxt = "http://%s/api/models/%s/tree/main?recursive=true&cursor=%d" % (
                    self.headers.get("Host"), repo, start + PAGE_SIZE)
                headers["Link"] = '<%s>; rel="next"' % nxt
            entries = entries[start:start + PAGE_SIZE]
        with STATE.lock:
            STATE.pages[repo] = STATE.pages.get(repo, 0) + 1
        self.reply(200, json.dumps(entries), headers)

    def find(self, repo, path):
        for p, size, is_lfs, fault in REPOS.get(repo, {}).get("files", []):
            if p == path:
                return size, is_lfs, fault
        return None

    def resolve(self, repo, rev, path):
        spec = REPOS.get(repo)
        if spec is None:
            return self.error(404, "RepoNotFound", "Repository not found")
        if not self.authorized(spec):
            return self.error(401, "GatedRepo", "Access to model %s is restricted" % repo)
        if rev != "main":
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        found = self.find(repo, path)
        if found is None or spec.get("unservable") == path:
            return self.error(404, "EntryNotFound", "Entry not found")
        size, is_lfs, _ = found
        if not is_lfs:
            return self.serve_file(repo, path, cdn=False)
        data = content(repo, path, size)
        target = "/_cdn/" + urllib.parse.quote(repo + "|" + path)
        if spec.get("cdn_host"):
            target = "http://%s:%d%s" % (spec["cdn_host"], self.server.server_address[1], target)
        self.reply(302, b"", {"Location": target, "X-Linked-Size": str(size),
                              "X-Linked-Etag": '"%s"' % hashlib.sha256(data).hexdigest(), "X-Repo-Commit": "0" * 40})

    def serve_file(self, repo, path, cdn):
        found = self.find(repo, path)
        if found is None:
            return self.error(404, "EntryNotFound", "Entry not found")
        size, _, fault = found
        key = repo + "/" + path
        rng = self.headers.get("Range")
        with STATE.lock:
            st = STATE.files.setdefault(key, {"gets": 0, "ranges": [], "auth": []})
            st["gets"] += 1
            st["ranges"].append(rng)
            st["auth"].append(self.headers.get("Authorization"))
            fire = fault is not None and key not in STATE.fired
            if fire:
                STATE.fired.add(key)
        if fire and fault in ("503", "429"):
            return self.error(int(fault), "Busy", "try again")
        data = content(repo, path, size)
        start = 0
        if rng:
            spec = rng.strip()
            if not spec.startswith("bytes=") or "," in spec:
                return self.error(400, "BadRange", "unsupported Range " + rng)
            a, _, b = spec[len("bytes="):].partition("-")
            start = int(a)
            end = int(b) if b else size - 1
            if start >= size:
                return self.reply(416, b"", {"Content-Range": "bytes */%d" % size})
            end = min(end, size - 1)
            body = data[start:end + 1]
            headers = {"Content-Range": "bytes %d-%d/%d" % (start, end, size)}
            status = 206
        else:
            body, headers, status = data, {}, 200
        headers["ETag"] = '"%s"' % (hashlib.sha256(data).hexdigest() if cdn else git_blob_sha1(data))
        headers["Accept-Ranges"] = "bytes"
        if fire and fault == "cutoff":
            # Promise the whole body, deliver half, hang up.
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.reply(status, body, headers)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def exit_with_parent():
    """Stop when the test that started us is gone (even if it crashed)."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--portfile", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.verbose = args.verbose
    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.portfile)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
