"""One real HTTP request through the load balancer's test listener."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request

from bluegreen.domain.probe import CheckResult


def check(url: str, timeout: float) -> CheckResult:
    """2xx within ``timeout`` passes; anything else fails, with what happened."""
    if not url.startswith(("http://", "https://")):
        return CheckResult(ok=False, status=None, detail=f"not an http(s) URL: {url}")
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "bluegreen-probe"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as e:
        status = e.code
    except (OSError, http.client.HTTPException) as e:
        # URLError, timeouts, resets and answers that are not HTTP: a failed check, not a crash.
        # (bounded: a garbage status line must not bloat the execution state)
        reason = str(getattr(e, "reason", None) or e)[:200]
        return CheckResult(ok=False, status=None, detail=f"GET {url}: {reason}")
    elapsed = (time.monotonic() - started) * 1000
    return CheckResult(
        ok=200 <= status < 300, status=status, detail=f"GET {url} -> {status} in {elapsed:.0f} ms"
    )
