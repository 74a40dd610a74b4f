"""The one file-storage interface of the app: uploads are complete and verified, or absent.

A file goes through three steps:

1. `storage.receive(max_bytes)` opens a `PendingUpload`: a temporary file in the storage's own
   directory, written in chunks, counted (the size limit is enforced while writing) and hashed
   (SHA-256) on the way in. Nothing is ever held whole in memory.
2. `storage.commit(pending, filename)` flushes and fsyncs it, checks that the size on disk and a
   re-read SHA-256 match what was received, checks the content against an allow-list by its
   magic bytes (and that the extension agrees), then moves it into place with an atomic rename.
   Files are addressed by their hash (`sha256/ab/cd/abcd...`): a user-supplied name never
   becomes a path. Anything rejected, or interrupted half-way, is deleted.
3. `storage.open_verified(key, sha256)` re-hashes the stored file before handing it out, so a
   file altered on disk is refused (`StoredFileCorrupt`) rather than served.

`save(stream, filename)` does 1 and 2 for a stream in hand (CLI, API, tests). For a web upload,
`stream_request_uploads(request, storage)` makes the request's multipart parser write each file
straight into a `PendingUpload`, so a large upload is copied once, directly into the storage
directory. The caller records its database row only after `commit` returned.

Example:

    storage = storage_for(current_app)
    stored = storage.save(stream, "bcp-2026.pdf", max_bytes=upload_limit(current_app))
    # stored.key, stored.sha256, stored.size, stored.mimetype, stored.filename
    with storage.open_verified(stored.key, stored.sha256) as handle: ...
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import os
import re
import tempfile
import threading
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

CHUNK_SIZE = 1024 * 1024
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
MAX_FILENAME_LENGTH = 200
WRITEBACK_EVERY = 32 * 1024 * 1024  # start writing to disk while the rest is received
TEMP_PREFIX = ".upload-"


class UploadRejected(Exception):
    """The upload cannot be stored; `message` says why in words for the person uploading.

    Deliberately not a ValueError: Werkzeug's form parser swallows ValueErrors silently.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StoredFileMissing(FileNotFoundError):
    """The database names a file that storage does not have."""


class StoredFileCorrupt(RuntimeError):
    """The stored bytes no longer hash to the recorded SHA-256; they must not be served."""

    def __init__(self, key: str, expected: str, actual: str) -> None:
        super().__init__(f"stored file {key} hashes to {actual}, expected {expected}")
        self.key = key
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class FileKind:
    label: str
    extensions: tuple[str, ...]
    mimetype: str


