"""The yardstick for status reads: a bare Falcon app on waitress that answers every request with
one constant Alpaca reply. The server cannot be faster than this on the same stack, so its
throughput is quoted as a fraction of this app's, measured in the same run.

Run as ``python -m benchmarks.bare_app PORT THREADS``; it serves on 127.0.0.1 until terminated.
"""

from __future__ import annotations

import sys

import falcon
import waitress

REPLY = b'{"Value":19000,"ClientTransactionID":1,"ServerTransactionID":1,"ErrorNumber":0,"ErrorMessage":""}'


class ConstantReply:
    def on_get(self, _: falcon.Request, response: falcon.Response, member: str) -> None:
        response.content_type = falcon.MEDIA_JSON
        response.data = REPLY


def make_app() -> falcon.App:
    app = falcon.App()
    app.add_route("/api/v1/focuser/0/{member}", ConstantReply())
    return app


def main(argv: list[str]) -> int:
    port, threads = int(argv[0]), int(argv[1])
    waitress.serve(make_app(), host="127.0.0.1", port=port, threads=threads, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
