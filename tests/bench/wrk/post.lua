-- wrk script for the POST workloads of tests/bench/run.sh: the same form body and
-- Authorization header on every request, both taken from the environment.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("WRK_AUTH")
