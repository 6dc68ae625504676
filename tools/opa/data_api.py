#!/usr/bin/env python3
"""OPA's Data API on 127.0.0.1 around OPA's own Go engine (opa-golib-python-bindings).

No Debian or PyPI package ships the `opa` server, but the engine is on PyPI. This serves
POST /v1/data/{path} with {"input": ...} and answers {"result": ...} as `opa run --server`
does ({} when the document is undefined, 400 for a body that is not JSON). Test support for
the OPA evaluator; prints "listening PORT" once it accepts connections.

    data_api.py POLICY.rego...                 serve the policies
    data_api.py --fixed STATUS BODY            answer every request with STATUS and BODY
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    fixed = None
    engine = None
    if sys.argv[1:2] == ["--fixed"]:
        fixed = (int(sys.argv[2]), sys.argv[3].encode())
    else:
        from opa_bindings import OpaEngine
        engine = OpaEngine()
        for path in sys.argv[1:]:
            with open(path, encoding="utf-8") as f:
                engine.add_policy(path, f.read())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if fixed:
                return self.answer(*fixed)
            if not self.path.startswith("/v1/data/"):
                return self.answer(404, b'{"code":"resource_not_found"}')
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                return self.answer(400, b'{"code":"invalid_parameter","message":"body is not JSON"}')
            document = ".".join(part for part in self.path[len("/v1/data/"):].split("/") if part)
            try:
                result = engine.eval_document(document, request.get("input"))
            except Exception as error:  # the engine's undefined-document error, by name
                if type(error).__name__ == "OpaUndefinedError":
                    return self.answer(200, b"{}")
                return self.answer(500, json.dumps({"code": "internal_error", "message": str(error)}).encode())
            self.answer(200, json.dumps({"result": result}).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