# The allow-list. Content decides the kind; the extension must agree with it.
PDF = FileKind("PDF document", ("pdf",), "application/pdf")
DOCX = FileKind(
    "Word document",
    ("docx",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)
XLSX = FileKind(
    "Excel workbook", ("xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)
PPTX = FileKind(
    "PowerPoint presentation",
    ("pptx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)
PNG = FileKind("PNG image", ("png",), "image/png")
JPEG = FileKind("JPEG image", ("jpg", "jpeg"), "image/jpeg")
TEXT = FileKind("text file", ("txt",), "text/plain")
CSV = FileKind("CSV file", ("csv",), "text/csv")
ZIP = FileKind("ZIP archive", ("zip",), "application/zip")
ALLOWED_KINDS: tuple[FileKind, ...] = (PDF, DOCX, XLSX, PPTX, PNG, JPEG, TEXT, CSV, ZIP)
KIND_BY_EXTENSION = {ext: kind for kind in ALLOWED_KINDS for ext in kind.extensions}
ALLOWED_EXTENSIONS = tuple(sorted(KIND_BY_EXTENSION))
# Archive members that make a ZIP an Office document.
OOXML_MARKERS = {DOCX: "word/document.xml", XLSX: "xl/workbook.xml", PPTX: "ppt/presentation.xml"}

_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"<>:|?*]')


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str
    mimetype: str
    extension: str
    filename: str  # the cleaned original name, for Content-Disposition only


KEY_PATTERN = re.compile(r"sha256/[0-9a-f]{2}/[0-9a-f]{2}/([0-9a-f]{64})")


@dataclass(frozen=True)
class StoredObject:
    """A stored file as the store lists it (for integrity checks and backups)."""

    key: str
    size: int
    modified: float  # seconds since the epoch

    @property
    def sha256(self) -> str:
        """The hash the key promises (files are addressed by their content)."""
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class TempFile:
    """A temporary file in the incoming directory: an upload in progress, or one interrupted."""

    path: Path
    size: int
    modified: float


def accept_attribute() -> str:
    """For <input type=file accept=...>: a hint to browsers; the server checks content."""
    return ",".join(f".{ext}" for ext in ALLOWED_EXTENSIONS)


def clean_filename(name: str | None) -> str:
    """The original file name, safe to show and to put in Content-Disposition.

    Names carrying a path (`../../x`, `C:\\x`) are refused rather than silently trimmed: a
    browser never sends one, so it is a tool or an attack, and the sender should know."""
    if not name or not name.strip():
        raise UploadRejected("no_name", "The file has no name; choose a file to upload.")
    name = unicodedata.normalize("NFC", name.strip())
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
        raise UploadRejected(
            "bad_name",
            f"The file name {name[:80]!r} contains a path; upload the file under a plain name "
            "such as 'continuity-plan.pdf'.",
        )
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_FILENAME_LENGTH - len(ext) - 1] + dot + ext) if dot else name[:200]
    return name


def extension_of(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem else ""


def kind_for_name(filename: str) -> FileKind:
    ext = extension_of(filename)
    kind = KIND_BY_EXTENSION.get(ext)
    if kind is None:
        allowed = ", ".join(f".{e}" for e in ALLOWED_EXTENSIONS)
        shown = f".{ext}" if ext else "no extension"
        raise UploadRejected(
            "forbidden_type",
            f"{filename!r} has {shown}; allowed types are {allowed}.",
        )
    return kind


def _looks_like_text(handle: BinaryIO) -> bool:
    """UTF-8 (or UTF-16 with a byte-order mark) text, or 8-bit text without control bytes."""
    handle.seek(0)
    head = handle.read(4)
    handle.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        decoder = codecs.getincrementaldecoder("utf-16")()
        try:
            for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
        return True
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
        # NUL and C0 controls other than tab, newline, form feed and carriage return mean binary.
        if chunk.translate(None, bytes(range(9, 14)) + bytes(range(32, 256))):
            return False
        if utf8_ok:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                utf8_ok = False  # still text, in a legacy 8-bit encoding
    return True


def _zip_members(handle: BinaryIO) -> set[str] | None:
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def detect_kind(handle: BinaryIO, filename: str) -> FileKind:
    """The allowed kind of this content, given that its name must agree; else UploadRejected."""
    claimed = kind_for_name(filename)
    handle.seek(0)
    head = handle.read(8)
    handle.seek(0)
    detected: FileKind | None = None
    if head.startswith(b"%PDF-"):
        detected = PDF
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        detected = PNG
    elif head.startswith(b"\xff\xd8\xff"):
        detected = JPEG
    elif head.startswith(b"PK\x03\x04"):
        members = _zip_members(handle)
        if members is None:
            raise UploadRejected(
                "corrupt", f"{filename!r} looks like a ZIP-based file but cannot be read."
            )
        if claimed in OOXML_MARKERS:
            detected = claimed if OOXML_MARKERS[claimed] in members else ZIP
        else:
            found = [k for k, marker in OOXML_MARKERS.items() if marker in members]
            detected = found[0] if found else ZIP
    elif claimed in (TEXT, CSV) and _looks_like_text(handle):
        detected = claimed
    handle.seek(0)
    if detected is None:
        raise UploadRejected(
            "forbidden_type",
            f"The content of {filename!r} is not an allowed file type "
            f"(it is not a {claimed.label}, whatever its name says).",
        )
    if detected is not claimed and not (claimed is ZIP and detected in OOXML_MARKERS):
        raise UploadRejected(
            "type_mismatch",
            f"{filename!r} is named as a {claimed.label} but its content is a {detected.label}; "
            f"rename it to .{detected.extensions[0]} or upload the right file.",
        )
    return claimed


class PendingUpload(io.RawIOBase):
    """A file being received: a temporary file in the storage directory, counted and hashed.

    Writable and readable (Werkzeug's parser writes, then seeks back and may read). Writing past
    `max_bytes` raises UploadRejected at once, without writing the excess."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        super().__init__()
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
        self.path = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "w+b")
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self.committed = False
        self._flushed_at = 0
        self._flusher: threading.Thread | None = None

    # io.RawIOBase plumbing
    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.size + len(view) > self.max_bytes:
            raise UploadRejected(
                "too_large",
                f"The file is larger than the limit of {format_size(self.max_bytes)}.",
            )
        self._file.write(view)
        self._hash.update(view)
        self.size += len(view)
        if self.size - self._flushed_at >= WRITEBACK_EVERY:
            self._start_writeback()
        return len(view)

    def _start_writeback(self) -> None:
        """Let the disk write what was received so far while more arrives, so that the final
        fsync does not have to write the whole file at once (fdatasync releases the GIL)."""
        if self._flusher is not None and self._flusher.is_alive():
            return
        self._file.flush()
        self._flushed_at = self.size
        fd = self._file.fileno()
        self._flusher = threading.Thread(target=_quiet_fdatasync, args=(fd,), daemon=True)
        self._flusher.start()

    def _wait_for_writeback(self) -> None:
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._file.readline(-1 if size is None else size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        # Closing the handle does not discard it: the owner commits or discards.
        self._wait_for_writeback()
        if not self._file.closed:
            self._file.close()
        super().close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def sync(self) -> None:
        self._wait_for_writeback()
        self._file.flush()
        os.fsync(self._file.fileno())

    def handle(self) -> BinaryIO:
        return self._file  # type: ignore[return-value]

    def discard(self) -> None:
        """Close it and, unless it was committed, delete it. Safe to call more than once."""
        self._wait_for_writeback()
        with contextlib.suppress(OSError):
            self._file.close()
        if not self.committed:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _quiet_fdatasync(fd: int) -> None:
    with contextlib.suppress(OSError):  # the final fsync reports real errors
        os.fdatasync(fd)


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{size} bytes"


def _hash_file(handle: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class FileStorage:
    """The interface; `FilesystemStorage` (the default) and `S3Storage` implement it."""

    def receive(self, max_bytes: int = DEFAULT_MAX_BYTES) -> PendingUpload:
        raise NotImplementedError

    def commit(self, pending: PendingUpload, filename: str | None) -> StoredFile:
        raise NotImplementedError

    def open_verified(self, key: str, sha256: str) -> BinaryIO:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def save(
        self, stream: BinaryIO, filename: str | None, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> StoredFile:
        """Copy a stream in chunks into storage; complete and verified, or nothing stored."""
        clean_filename(filename)  # refuse a bad name before reading anything
        pending = self.receive(max_bytes)
        try:
            for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
                pending.write(chunk)
            return self.commit(pending, filename)
        finally:
            pending.discard()

    # Whole-store operations, for `evidence verify` and backups. Unlike the upload path they
    # know nothing of file names or kinds: a file is its key, its bytes and its hash.

    incoming: Path

    def iter_objects(self) -> Iterator[StoredObject]:
        """Every stored file, in no particular order."""
        raise NotImplementedError

    def open_raw(self, key: str) -> BinaryIO:
        """The stored bytes as they are, unchecked (to re-hash or copy them); StoredFileMissing
        when absent."""
        raise NotImplementedError

    def delete_object(self, key: str) -> None:
        raise NotImplementedError

    def hash_object(self, key: str) -> tuple[str, int]:
        """(SHA-256, size) of the stored bytes, read in chunks."""
        with contextlib.closing(self.open_raw(key)) as handle:
            return _hash_file(handle)

    def import_object(self, stream: BinaryIO, sha256: str, max_bytes: int | None = None) -> str:
        """Store bytes known by their hash (a restore): received like an upload, refused unless
        they hash to `sha256`, then put in place under their key. Returns the key."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        pending = self.receive(max_bytes if max_bytes is not None else 2**62)
        try:
            for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
                pending.write(chunk)
            pending.sync()
            if pending.sha256 != sha256:
                raise UploadRejected(
                    "hash_mismatch",
                    f"The bytes for {_key_for(sha256)} hash to {pending.sha256}; nothing stored.",
                )
            self._place(pending, _key_for(sha256))
        finally:
            pending.discard()
        return _key_for(sha256)

    def _place(self, pending: PendingUpload, key: str) -> None:
        raise NotImplementedError

    def temp_files(self) -> list[TempFile]:
        """Temporary files in the incoming directory (both stores receive into local files)."""
        found = []
        if self.incoming.is_dir():
            for path in self.incoming.glob(TEMP_PREFIX + "*"):
                with contextlib.suppress(FileNotFoundError):  # committed meanwhile
                    stat = path.stat()
                    found.append(TempFile(path, stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda t: t.modified)


class FilesystemStorage(FileStorage):
    """Files under `root`, addressed by hash; temporary files beside them, then renamed."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.incoming = self.root / "incoming"

    def path_for(self, key: str) -> Path:
        if not re.fullmatch(r"sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    @staticmethod
    def key_for(sha256: str) -> str:
        return _key_for(sha256)

    def receive(self, max_bytes: int = DEFAULT_MAX_BYTES) -> PendingUpload:
        # Same file system as the final place, so the rename is atomic.
        return PendingUpload(self.incoming, max_bytes)

    def commit(self, pending: PendingUpload, filename: str | None) -> StoredFile:
        try:
            name, kind = _verified(pending, filename)
            key = self.key_for(pending.sha256)
            target = self.path_for(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists() and self._intact(target, pending.sha256):
                pass  # the same content is already stored under its hash: keep that copy
            else:
                os.replace(pending.path, target)
                _fsync_directory(target.parent)
                pending.committed = True
        finally:
            pending.discard()  # deletes the temporary file unless it was moved into place
        return StoredFile(
            key=key,
            size=pending.size,
            sha256=pending.sha256,
            mimetype=kind.mimetype,
            extension=extension_of(name),
            filename=name,
        )

    def _intact(self, path: Path, sha256: str) -> bool:
        with path.open("rb") as handle:
            return _hash_file(handle)[0] == sha256  # type: ignore[arg-type]

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def open_verified(self, key: str, sha256: str) -> BinaryIO:
        """An open handle at offset 0 whose content was just checked against `sha256`."""
        path = self.path_for(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise StoredFileMissing(key) from exc
        actual, _ = _hash_file(handle)  # type: ignore[arg-type]
        if actual != sha256:
            handle.close()
            raise StoredFileCorrupt(key, sha256, actual)
        handle.seek(0)
        return handle  # type: ignore[return-value]

    def iter_objects(self) -> Iterator[StoredObject]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for path in base.glob("*/*/*"):
            key = path.relative_to(self.root).as_posix()
            if KEY_PATTERN.fullmatch(key) and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    yield StoredObject(key, stat.st_size, stat.st_mtime)

    def open_raw(self, key: str) -> BinaryIO:
        try:
            return self.path_for(key).open("rb")
        except FileNotFoundError as exc:
            raise StoredFileMissing(key) from exc

    def delete_object(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def _place(self, pending: PendingUpload, key: str) -> None:
        target = self.path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and self._intact(target, pending.sha256):
            return
        os.replace(pending.path, target)
        _fsync_directory(target.parent)
        pending.committed = True

    def clean_incoming(self, older_than_seconds: float = 24 * 3600) -> int:
        """Remove temporary files left by a crashed process; returns how many."""
        import time

        removed = 0
        if not self.incoming.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        for path in self.incoming.glob(TEMP_PREFIX + "*"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _verified(pending: PendingUpload, filename: str | None) -> tuple[str, FileKind]:
    """Check a received upload is complete, unchanged and of an allowed kind, by its content."""
    name = clean_filename(filename)
    if pending.size == 0:
        raise UploadRejected("empty", f"{name!r} is empty (0 bytes); nothing to upload.")
    pending.sync()
    on_disk = os.fstat(pending.handle().fileno()).st_size
    handle = pending.handle()
    handle.seek(0)
    reread, reread_size = _hash_file(handle)
    if on_disk != pending.size or reread_size != pending.size or reread != pending.sha256:
        raise UploadRejected(
            "interrupted",
            f"{name!r} was not received completely; please upload it again.",
        )
    return name, detect_kind(handle, name)


def _key_for(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class S3Storage(FileStorage):
    """Files in an S3-compatible bucket, addressed by hash. An upload is received and verified
    in a local temporary file first; S3 makes an object visible only once it is complete."""

    def __init__(
        self, client: Any, bucket: str, prefix: str = "", incoming: str | None = None
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.incoming = Path(incoming or tempfile.gettempdir()) / "vendor-portal-incoming"

    def _object(self, key: str) -> str:
        if not re.fullmatch(r"sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.prefix + key

    def receive(self, max_bytes: int = DEFAULT_MAX_BYTES) -> PendingUpload:
        return PendingUpload(self.incoming, max_bytes)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError:
            return False
        return True

    def commit(self, pending: PendingUpload, filename: str | None) -> StoredFile:
        try:
            name, kind = _verified(pending, filename)
            key = _key_for(pending.sha256)
            if not self.exists(key):
                handle = pending.handle()
                handle.seek(0)
                self.client.upload_fileobj(
                    handle,
                    self.bucket,
                    self._object(key),
                    ExtraArgs={
                        "Metadata": {"sha256": pending.sha256},
                        "ContentType": kind.mimetype,
                    },
                )
        finally:
            pending.discard()
        return StoredFile(
            key=key,
            size=pending.size,
            sha256=pending.sha256,
            mimetype=kind.mimetype,
            extension=extension_of(name),
            filename=name,
        )

    def open_verified(self, key: str, sha256: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        handle = tempfile.SpooledTemporaryFile(max_size=8 * CHUNK_SIZE)  # noqa: SIM115 (returned)
        try:
            self.client.download_fileobj(self.bucket, self._object(key), handle)
        except ClientError as exc:
            handle.close()
            raise StoredFileMissing(key) from exc
        handle.seek(0)
        actual, _ = _hash_file(handle)  # type: ignore[arg-type]
        if actual != sha256:
            handle.close()
            raise StoredFileCorrupt(key, sha256, actual)
        handle.seek(0)
        return handle  # type: ignore[return-value]

    def iter_objects(self) -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + "sha256/"):
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                if KEY_PATTERN.fullmatch(key):
                    yield StoredObject(key, item["Size"], item["LastModified"].timestamp())

    def open_raw(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as exc:
            raise StoredFileMissing(key) from exc
        return response["Body"]  # streamed: read(n) fetches as it goes

    def delete_object(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def _place(self, pending: PendingUpload, key: str) -> None:
        if self.exists(key):
            return
        handle = pending.handle()
        handle.seek(0)
        self.client.upload_fileobj(
            handle,
            self.bucket,
            self._object(key),
            ExtraArgs={"Metadata": {"sha256": pending.sha256}},
        )


def _fsync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def storage_for(app: Any) -> FileStorage:
    """The app's storage (one per app): the filesystem under EVIDENCE_DIR, or with
    VENDOR_PORTAL_STORAGE=s3 the bucket S3_BUCKET (S3_ENDPOINT_URL for a compatible server;
    credentials the usual AWS way)."""
    store = app.extensions.get("vendor_portal.storage")
    if store is None and app.config.get("STORAGE") == "s3":
        import boto3

        client = boto3.client("s3", endpoint_url=app.config.get("S3_ENDPOINT_URL") or None)
        store = S3Storage(client, app.config["S3_BUCKET"], app.config.get("S3_PREFIX") or "")
        app.extensions["vendor_portal.storage"] = store
    elif store is None:
        store = FilesystemStorage(app.config["EVIDENCE_DIR"])
        app.extensions["vendor_portal.storage"] = store
    return store


def upload_limit(app: Any) -> int:
    """The configurable size limit (VENDOR_PORTAL_EVIDENCE_MAX_BYTES), 100 MB by default."""
    return int(app.config.get("EVIDENCE_MAX_BYTES") or DEFAULT_MAX_BYTES)


class RequestUploads:
    """Pending uploads created while a request's multipart body was parsed."""

    def __init__(self, storage: FileStorage, max_bytes: int) -> None:
        self.storage = storage
        self.max_bytes = max_bytes
        self.pending: list[PendingUpload] = []

    def stream_factory(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        pending = self.storage.receive(self.max_bytes)
        self.pending.append(pending)
        return pending  # type: ignore[return-value]

    def pending_for(self, file: Any) -> PendingUpload:
        """The PendingUpload behind a Werkzeug FileStorage from request.files."""
        stream = getattr(file, "stream", None)
        if isinstance(stream, PendingUpload):
            return stream
        raise TypeError("this file was not received through stream_request_uploads")

    def discard_all(self) -> None:
        for pending in self.pending:
            pending.discard()


class _BoundedInput(io.RawIOBase):
    """The WSGI input as a raw stream that never reads past the request's Content-Length."""

    def __init__(self, source: Any, length: int | None) -> None:
        super().__init__()
        self.source = source
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer) if self.remaining is None else min(len(buffer), self.remaining)
        if want <= 0:
            return 0
        data = self.source.read(want)
        buffer[: len(data)] = data
        if self.remaining is not None:
            self.remaining -= len(data)
        return len(data)


def _buffer_input(environ: dict[str, Any]) -> None:
    """Read the body in 1 MB reads: the multipart parser asks for 64 KB at a time, and small
    reads from the server's socket wrapper are what limits upload throughput."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        length = None
    if length is None and not environ.get("wsgi.input_terminated"):
        return  # no safe end to read up to: leave the server's stream alone
    environ["wsgi.input"] = io.BufferedReader(
        _BoundedInput(environ["wsgi.input"], length), buffer_size=CHUNK_SIZE
    )


@contextlib.contextmanager
def stream_request_uploads(
    request: Any, storage: FileStorage, max_bytes: int, form_allowance: int = 1024 * 1024
) -> Iterator[RequestUploads]:
    """Make `request.files` stream straight into storage; discard whatever was not committed.

    Call before anything reads `request.form` or `request.files` (the view must be exempt from
    CSRFProtect's before-request check; its FlaskForm still checks the token). The whole body is
    capped at `max_bytes` plus `form_allowance` for the other fields."""
    uploads = RequestUploads(storage, max_bytes)
    request.max_content_length = max_bytes + form_allowance
    _buffer_input(request.environ)
    # Werkzeug's form parser asks the request for a stream per file; this is its documented
    # override point (Request._get_file_stream), set on this request only.
    request._get_file_stream = uploads.stream_factory
    try:
        yield uploads
    finally:
        uploads.discard_all()
