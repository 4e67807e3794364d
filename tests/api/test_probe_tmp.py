def test_probe(demo):
    print(demo.runs)
    c = demo.client
    for url in ["/api/v1/runs", f"/api/v1/runs/{demo.runs['run']}", "/api/v1/datasets/confirmed", "/healthz",
                f"/api/v1/runs/{demo.runs['run']}/series/clean?points=50", f"/api/v1/runs/{demo.runs['broken']}/peaks",
                "/api/v1/runs?limit=0", "/nope", "/metrics", "/api/v1/campaigns"]:
        r = c.get(url)
        print(url, r.status_code, r.headers.get("content-type"), r.text[:600])
