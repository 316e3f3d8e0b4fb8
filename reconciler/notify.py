"""Notifications: tell people when an apply fails or targets drift, through apprise.

apprise is the maintained library made for this (Slack, Microsoft Teams, email, Discord, generic JSON webhooks
and some hundred more, one URL scheme each), so reconciler writes no client per service. The URLs hold tokens:
they are configured by reference (`env:`, `aws:`, `vault:`), resolved only here, registered with the redaction
layer, and never printed. A notification that cannot be delivered is a warning; it never changes what was
applied or the command's exit code.
"""

from __future__ import annotations

import logging

from reconciler.errors import ReconcilerError
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import Notifications, NotifyEvent

log = logging.getLogger("reconciler.notify")


def notify(settings: Notifications, event: NotifyEvent, title: str, body: str) -> list[str]:
    """Send to every target subscribed to `event`; the problems, one line each (empty when all were
    delivered)."""
    targets = [(i, t) for i, t in enumerate(settings.targets) if event in t.events]
    if not targets:
        return []
    try:
        import apprise
    except ImportError:
        return ["notifications need the apprise library, which is not installed: pip install"
                " 'reconciler[notify]'"]
    resolver = SecretResolver(settings.secrets)
    kind = apprise.NotifyType.FAILURE if event == "apply_failed" else apprise.NotifyType.WARNING
    problems = []
    for i, target in targets:
        where = f"notifications.targets[{i}].url"
        try:
            url = resolver.resolve(target.url, where).reveal()
        except ReconcilerError as exc:
            problems.append(exc.render().replace("\n", " "))
            continue
        sender = apprise.Apprise()
        if not sender.add(url):
            problems.append(f"{where}: {target.url} does not hold a URL apprise knows (see its list of"
                            " services)")
            continue
        if not sender.notify(body=body, title=title, notify_type=kind, timeout=settings.timeout_seconds):
            problems.append(f"{where}: {target.url}: the service did not accept the notification")
    for problem in problems:
        log.warning("notification not delivered: %s", problem, extra={"event": event})
    return problems
