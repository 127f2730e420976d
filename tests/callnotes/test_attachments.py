"""Uploads and downloads: stored under a temporary MEDIA_ROOT, the tenant's size limit (413), HTML, SVG and
programs refused (415), downloads as attachments with nosniff, 404 across tenants, removal by managers only;
an artifact field of a call's note filled by an upload."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from callnotes.models import Attachment, CallNote
from helpdesk.tenancy import tenant_context
from tests.api.helpers import error_of

from .conftest import open_ticket, schedule_body

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _upload(api, path, name, content, **fields):
    return api.post(path, {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")


def test_a_log_is_stored_and_downloaded_as_an_attachment_never_inline(tenant_a, api_a, media_root):
    ticket = open_ticket(tenant_a)
    response = _upload(api_a, f"/api/v1/tickets/{ticket.pk}/attachments/", "sync.log", b"ERROR row 42 dropped\n")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["content_type"], body["size"]) == ("sync.log", "text/plain", 21)
    with tenant_context(tenant_a):
        stored = Attachment.objects.get(pk=body["id"]).file.name
    assert stored.startswith(f"tenants/{tenant_a.pk}/") and "sync" not in stored  # our name, not theirs
    assert (media_root / stored).read_bytes() == b"ERROR row 42 dropped\n"
    download = api_a.get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"ERROR row 42 dropped\n"
    assert download["Content-Type"] == "text/plain"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("notes.txt", b"<!DOCTYPE html><html></html>"),
        ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("setup.exe", b"MZ\x90\x00"),
        ("report.pdf", b"MZ\x90\x00 not a pdf"),
        ("run.log", b"\x7fELF\x02\x01"),
        ("shot.png", b"GIF89a not a png"),
    ],
)
def test_html_svg_programs_and_lying_names_are_refused_with_415(tenant_a, api_a, media_root, name, content):
    ticket = open_ticket(tenant_a)
    response = _upload(api_a, f"/api/v1/tickets/{ticket.pk}/attachments/", name, content)
    assert response.status_code == 415, response.content
    assert error_of(response)["code"] == "unsupported_media_type"
    with tenant_context(tenant_a):
        assert not Attachment.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*.*"))


def test_a_file_over_the_tenants_limit_is_413_and_nothing_is_kept(tenant_a, api_a, media_root):
    tenant_a.settings = {"max_upload_bytes": 1024}
    tenant_a.save()
    ticket = open_ticket(tenant_a)
    response = _upload(api_a, f"/api/v1/tickets/{ticket.pk}/attachments/", "big.log", b"x" * 2048)
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"
    with tenant_context(tenant_a):
        assert not Attachment.objects.exists()


def test_a_50_mb_upload_is_refused_before_its_body_is_read(tenant_a, api_a):
    ticket = open_ticket(tenant_a)
    response = api_a.generic(
        "POST",
        f"/api/v1/tickets/{ticket.pk}/attachments/",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_another_tenants_file_is_404_and_nothing_leaks(tenant_a, tenant_b, api_a, api_b):
    ticket = open_ticket(tenant_a)
    made = _upload(api_a, f"/api/v1/tickets/{ticket.pk}/attachments/", "secret.txt", b"acme only").json()
    for path in (f"/api/v1/attachments/{made['id']}/", made["download_url"]):
        response = api_b.get(path)
        assert response.status_code == 404
        assert b"acme only" not in response.content
    assert api_b.delete(f"/api/v1/attachments/{made['id']}/").status_code == 404
    assert _upload(api_b, f"/api/v1/tickets/{ticket.pk}/attachments/", "x.txt", b"x").status_code == 404
    with tenant_context(tenant_a):
        assert Attachment.objects.count() == 1


def test_only_a_manager_removes_an_attachment(tenant_a, api_a, api_a_manager, media_root):
    ticket = open_ticket(tenant_a)
    made = _upload(api_a, f"/api/v1/tickets/{ticket.pk}/attachments/", "shot.png", PNG).json()
    assert api_a.delete(f"/api/v1/attachments/{made['id']}/").status_code == 403
    with tenant_context(tenant_a):
        stored = Attachment.objects.get(pk=made["id"]).file.name
    assert api_a_manager.delete(f"/api/v1/attachments/{made['id']}/").status_code == 204
    with tenant_context(tenant_a):
        assert not Attachment.objects.exists()
    assert (media_root / stored).exists()  # removed only once the removal commits (the test never commits)


def test_an_upload_for_an_artifact_field_fills_it(tenant_a, api_a, alice):
    ticket = open_ticket(tenant_a)
    call = api_a.post(f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(agent=alice.pk), format="json").json()
    response = _upload(api_a, f"/api/v1/calls/{call['id']}/attachments/", "error.log", b"boom", field="error_logs")
    assert response.status_code == 201, response.content
    with tenant_context(tenant_a):
        note = CallNote.objects.get(call_id=call["id"])
    assert note.values["pre_call"]["error_logs"] == [response.json()["id"]]
    assert [a["id"] for a in api_a.get(f"/api/v1/calls/{call['id']}/attachments/").json()] == [response.json()["id"]]
    foreign = api_a.patch(f"/api/v1/calls/{call['id']}/notes/", {"pre_call": {"error_logs": [987654]}}, format="json")
    assert foreign.status_code == 400 and "pre_call.error_logs" in error_of(foreign)["fields"]
    wrong = _upload(api_a, f"/api/v1/calls/{call['id']}/attachments/", "a.log", b"a", field="contact")
    assert wrong.status_code == 400 and "field" in error_of(wrong)["fields"]
