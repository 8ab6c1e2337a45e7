wrk.headers["Host"] = "localhost"
