from service.models import Role
def test_smoke(api, sample_bytes):
    r = api.upload(sample_bytes)
    print(r.status_code, r.json()["record"] if r.status_code < 300 else r.json())
    assert r.status_code == 201
    r2 = api.upload(sample_bytes)
    assert r2.status_code == 200
    print(api.client.get("/results", headers=api.headers(Role.reader)).json())
