#!/usr/bin/env python3
"""A fake OpenAI-compatible chat server for benchmarks (stdlib only).

Answers POST .../chat/completions after a fixed latency: the spec answer of an answers file
for spec requests (their prompt holds `<fill:`), its last sketch answer otherwise.
Usage: fake-openai-server.py ANSWERS.toml LATENCY_SECONDS PORT_FILE
The chosen port is written to PORT_FILE; the server runs until killed.
It speaks HTTP/1.1 with keep-alive and listens with a backlog of 128, as a real server would:
Python's defaults (HTTP/1.0, a connection per request, a backlog of 5) made a burst of 16
concurrent sessions wait for SYN retransmits, so the benchmark measured this server, not autopilot.
"""
import json
import sys
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

answers_path, latency, port_file = sys.argv[1], float(sys.argv[2]), sys.argv[3]
with open(answers_path, "rb") as f:
    answers = tomllib.load(f)["answer"]
spec = next(a["text"] for a in answers if a["stage"] == "spec")
sketch = [a["text"] for a in answers if a["stage"] == "sketch"][-1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connections
    # Headers and body leave in two writes; with Nagle on, the body waits for the client's
    # delayed ACK of the headers (~40 ms per reply on Linux) — a cost real servers do not have.
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(latency)
        text = spec if b"<fill:" in body else sketch
        reply = json.dumps({
            "id": "bench", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # listen backlog (socketserver's default is 5)
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
