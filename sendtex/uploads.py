"""Uploaded files are encrypted as they stream in: they may hold values of encrypted fields, and
Werkzeug would otherwise spool them to a plain temporary file."""
import os
import secrets
from pathlib import Path

from flask import current_app
from htmx_flask.requests import HtmxAwareRequest

from sendtex.crypto import EncryptedFileWriter, read_encrypted_file


def uploads_dir():
    """The folder of encrypted uploads, inside the instance folder."""
    return _instance_folder("uploads")


def exports_dir():
    """The folder of encrypted account data exports, inside the instance folder."""
    return _instance_folder("exports")


def _instance_folder(name):
    path = Path(current_app.instance_path) / name
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class CountingWriter(EncryptedFileWriter):
    """An encrypted upload that knows how many plain bytes it received."""

    def __init__(self, path, ring_text):
        super().__init__(path, ring_text)
        self.size = 0

    def write(self, data):
        self.size += len(data)
        return super().write(data)


class EncryptedUploadRequest(HtmxAwareRequest):
    """The request class: every uploaded file goes straight into an encrypted file under instance/uploads."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        writer = CountingWriter(uploads_dir() / f"{secrets.token_hex(16)}.upload", current_app.config["FIELD_KEYS"])
        self.__dict__.setdefault("_sendtex_uploads", []).append(writer)
        return writer


def keep_upload(file_storage):
    """Finish an uploaded file and keep it: returns (stored file name, plain size in bytes)."""
    writer = file_storage.stream
    writer.close()
    writer.kept = True
    return Path(writer.name).name, writer.size


def discard_unkept_uploads(request):
    """Delete the uploads of a request that no view kept (rejected, failed or aborted requests)."""
    for writer in request.__dict__.get("_sendtex_uploads", []):
        writer.close()
        if not getattr(writer, "kept", False):
            Path(writer.name).unlink(missing_ok=True)


def read_upload(name):
    """The plain bytes of a kept upload, chunk by chunk."""
    return read_encrypted_file(uploads_dir() / name, current_app.config["FIELD_KEYS"])


def delete_upload(name):
    """Remove a kept upload."""
    (uploads_dir() / os.path.basename(name)).unlink(missing_ok=True)


def init_app(app):
    """Install the encrypting request class and the clean-up of unkept uploads."""
    app.request_class = EncryptedUploadRequest

    @app.teardown_request
    def _discard(exc):
        from flask import request

        discard_unkept_uploads(request)
