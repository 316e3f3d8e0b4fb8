"""A fake GitHub REST API on 127.0.0.1: the few endpoints reconciler uses, with GitHub's pagination and
errors.

A real HTTP server in a thread: the client under test talks HTTP to it exactly as it would to api.github.com.
Its token acts as `login`. A token shaped like an installation token (`ghs_`, what the Actions GITHUB_TOKEN
and GitHub App tokens look like) gets GitHub's 403 on `GET /user`, and its login only from GraphQL's `viewer`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

MAX_BODY = 65536
NOT_FOR_INTEGRATIONS = {  # what GitHub answers an installation token on GET /user
    "message": "Resource not accessible by integration",
    "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
    "status": "403",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    """State of one fake repository, plus knobs: queued failures and the token it accepts."""

    token: str = "ghs_fake-token-0123456789"
    login: str = "github-actions[bot]"  # who the token acts as: the author of what it creates
    repo: str = "acme/portfolios"
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # statuses to answer the next requests with, in order
    url: str = ""
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # commit sha → its pull requests
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[int, bytes] = field(default_factory=dict)  # artifact id → its zip, served at /blobs/{id}
    teams: dict[str, set[str]] = field(default_factory=dict)  # "org/team" → member logins
    # Repository settings `github doctor` reads (empty: a repository nobody set up).
    default_branch: str = "main"
    # name → GitHub's environment object
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # environment → custom rules
    branch_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    env_secrets: dict[str, list[str]] = field(default_factory=dict)
    repo_secrets: list[str] = field(default_factory=list)
    org_secrets: list[str] = field(default_factory=list)
    protection: dict[str, Any] | None = None  # classic branch protection of the default branch
    rules: list[dict[str, Any]] = field(default_factory=list)  # rulesets' rules on the default branch
    files: dict[str, str] = field(default_factory=dict)  # path → text on the default branch
    open_pulls: dict[int, dict[str, Any]] = field(default_factory=dict)  # number → an open pull request
    # repository paths answered 403, as to a token without access
    forbidden: set[str] = field(default_factory=set)
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_pull(self, number: int) -> None:
        self.issues[number] = {"number": number, "pull_request": {"url": "…"}, "state": "open", "labels": []}
        self.comments.setdefault(number, [])

    def add_open_pull(self, number: int, head: str, base: str = "main") -> None:
        """An open pull request (what a merge queue holds), served at /pulls/{number}."""
        self.open_pulls[number] = {
            "number": number,
            "state": "open",
            "head": {"sha": head},
            "base": {"ref": base},
        }

    def add_merged_pull(self, number: int, merge_commit: str, head: str) -> None:
        """A pull request merged as `merge_commit` (GitHub lists it under that commit's pulls)."""
        pull = {"number": number, "merged_at": "2026-01-05T15:00:00Z", "merge_commit_sha": merge_commit,
                "head": {"sha": head}, "state": "closed"}
        self.pulls.setdefault(merge_commit, []).append(pull)

    def add_plan_artifact(
        self, head: str, plan: bytes, *, event: str = "pull_request_target",
        path: str = ".github/workflows/plan.yml", conclusion: str = "success", digest: str | None = None,
    ) -> dict[str, Any]:
        """A plan artifact uploaded by a workflow run, as upload-artifact stores it: a zip holding
        plan.json."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("plan.json", plan)
        data = buffer.getvalue()
        with self._lock:
            self._next_id += 1
            run_id, artifact_id = self._next_id, self._next_id + 50000
            self.runs[run_id] = {"id": run_id, "event": event, "path": path, "conclusion": conclusion}
            artifact = {
                "id": artifact_id, "name": f"reconciler-plan-{head}", "expired": False,
                "created_at": f"2026-01-05T14:{len(self.artifacts):02d}:00Z",
                "digest": digest if digest is not None else "sha256:" + hashlib.sha256(data).hexdigest(),
                "workflow_run": {"id": run_id, "head_sha": "0" * 40},
            }
            self.artifacts.append(artifact)
            self.blobs[artifact_id] = data
        return artifact

    def set_up_well(self) -> None:
        """Every setting `github doctor` checks, as docs/gitops.md asks for it."""
        for name in ("observe", "production"):
            rules: list[dict[str, Any]] = [{"id": 1, "type": "branch_policy"}]
            if name == "production":
                rules.append({"id": 2, "type": "required_reviewers", "prevent_self_review": True,
                              "reviewers": [{"type": "User", "reviewer": {"login": "risk-rita"}},
                                            {"type": "Team", "reviewer": {"slug": "reconciler-owners"}}]})
            self.environments[name] = {
                "id": len(self.environments) + 1, "name": name, "protection_rules": rules,
                "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
            }
            self.branch_policies[name] = [{"id": 7, "name": "main", "type": "branch"}]
        self.env_secrets = {
            "observe": ["RECONCILER_JOURNAL_URL", "RECONCILER_COMMENT_KEY"],
            "production": ["RECONCILER_JOURNAL_URL", "ALPACA_API_KEY", "RECONCILER_DOCTOR_TOKEN"],
        }
        self.repo_secrets = ["CODECOV_TOKEN"]
        self.org_secrets = ["NPM_TOKEN"]
        self.protection = {"required_status_checks": {"strict": True, "contexts": ["validate"],
                                                      "checks": [{"context": "validate", "app_id": 15368}]},
                           "required_pull_request_reviews": {"require_code_owner_reviews": False}}
        self.rules = [
            {"type": "required_status_checks", "ruleset_id": 3,
             "parameters": {"required_status_checks": [{"context": "plan"}, {"context": "validate"}]}},
            {"type": "pull_request", "ruleset_id": 3, "parameters": {"require_code_owner_review": True}},
        ]
        self.files[".github/CODEOWNERS"] = (
            "* @acme/maintainers\n/reconciler.yaml @acme/reconciler-owners @acme/risk\n/policies/"
            " @acme/risk\n"
        )

    def add_comment(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        with self._lock:
            return self._new_comment(number, body, user)

    def add_issue(self, title: str, body: str, labels: list[str], user: str = "someone") -> dict[str, Any]:
        with self._lock:
            return self._new_issue(title, body, labels, user)

    def _new_issue(self, title: str, body: str, labels: list[str], user: str) -> dict[str, Any]:
        number = max(self.issues, default=0) + 1
        issue = {
            "number": number, "id": 5000 + number, "title": title, "body": body, "state": "open",
            "labels": [{"name": x} for x in labels], "user": {"login": user},
            "html_url": f"https://github.example/{self.repo}/issues/{number}",
        }
        self.issues[number] = issue
        return issue

    def _new_comment(self, number: int, body: str, user: str) -> dict[str, Any]:
        self._next_id += 1
        now = datetime.now(UTC).isoformat()
        c = {
            "id": self._next_id, "body": body, "user": {"login": user},
            "html_url": f"https://github.example/{self.repo}/pull/{number}#issuecomment-{self._next_id}",
            "created_at": now, "updated_at": now,
        }
        self.comments.setdefault(number, []).append(c)
        return c

    def ours(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.get(number, []) if c["body"].startswith("<!-- reconciler:plan")]

    # ---- request handling ----
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], payload: Any
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append(Request(method, parts.path, query, payload))
            if self.failures:
                status = self.failures.pop(0)
                return status, {"message": f"fake failure {status}"}, {}
            if m := re.fullmatch(r"/blobs/(\d+)", parts.path):  # artifact storage: another origin in reality
                return 200, self.blobs[int(m.group(1))], {}
            if headers.get("authorization") != f"Bearer {self.token}":
                return 401, {"message": "Bad credentials"}, {}
            if parts.path == "/user" and method == "GET":
                if self.token.startswith("ghs_"):
                    return 403, NOT_FOR_INTEGRATIONS, {}
                return 200, {"login": self.login, "id": 1, "type": "User"}, {}
            if parts.path == "/graphql" and method == "POST":
                if "viewer" in str((payload or {}).get("query", "")):
                    return 200, {"data": {"viewer": {"login": self.login}}}, {}
                return 200, {"errors": [{"message": "the fake answers only viewer"}]}, {}
            if m := re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)", parts.path):
                members = self.teams.get(f"{m.group(1)}/{m.group(2)}", set())
                if m.group(3) in members:
                    return 200, {"state": "active", "role": "member"}, {}
                return 404, {"message": "Not Found"}, {}
            prefix = f"/repos/{self.repo}"
            if parts.path[len(prefix):] in self.forbidden or any(
                parts.path[len(prefix):].startswith(f) for f in self.forbidden if f.endswith("/")
            ):
                return 403, {"message": "Resource not accessible by integration"}, {}
            if parts.path == prefix and method == "GET":
                return 200, {"full_name": self.repo, "default_branch": self.default_branch}, {}
            if not parts.path.startswith(prefix + "/"):
                return 404, {"message": "Not Found"}, {}
            return self._route(method, parts.path[len(prefix):], query, payload)

    def _route(
        self, method: str, path: str, query: dict[str, str], payload: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and (found := self._settings(path, query)) is not None:
            return found
        if (m := re.fullmatch(r"/commits/([0-9a-f]{40})/pulls", path)) and method == "GET":
            return self._page(self.pulls.get(m.group(1), []), path, query)
        if (m := re.fullmatch(r"/pulls/(\d+)", path)) and method == "GET":
            pull = self.open_pulls.get(int(m.group(1)))
            return (200, pull, {}) if pull else (404, {"message": "Not Found"}, {})
        if path == "/actions/artifacts" and method == "GET":
            found = [a for a in self.artifacts if a["name"] == query.get("name", a["name"])]
            return 200, {"total_count": len(found), "artifacts": found}, {}
        if (m := re.fullmatch(r"/actions/runs/(\d+)", path)) and method == "GET":
            run = self.runs.get(int(m.group(1)))
            return (200, run, {}) if run else (404, {"message": "Not Found"}, {})
        if (m := re.fullmatch(r"/actions/artifacts/(\d+)/zip", path)) and method == "GET":
            return 302, None, {"Location": f"{self.url}/blobs/{m.group(1)}"}
        if m := re.fullmatch(r"/issues/(\d+)/comments", path):
            number = int(m.group(1))
            if number not in self.issues:
                return 404, {"message": "Not Found"}, {}
            if method == "GET":
                return self._page(self.comments.get(number, []), path, query)
            if method == "POST":
                if error := _too_long(payload):
                    return error
                return 201, self._new_comment(number, payload["body"], self.login), {}
        if m := re.fullmatch(r"/issues/comments/(\d+)", path):
            cid = int(m.group(1))
            found = [(n, c) for n, cs in self.comments.items() for c in cs if c["id"] == cid]
            if not found:
                return 404, {"message": "Not Found"}, {}
            number, comment = found[0]
            if method == "PATCH":
                if error := _too_long(payload):
                    return error
                comment["body"] = payload["body"]
                comment["updated_at"] = datetime.now(UTC).isoformat()
                return 200, comment, {}
            if method == "DELETE":
                self.comments[number].remove(comment)
                return 204, None, {}
        if path == "/issues":
            if method == "GET":
                state = query.get("state", "open")
                label = query.get("labels")
                items = [
                    i for n, i in sorted(self.issues.items())
                    if (state == "all" or i["state"] == state)
                    and (label is None or label in [x["name"] for x in i["labels"]])
                ]
                return self._page(items, path, query)
            if method == "POST":
                labels = payload.get("labels", [])
                return 201, self._new_issue(payload["title"], payload.get("body", ""), labels, self.login), {}
        if (m := re.fullmatch(r"/issues/(\d+)", path)) and method == "PATCH":
            issue = self.issues.get(int(m.group(1)))
            if issue is None:
                return 404, {"message": "Not Found"}, {}
            issue.update(
                {k: v for k, v in payload.items() if k in ("title", "body", "state", "state_reason")}
            )
            return 200, issue, {}
        return 404, {"message": "Not Found"}, {}

    def _settings(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]] | None:
        """The repository settings `github doctor` reads, shaped as the REST API answers them."""
        missing = (404, {"message": "Not Found"}, {})
        if m := re.fullmatch(r"/environments/([^/]+)(/deployment-branch-policies|/secrets)?", path):
            name, tail = m.group(1), m.group(2)
            if name not in self.environments:
                return missing
            if tail is None:
                return 200, self.environments[name], {}
            if tail == "/secrets":
                return self._wrapped("secrets", [{"name": n} for n in self.env_secrets.get(name, [])], query)
            return self._wrapped("branch_policies", self.branch_policies.get(name, []), query)
        if path == "/actions/secrets":
            return self._wrapped("secrets", [{"name": n} for n in self.repo_secrets], query)
        if path == "/actions/organization-secrets":
            return self._wrapped("secrets", [{"name": n} for n in self.org_secrets], query)
        if path == f"/branches/{self.default_branch}/protection":
            return (
                (200, self.protection, {})
                if self.protection
                else (404, {"message": "Branch not protected"}, {})
            )
        if path == f"/rules/branches/{self.default_branch}":
            return self._page(self.rules, path, query)
        if (m := re.fullmatch(r"/contents/(.+)", path)) and query.get("ref") == self.default_branch:
            text = self.files.get(m.group(1))
            if text is None:
                return missing
            content = base64.b64encode(text.encode()).decode()
            return 200, {"type": "file", "path": m.group(1), "encoding": "base64", "content": content}, {}
        return None

    def _wrapped(
        self, key: str, items: list[dict[str, Any]], query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """A list in an object with its total count (secrets, branch policies), paged like the REST API."""
        per_page = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        return 200, {"total_count": len(items), key: items[(page - 1) * per_page : page * per_page]}, {}

    def _page(
        self, items: list[dict[str, Any]], path: str, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            nxt = {**query, "page": str(page + 1), "per_page": str(per_page)}
            headers["Link"] = f'<{self.url}/repos/{self.repo}{path}?{urlencode(nxt)}>; rel="next"'
        return 200, chunk, headers


def _too_long(payload: Any) -> tuple[int, Any, dict[str, str]] | None:
    if len(payload.get("body", "")) > MAX_BODY:
        return 422, {
            "message": "Validation Failed",
            "errors": [{"resource": "IssueComment", "code": "custom", "field": "body",
                        "message": f"body is too long (maximum is {MAX_BODY} characters)"}],
        }, {}
    return None


def serve(fake: FakeGitHub) -> ThreadingHTTPServer:
    """Start the server on a free port of 127.0.0.1; fake.url is its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            payload = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, data, extra = fake.handle(self.command, self.path, headers, payload)
            raw_body = isinstance(data, bytes)
            body = data if isinstance(data, bytes) else b"" if data is None else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/zip" if raw_body else "application/json;"
                             " charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
