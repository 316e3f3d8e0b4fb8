"""A small GitHub REST client (httpx): issue comments and issues, paginated, retried on transient failures.

The API base URL comes from GITHUB_API_URL (what Actions sets; GitHub Enterprise and test servers differ), the
token from GITHUB_TOKEN. The token is sent in a header and never appears in a message, a log line or an error.

Who the token acts as (`GitHub.login`, the author of every comment and issue it writes), first found wins:
1. the login given with `--bot-login` or RECONCILER_GITHUB_LOGIN;
2. `GET /user`, which answers for a personal (classic or fine-grained) token and a user's OAuth token;
3. GraphQL `{ viewer { login } }` when `GET /user` answers 403 "Resource not accessible by integration", as it
   does for every GitHub App installation token, the Actions GITHUB_TOKEN included. `viewer` answers for those
   with the app's bot login, with the suffix REST uses for authors: `github-actions[bot]` for the Actions
   token, `<app-slug>[bot]` for a token of your own app (so no login is assumed: a fixed `github-actions[bot]`
   would be wrong for an app's token). GitHub.com serves GraphQL at `<API URL>/graphql`, GitHub Enterprise
   Server at `/api/graphql` beside `/api/v3`.
When none answers, the client refuses (it never guesses whose comments are its own).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from reconciler import __version__, bounded_http, shown

# defined with every other error; importable here too
from reconciler.errors import GitHubError as GitHubError
from reconciler.secrets.redact import scrub_value

log = logging.getLogger("reconciler.github")
DEFAULT_API_URL = "https://api.github.com"
REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# A user (letters, digits, hyphens; an underscore in Enterprise Managed Users' logins) or an app's bot, as
# REST shows comment and issue authors: `octocat`, `github-actions[bot]`.
LOGIN_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}(\[bot\])?")  # use with fullmatch
LOGIN_ENV = "RECONCILER_GITHUB_LOGIN"
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_BODY_BYTES = 32 * 1024 * 1024  # a page of 100 comments of 65,536 characters (GitHub's maximum) fits
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class _Transient(Exception):
    def __init__(self, response: httpx.Response | None, error: str) -> None:
        super().__init__(error)
        self.response = response
        self.error = error


@dataclass(frozen=True)
class GitHubSettings:
    """Where and as whom to talk to GitHub; the token never shows in a repr."""

    api_url: str
    repo: str
    token: str = field(repr=False)
    login: str | None = None  # who the token acts as, when given; None: ask GitHub

    @property
    def graphql_url(self) -> str:
        """GraphQL's endpoint: beside the REST root on GitHub.com, /api/graphql beside /api/v3 on a server."""
        if self.api_url.endswith("/api/v3"):
            return self.api_url.removesuffix("/v3") + "/graphql"
        return self.api_url + "/graphql"

    @classmethod
    def from_env(
        cls, repo: str | None = None, api_url: str | None = None, login: str | None = None
    ) -> GitHubSettings:
        """Settings from options, falling back on what GitHub Actions sets in the environment."""
        token = os.environ.get("GITHUB_TOKEN", "").strip()
        if not token:
            raise GitHubError(
                "GITHUB_TOKEN is not set", where="environment",
                fix="in GitHub Actions add `env: GITHUB_TOKEN: ${{ github.token }}` to the step; locally"
                " export a token that may write pull-request comments and issues",
            )
        repo = repo or os.environ.get("GITHUB_REPOSITORY", "")
        if not REPO_PATTERN.match(repo):
            raise GitHubError(
                f"repository {repo!r} is not OWNER/NAME" if repo else "no repository given",
                where="--repo" if repo else "environment",
                fix="pass --repo OWNER/NAME (GitHub Actions sets GITHUB_REPOSITORY)",
            )
        url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise GitHubError(
                f"API URL {url!r} is not an http(s) URL", where="GITHUB_API_URL",
                fix=f"unset it for github.com ({DEFAULT_API_URL}) or set your GitHub Enterprise API URL",
            )
        where = "--bot-login"
        if login is None:
            login, where = os.environ.get(LOGIN_ENV, "").strip() or None, LOGIN_ENV
        if login is not None and not LOGIN_PATTERN.fullmatch(login):
            raise GitHubError(
                f"{login!r} is not a GitHub login", where=where,
                fix="give the login as GitHub shows it on the token's comments, e.g. github-actions[bot] (the"
                " Actions token), my-app[bot] (a GitHub App's token) or octocat (a person's token)",
            )
        return cls(api_url=url, repo=repo, token=token, login=login)


