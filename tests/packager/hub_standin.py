"""A small local STAND-IN for the Hugging Face Hub HTTP API. It is not the Hub.

It speaks just enough for huggingface_hub 2.x: ``create_repo``, ``create_branch``, ``upload_folder``
(validate-yaml, preupload answering "regular" for every file so no LFS/Xet transfer is attempted,
the NDJSON commit), and ``hf_hub_download`` (HEAD/GET on ``/{repo}/resolve/{rev}/{path}``). It keeps
repos in memory and records every request's Authorization header so tests can check the token was
sent, and never written anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class HubStandIn:
    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}        # repo_id -> {"private": bool, "branches": {name: sha}}
        self.commits: dict[str, dict[str, bytes]] = {}  # sha -> {path: content}
        self.authorizations: list[str | None] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        return self.commits[self.repos[repo_id]["branches"][revision]]

    def tamper(self, repo_id: str, path: str, revision: str = "main") -> None:
        """Corrupt a stored file in place, as a broken mirror or a bad actor would."""
        files = self.files(repo_id, revision)
        files[path] = files[path] + b" "

    def _resolve(self, repo_id: str, revision: str) -> str | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return None
        return repo["branches"].get(revision) or (revision if revision in self.commits else None)

    def _commit(self, repo_id: str, revision: str, body: bytes) -> str:
        parent = self.repos[repo_id]["branches"][revision]
        files = dict(self.commits[parent])
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
        sha = hashlib.sha1(parent.encode() + body).hexdigest()
        self.commits[sha] = files
        self.repos[repo_id]["branches"][revision] = sha
        return sha


def _handler(hub: HubStandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output quiet
            pass

        def _send(self, status: int, payload: dict | None = None, headers: dict | None = None,
                  body: bytes | None = None) -> None:
            data = body if body is not None else json.dumps(payload or {}).encode()
            self.send_response(status)
            for key, value in (headers or {"Content-Type": "application/json"}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            hub.authorizations.append(self.headers.get("Authorization"))
            path, body = urlparse(self.path).path, self._body()
            if path == "/api/repos/create":
                req = json.loads(body)
                repo_id = f"{req['organization']}/{req['name']}"
                if repo_id in hub.repos:
                    return self._send(409, {"error": "You already created this model repo"})
                empty = hashlib.sha1(repo_id.encode()).hexdigest()
                hub.commits[empty] = {}
                hub.repos[repo_id] = {"private": req.get("visibility") == "private", "branches": {"main": empty}}
                return self._send(200, {"url": f"{hub.url}/{repo_id}"})
            if path == "/api/validate-yaml":
                return self._send(200, {})
            match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit|branch)/(.+)", path)
            if not match or match[1] not in hub.repos:
                return self._send(404, {"error": "Repository not found"})
            repo_id, action, revision = match[1], match[2], unquote(match[3])
            branches = hub.repos[repo_id]["branches"]
            if action == "branch":
                if revision in branches:
                    return self._send(409, {"error": "branch exists"})
                branches[revision] = branches["main"]
                return self._send(200, {})
            if revision not in branches:
                return self._send(404, {"error": f"Invalid rev id: {revision}"})
            if action == "preupload":
                files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                         for f in json.loads(body)["files"]]
                return self._send(200, {"files": files})
            sha = hub._commit(repo_id, revision, body)
            return self._send(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{sha}", "commitOid": sha,
                                    "pullRequestUrl": None})

        def do_GET(self) -> None:  # noqa: N802
            hub.authorizations.append(self.headers.get("Authorization"))
            match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", urlparse(self.path).path)
            sha = match and hub._resolve(match[1], unquote(match[2]))
            content = sha and hub.commits[sha].get(unquote(match[3]))
            if content is None:
                return self._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound",
                                                                       "Content-Type": "application/json"})
            etag = hashlib.sha1(content).hexdigest()
            return self._send(200, headers={"X-Repo-Commit": sha, "ETag": f'"{etag}"',
                                            "Content-Type": "application/octet-stream"}, body=content)

        do_HEAD = do_GET

    return Handler
