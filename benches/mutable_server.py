#!/usr/bin/env python3
"""Loopback mock of a SmartRecruiters-like paginated candidates API (a copy of the harness's
server.py), extended to serve a *changed* dataset for sync-state tests.

usage: mutable_server.py PORT N [--changed] [--drop-every K] [--edit-every K] [--add M]
  dataset A (default): N candidates cand-00000000.., pages of 100, cursor nextPageId -> pageId,
                       byte-identical to server.py when N is a multiple of 100
  dataset B (--changed): the same N minus every record with i % K == 1 (--drop-every, default 50:
                       deleted at the vendor), lastName/updatedOn changed on every i % K == 2
                       (--edit-every, default 20), plus M new records cand-9xxxxxxx (--add, default 50)
Python 3 standard library only. Prints nothing; ready once the port accepts connections.
"""
import argparse, json
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("port", type=int)
ap.add_argument("n", type=int, nargs="?", default=50000)
ap.add_argument("--changed", action="store_true", help="serve dataset B")
ap.add_argument("--drop-every", type=int, default=50)
ap.add_argument("--edit-every", type=int, default=20)
ap.add_argument("--add", type=int, default=50)
a = ap.parse_args()
PAGE = 100


def record(i, edited=False, rid=None):
    r = {"id": rid or f"cand-{i:08d}", "firstName": f"First{i}", "lastName": f"Last{i}",
         "email": f"user{i}@example.com", "phoneNumber": "+1-555-0100",
         "location": {"country": "US", "city": "Springfield", "regionCode": "IL"},
         "createdOn": "2024-01-01T00:00:00.000Z", "updatedOn": f"2024-02-{1+i%28:02d}T10:00:00.000Z",
         "primaryAssignment": {"job": {"id": f"job-{i%50}", "title": "Engineer"}, "status": "IN_REVIEW", "subStatus": None},
         "tags": ["rust", "python"], "web": {"linkedin": f"https://example.com/in/u{i}"}}
    if edited:
        r["lastName"] = f"Edited{i}"
        r["updatedOn"] = "2024-03-15T10:00:00.000Z"
    return r


recs = []
for i in range(a.n):
    if a.changed and a.drop_every and i % a.drop_every == 1:
        continue
    recs.append(record(i, edited=bool(a.changed and a.edit_every and i % a.edit_every == 2)))
if a.changed:
    for j in range(a.add):
        recs.append(record(a.n + j, rid=f"cand-9{j:07d}"))
total = len(recs)
npages = max(1, -(-total // PAGE))
PAGES = []
for p in range(npages):
    body = {"totalFound": total, "limit": PAGE, "content": recs[p*PAGE:(p+1)*PAGE]}
    if p + 1 < npages:
        body["nextPageId"] = f"p{p+1}"
    PAGES.append(json.dumps(body).encode())
del recs


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        pid = q.get("pageId", ["p0"])[0]
        try:
            b = PAGES[int(pid[1:])]
        except (ValueError, IndexError):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)


ThreadingHTTPServer(("127.0.0.1", a.port), H).serve_forever()
