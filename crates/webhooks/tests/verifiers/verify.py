"""Verifies a Standard Webhooks signature with the PyPI `standardwebhooks` package.

Usage: verify.py SECRET WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE < body
Exits 0 when the signature verifies, 1 when it does not, 2 on bad usage. Run by the webhooks
crate's tests/verifiers.rs to check our signatures against an independent implementation.
"""

import sys

from standardwebhooks import Webhook


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    secret, msg_id, timestamp, signature = sys.argv[1:]
    body = sys.stdin.buffer.read()
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature,
    }
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except Exception as err:  # the library raises several exception types; any means "refused"
        print(f"python standardwebhooks refused: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
