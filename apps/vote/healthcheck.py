"""Container health check without curl: GET /healthz on $PORT."""

import os
import sys
import urllib.request

url = f"http://127.0.0.1:{os.environ.get('PORT', '80')}/healthz"
try:
    with urllib.request.urlopen(url, timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(exc)
    sys.exit(1)
