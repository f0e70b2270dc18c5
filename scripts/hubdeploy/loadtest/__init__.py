"""`hubdeploy loadtest`: many concurrent clients against an env's POST /sentiment, with Locust as a library.

options (what a run may be: users, duration, bounds), target (the API and its auth, as `hubdeploy smoke` finds
them, or the local stack), report (requests/s, latency percentiles, statuses, throttles: plain Python, no
Locust), locustrun (the only module that imports Locust, and only when a load test runs: gevent patches the
standard library at import).
"""
