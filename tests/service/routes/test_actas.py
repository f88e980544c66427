"""POST /actas, GET /actas/{id}, GET /actas, the stored scan and its overlay; bad input of every kind."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from pipeline.image_io import DEFAULT_MAX_PIXELS
from pipeline.schema import ActaReading
from service.db import make_engine
from service.models import Acta, ActaField, Blob, Review
from service.models import Role as R
from tests.images import imdecode
from tests.service.conftest import GENERAL, RUNOFF, SAMPLE, Api, MemoReader, start_api
from tests.service.inputs import multi_page_tiff, not_a_form, png_bomb, truncated


def row_counts(api: Api) -> dict[str, int]:
    engine = api.client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.scalar(select(func.count()).select_from(t)) for t in (Acta, ActaField, Blob, Review)
        }


def test_upload_returns_the_pipeline_document(api: Api, sample_bytes: bytes, service_reader: MemoReader) -> None:
    r = api.upload(sample_bytes)
    assert r.status_code == 201, r.text
    body = r.json()
    # The pipeline's document, unchanged, with the service's `record` beside it.
    expected = service_reader.read(sample_bytes).model_dump(mode="json")
    assert {k: v for k, v in body.items() if k != "record"} == expected
    ActaReading.model_validate(body)
    assert body["mesa_code"] == "100055-1"
    assert body["record"]["status"] == "counted" and body["record"]["uploaded_by"] == "test-operator"
    assert body["record"]["counts"] == body["counts"]
    got = api.client.get(f"/actas/{body['acta_id']}", headers=api.headers(R.reader))
    assert got.status_code == 200 and got.json() == body


def test_same_upload_twice_is_one_record_counted_once(
    api: Api, sample_bytes: bytes, service_reader: MemoReader
) -> None:
    first = api.upload(sample_bytes, name="a.jpg")
    reads = service_reader.reads
    second = api.upload(sample_bytes, name="another-name.jpg")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["acta_id"] == first.json()["acta_id"]
    assert service_reader.reads == reads  # a stored scan is not read again
    assert row_counts(api)["actas"] == 1 and row_counts(api)["blobs"] == 1
    results = api.client.get("/results", headers=api.headers(R.reader)).json()
    assert results["actas"] == results["counted"] == 1
    totals = results["templates"][0]["totals"]
    assert totals["presidente"]["PDC"] == (first.json()["counts"]["presidente"]["PDC"] or 0)


@pytest.fixture
def small_limit_api(database_url: str, service_reader: MemoReader) -> Iterator[Api]:
    yield from start_api(database_url, service_reader, max_upload_bytes=300_000)


BAD_INPUTS: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "empty file": (lambda: b"", 422, "empty_file"),
    "text file": (lambda: "VOTOS VÁLIDOS: 204\nno es una imagen\n".encode(), 415, "unsupported_media_type"),
    "decompression bomb": (png_bomb, 413, "image_too_large"),
    "truncated jpeg": (lambda: truncated(SAMPLE.read_bytes()), 422, "corrupt_image"),
    # Issue 18: the first 60% of a real scan with an end-of-image marker appended was stored, read half-decoded.
    "truncated jpeg with an end marker": (
        lambda: SAMPLE.read_bytes()[: len(SAMPLE.read_bytes()) * 6 // 10] + b"\xff\xd9",
        422,
        "corrupt_image",
    ),
    "two-page tiff": (lambda: multi_page_tiff([SAMPLE, RUNOFF[0]]), 422, "multi_page_tiff"),
    "not a form": (not_a_form, 422, "not_a_form"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_status_json_error_and_nothing_stored(api: Api, case: str) -> None:
    make, status, code = BAD_INPUTS[case]
    r = api.upload(make())
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json()["code"] == code and r.json()["detail"]
    assert row_counts(api) == {"actas": 0, "acta_fields": 0, "blobs": 0, "reviews": 0}
    if code == "multi_page_tiff":
        assert r.json()["detail"] == "one acta per upload: this TIFF has 2 pages"


def test_trailing_bytes_after_a_whole_jpeg_are_accepted(api: Api, service_reader: MemoReader) -> None:
    """Issue 18: a valid JPEG followed by 4 KB of other bytes was refused as truncated. It reads as the scan."""
    data = SAMPLE.read_bytes()
    padded = data + bytes(range(256)) * 16
    r = api.upload(padded)
    assert r.status_code == 201, r.text
    assert r.json()["counts"] == service_reader.read(data).counts


def test_two_file_parts_are_refused(api: Api, sample_bytes: bytes) -> None:
    files = [("file", ("a.jpg", sample_bytes, "image/jpeg")), ("file", ("b.jpg", b"x", "image/jpeg"))]
    r = api.client.post("/actas", files=files, headers=api.headers(R.operator))
    assert r.status_code == 422 and r.json()["code"] == "one_file_per_upload", r.text
    assert row_counts(api)["actas"] == 0


def test_the_bomb_413_quotes_the_services_limit(api: Api) -> None:
    r = api.upload(png_bomb())
    assert r.status_code == 413
    assert r.json()["detail"] == f"image has 900,000,000 pixels; the limit is {DEFAULT_MAX_PIXELS:,}"


def test_degenerate_images_are_422(api: Api) -> None:
    """Decodable images too small or too thin to be a form: refused, never a server error."""
    for shape in [(1, 1), (1, 3000), (3000, 1), (8, 8)]:
        _, png = cv2.imencode(".png", np.zeros(shape, np.uint8))
        r = api.upload(bytes(png), name="tiny.png")
        assert r.status_code == 422, (shape, r.text)
        assert r.json()["code"] in {"image_too_small", "unreadable_image", "not_a_form", "corrupt_image"}
    assert row_counts(api)["actas"] == 0


def test_malformed_bodies_and_wrong_methods(api: Api) -> None:
    h = api.headers(R.reviewer)
    r = api.client.post(
        "/actas", content=b"--x\r\nnot multipart", headers={**h, "Content-Type": "multipart/form-data; boundary=x"}
    )
    assert r.status_code in (400, 422) and r.json()["code"] in ("bad_request", "invalid_request")
    for junk in (b"\xff\xfe{", b'{"fields": [', b"not json"):
        r = api.client.put(
            "/actas/" + "0" * 64 + "/review", content=junk, headers={**h, "Content-Type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["code"] == "bad_request", (junk, r.text)
    r = api.client.delete("/actas", headers=h)
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    assert {"GET", "POST"} <= set(r.headers["allow"].split(", "))


def test_pixel_limit_is_a_setting(database_url: str, service_reader: MemoReader, sample_bytes: bytes) -> None:
    # The runoff scan is about 1776x1236 = 2.2 Mpx: a 1 Mpx limit refuses it.
    limited = MemoReader(service_reader, dataclasses.replace(service_reader.config, max_pixels=1_000_000))
    for api in start_api(database_url, limited, max_pixels=1_000_000):
        r = api.upload(sample_bytes)
        assert r.status_code == 413 and r.json()["code"] == "image_too_large"
    assert DEFAULT_MAX_PIXELS > 1_000_000


def test_over_the_byte_limit(small_limit_api: Api) -> None:
    api = small_limit_api
    big = (RUNOFF[0].parent / "mesa_100344.jpg").read_bytes()  # 566 KB, well over 300 KB + form overhead
    assert len(big) > 300_000 + 64 * 1024
    r = api.upload(big)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    # Just over the file limit but within the body allowance: refused by the file check.
    r = api.upload(big[:300_001])
    assert r.status_code == 413 and r.json()["code"] == "file_too_large"
    assert row_counts(api)["actas"] == 0 and row_counts(api)["blobs"] == 0


def test_over_the_byte_limit_without_content_length(small_limit_api: Api) -> None:
    """A chunked upload declares no size: the cap counts bytes as they stream in."""
    api = small_limit_api
    boundary = "b0undary"
    data = (RUNOFF[0].parent / "mesa_100344.jpg").read_bytes()

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]
        yield f"\r\n--{boundary}--\r\n".encode()

    r = api.client.post(
        "/actas",
        content=body(),
        headers={**api.headers(R.operator), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert row_counts(api)["actas"] == 0


def test_unknown_template_is_422_with_reason(api: Api, sample_bytes: bytes) -> None:
    r = api.upload(sample_bytes, template="bo2099-nope")
    assert r.status_code == 422 and r.json()["code"] == "not_a_form"
    assert "unknown template" in r.json()["detail"]
    assert row_counts(api)["actas"] == 0


def test_forced_template(api: Api, sample_bytes: bytes) -> None:
    r = api.upload(sample_bytes, template="bo2025-runoff")
    assert r.status_code == 201 and r.json()["template"] == "bo2025-runoff"


def test_get_unknown_and_malformed_ids(api: Api) -> None:
    h = api.headers(R.reader)
    assert api.client.get("/actas/" + "0" * 64, headers=h).json()["code"] == "not_found"
    r = api.client.get("/actas/not-a-hash", headers=h)
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"


def test_list_filters_and_pagination(api: Api) -> None:
    uploaded = [api.upload(p.read_bytes()).json() for p in [*GENERAL, SAMPLE]]
    h = api.headers(R.reader)
    page = api.client.get("/actas", params={"limit": 1}, headers=h).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["limit"] == 1
    rest = api.client.get("/actas", params={"limit": 1, "offset": 1}, headers=h).json()
    assert {page["items"][0]["acta_id"], rest["items"][0]["acta_id"]} == {u["acta_id"] for u in uploaded}
    by_mesa = api.client.get("/actas", params={"mesa_code": "100055-1"}, headers=h).json()
    assert [i["acta_id"] for i in by_mesa["items"]] == [uploaded[1]["acta_id"]]
    by_tpl = api.client.get("/actas", params={"template": "bo2025-general"}, headers=h).json()
    assert [i["acta_id"] for i in by_tpl["items"]] == [uploaded[0]["acta_id"]]
    flagged = api.client.get("/actas", params={"needs_review": True}, headers=h).json()
    assert flagged["total"] == sum(u["record"]["needs_review"] for u in uploaded)
    assert api.client.get("/actas", params={"limit": 0}, headers=h).status_code == 422
    assert api.client.get("/actas", params={"mesa_code": "x\x00"}, headers=h).status_code == 422


def test_overlay_and_scan(api: Api, sample_bytes: bytes) -> None:
    acta_id = api.upload(sample_bytes).json()["acta_id"]
    h = api.headers(R.reader)
    r = api.client.get(f"/actas/{acta_id}/overlay.png", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    overlay = imdecode(r.content)
    scan = imdecode(sample_bytes)
    assert overlay.shape == scan.shape and not np.array_equal(overlay, scan)  # boxes drawn on the scan
    r = api.client.get(f"/actas/{acta_id}/scan", headers=h)
    assert r.status_code == 200 and r.content == sample_bytes and r.headers["content-type"] == "image/jpeg"
    for path in (f"/actas/{acta_id}/overlay.png", f"/actas/{acta_id}/scan"):
        assert api.client.get(path).status_code == 401  # personal data on the scan: never without a key
        assert api.client.get(path.replace(acta_id, "f" * 64), headers=h).status_code == 404


def test_blob_survives_a_fresh_engine(api: Api, sample_bytes: bytes) -> None:
    """The file is in the database, addressed by its sha256: the overlay can be drawn again later."""
    acta_id = api.upload(sample_bytes).json()["acta_id"]
    url = api.client.app.state.engine.url.render_as_string(hide_password=False)  # type: ignore[attr-defined]
    engine = make_engine(url)
    with engine.connect() as conn:
        data = conn.scalar(select(Blob.data).where(Blob.sha256 == acta_id))
    engine.dispose()
    assert data == sample_bytes


def test_acta_without_a_readable_mesa_code(api: Api) -> None:
    """mesa_100014 (runoff, A1): its barcode does not read; it is stored and counted, with no conflict."""
    data = (RUNOFF[0].parent / "mesa_100014.jpg").read_bytes()
    r = api.upload(data)
    assert r.status_code == 201, r.text
    doc = r.json()
    if doc["mesa_code"] is None:
        assert doc["record"]["status"] == "counted" and doc["record"]["conflicts_with"] == []
    assert row_counts(api)["blobs"] == 1 and row_counts(api)["actas"] == 1
    scan = api.client.get(f"/actas/{doc['acta_id']}/scan", headers=api.headers(R.reader))
    assert scan.content == data
