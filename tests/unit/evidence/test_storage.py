"""vendor_portal.storage: complete and verified, or absent."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from vendor_portal.storage import (
    FilesystemStorage,
    StoredFileCorrupt,
    StoredFileMissing,
    UploadRejected,
    clean_filename,
    format_size,
)

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(30)
JPEG = b"\xff\xd8\xff\xe0" + bytes(40)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(100)


def ooxml(marker: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(marker, "<x/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemStorage:
    return FilesystemStorage(tmp_path / "store")


def stored_files(storage: FilesystemStorage) -> list[Path]:
    return sorted(p for p in storage.root.rglob("*") if p.is_file())


def test_saves_under_its_hash_and_leaves_no_temporary_file(storage):
    stored = storage.save(io.BytesIO(PDF), "Continuity plan 2026.pdf")
    digest = hashlib.sha256(PDF).hexdigest()
    assert stored.sha256 == digest
    assert stored.size == len(PDF)
    assert stored.key == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    assert stored.mimetype == "application/pdf"
    assert stored.filename == "Continuity plan 2026.pdf"
    assert stored_files(storage) == [storage.root / stored.key]
    with storage.open_verified(stored.key, stored.sha256) as handle:
        assert handle.read() == PDF


def test_same_content_twice_is_stored_once(storage):
    first = storage.save(io.BytesIO(PDF), "a.pdf")
    second = storage.save(io.BytesIO(PDF), "b.pdf")
    assert first.key == second.key
    assert second.filename == "b.pdf"
    assert len(stored_files(storage)) == 1


@pytest.mark.parametrize(
    ("content", "name", "mimetype"),
    [
        (PNG, "diagram.png", "image/png"),
        (JPEG, "photo.JPG", "image/jpeg"),
        (JPEG, "photo.jpeg", "image/jpeg"),
        (ooxml("word/document.xml"), "bia.docx", None),
        (ooxml("xl/workbook.xml"), "rto.xlsx", None),
        (plain_zip(), "bundle.zip", "application/zip"),
        (b"RTO;RPO\n4;1\n", "targets.csv", "text/csv"),
        ("Résumé du plan\r\n".encode("cp1252"), "notes.txt", "text/plain"),
        ("Plan\n".encode("utf-16"), "notes.txt", "text/plain"),
    ],
)
def test_allowed_content_with_matching_extension_is_accepted(storage, content, name, mimetype):
    stored = storage.save(io.BytesIO(content), name)
    if mimetype:
        assert stored.mimetype == mimetype
    assert stored.extension == name.rsplit(".", 1)[1].lower()


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (EXE, "plan.pdf", "forbidden_type"),
        (EXE, "notes.txt", "forbidden_type"),
        (b"\x00\x01\x02binary", "data.csv", "forbidden_type"),
        (PNG, "plan.pdf", "type_mismatch"),
        (PDF, "picture.png", "type_mismatch"),
        (plain_zip(), "plan.docx", "type_mismatch"),
        (ooxml("xl/workbook.xml"), "plan.docx", "type_mismatch"),
        (b"PK\x03\x04garbage", "plan.docx", "corrupt"),
        (PDF, "plan.exe", "forbidden_type"),
        (PDF, "plan", "forbidden_type"),
        (b"", "empty.pdf", "empty"),
        (PDF, "../../x.pdf", "bad_name"),
        (PDF, "..\\evil.pdf", "bad_name"),
        (PDF, "", "no_name"),
    ],
)
def test_rejected_uploads_leave_nothing_behind(storage, content, name, code):
    with pytest.raises(UploadRejected) as excinfo:
        storage.save(io.BytesIO(content), name)
    assert excinfo.value.code == code
    assert excinfo.value.message  # a sentence for the person uploading
    assert stored_files(storage) == []


def test_size_limit_is_enforced_while_streaming(storage):
    class Endless(io.RawIOBase):
        reads = 0

        def readable(self):
            return True

        def read(self, size=-1):
            Endless.reads += 1
            return b"%PDF-" + bytes(1024 * 1024 - 5)

    with pytest.raises(UploadRejected) as excinfo:
        storage.save(Endless(), "huge.pdf", max_bytes=3 * 1024 * 1024)
    assert excinfo.value.code == "too_large"
    assert "3 MB" in excinfo.value.message
    assert Endless.reads <= 4  # stopped at the limit, did not read the rest
    assert stored_files(storage) == []


def test_an_interrupted_stream_leaves_neither_a_file_nor_a_temporary(storage):
    class Broken(io.RawIOBase):
        def __init__(self):
            self.sent = 0

        def readable(self):
            return True

        def read(self, size=-1):
            if self.sent >= 2:
                raise ConnectionResetError("client went away")
            self.sent += 1
            return PDF * 1000

    with pytest.raises(ConnectionResetError):
        storage.save(Broken(), "plan.pdf")
    assert stored_files(storage) == []


def test_commit_refuses_a_temporary_file_altered_after_receipt(storage):
    pending = storage.receive()
    pending.write(PDF)
    pending.flush()
    with open(pending.path, "r+b") as handle:  # e.g. a disk error or a second writer
        handle.seek(10)
        handle.write(b"XX")
    with pytest.raises(UploadRejected) as excinfo:
        storage.commit(pending, "plan.pdf")
    assert excinfo.value.code == "interrupted"
    assert stored_files(storage) == []


def test_a_file_altered_on_disk_is_refused_on_read(storage):
    stored = storage.save(io.BytesIO(PDF), "plan.pdf")
    path = storage.root / stored.key
    os.chmod(path, 0o600)
    path.write_bytes(PDF.replace(b"1.7", b"1.4"))
    with pytest.raises(StoredFileCorrupt) as excinfo:
        storage.open_verified(stored.key, stored.sha256)
    assert excinfo.value.expected == stored.sha256


def test_a_missing_file_is_reported_as_missing(storage):
    with pytest.raises(StoredFileMissing):
        storage.open_verified(FilesystemStorage.key_for("ab" * 32), "ab" * 32)


def test_a_corrupt_copy_is_replaced_when_the_same_content_is_uploaded_again(storage):
    stored = storage.save(io.BytesIO(PDF), "plan.pdf")
    (storage.root / stored.key).write_bytes(b"rot")
    storage.save(io.BytesIO(PDF), "plan.pdf")
    with storage.open_verified(stored.key, stored.sha256) as handle:
        assert handle.read() == PDF


def test_keys_are_never_paths_from_outside(storage):
    for key in ("../../etc/passwd", "sha256/../../x", "sha256/ab/cd/" + "z" * 64):
        with pytest.raises(ValueError):
            storage.path_for(key)


def test_clean_filename_neutralises_odd_characters_and_keeps_the_extension():
    assert clean_filename('  plan "v2"\t.pdf ') == "plan _v2__.pdf"
    long = clean_filename("x" * 300 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")


def test_leftover_temporary_files_can_be_cleaned(storage):
    pending = storage.receive()
    pending.write(b"partial")
    os.utime(pending.path, (0, 0))
    assert storage.clean_incoming(older_than_seconds=60) == 1
    assert not pending.path.exists()


def test_format_size():
    assert format_size(100 * 1024 * 1024) == "100 MB"
    assert format_size(512) == "512 bytes"


def test_request_body_is_read_in_large_blocks_but_never_past_its_length():
    from vendor_portal.storage import _buffer_input

    source = io.BytesIO(b"a" * 10 + b"NEXT-REQUEST")  # a keep-alive socket holds more
    environ = {"CONTENT_LENGTH": "10", "wsgi.input": source}
    _buffer_input(environ)
    assert environ["wsgi.input"].read() == b"a" * 10
    unknown = {"wsgi.input": source}  # no length and not terminated: left alone
    _buffer_input(unknown)
    assert unknown["wsgi.input"] is source


def test_large_files_are_written_back_while_they_are_received(storage, monkeypatch):
    import vendor_portal.storage as storage_module

    monkeypatch.setattr(storage_module, "WRITEBACK_EVERY", 64 * 1024)
    content = PDF + os.urandom(1024 * 1024)
    stored = storage.save(io.BytesIO(content), "big.pdf")
    with storage.open_verified(stored.key, stored.sha256) as handle:
        assert handle.read() == content
    assert stored_files(storage) == [storage.root / stored.key]
