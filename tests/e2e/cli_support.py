"""The operators' CLI of this checkout, run as a subprocess against a local stack."""

from __future__ import annotations

import os
import subprocess

from tests.e2e.support import BLUEGREEN, ROOT


def bluegreen(endpoint: str, *args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
    """``bluegreen <args>`` against ``endpoint`` (``answer``: what is typed at its questions).

    This checkout's code runs, whichever checkout the virtual environment was installed from.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    code = [str(ROOT / "cli"), str(ROOT / "layers" / "common"), str(ROOT)]
    env["PYTHONPATH"] = os.pathsep.join([*code, env.get("PYTHONPATH", "")])
    env["AWS_ENDPOINT_URL"] = endpoint
    return subprocess.run(
        [str(BLUEGREEN), *args],
        input=answer,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
