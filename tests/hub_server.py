#!/usr/bin/env python3
"""A fake Hugging Face hub for tests/test_download.c (standard library only).

    python3 tests/hub_server.py --port 0 --portfile /tmp/x/port

Binds 127.0.0.1, writes the chosen port to --portfile (atomically), serves
until killed (or until its parent process exits). It speaks the three hub
endpoints the client uses:

    GET /api/models/<repo>/revision/<rev>
        {"id", "sha": "<commit>", "siblings": [...]}; <rev> is a branch
        ("main"), a tag or a commit.
    GET /api/models/<repo>/tree/<rev>?recursive=true[&cursor=N]
        JSON list of {"type", "path", "size", "oid", "lfs": {"oid", "size"}},
        paginated with a `Link: <next>; rel="next"` header where a repo asks.
    GET /<repo>/resolve/<rev>/<path>
        the file (Range supported); LFS files are first redirected (302) to a
        "CDN" path, as the real hub does, same host or, where a repo says so,
        "localhost" (another host, so a client must not send the token there).

Every repo has commits (generations) 0, 1, ...; commit g's id is
SHA-1("commit:<repo>:<g>"). Every file's content is
SHAKE-256("<repo>/<path>") (generation 0) or SHAKE-256("<repo>/<path>@<g>")
truncated to its size, so the test computes the expected bytes on its own.
"main" is the last commit, except for test/moving: there it is commit 0
until the revision endpoint has answered once, then commit 1 (a push landing
right after the client resolved the branch).

Faults per file: "cutoff" (full Content-Length, half the body, then the
socket closes), "503" and "429" fire on the file's first GET after a reset;
"429ra" (Retry-After: 1) and "503date" (Retry-After as an HTTP date 2 s
ahead) too; "429huge" (Retry-After: 100000), "429always" (no Retry-After)
and "403cdn" (the CDN refuses) on every GET; "slow" trickles the body over
about a second. Test hooks:

    GET /_stats  -> {"files": {"<repo>/<path>": {"gets": n, "ranges": [...],
                    "auth": [...], "revs": [...]}}, "pages": {"<repo>": n},
                    "api": [[kind, repo, rev], ...]}
    GET /_reset  -> clears the stats, re-arms the faults, moves test/moving's
                    main back to commit 0.
"""
import argparse
import email.utils
import hashlib
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse

TOKEN = "secret-token"
PAGE_SIZE = 2  # for repos with "paged": True