class GitHub:
    """The few REST endpoints reconciler uses, on one connection pool; use as a context manager."""

    def __init__(
        self, settings: GitHubSettings, *, attempts: int = 3, backoff: float = 0.5, timeout: float = 30.0
    ) -> None:
        self.settings = settings
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout  # each request's total deadline, not only each read's
        self._client = self._new_client()
        self._login: str | None = settings.login

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.settings.api_url,
            headers={
                "Authorization": f"Bearer {self.settings.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"reconciler/{__version__}",
            },
            timeout=self.timeout,
        )

    def _reset(self) -> None:
        """Past a deadline: close the connection under the stuck request and start a fresh pool."""
        stuck, self._client = self._client, self._new_client()
        stuck.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    # ---- who the token is ----
    def login(self) -> str:
        """The login the token acts as: the author GitHub gives every comment and issue it writes."""
        if self._login is None:
            self._login = self._ask_login()
            log.info("github token acts as %s", self._login, extra={"login": self._login})
        return self._login

    def _ask_login(self) -> str:
        where, said = f"GET {self.settings.api_url}/user", ""
        try:
            login = self._json("GET", "/user", None).get("login")
        except GitHubError as exc:
            if exc.status != 403:
                raise
            # An installation token (the Actions GITHUB_TOKEN, a GitHub App's): "Resource not accessible by
            # integration". GraphQL's viewer answers for it with the app's bot login.
            where = f"POST {self.settings.graphql_url} (viewer)"
            answer = self._json("POST", self.settings.graphql_url, {"query": "query { viewer { login } }"})
            data = answer.get("data")
            viewer = data.get("viewer") if isinstance(data, dict) else None
            login = viewer.get("login") if isinstance(viewer, dict) else None
            errors = answer.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                said = f": {errors[0].get('message', '')}"
        if not isinstance(login, str) or not LOGIN_PATTERN.fullmatch(login):
            raise GitHubError(
                f"cannot tell which login the token acts as{said}", where=where,
                fix=f"pass --bot-login LOGIN or set {LOGIN_ENV} (github-actions[bot] for the Actions token)",
            )
        return login

    # ---- issue comments (pull requests are issues for comments) ----
    def list_comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment of an issue or pull request, across pages."""
        return list(self._paginate(f"/repos/{self.settings.repo}/issues/{number}/comments"))

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        """Post a comment."""
        return self._json("POST", f"/repos/{self.settings.repo}/issues/{number}/comments", {"body": body})

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        """Replace a comment's body."""
        return self._json(
            "PATCH", f"/repos/{self.settings.repo}/issues/comments/{comment_id}", {"body": body}
        )

    def delete_comment(self, comment_id: int) -> None:
        """Delete a comment (a continued part no longer needed)."""
        self._request("DELETE", f"/repos/{self.settings.repo}/issues/comments/{comment_id}")

    # ---- issues ----
    def list_issues(self, *, label: str, state: str = "open") -> list[dict[str, Any]]:
        """Issues (not pull requests) carrying `label`."""
        items = self._paginate(f"/repos/{self.settings.repo}/issues", {"labels": label, "state": state})
        return [i for i in items if "pull_request" not in i]

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        """Open an issue (the drift issue)."""
        payload = {"title": title, "body": body, "labels": labels}
        return self._json("POST", f"/repos/{self.settings.repo}/issues", payload)

    def update_issue(self, number: int, **fields: Any) -> dict[str, Any]:
        """Change an issue's fields (body, state)."""
        return self._json("PATCH", f"/repos/{self.settings.repo}/issues/{number}", fields)

    # ---- pull requests, workflow runs and artifacts (apply on merge finds the reviewed plans) ----
    def pulls_of_commit(self, sha: str) -> list[dict[str, Any]]:
        """The pull requests GitHub associates with a commit (merged ones carry `merged_at`)."""
        return list(self._paginate(f"/repos/{self.settings.repo}/commits/{sha}/pulls"))

    def pull(self, number: int) -> dict[str, Any]:
        """One pull request (its state, base and head)."""
        return self._json_get(f"/repos/{self.settings.repo}/pulls/{number}", None)

    def artifacts(self, name: str) -> list[dict[str, Any]]:
        """Artifacts of this repository with exactly this name, any workflow run."""
        data = self._json_get(
            f"/repos/{self.settings.repo}/actions/artifacts", {"name": name, "per_page": "100"}
        )
        found = data.get("artifacts")
        return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []

    def team_membership(self, org: str, team: str, login: str) -> dict[str, Any]:
        """A user's membership of a team (404: not a member, or a team the token may not see)."""
        return self._json_get(f"/orgs/{org}/teams/{team}/memberships/{login}", None)

    def workflow_run(self, run_id: int) -> dict[str, Any]:
        """A workflow run, to check which commit and event it ran for."""
        return self._json_get(f"/repos/{self.settings.repo}/actions/runs/{run_id}", None)

    def download_artifact(self, artifact_id: int) -> bytes:
        """The artifact's zip archive (GitHub redirects to storage; httpx drops the token on another
        origin)."""
        path = f"/repos/{self.settings.repo}/actions/artifacts/{artifact_id}/zip"
        return self._request("GET", path, follow_redirects=True).content

    # ---- settings the doctor reads (docs/gitops.md, "A setup that checks itself") ----
    def get(self, path: str, params: dict[str, str] | None) -> dict[str, Any]:
        """One object GitHub answers for a path of its REST API."""
        return self._json_get(path, params)

    def get_list(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paginated list GitHub answers for a path of its REST API."""
        return list(self._paginate(path))

    # ---- plumbing ----
    def _json_get(self, path: str, params: dict[str, str] | None) -> dict[str, Any]:
        data = self._request("GET", path, params=params).json()
        if not isinstance(data, dict):
            raise GitHubError(
                "unexpected answer (not an object)", where=f"GET {self.settings.api_url}{path}",
                fix="check GITHUB_API_URL points at the GitHub REST API",
            )
        return data

    def _paginate(self, path: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        url: str | None = path
        query: dict[str, str] | None = {**(params or {}), "per_page": "100"}
        while url:
            response = self._request("GET", url, params=query)
            page = response.json()
            if not isinstance(page, list):
                raise GitHubError(
                    "unexpected answer (not a list)", where=f"GET {self.settings.api_url}{path}",
                    fix="check GITHUB_API_URL points at the GitHub REST API",
                )
            yield from page
            found = _NEXT.search(response.headers.get("link", ""))
            url, query = (found.group(1), None) if found else (None, None)

    def _json(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        data = self._request(method, path, json=payload).json()
        if not isinstance(data, dict):
            raise GitHubError(
                "unexpected answer (not an object)", where=f"{method} {self.settings.api_url}{path}",
                fix="check GITHUB_API_URL points at the GitHub REST API",
            )
        return data

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        where = f"{method} {_display(self.settings.api_url, url)}"
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff, max=10),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        if isinstance(kwargs.get("json"), dict):  # a comment or issue body never carries a secret to GitHub,
            # nor a mention, a reference or a control character from text that is not ours
            kwargs["json"] = {k: shown.markdown(v) if isinstance(v, str) and k in ("body", "title") else v
                              for k, v in scrub_value(kwargs["json"]).items()}
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(method, url, **kwargs)
        except _Transient as exc:
            if exc.response is not None:
                raise _error(exc.response, where, f" after {self.attempts} attempts") from None
            raise GitHubError(
                f"cannot reach the GitHub API: {exc.error}", where=where,
                fix="check the network and GITHUB_API_URL, then retry",
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = bounded_http.exchange(
                self._client, method, url, deadline=self.timeout, max_bytes=MAX_BODY_BYTES,
                on_deadline=self._reset,
                **kwargs,
            )
        except httpx.TransportError as exc:
            raise _Transient(None, f"{type(exc).__name__}: {exc}") from None
        except bounded_http.TooLarge as exc:
            raise GitHubError(
                f"unexpected answer ({exc})", where=f"{method} {_display(self.settings.api_url, url)}",
                fix="check GITHUB_API_URL points at the GitHub REST API",
            ) from None
        log.info("github %s %s → %s", method, _display(self.settings.api_url, url), response.status_code)
        if response.status_code in RETRY_STATUSES:
            raise _Transient(response, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _error(response, f"{method} {_display(self.settings.api_url, url)}", "")
        return response


def _display(api_url: str, url: str) -> str:
    return url if url.startswith(("http://", "https://")) else f"{api_url}{url}"


_FIXES = {
    401: "GITHUB_TOKEN was rejected: check it is valid and not expired",
    403: "the token may not do this: give the workflow `pull-requests: write` (plan comments) or `issues:"
    " write` (drift issue); pull requests from forks get a read-only token",
    404: "check the repository (--repo / GITHUB_REPOSITORY) and the pull request or issue number; a token"
    " without access to a private repository also gets 404",
    410: "the pull request or issue was deleted or locked",
    422: "GitHub refused the content (see the message)",
    429: "rate limited: retry later",
}


def _error(response: httpx.Response, where: str, suffix: str) -> GitHubError:
    status = response.status_code
    message = ""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = str(data.get("message", ""))
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            details = [
                str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e) for e in errors
            ]
            message += " (" + "; ".join(details) + ")"
    fix = _FIXES.get(status, "GitHub is failing: retry later" if status >= 500 else "see GitHub's message")
    text = f"GitHub answered HTTP {status}{suffix}" + (f": {message}" if message else "")
    return GitHubError(text, where=where, fix=fix, status=status)