# repo -> {"files": [(path, size, is_lfs, fault or None)], options...};
# "gens": a list of such file lists, one per commit, instead of "files".
REPOS = {
    "test/basic": {
        "files": [
            ("config.json", 731, False, None),
            ("sub/dir/nested.txt", 1234, False, None),
            ("model.safetensors", 3 * 1024 * 1024 + 17, True, None),
        ],
        "tags": {"v1.0": 0},
    },
    "test/moving": {
        "gens": [
            [("config.json", 300, False, None), ("model.safetensors", 200000, True, None)],
            [("config.json", 300, False, None), ("model.safetensors", 200000, True, None),
             ("added.txt", 40, False, None)],
        ],
        "moving": True,
    },
    "test/retry": {
        "files": [("ra.bin", 3000, False, "429ra"), ("date.bin", 70000, True, "503date")],
    },
    "test/huge": {
        "files": [("config.json", 100, False, None), ("model.safetensors", 5000, True, "429huge")],
    },
    "test/limited": {
        "files": [("config.json", 100, False, "429always")],
    },
    "test/cdn403": {
        "files": [("config.json", 100, False, None), ("model.safetensors", 20000, True, "403cdn")],
        "cdn_host": "localhost",
    },
    "test/slow": {
        "files": [("model.safetensors", 1000000, True, "slow")],
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


def content(repo, path, size, gen=0):
    name = "%s/%s" % (repo, path) if gen == 0 else "%s/%s@%d" % (repo, path, gen)
    return hashlib.shake_256(name.encode()).digest(size)


def commit_id(repo, gen):
    return hashlib.sha1(("commit:%s:%d" % (repo, gen)).encode()).hexdigest()


def files_of(repo, gen):
    spec = REPOS[repo]
    return spec["gens"][gen] if "gens" in spec else spec["files"]


def generations(repo):
    return len(REPOS[repo].get("gens", [None]))


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def listing(repo, gen):
    """The tree API's entries for a repo at a commit, directories included."""
    spec = REPOS[repo]
    entries, dirs = [], set()
    for path, size, is_lfs, _ in files_of(repo, gen):
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs and ".." not in d:
                dirs.add(d)
                entries.append({"type": "directory", "path": d, "size": 0, "oid": "0" * 40})
        data = content(repo, path, size, gen)
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
        self.files = {}  # "repo/path" -> {"gets", "ranges", "auth", "revs"}
        self.pages = {}  # repo -> listing pages served
        self.api = []  # [kind, repo, rev] of every API call
        self.fired = set()  # faults already injected
        self.moved = set()  # repos whose main has moved on


def resolve_rev(repo, rev):
    """The commit (generation) a revision names, or None."""
    spec = REPOS[repo]
    last = generations(repo) - 1
    if rev == "main":
        with STATE.lock:
            return 0 if spec.get("moving") and repo not in STATE.moved else last
    if rev in spec.get("tags", {}):
        return spec["tags"][rev]
    for g in range(last + 1):
        if rev == commit_id(repo, g):
            return g
    return None


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

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query)
        if path == "/_stats":
            with STATE.lock:
                body = json.dumps({"files": STATE.files, "pages": STATE.pages, "api": STATE.api})
            return self.reply(200, body, {"Content-Type": "application/json"})
        if path == "/_reset":
            with STATE.lock:
                STATE.reset()
            return self.reply(200, "{}", {"Content-Type": "application/json"})
        if path.startswith("/api/models/"):
            return self.api(path[len("/api/models/"):], query)
        if path.startswith("/_cdn/"):
            repo, path, gen = path[len("/_cdn/"):].split("|")
            return self.serve_file(repo, path, int(gen), cdn=True)
        parts = path.lstrip("/").split("/", 4)  # ns, name, "resolve", rev, file
        if len(parts) == 5 and parts[2] == "resolve":
            return self.resolve("/".join(parts[:2]), parts[3], parts[4])
        self.error(404, "EntryNotFound", "no route for " + path)

    def api(self, rest, query):
        # rest = "<ns>/<name>/<kind>/<rev>" (the revision is one %-encoded segment)
        parts = rest.split("/")
        if len(parts) < 4 or parts[2] not in ("tree", "revision"):
            return self.error(404, "EntryNotFound", "bad API path")
        repo, kind, rev = "/".join(parts[:2]), parts[2], "/".join(parts[3:])
        with STATE.lock:
            STATE.api.append([kind, repo, rev])
        spec = REPOS.get(repo)
        if spec is None:
            return self.error(404, "RepoNotFound", "Repository not found")
        gen = resolve_rev(repo, rev)
        if gen is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        if kind == "revision":  # public, gated or not (as the real hub)
            if spec.get("moving"):
                with STATE.lock:
                    STATE.moved.add(repo)
            body = {"id": repo, "sha": commit_id(repo, gen),
                    "siblings": [{"rfilename": f[0]} for f in files_of(repo, gen)]}
            return self.reply(200, json.dumps(body), {"Content-Type": "application/json"})
        gate = self.gate(spec, repo)
        if gate:
            return gate
        if query.get("recursive") != ["true"]:
            return self.error(400, "BadRequest", "this fake hub expects recursive=true")
        entries = listing(repo, gen)
        headers = {"Content-Type": "application/json"}
        if spec.get("paged"):
            start = int(query.get("cursor", ["0"])[0])
            if start + PAGE_SIZE < len(entries):
                nxt = "http://%s/api/models/%s/tree/%s?recursive=true&cursor=%d" % (
                    self.headers.get("Host"), repo, urllib.parse.quote(rev, safe=""), start + PAGE_SIZE)
                headers["Link"] = '<%s>; rel="next"' % nxt
            entries = entries[start:start + PAGE_SIZE]
        with STATE.lock:
            STATE.pages[repo] = STATE.pages.get(repo, 0) + 1
        self.reply(200, json.dumps(entries), headers)

    def gate(self, spec, repo):
        """The real hub's answers for a gated repo: 401 without a token, 403
        with one that has no access. None when the request may proceed."""
        want = spec.get("token")
        got = self.headers.get("Authorization")
        if want is None or got == "Bearer " + want:
            return None
        msg = "Access to model %s is restricted" % repo
        if got:
            return self.error(403, "GatedRepo", msg + " and you are not in the authorized list")
        return self.error(401, "GatedRepo", msg + ". You must have access to it and be authenticated")

    def find(self, repo, path, gen):
        for p, size, is_lfs, fault in files_of(repo, gen):
            if p == path:
                return size, is_lfs, fault
        return None

    def resolve(self, repo, rev, path):
        spec = REPOS.get(repo)
        if spec is None:
            return self.error(404, "RepoNotFound", "Repository not found")
        gate = self.gate(spec, repo)
        if gate:
            return gate
        gen = resolve_rev(repo, rev)
        if gen is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        with STATE.lock:
            st = STATE.files.setdefault(repo + "/" + path, {"gets": 0, "ranges": [], "auth": [], "revs": []})
            st["revs"].append(rev)
        found = self.find(repo, path, gen)
        if found is None or spec.get("unservable") == path:
            return self.error(404, "EntryNotFound", "Entry not found")
        size, is_lfs, _ = found
        if not is_lfs:
            return self.serve_file(repo, path, gen, cdn=False)
        data = content(repo, path, size, gen)
        target = "/_cdn/" + urllib.parse.quote("%s|%s|%d" % (repo, path, gen))
        if spec.get("cdn_host"):
            target = "http://%s:%d%s" % (spec["cdn_host"], self.server.server_address[1], target)
        self.reply(302, b"", {"Location": target, "X-Linked-Size": str(size),
                              "X-Linked-Etag": '"%s"' % hashlib.sha256(data).hexdigest(),
                              "X-Repo-Commit": commit_id(repo, gen)})

    def serve_file(self, repo, path, gen, cdn):
        found = self.find(repo, path, gen)
        if found is None:
            return self.error(404, "EntryNotFound", "Entry not found")
        size, _, fault = found
        key = repo + "/" + path
        rng = self.headers.get("Range")
        with STATE.lock:
            st = STATE.files.setdefault(key, {"gets": 0, "ranges": [], "auth": [], "revs": []})
            st["gets"] += 1
            st["ranges"].append(rng)
            st["auth"].append(self.headers.get("Authorization"))
            once = fault in ("cutoff", "503", "429", "429ra", "503date")
            fire = fault is not None and (not once or key not in STATE.fired)
            if fire and once:
                STATE.fired.add(key)
        if fire and fault in ("503", "429"):
            return self.error(int(fault), "Busy", "try again")
        if fire and fault == "429ra":
            return self.reply(429, "slow down", {"Retry-After": "1"})
        if fire and fault == "503date":
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            return self.reply(503, "maintenance", {"Retry-After": when})
        if fire and fault == "429huge":
            return self.reply(429, "slow down", {"Retry-After": "100000"})
        if fire and fault == "429always":
            return self.error(429, "RateLimited", "too many requests")
        if fire and fault == "403cdn" and cdn:
            return self.reply(403, "<Error><Code>AccessDenied</Code></Error>", {"Content-Type": "application/xml"})
        data = content(repo, path, size, gen)
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
        if fire and fault == "slow":
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            step = max(1, len(body) // 40)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(0.025)
            return
        self.reply(status, body, headers)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client hanging up on a kept-alive connection is not an error.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


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
